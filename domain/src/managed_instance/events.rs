use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::{ConnectionSpec, ConnectionStatus, SealedCredential, TestTrigger};
use crate::values::Name;

/// What happened to a ManagedInstance. Variant names and `event_type` strings are frozen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ManagedInstanceEvent {
    /// An instance was registered.
    InstanceRegistered {
        /// Display name.
        name: Name,
        /// Where and how to connect.
        connection: ConnectionSpec,
        /// Sealed password, if any (ciphertext only).
        credential: Option<SealedCredential>,
        /// Free-form tags.
        tags: Vec<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Name, connection settings or tags changed (full new values).
    InstanceUpdated {
        /// Name.
        name: Name,
        /// Connection settings.
        connection: ConnectionSpec,
        /// Tags.
        tags: Vec<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The stored password was replaced, cleared or re-sealed under a new key.
    CredentialsRotated {
        /// The new sealed password, or none.
        credential: Option<SealedCredential>,
        /// `true` when only the encryption key changed, not the password.
        key_rotation: bool,
        /// When.
        at: DateTime<Utc>,
    },
    /// A connection test ran.
    ConnectionTested {
        /// `status == connected`.
        success: bool,
        /// Classified result.
        status: ConnectionStatus,
        /// Connect-and-query time.
        latency_ms: f64,
        /// `server_version` when connected.
        server_version: Option<String>,
        /// What went wrong, worded for a person.
        error: Option<String>,
        /// Whether the session was encrypted, when connected.
        #[serde(default)]
        tls: Option<bool>,
        /// Who asked.
        trigger: TestTrigger,
        /// When.
        at: DateTime<Utc>,
    },
    /// An instance was removed.
    InstanceRemoved {
        /// Name at removal, for the audit log.
        name: Name,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for ManagedInstanceEvent {
    fn event_type(&self) -> String {
        match self {
            Self::InstanceRegistered { .. } => "InstanceRegistered",
            Self::InstanceUpdated { .. } => "InstanceUpdated",
            Self::CredentialsRotated { .. } => "CredentialsRotated",
            Self::ConnectionTested { .. } => "ConnectionTested",
            Self::InstanceRemoved { .. } => "InstanceRemoved",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}
