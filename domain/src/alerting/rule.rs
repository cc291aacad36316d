//! The AlertRule aggregate: a rule's life (created, edited, enabled, disabled, deleted). Each
//! edit raises its version, which every alert state event carries.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::RuleSpec;
use crate::envelope::AggregateKind;

/// What can be asked of an AlertRule.
#[derive(Debug, Clone)]
pub enum AlertRuleCommand {
    /// Create it (`builtin` names a built-in rule, seeded by the server).
    Create {
        /// The validated rule.
        spec: RuleSpec,
        /// The built-in rule it is, if any.
        builtin: Option<String>,
        /// Whether it starts enabled.
        enabled: bool,
        /// When.
        at: DateTime<Utc>,
    },
    /// Replace its spec.
    Update {
        /// The validated rule.
        spec: RuleSpec,
        /// When.
        at: DateTime<Utc>,
    },
    /// Enable or disable it.
    SetEnabled {
        /// Desired state.
        enabled: bool,
        /// When.
        at: DateTime<Utc>,
    },
    /// Delete it (not a built-in rule: those are disabled instead).
    Delete {
        /// When.
        at: DateTime<Utc>,
    },
}

/// What happened to an AlertRule. Names are frozen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AlertRuleEvent {
    /// Created (version 1).
    AlertRuleCreated {
        /// The rule.
        spec: RuleSpec,
        /// Built-in rule name.
        builtin: Option<String>,
        /// Whether it is enabled.
        enabled: bool,
        /// When.
        at: DateTime<Utc>,
    },
    /// Its spec replaced.
    AlertRuleUpdated {
        /// The rule.
        spec: RuleSpec,
        /// Its version from now on.
        version: u32,
        /// When.
        at: DateTime<Utc>,
    },
    /// Enabled.
    AlertRuleEnabled {
        /// When.
        at: DateTime<Utc>,
    },
    /// Disabled: its alerts resolve.
    AlertRuleDisabled {
        /// When.
        at: DateTime<Utc>,
    },
    /// Deleted: its alerts resolve.
    AlertRuleDeleted {
        /// Name at deletion, for the audit log.
        name: String,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for AlertRuleEvent {
    fn event_type(&self) -> String {
        match self {
            Self::AlertRuleCreated { .. } => "AlertRuleCreated",
            Self::AlertRuleUpdated { .. } => "AlertRuleUpdated",
            Self::AlertRuleEnabled { .. } => "AlertRuleEnabled",
            Self::AlertRuleDisabled { .. } => "AlertRuleDisabled",
            Self::AlertRuleDeleted { .. } => "AlertRuleDeleted",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why an AlertRule command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertRuleError {
    /// Create on an existing rule.
    #[error("alert rule already exists")]
    AlreadyExists,
    /// Anything but create on nothing.
    #[error("alert rule not found")]
    NotFound,
    /// Anything on a deleted rule.
    #[error("alert rule has been deleted")]
    Deleted,
    /// Delete on a built-in rule.
    #[error("a built-in rule cannot be deleted; disable it instead")]
    BuiltIn,
}

/// The state an AlertRule needs to decide.
#[derive(Debug, Default, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)] // one per command, loaded and dropped
pub enum AlertRule {
    /// Not created.
    #[default]
    New,
    /// Live.
    Live {
        /// Current spec.
        spec: RuleSpec,
        /// Built-in name.
        builtin: Option<String>,
        /// Enabled.
        enabled: bool,
        /// Version.
        version: u32,
    },
    /// Deleted.
    Removed,
}

impl Aggregate for AlertRule {
    const TYPE: &'static str = AggregateKind::AlertRule.type_name();
    type Command = AlertRuleCommand;
    type Event = AlertRuleEvent;
    type Error = AlertRuleError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match (&*self, command) {
            (Self::Removed, _) => return Err(AlertRuleError::Deleted),
            (
                Self::New,
                AlertRuleCommand::Create {
                    spec,
                    builtin,
                    enabled,
                    at,
                },
            ) => AlertRuleEvent::AlertRuleCreated {
                spec,
                builtin,
                enabled,
                at,
            },
            (Self::New, _) => return Err(AlertRuleError::NotFound),
            (Self::Live { .. }, AlertRuleCommand::Create { .. }) => {
                return Err(AlertRuleError::AlreadyExists)
            }
            (Self::Live { spec, version, .. }, AlertRuleCommand::Update { spec: new, at }) => {
                if *spec == new {
                    return Ok(());
                }
                AlertRuleEvent::AlertRuleUpdated {
                    spec: new,
                    version: version + 1,
                    at,
                }
            }
            (Self::Live { enabled, .. }, AlertRuleCommand::SetEnabled { enabled: to, at }) => {
                match (*enabled, to) {
                    (false, true) => AlertRuleEvent::AlertRuleEnabled { at },
                    (true, false) => AlertRuleEvent::AlertRuleDisabled { at },
                    _ => return Ok(()),
                }
            }
            (
                Self::Live {
                    builtin: Some(_), ..
                },
                AlertRuleCommand::Delete { .. },
            ) => return Err(AlertRuleError::BuiltIn),
            (Self::Live { spec, .. }, AlertRuleCommand::Delete { at }) => {
                AlertRuleEvent::AlertRuleDeleted {
                    name: spec.name.clone(),
                    at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match (&mut *self, event) {
            (
                _,
                AlertRuleEvent::AlertRuleCreated {
                    spec,
                    builtin,
                    enabled,
                    ..
                },
            ) => {
                *self = Self::Live {
                    spec,
                    builtin,
                    enabled,
                    version: 1,
                }
            }
            (
                Self::Live { spec, version, .. },
                AlertRuleEvent::AlertRuleUpdated {
                    spec: new,
                    version: v,
                    ..
                },
            ) => {
                *spec = new;
                *version = v;
            }
            (Self::Live { enabled, .. }, AlertRuleEvent::AlertRuleEnabled { .. }) => {
                *enabled = true;
            }
            (Self::Live { enabled, .. }, AlertRuleEvent::AlertRuleDisabled { .. }) => {
                *enabled = false;
            }
            (_, AlertRuleEvent::AlertRuleDeleted { .. }) => *self = Self::Removed,
            _ => {}
        }
    }
}
