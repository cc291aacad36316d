//! `GET /metrics/series` (viewer): time series from the metric projections, at the resolution
//! the step calls for (raw, 1-minute or 1-hour rollups), with reset-aware per-second rates for
//! counters. And the top statements of a collector (`/collectors/{id}/queries/slow|frequent`).

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::parse_id;
use crate::error::ApiError;
use crate::state::AppState;

/// Most points one answer may hold (series × buckets).
const MAX_POINTS: i64 = 20_000;

/// Longest range a series query may cover: the default retention of the hour rollups
/// (`PGA_ROLLUP_1H_RETENTION_DAYS`); past it there is nothing to read by default.
const MAX_RANGE_DAYS: i64 = 400;

/// Longest range of a statements ranking, which reads raw samples (kept 14 days by default).
const MAX_STATEMENT_RANGE_DAYS: i64 = 31;

/// Most series one series query may match; more means the labels are too loose.
const MAX_SERIES: usize = 500;

/// Most source rows (samples or rollups, all series together) one series query may read.
const MAX_SOURCE_ROWS: i64 = 200_000;

/// Most samples a statements ranking may read. They are folded as they stream in (memory is
/// per series), so this bounds the work, not the memory.
const MAX_STATEMENT_ROWS: i64 = 1_000_000;

/// Times outside 1970-01-01 ..= 9999-12-31 are refused: both chrono and PostgreSQL hold every
/// instant in there, with room for the offsets the queries subtract, so nothing overflows.
const MIN_UNIX_S: i64 = 0;
const MAX_UNIX_S: i64 = 253_402_300_799;

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    ApiError::Unavailable(e.to_string())
}

fn time_param(q: &HashMap<String, String>, key: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    q.get(key)
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .or_else(|_| {
                    v.parse::<i64>()
                        .map_err(|_| ())
                        .and_then(|s| DateTime::from_timestamp(s, 0).ok_or(()))
                        .map_err(|_| ())
                })
                .map_err(|_| invalid(key, "must be RFC 3339 or Unix seconds"))
                .and_then(|t| {
                    if (MIN_UNIX_S..=MAX_UNIX_S).contains(&t.timestamp()) {
                        Ok(t)
                    } else {
                        Err(invalid(key, "must be between 1970-01-01 and 9999-12-31"))
                    }
                })
        })
        .transpose()
}

