//! Metric ingest: from a pushed payload to a batch acknowledged by JetStream.
//!
//! The HTTP bridge (`POST /api/v1/metrics/push`, in `api`) calls [`Bridge::accept`]: it
//! decompresses (bounded), parses either format, checks every sample, and publishes the batch
//! on `<prefix>-p<partition>.metrics.<collector_id>` with `Nats-Msg-Id = <collector_id>:<batch_id>` and the collector's token
//! in a header: a native batch whose every sample was accepted as it came (decompressed), any
//! other normalized (converted from v3, refused samples left out). It answers only after
//! JetStream acknowledged: an accepted batch is never lost. Collectors speaking NATS publish
//! native batches themselves; the projectors parse and verify both paths alike.
//!
//! This crate never writes a read model and never counts anything: counting is the
//! projectors' job, once per batch id.

pub mod remote_write;

use std::io::Read;
use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage, stream};
use async_nats::HeaderMap;
use bytes::Bytes;
use chrono::Utc;
use domain::bus::BusNames;
use domain::metrics::{compact, parse_payload, MetricBatch, PayloadError, RejectedSample};

pub use domain::metrics::TOKEN_HEADER;

/// Largest body accepted, compressed or not: 16 MiB.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// How long JetStream remembers a batch id: longer than any collector's retry loop.
pub const METRICS_DUPLICATE_WINDOW: Duration = Duration::from_secs(30 * 60);

/// Why a push was refused.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Over [`MAX_BODY`] (decompressed), or over the bus's message size.
    #[error("{0}")]
    TooLarge(String),
    /// `Content-Encoding: gzip` with a body that is not gzip.
    #[error("the body is not valid gzip: {0}")]
    BadGzip(String),
    /// A body whose encoding (snappy) is broken.
    #[error("{0}")]
    BadEncoding(String),
    /// The payload as a whole is unusable.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The batch names another collector than the token.
    #[error("this token belongs to collector {token}, the batch names {batch}")]
    WrongCollector {
        /// From the token.
        token: String,
        /// From the batch.
        batch: String,
    },
    /// JetStream did not acknowledge.
    #[error("the message bus is unavailable: {0}")]
    Unavailable(String),
}

/// What an accepted push answers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Accepted {
    /// Always `accepted`.
    pub status: &'static str,
    /// The batch's idempotency key.
    pub batch_id: String,
    /// Data points accepted.
    pub metrics_accepted: usize,
    /// Data points refused, with reasons.
    pub metrics_rejected: usize,
    /// The first refusals, for the collector's log.
    pub rejected: Vec<RejectedSample>,
    /// v3 families this server does not know.
    pub skipped_families: Vec<String>,
    /// JetStream had this batch id already (a retry): it counts once.
    pub duplicate: bool,
}

/// Creates the metric streams if missing: one per partition (`PGA_METRICS_P00` …, subjects
/// `<prefix>-p<NN>.metrics.*`), each with `replicas` copies. The unpartitioned `PGA_METRICS` of
/// earlier versions (`<prefix>.metrics.>`, no overlap) is left as it is; the projectors drain it.
///
/// # Errors
/// [`IngestError::Unavailable`].
pub async fn ensure_metrics_stream(
    jetstream: &jetstream::Context,
    names: &BusNames,
    max_age: Duration,
    replicas: usize,
) -> Result<(), IngestError> {
    let unavailable = |e: &dyn std::fmt::Display| IngestError::Unavailable(e.to_string());
    for partition in 0..names.partitions() {
        jetstream
            .get_or_create_stream(stream::Config {
                name: names.metrics_partition_stream(partition),
                subjects: vec![names.metrics_partition_wildcard(partition)],
                storage: stream::StorageType::File,
                retention: stream::RetentionPolicy::Limits,
                max_age,
                num_replicas: replicas,
                duplicate_window: METRICS_DUPLICATE_WINDOW,
                description: Some(format!("pgAnalytics metric batches, partition {partition}")),
                // Nothing of pgAnalytics removes single messages or purges: refuse it to anyone
                // (defence in depth beside NATS's permissions; fixed when the stream is created).
                deny_delete: true,
                deny_purge: true,
                ..Default::default()
            })
            .await
            .map_err(|e| unavailable(&e))?;
    }
    Ok(())
}

/// Decompresses a gzip body, refusing more than [`MAX_BODY`] bytes of output.
///
/// # Errors
/// [`IngestError::BadGzip`] or [`IngestError::TooLarge`].
pub fn gunzip(body: &[u8]) -> Result<Vec<u8>, IngestError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| IngestError::BadGzip(e.to_string()))?;
    if out.len() > MAX_BODY {
        return Err(IngestError::TooLarge(format!(
            "the decompressed body is over the {} MiB limit",
            MAX_BODY / 1024 / 1024
        )));
    }
    Ok(out)
}

