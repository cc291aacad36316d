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

/// Why a bounded piece of text was refused. Shared by the value types below, the connection
/// settings of a managed instance and the metric batch parsers, so that every edge words its
/// refusals alike (the caller names the field).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TextError {
    /// Nothing left after trimming.
    #[error("must not be empty")]
    Empty,
    /// Longer than the bound, in bytes of UTF-8 (what storage and the bus measure).
    #[error("must be at most {max} bytes")]
    TooLong {
        /// The bound.
        max: usize,
    },
    /// Contains a control character such as a newline or NUL.
    #[error("must not contain control characters")]
    ControlCharacter,
}

/// Checks text a person, a collector or a script sent: not empty (after trimming), at most
/// `max` bytes, no control characters. Returns the trimmed text.
///
/// # Errors
/// [`TextError`] naming the rule broken.
pub fn bounded_text(raw: &str, max: usize) -> Result<&str, TextError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(TextError::Empty);
    }
    optional_text(trimmed, max)
}

/// Like [`bounded_text`] for text that may be empty; not trimmed.
///
/// # Errors
/// [`TextError::TooLong`] or [`TextError::ControlCharacter`].
pub fn optional_text(raw: &str, max: usize) -> Result<&str, TextError> {
    if raw.len() > max {
        return Err(TextError::TooLong { max });
    }
    if raw.chars().any(char::is_control) {
        return Err(TextError::ControlCharacter);
    }
    Ok(raw)
}

/// Most bytes of a collector's host name: a DNS name is at most 253 characters; 255 leaves room
/// for a trailing dot and matches what the API accepted before it was bounded in bytes.
pub const HOSTNAME_MAX: usize = 255;

/// Most bytes of a collector's agent version ("0.1.0", "3.3.0-rc1+build.42"…).
pub const VERSION_MAX: usize = 64;

/// The host a collector runs on: trimmed, 1–[`HOSTNAME_MAX`] bytes, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hostname(String);

impl Hostname {
    /// Parses a host name.
    ///
    /// # Errors
    /// [`TextError`].
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        bounded_text(raw, HOSTNAME_MAX).map(|s| Self(s.to_owned()))
    }

    /// The host name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Hostname> for String {
    fn from(value: Hostname) -> Self {
        value.0
    }
}

/// A collector's agent version: at most [`VERSION_MAX`] bytes, no control characters; empty
/// when the collector does not say.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentVersion(String);

impl AgentVersion {
    /// Parses a version (trimmed).
    ///
    /// # Errors
    /// [`TextError::TooLong`] or [`TextError::ControlCharacter`].
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        optional_text(raw.trim(), VERSION_MAX).map(|s| Self(s.to_owned()))
    }

    /// The version as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<AgentVersion> for String {
    fn from(value: AgentVersion) -> Self {
        value.0
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
    fn bounded_text_counts_bytes_and_refuses_control_characters() {
        assert_eq!(bounded_text(" db-1 ", 4), Ok("db-1"));
        assert_eq!(bounded_text("db-12", 4), Err(TextError::TooLong { max: 4 }));
        assert_eq!(bounded_text("ééé", 4), Err(TextError::TooLong { max: 4 }));
        assert_eq!(bounded_text("  ", 4), Err(TextError::Empty));
        assert_eq!(bounded_text("a\rb", 4), Err(TextError::ControlCharacter));
        assert_eq!(optional_text("", 4), Ok(""));
        let max = "h".repeat(HOSTNAME_MAX);
        assert!(Hostname::parse(&max).is_ok());
        assert!(Hostname::parse(&format!("{max}h")).is_err());
        assert!(AgentVersion::parse(&"1".repeat(VERSION_MAX)).is_ok());
        assert!(AgentVersion::parse(&"1".repeat(VERSION_MAX + 1)).is_err());
        assert_eq!(AgentVersion::parse("").map(String::from), Ok(String::new()));
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
