//! Reads of `rm_managed_instances`, as written by [`crate::projectors::managed_instances`].
//! Never a password, not even sealed: only whether one is stored.

use chrono::{DateTime, Utc};
use tokio_postgres::{Client, Row};
use uuid::Uuid;

use super::history;

/// A managed instance as the list and detail show it.
#[derive(Debug, Clone)]
pub struct InstanceRow {
    /// Its id.
    pub id: Uuid,
    /// Its unique name.
    pub name: String,
    /// Host to connect to.
    pub host: String,
    /// Port.
    pub port: i32,
    /// Database.
    pub database: String,
    /// User to connect as.
    pub username: String,
    /// libpq `sslmode`.
    pub sslmode: String,
    /// Connect timeout, seconds.
    pub connect_timeout_s: i32,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// Whether a (sealed) password is stored.
    pub has_credential: bool,
    /// The last connection test's status.
    pub last_connection_status: String,
    /// The last test's error.
    pub last_error: Option<String>,
    /// When it was last tested.
    pub last_tested_at: Option<DateTime<Utc>>,
    /// The last test's latency.
    pub latency_ms: Option<f64>,
    /// The server version the last test saw.
    pub server_version: Option<String>,
    /// The last heartbeat.
    pub last_heartbeat: Option<DateTime<Utc>>,
    /// Whether the last test used TLS.
    pub last_tls: Option<bool>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl InstanceRow {
    fn from_row(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            name: row.get("name"),
            host: row.get("host"),
            port: row.get("port"),
            database: row.get("database"),
            username: row.get("username"),
            sslmode: row.get("sslmode"),
            connect_timeout_s: row.get("connect_timeout_s"),
            tags: row.get("tags"),
            has_credential: row.get("has_credential"),
            last_connection_status: row.get("last_connection_status"),
            last_error: row.get("last_error"),
            last_tested_at: row.get("last_tested_at"),
            latency_ms: row.get("latency_ms"),
            server_version: row.get("server_version"),
            last_heartbeat: row.get("last_heartbeat"),
            last_tls: row.get("last_tls"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
        }
    }
}

const COLUMNS: &str = "id, name, host, port, database, username, sslmode, connect_timeout_s, \
    tags, has_credential, last_connection_status, last_error, last_tested_at, latency_ms, \
    server_version, last_heartbeat, created_at, updated_at, last_tls";

/// One instance, by id.
///
/// # Errors
/// PostgreSQL's.
pub async fn get(client: &Client, id: Uuid) -> Result<Option<InstanceRow>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM rm_managed_instances WHERE id = $1"),
            &[&id],
        )
        .await?;
    Ok(row.as_ref().map(InstanceRow::from_row))
}

/// Every instance, by name.
///
/// # Errors
/// PostgreSQL's.
pub async fn list(client: &Client) -> Result<Vec<InstanceRow>, tokio_postgres::Error> {
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM rm_managed_instances ORDER BY name"),
            &[],
        )
        .await?;
    Ok(rows.iter().map(InstanceRow::from_row).collect())
}

/// Which of `ids` name a managed instance.
///
/// # Errors
/// PostgreSQL's.
pub async fn existing_ids(
    client: &Client,
    ids: &[Uuid],
) -> Result<Vec<Uuid>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT id FROM rm_managed_instances WHERE id = ANY($1)",
            &[&ids],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get("id")).collect())
}

/// Every instance as it was at `at` (or only `id`), by name.
///
/// # Errors
/// PostgreSQL's.
pub async fn as_of(
    client: &Client,
    at: DateTime<Utc>,
    id: Option<Uuid>,
) -> Result<Vec<InstanceRow>, tokio_postgres::Error> {
    history::as_of(
        client,
        &history::INSTANCES,
        COLUMNS,
        "name",
        at,
        id,
        InstanceRow::from_row,
    )
    .await
}

/// Every version of one instance, oldest first.
///
/// # Errors
/// PostgreSQL's.
pub async fn versions(
    client: &Client,
    id: Uuid,
    page: history::Page,
) -> Result<Vec<history::Version<InstanceRow>>, tokio_postgres::Error> {
    history::versions(
        client,
        &history::INSTANCES,
        COLUMNS,
        id,
        page,
        InstanceRow::from_row,
    )
    .await
}
