//! Storage upkeep: partitions created ahead, whole partitions dropped past retention, dedup
//! records pruned once JetStream can no longer redeliver their batches, every other table that
//! grows with time pruned past its retention, and the 1-hour rollups built.

use chrono::{DateTime, Duration, DurationRound, NaiveDate, Utc};
use deadpool_postgres::Pool;
use sha2::{Digest, Sha256};

use crate::pg_error;
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
/// `retention_days`, and prunes dedup records older than `dedup_keep`. Before a partition is
/// dropped, its hours not built yet are built, and, when `minutes_outlive_samples`, its
/// 1-minute rollups (in the same transaction as the drop).
///
/// # Errors
/// The database error.
pub async fn upkeep(
    pool: &Pool,
    now: DateTime<Utc>,
    retention_days: u32,
    minutes_outlive_samples: bool,
    dedup_keep: Duration,
) -> Result<Upkeep, anyhow::Error> {
    let mut client = pool.get().await?;
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
            let tx = client.transaction().await?;
            // One upkeep at a time drops (every `project` process runs one); the other finds
            // the partition gone. Writes into the day stopped an hour before it could be
            // dropped (`first_day_kept`), so what is built here is all of it.
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtext('pga.metric_samples.retention'))",
                &[],
            )
            .await?;
            let exists: bool = tx
                .query_one(
                    "SELECT to_regclass(format('public.%I', $1::text)) IS NOT NULL",
                    &[&name],
                )
                .await?
                .get(0);
            if !exists {
                continue;
            }
            if minutes_outlive_samples {
                tx.execute(&BUILD_MINUTES_OF_DAY.replace("{partition}", &name), &[])
                    .await?;
            }
            // Hours upkeep has not reached, or late batches touched since.
            let start = day.and_time(chrono::NaiveTime::MIN).and_utc();
            let hours: Vec<DateTime<Utc>> = tx
                .query(
                    "SELECT h FROM generate_series($1::timestamptz,
                                    $1::timestamptz + interval '23 hours', interval '1 hour') h
                      WHERE h >= coalesce((SELECT hours_done_until FROM metric_rollup_state),
                                          '-infinity')
                         OR h IN (SELECT hour FROM metric_rollup_dirty_hours)",
                    &[&start],
                )
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            for hour in hours {
                build_hour(&tx, hour).await?;
                tx.execute(
                    "DELETE FROM metric_rollup_dirty_hours WHERE hour = $1",
                    &[&hour],
                )
                .await?;
            }
            tx.batch_execute(&format!("DROP TABLE IF EXISTS public.{name}"))
                .await?;
            tx.commit().await?;
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

/// How long each table that grows with time keeps its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// 1-minute rollups (`metric_rollup_1m`), pruned by whole hours and never past the hour
    /// build's watermark, so an hour is not lost before its 1-hour rollup exists.
    pub rollup_1m: Duration,
    /// 1-hour rollups (`metric_rollup_1h`).
    pub rollup_1h: Duration,
    /// Rejected messages (`projection_rejected`).
    pub rejected: Duration,
    /// Sessions (refresh tokens) are deleted this long after they expired. Rotated or revoked
    /// ones are kept until then, so presenting one again is still detected as reuse.
    pub expired_sessions: Duration,
}

/// Notifications (sent, failed or cancelled, with their attempts) are shown this long; none is
/// still being retried by then (retries end after about a day).
pub const NOTIFICATIONS_KEPT: Duration = Duration::days(30);

/// Per-minute collector buckets are only read for the rolling 24-hour count.
pub const COLLECTOR_MINUTES_KEPT: Duration = Duration::hours(24);

/// What one pruning pass deleted, per table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// `metric_rollup_1m` rows.
    pub rollup_1m: u64,
    /// `metric_rollup_1h` rows.
    pub rollup_1h: u64,
    /// `rm_collector_minutes` rows.
    pub collector_minutes: u64,
    /// `projection_rejected` rows.
    pub rejected: u64,
    /// `auth_sessions` rows.
    pub sessions: u64,
    /// `notification_outbox` rows (with their attempts).
    pub notifications: u64,
}

