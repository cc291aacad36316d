//! The Alert aggregate: one per rule and target (a series, an instance, a collector). Its
//! events are the alert's history: pending, firing, resolved, acknowledged. The evaluator
//! observes; this aggregate decides the transition, so the same observations always give the
//! same history.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Severity;
use crate::envelope::AggregateKind;

/// The id of the alert of `rule_id` on `target` (a series id, `instance:<id>`,
/// `collector:<id>`): the same pair always gives the same id.
pub fn alert_id(rule_id: &str, target: &str) -> uuid::Uuid {
    let digest = Sha256::new()
        .chain_update(rule_id.as_bytes())
        .chain_update([0])
        .chain_update(target.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// One evaluation of a rule on one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The rule.
    pub rule_id: String,
    /// The rule's version evaluated.
    pub rule_version: u32,
    /// The rule's name (the `alertname` label).
    pub rule_name: String,
    /// Severity.
    pub severity: Severity,
    /// The target's labels (instance, collector, the series' own).
    pub labels: BTreeMap<String, String>,
    /// Whether the condition holds.
    pub holds: bool,
    /// The computed value, when there is one.
    pub value: Option<f64>,
    /// How long it must hold before firing.
    pub for_secs: u32,
    /// The rule's message for this target.
    pub summary: String,
    /// The silence matching the alert when it would fire.
    pub silenced_by: Option<String>,
    /// The evaluation instant.
    pub at: DateTime<Utc>,
}

/// What can be asked of an Alert.
#[derive(Debug, Clone)]
pub enum AlertCommand {
    /// The evaluator's observation.
    Observe(Box<Observation>),
    /// Resolve without an observation: the rule was disabled or deleted, or the target is gone.
    Resolve {
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The silence that held a firing alert's notifications back no longer covers it while it
    /// still fires: it is announced now.
    Unsilence {
        /// When.
        at: DateTime<Utc>,
    },
    /// Someone has seen it.
    Acknowledge {
        /// A note.
        comment: Option<String>,
        /// When.
        at: DateTime<Utc>,
    },
}

/// What happened to an Alert. Names are frozen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AlertEvent {
    /// The condition began to hold; waiting for `for`.
    AlertPending {
        /// Rule, version, name, severity, labels and value as observed.
        #[serde(flatten)]
        seen: Seen,
    },
    /// Firing: notifications go out (unless silenced).
    AlertFiring {
        /// As observed.
        #[serde(flatten)]
        seen: Seen,
        /// The message.
        summary: String,
        /// The silence that holds its notifications back.
        silenced_by: Option<String>,
    },
    /// Pending, but the condition stopped holding before `for`.
    AlertCleared {
        /// The value then.
        value: Option<f64>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Resolved.
    AlertResolved {
        /// The value then (none when resolved for another reason).
        value: Option<f64>,
        /// `condition no longer holds`, `rule disabled` …
        reason: String,
        /// The rule version that resolved it, when an observation did.
        rule_version: Option<u32>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Its silence ended while it still fires: notified now.
    AlertUnsilenced {
        /// When.
        at: DateTime<Utc>,
    },
    /// Acknowledged by the actor in the event's metadata.
    AlertAcknowledged {
        /// A note.
        comment: Option<String>,
        /// When.
        at: DateTime<Utc>,
    },
}

/// What an observation recorded in a pending or firing event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seen {
    /// The rule.
    pub rule_id: String,
    /// Its version.
    pub rule_version: u32,
    /// Its name.
    pub rule_name: String,
    /// Severity.
    pub severity: Severity,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Value.
    pub value: Option<f64>,
    /// When.
    pub at: DateTime<Utc>,
}

impl DomainEvent for AlertEvent {
    fn event_type(&self) -> String {
        match self {
            Self::AlertPending { .. } => "AlertPending",
            Self::AlertFiring { .. } => "AlertFiring",
            Self::AlertCleared { .. } => "AlertCleared",
            Self::AlertResolved { .. } => "AlertResolved",
            Self::AlertAcknowledged { .. } => "AlertAcknowledged",
            Self::AlertUnsilenced { .. } => "AlertUnsilenced",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why an Alert command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    /// Acknowledge on an alert that is not pending or firing.
    #[error("the alert is not pending or firing")]
    NotActive,
    /// Acknowledge or resolve on an alert that never existed.
    #[error("alert not found")]
    NotFound,
}

/// An alert's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub enum Alert {
    /// Never seen.
    #[default]
    New,
    /// Not pending or firing (cleared or resolved).
    Inactive,
    /// Holding since `since`, not yet for long enough.
    Pending {
        /// When it began to hold.
        since: DateTime<Utc>,
    },
    /// Firing since `since`.
    Firing {
        /// When it fired.
        since: DateTime<Utc>,
        /// Whether someone acknowledged it.
        acknowledged: bool,
    },
}

impl Alert {
    /// The transition an observation causes, if any. Pure: the evaluator uses it to know which
    /// commands to send, this aggregate to decide.
    pub fn observe(&self, o: &Observation) -> Option<AlertEvent> {
        let seen = || Seen {
            rule_id: o.rule_id.clone(),
            rule_version: o.rule_version,
            rule_name: o.rule_name.clone(),
            severity: o.severity,
            labels: o.labels.clone(),
            value: o.value,
            at: o.at,
        };
        let firing = || AlertEvent::AlertFiring {
            seen: seen(),
            summary: o.summary.clone(),
            silenced_by: o.silenced_by.clone(),
        };
        match (*self, o.holds) {
            (Self::New | Self::Inactive, true) if o.for_secs == 0 => Some(firing()),
            (Self::New | Self::Inactive, true) => Some(AlertEvent::AlertPending { seen: seen() }),
            (Self::Pending { since }, true) => {
                let held = o.at.signed_duration_since(since).num_seconds();
                (held >= i64::from(o.for_secs)).then(firing)
            }
            (Self::Pending { .. }, false) => Some(AlertEvent::AlertCleared {
                value: o.value,
                at: o.at,
            }),
            (Self::Firing { .. }, false) => Some(AlertEvent::AlertResolved {
                value: o.value,
                reason: "the condition no longer holds".into(),
                rule_version: Some(o.rule_version),
                at: o.at,
            }),
            (Self::Firing { .. }, true) | (Self::New | Self::Inactive, false) => None,
        }
    }

    /// The state after `event`.
    pub fn after(self, event: &AlertEvent) -> Self {
        match (self, event) {
            (_, AlertEvent::AlertPending { seen }) => Self::Pending { since: seen.at },
            (_, AlertEvent::AlertFiring { seen, .. }) => Self::Firing {
                since: seen.at,
                acknowledged: false,
            },
            (_, AlertEvent::AlertCleared { .. } | AlertEvent::AlertResolved { .. }) => {
                Self::Inactive
            }
            (Self::Firing { since, .. }, AlertEvent::AlertAcknowledged { .. }) => Self::Firing {
                since,
                acknowledged: true,
            },
            (state, AlertEvent::AlertAcknowledged { .. } | AlertEvent::AlertUnsilenced { .. }) => {
                state
            }
        }
    }
}

impl Aggregate for Alert {
    const TYPE: &'static str = AggregateKind::Alert.type_name();
    type Command = AlertCommand;
    type Event = AlertEvent;
    type Error = AlertError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            AlertCommand::Observe(o) => self.observe(&o),
            AlertCommand::Resolve { reason, at } => match self {
                Self::New => return Err(AlertError::NotFound),
                Self::Inactive => None,
                Self::Pending { .. } => Some(AlertEvent::AlertCleared { value: None, at }),
                Self::Firing { .. } => Some(AlertEvent::AlertResolved {
                    value: None,
                    reason,
                    rule_version: None,
                    at,
                }),
            },
            AlertCommand::Unsilence { at } => match self {
                Self::Firing { .. } => Some(AlertEvent::AlertUnsilenced { at }),
                _ => None,
            },
            AlertCommand::Acknowledge { comment, at } => match self {
                Self::New => return Err(AlertError::NotFound),
                Self::Inactive | Self::Pending { .. } => return Err(AlertError::NotActive),
                Self::Firing {
                    acknowledged: true, ..
                } => None,
                Self::Firing { .. } => Some(AlertEvent::AlertAcknowledged { comment, at }),
            },
        };
        if let Some(event) = event {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        *self = self.after(&event);
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000, 0).single().expect("t") + Duration::seconds(s)
    }

    fn seen(holds: bool, s: i64, for_secs: u32) -> Observation {
        Observation {
            rule_id: "r".into(),
            rule_version: 1,
            rule_name: "n".into(),
            severity: Severity::Warning,
            labels: BTreeMap::new(),
            holds,
            value: Some(1.0),
            for_secs,
            summary: "s".into(),
            silenced_by: None,
            at: at(s),
        }
    }

    /// Replays observations through the pure transition function; returns event type names.
    fn run(obs: &[Observation]) -> Vec<String> {
        let mut state = Alert::New;
        let mut out = Vec::new();
        for o in obs {
            if let Some(e) = state.observe(o) {
                state = state.after(&e);
                out.push(e.event_type());
            }
        }
        out
    }

    #[test]
    fn pending_fires_after_for_and_resolves_when_it_stops_holding() {
        let obs = [
            seen(true, 0, 30),
            seen(true, 15, 30),
            seen(true, 30, 30),
            seen(true, 45, 30),
            seen(false, 60, 30),
            seen(false, 75, 30),
        ];
        assert_eq!(
            run(&obs),
            ["AlertPending", "AlertFiring", "AlertResolved"].map(String::from)
        );
    }

    #[test]
    fn a_blip_shorter_than_for_is_cleared_not_fired_and_for_zero_fires_at_once() {
        assert_eq!(
            run(&[seen(true, 0, 60), seen(false, 15, 60)]),
            ["AlertPending", "AlertCleared"].map(String::from)
        );
        assert_eq!(run(&[seen(true, 0, 0)]), ["AlertFiring"].map(String::from));
    }

    #[test]
    fn the_same_observations_give_the_same_history() {
        let obs: Vec<_> = (0..40).map(|i| seen(i % 7 < 4, i * 15, 30)).collect();
        assert_eq!(run(&obs), run(&obs));
        assert!(run(&obs).len() > 3);
    }

    #[test]
    fn ids_are_stable_per_rule_and_target() {
        assert_eq!(alert_id("r", "t"), alert_id("r", "t"));
        assert_ne!(alert_id("r", "t"), alert_id("r", "u"));
        assert_ne!(alert_id("r", "t"), alert_id("s", "t"));
    }
}
