use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, DurationRound, Utc};
use domain::collector::CollectorTokenVerifier;
use tokio_postgres::Transaction;

use super::metric_batch::{claim, take_pending, verified_batch, ParsedBatches};
use crate::runtime::{ApplyError, Delivered, Keep, Projector, Source};

pub use domain::metrics::TOKEN_HEADER;

/// `rm_collector_activity`, `rm_collector_minutes`, `rm_applied_batches`: per collector the
/// last time it was heard from, data points in total and per minute. Every batch is verified
/// here, whichever path it came by: token signature and validity when it reached JetStream,
/// subject matching the token's collector, collector still registered. A batch that fails is
/// rejected with the reason and never counted. Counts are summed over the fetched batch and
/// written once by `flush`.
pub struct CollectorActivity {
    verifier: Arc<dyn CollectorTokenVerifier>,
    parsed: Arc<ParsedBatches>,
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    collectors: HashMap<uuid::Uuid, Heard>,
    minutes: HashMap<(uuid::Uuid, DateTime<Utc>), i64>,
}

struct Heard {
    last_seen: DateTime<Utc>,
    points: i64,
    batches: i64,
    instance: Option<String>,
}

impl CollectorActivity {
    /// Verifies tokens with `verifier`; parses through `parsed`, shared with the other metrics
    /// projectors.
    pub fn new(verifier: Arc<dyn CollectorTokenVerifier>, parsed: Arc<ParsedBatches>) -> Self {
        Self {
            verifier,
            parsed,
            pending: Mutex::new(Pending::default()),
        }
    }
}

#[async_trait]
impl Projector for CollectorActivity {
    fn name(&self) -> &'static str {
        "collector_activity"
    }

    fn source(&self) -> Source {
        Source::Metrics
    }

    fn keep(
        &self,
        schema: &str,
        planned: chrono::DateTime<chrono::Utc>,
        cutoff: chrono::DateTime<chrono::Utc>,
    ) -> Option<Keep> {
        let sql_time =
            |t: chrono::DateTime<chrono::Utc>| format!("'{}'::timestamptz", t.to_rfc3339());
        let (planned_at, cutoff_at) = (sql_time(planned), sql_time(cutoff));
        Some(Keep {
            what: format!(
                "per-minute counts before {cutoff} and every dedup record the rebuild lacks; \
                 totals and last seen take the larger of live and rebuilt (batches the stream no \
                 longer holds cannot be counted again)"
            ),
            prepare: vec![
                format!(
                    "INSERT INTO {schema}.rm_collector_minutes SELECT * FROM public.rm_collector_minutes
                      WHERE minute < date_trunc('minute', {planned_at}) ON CONFLICT DO NOTHING"
                ),
                format!(
                    "INSERT INTO {schema}.rm_applied_batches SELECT * FROM public.rm_applied_batches
                      ON CONFLICT DO NOTHING"
                ),
            ],
            merge: vec![
                // The minutes a partly rebuilt count may cover: the larger of live and rebuilt.
                format!(
                    "INSERT INTO {schema}.rm_collector_minutes AS n SELECT * FROM public.rm_collector_minutes
                      WHERE minute >= date_trunc('minute', {planned_at}) AND minute <= {cutoff_at}
                     ON CONFLICT (collector_id, minute) DO UPDATE
                        SET samples = greatest(n.samples, excluded.samples)"
                ),
                format!(
                    "INSERT INTO {schema}.rm_collector_activity AS n SELECT * FROM public.rm_collector_activity
                       ON CONFLICT (collector_id) DO UPDATE SET
                         metrics_count_total = greatest(n.metrics_count_total, excluded.metrics_count_total),
                         batches_total = greatest(n.batches_total, excluded.batches_total),
                         last_instance = CASE WHEN excluded.last_seen > n.last_seen
                                              THEN excluded.last_instance ELSE n.last_instance END,
                         last_seen = greatest(n.last_seen, excluded.last_seen)"
                ),
            ],
        })
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "rm_collector_activity",
            "rm_collector_minutes",
            "rm_applied_batches",
        ]
    }

    fn rolled_back(&self) {
        drop(take_pending(&self.pending));
    }

    async fn apply(&self, tx: &Transaction<'_>, message: &Delivered) -> Result<(), ApplyError> {
        let (batch, id) = verified_batch(self.verifier.as_ref(), &self.parsed, message)?;
        let applied = "INSERT INTO rm_applied_batches (batch_id, collector_id) SELECT $1, $2 FROM c WHERE c.ok";
        let instance = batch.instance().unwrap_or_default();
        if !claim(tx, applied, batch.batch_id(), id, instance).await? {
            return Ok(()); // already counted
        }
        // Parsing checked every sample against the time JetStream stored the message.
        let points = i64::try_from(batch.points.len()).unwrap_or(i64::MAX);
        let collected = batch.collected_at.min(message.published);
        let minute = collected
            .duration_trunc(Duration::minutes(1))
            .unwrap_or(collected);
        if let Ok(mut p) = self.pending.lock() {
            let heard = p.collectors.entry(id).or_insert(Heard {
                last_seen: message.published,
                points: 0,
                batches: 0,
                instance: None,
            });
            heard.last_seen = heard.last_seen.max(message.published);
            heard.points += points;
            heard.batches += 1;
            if let Some(instance) = batch.instance() {
                heard.instance = Some(instance.to_owned());
            }
            *p.minutes.entry((id, minute)).or_default() += points;
        }
        Ok(())
    }

    async fn flush(&self, tx: &Transaction<'_>) -> Result<(), tokio_postgres::Error> {
        let pending = take_pending(&self.pending);
        if pending.collectors.is_empty() {
            return Ok(());
        }
        let (mut ids, mut seen, mut points, mut batches, mut instances) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (id, h) in &pending.collectors {
            ids.push(*id);
            seen.push(h.last_seen);
            points.push(h.points);
            batches.push(h.batches);
            instances.push(h.instance.clone());
        }
        tx.execute(
            "INSERT INTO rm_collector_activity
                (collector_id, last_seen, metrics_count_total, batches_total, last_instance)
             SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::int8[], $4::int8[], $5::text[])
             ON CONFLICT (collector_id) DO UPDATE
                SET last_seen = greatest(rm_collector_activity.last_seen, excluded.last_seen),
                    metrics_count_total = rm_collector_activity.metrics_count_total + excluded.metrics_count_total,
                    batches_total = rm_collector_activity.batches_total + excluded.batches_total,
                    last_instance = coalesce(excluded.last_instance, rm_collector_activity.last_instance)",
            &[&ids, &seen, &points, &batches, &instances],
        )
        .await?;
        let (mut m_ids, mut m_minutes, mut m_samples) = (Vec::new(), Vec::new(), Vec::new());
        for ((id, minute), samples) in &pending.minutes {
            m_ids.push(*id);
            m_minutes.push(*minute);
            m_samples.push(*samples);
        }
        tx.execute(
            "INSERT INTO rm_collector_minutes (collector_id, minute, samples)
             SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::int8[])
             ON CONFLICT (collector_id, minute) DO UPDATE
                SET samples = rm_collector_minutes.samples + excluded.samples",
            &[&m_ids, &m_minutes, &m_samples],
        )
        .await?;
        let changes: Vec<String> = ids
            .iter()
            .map(|id| serde_json::json!({"kind": "collector", "id": id.to_string()}).to_string())
            .collect();
        tx.execute(
            "SELECT pg_notify('pga_changes', c) FROM unnest($1::text[]) AS c",
            &[&changes],
        )
        .await?;
        Ok(())
    }
}
