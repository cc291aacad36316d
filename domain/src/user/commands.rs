use chrono::{DateTime, Utc};

use super::{PasswordHash, Role, Username};

/// What can be asked of a User.
#[derive(Debug, Clone)]
pub enum UserCommand {
    /// Create an account; the password arrives already hashed.
    CreateUser {
        /// Login name (uniqueness is checked by the command service against the read model
        /// and a unique index, since an aggregate only sees itself).
        username: Username,
        /// Role granted.
        role: Role,
        /// argon2id hash of the initial password.
        password_hash: PasswordHash,
        /// When, from the service's clock.
        at: DateTime<Utc>,
    },
    /// Delete the account.
    DeleteUser {
        /// When.
        at: DateTime<Utc>,
    },
}
