//! Storage upkeep: partitions created ahead, whole partitions dropped past retention, dedup
//! records pruned once JetStream can no longer redeliver their batches.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use deadpool_postgres::Pool;

use crate::projectors::{partition_ddl, partition_name};

/// What one upkeep pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Upkeep {
    /// Partitions dropped, by name.
    pub dropped: Vec<String>,
    /// Dedup records pruned.
    pub pruned_batches: u64,
}

/// Creates today's and tomorrow's partitions, drops partitions whose whole day is older than
/// `retention_days`, and prunes dedup records older than `dedup_keep`.
///
/// # Errors
/// The database error.
pub async fn upkeep(
    pool: &Pool,
    now: DateTime<Utc>,
    retention_days: u32,
    dedup_keep: Duration,
) -> Result<Upkeep, anyhow::Error> {
    let client = pool.get().await?;
    let today = now.date_naive();
    for day in [today, today + Duration::days(1)] {
        client.batch_execute(&partition_ddl(day)).await?;
    }
    let cutoff: NaiveDate = (now - Duration::days(i64::from(retention_days))).date_naive();
    let partitions = client
        .query(
            "SELECT c.relname FROM pg_inherits i
               JOIN pg_class c ON c.oid = i.inhrelid
               JOIN pg_class p ON p.oid = i.inhparent
               JOIN pg_namespace n ON n.oid = p.relnamespace
              WHERE p.relname = 'metric_samples' AND n.nspname = 'public'",
            &[],
        )
        .await?;
    let mut out = Upkeep::default();
    for row in partitions {
        let name: String = row.get(0);
        let Some(day) = name
            .strip_prefix("metric_samples_")
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y%m%d").ok())
        else {
            continue;
        };
        // The partition holds [day, day + 1): drop it once all of it is past the cutoff.
        if day + Duration::days(1) <= cutoff && name == partition_name(day) {
            client
                .batch_execute(&format!("DROP TABLE IF EXISTS public.{name}"))
                .await?;
            out.dropped.push(name);
        }
    }
    let keep_from = now - dedup_keep;
    out.pruned_batches = client
        .execute(
            "DELETE FROM metric_applied_batches WHERE applied_at < $1",
            &[&keep_from],
        )
        .await?
        + client
            .execute(
                "DELETE FROM rm_applied_batches WHERE applied_at < $1",
                &[&keep_from],
            )
            .await?;
    Ok(out)
}
