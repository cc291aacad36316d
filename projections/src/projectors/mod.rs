//! One projector per read model. Domain-event projectors implement [`EventProjector`] and are
//! wrapped by [`EventProjection`], which parses the envelope and applies each aggregate event
//! once and in its aggregate's order, however often and in whatever order it is delivered: an
//! event that arrives before its predecessor is parked (`projection_parked`) until the
//! predecessor is applied, never skipped.

mod alerting;
mod audit;
mod collector_activity;
mod collectors;
pub mod fleet;
mod managed_instances;
mod metric_batch;
mod metric_samples;
mod registration_secrets;
mod users;

use std::sync::Arc;

use async_trait::async_trait;
use domain::signature::{EventSeal, SignatureError, SIGNATURE_HEADER};
use domain::{AggregateKind, StoredEvent};
use tokio_postgres::Transaction;

pub use alerting::Alerting;
pub use audit::AuditLog;
pub use collector_activity::{CollectorActivity, TOKEN_HEADER};
pub use collectors::Collectors;
pub use managed_instances::ManagedInstances;
pub use metric_batch::ParsedBatches;
pub use metric_samples::{partition_ddl, partition_name, MetricSamples, HOUR_BUILD_GRACE};
pub use registration_secrets::RegistrationSecrets;
pub use users::Users;

use crate::pg_error::{describe, is_infrastructure};
use crate::runtime::{record_rejection, ApplyError, Delivered, Projector, Source};

/// A projector of domain events.
#[async_trait]
pub trait EventProjector: Send + Sync + 'static {
    /// See [`Projector::name`].
    const NAME: &'static str;
    /// See [`Projector::tables`].
    const TABLES: &'static [&'static str];
    /// Whether applying an event tells live dashboards (`NOTIFY pga_changes`, delivered on
    /// commit) that this entity changed.
    const NOTIFY: bool = true;
    /// Where this projection keeps every version of its entities, for `as_of` and diffs.
    const HISTORY: Option<HistorySpec> = None;
    /// Applies one event. Events of aggregates it does not care about return `Ok(())`.
    async fn apply_event(
        &self,
        tx: &Transaction<'_>,
        event: &StoredEvent,
    ) -> Result<(), ApplyError>;
}

/// Adapts an [`EventProjector`] to the runtime: the relay's signature, envelope parsing and
/// per-aggregate positions.
pub struct EventProjection<P> {
    inner: P,
    seal: EventSeal,
    /// The stream sequence from which every event is signed, once read.
    signed_from: std::sync::OnceLock<u64>,
}

impl<P: EventProjector> EventProjection<P> {
    /// A projection applying only events signed under `seal`.
    pub fn new(inner: P, seal: EventSeal) -> Self {
        Self {
            inner,
            seal,
            signed_from: std::sync::OnceLock::new(),
        }
    }

