use chrono::{DateTime, Utc};

use super::{ConnectionSpec, SealedCredential};
use crate::values::Name;

/// What can be asked of a ManagedInstance.
#[derive(Debug, Clone)]
pub enum ManagedInstanceCommand {
    /// Start watching a PostgreSQL server.
    RegisterInstance {
        /// Display name (uniqueness checked by the command service).
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
    /// Stop watching it.
    RemoveInstance {
        /// When.
        at: DateTime<Utc>,
    },
}
