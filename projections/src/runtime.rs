//! The projector runtime: consume, apply, checkpoint.
//!
//! PostgreSQL, not the consumer, holds the truth of how far a projection got. The runner
//! (re)creates its durable pull consumer to deliver from `checkpoint + 1` whenever it starts
//! or recovers from a failure, so a batch that failed half-way is never skipped and order on
//! the stream is kept. Messages are acknowledged only after their transaction committed; a
//! redelivery at or below the checkpoint is acknowledged and ignored.
//!
//! No message can stop a projection. An error caused by a message's content (it does not
//! parse, fails verification, or PostgreSQL refuses what it would write: any SQLSTATE outside
//! the connection, resource, serialization, operator-intervention and system classes) rejects
//! that message into `projection_rejected`, with PostgreSQL's own words, and the stream moves
//! on. When the writes a projector gathers over a fetch (`flush`) are refused, the fetch is
//! rolled back and applied again one message at a time to find the one responsible. Only
//! infrastructure failures pause the projection, which then resumes from its checkpoint.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use async_nats::jetstream::{self, consumer, consumer::pull, stream::Stream};
use async_trait::async_trait;
use bytes::Bytes;
use deadpool_postgres::Pool;
use domain::bus::BusNames;
use futures::StreamExt;
use tokio_postgres::Transaction;
use tokio_util::sync::CancellationToken;

use crate::pg_error::{describe, is_infrastructure};

/// Which stream a projector reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `PGA_EVENTS`: domain events relayed from the event store.
    Events,
    /// `PGA_METRICS`: metric batches.
    Metrics,
}

impl Source {
    /// The stream name under a deployment prefix.
    pub fn stream_name(self, names: &BusNames) -> String {
        match self {
            Self::Events => names.events_stream(),
            Self::Metrics => names.metrics_stream(),
        }
    }
}

/// One message as a projector sees it.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// Its sequence in the stream.
    pub stream_sequence: u64,
    /// Its subject.
    pub subject: String,
    /// Its headers, if any.
    pub headers: Option<async_nats::HeaderMap>,
    /// Its body.
    pub payload: Bytes,
    /// When JetStream stored it.
    pub published: chrono::DateTime<chrono::Utc>,
}

/// Why a projector did not apply a message.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The message can never be applied (malformed, unknown, failed verification): it is
    /// recorded in `projection_rejected` with this reason and acknowledged.
    #[error("rejected: {0}")]
    Reject(String),
    /// The database failed. An error caused by the message (see [`is_infrastructure`])
    /// rejects it; an infrastructure failure stops the batch, which is retried.
    #[error("database: {}", describe(.0))]
    Db(#[from] tokio_postgres::Error),
}

/// See [`Projector::keep`].
#[derive(Debug, Clone, Default)]
pub struct Keep {
    /// What is kept, in words (the replay's plan says it before it starts).
    pub what: String,
    /// Run on its own, before the switch-over (slow work under weak locks).
    pub prepare: Vec<String>,
    /// Run in the switch-over transaction, after the catch-up, before the tables swap.
    pub merge: Vec<String>,
}

