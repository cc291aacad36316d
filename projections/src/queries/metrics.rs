//! Reads of the metric read models: `metric_series`, `metric_samples`, `metric_rollup_1m`,
//! `metric_rollup_1h`, `metric_rollup_state` and `metric_statements`, as written by the
//! samples projector.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use tokio_postgres::{Client, Row, RowStream};
use uuid::Uuid;

/// Whose series: one collector's, or a managed instance's (by id or name).
#[derive(Debug, Clone)]
pub enum SeriesScope {
    /// Every series a collector sent.
    Collector(Uuid),
    /// A managed instance, by id or name: only what collectors bound to it sent under its name;
    /// a name that is no managed instance's, only what collectors bound to nothing sent.
    Instance(String),
}

/// One series of a metric.
#[derive(Debug, Clone)]
pub struct SeriesRow {
    /// The series id.
    pub id: i64,
    /// Its metric.
    pub metric: String,
    /// The collector that sent it.
    pub collector_id: Uuid,
    /// The instance it describes, as its collector named it.
    pub instance: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Whether it is a cumulative counter.
    pub counter: bool,
}

impl SeriesRow {
    fn from_row(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            metric: row.get("metric"),
            collector_id: row.get("collector_id"),
            instance: row.get("instance"),
            labels: serde_json::from_value(row.get::<_, serde_json::Value>("labels"))
                .unwrap_or_default(),
            counter: row.get("counter"),
        }
    }
}

/// The managed instance `$1` names (by id or name), as the CTE `m`.
const INSTANCE: &str = "WITH m AS (SELECT id, name FROM rm_managed_instances
                     WHERE id::text = $1 OR name = $1
                     ORDER BY (id::text = $1) DESC LIMIT 1)";

/// Series `s` of the instance `m` (after [`INSTANCE`]): sent under its name by a collector bound
/// to it; for a name that is no managed instance's, by a collector bound to nothing.
const OF_INSTANCE: &str = "s.instance = coalesce((SELECT name FROM m), $1)
      AND CASE WHEN EXISTS (SELECT 1 FROM m)
          THEN EXISTS (SELECT 1 FROM rm_collector_instances ci, m
                        WHERE ci.collector_id = s.collector_id AND ci.instance_id = m.id)
          ELSE NOT EXISTS (SELECT 1 FROM rm_collector_instances ci
                            WHERE ci.collector_id = s.collector_id)
          END";

/// The series of `metrics` in `scope` whose labels contain `labels`, by id, at most `limit`.
///
/// # Errors
/// PostgreSQL's.
pub async fn find_series(
    client: &Client,
    scope: &SeriesScope,
    metrics: &[String],
    labels: &serde_json::Value,
    limit: i64,
) -> Result<Vec<SeriesRow>, tokio_postgres::Error> {
    let rows =
        match scope {
            SeriesScope::Collector(collector) => client
                .query(
                    "SELECT id, metric, collector_id, instance, labels, counter FROM metric_series
                      WHERE collector_id = $1 AND metric = ANY($2) AND labels @> $3
                      ORDER BY id LIMIT $4",
                    &[collector, &metrics, labels, &limit],
                )
                .await?,
            SeriesScope::Instance(instance) => {
                // A bound collector's batches about other names are refused by the projectors.
                let sql = format!(
                "{INSTANCE} SELECT s.id, s.metric, s.collector_id, s.instance, s.labels, s.counter
                              FROM metric_series s
                             WHERE s.metric = ANY($2) AND s.labels @> $3 AND {OF_INSTANCE}
                             ORDER BY s.id LIMIT $4"
            );
                client
                    .query(&sql, &[instance, &metrics, labels, &limit])
                    .await?
            }
        };
    Ok(rows.iter().map(SeriesRow::from_row).collect())
}

