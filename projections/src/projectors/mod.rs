//! One projector per read model. Domain-event projectors implement [`EventProjector`] and are
//! wrapped by [`EventProjection`], which parses the envelope and applies each aggregate event
//! once, however often it is delivered.

mod audit;
mod collector_activity;
mod collectors;
mod managed_instances;
mod metric_batch;
mod metric_samples;
mod registration_secrets;
mod users;

use std::sync::Arc;

use async_trait::async_trait;
use domain::StoredEvent;
use tokio_postgres::Transaction;

pub use audit::AuditLog;
pub use collector_activity::{CollectorActivity, TOKEN_HEADER};
pub use collectors::Collectors;
pub use managed_instances::ManagedInstances;
pub use metric_batch::ParsedBatches;
pub use metric_samples::{
    partition_ddl, partition_name, series_id, MetricSamples, HOUR_BUILD_GRACE,
};
pub use registration_secrets::RegistrationSecrets;
pub use users::Users;

use crate::runtime::{ApplyError, Delivered, Projector, Source};

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
    /// Applies one event. Events of aggregates it does not care about return `Ok(())`.
    async fn apply_event(
        &self,
        tx: &Transaction<'_>,
        event: &StoredEvent,
    ) -> Result<(), ApplyError>;
}

/// Adapts an [`EventProjector`] to the runtime: envelope parsing and per-aggregate positions.
pub struct EventProjection<P>(pub P);

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

    async fn apply(&self, tx: &Transaction<'_>, message: &Delivered) -> Result<(), ApplyError> {
        let event: StoredEvent = serde_json::from_slice(&message.payload)
            .map_err(|e| ApplyError::Reject(format!("not a stored event: {e}")))?;
        if event.kind().is_none() {
            return Err(ApplyError::Reject(format!(
                "unknown aggregate type {:?}",
                event.aggregate_type
            )));
        }
        let applied = tx
            .query_opt(
                "SELECT sequence FROM projection_positions
                  WHERE projection = $1 AND aggregate_type = $2 AND aggregate_id = $3",
                &[&P::NAME, &event.aggregate_type, &event.aggregate_id],
            )
            .await?
            .map(|r| r.get::<_, i64>(0));
        if applied.is_some_and(|seq| seq >= event.sequence) {
            // Republished after the duplicate window, or replayed: already in the read model.
            return Ok(());
        }
        self.0.apply_event(tx, &event).await?;
        if P::NOTIFY {
            let change =
                serde_json::json!({"kind": event.aggregate_type, "id": event.aggregate_id});
            tx.execute(
                "SELECT pg_notify('pga_changes', $1)",
                &[&change.to_string()],
            )
            .await?;
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

/// Every domain-event projection, in the order they are started.
pub fn event_projectors() -> Vec<Arc<dyn Projector>> {
    vec![
        Arc::new(EventProjection(Users)),
        Arc::new(EventProjection(ManagedInstances)),
        Arc::new(EventProjection(Collectors)),
        Arc::new(EventProjection(RegistrationSecrets)),
        Arc::new(EventProjection(AuditLog)),
    ]
}

/// Every projection: the domain-event ones and those fed by metric batches, which verify each
/// batch's collector token with `verifier`.
pub fn all_projectors(
    verifier: Arc<dyn domain::collector::CollectorTokenVerifier>,
    storage: StorageLimits,
) -> Vec<Arc<dyn Projector>> {
    let mut all = event_projectors();
    // Both metrics projectors read every batch: one parse serves them both.
    let parsed = ParsedBatches::new(2);
    all.push(Arc::new(CollectorActivity::new(
        verifier.clone(),
        parsed.clone(),
    )));
    all.push(Arc::new(MetricSamples::new(
        verifier,
        parsed,
        storage.retention_days,
        storage.max_series_per_collector,
    )));
    all
}

/// Limits of metric storage.
#[derive(Debug, Clone, Copy)]
pub struct StorageLimits {
    /// Days of raw samples kept.
    pub retention_days: u32,
    /// Series one collector may have; new ones past it are refused and counted.
    pub max_series_per_collector: usize,
}

/// Names of the projections a command must wait for (read-your-writes).
pub fn event_projection_names() -> Vec<&'static str> {
    vec![
        Users::NAME,
        ManagedInstances::NAME,
        Collectors::NAME,
        RegistrationSecrets::NAME,
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
