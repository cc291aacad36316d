//! The wire form of a stored domain event.
//!
//! The relay reads rows of the event store and publishes each as a [`StoredEvent`] on
//! `<prefix>.events.<aggregate>.<id>`; projectors parse it back and dispatch on
//! [`AggregateKind`]. The payload stays raw JSON here so that one malformed payload can be
//! recorded and skipped without losing the envelope around it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The aggregates of pgAnalytics, by the type name they are stored under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AggregateKind {
    /// [`crate::user::User`]
    User,
    /// [`crate::managed_instance::ManagedInstance`]
    ManagedInstance,
    /// [`crate::collector::Collector`]
    Collector,
    /// [`crate::registration_secret::RegistrationSecret`]
    RegistrationSecret,
}

impl AggregateKind {
    /// Every kind, for iteration.
    pub const ALL: [AggregateKind; 4] = [
        Self::User,
        Self::ManagedInstance,
        Self::Collector,
        Self::RegistrationSecret,
    ];

    /// The frozen `aggregate_type` column value (also cqrs-es's `Aggregate::TYPE`).
    pub const fn type_name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ManagedInstance => "managed_instance",
            Self::Collector => "collector",
            Self::RegistrationSecret => "registration_secret",
        }
    }

    /// Parses an `aggregate_type` column value.
    pub fn from_type_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.type_name() == name)
    }
}

/// One stored event as it travels on JetStream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Global position in the event store (insertion order, not commit order).
    pub position: i64,
    /// `aggregate_type` column.
    pub aggregate_type: String,
    /// `aggregate_id` column.
    pub aggregate_id: String,
    /// Per-aggregate sequence, starting at 1.
    pub sequence: i64,
    /// Frozen event type name.
    pub event_type: String,
    /// Frozen event version.
    pub event_version: String,
    /// The event, as cqrs-es serialized it (`{"Variant": {...}}`).
    pub payload: serde_json::Value,
    /// Metadata: who did it (see [`crate::values::Actor::to_metadata`]).
    pub metadata: serde_json::Value,
    /// When the event store accepted it.
    pub recorded_at: DateTime<Utc>,
}

impl StoredEvent {
    /// `Nats-Msg-Id` of this event: publishing it twice is a no-op for JetStream.
    pub fn message_id(&self) -> String {
        format!(
            "{}:{}:{}",
            self.aggregate_type, self.aggregate_id, self.sequence
        )
    }

    /// The subject below the deployment prefix: `events.<aggregate>.<id>`.
    pub fn subject_suffix(&self) -> String {
        format!("events.{}.{}", self.aggregate_type, self.aggregate_id)
    }

    /// The aggregate this event belongs to, if it is one this build knows.
    pub fn kind(&self) -> Option<AggregateKind> {
        AggregateKind::from_type_name(&self.aggregate_type)
    }

    /// A metadata field as text (`actor_name`, …).
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(|v| v.as_str())
    }

    /// Decodes the payload into an aggregate's event enum.
    ///
    /// # Errors
    /// The serde error when the payload does not match the enum.
    pub fn decode<E: serde::de::DeserializeOwned>(&self) -> Result<E, serde_json::Error> {
        E::deserialize(&self.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip() {
        for kind in AggregateKind::ALL {
            assert_eq!(AggregateKind::from_type_name(kind.type_name()), Some(kind));
        }
        assert_eq!(AggregateKind::from_type_name("nope"), None);
    }
}
