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
    /// The password was changed by its owner or reset by an admin.
    PasswordChanged {
        /// argon2id hash of the new password.
        password_hash: PasswordHash,
        /// `true` when an admin reset it.
        reset: bool,
        /// When.
        at: DateTime<Utc>,
    },
    /// The role changed.
    RoleChanged {
        /// Role before.
        from: Role,
        /// Role after.
        to: Role,
        /// When.
        at: DateTime<Utc>,
    },
    /// The account was deactivated: no login, every token refused.
    UserDeactivated {
        /// When.
        at: DateTime<Utc>,
    },
    /// The account was reactivated.
    UserReactivated {
        /// When.
        at: DateTime<Utc>,
    },
    /// The user logged in.
    UserLoggedIn {
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
            Self::PasswordChanged { .. } => "PasswordChanged",
            Self::RoleChanged { .. } => "RoleChanged",
            Self::UserDeactivated { .. } => "UserDeactivated",
            Self::UserReactivated { .. } => "UserReactivated",
            Self::UserLoggedIn { .. } => "UserLoggedIn",
            Self::UserDeleted { .. } => "UserDeleted",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}