/// A push parsed and checked by [`Bridge::prepare`], ready to publish.
#[derive(Debug)]
pub struct Prepared {
    /// `(batch id, payload)`: one part, or several when a remote-write request was split to
    /// fit the bus's message size.
    parts: Vec<(String, Bytes)>,
    accepted: Accepted,
}

impl Prepared {
    /// No sample was accepted.
    pub fn is_empty(&self) -> bool {
        self.accepted.metrics_accepted == 0
    }

    /// What the push answers (before publishing, `duplicate` is false).
    pub fn accepted(&self) -> &Accepted {
        &self.accepted
    }
}

/// The HTTP bridge's publishing side.
#[derive(Clone)]
pub struct Bridge {
    jetstream: jetstream::Context,
    client: async_nats::Client,
    names: BusNames,
    max_age: Duration,
    replicas: usize,
}

impl Bridge {
    /// A bridge on a NATS connection; creates missing streams with `max_age` and `replicas`.
    pub fn new(
        client: async_nats::Client,
        names: BusNames,
        max_age: Duration,
        replicas: usize,
    ) -> Self {
        Self {
            jetstream: jetstream::new(client.clone()),
            client,
            names,
            max_age,
            replicas,
        }
    }

    /// Parses, checks and publishes one push from `collector_id` (already authenticated by
    /// `token`), returning once JetStream acknowledged.
    ///
    /// # Errors
    /// [`IngestError`]; nothing is published then.
    pub async fn accept(
        &self,
        collector_id: &str,
        token: &str,
        body: &[u8],
    ) -> Result<Accepted, IngestError> {
        let prepared = self.prepare(collector_id, body)?;
        self.publish_prepared(collector_id, token, prepared).await
    }

    /// The CPU-bound half of [`Self::accept`]: parses and checks one push from
    /// `collector_id`. Synchronous, so a caller can run it off the async workers.
    ///
    /// # Errors
    /// [`IngestError`].
    pub fn prepare(&self, collector_id: &str, body: &[u8]) -> Result<Prepared, IngestError> {
        let parsed = parse_payload(body, Utc::now())?;
        if parsed.batch.collector_id != collector_id {
            return Err(IngestError::WrongCollector {
                token: collector_id.to_owned(),
                batch: parsed.batch.collector_id,
            });
        }
        // Published compactly encoded, whichever format it came in: the projectors read it
        // without parsing JSON again (`domain::metrics::compact`).
        let payload = compact::encode(&parsed.batch);
        self.prepared(
            payload,
            parsed.batch,
            parsed.rejected,
            parsed.skipped_families,
        )
    }

    /// [`Self::prepare`] for a Prometheus remote-write body (snappy-compressed protobuf): the
    /// request becomes one native batch of `collector_id`. A request with no sample to store
    /// (metadata only, staleness markers only) gives an empty [`Prepared`]: see
    /// [`Prepared::is_empty`].
    ///
    /// # Errors
    /// [`IngestError`].
    pub fn prepare_remote_write(
        &self,
        collector_id: &str,
        body: &[u8],
    ) -> Result<Prepared, IngestError> {
        let plain = remote_write::unsnappy(body)?;
        let now = Utc::now();
        let mut decoded = remote_write::decode(&plain, collector_id, now)?;
        let skipped = if decoded.histograms_skipped > 0 {
            vec![format!(
                "{} native histogram samples (not stored)",
                decoded.histograms_skipped
            )]
        } else {
            Vec::new()
        };
        // Split on the clock-independent candidates with a fixed budget, then refuse future
        // samples per part: a retry of the same bytes gives the same parts with the same ids.
        let budget = self.room().min(REMOTE_WRITE_PART);
        let mut parts = Vec::new();
        let mut accepted = 0;
        // The common case: the whole request fits in one message (the same test as
        // `split_to_fit`'s), and nothing is in the future. Sizes are measured as JSON, the
        // format of earlier versions, so that a retry splits as it did; the compact encoding
        // published is never larger.
        let bound = now + chrono::Duration::hours(1);
        let split = if json_len(&decoded.batch) > budget {
            split_to_fit(&decoded.batch, budget)?
        } else if decoded.batch.samples.iter().all(|s| s.ts <= bound) {
            accepted = decoded.batch.samples.len();
            if accepted > 0 {
                let whole = compact::encode(&decoded.batch);
                parts.push((decoded.batch.batch_id.clone(), Bytes::from(whole)));
            }
            Vec::new()
        } else {
            let mut part = part_of(&decoded.batch, decoded.batch.batch_id.clone(), &[]);
            part.samples = std::mem::take(&mut decoded.batch.samples);
            vec![part]
        };
        for mut part in split {
            remote_write::refuse_future(&mut part.samples, now, &mut decoded.rejected);
            if part.samples.is_empty() {
                continue;
            }
            accepted += part.samples.len();
            let encoded = compact::encode(&part);
            parts.push((part.batch_id, Bytes::from(encoded)));
        }
        Ok(Prepared {
            parts,
            accepted: Accepted {
                status: "accepted",
                batch_id: decoded.batch.batch_id,
                metrics_accepted: accepted,
                metrics_rejected: decoded.rejected.len(),
                rejected: decoded.rejected.into_iter().take(20).collect(),
                skipped_families: skipped,
                duplicate: false,
            },
        })
    }

