//! `rm_fleet`: what the fleet overview shows of each instance, advanced by every metric batch
//! (see the fleet migration). The arithmetic is pure ([`advance`]); [`write`] reads the rows a
//! flush touches, advances them and writes them back in the batch's transaction.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, DurationRound, Utc};
use domain::metrics::compact::StreamBatch;
use serde::{Deserialize, Serialize};
use tokio_postgres::{Row, Transaction};

/// Sparkline points kept: one per minute of the last hour.
pub const SPARK_POINTS: usize = 60;

/// A series not read for this long no longer counts (a dropped database, a replica gone).
const STALE_AFTER_MINUTES: i64 = 10;

/// The metrics the overview is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Backends,
    MaxConnections,
    Size,
    Lag,
    Xacts,
    BlocksHit,
    BlocksRead,
}

impl Kind {
    fn of(metric: &str) -> Option<Self> {
        Some(match metric {
            "pg_database_numbackends" => Self::Backends,
            "pg_settings_max_connections" => Self::MaxConnections,
            "pg_database_size_bytes" => Self::Size,
            "pg_replication_lag_seconds" => Self::Lag,
            "pg_database_xact_commit_total" | "pg_database_xact_rollback_total" => Self::Xacts,
            "pg_database_blks_hit_total" => Self::BlocksHit,
            "pg_database_blks_read_total" => Self::BlocksRead,
            _ => return None,
        })
    }

    fn counter(self) -> bool {
        matches!(self, Self::Xacts | Self::BlocksHit | Self::BlocksRead)
    }
}

/// What one batch says of its instance: the latest value of each overview series in it.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetPoint {
    /// Collection time (never later than the stream's time plus an hour: a collector's clock
    /// far ahead must not freeze the row).
    pub at: DateTime<Utc>,
    /// `metric{labels}` → value.
    pub readings: BTreeMap<String, f64>,
}

impl FleetPoint {
    /// The overview's series of `batch`, published at `published`; `None` when it holds none.
    pub fn of(batch: &StreamBatch, published: DateTime<Utc>) -> Option<Self> {
        let mut latest: HashMap<u32, (DateTime<Utc>, f64)> = HashMap::new();
        for p in &batch.points {
            let e = latest.entry(p.series).or_insert((p.ts, p.value));
            if p.ts >= e.0 {
                *e = (p.ts, p.value);
            }
        }
        let mut readings = BTreeMap::new();
        for (series, (_, value)) in latest {
            let Some(s) = batch.series(series) else {
                continue;
            };
            if Kind::of(s.metric).is_none() {
                continue;
            }
            let labels: Vec<String> = s.labels().map(|(k, v)| format!("{k}={v}")).collect();
            readings.insert(format!("{}{{{}}}", s.metric, labels.join(",")), value);
        }
        (!readings.is_empty()).then(|| Self {
            at: batch.collected_at.min(published + Duration::hours(1)),
            readings,
        })
    }
}

/// The latest reading of one series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// Value.
    pub v: f64,
    /// When it was collected.
    pub t: DateTime<Utc>,
    /// A counter's per-second rate since its previous reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r: Option<f64>,
}

/// A row of `rm_fleet`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetRow {
    pub collector_id: uuid::Uuid,
    pub sampled_at: DateTime<Utc>,
    pub series: BTreeMap<String, Reading>,
    pub connections: Option<f64>,
    pub max_connections: Option<f64>,
    pub database_size: Option<f64>,
    pub replication_lag_s: Option<f64>,
    pub tps: Option<f64>,
    pub cache_hit_ratio: Option<f64>,
    pub spark_minute: Option<DateTime<Utc>>,
    pub spark_tps: Vec<Option<f64>>,
    pub spark_connections: Vec<Option<f64>>,
}

fn kind_of_key(key: &str) -> Option<Kind> {
    Kind::of(key.split('{').next().unwrap_or_default())
}

/// A counter's per-second rate from `before` to a reading `v` at `t`: a counter that went
/// down was reset (a restart, a database dropped and made again) and counts from zero.
fn rate(before: Option<&Reading>, v: f64, t: DateTime<Utc>) -> Option<f64> {
    let before = before?;
    if before.t == t {
        return before.r; // the same reading again (a retried chunk)
    }
    let seconds = (t - before.t).num_milliseconds() as f64 / 1000.0;
    let delta = if v >= before.v { v - before.v } else { v };
    (seconds > 0.0).then(|| delta / seconds)
}

