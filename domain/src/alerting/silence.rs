//! The Silence aggregate: matchers on alert labels and an end; alerts it matches when they
//! fire send no notification.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::envelope::AggregateKind;

/// Equality or inequality on one label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// `=` or `!=`.
    pub op: MatchOp,
    /// Value.
    pub value: String,
}

/// A matcher's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MatchOp {
    /// The label equals the value (a missing label is the empty string, as in Alertmanager).
    #[serde(rename = "=")]
    Eq,
    /// It does not.
    #[serde(rename = "!=")]
    Ne,
}

impl Matcher {
    /// Whether `labels` satisfy it.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let v = labels.get(&self.name).map_or("", String::as_str);
        match self.op {
            MatchOp::Eq => v == self.value,
            MatchOp::Ne => v != self.value,
        }
    }
}

/// Whether every matcher matches (a silence with no matcher is refused when created).
pub fn all_match(matchers: &[Matcher], labels: &BTreeMap<String, String>) -> bool {
    !matchers.is_empty() && matchers.iter().all(|m| m.matches(labels))
}

/// Checks matchers a user typed.
///
/// # Errors
/// A message for the user.
pub fn check_matchers(matchers: &[Matcher]) -> Result<(), String> {
    if matchers.is_empty() || matchers.len() > 16 {
        return Err("matchers: 1 to 16".into());
    }
    for m in matchers {
        if m.name.is_empty() || m.name.len() > 128 || m.value.len() > 1024 {
            return Err("matchers: names 1 to 128 bytes, values at most 1024".into());
        }
        if m.name.chars().chain(m.value.chars()).any(char::is_control) {
            return Err("matchers: no control characters".into());
        }
    }
    // `name=""` matches every alert without that label, `!=` nearly every alert: a silence
    // must name something.
    if !matchers
        .iter()
        .any(|m| m.op == MatchOp::Eq && !m.value.is_empty())
    {
        return Err(
            "matchers: at least one must be `=` with a value (otherwise it silences nearly everything)"
                .into(),
        );
    }
    Ok(())
}

/// What can be asked of a Silence.
#[derive(Debug, Clone)]
pub enum SilenceCommand {
    /// Create it.
    Create {
        /// Checked matchers.
        matchers: Vec<Matcher>,
        /// Start.
        starts_at: DateTime<Utc>,
        /// End (after the start).
        ends_at: DateTime<Utc>,
        /// Why.
        comment: String,
    },
    /// End it now.
    Expire {
        /// When.
        at: DateTime<Utc>,
    },
}

/// What happened to a Silence. Names are frozen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SilenceEvent {
    /// Created.
    SilenceCreated {
        /// Matchers.
        matchers: Vec<Matcher>,
        /// Start.
        starts_at: DateTime<Utc>,
        /// End.
        ends_at: DateTime<Utc>,
        /// Why.
        comment: String,
    },
    /// Ended early.
    SilenceExpired {
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for SilenceEvent {
    fn event_type(&self) -> String {
        match self {
            Self::SilenceCreated { .. } => "SilenceCreated",
            Self::SilenceExpired { .. } => "SilenceExpired",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a Silence command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SilenceError {
    /// Create twice.
    #[error("silence already exists")]
    AlreadyExists,
    /// Expire on nothing.
    #[error("silence not found")]
    NotFound,
    /// Ends before it starts, or bad matchers.
    #[error("{0}")]
    Invalid(String),
}

/// A silence's state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub enum Silence {
    /// Not created.
    #[default]
    New,
    /// Created; `ends_at` moves to the expiry when expired early.
    Created {
        /// End.
        ends_at: DateTime<Utc>,
    },
}

impl Aggregate for Silence {
    const TYPE: &'static str = AggregateKind::Silence.type_name();
    type Command = SilenceCommand;
    type Event = SilenceEvent;
    type Error = SilenceError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match (&*self, command) {
            (
                Self::New,
                SilenceCommand::Create {
                    matchers,
                    starts_at,
                    ends_at,
                    comment,
                },
            ) => {
                check_matchers(&matchers).map_err(SilenceError::Invalid)?;
                if ends_at <= starts_at {
                    return Err(SilenceError::Invalid("ends_at: after the start".into()));
                }
                SilenceEvent::SilenceCreated {
                    matchers,
                    starts_at,
                    ends_at,
                    comment,
                }
            }
            (Self::New, SilenceCommand::Expire { .. }) => return Err(SilenceError::NotFound),
            (Self::Created { .. }, SilenceCommand::Create { .. }) => {
                return Err(SilenceError::AlreadyExists)
            }
            (Self::Created { ends_at }, SilenceCommand::Expire { at }) => {
                if *ends_at <= at {
                    return Ok(());
                }
                SilenceEvent::SilenceExpired { at }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        *self = match event {
            SilenceEvent::SilenceCreated { ends_at, .. } => Self::Created { ends_at },
            SilenceEvent::SilenceExpired { at } => Self::Created { ends_at: at },
        };
    }
}