/// The newest sample of each of `series` after `since`: (series id, time, value).
///
/// # Errors
/// PostgreSQL's.
pub async fn latest(
    client: &Client,
    series: &[i64],
    since: DateTime<Utc>,
) -> Result<Vec<(i64, DateTime<Utc>, f64)>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT s.id, l.ts, l.value FROM unnest($1::int8[]) AS s(id)
              CROSS JOIN LATERAL (SELECT ts, value FROM metric_samples m
                                   WHERE m.series_id = s.id AND m.ts > $2
                                   ORDER BY m.ts DESC LIMIT 1) l",
            &[&series, &since],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// The reset-aware increase of each counter of `series` after `since` and the seconds it
/// spans: (series id, increase, seconds), for series with at least two samples there.
///
/// # Errors
/// PostgreSQL's.
pub async fn increases(
    client: &Client,
    series: &[i64],
    since: DateTime<Utc>,
) -> Result<Vec<(i64, f64, f64)>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT series_id,
                    sum(CASE WHEN value >= prev THEN value - prev ELSE value END),
                    extract(epoch FROM max(ts) - min(prev_ts))::float8
               FROM (SELECT series_id, ts, value,
                            lag(value) OVER w AS prev, lag(ts) OVER w AS prev_ts
                       FROM metric_samples
                      WHERE series_id = ANY($1) AND ts > $2
                     WINDOW w AS (PARTITION BY series_id ORDER BY ts)) x
              WHERE prev IS NOT NULL
              GROUP BY series_id",
            &[&series, &since],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// One bucket of a series' samples: see [`buckets_since`].
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// The series.
    pub series_id: i64,
    /// The bucket's number, from `since` in steps of `step_s`.
    pub n: i64,
    /// The average of its samples.
    pub avg: f64,
    /// Its newest sample's value and time.
    pub last: f64,
    pub last_ts: DateTime<Utc>,
}

/// The samples of `series` after `since` in buckets of `step_s` seconds, aggregated by
/// PostgreSQL (a week of samples per table comes back as 30 rows per table), by series then
/// bucket, at most `limit`.
///
/// # Errors
/// PostgreSQL's.
pub async fn buckets_since(
    client: &Client,
    series: &[i64],
    since: DateTime<Utc>,
    step_s: i64,
    limit: i64,
) -> Result<Vec<Bucket>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT series_id, floor(extract(epoch FROM ts - $2)::float8 / $3::float8)::int8 AS n, avg(value),
                    (array_agg(value ORDER BY ts DESC))[1], max(ts)
               FROM metric_samples
              WHERE series_id = ANY($1) AND ts > $2
              GROUP BY 1, 2 ORDER BY 1, 2 LIMIT $4",
            &[&series, &since, &(step_s as f64), &limit],
        )
        .await?
        .iter()
        .map(|r| Bucket {
            series_id: r.get(0),
            n: r.get(1),
            avg: r.get(2),
            last: r.get(3),
            last_ts: r.get(4),
        })
        .collect())
}

/// Which table a series is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Raw samples.
    Raw,
    /// 1-minute rollups.
    Minute,
    /// 1-hour rollups (and, for hours not built yet, the 1-minute ones aggregated).
    Hour,
}

impl Resolution {
    /// The coarsest resolution no coarser than a step of `step_s` seconds.
    pub fn for_step(step_s: i64) -> Self {
        match step_s {
            ..60 => Self::Raw,
            60..3600 => Self::Minute,
            _ => Self::Hour,
        }
    }

    /// Its name in answers: `raw`, `1m`, `1h`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Minute => "1m",
            Self::Hour => "1h",
        }
    }
}

/// One stored point of a series at some resolution: when, the bucket's sum and count (the
/// average's parts), and the last value (for counters).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourcePoint {
    /// The time of its last sample.
    pub ts: DateTime<Utc>,
    /// Sum of the values.
    pub sum: f64,
    /// Number of values.
    pub count: i64,
    /// The last value.
    pub last: f64,
}

impl SourcePoint {
    fn from_row(row: &Row) -> Self {
        Self {
            ts: row.get("ts"),
            sum: row.get("sum"),
            count: row.get("count"),
            last: row.get("last"),
        }
    }
}

