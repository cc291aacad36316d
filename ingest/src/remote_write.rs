//! Prometheus remote-write (protocol 1.0: protobuf `WriteRequest`, snappy block compression),
//! the format Prometheus, vmagent, Grafana Alloy and the OpenTelemetry collector send.
//!
//! A request becomes one native [`MetricBatch`] of the authenticated collector, published and
//! counted like every other batch. Its batch id is `rw-<content id of the decompressed
//! request>`: a sender retrying a request after a 5xx or a lost answer resends the same bytes,
//! so the retry counts once.
//!
//! What is mapped, and how:
//! - `__name__` becomes the metric, every other label a label (`job` and `instance` included).
//!   A series without `__name__` is refused, like any sample the rules refuse (named in the
//!   answer), never the whole request.
//! - The timestamp is in milliseconds since the epoch.
//! - NaN is "no value" to Prometheus: exporters report it where a statistic does not apply
//!   (postgres_exporter's checksum failures when checksums are off, a `stats_reset` never
//!   reset), and the staleness marker sent when a series disappears is a NaN too. A NaN is
//!   dropped, like a gap in a scrape, not refused: refusing it would fail every request of a
//!   stock postgres_exporter. ±∞ is refused, naming the metric.
//! - A series is a counter when the request's metadata says its family is a counter (or it is
//!   a histogram's or summary's `_count`, `_sum` or `_bucket`), or, without metadata, when its
//!   name ends in `_total`. Prometheus sends metadata in requests of their own, so the suffix
//!   usually decides: a series' counter flag only informs charts; rates are asked for.
//! - Native histograms and exemplars are not stored: a request's histograms are counted in the
//!   answer as skipped.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeZone, Utc};
use domain::metrics::{
    check_sample, content_id, MetricBatch, PayloadError, RejectedSample, Sample,
};
use prost::Message;

use crate::{IngestError, MAX_BODY};

/// `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    /// Series with their samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// Metric family metadata (types).
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// Labels, `__name__` among them.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<WriteSample>,
    /// Native histograms: kept as raw bytes, only counted (not stored).
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub histograms: Vec<Vec<u8>>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Message)]
pub struct Label {
    /// Label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, Message)]
pub struct WriteSample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `prometheus.MetricMetadata`.
#[derive(Clone, PartialEq, Message)]
pub struct MetricMetadata {
    /// `MetricType`: 1 counter, 2 gauge, 3 histogram, 4 gauge histogram, 5 summary, …
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// The family's name.
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
}

const COUNTER: i32 = 1;
const HISTOGRAM: i32 = 3;
const SUMMARY: i32 = 5;

/// Most protobuf entries (series, labels, samples, metadata) one request may hold: decoding
/// turns a 2-byte entry into a struct of up to 72 bytes, so the count, not the size, bounds
/// memory. Prometheus sends 500–2,000 samples a request, vmagent up to 10,000 rows.
pub const MAX_ENTRIES: usize = 500_000;

/// Most bytes the decoded samples may take as JSON (every label copied into every sample of
/// its series): a few labels times many samples must not make gigabytes of a small request.
pub const MAX_DECODED_BYTES: usize = 64 * 1024 * 1024;

/// A decoded remote-write request.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The batch of candidate samples: every sample that passed the rules that do not depend
    /// on the clock, in the request's order (the future bound is checked per part, after the
    /// split, so that a retry splits the same way).
    pub batch: MetricBatch,
    /// Refused samples, with reasons.
    pub rejected: Vec<RejectedSample>,
    /// NaN samples (staleness markers among them) dropped as "no value".
    pub no_value: usize,
    /// Native histogram samples skipped.
    pub histograms_skipped: usize,
}

/// Decompresses a snappy (block format) body, refusing more than [`MAX_BODY`] bytes of output
/// before allocating them.
///
/// # Errors
/// [`IngestError::BadEncoding`] or [`IngestError::TooLarge`].
pub fn unsnappy(body: &[u8]) -> Result<Vec<u8>, IngestError> {
    let bad = |e: snap::Error| IngestError::BadEncoding(format!("the body is not snappy: {e}"));
    let len = snap::raw::decompress_len(body).map_err(bad)?;
    if len > MAX_BODY {
        return Err(IngestError::TooLarge(format!(
            "the decompressed body would be {len} bytes, over the {} MiB limit",
            MAX_BODY / 1024 / 1024
        )));
    }
    snap::raw::Decoder::new().decompress_vec(body).map_err(bad)
}

