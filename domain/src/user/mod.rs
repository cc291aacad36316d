//! The User aggregate: accounts that log in to pgAnalytics, and their role.

mod aggregate;
mod commands;
mod events;

pub use aggregate::User;
pub use commands::UserCommand;
pub use events::UserEvent;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What a user may do. `Admin` ⊃ `Editor` ⊃ `Viewer`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read only.
    Viewer,
    /// Manages instances and runs connection tests.
    Editor,
    /// Everything, including users, collectors and registration secrets.
    Admin,
}

impl Role {
    /// The lowercase name used in the API and read models.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Editor => "editor",
            Self::Admin => "admin",
        }
    }

    /// Parses `admin`, `editor` or `viewer`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "viewer" => Some(Self::Viewer),
            "editor" => Some(Self::Editor),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    /// Whether this role includes `required`.
    pub fn allows(self, required: Role) -> bool {
        self >= required
    }
}

/// Most characters of a [`Username`] (ASCII only, so also bytes).
pub const USERNAME_MAX: usize = 64;

/// Most characters of a password a person types ([`NewPassword`]'s bound).
pub const PASSWORD_MAX_CHARS: usize = 1024;

/// A login name: 3–64 characters of letters, digits, `.`, `_`, `-` and `@`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

/// Why a [`Username`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("must be 3 to 64 characters of letters, digits, '.', '_', '-' or '@'")]
pub struct UsernameError;

impl Username {
    /// Parses a username.
    ///
    /// # Errors
    /// [`UsernameError`] when it is too short, too long or uses other characters.
    pub fn parse(raw: &str) -> Result<Self, UsernameError> {
        let ok_len = (3..=USERNAME_MAX).contains(&raw.chars().count());
        let ok_chars = raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
        if ok_len && ok_chars {
            Ok(Self(raw.to_owned()))
        } else {
            Err(UsernameError)
        }
    }

    /// The username as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = UsernameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Username> for String {
    fn from(value: Username) -> Self {
        value.0
    }
}

/// An argon2id PHC string. The only form of a password that ever reaches an event.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string produced by the password hasher.
    pub fn from_phc(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string, for verification.
    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// A new password as typed by a person, checked before it is hashed. Never serialized.
#[derive(Clone)]
pub struct NewPassword(String);

/// Why a [`NewPassword`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PasswordPolicyError {
    /// Shorter than 12 characters.
    #[error("must be at least 12 characters")]
    TooShort,
    /// Longer than 1024 characters (hashing cost guard).
    #[error("must be at most 1024 characters")]
    TooLong,
}

impl NewPassword {
    /// Checks the password policy.
    ///
    /// # Errors
    /// [`PasswordPolicyError`] naming the rule broken.
    pub fn parse(raw: &str) -> Result<Self, PasswordPolicyError> {
        let n = raw.chars().count();
        if n < 12 {
            Err(PasswordPolicyError::TooShort)
        } else if n > PASSWORD_MAX_CHARS {
            Err(PasswordPolicyError::TooLong)
        } else {
            Ok(Self(raw.to_owned()))
        }
    }

    /// The password, for the hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

/// One variant per rule of the User aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UserError {
    /// Create on an id that already holds a user.
    #[error("user already exists")]
    AlreadyExists,
    /// Any command but create on an id that holds no user.
    #[error("user not found")]
    NotFound,
    /// Any command on a deleted user.
    #[error("user has been deleted")]
    Deleted,
    /// Login or password change on a deactivated user.
    #[error("user is deactivated")]
    Inactive,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin.allows(Role::Editor));
        assert!(Role::Editor.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Editor));
        assert_eq!(Role::parse("editor"), Some(Role::Editor));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn username_and_password_rules() {
        assert!(Username::parse("dba.one@x").is_ok());
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("has space").is_err());
        assert_eq!(
            NewPassword::parse("short").err(),
            Some(PasswordPolicyError::TooShort)
        );
        assert!(NewPassword::parse("long enough pw").is_ok());
        assert_eq!(
            format!("{:?}", PasswordHash::from_phc("$argon2id$x".into())),
            "PasswordHash(<redacted>)"
        );
    }
}