/// A projection: a read model and how messages change it.
#[async_trait]
pub trait Projector: Send + Sync + 'static {
    /// Stable name: checkpoint key, consumer name and `pganalytics replay` argument.
    fn name(&self) -> &'static str;
    /// The stream it reads.
    fn source(&self) -> Source;
    /// The tables it owns; `replay` rebuilds exactly these.
    fn tables(&self) -> &'static [&'static str];
    /// Applies one message inside the batch transaction. Unqualified table names only: replay
    /// runs the same code with `search_path` pointing at fresh tables.
    async fn apply(&self, tx: &Transaction<'_>, message: &Delivered) -> Result<(), ApplyError>;

    /// DDL creating this projection's tables in `schema` for a replay, when
    /// `CREATE TABLE … (LIKE … INCLUDING ALL)` is not enough (partitioned tables).
    fn replay_ddl(&self, _schema: &str) -> Option<String> {
        None
    }

    /// What a replay keeps of the live tables that its streams can no longer rebuild: what
    /// was built from messages published before `cutoff`, which are gone. `planned` is the
    /// cutoff when the replay began (`cutoff` is later when messages aged out of the stream
    /// while it ran): `prepare` (SQL run one statement at a time before the switch-over,
    /// without blocking the live tables) keeps what is older than `planned`, `merge` (run in
    /// the switch-over, after the catch-up) the rest. The rebuilt tables are in `schema`.
    /// `None`: the projection keeps nothing, and a replay from a stream that lost its
    /// beginning is refused.
    fn keep(
        &self,
        _schema: &str,
        _planned: chrono::DateTime<chrono::Utc>,
        _cutoff: chrono::DateTime<chrono::Utc>,
    ) -> Option<Keep> {
        None
    }

    /// Called when work it did was rolled back, so in-memory caches can forget it.
    fn rolled_back(&self) {}

    /// Called once per batch, after every message was applied and before the checkpoint moves,
    /// in the same transaction: writes what a projector accumulates across messages (rollups).
    async fn flush(&self, _tx: &Transaction<'_>) -> Result<(), tokio_postgres::Error> {
        Ok(())
    }
}

/// Why a runner pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// PostgreSQL failed.
    #[error("database: {}", describe(.0))]
    Db(#[from] tokio_postgres::Error),
    /// PostgreSQL refused the writes a projector gathered over a batch of messages (`flush`)
    /// for their content: one of the messages is responsible, and is looked for one by one.
    #[error("database refused the batch's writes: {}", describe(.0))]
    FlushRefused(tokio_postgres::Error),
    /// No connection from the pool.
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// JetStream failed.
    #[error("jetstream: {0}")]
    Bus(String),
    /// A message was delivered past one that was never delivered (a pull consumer may drop
    /// messages client-side and redeliver them later, out of order). Nothing past the gap was
    /// applied; the consumer is reopened from the checkpoint.
    #[error("delivery gap after stream sequence {0}; resuming from there")]
    Gap(u64),
    /// A replay that would lose history; nothing was changed.
    #[error("{0}")]
    Refused(String),
}

/// A consumer nobody fetched from for this long is removed by JetStream (its worker is gone).
pub const CONSUMER_INACTIVE: Duration = Duration::from_secs(120);

/// How long past its `expires` a pull is waited for before it is ended here.
const FETCH_GRACE: Duration = Duration::from_millis(250);

/// Metric batches one partition's runner fetches at once. A 2,000-point batch is ~200 KB on the
/// stream and over 1 MB parsed, and every partition has two runners: the fetch shrinks as the
/// partitions grow, keeping about 64 batches in flight per projection (16 partitions: 4 each),
/// between 4 and 32 per fetch.
pub fn metrics_fetch_size(partitions: u16) -> usize {
    (64 / usize::from(partitions.max(1))).clamp(4, 32)
}

/// The checkpoint key of a projection's metric partition: `<name>.p<NN>`.
pub fn partition_key(name: &str, partition: u16) -> String {
    format!("{name}.p{partition:02}")
}

fn bus(e: impl std::fmt::Display) -> RunError {
    RunError::Bus(e.to_string())
}

/// Drives one projector.
#[derive(Clone)]
pub struct Runner {
    pub(crate) pool: Pool,
    pub(crate) jetstream: jetstream::Context,
    pub(crate) names: BusNames,
    pub(crate) projector: Arc<dyn Projector>,
    /// Its checkpoint's key: the projector's name, or `<name>.p<NN>` for one metric partition.
    pub(crate) key: String,
    /// The stream it reads.
    pub(crate) stream_name: String,
    /// `Some(schema)` while replaying into fresh tables.
    pub(crate) schema: Option<String>,
    /// Its own consumer: no other runner ever deletes or reads it.
    pub(crate) consumer_name: String,
    pub(crate) batch_size: usize,
    /// The checkpoint at which the last gap was seen: when the reopened consumer's first
    /// message still lies past it, the messages in between are gone from the stream (limits,
    /// purge) and the gap is accepted once.
    pub(crate) gap_at: Arc<std::sync::Mutex<Option<u64>>>,
}

