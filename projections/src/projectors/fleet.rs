//! `rm_fleet`: what the fleet overview shows of each instance, advanced by every metric batch
//! (see the fleet migration). The arithmetic is pure ([`advance`]); [`write`] reads the rows a
//! flush touches, advances them and writes them back in the batch's transaction.

use std::collections::HashMap;

use chrono::{DateTime, Duration, DurationRound, Utc};
use domain::metrics::compact::StreamBatch;
use tokio_postgres::{Row, Transaction};

/// Sparkline points kept: one per minute of the last hour.
pub const SPARK_POINTS: usize = 60;

/// The totals one batch gives of its instance (none: the batch carried no such metric).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FleetPoint {
    /// Collection time.
    pub at: DateTime<Utc>,
    /// Backends over databases.
    pub connections: Option<f64>,
    /// `max_connections`.
    pub max_connections: Option<f64>,
    /// Bytes over databases.
    pub database_size: Option<f64>,
    /// Largest replica lag, seconds.
    pub replication_lag_s: Option<f64>,
    /// Commits and rollbacks over databases (counter).
    pub xacts: Option<f64>,
    /// Blocks found in shared buffers (counter).
    pub blks_hit: Option<f64>,
    /// Blocks read (counter).
    pub blks_read: Option<f64>,
}

impl FleetPoint {
    /// The totals of `batch`, from the latest point of each series; `None` when it holds none
    /// of the overview's metrics.
    pub fn of(batch: &StreamBatch) -> Option<Self> {
        let mut latest: HashMap<u32, (DateTime<Utc>, f64)> = HashMap::new();
        for p in &batch.points {
            let e = latest.entry(p.series).or_insert((p.ts, p.value));
            if p.ts >= e.0 {
                *e = (p.ts, p.value);
            }
        }
        let mut point = Self {
            at: batch.collected_at,
            ..Self::default()
        };
        let mut any = false;
        for (series, (_, value)) in latest {
            let Some(s) = batch.series(series) else {
                continue;
            };
            let (slot, max) = match s.metric {
                "pg_database_numbackends" => (&mut point.connections, false),
                "pg_settings_max_connections" => (&mut point.max_connections, true),
                "pg_database_size_bytes" => (&mut point.database_size, false),
                "pg_replication_lag_seconds" => (&mut point.replication_lag_s, true),
                "pg_database_xact_commit_total" | "pg_database_xact_rollback_total" => {
                    (&mut point.xacts, false)
                }
                "pg_database_blks_hit_total" => (&mut point.blks_hit, false),
                "pg_database_blks_read_total" => (&mut point.blks_read, false),
                _ => continue,
            };
            any = true;
            *slot = Some(match *slot {
                None => value,
                Some(v) if max => v.max(value),
                Some(v) => v + value,
            });
        }
        any.then_some(point)
    }
}

/// A row of `rm_fleet`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetRow {
    pub collector_id: uuid::Uuid,
    pub sampled_at: DateTime<Utc>,
    pub connections: Option<f64>,
    pub max_connections: Option<f64>,
    pub database_size: Option<f64>,
    pub replication_lag_s: Option<f64>,
    pub xacts: Option<f64>,
    pub blks_hit: Option<f64>,
    pub blks_read: Option<f64>,
    pub counters_at: Option<DateTime<Utc>>,
    pub tps: Option<f64>,
    pub cache_hit_ratio: Option<f64>,
    pub spark_minute: Option<DateTime<Utc>>,
    pub spark_tps: Vec<Option<f64>>,
    pub spark_connections: Vec<Option<f64>>,
}

/// The per-second rate of a counter between two readings; none across a reset (it went
/// down: a restart, a dropped database) or without time between them.
fn rate(before: Option<f64>, after: Option<f64>, seconds: f64) -> Option<f64> {
    let delta = after? - before?;
    (delta >= 0.0 && seconds > 0.0).then(|| delta / seconds)
}