    /// The largest payload the bus takes, less room for headers (`usize::MAX` when unknown).
    fn room(&self) -> usize {
        match self.client.server_info().max_payload {
            0 => usize::MAX,
            max => max.saturating_sub(1024),
        }
    }

    fn prepared(
        &self,
        payload: Vec<u8>,
        batch: MetricBatch,
        rejected: Vec<RejectedSample>,
        skipped_families: Vec<String>,
    ) -> Result<Prepared, IngestError> {
        let room = self.room();
        if payload.len() > room {
            return Err(IngestError::TooLarge(format!(
                "the batch is {} bytes as published (decompressed); the message bus takes at most {room}: send fewer samples per push",
                payload.len()
            )));
        }
        Ok(Prepared {
            parts: vec![(batch.batch_id.clone(), payload.into())],
            accepted: Accepted {
                status: "accepted",
                batch_id: batch.batch_id,
                metrics_accepted: batch.samples.len(),
                metrics_rejected: rejected.len(),
                rejected: rejected.into_iter().take(20).collect(),
                skipped_families,
                duplicate: false,
            },
        })
    }

    /// The I/O half of [`Self::accept`]: publishes a prepared push, returning once JetStream
    /// acknowledged.
    ///
    /// # Errors
    /// [`IngestError::Unavailable`].
    pub async fn publish_prepared(
        &self,
        collector_id: &str,
        token: &str,
        prepared: Prepared,
    ) -> Result<Accepted, IngestError> {
        let mut accepted = prepared.accepted;
        use futures::{StreamExt as _, TryStreamExt as _};
        // Every part acknowledged, or an error (the sender retries the whole; parts already
        // stored count once by their ids). A duplicate when every part was one. At most 8
        // parts in flight.
        let duplicates: Vec<bool> = futures::stream::iter(prepared.parts)
            .map(|(batch_id, payload)| self.publish(collector_id, token, batch_id, payload))
            .buffer_unordered(8)
            .try_collect()
            .await?;
        accepted.duplicate = !duplicates.is_empty() && duplicates.into_iter().all(|d| d);
        Ok(accepted)
    }

    async fn publish(
        &self,
        collector_id: &str,
        token: &str,
        batch_id: String,
        payload: Bytes,
    ) -> Result<bool, IngestError> {
        let subject = self.names.metrics_subject(collector_id);
        // `Nats-Msg-Id` goes in the same map: `PublishMessage::headers` replaces the map that
        // `message_id` writes into.
        let mut headers = HeaderMap::new();
        headers.insert(TOKEN_HEADER, token);
        headers.insert(
            "Nats-Msg-Id",
            BusNames::batch_message_id(collector_id, &batch_id).as_str(),
        );
        let message = || {
            PublishMessage::build()
                .payload(payload.clone())
                .headers(headers.clone())
        };
        let unavailable = |e: &dyn std::fmt::Display| IngestError::Unavailable(e.to_string());
        let attempt = async {
            let ack = self
                .jetstream
                .send_publish(subject.clone(), message())
                .await;
            let ack = match ack {
                Ok(ack) => ack,
                Err(_) => {
                    // The stream may not exist yet (first push on a fresh server).
                    ensure_metrics_stream(
                        &self.jetstream,
                        &self.names,
                        self.max_age,
                        self.replicas,
                    )
                    .await?;
                    self.jetstream
                        .send_publish(subject.clone(), message())
                        .await
                        .map_err(|e| unavailable(&e))?
                }
            };
            ack.await.map(|a| a.duplicate).map_err(|e| unavailable(&e))
        };
        tokio::time::timeout(Duration::from_secs(5), attempt)
            .await
            .map_err(|_| {
                IngestError::Unavailable("JetStream did not acknowledge within 5 s".into())
            })?
    }
}

/// The budget of one part of a split remote-write request: fixed (not the bus's live
/// `max_payload`, unless that is smaller), so that a retry splits the same way.
const REMOTE_WRITE_PART: usize = 1024 * 1024 - 1024;

/// Most parts one request may be split into.
const MAX_PARTS: usize = 128;