/// Until when the 1-hour rollups are built (none: not yet).
///
/// # Errors
/// PostgreSQL's.
pub async fn hours_built_until(
    client: &Client,
) -> Result<Option<DateTime<Utc>>, tokio_postgres::Error> {
    Ok(client
        .query_opt("SELECT hours_done_until FROM metric_rollup_state", &[])
        .await?
        .map(|r| r.get("hours_done_until")))
}

/// The first instant whose samples are still kept: the start of the oldest daily partition
/// (none: no partition).
///
/// # Errors
/// PostgreSQL's.
pub async fn samples_kept_from<C: tokio_postgres::GenericClient>(
    client: &C,
) -> Result<Option<DateTime<Utc>>, tokio_postgres::Error> {
    let oldest: Option<String> = client
        .query_one(
            "SELECT min(substr(c.relname, length('metric_samples_') + 1))
               FROM pg_inherits i
               JOIN pg_class c ON c.oid = i.inhrelid
               JOIN pg_class p ON p.oid = i.inhparent
              WHERE p.oid = 'metric_samples'::regclass AND c.relname ~ '^metric_samples_[0-9]{8}$'",
            &[],
        )
        .await?
        .get(0);
    Ok(oldest
        .and_then(|d| chrono::NaiveDate::parse_from_str(&d, "%Y%m%d").ok())
        .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc()))
}

/// Where each resolution's points are read from.
#[derive(Debug, Clone, Copy)]
pub struct Sources {
    /// Hours before it are read from `metric_rollup_1h`, and so are hours before
    /// `samples_from` (retention builds a day's hours before it drops the day).
    pub hours_built: DateTime<Utc>,
    /// Samples from it on are kept: minutes and hours not in `metric_rollup_1h` are aggregated
    /// from them; minutes before it are read from `metric_rollup_1m`.
    pub samples_from: DateTime<Utc>,
}

/// The points of series `id` between `from` and `to` at `resolution`, in time order, at most
/// `limit`: see [`Sources`] for where each comes from.
///
/// # Errors
/// PostgreSQL's.
pub async fn points(
    client: &Client,
    id: i64,
    resolution: Resolution,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    sources: Sources,
    limit: i64,
) -> Result<Vec<SourcePoint>, tokio_postgres::Error> {
    let Sources {
        hours_built,
        samples_from,
    } = sources;
    let rows = match resolution {
        Resolution::Raw => {
            client
                .query(
                    "SELECT ts, value AS sum, 1::int8 AS count, value AS last FROM metric_samples
                      WHERE series_id = $1 AND ts >= $2 AND ts <= $3 ORDER BY ts LIMIT $4",
                    &[&id, &from, &to, &limit],
                )
                .await?
        }
        // Buckets whose first instant is in [from, to]: rollup rows before `split`, then
        // the samples from it on, aggregated the same way.
        Resolution::Minute | Resolution::Hour => {
            let (table, unit, split) = match resolution {
                Resolution::Minute => ("metric_rollup_1m", "minute", samples_from),
                _ => ("metric_rollup_1h", "hour", hours_built.max(samples_from)),
            };
            let sql = format!(
                    "SELECT last_ts AS ts, sum, count, last FROM {table}
                      WHERE series_id = $1 AND bucket >= $2 AND bucket <= $3 AND bucket < $4
                     UNION ALL
                     SELECT max(ts), sum(value), count(*)::int8,
                            (array_agg(value ORDER BY ts DESC))[1]
                       FROM metric_samples
                      WHERE series_id = $1
                        AND ts >= greatest(date_trunc('minute', $2::timestamptz
                                             + interval '1 minute' - interval '1 microsecond', 'UTC'), $4)
                        AND ts < date_trunc('minute', $3::timestamptz, 'UTC') + interval '1 minute'
                      GROUP BY date_trunc('{unit}', ts, 'UTC')
                     ORDER BY 1 LIMIT $5"
                );
            client
                .query(&sql, &[&id, &from, &to, &split, &limit])
                .await?
        }
    };
    Ok(rows.iter().map(SourcePoint::from_row).collect())
}

