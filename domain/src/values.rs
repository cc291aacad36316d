//! Value types parsed once at the edge and trusted inside.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A human-facing name (instance, collector, registration secret): trimmed, 1–128 characters,
/// no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

/// Why a [`Name`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    /// Nothing left after trimming.
    #[error("must not be empty")]
    Empty,
    /// Longer than 128 characters.
    #[error("must be at most 128 characters")]
    TooLong,
    /// Contains a control character such as a newline.
    #[error("must not contain control characters")]
    ControlCharacter,
}

impl Name {
    /// Parses a name.
    ///
    /// # Errors
    /// [`NameError`] when the name is empty, too long or has control characters.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        if trimmed.chars().count() > 128 {
            return Err(NameError::TooLong);
        }
        if trimmed.chars().any(char::is_control) {
            return Err(NameError::ControlCharacter);
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Name {
    type Error = NameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Name> for String {
    fn from(value: Name) -> Self {
        value.0
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who issued a command, recorded in every event's metadata for the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// `user`, `collector` or `system`.
    pub kind: String,
    /// The user or collector id, or the name of the system task.
    pub id: String,
    /// A readable name (username, collector name, task name).
    pub name: String,
}

impl Actor {
    /// The server itself (bootstrap, background checks).
    pub fn system(task: &str) -> Self {
        Self {
            kind: "system".into(),
            id: task.into(),
            name: task.into(),
        }
    }

    /// A logged-in user.
    pub fn user(id: &str, username: &str) -> Self {
        Self {
            kind: "user".into(),
            id: id.into(),
            name: username.into(),
        }
    }

    /// The metadata map cqrs-es stores next to each event.
    pub fn to_metadata(&self) -> std::collections::HashMap<String, String> {
        std::collections::HashMap::from([
            ("actor_kind".to_owned(), self.kind.clone()),
            ("actor_id".to_owned(), self.id.clone()),
            ("actor_name".to_owned(), self.name.clone()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_is_trimmed_and_checked() {
        assert_eq!(Name::parse("  prod db ").map(|n| n.0), Ok("prod db".into()));
        assert_eq!(Name::parse("   "), Err(NameError::Empty));
        assert_eq!(Name::parse("a\nb"), Err(NameError::ControlCharacter));
        assert_eq!(Name::parse(&"x".repeat(129)), Err(NameError::TooLong));
    }

    #[test]
    fn name_refuses_bad_json() {
        assert!(serde_json::from_str::<Name>("\"\"").is_err());
        assert!(serde_json::from_str::<Name>("\"ok\"").is_ok());
    }
}

/// A secret setting (a password, a key, a registration secret): never printed, not even by
/// `Debug`. Shared by the server's and the collector's configuration.
#[derive(Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}