    /// Accepts a message signed by the relay, or an unsigned one an earlier version published
    /// before signing began; rejects anything else (a forged or altered event).
    async fn check_signature(
        &self,
        tx: &Transaction<'_>,
        message: &Delivered,
    ) -> Result<(), ApplyError> {
        let signature = message
            .headers
            .as_ref()
            .and_then(|h| h.get(SIGNATURE_HEADER))
            .map(|v| v.as_str());
        let error = match self
            .seal
            .verify(&message.subject, &message.payload, signature)
        {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if error == SignatureError::Missing {
            let since = match self.signed_from.get() {
                Some(since) => Some(*since),
                None => {
                    let row = tx
                        .query_opt("SELECT since_stream_sequence FROM event_signing", &[])
                        .await?;
                    row.map(|r| {
                        let since = u64::try_from(r.get::<_, i64>(0)).unwrap_or(0);
                        *self.signed_from.get_or_init(|| since)
                    })
                }
            };
            // Not recorded yet: no relay has signed anything, so nothing unsigned is trusted.
            if since.is_some_and(|since| message.stream_sequence < since) {
                return Ok(());
            }
        }
        Err(ApplyError::Reject(error.to_string()))
    }
}

#[async_trait]
impl<P: EventProjector> Projector for EventProjection<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }

    fn source(&self) -> Source {
        Source::Events
    }

    fn tables(&self) -> &'static [&'static str] {
        P::TABLES
    }

    // Over 60 lines on purpose: the ordering rules (park, apply, release) of an event projection in one place.
    async fn apply(&self, tx: &Transaction<'_>, message: &Delivered) -> Result<(), ApplyError> {
        self.check_signature(tx, message).await?;
        let event: StoredEvent = serde_json::from_slice(&message.payload)
            .map_err(|e| ApplyError::Reject(format!("not a stored event: {e}")))?;
        if event.kind().is_none() {
            return Err(ApplyError::Reject(format!(
                "unknown aggregate type {:?}",
                event.aggregate_type
            )));
        }
        if event.sequence < 1 {
            return Err(ApplyError::Reject(format!(
                "aggregate sequence {} is not positive",
                event.sequence
            )));
        }
        let applied = tx
            .query_opt(
                "SELECT sequence FROM projection_positions
                  WHERE projection = $1 AND aggregate_type = $2 AND aggregate_id = $3",
                &[&P::NAME, &event.aggregate_type, &event.aggregate_id],
            )
            .await?
            .map_or(0, |r| r.get::<_, i64>(0));
        if event.sequence <= applied {
            // Republished after the duplicate window, or replayed: already in the read model.
            return Ok(());
        }
        if event.sequence > applied + 1 {
            // Its predecessor has not arrived yet (it was published again after a failed
            // acknowledgement, behind this one): wait for it instead of skipping it.
            tracing::info!(projection = P::NAME, aggregate = %event.aggregate_type,
                id = %event.aggregate_id, sequence = event.sequence, applied,
                "event arrived before its predecessor; parked until it comes");
            tx.execute(
                "INSERT INTO projection_parked
                    (projection, aggregate_type, aggregate_id, sequence, stream_sequence, subject, payload)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                &[
                    &P::NAME,
                    &event.aggregate_type,
                    &event.aggregate_id,
                    &event.sequence,
                    &i64::try_from(message.stream_sequence).unwrap_or(i64::MAX),
                    &message.subject,
                    &message.payload.as_ref(),
                ],
            )
            .await?;
            return Ok(());
        }
        self.apply_in_order(tx, &event, message).await?;
        // Successors that arrived early follow, in order.
        let mut next = event.sequence + 1;
        while let Some(row) = tx
            .query_opt(
                "DELETE FROM projection_parked
                  WHERE projection = $1 AND aggregate_type = $2 AND aggregate_id = $3 AND sequence = $4
                  RETURNING stream_sequence, subject, payload",
                &[&P::NAME, &event.aggregate_type, &event.aggregate_id, &next],
            )
            .await?
        {
            let payload: Vec<u8> = row.get(2);
            // It was verified and parsed when it arrived.
            let event: StoredEvent = serde_json::from_slice(&payload)
                .map_err(|e| ApplyError::Reject(format!("parked event does not parse: {e}")))?;
            let parked = Delivered {
                stream_sequence: u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
                subject: row.get(1),
                headers: None,
                payload: payload.into(),
                published: message.published,
            };
            self.apply_in_order(tx, &event, &parked).await?;
            next += 1;
        }
        Ok(())
    }
}