impl Runner {
    /// A runner for the live tables, on the projector's stream (for a metrics projector, the
    /// unpartitioned stream of earlier versions).
    pub fn new(
        pool: Pool,
        jetstream: jetstream::Context,
        names: BusNames,
        projector: Arc<dyn Projector>,
    ) -> Self {
        let key = projector.name().to_owned();
        let stream_name = projector.source().stream_name(&names);
        Self::on(pool, jetstream, names, projector, key, stream_name)
    }

    /// A runner for one metric partition: stream `PGA_METRICS_P<NN>`, checkpoint
    /// `<name>.p<NN>`.
    pub fn partition(
        pool: Pool,
        jetstream: jetstream::Context,
        names: BusNames,
        projector: Arc<dyn Projector>,
        partition: u16,
    ) -> Self {
        let key = partition_key(projector.name(), partition);
        let stream_name = names.metrics_partition_stream(partition);
        let batch_size = metrics_fetch_size(names.partitions());
        let mut runner = Self::on(pool, jetstream, names, projector, key, stream_name);
        runner.batch_size = batch_size;
        runner
    }

    fn on(
        pool: Pool,
        jetstream: jetstream::Context,
        names: BusNames,
        projector: Arc<dyn Projector>,
        key: String,
        stream_name: String,
    ) -> Self {
        let consumer_name = names.consumer(&key);
        let source = projector.source();
        Self {
            pool,
            jetstream,
            names,
            projector,
            key,
            stream_name,
            schema: None,
            consumer_name,
            // Metric batches are large (a 2,000-point batch is ~200 KB, over 1 MB parsed): fetch
            // fewer at once to bound memory; domain events are small. 32 rather than 16 made
            // saturated ingest a quarter faster for ~40 MiB more at the peak (docs/benchmarks.md).
            batch_size: match source {
                Source::Events => 500,
                Source::Metrics => 32,
            },
            gap_at: Arc::new(std::sync::Mutex::new(None)),
        }
    }