impl Pruned {
    /// Whether anything was deleted.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Rows one delete statement removes: short transactions, so a first pass over a large
/// backlog neither holds locks for long nor bloats one transaction.
const PRUNE_BATCH: i64 = 10_000;

/// Deletes the rows of `table` whose `column` is before `cutoff`, [`PRUNE_BATCH`] at a time.
async fn delete_before(
    client: &deadpool_postgres::Object,
    table: &'static str,
    column: &'static str,
    cutoff: DateTime<Utc>,
) -> Result<u64, tokio_postgres::Error> {
    let sql = format!(
        "DELETE FROM {table} WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM {table} WHERE {column} < $1 LIMIT $2))"
    );
    let mut total = 0;
    loop {
        let n = client.execute(&sql, &[&cutoff, &PRUNE_BATCH]).await?;
        total += n;
        if n < PRUNE_BATCH.unsigned_abs() {
            return Ok(total);
        }
    }
}

/// Deletes what is older than `retention` keeps: rollups, per-minute collector buckets older
/// than [`COLLECTOR_MINUTES_KEPT`], rejected messages, expired sessions.
///
/// # Errors
/// The database error.
pub async fn prune(
    pool: &Pool,
    now: DateTime<Utc>,
    retention: &Retention,
) -> Result<Pruned, anyhow::Error> {
    let client = pool.get().await?;
    // Whole hours, and none the hour build has not passed yet.
    let built: Option<DateTime<Utc>> = client
        .query_opt("SELECT hours_done_until FROM metric_rollup_state", &[])
        .await?
        .map(|r| r.get(0));
    let minutes_cutoff = (now - retention.rollup_1m)
        .duration_trunc(Duration::hours(1))
        .unwrap_or(now - retention.rollup_1m);
    let rollup_1m = match built {
        // No hour built yet: every minute is still needed.
        None => 0,
        Some(built) => {
            let cutoff = built.min(minutes_cutoff);
            delete_before(&client, "metric_rollup_1m", "bucket", cutoff).await?
        }
    };
    Ok(Pruned {
        rollup_1m,
        rollup_1h: delete_before(
            &client,
            "metric_rollup_1h",
            "bucket",
            now - retention.rollup_1h,
        )
        .await?,
        collector_minutes: delete_before(
            &client,
            "rm_collector_minutes",
            "minute",
            now - COLLECTOR_MINUTES_KEPT,
        )
        .await?,
        rejected: delete_before(
            &client,
            "projection_rejected",
            "rejected_at",
            now - retention.rejected,
        )
        .await?,
        sessions: delete_before(
            &client,
            "auth_sessions",
            "expires_at",
            now - retention.expired_sessions,
        )
        .await?,
        notifications: delete_before(
            &client,
            "notification_outbox",
            "created_at",
            now - NOTIFICATIONS_KEPT,
        )
        .await?,
    })
}

/// What one hour-building pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HoursBuilt {
    /// Closed hours built for the first time.
    pub built: u32,
    /// Hours rebuilt because late batches touched them.
    pub rebuilt: u32,
    /// Hours without samples passed over.
    pub skipped: u32,
    /// Series-hours that could not be built because of their data (recorded in
    /// `projection_rejected` as projection [`HOUR_ROLLUP_PROJECTION`]).
    pub rejected: u32,
}

/// Most hours without samples one pass steps over (a server idle for months catches up over
/// a few passes, each short).
const MAX_EMPTY_HOURS: u32 = 24 * 31;

/// The projection name under which hours that could not be built are recorded.
pub const HOUR_ROLLUP_PROJECTION: &str = "metric_rollup_1h";

/// Builds one hour of `metric_rollup_1h` from the samples, replacing what was there (an hour
/// whose samples are gone keeps its rows).
const BUILD_HOUR: &str = "
    INSERT INTO metric_rollup_1h (series_id, bucket, min, max, sum, count, last, last_ts)
    SELECT series_id, $1::timestamptz, min(value), max(value), sum(value), count(*)::int8,
           (array_agg(value ORDER BY ts DESC))[1], max(ts)
      FROM metric_samples
     WHERE ts >= $1::timestamptz AND ts < $1::timestamptz + interval '1 hour'
     GROUP BY series_id
    ON CONFLICT (series_id, bucket) DO UPDATE SET
       min = excluded.min, max = excluded.max, sum = excluded.sum, count = excluded.count,
       last = excluded.last, last_ts = excluded.last_ts";

/// [`BUILD_HOUR`] for one series (`$2`): the hour is built series by series when its data
/// makes the whole-hour statement fail.
const BUILD_HOUR_OF_SERIES: &str = "
    INSERT INTO metric_rollup_1h (series_id, bucket, min, max, sum, count, last, last_ts)
    SELECT series_id, $1::timestamptz, min(value), max(value), sum(value), count(*)::int8,
           (array_agg(value ORDER BY ts DESC))[1], max(ts)
      FROM metric_samples
     WHERE ts >= $1::timestamptz AND ts < $1::timestamptz + interval '1 hour'
       AND series_id = $2
     GROUP BY series_id
    ON CONFLICT (series_id, bucket) DO UPDATE SET
       min = excluded.min, max = excluded.max, sum = excluded.sum, count = excluded.count,
       last = excluded.last, last_ts = excluded.last_ts";

