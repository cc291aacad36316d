//! The read-model database pool (tokio-postgres through deadpool).

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

/// Why the pool could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The URL does not parse.
    #[error("invalid database URL: {0}")]
    Url(#[from] tokio_postgres::Error),
    /// deadpool refused the configuration.
    #[error("could not build the database pool: {0}")]
    Build(#[from] deadpool_postgres::BuildError),
}

/// A pool on the read-model database. Connections are opened lazily, so a server that starts
/// while PostgreSQL is down still starts, and recovers when it comes back.
///
/// # Errors
/// [`PoolError`] when the URL is invalid.
pub fn pool(database_url: &str, max_size: usize) -> Result<Pool, PoolError> {
    let mut config: tokio_postgres::Config = database_url.parse()?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(std::time::Duration::from_secs(5));
    }
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Ok(Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(std::time::Duration::from_secs(5)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()?)
}
