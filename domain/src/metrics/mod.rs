//! Metric batches: the normalized model every ingest path produces, and the parsers of the
//! two wire formats (the native one, and pgAnalytics v3's collector payload).
//!
//! A batch is a list of samples `(metric, labels, value, ts)`. Validation happens per sample:
//! a non-finite or out-of-range value, a bad metric name, bad labels or a timestamp more than an
//! hour in the future rejects that sample (counted, with the reason), never the whole batch.
//! What belongs to the batch as a whole (its id, collector, instance, statements) is bounded
//! too, and a batch breaking one of those bounds is refused whole, naming the field: both
//! ingest paths and the projectors parse through [`parse_payload`], so nothing unbounded
//! reaches storage or the bus.

mod bounds;
pub mod compact;
mod redact;
mod v3;

use bounds::check_batch;
pub use bounds::{
    BATCH_ID_MAX, COLLECTOR_ID_MAX, INSTANCE_MAX, LABELS_MAX, LABEL_KEY_MAX, LABEL_VALUE_MAX,
    MAX_ABS_VALUE, METRIC_NAME_MAX, QUERYID_MAX, STATEMENT_TEXT_MAX,
};
pub use redact::{redact_statement, redact_statements};

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
        && name.len() <= METRIC_NAME_MAX
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
    if sample.value.abs() > MAX_ABS_VALUE {
        return Err(format!(
            "value is out of range: its magnitude must be at most {MAX_ABS_VALUE:e}"
        ));
    }
    if sample.ts > now + Duration::hours(1) {
        return Err("timestamp is more than an hour in the future".into());
    }
    if sample.labels.len() > LABELS_MAX
        || sample
            .labels
            .iter()
            .any(|(k, v)| k.len() > LABEL_KEY_MAX || v.len() > LABEL_VALUE_MAX)
    {
        return Err("too many or too long labels".into());
    }
    // PostgreSQL's jsonb refuses NUL (`\u0000`); a label name is a name.
    if sample
        .labels
        .iter()
        .any(|(k, v)| k.is_empty() || k.chars().any(char::is_control) || v.contains('\0'))
    {
        return Err(
            "a label name must be non-empty without control characters, a label value without NUL"
                .into(),
        );
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

/// The content id of a raw payload: the first 16 bytes of its SHA-256, in hex. A v3 payload,
/// which has no batch id, gets `v3-<content id>`, so a retry of the same payload is the same
/// batch whichever path (HTTP bridge or NATS) it came by. The one place it is computed.
pub fn content_id(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(body)
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Parses a payload in either format; a v3 payload's batch id is derived from its
/// [`content_id`].
///
/// # Errors
/// [`PayloadError`] when the payload as a whole is unusable.
pub fn parse_payload(body: &[u8], now: DateTime<Utc>) -> Result<Parsed, PayloadError> {
    // The common case, a well-formed native batch, straight into its types: no JSON tree.
    if let Ok(native) = serde_json::from_slice::<NativeBatch>(body) {
        return native_parsed(native, now);
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| PayloadError::Malformed(format!("not JSON: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| PayloadError::Malformed("the payload must be a JSON object".into()))?;
    if object.contains_key("samples") {
        let field = native_field_at_fault(object);
        let native: NativeBatch =
            serde_json::from_value(value).map_err(|e| PayloadError::Field {
                field,
                message: e.to_string(),
            })?;
        return native_parsed(native, now).map(|p| Parsed {
            as_sent: false,
            ..p
        });
    }
    if object.contains_key("metrics") {
        let (mut batch, skipped) = v3::convert(&value, &content_id(body))?;
        check_batch(&batch, "hostname")?;
        redact_statements(&mut batch.statements);
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

/// The field of a native batch that does not have its type (or is unknown), so that the
/// refusal names it: `samples[3]` for a bad sample, `samples` when no field stands out.
fn native_field_at_fault(object: &serde_json::Map<String, serde_json::Value>) -> String {
    fn fits<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> bool {
        T::deserialize(v).is_ok()
    }
    for (key, v) in object {
        let ok = match key.as_str() {
            "batch_id" | "collector_id" => fits::<String>(v),
            "instance" => fits::<Option<String>>(v),
            "collected_at" => fits::<DateTime<Utc>>(v),
            "statements" => fits::<BTreeMap<String, String>>(v),
            "samples" => match v.as_array() {
                Some(samples) => {
                    if let Some(i) = samples.iter().position(|s| !fits::<NativeSample>(s)) {
                        return format!("samples[{i}]");
                    }
                    true
                }
                None => false,
            },
            _ => false,
        };
        if !ok {
            return key.clone();
        }
    }
    for required in ["batch_id", "collector_id", "collected_at"] {
        if !object.contains_key(required) {
            return required.to_owned();
        }
    }
    "samples".to_owned()
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
        let (samples, mut more) = split(samples, now);
        rejected.append(&mut more);
        let mut batch = MetricBatch {
            batch_id: native.batch_id,
            collector_id: native.collector_id,
            instance: native.instance,
            collected_at: native.collected_at,
            samples,
            statements: native.statements,
        };
        check_batch(&batch, "instance")?;
        // Secrets in utility statements never travel on, whoever sent them; a batch that had
        // any is published as redacted, not as sent.
        let redacted = redact_statements(&mut batch.statements);
        let as_sent = rejected.is_empty() && !redacted;
        Ok(Parsed {
            batch,
            rejected,
            skipped_families: vec![],
            as_sent,
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
        let parsed = parse_payload(body.to_string().as_bytes(), now()).expect("parsed");
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
        let parsed = parse_payload(body.as_bytes(), now()).expect("parsed");
        assert!(parsed.as_sent);
        let normalized = serde_json::to_vec(&parsed.batch).expect("json");
        let again = parse_payload(&normalized, now()).expect("parsed");
        let as_sent = parse_payload(body.as_bytes(), now()).expect("parsed");
        assert_eq!(again.batch, as_sent.batch);
        // A v3 payload is always converted.
        let v3 = include_str!("../../fixtures/v3-push-example.json");
        let parsed = parse_payload(v3.as_bytes(), now()).expect("v3 parses");
        assert!(!parsed.as_sent);
    }

    #[test]
    fn a_batch_carrying_a_password_in_a_statement_is_redacted_and_not_sent_as_it_came() {
        let body = native(
            "b-3",
            "db-1",
            serde_json::json!({"1": "ALTER ROLE app PASSWORD 'hunter2'", "2": "SELECT $1"}),
        );
        let parsed = parse_payload(&body, now()).expect("parsed");
        assert!(
            !parsed.as_sent,
            "the bridge must publish the redacted batch"
        );
        assert_eq!(
            parsed.batch.statements["1"],
            "ALTER ROLE app PASSWORD '***'"
        );
        assert_eq!(parsed.batch.statements["2"], "SELECT $1");
        // Redacted already (as the collector sends it): it may travel as sent.
        let again = serde_json::to_vec(&parsed.batch).expect("json");
        assert!(parse_payload(&again, now()).expect("parsed").as_sent);
    }

    fn native(batch_id: &str, instance: &str, statements: serde_json::Value) -> Vec<u8> {
        serde_json::json!({
            "batch_id": batch_id, "collector_id": "c-1", "collected_at": "2026-02-27T15:13:20Z",
            "instance": instance, "statements": statements,
            "samples": [{"metric": "pg_up", "value": 1}]
        })
        .to_string()
        .into_bytes()
    }

    fn refused_field(body: &[u8]) -> Option<String> {
        match parse_payload(body, now()) {
            Err(PayloadError::Field { field, .. }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn batch_fields_are_bounded_and_refused_whole_naming_the_field() {
        let none = serde_json::json!({});
        let ok_id = "b".repeat(BATCH_ID_MAX);
        let ok_instance = "i".repeat(INSTANCE_MAX);
        assert!(parse_payload(&native(&ok_id, &ok_instance, none.clone()), now()).is_ok());
        let long_id = "b".repeat(BATCH_ID_MAX + 1);
        let long_instance = "i".repeat(INSTANCE_MAX + 1);
        for (body, field) in [
            (native(&long_id, "db", none.clone()), "batch_id"),
            (
                native("b\r\nNats-Msg-Id: x", "db", none.clone()),
                "batch_id",
            ),
            (native("b 1", "db", none.clone()), "batch_id"),
            (native("", "db", none.clone()), "batch_id"),
            (native("b", &long_instance, none.clone()), "instance"),
            (native("b", &"i".repeat(3000), none.clone()), "instance"),
            (native("b", "d\0b", none.clone()), "instance"),
            (
                native(
                    "b",
                    "db",
                    serde_json::json!({"q".repeat(QUERYID_MAX + 1): "select 1"}),
                ),
                "statements",
            ),
            (
                native(
                    "b",
                    "db",
                    serde_json::json!({"1": "s".repeat(STATEMENT_TEXT_MAX + 1)}),
                ),
                "statements",
            ),
            (
                native("b", "db", serde_json::json!({"1": "select\0"})),
                "statements",
            ),
        ] {
            assert_eq!(refused_field(&body).as_deref(), Some(field));
        }
        let ok = native(
            "b",
            "db",
            serde_json::json!({"q".repeat(QUERYID_MAX): "s".repeat(STATEMENT_TEXT_MAX)}),
        );
        assert!(parse_payload(&ok, now()).is_ok());
        let v3 = serde_json::json!({
            "collector_id": "c-1", "hostname": "h".repeat(INSTANCE_MAX + 1),
            "timestamp": "2026-02-27T15:13:20Z", "metrics": []
        });
        assert_eq!(
            refused_field(v3.to_string().as_bytes()).as_deref(),
            Some("hostname")
        );
    }

    #[test]
    fn values_that_could_overflow_a_rollup_and_bad_labels_are_refused_per_sample() {
        let body = serde_json::json!({
            "batch_id": "b-1", "collector_id": "c-1", "collected_at": "2026-02-27T15:13:20Z",
            "samples": [
                {"metric": "ok_max", "value": MAX_ABS_VALUE},
                {"metric": "ok_min", "value": -MAX_ABS_VALUE},
                {"metric": "huge", "value": 1e308},
                {"metric": "huge_negative", "value": -1e201},
                {"metric": "bad_key", "labels": {"a\nb": "v"}, "value": 1},
                {"metric": "empty_key", "labels": {"": "v"}, "value": 1},
                {"metric": "nul_value", "labels": {"k": "v\0"}, "value": 1},
                {"metric": "long_value", "labels": {"k": "v".repeat(LABEL_VALUE_MAX + 1)}, "value": 1}
            ]
        });
        let parsed = parse_payload(body.to_string().as_bytes(), now()).expect("parsed");
        let kept: Vec<_> = parsed
            .batch
            .samples
            .iter()
            .map(|s| s.metric.as_str())
            .collect();
        assert_eq!(kept, ["ok_max", "ok_min"]);
        let refused: Vec<_> = parsed.rejected.iter().map(|r| r.metric.as_str()).collect();
        assert_eq!(
            refused,
            [
                "huge",
                "huge_negative",
                "bad_key",
                "empty_key",
                "nul_value",
                "long_value"
            ]
        );
    }

    #[test]
    fn a_mistyped_native_batch_names_the_field_at_fault() {
        let at = "2026-02-27T15:13:20Z";
        let cases = [
            (json_body(5, "c", at, "[]"), "batch_id"),
            (json_body("b", "c", 7, "[]"), "collected_at"),
            (
                json_body(
                    "b",
                    "c",
                    at,
                    r#"[{"metric":"m","value":1},{"metric":"m","value":"x"}]"#,
                ),
                "samples[1]",
            ),
            (json_body("b", "c", at, r#"{"no":"list"}"#), "samples"),
        ];
        for (body, field) in cases {
            assert_eq!(
                refused_field(body.as_bytes()).as_deref(),
                Some(field),
                "{body}"
            );
        }
        let missing = r#"{"batch_id":"b","collected_at":"2026-02-27T15:13:20Z","samples":[]}"#;
        assert_eq!(
            refused_field(missing.as_bytes()).as_deref(),
            Some("collector_id")
        );
        let unknown = r#"{"batch_id":"b","collector_id":"c","collected_at":"2026-02-27T15:13:20Z","samples":[],"extra":1}"#;
        assert_eq!(refused_field(unknown.as_bytes()).as_deref(), Some("extra"));
    }

    fn json_body(
        batch_id: impl serde::Serialize,
        collector: &str,
        at: impl serde::Serialize,
        samples: &str,
    ) -> String {
        format!(
            r#"{{"batch_id":{},"collector_id":"{collector}","collected_at":{},"samples":{samples}}}"#,
            serde_json::to_string(&batch_id).expect("json"),
            serde_json::to_string(&at).expect("json"),
        )
    }

    #[test]
    fn unknown_shapes_are_refused_whole() {
        assert!(matches!(
            parse_payload(b"[1]", now()),
            Err(PayloadError::Malformed(_))
        ));
        assert!(matches!(
            parse_payload(b"{\"nope\":1}", now()),
            Err(PayloadError::Malformed(_))
        ));
        assert!(matches!(
            parse_payload(b"{not json", now()),
            Err(PayloadError::Malformed(_))
        ));
    }
}