    /// The projector's name.
    pub fn name(&self) -> &'static str {
        self.projector.name()
    }

    /// Its checkpoint's key (the name, or `<name>.p<NN>` for a metric partition).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Gives the runner a consumer of its own, named after `owner` (a worker): runners of
    /// different workers never delete each other's consumers.
    #[must_use]
    pub fn owned_by(mut self, owner: &str) -> Self {
        self.consumer_name = self.names.consumer(&format!("{}.{owner}", self.key));
        self
    }

    /// Runs until `shutdown`, recovering from every failure by backing off and resuming from
    /// the checkpoint. PostgreSQL down: nothing is acknowledged, nothing is lost.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(200);
        loop {
            let started = tokio::time::Instant::now();
            match self.consume(&shutdown).await {
                Ok(()) => return,
                Err(RunError::Gap(at)) => {
                    tracing::info!(
                        projection = self.name(),
                        after = at,
                        "delivery gap; reopening the consumer"
                    );
                    continue;
                }
                Err(e) => {
                    tracing::warn!(projection = self.name(), error = %e, retry_in = ?backoff,
                        "projector paused; will resume from its checkpoint");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = shutdown.cancelled() => return,
            }
            // A pass that ran a while worked: the next failure is a new one, not more of the same.
            backoff = if started.elapsed() > Duration::from_secs(10) {
                Duration::from_millis(200)
            } else {
                (backoff * 2).min(Duration::from_secs(5))
            };
        }
    }

    async fn consume(&self, shutdown: &CancellationToken) -> Result<(), RunError> {
        let consumer = self.open_consumer().await?;
        loop {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            let messages = tokio::select! {
                m = self.fetch(&consumer, Duration::from_millis(500)) => m?,
                () = shutdown.cancelled() => return Ok(()),
            };
            if messages.is_empty() {
                continue;
            }
            self.apply_and_ack(messages).await?;
        }
    }

    /// Whether stream sequence `seq` is no longer in the stream (removed by its age limit).
    async fn gone_from_stream(&self, seq: u64) -> Result<bool, RunError> {
        let mut stream = self.stream().await?;
        let info = stream.info().await.map_err(bus)?;
        Ok(info.state.first_sequence > seq)
    }

    pub(crate) async fn stream(&self) -> Result<Stream, RunError> {
        self.jetstream
            .get_stream(&self.stream_name)
            .await
            .map_err(bus)
    }

    /// (Re)creates its own consumer so that it delivers from `checkpoint + 1`. Only this
    /// runner uses that name; a consumer left by a worker that died is removed by JetStream
    /// after [`CONSUMER_INACTIVE`] without a fetch.
    pub(crate) async fn open_consumer(&self) -> Result<consumer::Consumer<pull::Config>, RunError> {
        let checkpoint = self.checkpoint().await?;
        let stream = self.stream().await?;
        // Not found is the normal case on first start; any other failure shows up on create.
        let _ = stream.delete_consumer(&self.consumer_name).await;
        stream
            .create_consumer(pull::Config {
                durable_name: Some(self.consumer_name.clone()),
                description: Some(format!("pgAnalytics projection {}", self.name())),
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: checkpoint + 1,
                },
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(60),
                max_ack_pending: 20_000,
                inactive_threshold: CONSUMER_INACTIVE,
                ..Default::default()
            })
            .await
            .map_err(bus)
    }

    pub(crate) async fn fetch(
        &self,
        consumer: &consumer::Consumer<pull::Config>,
        expires: Duration,
    ) -> Result<Vec<jetstream::Message>, RunError> {
        let mut batch = consumer
            .fetch()
            .max_messages(self.batch_size)
            .expires(expires)
            .messages()
            .await
            .map_err(bus)?;
        // The client library ends a pull whose closing status it never sees only 5 s after
        // `expires`, holding what already arrived that long (batches 5 s late). The pull ends
        // here at `expires` and a little more; a message that arrives after it is delivered to
        // a closed inbox, and the next pull's gap check reopens the consumer at the checkpoint.
        let deadline = tokio::time::Instant::now() + expires + FETCH_GRACE;
        let mut out = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, batch.next()).await {
                Ok(Some(Ok(m))) => out.push(m),
                // A status that ends the pull after some messages: apply what arrived (strict
                // ordering takes care of anything the server will redeliver).
                Ok(Some(Err(_))) if !out.is_empty() => break,
                Ok(Some(Err(e))) => return Err(bus(e)),
                Ok(None) => break,
                Err(_) => {
                    tracing::debug!(
                        projection = self.name(),
                        messages = out.len(),
                        "a pull ended by its deadline, without the server's closing status"
                    );
                    break;
                }
            }
        }
        Ok(out)
    }

    pub(crate) async fn apply_and_ack(
        &self,
        messages: Vec<jetstream::Message>,
    ) -> Result<(), RunError> {
        let delivered = messages
            .iter()
            .map(to_delivered)
            .collect::<Result<Vec<_>, _>>()?;
        let mut client = self.pool.get().await?;
        let mut tx = client.transaction().await?;
        // What a rolled-back pass learnt about gaps is forgotten with it: a gap is accepted as
        // "gone from the stream" only after a pass that saw it committed.
        let gap_before = *self.gap_at.lock().unwrap_or_else(PoisonError::into_inner);
        let forget_gap =
            || *self.gap_at.lock().unwrap_or_else(PoisonError::into_inner) = gap_before;
        let (upto, gap) = match self.apply_batch(&mut tx, &delivered).await {
            Ok(checkpoint) => (checkpoint, None),
            // Everything before the gap was applied: keep it.
            Err(RunError::Gap(at)) => (at, Some(at)),
            Err(RunError::FlushRefused(e)) => {
                drop(tx);
                self.projector.rolled_back();
                forget_gap();
                tracing::warn!(projection = self.name(), error = %describe(&e),
                    messages = delivered.len(),
                    "the batch's writes were refused; applying its messages one at a time to find the one responsible");
                drop(client);
                return self.apply_one_by_one(&messages, &delivered).await;
            }
            Err(e) => {
                drop(tx);
                self.projector.rolled_back();
                forget_gap();
                return Err(e);
            }
        };
        if let Err(e) = tx.commit().await {
            self.projector.rolled_back();
            forget_gap();
            return Err(e.into());
        }
        for (message, d) in messages.iter().zip(&delivered) {
            if d.stream_sequence > upto {
                continue;
            }
            // A lost ack only causes a redelivery, which the checkpoint absorbs.
            if let Err(e) = message.ack().await {
                tracing::debug!(projection = self.name(), error = %e, "ack failed");
            }
        }
        match gap {
            Some(at) => Err(RunError::Gap(at)),
            None => Ok(()),
        }
    }

    /// After a batch's writes were refused: each message in a transaction of its own, so the
    /// one whose writes PostgreSQL refuses is rejected alone and every other one is applied.
    async fn apply_one_by_one(
        &self,
        messages: &[jetstream::Message],
        delivered: &[Delivered],
    ) -> Result<(), RunError> {
        for (message, d) in messages.iter().zip(delivered) {
            let mut client = self.pool.get().await?;
            let mut tx = client.transaction().await?;
            match self.apply_batch(&mut tx, std::slice::from_ref(d)).await {
                Ok(_) => tx.commit().await?,
                Err(RunError::Gap(at)) => {
                    tx.commit().await?;
                    return Err(RunError::Gap(at));
                }
                Err(RunError::FlushRefused(e)) => {
                    drop(tx);
                    self.projector.rolled_back();
                    let reason = format!("database refused: {}", describe(&e));
                    tracing::warn!(projection = self.name(), seq = d.stream_sequence,
                        %reason, "message rejected");
                    let tx = client.transaction().await?;
                    let checkpoint = lock_checkpoint(&tx, &self.key).await?;
                    if d.stream_sequence > checkpoint {
                        record_rejection(&tx, &self.key, d, &reason, e.code()).await?;
                        save_checkpoint(&tx, &self.key, d.stream_sequence).await?;
                    }
                    tx.commit().await?;
                }
                Err(e) => {
                    drop(tx);
                    self.projector.rolled_back();
                    return Err(e);
                }
            }
            if let Err(e) = message.ack().await {
                tracing::debug!(projection = self.name(), error = %e, "ack failed");
            }
        }
        Ok(())
    }

    /// Applies already-fetched messages in one transaction of their own and returns the new
    /// checkpoint; messages at or below the checkpoint change nothing. (Tools and tests feed
    /// messages this way; the live loop does the same with acknowledgements.)
    ///
    /// # Errors
    /// [`RunError`] when PostgreSQL fails; nothing is then applied.
    pub async fn apply_messages(&self, messages: &[Delivered]) -> Result<u64, RunError> {
        let mut client = self.pool.get().await?;
        let mut tx = client.transaction().await?;
        let result = self.apply_batch(&mut tx, messages).await;
        if matches!(result, Ok(_) | Err(RunError::Gap(_))) {
            tx.commit().await?;
        }
        result
    }

    /// Applies messages in an open transaction and moves the checkpoint; returns the new
    /// checkpoint. Used by live runs and by replay's final catch-up.
    // Over 60 lines on purpose: one transaction: apply, flush, checkpoint, and the per-message retry when the flush is refused.
    pub(crate) async fn apply_batch(
        &self,
        tx: &mut Transaction<'_>,
        messages: &[Delivered],
    ) -> Result<u64, RunError> {
        if let Some(schema) = &self.schema {
            tx.batch_execute(&format!("SET LOCAL search_path TO {schema}, public"))
                .await?;
        }
        let name = self.key.as_str();
        let mut checkpoint = lock_checkpoint(tx, name).await?;
        let mut gap = None;
        for message in messages {
            if message.stream_sequence <= checkpoint {
                continue;
            }
            if message.stream_sequence != checkpoint + 1 {
                // Apply strictly in stream order: a message past a missing one waits until the
                // missing one is redelivered, unless it is gone from the stream (aged out).
                // Seen twice at the same checkpoint is not proof enough: a pull ended by its
                // deadline can drop the same message twice; the stream's first sequence is.
                let seen_before = *self
                    .gap_at
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    == Some(checkpoint);
                let gone = seen_before && self.gone_from_stream(checkpoint + 1).await?;
                let mut seen = self
                    .gap_at
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if gone {
                    *seen = None;
                } else {
                    *seen = Some(checkpoint);
                    gap = Some(checkpoint);
                    break;
                }
            }
            let savepoint = tx.savepoint("pga_message").await?;
            match self.projector.apply(&savepoint, message).await {
                Ok(()) => savepoint.commit().await?,
                Err(error) => {
                    // Projectors update their caches only once a message's writes succeeded,
                    // so rolling back this one message leaves nothing to forget.
                    savepoint.rollback().await?;
                    let (reason, code) = match error {
                        ApplyError::Reject(reason) => (reason, None),
                        ApplyError::Db(e) if !is_infrastructure(&e) => (
                            format!("database refused: {}", describe(&e)),
                            e.code().cloned(),
                        ),
                        ApplyError::Db(e) => return Err(RunError::Db(e)),
                    };
                    tracing::warn!(projection = name, seq = message.stream_sequence, %reason,
                        "message rejected");
                    record_rejection(tx, name, message, &reason, code.as_ref()).await?;
                }
            }
            checkpoint = message.stream_sequence;
        }
        self.projector.flush(tx).await.map_err(|e| {
            if is_infrastructure(&e) {
                RunError::Db(e)
            } else {
                RunError::FlushRefused(e)
            }
        })?;
        save_checkpoint(tx, name, checkpoint).await?;
        match gap {
            // What came before the gap is committed by the caller; the rest is redelivered.
            Some(at) => Err(RunError::Gap(at)),
            None => Ok(checkpoint),
        }
    }

    /// The checkpoint of this runner's tables.
    pub(crate) async fn checkpoint(&self) -> Result<u64, RunError> {
        let client = self.pool.get().await?;
        let table = match &self.schema {
            Some(schema) => format!("{schema}.projection_checkpoints"),
            None => "public.projection_checkpoints".to_owned(),
        };
        let row = client
            .query_opt(
                &format!("SELECT stream_sequence FROM {table} WHERE projection = $1"),
                &[&self.key],
            )
            .await?;
        Ok(row
            .map(|r| u64::try_from(r.get::<_, i64>(0)).unwrap_or(0))
            .unwrap_or(0))
    }
}

