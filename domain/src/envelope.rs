//! The wire form of a stored domain event.
//!
//! The relay reads rows of the event store and publishes each as a [`StoredEvent`] on
//! `<prefix>.events.<aggregate>.<id>`; projectors parse it back and dispatch on
//! [`AggregateKind`]. The payload stays raw JSON here so that one malformed payload can be
//! recorded and skipped without losing the envelope around it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An upper bound on the JSON size of any [`StoredEvent`] the domain can produce, metadata
/// included. Every text an event carries is bounded where it is parsed (names, hosts, database
/// and role names, tags, the sealed password, versions, connection-test messages …); the
/// largest event (a connection test with two 2 KiB messages of control characters, six JSON
/// bytes each) is about 25 KiB, so 64 KiB leaves room for a new field without being loose by
/// orders of magnitude. The test below builds the largest event of every aggregate.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// Room for the headers the relay sends with an event (`Nats-Msg-Id`, and a signature).
pub const EVENT_HEADERS_MAX: usize = 4 * 1024;

/// Whether a NATS server taking messages of at most `max_payload` bytes can carry every event.
///
/// # Errors
/// A message for the operator, saying what to set.
pub fn check_max_payload(max_payload: usize) -> Result<(), String> {
    let needed = MAX_EVENT_BYTES + EVENT_HEADERS_MAX;
    if max_payload < needed {
        return Err(format!(
            "the NATS server takes messages of at most {max_payload} bytes, but a pgAnalytics event \
             can be {needed} bytes with its headers: raise max_payload in the NATS server's \
             configuration (the default, 1 MiB, is enough)"
        ));
    }
    Ok(())
}

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
    /// [`crate::alerting::AlertRule`]
    AlertRule,
    /// [`crate::alerting::Alert`]
    Alert,
    /// [`crate::alerting::Silence`]
    Silence,
    /// [`crate::alerting::NotificationChannel`]
    NotificationChannel,
}

impl AggregateKind {
    /// Every kind, for iteration.
    pub const ALL: [AggregateKind; 8] = [
        Self::User,
        Self::ManagedInstance,
        Self::Collector,
        Self::RegistrationSecret,
        Self::AlertRule,
        Self::Alert,
        Self::Silence,
        Self::NotificationChannel,
    ];

    /// The frozen `aggregate_type` column value (also cqrs-es's `Aggregate::TYPE`).
    pub const fn type_name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ManagedInstance => "managed_instance",
            Self::Collector => "collector",
            Self::RegistrationSecret => "registration_secret",
            Self::AlertRule => "alert_rule",
            Self::Alert => "alert",
            Self::Silence => "silence",
            Self::NotificationChannel => "notification_channel",
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
    use cqrs_es::DomainEvent;

    use super::*;
    use crate::collector::CollectorEvent;
    use crate::managed_instance::{
        ConnectionSpec, ConnectionStatus, ManagedInstanceEvent, SealedCredential, SslMode,
        TestTrigger, HOST_MAX, IDENTIFIER_MAX, OUTCOME_TEXT_MAX, PASSWORD_MAX, TAGS_MAX, TAG_MAX,
    };
    use crate::registration_secret::RegistrationSecretEvent;
    use crate::user::{PasswordHash, Role, UserEvent, Username, USERNAME_MAX};
    use crate::values::{Actor, Name, HOSTNAME_MAX, VERSION_MAX};

    #[test]
    fn max_payload_must_carry_the_largest_event() {
        assert!(check_max_payload(1024 * 1024).is_ok());
        assert!(check_max_payload(MAX_EVENT_BYTES + EVENT_HEADERS_MAX).is_ok());
        let refused = check_max_payload(MAX_EVENT_BYTES).expect_err("too small");
        assert!(refused.contains("max_payload"), "{refused}");
    }

    #[test]
    fn type_names_round_trip() {
        for kind in AggregateKind::ALL {
            assert_eq!(AggregateKind::from_type_name(kind.type_name()), Some(kind));
        }
        assert_eq!(AggregateKind::from_type_name("nope"), None);
    }

    /// Text of `bytes` bytes whose JSON form is as long as it gets: every byte a quote (`\"`).
    fn quotes(bytes: usize) -> String {
        "\"".repeat(bytes)
    }

    /// Text of `bytes` bytes of control characters (`\u0001`: six bytes each in JSON), for the
    /// texts the domain keeps without checking their characters.
    fn controls(bytes: usize) -> String {
        "\u{1}".repeat(bytes)
    }

    /// A [`Name`] as long as JSON makes it: 128 four-byte characters.
    fn longest_name() -> Name {
        Name::parse(&"𝄞".repeat(128)).expect("a name of 128 characters")
    }

    fn longest_spec() -> ConnectionSpec {
        ConnectionSpec {
            host: quotes(HOST_MAX),
            port: u16::MAX,
            database: quotes(IDENTIFIER_MAX),
            username: quotes(IDENTIFIER_MAX),
            sslmode: SslMode::VerifyFull,
            connect_timeout_s: crate::managed_instance::CONNECT_TIMEOUT_MAX_S,
        }
    }