/// Builds the 1-minute rollups of one day's partition (named `{partition}`), before retention
/// drops it.
const BUILD_MINUTES_OF_DAY: &str = "
    INSERT INTO metric_rollup_1m (series_id, bucket, min, max, sum, count, last, last_ts)
    SELECT series_id, date_trunc('minute', ts, 'UTC'), min(value), max(value), sum(value),
           count(*)::int8, (array_agg(value ORDER BY ts DESC))[1], max(ts)
      FROM public.{partition}
     GROUP BY 1, 2
    ON CONFLICT (series_id, bucket) DO UPDATE SET
       min = excluded.min, max = excluded.max, sum = excluded.sum, count = excluded.count,
       last = excluded.last, last_ts = excluded.last_ts";

/// Builds `hour` in `tx`. When its data makes that fail (a sum overflowing float8, say), the
/// hour is built series by series instead: each series that fails is recorded in
/// `projection_rejected` (its stale hour removed) and the others are built. Returns how many
/// series were rejected.
///
/// # Errors
/// Infrastructure errors only (see [`pg_error::is_infrastructure`]): the caller retries later.
async fn build_hour(
    tx: &deadpool_postgres::Transaction<'_>,
    hour: DateTime<Utc>,
) -> Result<u32, tokio_postgres::Error> {
    tx.batch_execute("SAVEPOINT whole_hour").await?;
    match tx.execute(BUILD_HOUR, &[&hour]).await {
        Ok(_) => {
            tx.batch_execute("RELEASE SAVEPOINT whole_hour").await?;
            return Ok(0);
        }
        Err(e) if pg_error::is_infrastructure(&e) => return Err(e),
        Err(e) => {
            tracing::warn!(%hour, error = %pg_error::describe(&e),
                "an hour's rollup failed on its data; building it series by series");
            tx.batch_execute("ROLLBACK TO SAVEPOINT whole_hour").await?;
        }
    }
    let series: Vec<i64> = tx
        .query(
            "SELECT DISTINCT series_id FROM metric_samples
              WHERE ts >= $1::timestamptz AND ts < $1::timestamptz + interval '1 hour'",
            &[&hour],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut rejected = 0;
    for id in series {
        tx.batch_execute("SAVEPOINT one_series").await?;
        match tx.execute(BUILD_HOUR_OF_SERIES, &[&hour, &id]).await {
            Ok(_) => tx.batch_execute("RELEASE SAVEPOINT one_series").await?,
            Err(e) if pg_error::is_infrastructure(&e) => return Err(e),
            Err(e) => {
                tx.batch_execute("ROLLBACK TO SAVEPOINT one_series").await?;
                tracing::warn!(%hour, series_id = id, error = %pg_error::describe(&e),
                    "a series' hour rollup cannot be built from its data; recorded and skipped");
                tx.execute(
                    "DELETE FROM metric_rollup_1h WHERE series_id = $1 AND bucket = $2",
                    &[&id, &hour],
                )
                .await?;
                record_rejected_hour(tx, hour, id, &e).await?;
                rejected += 1;
            }
        }
    }
    Ok(rejected)
}

/// Records a series-hour that could not be built. `projection_rejected` is keyed by stream
/// sequence; an hour has none, so the key is derived from (series, hour), and a second failure
/// of the same series-hour (a rebuild) updates the record.
async fn record_rejected_hour(
    tx: &deadpool_postgres::Transaction<'_>,
    hour: DateTime<Utc>,
    series_id: i64,
    e: &tokio_postgres::Error,
) -> Result<(), tokio_postgres::Error> {
    let mut h = Sha256::new();
    h.update(series_id.to_be_bytes());
    h.update(hour.timestamp().to_be_bytes());
    let digest = h.finalize();
    let mut key = [0u8; 8];
    key.copy_from_slice(&digest[..8]);
    let key = i64::from_be_bytes(key) & i64::MAX;
    let db = e.as_db_error();
    let payload = serde_json::json!({
        "hour": hour,
        "series_id": series_id,
        "sqlstate": db.map(|d| d.code().code()),
        "message": db.map(|d| d.message()),
        "detail": db.and_then(|d| d.detail()),
    });
    tx.execute(
        "INSERT INTO projection_rejected (projection, stream_sequence, subject, reason, payload)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (projection, stream_sequence) DO UPDATE SET
            reason = excluded.reason, payload = excluded.payload, rejected_at = now()",
        &[
            &HOUR_ROLLUP_PROJECTION,
            &key,
            &format!("{HOUR_ROLLUP_PROJECTION}.{}.{series_id}", hour.to_rfc3339()),
            &pg_error::describe(e),
            &payload.to_string(),
        ],
    )
    .await?;
    Ok(())
}

/// Whether any sample falls in `hour` (one look through the BRIN index on `ts`).
async fn hour_has_samples(
    tx: &deadpool_postgres::Transaction<'_>,
    hour: DateTime<Utc>,
) -> Result<bool, tokio_postgres::Error> {
    Ok(tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM metric_samples
                             WHERE ts >= $1 AND ts < $1 + interval '1 hour')",
            &[&hour],
        )
        .await?
        .get(0))
}