impl<P: EventProjector> EventProjection<P> {
    /// Applies the next event of its aggregate and moves the aggregate's position. An event
    /// the projector refuses for its content is recorded as rejected and its position still
    /// moves, so the aggregate's later events are not held back behind it.
    async fn apply_in_order(
        &self,
        tx: &Transaction<'_>,
        event: &StoredEvent,
        message: &Delivered,
    ) -> Result<(), ApplyError> {
        tx.batch_execute("SAVEPOINT pga_event").await?;
        let applied = match self.inner.apply_event(tx, event).await {
            Ok(()) => match &P::HISTORY {
                Some(history) => history.record(tx, event).await,
                None => Ok(()),
            },
            Err(e) => Err(e),
        };
        match applied {
            Ok(()) => {
                tx.batch_execute("RELEASE SAVEPOINT pga_event").await?;
                if P::NOTIFY {
                    let change =
                        serde_json::json!({"kind": event.aggregate_type, "id": event.aggregate_id});
                    tx.execute(
                        "SELECT pg_notify('pga_changes', $1)",
                        &[&change.to_string()],
                    )
                    .await?;
                }
            }
            Err(error) => {
                let (reason, code) = match error {
                    ApplyError::Reject(reason) => (reason, None),
                    ApplyError::Db(e) if !is_infrastructure(&e) => (
                        format!("database refused: {}", describe(&e)),
                        e.code().cloned(),
                    ),
                    ApplyError::Db(e) => return Err(ApplyError::Db(e)),
                };
                tx.batch_execute("ROLLBACK TO SAVEPOINT pga_event").await?;
                tracing::warn!(projection = P::NAME, seq = message.stream_sequence, %reason,
                    "event rejected");
                record_rejection(tx, P::NAME, message, &reason, code.as_ref()).await?;
            }
        }
        tx.execute(
            "INSERT INTO projection_positions (projection, aggregate_type, aggregate_id, sequence)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (projection, aggregate_type, aggregate_id)
             DO UPDATE SET sequence = excluded.sequence",
            &[
                &P::NAME,
                &event.aggregate_type,
                &event.aggregate_id,
                &event.sequence,
            ],
        )
        .await?;
        Ok(())
    }
}

/// Where a projection keeps its entities' versions: a table shaped like `rm_instance_history`
/// (see the history migration), one row per event of `kind`, holding the live row as the
/// projection left it. Written in the event's transaction from the live row itself, so a
/// version is what the live read model showed, never a second fold that could drift from it.
pub struct HistorySpec {
    /// The aggregate whose events make versions.
    pub kind: AggregateKind,
    /// The history table.
    pub table: &'static str,
    /// One `jsonb` column: the entity's state from the live tables (`$1` its id), no row once
    /// it is removed. It names its columns: never a secret (a hash), nor bookkeeping
    /// (`last_sequence`), nor what only observes (a connection test's time and latency).
    pub state: &'static str,
}

impl HistorySpec {
    /// Closes the entity's current version and opens the one `event` made. A version never
    /// starts before the previous one (clocks of several servers may disagree a little).
    async fn record(&self, tx: &Transaction<'_>, event: &StoredEvent) -> Result<(), ApplyError> {
        if event.kind() != Some(self.kind) {
            return Ok(());
        }
        let id = uuid_of(event)?;
        let state: Option<serde_json::Value> =
            tx.query_opt(self.state, &[&id]).await?.map(|r| r.get(0));
        let table = self.table;
        // An event that changed nothing kept makes no version (a background check's heartbeat
        // with the same outcome, every 15 minutes): the audit log lists every event, history
        // lists every change.
        let current: Option<Option<serde_json::Value>> = tx
            .query_opt(
                &format!("SELECT state FROM {table} WHERE id = $1 AND valid_to IS NULL"),
                &[&id],
            )
            .await?
            .map(|r| r.get(0));
        if current.is_some_and(|c| c == state) {
            return Ok(());
        }
        let closed = tx
            .query_opt(
                &format!(
                    "UPDATE {table} SET valid_to = greatest($2, valid_from)
                      WHERE id = $1 AND valid_to IS NULL AND sequence < $3
                      RETURNING valid_to"
                ),
                &[&id, &event.recorded_at, &event.sequence],
            )
            .await?
            .map(|r| r.get::<_, chrono::DateTime<chrono::Utc>>(0));
        let from = closed.map_or(event.recorded_at, |c| c.max(event.recorded_at));
        tx.execute(
            &format!(
                "INSERT INTO {table}
                    (id, sequence, valid_from, event_type, actor_kind, actor_id, actor_name, state)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING"
            ),
            &[
                &id,
                &event.sequence,
                &from,
                &event.event_type,
                &event.meta("actor_kind"),
                &event.meta("actor_id"),
                &event.meta("actor_name"),
                &state,
            ],
        )
        .await?;
        Ok(())
    }
}

