use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::{ConnectionSpec, SealedCredential};
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
            Self::InstanceRemoved { .. } => "InstanceRemoved",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}
