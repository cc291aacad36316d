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
    partitions: u16,
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
                partitions: DEFAULT_METRIC_PARTITIONS,
            })
        } else {
            Err(PrefixError)
        }
    }

    /// The same names with `partitions` metric partitions (clamped to
    /// 1..=[`MAX_METRIC_PARTITIONS`]; the configuration refuses anything else first).
    #[must_use]
    pub fn with_partitions(mut self, partitions: u16) -> Self {
        self.partitions = partitions.clamp(1, MAX_METRIC_PARTITIONS);
        self
    }

    /// The prefix itself.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// How many partitions the metric batches are spread over.
    pub fn partitions(&self) -> u16 {
        self.partitions
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

    /// `pga.metrics.>`: the subjects of the unpartitioned metrics stream of earlier versions
    /// (`pga.metrics.<collector_id>`), drained after an upgrade.
    pub fn metrics_wildcard(&self) -> String {
        format!("{}.metrics.>", self.prefix)
    }

    /// `PGA_METRICS_P03`: partition `partition` of the metric batches.
    pub fn metrics_partition_stream(&self, partition: u16) -> String {
        format!("{}_METRICS_P{partition:02}", self.prefix.to_uppercase())
    }

    /// `pga-p03.metrics.*`: the subjects of one partition. The partition rides in the first
    /// token: `-` never occurs in a prefix, so no deployment's prefix can be another's partition,
    /// and `*.metrics.*` (what NATS set-ups of earlier versions export to collectors) still
    /// covers every partition's subjects.
    pub fn metrics_partition_wildcard(&self, partition: u16) -> String {
        format!("{}-p{partition:02}.metrics.*", self.prefix)
    }

    /// `pga-p03.metrics.<collector_id>`: where a collector's batches go, HTTP bridge and NATS
    /// alike, in partition `metric_partition(collector_id, partitions)`.
    pub fn metrics_subject(&self, collector_id: &str) -> String {
        let partition = metric_partition(collector_id, self.partitions);
        format!("{}-p{partition:02}.metrics.{collector_id}", self.prefix)
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

    /// Consumer name of a projection: `pga_proj_<name>` (`.` becomes `_`: consumer names
    /// forbid it).
    pub fn consumer(&self, projection: &str) -> String {
        format!("{}_proj_{}", self.prefix, projection.replace('.', "_"))
    }
}

/// Metric partitions unless `PGA_METRIC_PARTITIONS` says otherwise.
pub const DEFAULT_METRIC_PARTITIONS: u16 = 16;

/// Most metric partitions a deployment may have: two digits in subjects and stream names.
pub const MAX_METRIC_PARTITIONS: u16 = 64;

/// The partition a collector's batches always go to: the first 8 bytes of SHA-256 of its id,
/// modulo `partitions`. Stable across versions and processes (the bridge, the credential issuer
/// and the projectors' check all call this), so one collector's batches stay in one ordered
/// stream and JetStream's duplicate window sees all of them.
pub fn metric_partition(collector_id: &str, partitions: u16) -> u16 {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(collector_id.as_bytes());
    let h = u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]);
    // The remainder is below `partitions`, itself a u16.
    u16::try_from(h % u64::from(partitions.max(1))).unwrap_or(0)
}

/// The partition and collector id a partitioned metrics subject names
/// (`<prefix>-p<NN>.metrics.<collector_id>`), when it is one.
pub fn parse_metrics_subject(subject: &str) -> Option<(u16, &str)> {
    let mut tokens = subject.split('.');
    let (first, metrics, id) = (tokens.next()?, tokens.next()?, tokens.next()?);
    if tokens.next().is_some() || metrics != "metrics" || id.is_empty() {
        return None;
    }
    let (_, partition) = first.rsplit_once("-p")?;
    if partition.len() != 2 {
        return None;
    }
    Some((partition.parse().ok()?, id))
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
        assert_eq!(n.metrics_partition_stream(3), "PGA_METRICS_P03");
        assert_eq!(n.metrics_partition_wildcard(3), "pga-p03.metrics.*");
        assert_eq!(n.metrics_wildcard(), "pga.metrics.>");
        assert_eq!(
            n.consumer("metric_samples.p03_w1"),
            "pga_proj_metric_samples_p03_w1"
        );
    }

    #[test]
    fn a_collector_always_lands_in_the_same_partition_and_they_spread() {
        let n = BusNames::new("pga").expect("valid");
        let mut per = [0_u32; 16];
        for i in 0..1600 {
            let id = uuid_like(i);
            let p = metric_partition(&id, 16);
            assert_eq!(p, metric_partition(&id, 16), "stable");
            per[usize::from(p)] += 1;
            let subject = n.metrics_subject(&id);
            assert_eq!(parse_metrics_subject(&subject), Some((p, id.as_str())));
        }
        // 100 expected per partition; a hash that clumps fails this.
        assert!(per.iter().all(|c| (60..=140).contains(c)), "{per:?}");
        assert_eq!(metric_partition("x", 1), 0);
        assert_eq!(metric_partition("x", 0), 0);
        // A fixed value: the function must not change between versions.
        // A fixed value: the function must never change between versions.
        assert_eq!(
            metric_partition("3f2504e0-4f89-11d3-9a0c-0305e82c3301", 16),
            2
        );
    }

    #[test]
    fn only_partitioned_subjects_parse() {
        for bad in [
            "pga.metrics.abc",
            "pga.metrics.3.abc",
            "pga.metrics.03.",
            "pga.metrics.03.a.b",
            "pga.events.03.a",
        ] {
            assert_eq!(parse_metrics_subject(bad), None, "{bad}");
        }
    }

    fn uuid_like(i: u32) -> String {
        format!("{i:08x}-0000-4000-8000-{:012x}", u64::from(i) * 7919)
    }

    #[test]
    fn bad_prefixes_are_refused() {
        for bad in ["", "Pga", "pga.x", "1pga", "a b", &"a".repeat(33)] {
            assert_eq!(BusNames::new(bad), Err(PrefixError), "{bad}");
        }
    }
}