/// Every domain-event projection, in the order they are started, each applying only events
/// signed under `seal`.
pub fn event_projectors(seal: &EventSeal) -> Vec<Arc<dyn Projector>> {
    vec![
        Arc::new(EventProjection::new(Users, seal.clone())),
        Arc::new(EventProjection::new(ManagedInstances, seal.clone())),
        Arc::new(EventProjection::new(Collectors, seal.clone())),
        Arc::new(EventProjection::new(RegistrationSecrets, seal.clone())),
        Arc::new(EventProjection::new(Alerting, seal.clone())),
        Arc::new(EventProjection::new(AuditLog, seal.clone())),
    ]
}

/// Every projection: the domain-event ones and those fed by metric batches, which verify each
/// batch's collector token with `verifier`.
pub fn all_projectors(
    verifier: Arc<dyn domain::collector::CollectorTokenVerifier>,
    seal: &EventSeal,
    storage: StorageLimits,
) -> Vec<Arc<dyn Projector>> {
    let mut all = event_projectors(seal);
    all.extend(metric_projectors(verifier, storage));
    all
}

/// A fresh set of the projections fed by metric batches, for one stream: each gathers its
/// writes over a fetch in memory, so two streams never share an instance. Both read every
/// batch; one parse serves them both.
pub fn metric_projectors(
    verifier: Arc<dyn domain::collector::CollectorTokenVerifier>,
    storage: StorageLimits,
) -> Vec<Arc<dyn Projector>> {
    // Parsed batches wait here for the slower of the two readers: room for two fetches.
    let parsed = ParsedBatches::with_room(
        2,
        2 * crate::runtime::metrics_fetch_size(storage.partitions),
    );
    vec![
        Arc::new(CollectorActivity::new(verifier.clone(), parsed.clone())),
        Arc::new(MetricSamples::new(
            verifier,
            parsed,
            storage.retention_days,
            storage.max_series_per_collector,
        )),
    ]
}

/// Limits of metric storage.
#[derive(Debug, Clone, Copy)]
pub struct StorageLimits {
    /// Days of raw samples kept.
    pub retention_days: u32,
    /// Series one collector may have; new ones past it are refused and counted.
    pub max_series_per_collector: usize,
    /// Metric partitions: each partition's projections fetch and keep parsed fewer batches
    /// when there are more of them ([`crate::runtime::metrics_fetch_size`]).
    pub partitions: u16,
}

/// Names of the projections a command must wait for (read-your-writes).
pub fn event_projection_names() -> Vec<&'static str> {
    vec![
        Users::NAME,
        ManagedInstances::NAME,
        Collectors::NAME,
        RegistrationSecrets::NAME,
        Alerting::NAME,
        AuditLog::NAME,
    ]
}

/// Decodes an event payload into an aggregate's event enum, rejecting what does not fit.
pub(crate) fn decode<E: serde::de::DeserializeOwned>(event: &StoredEvent) -> Result<E, ApplyError> {
    event.decode().map_err(|e| {
        ApplyError::Reject(format!(
            "{} v{} of {} does not decode: {e}",
            event.event_type, event.event_version, event.aggregate_type
        ))
    })
}

/// Parses an aggregate id that read models keep as a UUID.
pub(crate) fn uuid_of(event: &StoredEvent) -> Result<uuid::Uuid, ApplyError> {
    uuid::Uuid::parse_str(&event.aggregate_id).map_err(|_| {
        ApplyError::Reject(format!(
            "aggregate id {:?} is not a UUID",
            event.aggregate_id
        ))
    })
}
