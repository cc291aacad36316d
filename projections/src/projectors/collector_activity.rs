use std::sync::Arc;

use async_trait::async_trait;
use domain::collector::CollectorTokenVerifier;
use domain::metrics::{check_sample, parse_payload, MetricBatch};
use sha2::{Digest, Sha256};
use tokio_postgres::Transaction;

use crate::runtime::{ApplyError, Delivered, Projector, Source};

pub use domain::metrics::TOKEN_HEADER;

/// `rm_collector_activity`, `rm_collector_minutes`, `rm_applied_batches`: per collector the
/// last time it was heard from, data points in total and per minute. Every batch is verified
/// here, whichever path it came by: token signature and validity when it reached JetStream,
/// subject matching the token's collector, collector still registered. A batch that fails is
/// rejected with the reason and never counted.
pub struct CollectorActivity {
    verifier: Arc<dyn CollectorTokenVerifier>,
}

impl CollectorActivity {
    /// Verifies tokens with `verifier`.
    pub fn new(verifier: Arc<dyn CollectorTokenVerifier>) -> Self {
        Self { verifier }
    }
}

/// Checks a metric batch message and returns it; shared by every metrics projector.
///
/// # Errors
/// [`ApplyError::Reject`] with the reason, or the database error.
pub(crate) async fn verified_batch(
    verifier: &dyn CollectorTokenVerifier,
    tx: &Transaction<'_>,
    message: &Delivered,
) -> Result<MetricBatch, ApplyError> {
    let reject = |m: String| ApplyError::Reject(m);
    let subject_id = message
        .subject
        .rsplit_once(".metrics.")
        .map(|(_, id)| id.to_owned())
        .filter(|id| !id.is_empty() && !id.contains('.'))
        .ok_or_else(|| {
            reject(format!(
                "subject {} is not <prefix>.metrics.<collector_id>",
                message.subject
            ))
        })?;
    let token = message
        .headers
        .as_ref()
        .and_then(|h| h.get(TOKEN_HEADER))
        .map(|v| v.as_str().to_owned())
        .ok_or_else(|| reject(format!("no {TOKEN_HEADER} header")))?;
    let token_id = verifier
        .verify(&token, message.published)
        .map_err(|e| reject(format!("collector token refused: {e}")))?;
    if token_id != subject_id {
        return Err(reject(format!(
            "subject names collector {subject_id} but the token belongs to {token_id}"
        )));
    }
    // The bridge publishes the normalized batch; a collector on NATS may publish either wire
    // format. Both parse the same way, with the same content id the bridge derives.
    // Only a v3 payload (no batch id of its own) needs the digest.
    let content_id = || {
        Sha256::digest(&message.payload)
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let batch = parse_payload(&message.payload, content_id, message.published)
        .map_err(|e| reject(format!("not a metric batch: {e}")))?
        .batch;
    if batch.collector_id != subject_id {
        return Err(reject(format!(
            "batch says collector {} but was sent by {subject_id}",
            batch.collector_id
        )));
    }
    let id = uuid::Uuid::parse_str(&subject_id)
        .map_err(|_| reject(format!("collector id {subject_id:?} is not a UUID")))?;
    let exists = tx
        .query_opt("SELECT 1 FROM rm_collectors WHERE id = $1", &[&id])
        .await?
        .is_some();
    if !exists {
        return Err(reject(format!(
            "collector {subject_id} is deleted or unknown"
        )));
    }
    Ok(batch)
}

#[async_trait]
impl Projector for CollectorActivity {
    fn name(&self) -> &'static str {
        "collector_activity"
    }

    fn source(&self) -> Source {
        Source::Metrics
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "rm_collector_activity",
            "rm_collector_minutes",
            "rm_applied_batches",
        ]
    }

    async fn apply(&self, tx: &Transaction<'_>, message: &Delivered) -> Result<(), ApplyError> {
        let batch = verified_batch(self.verifier.as_ref(), tx, message).await?;
        let id = uuid::Uuid::parse_str(&batch.collector_id)
            .map_err(|e| ApplyError::Reject(e.to_string()))?;
        let fresh = tx
            .execute(
                "INSERT INTO rm_applied_batches (batch_id, collector_id) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                &[&batch.batch_id, &id],
            )
            .await?;
        if fresh == 0 {
            return Ok(()); // already counted
        }
        // Samples that came over NATS were not checked by the bridge: check them here.
        let points = i64::try_from(
            batch
                .samples
                .iter()
                .filter(|s| check_sample(s, message.published).is_ok())
                .count(),
        )
        .unwrap_or(i64::MAX);
        let collected = batch.collected_at.min(message.published);
        tx.execute(
            "INSERT INTO rm_collector_activity
                (collector_id, last_seen, metrics_count_total, batches_total, last_instance)
             VALUES ($1, $2, $3, 1, $4)
             ON CONFLICT (collector_id) DO UPDATE
                SET last_seen = greatest(rm_collector_activity.last_seen, excluded.last_seen),
                    metrics_count_total = rm_collector_activity.metrics_count_total + excluded.metrics_count_total,
                    batches_total = rm_collector_activity.batches_total + 1,
                    last_instance = coalesce(excluded.last_instance, rm_collector_activity.last_instance)",
            &[&id, &message.published, &points, &batch.instance],
        )
        .await?;
        tx.execute(
            "INSERT INTO rm_collector_minutes (collector_id, minute, samples)
             VALUES ($1, date_trunc('minute', $2::timestamptz), $3)
             ON CONFLICT (collector_id, minute) DO UPDATE
                SET samples = rm_collector_minutes.samples + excluded.samples",
            &[&id, &collected, &points],
        )
        .await?;
        let change = serde_json::json!({"kind": "collector", "id": batch.collector_id}).to_string();
        tx.execute("SELECT pg_notify('pga_changes', $1)", &[&change])
            .await?;
        Ok(())
    }
}