pub(crate) fn to_delivered(message: &jetstream::Message) -> Result<Delivered, RunError> {
    let info = message.info().map_err(bus)?;
    Ok(Delivered {
        stream_sequence: info.stream_sequence,
        subject: message.subject.to_string(),
        headers: message.headers.clone(),
        payload: message.payload.clone(),
        published: chrono::DateTime::from_timestamp(
            info.published.unix_timestamp(),
            info.published.nanosecond(),
        )
        .unwrap_or_else(chrono::Utc::now),
    })
}

/// Takes the projection's checkpoint row lock (serializing with a replay switching it over)
/// and returns the checkpoint.
async fn lock_checkpoint(tx: &Transaction<'_>, name: &str) -> Result<u64, tokio_postgres::Error> {
    tx.execute(
        "INSERT INTO projection_checkpoints (projection) VALUES ($1) ON CONFLICT DO NOTHING",
        &[&name],
    )
    .await?;
    let row = tx
        .query_one(
            "SELECT stream_sequence FROM projection_checkpoints WHERE projection = $1 FOR UPDATE",
            &[&name],
        )
        .await?;
    Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
}

async fn save_checkpoint(
    tx: &Transaction<'_>,
    name: &str,
    checkpoint: u64,
) -> Result<(), tokio_postgres::Error> {
    let seq = i64::try_from(checkpoint).unwrap_or(i64::MAX);
    tx.execute(
        "UPDATE projection_checkpoints SET stream_sequence = $2, updated_at = now()
          WHERE projection = $1",
        &[&name, &seq],
    )
    .await?;
    Ok(())
}

