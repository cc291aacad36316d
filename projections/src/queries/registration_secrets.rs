//! Reads of `rm_registration_secrets`, as written by
//! [`crate::projectors::registration_secrets`]. The secret itself is never stored: only its
//! digest and a prefix.

use chrono::{DateTime, Utc};
use tokio_postgres::{Client, Row};
use uuid::Uuid;

use super::history;

/// A registration secret as lists show it.
#[derive(Debug, Clone)]
pub struct SecretRow {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// The first characters of the secret, to recognise it by.
    pub prefix: String,
    /// Whether it registers collectors.
    pub active: bool,
    /// When it stops registering.
    pub expires_at: Option<DateTime<Utc>>,
    /// How many collectors it may register.
    pub max_registrations: Option<i32>,
    /// How many it registered.
    pub registrations_used: i32,
    /// Its last registration.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Managed instances the collectors it registers are bound to.
    pub instance_ids: Vec<Uuid>,
}

impl SecretRow {
    fn from_row(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            name: row.get("name"),
            prefix: row.get("prefix"),
            active: row.get("active"),
            expires_at: row.get("expires_at"),
            max_registrations: row.get("max_registrations"),
            registrations_used: row.get("registrations_used"),
            last_used_at: row.get("last_used_at"),
            created_at: row.get("created_at"),
            instance_ids: row.get("instance_ids"),
        }
    }
}

const COLUMNS: &str = "id, name, prefix, active, expires_at, max_registrations, \
    registrations_used, last_used_at, created_at, instance_ids";

/// One secret, by id.
///
/// # Errors
/// PostgreSQL's.
pub async fn get(client: &Client, id: Uuid) -> Result<Option<SecretRow>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM rm_registration_secrets WHERE id = $1"),
            &[&id],
        )
        .await?;
    Ok(row.as_ref().map(SecretRow::from_row))
}

/// Every secret, oldest first.
///
/// # Errors
/// PostgreSQL's.
pub async fn list(client: &Client) -> Result<Vec<SecretRow>, tokio_postgres::Error> {
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM rm_registration_secrets ORDER BY created_at"),
            &[],
        )
        .await?;
    Ok(rows.iter().map(SecretRow::from_row).collect())
}

/// Every secret as it was at `at` (or only `id`), oldest first.
///
/// # Errors
/// PostgreSQL's.
pub async fn as_of(
    client: &Client,
    at: DateTime<Utc>,
    id: Option<Uuid>,
) -> Result<Vec<SecretRow>, tokio_postgres::Error> {
    history::as_of(
        client,
        &history::SECRETS,
        COLUMNS,
        "created_at",
        at,
        id,
        SecretRow::from_row,
    )
    .await
}

/// Every version of one secret, oldest first.
///
/// # Errors
/// PostgreSQL's.
pub async fn versions(
    client: &Client,
    id: Uuid,
    page: history::Page,
) -> Result<Vec<history::Version<SecretRow>>, tokio_postgres::Error> {
    history::versions(
        client,
        &history::SECRETS,
        COLUMNS,
        id,
        page,
        SecretRow::from_row,
    )
    .await
}
