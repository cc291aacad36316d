use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::{PasswordHash, Role, Username};

/// What happened to a User. Variant names and `event_type` strings are frozen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserEvent {
    /// An account was created.
    UserCreated {
        /// Login name.
        username: Username,
        /// Role granted.
        role: Role,
        /// argon2id hash (never the password).
        password_hash: PasswordHash,
        /// When.
        at: DateTime<Utc>,
    },
    /// An account was deleted.
    UserDeleted {
        /// Login name at deletion, so the audit log reads without a join.
        username: Username,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for UserEvent {
    fn event_type(&self) -> String {
        match self {
            Self::UserCreated { .. } => "UserCreated",
            Self::UserDeleted { .. } => "UserDeleted",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}