/// A batch as parts of at most `room` bytes of JSON each: the batch itself when it fits, else
/// consecutive samples packed greedily into parts with ids `<id>-<i>` (a function of the
/// samples and `room` only: the same request splits the same way on every retry).
///
/// # Errors
/// [`IngestError::TooLarge`] when a single sample does not fit, or over [`MAX_PARTS`] parts.
fn split_to_fit(batch: &MetricBatch, room: usize) -> Result<Vec<MetricBatch>, IngestError> {
    let header = json_len(&part_of(
        batch,
        format!("{}-{MAX_PARTS}", batch.batch_id),
        &[],
    ));
    if json_len(batch) <= room {
        return Ok(vec![part_of(batch, batch.batch_id.clone(), &batch.samples)]);
    }
    let lens: Vec<usize> = batch.samples.iter().map(|s| json_len(s) + 1).collect();
    let too_large = |what: String| IngestError::TooLarge(what);
    let mut parts = Vec::new();
    let (mut from, mut used) = (0, header);
    for (i, len) in lens.iter().enumerate() {
        if header + len > room {
            return Err(too_large(format!(
                "one sample of {} is over the message bus's {room} bytes",
                batch.samples[i].metric
            )));
        }
        if used + len > room {
            parts.push(from..i);
            (from, used) = (i, header);
        }
        used += len;
    }
    parts.push(from..batch.samples.len());
    if parts.len() > MAX_PARTS {
        return Err(too_large(format!(
            "the request would make {} messages (at most {MAX_PARTS}): send fewer samples per request",
            parts.len()
        )));
    }
    Ok(parts
        .into_iter()
        .enumerate()
        .map(|(i, range)| {
            part_of(
                batch,
                format!("{}-{i}", batch.batch_id),
                &batch.samples[range],
            )
        })
        .collect())
}

/// The length of `value` as JSON, without building the JSON.
fn json_len<T: serde::Serialize>(value: &T) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing to a counter cannot fail, and these types always serialize.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// `batch` with another id and these samples.
fn part_of(
    batch: &MetricBatch,
    batch_id: String,
    samples: &[domain::metrics::Sample],
) -> MetricBatch {
    MetricBatch {
        batch_id,
        collector_id: batch.collector_id.clone(),
        instance: batch.instance.clone(),
        collected_at: batch.collected_at,
        samples: samples.to_vec(),
        statements: batch.statements.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn gzip_is_bounded_and_checked() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"{\"a\":1}").expect("write");
        let gz = enc.finish().expect("finish");
        assert_eq!(gunzip(&gz).expect("gunzip"), b"{\"a\":1}");
        assert!(matches!(
            gunzip(b"plain text"),
            Err(IngestError::BadGzip(_))
        ));
        let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        bomb.write_all(&vec![b' '; MAX_BODY + 10]).expect("write");
        let bomb = bomb.finish().expect("finish");
        assert!(bomb.len() < 1024 * 1024);
        assert!(matches!(gunzip(&bomb), Err(IngestError::TooLarge(_))));
    }

    #[test]
    fn a_batch_over_the_bus_size_is_split_in_the_same_parts_every_time() {
        let sample = |i: usize| domain::metrics::Sample {
            metric: format!("m_{i}"),
            labels: [("instance".to_owned(), "x".repeat(100))].into(),
            value: i as f64,
            ts: Utc::now(),
            counter: false,
        };
        let batch = MetricBatch {
            batch_id: "rw-abc".into(),
            collector_id: "c1".into(),
            instance: None,
            collected_at: Utc::now(),
            samples: (0..1000).map(sample).collect(),
            statements: Default::default(),
        };
        let whole = split_to_fit(&batch, usize::MAX).expect("fits");
        assert_eq!(whole, std::slice::from_ref(&batch));
        let json = serde_json::to_vec(&batch).expect("json").len();
        let room = json / 5;
        let parts = split_to_fit(&batch, room).expect("splits");
        assert!((5..=7).contains(&parts.len()), "{}", parts.len());
        assert!(parts
            .iter()
            .all(|p| serde_json::to_vec(p).expect("json").len() <= room));
        assert!(
            parts.iter().all(|p| compact::encode(p).len() <= room),
            "the compact encoding published is never larger than the JSON measured"
        );
        assert_eq!(parts[0].batch_id, "rw-abc-0");
        let samples: Vec<_> = parts.iter().flat_map(|p| p.samples.clone()).collect();
        assert_eq!(samples, batch.samples, "every sample once, in order");
        assert_eq!(split_to_fit(&batch, room).expect("again"), parts);
        assert!(matches!(
            split_to_fit(&batch, 50),
            Err(IngestError::TooLarge(_))
        ));
        assert!(
            matches!(
                split_to_fit(&batch, json / 200),
                Err(IngestError::TooLarge(_))
            ),
            "over the most parts a request may make"
        );
    }
}