/// The time range of a request: `from`/`to` (default: the last hour), at most `max_days` long.
fn range(
    q: &HashMap<String, String>,
    max_days: i64,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let to = time_param(q, "to")?.unwrap_or_else(Utc::now);
    let from = match time_param(q, "from")? {
        Some(from) => from,
        None => to
            .checked_sub_signed(Duration::hours(1))
            .ok_or_else(|| invalid("to", "too early"))?,
    };
    if from >= to {
        return Err(invalid("from", "must be before to"));
    }
    if to - from > Duration::days(max_days) {
        return Err(invalid(
            "from",
            &format!("the range may span at most {max_days} days"),
        ));
    }
    Ok((from, to))
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Series")]
pub(crate) struct SeriesOut {
    labels: BTreeMap<String, String>,
    counter: bool,
    /// `[unix_ms, value]` pairs, one per step bucket that has data.
    points: Vec<(i64, f64)>,
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct SeriesAnswer {
    metric: String,
    function: &'static str,
    resolution: &'static str,
    step_s: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    series: Vec<SeriesOut>,
}

/// One point of a source: when, the bucket's average contribution (sum, count), and the last
/// value (for counters).
struct SourcePoint {
    ts: DateTime<Utc>,
    sum: f64,
    count: i64,
    last: f64,
}

/// `GET /metrics/series?collector_id=|instance_id=&metric=&from=&to=&step=&fn=raw|rate&label.<k>=<v>`
pub(crate) async fn series(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<SeriesAnswer>, ApiError> {
    let metric = q
        .get("metric")
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("metric", "required"))?
        .clone();
    let (from, to) = range(&q, MAX_RANGE_DAYS)?;
    let span = (to - from).num_seconds().max(1);
    let explicit_step = q
        .get("step")
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| invalid("step", "must be a whole number of seconds"))
        })
        .transpose()?;
    let mut step = explicit_step.unwrap_or((span / 300).max(1));
    if step <= 0 {
        return Err(invalid("step", "must be positive"));
    }
    // A step longer than the longest range is one bucket anyway; refusing it keeps every
    // offset computed from it (the rate's look-back) far inside chrono's and PostgreSQL's range.
    if step > MAX_RANGE_DAYS * 86_400 {
        return Err(invalid(
            "step",
            &format!("must be at most {} seconds", MAX_RANGE_DAYS * 86_400),
        ));
    }
    let function = match q.get("fn").map(String::as_str) {
        None | Some("raw") => "raw",
        Some("rate") => "rate",
        Some(_) => return Err(invalid("fn", "must be raw or rate")),
    };
    let mut labels = serde_json::Map::new();
    for (k, v) in &q {
        if let Some(name) = k.strip_prefix("label.") {
            labels.insert(name.to_owned(), Value::String(v.clone()));
        }
    }
    let labels = Value::Object(labels);
    let series_limit = i64::try_from(MAX_SERIES + 1).unwrap_or(i64::MAX);
    let client = state.read().await?;
    let rows = match (q.get("collector_id"), q.get("instance_id")) {
        (Some(c), _) => {
            let Ok(c) = uuid::Uuid::parse_str(c) else {
                return Err(invalid("collector_id", "must be a UUID"));
            };
            client
                .query(
                    "SELECT id, labels, counter FROM metric_series
                      WHERE collector_id = $1 AND metric = $2 AND labels @> $3
                      ORDER BY id LIMIT $4",
                    &[&c, &metric, &labels, &series_limit],
                )
                .await
        }
        (None, Some(i)) => {
            // A managed instance (by id or name) shows only what collectors bound to it sent
            // under its name; any other name, only what collectors bound to nothing sent (a
            // bound collector's batches about other names are refused anyway).
            client
                .query(
                    "WITH m AS (SELECT id, name FROM rm_managed_instances
                                 WHERE id::text = $1 OR name = $1
                                 ORDER BY (id::text = $1) DESC LIMIT 1)
                     SELECT s.id, s.labels, s.counter FROM metric_series s
                      WHERE s.instance = coalesce((SELECT name FROM m), $1)
                        AND s.metric = $2 AND s.labels @> $3
                        AND CASE WHEN EXISTS (SELECT 1 FROM m)
                            THEN EXISTS (SELECT 1 FROM rm_collector_instances ci, m
                                          WHERE ci.collector_id = s.collector_id
                                            AND ci.instance_id = m.id)
                            ELSE NOT EXISTS (SELECT 1 FROM rm_collector_instances ci
                                              WHERE ci.collector_id = s.collector_id)
                            END
                      ORDER BY s.id LIMIT $4",
                    &[i, &metric, &labels, &series_limit],
                )
                .await
        }
        (None, None) => return Err(invalid("collector_id", "give collector_id or instance_id")),
    }
    .map_err(unavailable)?;
    if rows.len() > MAX_SERIES {
        return Err(invalid(
            "metric",
            &format!("matches more than {MAX_SERIES} series; narrow it with label.<key>=<value>"),
        ));
    }
    if explicit_step.is_none() {
        // No step asked for: the finest one whose answer fits, so a server with hundreds of
        // databases still gets its chart (with fewer points per line) instead of a 422.
        let n = i64::try_from(rows.len()).unwrap_or(i64::MAX).max(1);
        let per_series = (MAX_POINTS / n).max(2);
        step = step.max((span + per_series - 2) / (per_series - 1));
    }
    let buckets = span / step + 1;
    let n_series = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    if buckets.saturating_mul(n_series.max(1)) > MAX_POINTS {
        return Err(invalid("step", &format!("this would return more than {MAX_POINTS} points; use a larger step or narrow the labels")));
    }
    let resolution = if step < 60 {
        "raw"
    } else if step < 3600 {
        "1m"
    } else {
        "1h"
    };
    // Hours before this are built in metric_rollup_1h; later ones are aggregated here from the
    // 1-minute rollups (the hour still open, and closed ones upkeep has not reached yet).
    let hours_built: Option<DateTime<Utc>> = if resolution == "1h" {
        client
            .query_opt("SELECT hours_done_until FROM metric_rollup_state", &[])
            .await
            .map_err(unavailable)?
            .map(|r| r.get(0))
    } else {
        None
    };
    let hours_built = hours_built.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let mut out = Vec::with_capacity(rows.len());
    let mut rows_left = MAX_SOURCE_ROWS;
    for row in rows {
        let id: i64 = row.get(0);
        let labels: BTreeMap<String, String> =
            serde_json::from_value(row.get::<_, Value>(1)).unwrap_or_default();
        let counter: bool = row.get(2);
        // One point before `from`, so the first bucket's rate has a predecessor.
        // Cannot overflow: `step` is at most MAX_RANGE_DAYS and `from` is after 1970.
        let from_q = if function == "rate" {
            from - Duration::seconds(step.max(60).saturating_mul(2))
        } else {
            from
        };
        let row_limit = rows_left + 1;
        let source = match resolution {
            "raw" => {
                client
                    .query(
                        "SELECT ts, value, 1::int8, value FROM metric_samples
                      WHERE series_id = $1 AND ts >= $2 AND ts <= $3 ORDER BY ts LIMIT $4",
                        &[&id, &from_q, &to, &row_limit],
                    )
                    .await
            }
            "1m" => {
                client
                    .query(
                        "SELECT last_ts, sum, count, last FROM metric_rollup_1m
                      WHERE series_id = $1 AND bucket >= $2 AND bucket <= $3 ORDER BY bucket
                      LIMIT $4",
                        &[&id, &from_q, &to, &row_limit],
                    )
                    .await
            }
            _ => {
                client
                    .query(
                        "SELECT last_ts, sum, count, last FROM metric_rollup_1h
                      WHERE series_id = $1 AND bucket >= $2 AND bucket <= $3 AND bucket < $4
                     UNION ALL
                     SELECT max(last_ts), sum(sum), sum(count)::int8,
                            (array_agg(last ORDER BY last_ts DESC))[1]
                       FROM metric_rollup_1m
                      WHERE series_id = $1 AND bucket >= greatest($2, $4) AND bucket <= $3
                      GROUP BY date_trunc('hour', bucket)
                     ORDER BY 1 LIMIT $5",
                        &[&id, &from_q, &to, &hours_built, &row_limit],
                    )
                    .await
            }
        }
        .map_err(unavailable)?;
        rows_left -= i64::try_from(source.len()).unwrap_or(i64::MAX);
        if rows_left < 0 {
            return Err(invalid(
                "from",
                &format!(
                    "the range holds more than {MAX_SOURCE_ROWS} stored points; \
                     narrow the range or the labels, or use a larger step"
                ),
            ));
        }
        let points: Vec<SourcePoint> = source
            .iter()
            .map(|r| SourcePoint {
                ts: r.get(0),
                sum: r.get(1),
                count: r.get(2),
                last: r.get(3),
            })
            .collect();
        let bucketed = if function == "rate" {
            rate(&points, from, step)
        } else {
            average(&points, from, step)
        };
        out.push(SeriesOut {
            labels,
            counter,
            points: bucketed,
        });
    }
    Ok(Json(SeriesAnswer {
        metric,
        function,
        resolution,
        step_s: step,
        from,
        to,
        series: out,
    }))
}

