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

/// A decoded remote-write request.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The batch of accepted samples (no samples: nothing to publish).
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

/// Decodes a decompressed `WriteRequest` from `collector_id` into a batch; `now` is the
/// receiving clock (the batch's `collected_at`, and the bound on future timestamps).
///
/// # Errors
/// [`IngestError::Payload`] when the bytes are not a `WriteRequest`.
pub fn decode(
    plain: &[u8],
    collector_id: &str,
    now: DateTime<Utc>,
) -> Result<Decoded, IngestError> {
    let request = WriteRequest::decode(plain).map_err(|e| {
        PayloadError::Malformed(format!("not a Prometheus remote-write request: {e}"))
    })?;
    let counters = counter_families(&request.metadata);
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
    for series in request.timeseries {
        decoded.histograms_skipped += series.histograms.len();
        let mut metric = None;
        let mut labels = BTreeMap::new();
        for label in series.labels {
            if label.name == "__name__" {
                metric = Some(label.value);
            } else {
                labels.insert(label.name, label.value);
            }
        }
        let Some(metric) = metric else {
            if !series.samples.is_empty() {
                decoded.rejected.push(RejectedSample {
                    metric: String::new(),
                    reason: format!(
                        "a series without __name__ ({} samples)",
                        series.samples.len()
                    ),
                });
            }
            continue;
        };
        let counter = is_counter(&metric, &counters);
        for point in series.samples {
            if point.value.is_nan() {
                decoded.no_value += 1;
                continue;
            }
            let Some(ts) = Utc.timestamp_millis_opt(point.timestamp).single() else {
                decoded.rejected.push(RejectedSample {
                    metric: metric.clone(),
                    reason: format!("timestamp {} ms is out of range", point.timestamp),
                });
                continue;
            };
            let sample = Sample {
                metric: metric.clone(),
                labels: labels.clone(),
                value: point.value,
                ts,
                counter,
            };
            match check_sample(&sample, now) {
                Ok(()) => decoded.batch.samples.push(sample),
                Err(reason) => decoded.rejected.push(RejectedSample {
                    metric: sample.metric,
                    reason,
                }),
            }
        }
    }
    Ok(decoded)
}

/// Family name → whether its series are cumulative, from the request's metadata.
fn counter_families(metadata: &[MetricMetadata]) -> HashMap<&str, i32> {
    metadata
        .iter()
        .map(|m| (m.metric_family_name.as_str(), m.r#type))
        .collect()
}

fn is_counter(metric: &str, families: &HashMap<&str, i32>) -> bool {
    if let Some(&kind) = families.get(metric) {
        return kind == COUNTER;
    }
    for suffix in ["_count", "_sum", "_bucket"] {
        if let Some(family) = metric.strip_suffix(suffix) {
            if let Some(&kind) = families.get(family) {
                return matches!(kind, HISTOGRAM | SUMMARY);
            }
        }
    }
    families.is_empty() && metric.ends_with("_total")
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
        Utc.timestamp_millis_opt(1_800_000_000_000).single().expect("in range")
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
            ],
        };
        let decoded = decode(&request.encode_to_vec(), "c1", now()).expect("decodes");
        let counters: Vec<bool> = decoded.batch.samples.iter().map(|s| s.counter).collect();
        assert_eq!(counters, [true, false, true, false]);
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
        let decoded = decode(&request.encode_to_vec(), "c1", now()).expect("decodes");
        assert_eq!(decoded.no_value, 2);
        assert_eq!(decoded.batch.samples.len(), 1);
        assert_eq!(decoded.batch.samples[0].ts.timestamp_millis(), 3);
        let reasons: Vec<&str> = decoded.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(reasons.len(), 5, "{reasons:?}");
        assert!(reasons[0].contains("finite"));
        assert!(reasons[1].contains("__name__"));
        assert!(reasons[2].contains("invalid metric name"));
        assert!(reasons[3].contains("future"));
        assert!(reasons[4].contains("out of range"));
    }

    #[test]
    fn snappy_is_bounded_before_it_allocates() {
        let packed = snap::raw::Encoder::new().compress_vec(b"hello").expect("snappy");
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

    proptest::proptest! {
        #[test]
        fn any_bytes_give_an_answer_not_a_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = unsnappy(&bytes);
            let _ = decode(&bytes, "c1", now());
        }
    }
}
