//! Reads of `rm_users`, as written by [`crate::projectors::users`].

use chrono::{DateTime, Utc};
use tokio_postgres::{Client, Row};
use uuid::Uuid;

use super::history;

/// A user as lists and the guard see it.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// The user's id.
    pub id: Uuid,
    /// The login name.
    pub username: String,
    /// `admin`, `editor` or `viewer`.
    pub role: String,
    /// Whether the user may log in.
    pub active: bool,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
    /// The last successful login.
    pub last_login_at: Option<DateTime<Utc>>,
}

impl UserRow {
    fn from_row(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            username: row.get("username"),
            role: row.get("role"),
            active: row.get("active"),
            created_at: row.get("created_at"),
            last_login_at: row.get("last_login_at"),
        }
    }
}

const COLUMNS: &str = "id, username, role, active, created_at, last_login_at";

/// One user, by id.
///
/// # Errors
/// PostgreSQL's.
pub async fn get(client: &Client, id: Uuid) -> Result<Option<UserRow>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM rm_users WHERE id = $1"),
            &[&id],
        )
        .await?;
    Ok(row.as_ref().map(UserRow::from_row))
}

/// Every user, by username.
///
/// # Errors
/// PostgreSQL's.
pub async fn list(client: &Client) -> Result<Vec<UserRow>, tokio_postgres::Error> {
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM rm_users ORDER BY username"),
            &[],
        )
        .await?;
    Ok(rows.iter().map(UserRow::from_row).collect())
}

/// A user with the password hash a login checks.
#[derive(Debug, Clone)]
pub struct LoginRow {
    /// The user.
    pub user: UserRow,
    /// The PHC string of the password.
    pub password_hash: String,
}

/// One user with its password hash, by username.
///
/// # Errors
/// PostgreSQL's.
pub async fn find_login(
    client: &Client,
    username: &str,
) -> Result<Option<LoginRow>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS}, password_hash FROM rm_users WHERE username = $1"),
            &[&username],
        )
        .await?;
    Ok(row.map(|r| LoginRow {
        user: UserRow::from_row(&r),
        password_hash: r.get("password_hash"),
    }))
}

/// How many active admins there are besides `id`.
///
/// # Errors
/// PostgreSQL's.
pub async fn other_active_admins(client: &Client, id: Uuid) -> Result<i64, tokio_postgres::Error> {
    Ok(client
        .query_one(
            "SELECT count(*) AS admins FROM rm_users
              WHERE role = 'admin' AND active AND id <> $1",
            &[&id],
        )
        .await?
        .get("admins"))
}

/// Every user as they were at `at` (or only `id`), by username.
///
/// # Errors
/// PostgreSQL's.
pub async fn as_of(
    client: &Client,
    at: DateTime<Utc>,
    id: Option<Uuid>,
) -> Result<Vec<UserRow>, tokio_postgres::Error> {
    history::as_of(
        client,
        &history::USERS,
        COLUMNS,
        "username",
        at,
        id,
        UserRow::from_row,
    )
    .await
}

/// Every version of one user, oldest first (never the password hash: it is not kept).
///
/// # Errors
/// PostgreSQL's.
pub async fn versions(
    client: &Client,
    id: Uuid,
    page: history::Page,
) -> Result<Vec<history::Version<UserRow>>, tokio_postgres::Error> {
    history::versions(
        client,
        &history::USERS,
        COLUMNS,
        id,
        page,
        UserRow::from_row,
    )
    .await
}
