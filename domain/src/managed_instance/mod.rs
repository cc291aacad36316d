//! The ManagedInstance aggregate: a PostgreSQL server a team registers to watch.

mod aggregate;
mod commands;
mod events;

pub use aggregate::{ManagedInstance, BACKGROUND_HEARTBEAT};
pub use commands::{CredentialChange, ManagedInstanceCommand, TestTrigger};
pub use events::ManagedInstanceEvent;

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::values::{bounded_text, optional_text, TextError};

/// Most bytes of a host: a DNS name is at most 253 characters, a Unix socket directory at most
/// 107 (`sun_path`); 255 covers both.
pub const HOST_MAX: usize = 255;

/// Most bytes of a database or role name: PostgreSQL identifiers are at most `NAMEDATALEN - 1`
/// = 63 bytes, so a longer one cannot name anything on the server.
pub const IDENTIFIER_MAX: usize = 63;

/// Most bytes of a managed instance's password. Its sealed form (base64 of the ciphertext)
/// travels in an event, so it must be bounded; libpq has no limit of its own worth speaking of,
/// and 1024 is the bound of a pgAnalytics user's own password.
pub const PASSWORD_MAX: usize = 1024;

/// Longest a connection attempt may take, in seconds. A background check waits this long at
/// most for one instance; 30 s is far past any healthy server's answer. (It was 300 before;
/// older events carrying more are read as this.)
pub const CONNECT_TIMEOUT_MAX_S: u32 = 30;

/// Most tags on one instance, and most bytes of one tag.
pub const TAGS_MAX: usize = 32;
/// See [`TAGS_MAX`].
pub const TAG_MAX: usize = 64;

/// Most bytes kept of a connection test's error message and of `server_version`: they come
/// from the server tested (which may be hostile) and travel in an event.
pub const OUTCOME_TEXT_MAX: usize = 2048;

/// Checks a managed instance's password before it is sealed: at most [`PASSWORD_MAX`] bytes
/// (any character may appear in a password).
///
/// # Errors
/// [`TextError::TooLong`].
pub fn check_password(raw: &str) -> Result<&str, TextError> {
    if raw.len() > PASSWORD_MAX {
        return Err(TextError::TooLong { max: PASSWORD_MAX });
    }
    Ok(raw)
}

/// Why a list of tags was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TagsError {
    /// More than [`TAGS_MAX`] tags.
    #[error("at most {TAGS_MAX} tags")]
    TooMany,
    /// One tag is too long or has control characters.
    #[error("each tag {0}")]
    Tag(TextError),
}

/// Trims tags, drops empty ones, and checks the rest: at most [`TAGS_MAX`] tags of at most
/// [`TAG_MAX`] bytes, no control characters.
///
/// # Errors
/// [`TagsError`].
pub fn parse_tags(tags: Vec<String>) -> Result<Vec<String>, TagsError> {
    let tags: Vec<String> = tags
        .into_iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    if tags.len() > TAGS_MAX {
        return Err(TagsError::TooMany);
    }
    for t in &tags {
        optional_text(t, TAG_MAX).map_err(TagsError::Tag)?;
    }
    Ok(tags)
}