fn bucket_of(ts: DateTime<Utc>, from: DateTime<Utc>, step: i64) -> Option<i64> {
    let offset = (ts - from).num_seconds();
    (offset >= 0).then(|| from.timestamp() + (offset / step) * step)
}

/// Average per step bucket.
fn average(points: &[SourcePoint], from: DateTime<Utc>, step: i64) -> Vec<(i64, f64)> {
    let mut acc: BTreeMap<i64, (f64, i64)> = BTreeMap::new();
    for p in points {
        if let Some(b) = bucket_of(p.ts, from, step) {
            let e = acc.entry(b).or_insert((0.0, 0));
            e.0 += p.sum;
            e.1 += p.count;
        }
    }
    acc.into_iter()
        .filter(|(_, (_, n))| *n > 0)
        .map(|(b, (s, n))| (b * 1000, s / n as f64))
        .collect()
}

/// Per-second rate per step bucket, reset-aware: a value lower than its predecessor means the
/// counter restarted, and the increase is the new value itself.
fn rate(points: &[SourcePoint], from: DateTime<Utc>, step: i64) -> Vec<(i64, f64)> {
    let mut acc: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
    for pair in points.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let dt = (b.ts - a.ts).num_milliseconds() as f64 / 1000.0;
        if dt <= 0.0 {
            continue;
        }
        let increase = if b.last >= a.last {
            b.last - a.last
        } else {
            b.last
        };
        if let Some(bucket) = bucket_of(b.ts, from, step) {
            let e = acc.entry(bucket).or_insert((0.0, 0.0));
            e.0 += increase;
            e.1 += dt;
        }
    }
    acc.into_iter()
        .filter(|(_, (_, secs))| *secs > 0.0)
        .map(|(b, (inc, secs))| (b * 1000, inc / secs))
        .collect()
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct Statement {
    queryid: String,
    database: String,
    query: Option<String>,
    calls: f64,
    total_time_ms: f64,
    mean_time_ms: f64,
}

