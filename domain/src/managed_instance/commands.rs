use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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

/// What an update does with the stored password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialChange {
    /// Keep it: refused when the target changes and a password is stored.
    Keep,
    /// Replace it with this one (sealed for the new target), or remove it (`None`).
    Replace(Option<SealedCredential>),
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
    /// Change name, connection settings or tags (the full new values), and perhaps the
    /// password with them, in one step.
    UpdateInstance {
        /// New name.
        name: Name,
        /// New connection settings.
        connection: ConnectionSpec,
        /// What becomes of the stored password; a new target needs [`CredentialChange::Replace`].
        credential: CredentialChange,
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
    /// Re-seal the stored password under the current encryption key, bound to its instance
    /// and target (`rotate-key`).
    ResealCredential {
        /// This instance's id (the aggregate id): part of what the password is bound to.
        instance: Uuid,
        /// When.
        at: DateTime<Utc>,
    },
    /// Connect now and record the result.
    TestConnection {
        /// This instance's id (the aggregate id): the stored password opens only for it.
        instance: Uuid,
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
