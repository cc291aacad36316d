use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ConnectionSpec, SealedCredential};
use crate::values::Name;

/// Who asked for a connection test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestTrigger {
    /// A person clicked "Test Connection": always recorded.
    Manual,
    /// The background check: recorded when the status changes, or as a sparse heartbeat.
    Background,
}

/// What can be asked of a ManagedInstance.
#[derive(Debug, Clone)]
pub enum ManagedInstanceCommand {
    /// Start watching a PostgreSQL server.
    RegisterInstance {
        /// Display name (uniqueness claimed by the command service).
        name: Name,
        /// Where and how to connect.
        connection: ConnectionSpec,
        /// The password, already sealed by the credential service (or none: trust/peer auth).
        credential: Option<SealedCredential>,
        /// Free-form tags.
        tags: Vec<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Change name, connection settings or tags (the full new values).
    UpdateInstance {
        /// New name.
        name: Name,
        /// New connection settings.
        connection: ConnectionSpec,
        /// New tags.
        tags: Vec<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Replace (or clear) the stored password.
    RotateCredentials {
        /// The new sealed password, or none.
        credential: Option<SealedCredential>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Re-seal the stored password under the current encryption key (`rotate-key`).
    ResealCredential {
        /// When.
        at: DateTime<Utc>,
    },
    /// Connect now and record the result.
    TestConnection {
        /// Who asked.
        trigger: TestTrigger,
        /// When.
        at: DateTime<Utc>,
    },
    /// Stop watching it.
    RemoveInstance {
        /// When.
        at: DateTime<Utc>,
    },
}
