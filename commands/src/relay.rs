//! The relay: event store → JetStream, in commit order, never losing an event.
//!
//! cqrs-es has no outbox: its queries run after the commit, in the process that committed, and a
//! crash in between loses them. So the relay does not depend on them. It scans the `events`
//! table itself from a checkpoint kept in PostgreSQL.
//!
//! The scan is `position > checkpoint ORDER BY position`. That is safe only because writers of
//! events serialize on an advisory lock taken before a position is drawn and released after the
//! commit is visible (see the event-store migration): a position can never become visible
//! behind one the relay has already passed. This closes the outbox "late commit" trap instead of
//! healing it by re-reading a window.
//!
//! Each event is published with `Nats-Msg-Id = <aggregate_type>:<aggregate_id>:<sequence>`, and
//! the checkpoint moves only after JetStream acknowledged. A crash between the two re-publishes
//! on restart, which JetStream drops as a duplicate; beyond the duplicate window the projectors'
//! per-aggregate positions still apply it once.
//!
//! Publishes are pipelined (the whole batch sent, then the acks awaited in order). When an ack
//! fails, JetStream may still have stored the events after it; the relay then publishes one
//! event at a time, each acknowledged before the next is sent, until a whole batch went through,
//! so it resumes strictly in position order. (An event published again behind its successor is
//! held back by the projectors until the successor's predecessor arrives, never skipped.) An
//! event that cannot be published is recorded on the checkpoint row with its position and the
//! reason, which `/health` reports as a 503, and retried; it is never skipped.
//!
//! Every event carries the relay's signature ([`domain::signature`]); projectors apply no other.

use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage, stream};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use domain::bus::BusNames;
use domain::signature::{EventSeal, SIGNATURE_HEADER};
use domain::StoredEvent;
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Row};
use tokio_util::sync::CancellationToken;

/// How long JetStream remembers a `Nats-Msg-Id` on the events stream.
pub const EVENTS_DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// Why a relay pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// PostgreSQL failed.
    #[error("event store: {0}")]
    Store(#[from] sqlx::Error),
    /// JetStream failed or did not acknowledge.
    #[error("jetstream: {0}")]
    Bus(String),
}

/// Publishes stored events to the events stream.
#[derive(Clone)]
pub struct Relay {
    pool: PgPool,
    jetstream: jetstream::Context,
    names: BusNames,
    name: String,
    batch_size: i64,
    /// Set after a failed publish: one event in flight at a time until a batch goes through.
    careful: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Signs every event it publishes.
    seal: EventSeal,
    /// Whether the point where signing began is recorded (once per database).
    signing_recorded: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Replicas of the events stream when the relay has to create it.
    replicas: usize,
}

/// Records, once, the stream sequence from which every event on the events stream is signed
/// (the stream's next sequence when the first signing relay starts): events below it were
/// published unsigned by an earlier version and are still accepted by the projectors.
///
/// # Errors
/// [`RelayError`] when JetStream or PostgreSQL fails.
pub async fn record_signing_start(
    pool: &PgPool,
    jetstream: &jetstream::Context,
    names: &BusNames,
) -> Result<(), RelayError> {
    let recorded: Option<i64> =
        sqlx::query_scalar("SELECT since_stream_sequence FROM event_signing")
            .fetch_optional(pool)
            .await?;
    if recorded.is_some() {
        return Ok(());
    }
    let next = jetstream
        .get_stream(names.events_stream())
        .await
        .map_err(|e| RelayError::Bus(e.to_string()))?
        .info()
        .await
        .map_err(|e| RelayError::Bus(e.to_string()))?
        .state
        .last_sequence
        + 1;
    sqlx::query(
        "INSERT INTO event_signing (since_stream_sequence) VALUES ($1) ON CONFLICT DO NOTHING",
    )
    .bind(i64::try_from(next).unwrap_or(i64::MAX))
    .execute(pool)
    .await?;
    Ok(())
}

/// An event the relay could not publish, as `/health` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RelayFailure {
    /// The event store position of the event that did not go out.
    pub position: i64,
    /// Why.
    pub reason: String,
    /// Since when it has been failing.
    pub since: DateTime<Utc>,
}

/// The `events` relay's current failure, if it is failing.
///
/// # Errors
/// [`RelayError::Store`].
pub async fn relay_failure(pool: &PgPool) -> Result<Option<RelayFailure>, RelayError> {
    let row = sqlx::query(
        "SELECT failing_position, failing_reason, failing_since FROM relay_checkpoints
          WHERE relay = 'events' AND failing_position IS NOT NULL",
    )
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(RelayFailure {
            position: r.try_get("failing_position")?,
            reason: r
                .try_get::<Option<String>, _>("failing_reason")?
                .unwrap_or_default(),
            since: r
                .try_get::<Option<DateTime<Utc>>, _>("failing_since")?
                .unwrap_or_else(Utc::now),
        })
    })
    .transpose()
    .map_err(RelayError::Store)
}