fn malformed(what: &str) -> IngestError {
    IngestError::Payload(PayloadError::Malformed(format!(
        "not a Prometheus remote-write request: {what}"
    )))
}

/// Walks the protobuf wire format of a `WriteRequest` without decoding it, counting its
/// entries (series, their labels and samples, metadata); refuses more than [`MAX_ENTRIES`].
fn count_entries(mut bytes: &[u8], depth: u8) -> Result<usize, IngestError> {
    use prost::encoding::{decode_key, decode_varint, WireType};
    let mut entries = 0usize;
    while !bytes.is_empty() {
        let (tag, wire) = decode_key(&mut bytes).map_err(|e| malformed(&e.to_string()))?;
        match wire {
            WireType::Varint => {
                decode_varint(&mut bytes).map_err(|e| malformed(&e.to_string()))?;
            }
            WireType::SixtyFourBit | WireType::ThirtyTwoBit => {
                let n = if wire == WireType::SixtyFourBit { 8 } else { 4 };
                bytes = bytes
                    .get(n..)
                    .ok_or_else(|| malformed("a field runs past the end"))?;
            }
            WireType::LengthDelimited => {
                let len = decode_varint(&mut bytes).map_err(|e| malformed(&e.to_string()))?;
                let len = usize::try_from(len).map_err(|_| malformed("a length overflows"))?;
                let inner = bytes
                    .get(..len)
                    .ok_or_else(|| malformed("a field runs past the end"))?;
                bytes = &bytes[len..];
                entries += 1;
                // A series' labels and samples are entries too (depth 0 → the series).
                if depth == 0 && tag == 1 {
                    entries += count_entries(inner, 1)?;
                }
            }
            WireType::StartGroup | WireType::EndGroup => {
                return Err(malformed("groups are not part of this format"))
            }
        }
        if entries > MAX_ENTRIES {
            return Err(IngestError::TooLarge(format!(
                "over {MAX_ENTRIES} series, labels and samples in one request: send fewer samples per request (Prometheus: queue_config.max_samples_per_send)"
            )));
        }
    }
    Ok(entries)
}