/// `prev` after `point` from `collector`. A point older than the row's latest changes nothing
/// (a late batch, or a second collector behind the first); a value the batch did not carry
/// keeps the last one known.
pub fn advance(prev: Option<FleetRow>, collector: uuid::Uuid, p: &FleetPoint) -> FleetRow {
    let mut row = match prev {
        Some(prev) if prev.sampled_at > p.at => return prev,
        Some(prev) => prev,
        None => FleetRow::default(),
    };
    row.collector_id = collector;
    row.sampled_at = p.at;
    for (slot, value) in [
        (&mut row.connections, p.connections),
        (&mut row.max_connections, p.max_connections),
        (&mut row.database_size, p.database_size),
        (&mut row.replication_lag_s, p.replication_lag_s),
    ] {
        if value.is_some() {
            *slot = value;
        }
    }
    if p.xacts.is_some() || p.blks_hit.is_some() {
        let seconds = row
            .counters_at
            .map_or(0.0, |t| (p.at - t).num_milliseconds() as f64 / 1000.0);
        row.tps = rate(row.xacts, p.xacts, seconds);
        let hit = rate(row.blks_hit, p.blks_hit, seconds);
        let read = rate(row.blks_read, p.blks_read, seconds);
        if let (Some(hit), Some(read)) = (hit, read) {
            if hit + read > 0.0 {
                row.cache_hit_ratio = Some(hit / (hit + read));
            }
        }
        row.xacts = p.xacts;
        row.blks_hit = p.blks_hit;
        row.blks_read = p.blks_read;
        row.counters_at = Some(p.at);
    }
    spark(&mut row, p.at);
    row
}

/// Puts the row's current tps and connections at `at`'s minute: the last point again within
/// the same minute, else a new point after as many empty ones as minutes passed.
fn spark(row: &mut FleetRow, at: DateTime<Utc>) {
    let minute = at.duration_trunc(Duration::minutes(1)).unwrap_or(at);
    let (tps, connections) = (row.tps, row.connections);
    match row.spark_minute {
        Some(last) if last == minute => {
            row.spark_tps.pop();
            row.spark_connections.pop();
        }
        Some(last) if last < minute => {
            let gap = usize::try_from((minute - last).num_minutes() - 1).unwrap_or(0);
            for _ in 0..gap.min(SPARK_POINTS) {
                row.spark_tps.push(None);
                row.spark_connections.push(None);
            }
        }
        Some(_) => return, // an older minute: the sparkline has moved on
        None => {}
    }
    row.spark_tps.push(tps);
    row.spark_connections.push(connections);
    for line in [&mut row.spark_tps, &mut row.spark_connections] {
        let extra = line.len().saturating_sub(SPARK_POINTS);
        line.drain(..extra);
    }
    row.spark_minute = Some(minute);
}

fn from_row(r: &Row) -> FleetRow {
    FleetRow {
        collector_id: r.get("collector_id"),
        sampled_at: r.get("sampled_at"),
        connections: r.get("connections"),
        max_connections: r.get("max_connections"),
        database_size: r.get("database_size"),
        replication_lag_s: r.get("replication_lag_s"),
        xacts: r.get("xacts"),
        blks_hit: r.get("blks_hit"),
        blks_read: r.get("blks_read"),
        counters_at: r.get("counters_at"),
        tps: r.get("tps"),
        cache_hit_ratio: r.get("cache_hit_ratio"),
        spark_minute: r.get("spark_minute"),
        spark_tps: r.get("spark_tps"),
        spark_connections: r.get("spark_connections"),
    }
}