/// `prev` after `point` from `collector`. A point older than the row's latest changes nothing
/// (a late batch); chunks of one pass (same time) add up. Each figure is made of the series'
/// latest readings: sums and maxima of gauges, sums of counter rates.
pub fn advance(prev: Option<FleetRow>, collector: uuid::Uuid, p: &FleetPoint) -> FleetRow {
    let mut row = match prev {
        Some(prev) if prev.sampled_at > p.at => return prev,
        Some(prev) => prev,
        None => FleetRow::default(),
    };
    row.collector_id = collector;
    row.sampled_at = p.at;
    for (key, v) in &p.readings {
        let counter = kind_of_key(key).is_some_and(Kind::counter);
        let r = if counter {
            rate(row.series.get(key), *v, p.at)
        } else {
            None
        };
        row.series
            .insert(key.clone(), Reading { v: *v, t: p.at, r });
    }
    let stale = p.at - Duration::minutes(STALE_AFTER_MINUTES);
    row.series.retain(|_, r| r.t >= stale);
    // Per kind, the readings of its latest collection.
    let mut latest: HashMap<u8, (DateTime<Utc>, Vec<Reading>)> = HashMap::new();
    for (key, reading) in &row.series {
        let Some(kind) = kind_of_key(key) else {
            continue;
        };
        let slot = latest.entry(kind as u8).or_insert((reading.t, Vec::new()));
        if reading.t > slot.0 {
            *slot = (reading.t, Vec::new());
        }
        if reading.t == slot.0 {
            slot.1.push(*reading);
        }
    }
    let values = |kind: Kind| latest.get(&(kind as u8)).map(|(_, r)| r.as_slice());
    let sum = |kind: Kind| values(kind).map(|r| r.iter().map(|x| x.v).sum::<f64>());
    let max = |kind: Kind| values(kind).and_then(|r| r.iter().map(|x| x.v).reduce(f64::max));
    let rates =
        |kind: Kind| values(kind).and_then(|r| r.iter().filter_map(|x| x.r).reduce(|a, b| a + b));
    row.connections = sum(Kind::Backends);
    row.max_connections = max(Kind::MaxConnections);
    row.database_size = sum(Kind::Size);
    row.replication_lag_s = max(Kind::Lag);
    row.tps = rates(Kind::Xacts);
    if let (Some(hit), Some(read)) = (rates(Kind::BlocksHit), rates(Kind::BlocksRead)) {
        if hit + read > 0.0 {
            row.cache_hit_ratio = Some(hit / (hit + read));
        }
    }
    if values(Kind::BlocksHit).is_none() {
        row.cache_hit_ratio = None;
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
        series: serde_json::from_value(r.get::<_, serde_json::Value>("series")).unwrap_or_default(),
        connections: r.get("connections"),
        max_connections: r.get("max_connections"),
        database_size: r.get("database_size"),
        replication_lag_s: r.get("replication_lag_s"),
        tps: r.get("tps"),
        cache_hit_ratio: r.get("cache_hit_ratio"),
        spark_minute: r.get("spark_minute"),
        spark_tps: r.get("spark_tps"),
        spark_connections: r.get("spark_connections"),
    }
}