/// Decodes a decompressed `WriteRequest` from `collector_id` into a batch; `now` is the
/// receiving clock (the batch's `collected_at`). Deterministic in the bytes: the future bound,
/// the one rule that depends on the clock, is left to [`refuse_future`].
///
/// # Errors
/// [`IngestError::Payload`] when the bytes are not a `WriteRequest`; [`IngestError::TooLarge`]
/// past [`MAX_ENTRIES`] or [`MAX_DECODED_BYTES`].
pub fn decode(
    plain: &[u8],
    collector_id: &str,
    now: DateTime<Utc>,
) -> Result<Decoded, IngestError> {
    count_entries(plain, 0)?;
    let request = WriteRequest::decode(plain).map_err(|e| malformed(&e.to_string()))?;
    let families = families(&request.metadata);
    // The rules of every batch, but for the future bound (see `refuse_future`).
    let far = DateTime::<Utc>::MAX_UTC - chrono::Duration::days(1);
    let mut decoded = Decoded {
        batch: MetricBatch {
            batch_id: format!("rw-{}", content_id(plain)),
            collector_id: collector_id.to_owned(),
            instance: None,
            collected_at: now,
            samples: Vec::new(),
            statements: BTreeMap::new(),
        },
        rejected: Vec::new(),
        no_value: 0,
        histograms_skipped: 0,
    };
    let mut decoded_bytes = 0usize;
    for series in request.timeseries {
        decoded.histograms_skipped += series.histograms.len();
        if series.samples.is_empty() {
            continue;
        }
        let mut metric = String::new();
        let mut labels = BTreeMap::new();
        let mut label_bytes = 0;
        for label in series.labels {
            label_bytes += label.name.len() + label.value.len() + 8;
            if label.name == "__name__" {
                metric = label.value;
            } else if !label.value.is_empty() {
                // An empty value is an absent label to Prometheus.
                labels.insert(label.name, label.value);
            }
        }
        let refuse_series = |reason: String| RejectedSample {
            metric: metric.clone(),
            reason: format!("{reason} ({} samples)", series.samples.len()),
        };
        if metric.is_empty() {
            decoded
                .rejected
                .push(refuse_series("a series without __name__".into()));
            continue;
        }
        // The series' name and labels, checked once for all its samples.
        let mut template = Sample {
            metric,
            labels,
            value: 0.0,
            ts: now,
            counter: false,
        };
        if let Err(reason) = check_sample(&template, far) {
            let metric = std::mem::take(&mut template.metric);
            decoded.rejected.push(RejectedSample {
                metric,
                reason: format!("{reason} ({} samples)", series.samples.len()),
            });
            continue;
        }
        decoded_bytes += (label_bytes + 96) * series.samples.len();
        if decoded_bytes > MAX_DECODED_BYTES {
            return Err(IngestError::TooLarge(format!(
                "the request's samples would take over {} MiB with their labels: send fewer samples per request (Prometheus: queue_config.max_samples_per_send)",
                MAX_DECODED_BYTES / 1024 / 1024
            )));
        }
        template.counter = is_counter(&template.metric, &families);
        for point in series.samples {
            if point.value.is_nan() {
                decoded.no_value += 1;
                continue;
            }
            let refused = |reason: String| RejectedSample {
                metric: template.metric.clone(),
                reason,
            };
            let Some(ts) = Utc.timestamp_millis_opt(point.timestamp).single() else {
                decoded.rejected.push(refused(format!(
                    "timestamp {} ms is out of range",
                    point.timestamp
                )));
                continue;
            };
            if let Err(reason) = check_value(point.value) {
                decoded.rejected.push(refused(reason));
                continue;
            }
            decoded.batch.samples.push(Sample {
                value: point.value,
                ts,
                ..template.clone()
            });
        }
    }
    Ok(decoded)
}

/// The value rules of [`check_sample`], for a series whose name and labels already passed.
fn check_value(value: f64) -> Result<(), String> {
    let probe = Sample {
        metric: "m".into(),
        labels: BTreeMap::new(),
        value,
        ts: DateTime::<Utc>::UNIX_EPOCH,
        counter: false,
    };
    check_sample(&probe, DateTime::<Utc>::UNIX_EPOCH)
}

/// Moves the samples of `samples` more than an hour ahead of `now` (the one rule of
/// [`check_sample`] that depends on the clock) into `rejected`.
pub fn refuse_future(
    samples: &mut Vec<Sample>,
    now: DateTime<Utc>,
    rejected: &mut Vec<RejectedSample>,
) {
    let bound = now + chrono::Duration::hours(1);
    samples.retain(|s| {
        let keep = s.ts <= bound;
        if !keep {
            rejected.push(RejectedSample {
                metric: s.metric.clone(),
                reason: "timestamp is more than an hour in the future".into(),
            });
        }
        keep
    });
}