/// Advances the rows of every instance in `points` (in the order applied) and writes them:
/// one read of the rows, locked, and one statement per instance, pipelined.
pub(crate) async fn write(
    tx: &Transaction<'_>,
    points: Vec<(String, uuid::Uuid, FleetPoint)>,
) -> Result<(), tokio_postgres::Error> {
    if points.is_empty() {
        return Ok(());
    }
    let mut keys: Vec<(String, uuid::Uuid)> =
        points.iter().map(|(i, c, _)| (i.clone(), *c)).collect();
    keys.sort_unstable();
    keys.dedup();
    let names: Vec<&str> = keys.iter().map(|(i, _)| i.as_str()).collect();
    let collectors: Vec<uuid::Uuid> = keys.iter().map(|(_, c)| *c).collect();
    let mut rows: HashMap<(String, uuid::Uuid), FleetRow> = tx
        .query(
            "SELECT f.* FROM rm_fleet f
               JOIN unnest($1::text[], $2::uuid[]) k(instance, collector_id)
                 ON f.instance = k.instance AND f.collector_id = k.collector_id
              ORDER BY f.instance, f.collector_id FOR UPDATE OF f",
            &[&names, &collectors],
        )
        .await?
        .iter()
        .map(|r| ((r.get("instance"), r.get("collector_id")), from_row(r)))
        .collect();
    for (instance, collector, point) in &points {
        let key = (instance.clone(), *collector);
        let prev = rows.remove(&key);
        rows.insert(key, advance(prev, *collector, point));
    }
    let statement = tx
        .prepare(
            "INSERT INTO rm_fleet (instance, collector_id, sampled_at, connections, max_connections,
                 database_size, replication_lag_s, xacts, blks_hit, blks_read, counters_at, tps,
                 cache_hit_ratio, spark_minute, spark_tps, spark_connections)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
             ON CONFLICT (instance, collector_id) DO UPDATE SET
                 sampled_at = excluded.sampled_at, connections = excluded.connections,
                 max_connections = excluded.max_connections, database_size = excluded.database_size,
                 replication_lag_s = excluded.replication_lag_s, xacts = excluded.xacts,
                 blks_hit = excluded.blks_hit, blks_read = excluded.blks_read,
                 counters_at = excluded.counters_at, tps = excluded.tps,
                 cache_hit_ratio = excluded.cache_hit_ratio, spark_minute = excluded.spark_minute,
                 spark_tps = excluded.spark_tps, spark_connections = excluded.spark_connections",
        )
        .await?;
    let writes = keys.iter().filter_map(|key| {
        let r = rows.get(key)?;
        let instance = &key.0;
        let statement = &statement;
        Some(async move {
            tx.execute(
                statement,
                &[
                    instance,
                    &r.collector_id,
                    &r.sampled_at,
                    &r.connections,
                    &r.max_connections,
                    &r.database_size,
                    &r.replication_lag_s,
                    &r.xacts,
                    &r.blks_hit,
                    &r.blks_read,
                    &r.counters_at,
                    &r.tps,
                    &r.cache_hit_ratio,
                    &r.spark_minute,
                    &r.spark_tps,
                    &r.spark_connections,
                ],
            )
            .await
        })
    });
    futures::future::try_join_all(writes).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    fn point(t: &str, xacts: f64, hit: f64, read: f64, conns: f64) -> FleetPoint {
        FleetPoint {
            at: at(t),
            connections: Some(conns),
            xacts: Some(xacts),
            blks_hit: Some(hit),
            blks_read: Some(read),
            ..FleetPoint::default()
        }
    }

    #[test]
    fn rates_come_from_the_previous_batch_and_stop_at_a_reset() {
        let c = uuid::Uuid::nil();
        let r = advance(
            None,
            c,
            &point("2026-12-03T10:00:00Z", 1000.0, 900.0, 100.0, 5.0),
        );
        assert_eq!((r.tps, r.cache_hit_ratio), (None, None));
        let r = advance(
            Some(r),
            c,
            &point("2026-12-03T10:00:10Z", 1500.0, 1890.0, 110.0, 7.0),
        );
        assert_eq!(r.tps, Some(50.0));
        assert_eq!(r.cache_hit_ratio, Some(0.99));
        assert_eq!(r.connections, Some(7.0));
        // A restart resets the counters: no rate, and the ratio keeps its last value.
        let r = advance(
            Some(r),
            c,
            &point("2026-12-03T10:00:20Z", 10.0, 5.0, 5.0, 1.0),
        );
        assert_eq!((r.tps, r.cache_hit_ratio), (None, Some(0.99)));
        // An older batch changes nothing.
        let before = r.clone();
        assert_eq!(
            advance(
                Some(r),
                c,
                &point("2026-12-03T09:00:00Z", 0.0, 0.0, 0.0, 99.0)
            ),
            before
        );
    }

    #[test]
    fn sparklines_hold_one_point_a_minute_with_gaps_and_at_most_an_hour() {
        let c = uuid::Uuid::nil();
        let mut r = advance(None, c, &point("2026-12-03T10:00:05Z", 0.0, 0.0, 0.0, 1.0));
        r = advance(
            Some(r),
            c,
            &point("2026-12-03T10:00:35Z", 0.0, 0.0, 0.0, 2.0),
        );
        assert_eq!(
            r.spark_connections,
            vec![Some(2.0)],
            "same minute: replaced"
        );
        r = advance(
            Some(r),
            c,
            &point("2026-12-03T10:03:00Z", 0.0, 0.0, 0.0, 3.0),
        );
        assert_eq!(r.spark_connections, vec![Some(2.0), None, None, Some(3.0)]);
        for m in 4..130 {
            let t = format!("2026-12-03T{:02}:{:02}:00Z", 10 + m / 60, m % 60);
            r = advance(Some(r), c, &point(&t, 0.0, 0.0, 0.0, f64::from(m)));
        }
        assert_eq!(r.spark_connections.len(), SPARK_POINTS);
        assert_eq!(r.spark_connections.last(), Some(&Some(129.0)));
        assert_eq!(r.spark_tps.len(), SPARK_POINTS);
    }
}
