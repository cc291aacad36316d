//! Storage upkeep: partitions created ahead, whole partitions dropped past retention, dedup
//! records pruned once JetStream can no longer redeliver their batches.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use deadpool_postgres::Pool;

use crate::projectors::{partition_ddl, partition_name, HOUR_BUILD_GRACE};

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

/// What one hour-building pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HoursBuilt {
    /// Closed hours built for the first time.
    pub built: u32,
    /// Hours rebuilt because late batches touched them.
    pub rebuilt: u32,
}

/// Builds one hour of `metric_rollup_1h` from `metric_rollup_1m`, replacing what was there.
const BUILD_HOUR: &str = "
    INSERT INTO metric_rollup_1h (series_id, bucket, min, max, sum, count, last, last_ts)
    SELECT series_id, $1::timestamptz, min(min), max(max), sum(sum), sum(count)::int8,
           (array_agg(last ORDER BY last_ts DESC))[1], max(last_ts)
      FROM metric_rollup_1m
     WHERE bucket >= $1::timestamptz AND bucket < $1::timestamptz + interval '1 hour'
     GROUP BY series_id
    ON CONFLICT (series_id, bucket) DO UPDATE SET
       min = excluded.min, max = excluded.max, sum = excluded.sum, count = excluded.count,
       last = excluded.last, last_ts = excluded.last_ts";

/// Builds the 1-hour rollups of every hour that closed at least [`HOUR_BUILD_GRACE`] before
/// `now` and is not built yet (skipping hours without data), then rebuilds hours marked dirty by
/// late batches; at most `max_hours` of each per call. One transaction per hour.
///
/// # Errors
/// The database error.
pub async fn build_hours(
    pool: &Pool,
    now: DateTime<Utc>,
    max_hours: u32,
) -> Result<HoursBuilt, anyhow::Error> {
    let mut client = pool.get().await?;
    let mut out = HoursBuilt::default();
    while out.built < max_hours {
        let tx = client.transaction().await?;
        let done: Option<DateTime<Utc>> = tx
            .query_opt(
                "SELECT hours_done_until FROM metric_rollup_state FOR UPDATE",
                &[],
            )
            .await?
            .map(|r| r.get(0));
        // The next hour with data at or after the watermark (gaps are skipped).
        let next: Option<DateTime<Utc>> = tx
            .query_one(
                "SELECT date_trunc('hour', min(bucket)) FROM metric_rollup_1m
                  WHERE $1::timestamptz IS NULL OR bucket >= $1::timestamptz",
                &[&done],
            )
            .await?
            .get(0);
        let Some(hour) = next else { break };
        if hour + Duration::hours(1) + HOUR_BUILD_GRACE > now {
            break;
        }
        tx.execute(
            "DELETE FROM metric_rollup_dirty_hours WHERE hour = $1",
            &[&hour],
        )
        .await?;
        tx.execute(BUILD_HOUR, &[&hour]).await?;
        tx.execute(
            "INSERT INTO metric_rollup_state (id, hours_done_until) VALUES (true, $1)
             ON CONFLICT (id) DO UPDATE SET hours_done_until = excluded.hours_done_until",
            &[&(hour + Duration::hours(1))],
        )
        .await?;
        tx.commit().await?;
        out.built += 1;
    }
    while out.rebuilt < max_hours {
        let tx = client.transaction().await?;
        // Removed first: a batch marking the hour again meanwhile waits for this transaction
        // and then marks it anew, so its data is built by the next pass at the latest.
        let hour: Option<DateTime<Utc>> = tx
            .query_opt(
                "DELETE FROM metric_rollup_dirty_hours
                  WHERE hour = (SELECT min(hour) FROM metric_rollup_dirty_hours
                                 WHERE hour < (SELECT hours_done_until FROM metric_rollup_state))
                 RETURNING hour",
                &[],
            )
            .await?
            .map(|r| r.get(0));
        let Some(hour) = hour else { break };
        tx.execute(BUILD_HOUR, &[&hour]).await?;
        tx.commit().await?;
        out.rebuilt += 1;
    }
    Ok(out)
}