/// Cuts `text` to at most `max` bytes, on a character boundary.
fn truncated(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

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

impl ConnectionOutcome {
    /// The outcome with its texts cut to [`OUTCOME_TEXT_MAX`] bytes, so that a server answering
    /// with a huge error cannot make the event too large for the bus.
    pub fn bounded(self) -> Self {
        Self {
            server_version: self.server_version.map(|v| truncated(v, OUTCOME_TEXT_MAX)),
            error: self.error.map(|e| truncated(e, OUTCOME_TEXT_MAX)),
            ..self
        }
    }
}

/// What the ManagedInstance aggregate needs from the outside world.
#[async_trait::async_trait]
pub trait InstanceServices: Send + Sync {
    /// Connects with the stored spec and sealed credential and classifies the result. The
    /// credential opens only for the `instance` and target it was sealed for
    /// ([`ConnectionSpec::credential_binding`]).
    async fn test_connection(
        &self,
        instance: Uuid,
        spec: &ConnectionSpec,
        credential: Option<&SealedCredential>,
    ) -> ConnectionOutcome;

    /// Re-seals a credential under the current key, bound to `instance` and `spec`'s target;
    /// `Ok(None)` when it already is both.
    ///
    /// # Errors
    /// A message when the credential cannot be opened with any configured key.
    fn reseal(
        &self,
        credential: &SealedCredential,
        instance: Uuid,
        spec: &ConnectionSpec,
    ) -> Result<Option<SealedCredential>, String>;

    /// Whether hosts that are Unix-socket directories may be registered and connected to
    /// (an admin setting: they reach servers local to pgAnalytics itself).
    fn unix_sockets_allowed(&self) -> bool;
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
    /// The sealed format: [`SealedCredential::UNBOUND`] (absent in events written before
    /// credentials were bound to their target) or [`SealedCredential::BOUND`].
    #[serde(default)]
    pub version: u8,
}

impl SealedCredential {
    /// Sealed without associated data: opens for any instance. Still read, never written;
    /// `rotate-key` re-seals it as [`Self::BOUND`].
    pub const UNBOUND: u8 = 0;
    /// Sealed with [`ConnectionSpec::credential_binding`] as associated data: opens only for
    /// the instance and target it was sealed for.
    pub const BOUND: u8 = 1;
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
    /// Upper bound for one connection attempt, 1–[`CONNECT_TIMEOUT_MAX_S`] s. Events written
    /// when the bound was 300 are read with the value cut to the bound, never refused.
    #[serde(deserialize_with = "bounded_timeout")]
    pub connect_timeout_s: u32,
}

fn bounded_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(u32::deserialize(d)?.clamp(1, CONNECT_TIMEOUT_MAX_S))
}

/// Which field of a [`ConnectionSpec`] is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConnectionSpecError {
    /// Host empty, too long or with control characters.
    #[error("host {0}")]
    Host(TextError),
    /// Port outside 1–65535.
    #[error("port must be between 1 and 65535")]
    Port,
    /// Database empty, too long or with control characters.
    #[error("database {0}")]
    Database(TextError),
    /// Username empty, too long or with control characters.
    #[error("username {0}")]
    Username(TextError),
    /// Unknown sslmode.
    #[error("sslmode must be one of disable, prefer, require, verify-ca, verify-full")]
    SslMode,
    /// Timeout outside 1–[`CONNECT_TIMEOUT_MAX_S`].
    #[error("connect_timeout_s must be between 1 and {CONNECT_TIMEOUT_MAX_S}")]
    Timeout,
}

impl ConnectionSpecError {
    /// The request field the error is about.
    pub const fn field(&self) -> &'static str {
        match self {
            Self::Host(_) => "host",
            Self::Port => "port",
            Self::Database(_) => "database",
            Self::Username(_) => "username",
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
        let host = bounded_text(host, HOST_MAX).map_err(ConnectionSpecError::Host)?;
        let port = u16::try_from(port)
            .ok()
            .filter(|p| *p > 0)
            .ok_or(ConnectionSpecError::Port)?;
        let database =
            bounded_text(database, IDENTIFIER_MAX).map_err(ConnectionSpecError::Database)?;
        let username =
            bounded_text(username, IDENTIFIER_MAX).map_err(ConnectionSpecError::Username)?;
        let sslmode = SslMode::parse(sslmode).ok_or(ConnectionSpecError::SslMode)?;
        let connect_timeout_s = u32::try_from(connect_timeout_s)
            .ok()
            .filter(|t| (1..=CONNECT_TIMEOUT_MAX_S).contains(t))
            .ok_or(ConnectionSpecError::Timeout)?;
        Ok(Self {
            host: host.to_owned(),
            port,
            database: database.to_owned(),
            username: username.to_owned(),
            sslmode,
            connect_timeout_s,
        })
    }