/// A cumulative counter's increase over the range, folded point by point (reset-aware): a
/// value lower than its predecessor means a restart, and the increase is the new value itself.
/// One point alone counts as its value.
#[derive(Default)]
struct Increase {
    points: u64,
    first: f64,
    last: f64,
    increase: f64,
}

impl Increase {
    fn add(&mut self, value: f64) {
        if self.points == 0 {
            self.first = value;
        } else if value >= self.last {
            self.increase += value - self.last;
        } else {
            self.increase += value;
        }
        self.last = value;
        self.points += 1;
    }

    fn total(&self) -> f64 {
        match self.points {
            0 => 0.0,
            1 => self.first,
            _ => self.increase,
        }
    }
}

/// Increase of a cumulative counter over its points (reset-aware); one point: its value.
#[cfg(test)]
fn increase(points: &[(DateTime<Utc>, f64)]) -> f64 {
    let mut acc = Increase::default();
    for p in points {
        acc.add(p.1);
    }
    acc.total()
}

async fn statements(
    state: &AppState,
    id: &str,
    q: &HashMap<String, String>,
) -> Result<Vec<Statement>, ApiError> {
    use futures::TryStreamExt;

    let collector = parse_id(id, "collector")?;
    let (from, to) = range(q, MAX_STATEMENT_RANGE_DAYS)?;
    let client = state.read().await?;
    let row_limit = MAX_STATEMENT_ROWS + 1;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&collector, &from, &to, &row_limit];
    // Streamed and folded per series as rows arrive: memory grows with the statements, not
    // with the samples in the range.
    let rows = client
        .query_raw(
            "SELECT s.id, s.metric, s.labels->>'queryid', coalesce(s.labels->>'database', ''),
                    m.value
               FROM metric_series s JOIN metric_samples m ON m.series_id = s.id
              WHERE s.collector_id = $1
                AND s.metric IN ('pg_statement_calls_total', 'pg_statement_exec_time_ms_total')
                AND m.ts >= $2 AND m.ts <= $3
              ORDER BY s.id, m.ts
              LIMIT $4",
            params,
        )
        .await
        .map_err(unavailable)?;
    futures::pin_mut!(rows);
    // Per series: (queryid, database), whether it counts calls, and its increase.
    let mut per_series: HashMap<i64, ((String, String), bool, Increase)> = HashMap::new();
    let mut seen: i64 = 0;
    while let Some(r) = rows.try_next().await.map_err(unavailable)? {
        seen += 1;
        if seen > MAX_STATEMENT_ROWS {
            return Err(invalid(
                "from",
                &format!("the range holds more than {MAX_STATEMENT_ROWS} samples; narrow it"),
            ));
        }
        let e = per_series.entry(r.get(0)).or_insert_with(|| {
            let key = (
                r.get::<_, Option<String>>(2).unwrap_or_default(),
                r.get::<_, String>(3),
            );
            let calls = r.get::<_, String>(1) == "pg_statement_calls_total";
            (key, calls, Increase::default())
        });
        e.2.add(r.get(4));
    }
    // Series of the same statement (one per instance the collector watches) add up.
    let mut by_query: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
    for (key, calls, inc) in per_series.into_values() {
        let e = by_query.entry(key).or_default();
        if calls {
            e.0 += inc.total();
        } else {
            e.1 += inc.total();
        }
    }
    let texts: HashMap<String, String> = client
        .query(
            "SELECT queryid, query FROM metric_statements WHERE collector_id = $1",
            &[&collector],
        )
        .await
        .map_err(unavailable)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    Ok(by_query
        .into_iter()
        .map(|((queryid, database), (calls, total))| Statement {
            query: texts.get(&queryid).cloned(),
            queryid,
            database,
            calls,
            total_time_ms: total,
            mean_time_ms: if calls > 0.0 { total / calls } else { 0.0 },
        })
        .filter(|s| s.calls > 0.0)
        .collect())
}