/// One sample of a statement counter (`pg_statement_calls_total` or
/// `pg_statement_exec_time_ms_total`), streamed in series and time order.
#[derive(Debug, Clone)]
pub struct StatementSample {
    /// The series.
    pub series_id: i64,
    /// Whether it counts calls (else execution time in ms).
    pub calls: bool,
    /// The statement's query id.
    pub queryid: String,
    /// Its database.
    pub database: String,
    /// The counter's value.
    pub value: f64,
    /// When it was taken.
    pub ts: DateTime<Utc>,
    /// The collector that sent it.
    pub collector_id: Uuid,
}

impl StatementSample {
    /// Reads one row of [`statement_samples`].
    pub fn from_row(row: &Row) -> Self {
        Self {
            series_id: row.get("series_id"),
            calls: row.get::<_, String>("metric") == "pg_statement_calls_total",
            queryid: row.get::<_, Option<String>>("queryid").unwrap_or_default(),
            database: row.get("database"),
            value: row.get("value"),
            ts: row.get("ts"),
            collector_id: row.get("collector_id"),
        }
    }
}

/// The statement counter samples of `scope` (a collector's, or an instance's as in
/// [`find_series`]) between `from` and `to`, streamed (read them with
/// [`StatementSample::from_row`]), at most `limit`.
///
/// # Errors
/// PostgreSQL's.
pub async fn statement_samples(
    client: &Client,
    scope: &SeriesScope,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    limit: i64,
) -> Result<RowStream, tokio_postgres::Error> {
    const COLUMNS: &str = "s.id AS series_id, s.metric, s.labels->>'queryid' AS queryid,
                    coalesce(s.labels->>'database', '') AS database, m2.value, m2.ts,
                    s.collector_id";
    const WHERE: &str =
        "s.metric IN ('pg_statement_calls_total', 'pg_statement_exec_time_ms_total')
                AND m2.ts >= $2 AND m2.ts <= $3";
    match scope {
        SeriesScope::Collector(collector) => {
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
                [collector, &from, &to, &limit];
            let sql = format!(
                "SELECT {COLUMNS} FROM metric_series s JOIN metric_samples m2 ON m2.series_id = s.id
                  WHERE s.collector_id = $1 AND {WHERE}
                  ORDER BY s.id, m2.ts LIMIT $4"
            );
            client.query_raw(&sql, params).await
        }
        SeriesScope::Instance(instance) => {
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
                [instance, &from, &to, &limit];
            let sql = format!(
                "{INSTANCE} SELECT {COLUMNS}
                   FROM metric_series s JOIN metric_samples m2 ON m2.series_id = s.id
                  WHERE {OF_INSTANCE} AND {WHERE}
                  ORDER BY s.id, m2.ts LIMIT $4"
            );
            client.query_raw(&sql, params).await
        }
    }
}

/// The statement texts the `collectors` sent, by query id (redacted when stored).
///
/// # Errors
/// PostgreSQL's.
pub async fn statement_texts(
    client: &Client,
    collectors: &[Uuid],
) -> Result<HashMap<String, String>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT queryid, query FROM metric_statements WHERE collector_id = ANY($1)
              ORDER BY updated_at",
            &[&collectors],
        )
        .await?
        .iter()
        .map(|r| (r.get("queryid"), r.get("query")))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resolution_follows_the_step() {
        assert_eq!(Resolution::for_step(1), Resolution::Raw);
        assert_eq!(Resolution::for_step(59), Resolution::Raw);
        assert_eq!(Resolution::for_step(60), Resolution::Minute);
        assert_eq!(Resolution::for_step(3599), Resolution::Minute);
        assert_eq!(Resolution::for_step(3600), Resolution::Hour);
        assert_eq!(Resolution::Hour.as_str(), "1h");
    }
}