/// The first hour, from the oldest partition on, that has samples and closed at least
/// [`HOUR_BUILD_GRACE`] before `now`: an hour at a time through the BRIN index, never a scan
/// of every partition for `min(ts)`.
async fn first_closed_hour_with_samples(
    tx: &deadpool_postgres::Transaction<'_>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, tokio_postgres::Error> {
    let Some(mut hour) = crate::queries::metrics::samples_kept_from(&**tx).await? else {
        return Ok(None);
    };
    while hour + Duration::hours(1) + HOUR_BUILD_GRACE <= now {
        if hour_has_samples(tx, hour).await? {
            return Ok(Some(hour));
        }
        hour += Duration::hours(1);
    }
    Ok(None)
}

/// Builds the 1-hour rollups of every hour that closed at least [`HOUR_BUILD_GRACE`] before
/// `now` and is not built yet (skipping hours without data), then rebuilds hours marked dirty by
/// late batches; at most `max_hours` of each per call. One transaction per hour. A series whose
/// data cannot be summed is recorded in `projection_rejected` and the hour goes on without it,
/// so one bad value never stops the hours after it.
///
/// # Errors
/// Infrastructure errors (the database unreachable, out of resources …); the next call resumes.
// Over 60 lines on purpose: one hour's build and its series-by-series fallback share the transaction.
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
        // The hour at the watermark; before any, the first closed hour with samples (none
        // yet: no watermark either, so samples that arrive for earlier hours are built as
        // hours, not as late data).
        let hour = match done {
            Some(done) => done,
            None => match first_closed_hour_with_samples(&tx, now).await? {
                Some(hour) => hour,
                None => break,
            },
        };
        if hour + Duration::hours(1) + HOUR_BUILD_GRACE > now {
            break;
        }
        // An hour without samples is passed over.
        let has_samples = hour_has_samples(&tx, hour).await?;
        if has_samples {
            tx.execute(
                "DELETE FROM metric_rollup_dirty_hours WHERE hour = $1",
                &[&hour],
            )
            .await?;
            out.rejected += build_hour(&tx, hour).await?;
        }
        tx.execute(
            "INSERT INTO metric_rollup_state (id, hours_done_until) VALUES (true, $1)
             ON CONFLICT (id) DO UPDATE SET hours_done_until = excluded.hours_done_until",
            &[&(hour + Duration::hours(1))],
        )
        .await?;
        tx.commit().await?;
        if has_samples {
            out.built += 1;
        } else {
            out.skipped += 1;
            if out.skipped >= MAX_EMPTY_HOURS {
                break;
            }
        }
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
        out.rejected += build_hour(&tx, hour).await?;
        tx.commit().await?;
        out.rebuilt += 1;
    }
    Ok(out)
}

/// Redacts statement texts stored before ingest redacted them (an older version kept
/// `ALTER ROLE … PASSWORD '…'` verbatim). Only rows that may hold a literal are read, and only
/// changed ones written, so once the old ones are done a run costs one index-less scan of a
/// small table. Returns how many were rewritten.
///
/// # Errors
/// The database error.
pub async fn redact_stored_statements(pool: &Pool) -> Result<u64, anyhow::Error> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT collector_id, queryid, query FROM metric_statements
              WHERE query LIKE '%''%' OR query LIKE '%$%'",
            &[],
        )
        .await?;
    let mut changed = 0;
    for row in rows {
        let collector: uuid::Uuid = row.get("collector_id");
        let queryid: &str = row.get("queryid");
        let query: &str = row.get("query");
        if let std::borrow::Cow::Owned(redacted) = domain::metrics::redact_statement(query) {
            changed += client
                .execute(
                    "UPDATE metric_statements SET query = $3
                      WHERE collector_id = $1 AND queryid = $2 AND query = $4",
                    &[&collector, &queryid, &redacted, &query],
                )
                .await?;
        }
    }
    Ok(changed)
}