fn limit(q: &HashMap<String, String>) -> Result<usize, ApiError> {
    match q.get("limit") {
        None => Ok(10),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| invalid("limit", "must be 1-100")),
    }
}

/// The top `limit` statements of a collector over the range, by `key`, largest first.
async fn top(
    state: &AppState,
    id: &str,
    q: &HashMap<String, String>,
    key: fn(&Statement) -> f64,
) -> Result<Json<Vec<Statement>>, ApiError> {
    let n = limit(q)?;
    let mut all = statements(state, id, q).await?;
    all.sort_by(|a, b| key(b).total_cmp(&key(a)));
    all.truncate(n);
    Ok(Json(all))
}

/// `GET /collectors/{id}/queries/slow`: top statements by mean time over the range.
pub(crate) async fn slow(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Statement>>, ApiError> {
    top(&state, &id, &q, |s| s.mean_time_ms).await
}

/// `GET /collectors/{id}/queries/frequent`: top statements by calls over the range.
pub(crate) async fn frequent(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Statement>>, ApiError> {
    top(&state, &id, &q, |s| s.calls).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(secs: i64, last: f64) -> SourcePoint {
        SourcePoint {
            ts: DateTime::from_timestamp(secs, 0).expect("ts"),
            sum: last,
            count: 1,
            last,
        }
    }

    #[test]
    fn rate_survives_a_counter_reset() {
        let from = DateTime::from_timestamp(0, 0).expect("ts");
        // +60 per minute, then the server restarts and the counter starts again at 30.
        let pts = [
            p(0, 100.0),
            p(60, 160.0),
            p(120, 220.0),
            p(180, 30.0),
            p(240, 90.0),
        ];
        let r = rate(&pts, from, 60);
        assert_eq!(
            r,
            vec![
                (60_000, 1.0),
                (120_000, 1.0),
                (180_000, 0.5),
                (240_000, 1.0)
            ]
        );
        assert_eq!(increase(&[(from, 5.0), (from, 9.0), (from, 2.0)]), 6.0);
    }
}