/// Creates the events stream if missing (file storage, kept as long as the event store).
///
/// # Errors
/// [`RelayError::Bus`] when JetStream is unreachable or refuses the configuration.
pub async fn ensure_events_stream(
    jetstream: &jetstream::Context,
    names: &BusNames,
    replicas: usize,
) -> Result<(), RelayError> {
    jetstream
        .get_or_create_stream(stream::Config {
            name: names.events_stream(),
            subjects: vec![names.events_wildcard()],
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::Limits,
            duplicate_window: EVENTS_DUPLICATE_WINDOW,
            num_replicas: replicas,
            description: Some("pgAnalytics domain events, relayed from the event store".into()),
            // Nothing of pgAnalytics removes single messages or purges: refuse it to anyone
            // (defence in depth beside NATS's permissions; fixed when the stream is created).
            deny_delete: true,
            deny_purge: true,
            ..Default::default()
        })
        .await
        .map(|_| ())
        .map_err(|e| RelayError::Bus(e.to_string()))
}

/// Events committed but not yet published by the `events` relay (those it may already read,
/// plus those waiting behind a transaction that is still open).
///
/// # Errors
/// [`RelayError::Store`].
pub async fn pending_events(pool: &PgPool) -> Result<i64, RelayError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events
          WHERE position >
                coalesce((SELECT last_position FROM relay_checkpoints WHERE relay = 'events'), 0)",
    )
    .fetch_one(pool)
    .await?;
    Ok(n)
}

impl Relay {
    /// A relay named `events` (its checkpoint row), signing with `seal`.
    pub fn new(
        pool: PgPool,
        jetstream: jetstream::Context,
        names: BusNames,
        seal: EventSeal,
    ) -> Self {
        Self {
            pool,
            jetstream,
            names,
            name: "events".to_owned(),
            batch_size: 500,
            careful: std::sync::Arc::default(),
            seal,
            signing_recorded: std::sync::Arc::default(),
            replicas: 1,
        }
    }