/// Advances the rows of every instance in `points` (in the order applied) and writes them:
/// one read of the rows, locked, and one statement per instance, pipelined. Only managed
/// instances get a row (the overview lists nothing else): a collector bound to none, which may
/// report any other name, cannot grow the table name by name.
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
            "INSERT INTO rm_fleet (instance, collector_id, sampled_at, series, connections,
                 max_connections, database_size, replication_lag_s, tps, cache_hit_ratio,
                 spark_minute, spark_tps, spark_connections)
             SELECT $1::text, $2::uuid, $3::timestamptz, $4::jsonb, $5::float8, $6::float8,
                    $7::float8, $8::float8, $9::float8, $10::float8, $11::timestamptz,
                    $12::float8[], $13::float8[]
              WHERE EXISTS (SELECT 1 FROM rm_managed_instances m WHERE m.name = $1)
             ON CONFLICT (instance, collector_id) DO UPDATE SET
                 sampled_at = excluded.sampled_at, series = excluded.series,
                 connections = excluded.connections, max_connections = excluded.max_connections,
                 database_size = excluded.database_size,
                 replication_lag_s = excluded.replication_lag_s, tps = excluded.tps,
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
                    &serde_json::to_value(&r.series).unwrap_or_default(),
                    &r.connections,
                    &r.max_connections,
                    &r.database_size,
                    &r.replication_lag_s,
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

    /// A pass over databases `dbs`: (name, xacts, hit, read, backends).
    fn point(t: &str, dbs: &[(&str, f64, f64, f64, f64)]) -> FleetPoint {
        let mut readings = BTreeMap::new();
        for (db, xacts, hit, read, backends) in dbs {
            let key = |m: &str| format!("{m}{{datname={db}}}");
            readings.insert(key("pg_database_xact_commit_total"), *xacts);
            readings.insert(key("pg_database_blks_hit_total"), *hit);
            readings.insert(key("pg_database_blks_read_total"), *read);
            readings.insert(key("pg_database_numbackends"), *backends);
        }
        FleetPoint {
            at: at(t),
            readings,
        }
    }

    #[test]
    fn rates_are_summed_per_database_and_a_reset_counts_from_zero() {
        let c = uuid::Uuid::nil();
        let r = advance(
            None,
            c,
            &point(
                "2026-12-03T10:00:00Z",
                &[("a", 1000.0, 900.0, 100.0, 5.0), ("b", 50.0, 0.0, 0.0, 1.0)],
            ),
        );
        assert_eq!(
            (r.tps, r.cache_hit_ratio, r.connections),
            (None, None, Some(6.0))
        );
        let r = advance(
            Some(r),
            c,
            &point(
                "2026-12-03T10:00:10Z",
                &[
                    ("a", 1500.0, 1890.0, 110.0, 7.0),
                    ("b", 150.0, 0.0, 0.0, 1.0),
                ],
            ),
        );
        assert_eq!(r.tps, Some(60.0), "50/s on a and 10/s on b");
        assert_eq!(r.cache_hit_ratio, Some(0.99));
        assert_eq!(r.connections, Some(8.0));
        // b restarts from zero: its rate counts from zero, a's is unaffected.
        let r = advance(
            Some(r),
            c,
            &point(
                "2026-12-03T10:00:20Z",
                &[
                    ("a", 2000.0, 2880.0, 120.0, 7.0),
                    ("b", 20.0, 0.0, 0.0, 1.0),
                ],
            ),
        );
        assert_eq!(r.tps, Some(52.0));
        // An older batch changes nothing.
        let before = r.clone();
        assert_eq!(
            advance(
                Some(r),
                c,
                &point("2026-12-03T09:00:00Z", &[("a", 0.0, 0.0, 0.0, 99.0)])
            ),
            before
        );
    }

    #[test]
    fn chunks_of_one_pass_add_up_and_dropped_databases_fade() {
        let c = uuid::Uuid::nil();
        let mut r = advance(
            None,
            c,
            &point("2026-12-03T10:00:00Z", &[("a", 0.0, 0.0, 0.0, 1.0)]),
        );
        r = advance(
            Some(r),
            c,
            &point("2026-12-03T10:00:00Z", &[("b", 0.0, 0.0, 0.0, 2.0)]),
        );
        r = advance(
            Some(r),
            c,
            &point("2026-12-03T10:01:00Z", &[("a", 600.0, 0.0, 0.0, 3.0)]),
        );
        r = advance(
            Some(r),
            c,
            &point("2026-12-03T10:01:00Z", &[("b", 60.0, 0.0, 0.0, 4.0)]),
        );
        assert_eq!(
            (r.tps, r.connections),
            (Some(11.0), Some(7.0)),
            "both chunks counted"
        );
        // The same chunk again (a retry) changes nothing.
        let again = advance(
            Some(r.clone()),
            c,
            &point("2026-12-03T10:01:00Z", &[("b", 60.0, 0.0, 0.0, 4.0)]),
        );
        assert_eq!((again.tps, again.connections), (r.tps, r.connections));
        // b is dropped: only a's latest pass counts.
        r = advance(
            Some(r),
            c,
            &point("2026-12-03T10:02:00Z", &[("a", 1200.0, 0.0, 0.0, 2.0)]),
        );
        assert_eq!((r.tps, r.connections), (Some(10.0), Some(2.0)));
        r = advance(
            Some(r),
            c,
            &point("2026-12-03T10:20:00Z", &[("a", 1200.0, 0.0, 0.0, 2.0)]),
        );
        assert_eq!(
            r.series.len(),
            4,
            "b's readings went stale and were dropped"
        );
    }

    #[test]
    fn sparklines_hold_one_point_a_minute_with_gaps_and_at_most_an_hour() {
        let c = uuid::Uuid::nil();
        let mut r = advance(
            None,
            c,
            &point("2026-12-03T10:00:05Z", &[("a", 0.0, 0.0, 0.0, 1.0)]),
        );
        r = advance(
            Some(r),
            c,
            &point("2026-12-03T10:00:35Z", &[("a", 0.0, 0.0, 0.0, 2.0)]),
        );
        assert_eq!(
            r.spark_connections,
            vec![Some(2.0)],
            "same minute: replaced"
        );
        r = advance(
            Some(r),
            c,
            &point("2026-12-03T10:03:00Z", &[("a", 0.0, 0.0, 0.0, 3.0)]),
        );
        assert_eq!(r.spark_connections, vec![Some(2.0), None, None, Some(3.0)]);
        for m in 4..130 {
            let t = format!("2026-12-03T{:02}:{:02}:00Z", 10 + m / 60, m % 60);
            r = advance(
                Some(r),
                c,
                &point(&t, &[("a", 0.0, 0.0, 0.0, f64::from(m))]),
            );
        }
        assert_eq!(r.spark_connections.len(), SPARK_POINTS);
        assert_eq!(r.spark_connections.last(), Some(&Some(129.0)));
        assert_eq!(r.spark_tps.len(), SPARK_POINTS);
    }
}
