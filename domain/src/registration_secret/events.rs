use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::values::Name;

/// What happened to a RegistrationSecret. Variant names and `event_type` strings are frozen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RegistrationSecretEvent {
    /// A secret was created.
    RegistrationSecretCreated {
        /// Display name.
        name: Name,
        /// Hash of the secret (never the secret).
        secret_hash: String,
        /// First characters of the secret.
        prefix: String,
        /// Optional expiry.
        expires_at: Option<DateTime<Utc>>,
        /// Optional cap on registrations.
        max_registrations: Option<u32>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Renamed.
    RegistrationSecretRenamed {
        /// Old name.
        from: Name,
        /// New name.
        to: Name,
        /// When.
        at: DateTime<Utc>,
    },
    /// Deactivated: no more registrations.
    RegistrationSecretDeactivated {
        /// When.
        at: DateTime<Utc>,
    },
    /// Reactivated.
    RegistrationSecretReactivated {
        /// When.
        at: DateTime<Utc>,
    },
    /// A collector registered with it.
    RegistrationSecretUsed {
        /// The collector registered.
        collector_id: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The managed instances collectors registered with this secret are bound to (given at
    /// creation, right after [`Self::RegistrationSecretCreated`]).
    RegistrationSecretInstancesSet {
        /// Managed instance ids.
        instance_ids: Vec<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A secret was deleted.
    RegistrationSecretDeleted {
        /// Name at deletion, for the audit log.
        name: Name,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for RegistrationSecretEvent {
    fn event_type(&self) -> String {
        match self {
            Self::RegistrationSecretCreated { .. } => "RegistrationSecretCreated",
            Self::RegistrationSecretRenamed { .. } => "RegistrationSecretRenamed",
            Self::RegistrationSecretDeactivated { .. } => "RegistrationSecretDeactivated",
            Self::RegistrationSecretReactivated { .. } => "RegistrationSecretReactivated",
            Self::RegistrationSecretUsed { .. } => "RegistrationSecretUsed",
            Self::RegistrationSecretDeleted { .. } => "RegistrationSecretDeleted",
            Self::RegistrationSecretInstancesSet { .. } => "RegistrationSecretInstancesSet",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}
