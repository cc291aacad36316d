//! Metric batches: the normalized model every ingest path produces, and the parsers of the
//! two wire formats (the native one, and pgAnalytics v3's collector payload).
//!
//! A batch is a list of samples `(metric, labels, value, ts)`. Validation happens per sample:
//! a non-finite value, a bad metric name or a timestamp more than an hour in the future rejects
//! that sample (counted, with the reason), never the whole batch.

mod v3;

/// The header a collector's token travels in with every batch, on both ingest paths.
pub const TOKEN_HEADER: &str = "Pga-Collector-Token";

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One data point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`, at most 200 characters.
    pub metric: String,
    /// Label names and values.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Finite value.
    pub value: f64,
    /// When it was measured.
    pub ts: DateTime<Utc>,
    /// A cumulative counter (rates are computed over it, resets handled).
    #[serde(default)]
    pub counter: bool,
}

/// A batch as it travels on `PGA_METRICS`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricBatch {
    /// Idempotency key: the same batch pushed twice (or over both paths) counts once.
    pub batch_id: String,
    /// The collector that sent it.
    pub collector_id: String,
    /// The monitored instance it describes, when the collector says.
    #[serde(default)]
    pub instance: Option<String>,
    /// When the collector gathered it.
    pub collected_at: DateTime<Utc>,
    /// Accepted samples.
    pub samples: Vec<Sample>,
    /// Statement texts by query id (from pg_stat_statements), for the query endpoints.
    #[serde(default)]
    pub statements: BTreeMap<String, String>,
}

/// Why a whole payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PayloadError {
    /// Not JSON, or not one of the two formats.
    #[error("{0}")]
    Malformed(String),
    /// A required field is missing or wrong.
    #[error("{field}: {message}")]
    Field {
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// A sample that was refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedSample {
    /// Its metric name as sent.
    pub metric: String,
    /// Why.
    pub reason: String,
}

/// A parsed payload: the batch of accepted samples, and what was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The batch (accepted samples only).
    pub batch: MetricBatch,
    /// Refused samples.
    pub rejected: Vec<RejectedSample>,
    /// v3 metric families this version does not know (skipped, named in the response).
    pub skipped_families: Vec<String>,
    /// The payload is a native batch and every sample of it was accepted: it may travel on as
    /// it came, since parsing it again gives this same batch (no need to serialize it anew).
    pub as_sent: bool,
}

/// Whether a metric name is acceptable.
pub fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    first_ok
        && name.len() <= 200
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Checks one sample against the rules; `now` comes from the caller's clock.
pub fn check_sample(sample: &Sample, now: DateTime<Utc>) -> Result<(), String> {
    if sample.metric.is_empty() {
        return Err("empty metric name".into());
    }
    if !valid_metric_name(&sample.metric) {
        return Err(format!("invalid metric name {:?}", sample.metric));
    }
    if !sample.value.is_finite() {
        return Err("value is not a finite number".into());
    }
    if sample.ts > now + Duration::hours(1) {
        return Err("timestamp is more than an hour in the future".into());
    }
    if sample.labels.len() > 32
        || sample
            .labels
            .iter()
            .any(|(k, v)| k.len() > 128 || v.len() > 1024)
    {
        return Err("too many or too long labels".into());
    }
    Ok(())
}

fn split(samples: Vec<Sample>, now: DateTime<Utc>) -> (Vec<Sample>, Vec<RejectedSample>) {
    let mut accepted = Vec::with_capacity(samples.len());
    let mut rejected = Vec::new();
    for s in samples {
        match check_sample(&s, now) {
            Ok(()) => accepted.push(s),
            Err(reason) => rejected.push(RejectedSample {
                metric: s.metric,
                reason,
            }),
        }
    }
    (accepted, rejected)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NativeBatch {
    batch_id: String,
    collector_id: String,
    #[serde(default)]
    instance: Option<String>,
    collected_at: DateTime<Utc>,
    samples: Vec<NativeSample>,
    #[serde(default)]
    statements: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NativeSample {
    metric: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    /// `null` stands for NaN/∞, which JSON cannot carry: such a sample is refused.
    value: Option<f64>,
    #[serde(default)]
    ts: Option<DateTime<Utc>>,
    #[serde(default)]
    counter: bool,
}

/// Parses a payload in either format. `content_id` is a digest of the raw body: a v3 payload,
/// which has no batch id, gets one derived from it, so a retry of the same payload is the same
/// batch.
///
/// # Errors
/// [`PayloadError`] when the payload as a whole is unusable.
pub fn parse_payload(
    body: &[u8],
    content_id: impl FnOnce() -> String,
    now: DateTime<Utc>,
) -> Result<Parsed, PayloadError> {
    // The common case, a well-formed native batch, straight into its types: no JSON tree.
    if let Ok(native) = serde_json::from_slice::<NativeBatch>(body) {
        return native_parsed(native, now).map(|p| Parsed {
            as_sent: p.rejected.is_empty(),
            ..p
        });
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| PayloadError::Malformed(format!("not JSON: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| PayloadError::Malformed("the payload must be a JSON object".into()))?;
    if object.contains_key("samples") {
        let native: NativeBatch =
            serde_json::from_value(value).map_err(|e| PayloadError::Field {
                field: "samples".into(),
                message: e.to_string(),
            })?;
        return native_parsed(native, now);
    }
    if object.contains_key("metrics") {
        let (batch, skipped) = v3::convert(&value, &content_id())?;
        let (samples, rejected) = split(batch.samples, now);
        return Ok(Parsed {
            batch: MetricBatch { samples, ..batch },
            rejected,
            skipped_families: skipped,
            as_sent: false,
        });
    }
    Err(PayloadError::Malformed(
        "unknown format: expected \"samples\" (native) or \"metrics\" (pgAnalytics v3)".into(),
    ))
}

fn native_parsed(native: NativeBatch, now: DateTime<Utc>) -> Result<Parsed, PayloadError> {
    {
        let mut rejected = Vec::new();
        let samples = native
            .samples
            .into_iter()
            .filter_map(|s| match s.value {
                Some(value) => Some(Sample {
                    metric: s.metric,
                    labels: s.labels,
                    value,
                    ts: s.ts.unwrap_or(native.collected_at),
                    counter: s.counter,
                }),
                None => {
                    rejected.push(RejectedSample {
                        metric: s.metric,
                        reason: "value is not a finite number".into(),
                    });
                    None
                }
            })
            .collect();
        if native.batch_id.trim().is_empty() || native.batch_id.len() > 128 {
            return Err(PayloadError::Field {
                field: "batch_id".into(),
                message: "must be 1-128 characters".into(),
            });
        }
        let (samples, mut more) = split(samples, now);
        rejected.append(&mut more);
        Ok(Parsed {
            batch: MetricBatch {
                batch_id: native.batch_id,
                collector_id: native.collector_id,
                instance: native.instance,
                collected_at: native.collected_at,
                samples,
                statements: native.statements,
            },
            rejected,
            skipped_families: vec![],
            as_sent: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-02-27T15:20:00Z".parse().expect("time")
    }

    #[test]
    fn native_samples_are_checked_one_by_one() {
        let body = serde_json::json!({
            "batch_id": "b-1", "collector_id": "c-1", "collected_at": "2026-02-27T15:13:20Z",
            "samples": [
                {"metric": "pg_up", "value": 1},
                {"metric": "", "value": 1},
                {"metric": "bad name", "value": 1},
                {"metric": "pg_nan", "value": null},
                {"metric": "pg_future", "value": 1, "ts": "2026-02-27T17:30:00Z"},
                {"metric": "pg_xact_commit", "labels": {"database": "app"}, "value": 5, "counter": true}
            ]
        });
        let parsed =
            parse_payload(body.to_string().as_bytes(), || "x".into(), now()).expect("parsed");
        let names: Vec<_> = parsed
            .batch
            .samples
            .iter()
            .map(|s| s.metric.as_str())
            .collect();
        assert_eq!(names, ["pg_up", "pg_xact_commit"]);
        assert_eq!(parsed.rejected.len(), 4);
        assert!(parsed.batch.samples[1].counter);
        assert_eq!(parsed.batch.batch_id, "b-1");
        assert!(
            !parsed.as_sent,
            "refused samples: the batch must travel without them"
        );
    }

    #[test]
    fn a_clean_native_batch_may_travel_as_sent_and_parses_again_to_the_same_batch() {
        let body = serde_json::json!({
            "batch_id": "b-2", "collector_id": "c-1", "collected_at": "2026-02-27T15:13:20Z",
            "instance": "db-1", "statements": {"42": "select 1"},
            "samples": [
                {"metric": "pg_up", "value": 1},
                {"metric": "pg_xact_commit", "labels": {"database": "app"}, "value": 5,
                 "counter": true, "ts": "2026-02-27T15:13:19Z"}
            ]
        })
        .to_string();
        let parsed = parse_payload(body.as_bytes(), || "x".into(), now()).expect("parsed");
        assert!(parsed.as_sent);
        let normalized = serde_json::to_vec(&parsed.batch).expect("json");
        let again = parse_payload(&normalized, || "x".into(), now()).expect("parsed");
        let as_sent = parse_payload(body.as_bytes(), || "x".into(), now()).expect("parsed");
        assert_eq!(again.batch, as_sent.batch);
        // A v3 payload is always converted.
        let v3 = include_str!("../../fixtures/v3-push-example.json");
        let parsed = parse_payload(v3.as_bytes(), || "x".into(), now()).expect("v3 parses");
        assert!(!parsed.as_sent);
    }

    #[test]
    fn unknown_shapes_are_refused_whole() {
        assert!(matches!(
            parse_payload(b"[1]", || "x".into(), now()),
            Err(PayloadError::Malformed(_))
        ));
        assert!(matches!(
            parse_payload(b"{\"nope\":1}", || "x".into(), now()),
            Err(PayloadError::Malformed(_))
        ));
        assert!(matches!(
            parse_payload(b"{not json", || "x".into(), now()),
            Err(PayloadError::Malformed(_))
        ));
    }
}