    fn longest_credential() -> SealedCredential {
        // AES-256-GCM: the ciphertext is the password plus a 16-byte tag, in base64; the nonce
        // is 12 bytes; the key id is a short digest (64 hex characters at most).
        let b64 = |n: usize| "A".repeat(n.div_ceil(3) * 4);
        SealedCredential {
            key_id: "k".repeat(64),
            nonce: b64(12),
            ciphertext: b64(PASSWORD_MAX + 16),
            version: SealedCredential::BOUND,
        }
    }

    fn wrap<E: DomainEvent>(kind: AggregateKind, event: &E, actor: &Actor) -> usize {
        let stored = StoredEvent {
            position: i64::MAX,
            aggregate_type: kind.type_name().to_owned(),
            aggregate_id: uuid::Uuid::max().to_string(),
            sequence: i64::MAX,
            event_type: event.event_type(),
            event_version: event.event_version(),
            payload: serde_json::to_value(event).expect("payload"),
            metadata: serde_json::to_value(actor.to_metadata()).expect("metadata"),
            recorded_at: DateTime::<Utc>::MAX_UTC,
        };
        serde_json::to_vec(&stored).expect("json").len()
    }

    #[test]
    fn the_largest_event_of_every_aggregate_fits_max_event_bytes() {
        let at = DateTime::<Utc>::MAX_UTC;
        let user_actor = Actor::user(&uuid::Uuid::max().to_string(), &"u".repeat(USERNAME_MAX));
        let collector_actor = Actor {
            kind: "collector".into(),
            id: uuid::Uuid::max().to_string(),
            name: longest_name().to_string(),
        };
        let username = Username::parse(&"u".repeat(USERNAME_MAX)).expect("username");
        // An argon2id PHC string is about 100 bytes; 512 is generous.
        let hash = PasswordHash::from_phc("h".repeat(512));
        let tags: Vec<String> = vec![quotes(TAG_MAX); TAGS_MAX];
        let mut sizes: Vec<(&str, usize)> = Vec::new();
        let user = AggregateKind::User;
        for e in [
            UserEvent::UserCreated {
                username: username.clone(),
                role: Role::Viewer,
                password_hash: hash.clone(),
                at,
            },
            UserEvent::PasswordChanged {
                password_hash: hash,
                reset: true,
                at,
            },
            UserEvent::RoleChanged {
                from: Role::Editor,
                to: Role::Viewer,
                at,
            },
            UserEvent::UserDeleted { username, at },
        ] {
            sizes.push(("user", wrap(user, &e, &user_actor)));
        }
        let instance = AggregateKind::ManagedInstance;
        for e in [
            ManagedInstanceEvent::InstanceRegistered {
                name: longest_name(),
                connection: longest_spec(),
                credential: Some(longest_credential()),
                tags: tags.clone(),
                at,
            },
            ManagedInstanceEvent::InstanceUpdated {
                name: longest_name(),
                connection: longest_spec(),
                tags,
                at,
            },
            ManagedInstanceEvent::CredentialsRotated {
                credential: Some(longest_credential()),
                key_rotation: true,
                at,
            },
            ManagedInstanceEvent::ConnectionTested {
                success: false,
                status: ConnectionStatus::InvalidCredentials,
                latency_ms: f64::MAX,
                server_version: Some(controls(OUTCOME_TEXT_MAX)),
                error: Some(controls(OUTCOME_TEXT_MAX)),
                tls: Some(true),
                trigger: TestTrigger::Background,
                at,
            },
            ManagedInstanceEvent::InstanceRemoved {
                name: longest_name(),
                at,
            },
        ] {
            sizes.push(("managed_instance", wrap(instance, &e, &user_actor)));
        }
        let collector = AggregateKind::Collector;
        for e in [
            CollectorEvent::CollectorRegistered {
                name: longest_name(),
                hostname: quotes(HOSTNAME_MAX),
                version: quotes(VERSION_MAX),
                registration_secret_id: uuid::Uuid::max().to_string(),
                refresh_secret_hash: "f".repeat(64),
                at,
            },
            CollectorEvent::CollectorDeleted {
                name: longest_name(),
                at,
            },
        ] {
            sizes.push(("collector", wrap(collector, &e, &collector_actor)));
        }
        let secret = AggregateKind::RegistrationSecret;
        for e in [
            RegistrationSecretEvent::RegistrationSecretCreated {
                name: longest_name(),
                secret_hash: "f".repeat(64),
                prefix: "p".repeat(12),
                expires_at: Some(at),
                max_registrations: Some(u32::MAX),
                at,
            },
            RegistrationSecretEvent::RegistrationSecretRenamed {
                from: longest_name(),
                to: longest_name(),
                at,
            },
            RegistrationSecretEvent::RegistrationSecretUsed {
                collector_id: uuid::Uuid::max().to_string(),
                at,
            },
            RegistrationSecretEvent::RegistrationSecretDeleted {
                name: longest_name(),
                at,
            },
        ] {
            sizes.push(("registration_secret", wrap(secret, &e, &collector_actor)));
        }
        for (kind, size) in &sizes {
            assert!(
                *size <= MAX_EVENT_BYTES,
                "a {kind} event of {size} bytes is over MAX_EVENT_BYTES ({MAX_EVENT_BYTES})"
            );
        }
        // The bound is meant to be conservative, not loose by orders of magnitude.
        let largest = sizes.iter().map(|(_, s)| *s).max().unwrap_or(0);
        assert!(
            largest * 4 > MAX_EVENT_BYTES,
            "largest event is {largest} bytes"
        );
    }
}
