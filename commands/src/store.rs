//! Connecting to the event store and applying migrations.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

/// Opens a pool on the event-store database.
///
/// # Errors
/// The sqlx error when the URL is invalid or the server does not answer within 5 s.
pub async fn connect(database_url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(database_url)
        .await
}

/// Applies every migration in `migrations/` not yet applied. Safe to run on every start.
///
/// # Errors
/// The migrator's error (a failed statement, or a changed committed migration).
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    sqlx::migrate!("../migrations").run(pool).await
}
