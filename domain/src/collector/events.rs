use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::values::Name;

/// What happened to a Collector. Variant names and `event_type` strings are frozen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CollectorEvent {
    /// A collector registered.
    CollectorRegistered {
        /// Display name.
        name: Name,
        /// Host the agent runs on.
        hostname: String,
        /// Agent version.
        version: String,
        /// The registration secret it used.
        registration_secret_id: String,
        /// Hash of its refresh secret.
        refresh_secret_hash: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The managed instances the collector may report changed (at registration, from its
    /// secret, or by an admin). Batches about any other instance are refused.
    CollectorInstancesBound {
        /// Managed instance ids, the whole new set (empty: bound to none).
        instance_ids: Vec<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A collector was deleted.
    CollectorDeleted {
        /// Name at deletion, for the audit log.
        name: Name,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for CollectorEvent {
    fn event_type(&self) -> String {
        match self {
            Self::CollectorRegistered { .. } => "CollectorRegistered",
            Self::CollectorDeleted { .. } => "CollectorDeleted",
            Self::CollectorInstancesBound { .. } => "CollectorInstancesBound",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}
