//! The ManagedInstance aggregate: a PostgreSQL server a team registers to watch.

mod aggregate;
mod commands;
mod events;

pub use aggregate::{ManagedInstance, BACKGROUND_HEARTBEAT};
pub use commands::{ManagedInstanceCommand, TestTrigger};
pub use events::ManagedInstanceEvent;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The result of `last_connection_status` after a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Logged in and ran a query.
    Connected,
    /// Could not connect: refused, DNS, timeout, TLS, server error.
    Error,
    /// The server refused the credentials.
    InvalidCredentials,
}

impl ConnectionStatus {
    /// The read-model and API name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::Error => "error",
            Self::InvalidCredentials => "invalid_credentials",
        }
    }
}

/// What one connection test found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionOutcome {
    /// Classified result.
    pub status: ConnectionStatus,
    /// Time to connect and query, in milliseconds.
    pub latency_ms: f64,
    /// `server_version` when connected.
    pub server_version: Option<String>,
    /// A message a person understands when not connected (never contains the password).
    pub error: Option<String>,
    /// Whether the session was encrypted, when connected.
    #[serde(default)]
    pub tls: Option<bool>,
}

/// What the ManagedInstance aggregate needs from the outside world.
#[async_trait::async_trait]
pub trait InstanceServices: Send + Sync {
    /// Connects with the stored spec and sealed credential and classifies the result.
    async fn test_connection(
        &self,
        spec: &ConnectionSpec,
        credential: Option<&SealedCredential>,
    ) -> ConnectionOutcome;

    /// Re-seals a credential under the current key; `Ok(None)` when it already is.
    ///
    /// # Errors
    /// A message when the credential cannot be opened with any configured key.
    fn reseal(&self, credential: &SealedCredential) -> Result<Option<SealedCredential>, String>;
}

/// The services handle the aggregate is built with.
pub type SharedInstanceServices = Arc<dyn InstanceServices>;

/// libpq's `sslmode` values that pgAnalytics honours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it.
    Prefer,
    /// TLS always, certificate not verified.
    Require,
    /// TLS, certificate chain verified.
    VerifyCa,
    /// TLS, chain and host name verified.
    VerifyFull,
}

impl SslMode {
    /// Parses a libpq `sslmode` name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "disable" => Some(Self::Disable),
            "prefer" => Some(Self::Prefer),
            "require" => Some(Self::Require),
            "verify-ca" => Some(Self::VerifyCa),
            "verify-full" => Some(Self::VerifyFull),
            _ => None,
        }
    }

    /// The libpq name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// A password sealed with AES-256-GCM. Only this form ever reaches an event.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedCredential {
    /// Which key sealed it, so keys can be rotated.
    pub key_id: String,
    /// Base64 nonce, fresh for every sealing.
    pub nonce: String,
    /// Base64 ciphertext with its tag.
    pub ciphertext: String,
}

impl std::fmt::Debug for SealedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedCredential")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Where and how to connect, without the password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionSpec {
    /// Host name or address; never empty.
    pub host: String,
    /// 1–65535.
    pub port: u16,
    /// Database to connect to.
    pub database: String,
    /// Role to log in as.
    pub username: String,
    /// TLS policy.
    pub sslmode: SslMode,
    /// Upper bound for one connection attempt, 1–300 s.
    pub connect_timeout_s: u32,
}

/// Which field of a [`ConnectionSpec`] is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConnectionSpecError {
    /// Empty host.
    #[error("host must not be empty")]
    EmptyHost,
    /// Port outside 1–65535.
    #[error("port must be between 1 and 65535")]
    Port,
    /// Empty database.
    #[error("database must not be empty")]
    EmptyDatabase,
    /// Empty username.
    #[error("username must not be empty")]
    EmptyUsername,
    /// Unknown sslmode.
    #[error("sslmode must be one of disable, prefer, require, verify-ca, verify-full")]
    SslMode,
    /// Timeout outside 1–300.
    #[error("connect_timeout_s must be between 1 and 300")]
    Timeout,
}

impl ConnectionSpecError {
    /// The request field the error is about.
    pub const fn field(&self) -> &'static str {
        match self {
            Self::EmptyHost => "host",
            Self::Port => "port",
            Self::EmptyDatabase => "database",
            Self::EmptyUsername => "username",
            Self::SslMode => "sslmode",
            Self::Timeout => "connect_timeout_s",
        }
    }
}

impl ConnectionSpec {
    /// Builds a spec from raw request values.
    ///
    /// # Errors
    /// The first field that is wrong.
    pub fn parse(
        host: &str,
        port: i64,
        database: &str,
        username: &str,
        sslmode: &str,
        connect_timeout_s: i64,
    ) -> Result<Self, ConnectionSpecError> {
        let host = host.trim();
        if host.is_empty() {
            return Err(ConnectionSpecError::EmptyHost);
        }
        let port = u16::try_from(port)
            .ok()
            .filter(|p| *p > 0)
            .ok_or(ConnectionSpecError::Port)?;
        if database.trim().is_empty() {
            return Err(ConnectionSpecError::EmptyDatabase);
        }
        if username.trim().is_empty() {
            return Err(ConnectionSpecError::EmptyUsername);
        }
        let sslmode = SslMode::parse(sslmode).ok_or(ConnectionSpecError::SslMode)?;
        let connect_timeout_s = u32::try_from(connect_timeout_s)
            .ok()
            .filter(|t| (1..=300).contains(t))
            .ok_or(ConnectionSpecError::Timeout)?;
        Ok(Self {
            host: host.to_owned(),
            port,
            database: database.trim().to_owned(),
            username: username.trim().to_owned(),
            sslmode,
            connect_timeout_s,
        })
    }
}

/// One variant per rule of the ManagedInstance aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ManagedInstanceError {
    /// Register on an id that already holds an instance.
    #[error("instance already registered")]
    AlreadyRegistered,
    /// Any command but register on an id that holds nothing.
    #[error("instance not found")]
    NotFound,
    /// Any command on a removed instance.
    #[error("instance has been removed")]
    AlreadyRemoved,
    /// Re-sealing failed: no configured key opens the stored credential.
    #[error("stored credential cannot be opened: {0}")]
    CredentialUnreadable(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_spec_names_the_bad_field() {
        let ok = ConnectionSpec::parse("db", 5432, "app", "u", "prefer", 5);
        assert!(ok.is_ok());
        let cases = [
            (
                ConnectionSpec::parse(" ", 5432, "app", "u", "prefer", 5),
                "host",
            ),
            (
                ConnectionSpec::parse("db", 0, "app", "u", "prefer", 5),
                "port",
            ),
            (
                ConnectionSpec::parse("db", 65536, "app", "u", "prefer", 5),
                "port",
            ),
            (
                ConnectionSpec::parse("db", 5432, "", "u", "prefer", 5),
                "database",
            ),
            (
                ConnectionSpec::parse("db", 5432, "app", "", "prefer", 5),
                "username",
            ),
            (
                ConnectionSpec::parse("db", 5432, "app", "u", "allow-ish", 5),
                "sslmode",
            ),
            (
                ConnectionSpec::parse("db", 5432, "app", "u", "prefer", -1),
                "connect_timeout_s",
            ),
        ];
        for (result, field) in cases {
            assert_eq!(result.map_err(|e| e.field()), Err(field));
        }
    }

    #[test]
    fn sealed_credential_debug_hides_ciphertext() {
        let c = SealedCredential {
            key_id: "k1".into(),
            nonce: "n".into(),
            ciphertext: "SECRETCIPHER".into(),
        };
        assert!(!format!("{c:?}").contains("SECRETCIPHER"));
    }
}