/// Family name → its metric type, from the request's metadata.
fn families(metadata: &[MetricMetadata]) -> HashMap<&str, i32> {
    metadata
        .iter()
        .map(|m| (m.metric_family_name.as_str(), m.r#type))
        .collect()
}

/// Whether a series is cumulative: by its family's type when the request's metadata has it
/// (a counter; `foo_total` of an OpenMetrics counter `foo`; a histogram's or summary's
/// `_count`, `_sum`, `_bucket`), else by a name ending in `_total`.
fn is_counter(metric: &str, families: &HashMap<&str, i32>) -> bool {
    if let Some(&kind) = families.get(metric) {
        return kind == COUNTER;
    }
    if let Some(&kind) = metric.strip_suffix("_total").and_then(|f| families.get(f)) {
        return kind == COUNTER;
    }
    for suffix in ["_count", "_sum", "_bucket"] {
        if let Some(&kind) = metric.strip_suffix(suffix).and_then(|f| families.get(f)) {
            return matches!(kind, HISTOGRAM | SUMMARY);
        }
    }
    metric.ends_with("_total")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: Option<&str>, labels: &[(&str, &str)], samples: &[(f64, i64)]) -> TimeSeries {
        let mut all: Vec<Label> = labels
            .iter()
            .map(|(n, v)| Label {
                name: (*n).into(),
                value: (*v).into(),
            })
            .collect();
        if let Some(name) = name {
            all.push(Label {
                name: "__name__".into(),
                value: name.into(),
            });
        }
        TimeSeries {
            labels: all,
            samples: samples
                .iter()
                .map(|&(value, timestamp)| WriteSample { value, timestamp })
                .collect(),
            histograms: Vec::new(),
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_800_000_000_000)
            .single()
            .expect("in range")
    }

    #[test]
    fn a_request_maps_to_one_batch_with_the_senders_labels() {
        let request = WriteRequest {
            timeseries: vec![
                series(
                    Some("pg_up"),
                    &[("job", "postgres"), ("instance", "db1:9187")],
                    &[(1.0, 1_799_999_990_000), (1.0, 1_800_000_000_000)],
                ),
                series(
                    Some("pg_stat_database_xact_commit"),
                    &[("datname", "app")],
                    &[(42.0, 1_800_000_000_000)],
                ),
                series(
                    Some("http_requests_total"),
                    &[],
                    &[(7.0, 1_800_000_000_000)],
                ),
            ],
            metadata: Vec::new(),
        };
        let plain = request.encode_to_vec();
        let decoded = decode(&plain, "c1", now()).expect("decodes");
        assert_eq!(decoded.batch.batch_id, format!("rw-{}", content_id(&plain)));
        assert_eq!(decoded.batch.collector_id, "c1");
        assert_eq!(decoded.batch.samples.len(), 4);
        let up = &decoded.batch.samples[0];
        assert_eq!(up.metric, "pg_up");
        assert_eq!(
            up.labels.get("instance").map(String::as_str),
            Some("db1:9187")
        );
        assert!(!up.labels.contains_key("__name__"));
        assert_eq!(up.ts.timestamp_millis(), 1_799_999_990_000);
        assert!(!decoded.batch.samples[2].counter, "no metadata, no _total");
        assert!(decoded.batch.samples[3].counter, "_total");
        assert!(decoded.rejected.is_empty());
    }

    #[test]
    fn metadata_decides_counters_and_histogram_parts() {
        let request = WriteRequest {
            timeseries: vec![
                series(Some("pg_stat_database_xact_commit"), &[], &[(1.0, 1)]),
                series(Some("pg_locks_count"), &[], &[(1.0, 1)]),
                series(Some("latency_seconds_bucket"), &[("le", "1")], &[(3.0, 1)]),
                series(Some("odd_total"), &[], &[(1.0, 1)]),
                series(
                    Some("om_requests_total"),
                    &[("empty", ""), ("k", "v")],
                    &[(1.0, 1)],
                ),
            ],
            metadata: vec![
                MetricMetadata {
                    r#type: COUNTER,
                    metric_family_name: "pg_stat_database_xact_commit".into(),
                },
                MetricMetadata {
                    r#type: 2,
                    metric_family_name: "pg_locks_count".into(),
                },
                MetricMetadata {
                    r#type: HISTOGRAM,
                    metric_family_name: "latency_seconds".into(),
                },
                // OpenMetrics names the family without `_total`: its type decides over the
                // suffix (here a gauge, so `om_requests_total` is not a counter).
                MetricMetadata {
                    r#type: 2,
                    metric_family_name: "om_requests".into(),
                },
            ],
        };
        let decoded = decode(&request.encode_to_vec(), "c1", now()).expect("decodes");
        let counters: Vec<bool> = decoded.batch.samples.iter().map(|s| s.counter).collect();
        // `odd_total`: no metadata for its family, so its name decides.
        assert_eq!(counters, [true, false, true, true, false]);
        // An empty value is an absent label, as in Prometheus.
        let labels: Vec<&String> = decoded.batch.samples[4].labels.keys().collect();
        assert_eq!(labels, ["k"]);
    }

    #[test]
    fn nan_is_no_value_and_bad_samples_are_refused_alone() {
        // Prometheus's staleness marker: a NaN with this exact bit pattern.
        const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;
        let request = WriteRequest {
            timeseries: vec![
                series(
                    Some("pg_up"),
                    &[],
                    &[
                        (f64::from_bits(STALE_NAN_BITS), 1),
                        (f64::NAN, 2),
                        (f64::INFINITY, 2),
                        (1.0, 3),
                    ],
                ),
                series(None, &[("job", "x")], &[(1.0, 1)]),
                series(Some("9bad"), &[], &[(1.0, 1)]),
                series(Some("future"), &[], &[(1.0, 1_900_000_000_000)]),
                series(Some("far"), &[], &[(1.0, i64::MAX)]),
            ],
            metadata: Vec::new(),
        };
        let mut decoded = decode(&request.encode_to_vec(), "c1", now()).expect("decodes");
        refuse_future(&mut decoded.batch.samples, now(), &mut decoded.rejected);
        assert_eq!(decoded.no_value, 2);
        assert_eq!(decoded.batch.samples.len(), 1);
        assert_eq!(decoded.batch.samples[0].ts.timestamp_millis(), 3);
        let reasons: Vec<&str> = decoded.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(reasons.len(), 5, "{reasons:?}");
        assert!(reasons[0].contains("finite"));
        assert!(reasons[1].contains("__name__"));
        assert!(reasons[2].contains("invalid metric name"));
        assert!(reasons[3].contains("out of range"));
        assert!(reasons[4].contains("future"));
    }

    #[test]
    fn snappy_is_bounded_before_it_allocates() {
        let packed = snap::raw::Encoder::new()
            .compress_vec(b"hello")
            .expect("snappy");
        assert_eq!(unsnappy(&packed).expect("unsnappy"), b"hello");
        // A header claiming 1 GiB: refused before anything is allocated.
        let mut claim = Vec::new();
        let mut n: u64 = 1 << 30;
        while n >= 0x80 {
            claim.push((n as u8) | 0x80);
            n >>= 7;
        }
        claim.push(n as u8);
        assert!(matches!(unsnappy(&claim), Err(IngestError::TooLarge(_))));
        assert!(matches!(
            unsnappy(b"\xff\xff\xff\xff\xff\xff"),
            Err(IngestError::BadEncoding(_))
        ));
        assert!(matches!(
            decode(b"\x0a\xff\xff\xff\x0f", "c1", now()),
            Err(IngestError::Payload(_))
        ));
    }

    #[test]
    fn a_small_request_that_would_decode_huge_is_refused_before_it_does() {
        // 600,000 empty series: 1.2 MB on the wire, 43 MB as structs.
        let empties = b"\x0a\x00".repeat(600_000);
        assert!(matches!(
            decode(&empties, "c1", now()),
            Err(IngestError::TooLarge(_))
        ));
        // 32 labels of 1 KB copied into each of 3,000 samples: ~100 MB of batch from 50 KB.
        let labels: Vec<(String, String)> = (0..31)
            .map(|i| (format!("l{i}"), "v".repeat(1000)))
            .collect();
        let labels: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let samples: Vec<(f64, i64)> = (0..3000).map(|i| (1.0, i)).collect();
        let request = WriteRequest {
            timeseries: vec![series(Some("wide"), &labels, &samples)],
            metadata: Vec::new(),
        };
        assert!(matches!(
            decode(&request.encode_to_vec(), "c1", now()),
            Err(IngestError::TooLarge(_))
        ));
        // The same series with 300 samples is fine.
        let request = WriteRequest {
            timeseries: vec![series(Some("wide"), &labels, &samples[..300])],
            metadata: Vec::new(),
        };
        let decoded = decode(&request.encode_to_vec(), "c1", now()).expect("decodes");
        assert_eq!(decoded.batch.samples.len(), 300);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_give_an_answer_not_a_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = unsnappy(&bytes);
            let _ = decode(&bytes, "c1", now());
        }
    }
}
