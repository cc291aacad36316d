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

use std::io::Read;
use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage, stream};
use async_nats::HeaderMap;
use bytes::Bytes;
use chrono::Utc;
use domain::bus::BusNames;
use domain::metrics::{parse_payload, PayloadError, RejectedSample};

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
    payload: Bytes,
    accepted: Accepted,
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
        let payload = if parsed.as_sent {
            body.to_vec()
        } else {
            serde_json::to_vec(&parsed.batch)
                .map_err(|e| IngestError::Unavailable(e.to_string()))?
        };
        let max = self.client.server_info().max_payload;
        if max > 0 && payload.len() + 1024 > max {
            return Err(IngestError::TooLarge(format!(
                "the batch is {} bytes as published (decompressed); the message bus takes at most {max}: send fewer samples per push",
                payload.len()
            )));
        }
        Ok(Prepared {
            payload: payload.into(),
            accepted: Accepted {
                status: "accepted",
                batch_id: parsed.batch.batch_id,
                metrics_accepted: parsed.batch.samples.len(),
                metrics_rejected: parsed.rejected.len(),
                rejected: parsed.rejected.into_iter().take(20).collect(),
                skipped_families: parsed.skipped_families,
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
        accepted.duplicate = self
            .publish(collector_id, token, &accepted.batch_id, prepared.payload)
            .await?;
        Ok(accepted)
    }

    async fn publish(
        &self,
        collector_id: &str,
        token: &str,
        batch_id: &str,
        payload: Bytes,
    ) -> Result<bool, IngestError> {
        let subject = self.names.metrics_subject(collector_id);
        // `Nats-Msg-Id` goes in the same map: `PublishMessage::headers` replaces the map that
        // `message_id` writes into.
        let mut headers = HeaderMap::new();
        headers.insert(TOKEN_HEADER, token);
        headers.insert(
            "Nats-Msg-Id",
            BusNames::batch_message_id(collector_id, batch_id).as_str(),
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
}
