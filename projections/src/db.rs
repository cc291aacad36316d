//! The read-model database pools (tokio-postgres through deadpool).
//!
//! The URL's `sslmode` is honoured with libpq's meaning, as the command side's sqlx pool does:
//! `disable`, `prefer` (the default), `require`, `verify-ca`, `verify-full` (see `pgconn`).

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use domain::managed_instance::SslMode;
use tokio_postgres::NoTls;

/// Why the pool could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The URL does not parse.
    #[error("invalid database URL: {0}")]
    Url(#[from] tokio_postgres::Error),
    /// The URL's `sslmode` is not one libpq knows.
    #[error("invalid database URL: sslmode {0:?} is not disable, allow, prefer, require, verify-ca or verify-full")]
    SslMode(String),
    /// TLS could not be set up as `sslmode` asks (no trusted root certificates, say).
    #[error("database TLS: {0}")]
    Tls(#[from] pgconn::ConnectError),
    /// deadpool refused the configuration.
    #[error("could not build the database pool: {0}")]
    Build(#[from] deadpool_postgres::BuildError),
}

/// A pool on the read-model database, for the projectors and storage upkeep. Connections are
/// opened lazily, so a server that starts while PostgreSQL is down still starts, and recovers
/// when it comes back.
///
/// # Errors
/// [`PoolError`] when the URL is invalid.
pub fn pool(database_url: &str, max_size: usize) -> Result<Pool, PoolError> {
    pool_with(database_url, max_size, None)
}

/// [`pool`], with every statement on its connections cancelled by PostgreSQL after
/// `statement_timeout` (set at connection start-up, so no request can forget it): the pool the
/// query API reads through.
///
/// # Errors
/// [`PoolError`] when the URL is invalid.
pub fn pool_with(
    database_url: &str,
    max_size: usize,
    statement_timeout: Option<Duration>,
) -> Result<Pool, PoolError> {
    build(
        database_url,
        max_size,
        statement_timeout,
        Some(Duration::from_secs(5)),
    )
}

/// The projectors' pool: like [`pool`], but a runner waits for a free connection as long as it
/// takes. Dozens of runners (two per metric partition) share it; a wait is contention, not a
/// failure, and failing it would pause the runner and add its back-off to the lag. A PostgreSQL
/// that is down still fails at once (connecting has its own 5 s timeout).
///
/// # Errors
/// [`PoolError`] when the URL is invalid.
pub fn runner_pool(database_url: &str, max_size: usize) -> Result<Pool, PoolError> {
    build(database_url, max_size, None, None)
}

fn build(
    database_url: &str,
    max_size: usize,
    statement_timeout: Option<Duration>,
    wait_timeout: Option<Duration>,
) -> Result<Pool, PoolError> {
    let (url, mode) = split_ssl_mode(database_url)?;
    let mut config: tokio_postgres::Config = url.parse()?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    config.ssl_mode(match mode {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        _ => tokio_postgres::config::SslMode::Require,
    });
    if let Some(timeout) = statement_timeout {
        let setting = format!("-c statement_timeout={}", timeout.as_millis());
        let options = match config.get_options() {
            Some(existing) if !existing.is_empty() => format!("{existing} {setting}"),
            _ => setting,
        };
        config.options(&options);
    }
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = if mode == SslMode::Disable {
        Manager::from_config(config, NoTls, manager_config)
    } else {
        let tls = pgconn::PgConnector::new().tls_connector(mode)?;
        Manager::from_config(config, tls, manager_config)
    };
    Ok(Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(wait_timeout)
        .create_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()?)
}

/// The URL without its `sslmode` parameter (tokio-postgres knows only three of libpq's modes),
/// and the mode, `prefer` when absent as in libpq. `allow` (plain first, TLS if the server
/// insists) is taken as `prefer`, which also accepts both.
fn split_ssl_mode(database_url: &str) -> Result<(String, SslMode), PoolError> {
    let Some((base, query)) = database_url.split_once('?') else {
        return Ok((database_url.to_owned(), SslMode::Prefer));
    };
    let mut mode = SslMode::Prefer;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("sslmode", value)) => {
                mode = match value {
                    "allow" => SslMode::Prefer,
                    other => {
                        SslMode::parse(other).ok_or_else(|| PoolError::SslMode(other.to_owned()))?
                    }
                };
            }
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_is_taken_out_of_the_url_with_libpq_meaning() {
        let cases = [
            ("postgres://h/db", "postgres://h/db", SslMode::Prefer),
            (
                "postgres://h/db?sslmode=verify-full",
                "postgres://h/db",
                SslMode::VerifyFull,
            ),
            (
                "postgres://h/db?application_name=x&sslmode=require&connect_timeout=3",
                "postgres://h/db?application_name=x&connect_timeout=3",
                SslMode::Require,
            ),
            (
                "postgres://h/db?sslmode=allow",
                "postgres://h/db",
                SslMode::Prefer,
            ),
        ];
        for (url, rest, mode) in cases {
            let (got_url, got_mode) = split_ssl_mode(url).expect(url);
            assert_eq!((got_url.as_str(), got_mode), (rest, mode), "{url}");
        }
        assert!(matches!(
            split_ssl_mode("postgres://h/db?sslmode=always"),
            Err(PoolError::SslMode(_))
        ));
    }
}