    /// Creates the events stream, when it has to, with `replicas` copies.
    #[must_use]
    pub fn with_replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas;
        self
    }

    /// Publishes every committed event past the checkpoint, batch after batch, until none is
    /// left. Returns how many it published (duplicates included).
    ///
    /// # Errors
    /// [`RelayError`]; the checkpoint then stands after the last acknowledged event.
    pub async fn publish_pending(&self) -> Result<usize, RelayError> {
        ensure_events_stream(&self.jetstream, &self.names, self.replicas).await?;
        if !self.signing_recorded.load(Ordering::SeqCst) {
            record_signing_start(&self.pool, &self.jetstream, &self.names).await?;
            self.signing_recorded.store(true, Ordering::SeqCst);
        }
        let mut total = 0;
        loop {
            let batch = self.read_batch().await?;
            if batch.is_empty() {
                self.clear_failure().await?;
                return Ok(total);
            }
            match self.publish_batch(&batch).await {
                Ok(n) => total += n,
                Err((position, e)) => {
                    self.careful.store(true, Ordering::SeqCst);
                    if let (Some(position), RelayError::Bus(reason)) = (position, &e) {
                        self.record_failure(position, reason).await?;
                    }
                    return Err(e);
                }
            }
            // A whole batch went through: back to pipelining, and no longer failing.
            self.careful.store(false, Ordering::SeqCst);
            self.clear_failure().await?;
        }
    }

    async fn record_failure(&self, position: i64, reason: &str) -> Result<(), RelayError> {
        tracing::warn!(position, %reason, "relay could not publish an event; retrying it");
        sqlx::query(
            "INSERT INTO relay_checkpoints (relay, last_position, failing_position, failing_reason, failing_since)
             VALUES ($1, 0, $2, $3, now())
             ON CONFLICT (relay) DO UPDATE
                SET failing_position = excluded.failing_position,
                    failing_reason = excluded.failing_reason,
                    failing_since = CASE
                        WHEN relay_checkpoints.failing_position = excluded.failing_position
                        THEN relay_checkpoints.failing_since ELSE now() END",
        )
        .bind(&self.name)
        .bind(position)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn clear_failure(&self) -> Result<(), RelayError> {
        sqlx::query(
            "UPDATE relay_checkpoints
                SET failing_position = NULL, failing_reason = NULL, failing_since = NULL
              WHERE relay = $1 AND failing_position IS NOT NULL",
        )
        .bind(&self.name)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn read_batch(&self) -> Result<Vec<StoredEvent>, RelayError> {
        let rows = sqlx::query(
            "SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version,
                    payload, metadata, recorded_at
               FROM events
              WHERE position >
                    coalesce((SELECT last_position FROM relay_checkpoints WHERE relay = $1), 0)
              ORDER BY position
              LIMIT $2",
        )
        .bind(&self.name)
        .bind(self.batch_size)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(StoredEvent {
                    position: row.try_get("position")?,
                    aggregate_type: row.try_get("aggregate_type")?,
                    aggregate_id: row.try_get("aggregate_id")?,
                    sequence: row.try_get("sequence")?,
                    event_type: row.try_get("event_type")?,
                    event_version: row.try_get("event_version")?,
                    payload: row.try_get("payload")?,
                    metadata: row.try_get("metadata")?,
                    recorded_at: row.try_get::<DateTime<Utc>, _>("recorded_at")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(RelayError::Store)
    }

    /// Publishes a batch and moves the checkpoint past what JetStream acknowledged; on failure
    /// returns the position of the first event that did not go out, with the error.
    // Over 60 lines on purpose: the publish, the ack wait and the one-at-a-time fallback share the batch and its positions.
    async fn publish_batch(
        &self,
        batch: &[StoredEvent],
    ) -> Result<usize, (Option<i64>, RelayError)> {
        let bus = |e: &dyn std::fmt::Display| RelayError::Bus(e.to_string());
        let max_payload = self.jetstream.client().server_info().max_payload;
        // Pipelined: the whole batch is sent, then the acks awaited in order (one round trip
        // per batch). Careful: each ack awaited before the next event is sent.
        let in_flight = if self.careful.load(Ordering::SeqCst) {
            1
        } else {
            batch.len()
        };
        let mut done: Option<i64> = None;
        let mut result = Ok(());
        'chunks: for chunk in batch.chunks(in_flight.max(1)) {
            let mut acks = Vec::with_capacity(chunk.len());
            for event in chunk {
                let payload = match serde_json::to_vec(event) {
                    Ok(p) => p,
                    Err(e) => {
                        result = Err((Some(event.position), bus(&e)));
                        break;
                    }
                };
                // Checked here, with the reason spelled out, rather than left to the client's
                // "maximum payload exceeded" (the start-up check should make this unreachable).
                // The server counts headers too (message id and signature: well under 512 bytes).
                if max_payload > 0 && payload.len() + 512 > max_payload {
                    result = Err((
                        Some(event.position),
                        RelayError::Bus(format!(
                            "{} {}/{} v{} is {} bytes, over the NATS server's max_payload of {max_payload}",
                            event.aggregate_type,
                            event.aggregate_id,
                            event.sequence,
                            event.event_type,
                            payload.len()
                        )),
                    ));
                    break;
                }
                let subject = self.names.subject(&event.subject_suffix());
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Nats-Msg-Id", event.message_id().as_str());
                headers.insert(
                    SIGNATURE_HEADER,
                    self.seal.sign(&subject, &payload).as_str(),
                );
                let message = PublishMessage::build()
                    .payload(Bytes::from(payload))
                    .headers(headers);
                match self.jetstream.send_publish(subject, message).await {
                    Ok(ack) => acks.push((ack, event.position)),
                    Err(e) => {
                        result = Err((Some(event.position), bus(&e)));
                        break;
                    }
                }
            }
            for (ack, position) in acks {
                match ack.await {
                    Ok(_) => done = Some(position),
                    Err(e) => {
                        result = Err((Some(position), bus(&e)));
                        break 'chunks;
                    }
                }
            }
            if result.is_err() {
                break;
            }
        }
        let published = match done {
            Some(position) => {
                self.save_checkpoint(position)
                    .await
                    .map_err(|e| (None, e))?;
                batch
                    .iter()
                    .position(|e| e.position == position)
                    .map_or(0, |i| i + 1)
            }
            None => 0,
        };
        result.map(|()| published)
    }

    async fn save_checkpoint(&self, position: i64) -> Result<(), RelayError> {
        // Guarded so that two relays racing (two processes) can never move it backwards.
        sqlx::query(
            "INSERT INTO relay_checkpoints (relay, last_position) VALUES ($1, $2)
             ON CONFLICT (relay) DO UPDATE
                SET last_position = excluded.last_position, updated_at = now()
              WHERE relay_checkpoints.last_position < excluded.last_position",
        )
        .bind(&self.name)
        .bind(position)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Runs until `shutdown`: wakes on every commit (LISTEN `pga_events`) and at least every
    /// `poll`, publishes what is pending, and backs off while PostgreSQL or NATS is down.
    pub async fn run(self, poll: Duration, shutdown: CancellationToken) {
        let mut listener: Option<PgListener> = None;
        let mut backoff = Duration::from_millis(200);
        loop {
            if listener.is_none() {
                listener = match PgListener::connect_with(&self.pool).await {
                    Ok(mut l) => match l.listen("pga_events").await {
                        Ok(()) => Some(l),
                        Err(_) => None,
                    },
                    Err(_) => None,
                };
            }
            match self.publish_pending().await {
                Ok(n) => {
                    if n > 0 {
                        tracing::debug!(published = n, "relay published events");
                    }
                    backoff = Duration::from_millis(200);
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "relay pass failed; will retry");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = shutdown.cancelled() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            }
            let wait = async {
                match listener.as_mut() {
                    Some(l) => {
                        if l.recv().await.is_err() {
                            tokio::time::sleep(poll).await;
                        }
                    }
                    None => tokio::time::sleep(poll).await,
                }
            };
            tokio::select! {
                () = wait => {}
                () = tokio::time::sleep(poll) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }
}