/// The collector and batch id a metrics message claims to be from, for a person reading a
/// rejection (unverified: the message may be the forgery that was rejected).
fn claimed_origin(message: &Delivered) -> (Option<String>, Option<String>) {
    #[derive(serde::Deserialize)]
    struct Claimed {
        batch_id: Option<serde_json::Value>,
    }
    let collector = match domain::bus::parse_metrics_subject(&message.subject) {
        Some((_, id)) => id,
        None => match message.subject.rsplit_once(".metrics.") {
            Some((_, id)) => id,
            None => return (None, None),
        },
    };
    let batch = domain::metrics::compact::claimed_batch_id(&message.payload).or_else(|| {
        serde_json::from_slice::<Claimed>(&message.payload)
            .ok()
            .and_then(|c| c.batch_id)
            .map(|b| match b {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
    });
    let cut = |s: String| printable(&s.chars().take(200).collect::<String>());
    (Some(cut(collector.to_owned())), batch.map(cut))
}

/// Text PostgreSQL will store: a NUL, which `text` refuses, becomes U+FFFD (a rejection that
/// could not be recorded would stop the projection it is meant to protect).
fn printable(s: &str) -> String {
    s.replace('\0', "\u{FFFD}")
}

/// Records a message a projection will never apply, with the reason and, when PostgreSQL
/// refused it, the SQLSTATE.
pub(crate) async fn record_rejection(
    tx: &Transaction<'_>,
    projection: &str,
    message: &Delivered,
    reason: &str,
    sqlstate: Option<&tokio_postgres::error::SqlState>,
) -> Result<(), tokio_postgres::Error> {
    let seq = i64::try_from(message.stream_sequence).unwrap_or(i64::MAX);
    let (collector, batch) = claimed_origin(message);
    let sqlstate = sqlstate.map(|c| c.code().to_owned());
    let reason = printable(reason);
    // NATS does not check subjects' bytes: a NUL in one must not make the record fail.
    let subject = printable(&message.subject);
    // Kept for a person to read (a compact batch as JSON); a huge payload is cut rather than
    // refused.
    let mut payload = domain::metrics::compact::readable(&message.payload)
        .unwrap_or_else(|| String::from_utf8_lossy(&message.payload).into_owned());
    if payload.len() > 64 * 1024 {
        let mut cut = 64 * 1024;
        while !payload.is_char_boundary(cut) {
            cut -= 1;
        }
        payload.truncate(cut);
    }
    let payload = printable(&payload);
    tx.execute(
        "INSERT INTO projection_rejected
            (projection, stream_sequence, subject, reason, payload, sqlstate, collector_id, batch_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        &[
            &projection,
            &seq,
            &subject,
            &reason,
            &payload,
            &sqlstate,
            &collector,
            &batch,
        ],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod fetch_size_tests {
    #[test]
    fn fetches_shrink_as_partitions_grow() {
        use super::metrics_fetch_size as size;
        assert_eq!(
            (size(1), size(2), size(4), size(16), size(64)),
            (32, 32, 16, 4, 4)
        );
    }
}