    /// Whether the host names a Unix-socket directory rather than a network host (the driver
    /// treats a host starting with `/` so).
    pub fn is_unix_socket(&self) -> bool {
        self.host.starts_with('/')
    }

    /// Whether `other` connects to the same server as the same role: host, port, database,
    /// username and sslmode. The timeout is not part of the target.
    pub fn same_target(&self, other: &Self) -> bool {
        self.host == other.host
            && self.port == other.port
            && self.database == other.database
            && self.username == other.username
            && self.sslmode == other.sslmode
    }

    /// The associated data a password for `instance` at this target is sealed with, so that
    /// it opens for nothing else: a tag, then the instance id and host, port, database,
    /// username and sslmode, each length-prefixed (canonical: no two targets encode alike).
    pub fn credential_binding(&self, instance: Uuid) -> Vec<u8> {
        fn field(out: &mut Vec<u8>, bytes: &[u8]) {
            // Every field is bounded far below u32::MAX (HOST_MAX, IDENTIFIER_MAX).
            let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(bytes);
        }
        let mut out = b"pganalytics instance credential v1".to_vec();
        field(&mut out, instance.as_bytes());
        field(&mut out, self.host.as_bytes());
        field(&mut out, &self.port.to_be_bytes());
        field(&mut out, self.database.as_bytes());
        field(&mut out, self.username.as_bytes());
        field(&mut out, self.sslmode.as_str().as_bytes());
        out
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
    /// Host, port, database, username or sslmode changed while a password is stored, and no
    /// new password (or its removal) came with the change.
    #[error("changing host, port, database, username or sslmode needs the password again: send `password` (or `password: null` to remove the stored one), so that a stored password never goes to another server")]
    PasswordRequiredForNewTarget,
    /// A Unix-socket host while the admin setting does not allow them.
    #[error("host {0:?} is a Unix-socket directory; this server refuses those unless an admin sets PGA_ALLOW_UNIX_SOCKET_HOSTS=true")]
    UnixSocketHostNotAllowed(String),
}

impl ManagedInstanceError {
    /// The request field a refusal is about, when it is one.
    pub const fn field(&self) -> Option<&'static str> {
        match self {
            Self::PasswordRequiredForNewTarget => Some("password"),
            Self::UnixSocketHostNotAllowed(_) => Some("host"),
            _ => None,
        }
    }
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
    fn connection_spec_is_bounded_by_what_postgres_can_name() {
        let h = "h".repeat(HOST_MAX);
        let d = "d".repeat(IDENTIFIER_MAX);
        assert!(ConnectionSpec::parse(&h, 5432, &d, &d, "prefer", 5).is_ok());
        let long_host = format!("{h}h");
        let long_ident = format!("{d}d");
        let cases = [
            (
                ConnectionSpec::parse(&long_host, 5432, "app", "u", "prefer", 5),
                "host",
            ),
            (
                ConnectionSpec::parse("db", 5432, &long_ident, "u", "prefer", 5),
                "database",
            ),
            (
                ConnectionSpec::parse("db", 5432, "app", &long_ident, "prefer", 5),
                "username",
            ),
            (
                ConnectionSpec::parse("d\nb", 5432, "app", "u", "prefer", 5),
                "host",
            ),
            (
                ConnectionSpec::parse("db", 5432, "a\0pp", "u", "prefer", 5),
                "database",
            ),
        ];
        for (result, field) in cases {
            assert_eq!(result.map_err(|e| e.field()), Err(field));
        }
    }

