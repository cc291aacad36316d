use chrono::{DateTime, Utc};

use crate::values::Name;

/// What can be asked of a RegistrationSecret.
#[derive(Debug, Clone)]
pub enum RegistrationSecretCommand {
    /// Create a secret; the command service generated it and hands in only its hash.
    CreateSecret {
        /// Display name.
        name: Name,
        /// Hash of the secret.
        secret_hash: String,
        /// First characters of the secret, so a person can tell secrets apart.
        prefix: String,
        /// Optional expiry.
        expires_at: Option<DateTime<Utc>>,
        /// Optional cap on registrations.
        max_registrations: Option<u32>,
        /// Managed instances the collectors it registers are bound to; empty: none.
        instance_ids: Vec<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Rename it.
    Rename {
        /// New name.
        name: Name,
        /// When.
        at: DateTime<Utc>,
    },
    /// Deactivate (`false`) or reactivate (`true`).
    SetActive {
        /// Desired state.
        active: bool,
        /// When.
        at: DateTime<Utc>,
    },
    /// A collector presents the secret to register: allowed only while active, unexpired and
    /// under its cap.
    UseForRegistration {
        /// The collector being registered.
        collector_id: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Delete the secret.
    DeleteSecret {
        /// When.
        at: DateTime<Utc>,
    },
}
