use chrono::{DateTime, Utc};

use super::{PasswordHash, Role, Username};

/// What can be asked of a User.
#[derive(Debug, Clone)]
pub enum UserCommand {
    /// Create an account; the password arrives already hashed.
    CreateUser {
        /// Login name (uniqueness is claimed by the user service before this command, since
        /// an aggregate only sees itself).
        username: Username,
        /// Role granted.
        role: Role,
        /// argon2id hash of the initial password.
        password_hash: PasswordHash,
        /// When, from the service's clock.
        at: DateTime<Utc>,
    },
    /// The user changes their own password (the service verified the current one).
    ChangePassword {
        /// argon2id hash of the new password.
        password_hash: PasswordHash,
        /// When.
        at: DateTime<Utc>,
    },
    /// An admin sets a new password.
    ResetPassword {
        /// argon2id hash of the new password.
        password_hash: PasswordHash,
        /// When.
        at: DateTime<Utc>,
    },
    /// Grant another role.
    ChangeRole {
        /// The new role.
        role: Role,
        /// When.
        at: DateTime<Utc>,
    },
    /// Deactivate (`false`) or reactivate (`true`) the account.
    SetActive {
        /// Desired state.
        active: bool,
        /// When.
        at: DateTime<Utc>,
    },
    /// Record a successful login.
    RecordLogin {
        /// When.
        at: DateTime<Utc>,
    },
    /// Delete the account.
    DeleteUser {
        /// When.
        at: DateTime<Utc>,
    },
}
