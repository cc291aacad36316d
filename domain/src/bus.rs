//! Names on the message bus, derived from one deployment prefix (`PGA_NATS_PREFIX`).
//!
//! Every subject, stream and consumer name carries the prefix, so tests and several
//! deployments can share one NATS server without touching each other. Pure naming: the
//! crates that talk to NATS build their configurations from it.

use thiserror::Error;

/// The prefix and everything named after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusNames {
    prefix: String,
}

/// Why a prefix was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("PGA_NATS_PREFIX must be 1-32 characters of lowercase letters, digits or '_' and start with a letter")]
pub struct PrefixError;

impl BusNames {
    /// Parses a prefix: 1–32 of `[a-z0-9_]`, starting with a letter (it becomes part of
    /// subjects, stream names and consumer names, which forbid `.`, `*`, `>` and spaces).
    ///
    /// # Errors
    /// [`PrefixError`] for anything else.
    pub fn new(prefix: &str) -> Result<Self, PrefixError> {
        let ok = (1..=32).contains(&prefix.len())
            && prefix.starts_with(|c: char| c.is_ascii_lowercase())
            && prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if ok {
            Ok(Self {
                prefix: prefix.to_owned(),
            })
        } else {
            Err(PrefixError)
        }
    }

    /// The prefix itself.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `PGA_EVENTS`: every domain event.
    pub fn events_stream(&self) -> String {
        format!("{}_EVENTS", self.prefix.to_uppercase())
    }

    /// `pga.events.>`
    pub fn events_wildcard(&self) -> String {
        format!("{}.events.>", self.prefix)
    }

    /// `PGA_METRICS`: every metric batch.
    pub fn metrics_stream(&self) -> String {
        format!("{}_METRICS", self.prefix.to_uppercase())
    }

    /// `pga.metrics.>`
    pub fn metrics_wildcard(&self) -> String {
        format!("{}.metrics.>", self.prefix)
    }

    /// `Nats-Msg-Id` of a metric batch: `<collector_id>:<batch_id>`. A batch id is its
    /// collector's own idempotency key, so JetStream's dedup (like the projectors') is per
    /// collector: one collector reusing another's batch id cannot suppress the other's batch.
    pub fn batch_message_id(collector_id: &str, batch_id: &str) -> String {
        format!("{collector_id}:{batch_id}")
    }

    /// `pga.<suffix>`, e.g. `pga.events.user.<id>`.
    pub fn subject(&self, suffix: &str) -> String {
        format!("{}.{}", self.prefix, suffix)
    }

    /// Durable consumer name of a projection: `pga_proj_<name>`.
    pub fn consumer(&self, projection: &str) -> String {
        format!("{}_proj_{}", self.prefix, projection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prefix() {
        let n = BusNames::new("pga").expect("valid");
        assert_eq!(n.events_stream(), "PGA_EVENTS");
        assert_eq!(n.events_wildcard(), "pga.events.>");
        assert_eq!(n.subject("events.user.1"), "pga.events.user.1");
        assert_eq!(n.consumer("users"), "pga_proj_users");
        assert_eq!(n.metrics_stream(), "PGA_METRICS");
    }

    #[test]
    fn bad_prefixes_are_refused() {
        for bad in ["", "Pga", "pga.x", "1pga", "a b", &"a".repeat(33)] {
            assert_eq!(BusNames::new(bad), Err(PrefixError), "{bad}");
        }
    }
}