    #[test]
    fn tags_passwords_and_outcomes_are_bounded() {
        assert_eq!(
            parse_tags(vec![" a ".into(), "".into()]),
            Ok(vec!["a".to_owned()])
        );
        assert!(parse_tags(vec!["t".repeat(TAG_MAX)]).is_ok());
        assert!(parse_tags(vec!["t".repeat(TAG_MAX + 1)]).is_err());
        assert!(parse_tags(vec!["a\tb".into()]).is_err());
        assert_eq!(
            parse_tags(vec!["t".into(); TAGS_MAX + 1]),
            Err(TagsError::TooMany)
        );
        assert!(check_password(&"p".repeat(PASSWORD_MAX)).is_ok());
        assert!(check_password(&"p".repeat(PASSWORD_MAX + 1)).is_err());
        let outcome = ConnectionOutcome {
            status: ConnectionStatus::Error,
            latency_ms: 1.0,
            server_version: Some("é".repeat(OUTCOME_TEXT_MAX)),
            error: Some("x".repeat(OUTCOME_TEXT_MAX * 2)),
            tls: None,
        }
        .bounded();
        assert!(outcome.error.is_some_and(|e| e.len() == OUTCOME_TEXT_MAX));
        assert!(outcome
            .server_version
            .is_some_and(|v| v.len() <= OUTCOME_TEXT_MAX && v.len() > OUTCOME_TEXT_MAX - 2));
    }

    #[test]
    fn connect_timeout_s_is_at_most_30() {
        let timeout = |t| ConnectionSpec::parse("db", 5432, "app", "u", "prefer", t);
        assert!(timeout(30).is_ok());
        for bad in [0, 31, 300] {
            assert_eq!(timeout(bad), Err(ConnectionSpecError::Timeout), "{bad}");
        }
    }

    #[test]
    fn an_old_event_with_a_longer_timeout_still_reads_cut_to_the_bound() {
        let old = r#"{"host":"db","port":5432,"database":"app","username":"u",
            "sslmode":"prefer","connect_timeout_s":300}"#;
        let spec: ConnectionSpec = serde_json::from_str(old).expect("old events still decode");
        assert_eq!(spec.connect_timeout_s, CONNECT_TIMEOUT_MAX_S);
        let zero = old.replace("300", "0");
        let spec: ConnectionSpec = serde_json::from_str(&zero).expect("decodes");
        assert_eq!(spec.connect_timeout_s, 1);
    }

    #[test]
    fn the_credential_binding_differs_for_every_part_of_the_target() {
        let id = Uuid::from_u128(7);
        let base = ConnectionSpec::parse("db", 5432, "app", "u", "prefer", 5).expect("valid");
        let binding = base.credential_binding(id);
        let slower = ConnectionSpec {
            connect_timeout_s: 30,
            ..base.clone()
        };
        assert_eq!(
            slower.credential_binding(id),
            binding,
            "timeout is not the target"
        );
        assert!(slower.same_target(&base));
        let others = [
            ConnectionSpec::parse("db2", 5432, "app", "u", "prefer", 5),
            ConnectionSpec::parse("db", 5433, "app", "u", "prefer", 5),
            ConnectionSpec::parse("db", 5432, "app2", "u", "prefer", 5),
            ConnectionSpec::parse("db", 5432, "app", "u2", "prefer", 5),
            ConnectionSpec::parse("db", 5432, "app", "u", "disable", 5),
            // Length prefixes: moving a byte between fields changes the encoding.
            ConnectionSpec::parse("d", 5432, "bapp", "u", "prefer", 5),
        ];
        for other in others {
            let other = other.expect("valid");
            assert!(!other.same_target(&base));
            assert_ne!(other.credential_binding(id), binding, "{other:?}");
        }
        assert_ne!(base.credential_binding(Uuid::from_u128(8)), binding);
    }

    #[test]
    fn a_host_starting_with_a_slash_is_a_unix_socket() {
        let spec = |h| ConnectionSpec::parse(h, 5432, "app", "u", "prefer", 5).expect("valid");
        assert!(spec("/var/run/postgresql").is_unix_socket());
        assert!(!spec("db.internal").is_unix_socket());
        assert!(!spec("127.0.0.1").is_unix_socket());
    }

    #[test]
    fn sealed_credential_debug_hides_ciphertext() {
        let c = SealedCredential {
            key_id: "k1".into(),
            nonce: "n".into(),
            ciphertext: "SECRETCIPHER".into(),
            version: SealedCredential::BOUND,
        };
        assert!(!format!("{c:?}").contains("SECRETCIPHER"));
    }
}
