//! `GET /collectors/{id}/queries/slow` and `/frequent` (viewer): a collector's top statements
//! over a range, from the pg_stat_statements counters it sent (reset-aware increases) and the
//! redacted statement texts.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::Json;
use projections::queries::metrics::{self, SeriesScope};
use schemars::JsonSchema;
use serde::Serialize;

use super::parse_id;
use super::series::{invalid, range};
use crate::error::ApiError;
use crate::state::AppState;

/// Longest range of a statements ranking, which reads raw samples (kept 14 days by default).
const MAX_STATEMENT_RANGE_DAYS: i64 = 31;

/// Most samples a statements ranking may read. They are folded as they stream in (memory is
/// per series), so this bounds the work, not the memory.
const MAX_STATEMENT_ROWS: i64 = 1_000_000;

#[derive(Serialize, JsonSchema)]
pub(crate) struct Statement {
    queryid: String,
    database: String,
    query: Option<String>,
    calls: f64,
    total_time_ms: f64,
    mean_time_ms: f64,
    /// With `/queries/top`: the range in 24 buckets, `[bucket start unix ms, calls, time ms]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    trend: Option<Vec<(i64, f64, f64)>>,
}

/// Buckets of a statement's trend.
const TREND_BUCKETS: usize = 24;

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
    /// Adds the next point; gives the increase since the one before (0 for the first).
    fn add(&mut self, value: f64) -> f64 {
        let step = if self.points == 0 {
            self.first = value;
            0.0
        } else if value >= self.last {
            value - self.last
        } else {
            value
        };
        self.increase += step;
        self.last = value;
        self.points += 1;
        step
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
fn increase(points: &[f64]) -> f64 {
    let mut acc = Increase::default();
    for p in points {
        acc.add(*p);
    }
    acc.total()
}

/// The statements of a collector or an instance over the request's range, with their calls and
/// time (and, with `trend`, their increases per bucket).
async fn statements(
    state: &AppState,
    scope: &SeriesScope,
    q: &HashMap<String, String>,
    trend: bool,
) -> Result<Vec<Statement>, ApiError> {
    use futures::TryStreamExt;

    let window = range(q, MAX_STATEMENT_RANGE_DAYS)?;
    let bucket_ms = ((window.1 - window.0).num_milliseconds() / TREND_BUCKETS as i64).max(1);
    let bucket_of = |ts: chrono::DateTime<chrono::Utc>| {
        usize::try_from((ts - window.0).num_milliseconds() / bucket_ms)
            .unwrap_or(0)
            .min(TREND_BUCKETS - 1)
    };
    let client = state.read().await?;
    // Streamed and folded per series as rows arrive: memory grows with the statements, not
    // with the samples in the range.
    let rows = metrics::statement_samples(&client, scope, window, MAX_STATEMENT_ROWS + 1).await?;
    futures::pin_mut!(rows);
    // Per series: (queryid, database), whether it counts calls, its increase and its increase
    // per bucket.
    type Fold = ((String, String), bool, Increase, Vec<f64>);
    let mut per_series: HashMap<i64, Fold> = HashMap::new();
    let mut collectors: Vec<uuid::Uuid> = Vec::new();
    let mut seen: i64 = 0;
    while let Some(row) = rows.try_next().await? {
        seen += 1;
        if seen > MAX_STATEMENT_ROWS {
            return Err(invalid(
                "from",
                &format!("the range holds more than {MAX_STATEMENT_ROWS} samples; narrow it"),
            ));
        }
        let sample = metrics::StatementSample::from_row(&row);
        if !collectors.contains(&sample.collector_id) {
            collectors.push(sample.collector_id);
        }
        let fold = per_series.entry(sample.series_id).or_insert_with(|| {
            (
                (sample.queryid.clone(), sample.database.clone()),
                sample.calls,
                Increase::default(),
                if trend {
                    vec![0.0; TREND_BUCKETS]
                } else {
                    Vec::new()
                },
            )
        });
        let step = fold.2.add(sample.value);
        if let Some(b) = fold.3.get_mut(bucket_of(sample.ts)) {
            *b += step;
        }
    }
    // Series of the same statement (one per instance the collector watches) add up.
    type Sums = (f64, f64, Vec<(f64, f64)>);
    let mut by_query: BTreeMap<(String, String), Sums> = BTreeMap::new();
    for (key, calls, inc, buckets) in per_series.into_values() {
        let e = by_query.entry(key).or_default();
        e.2.resize(buckets.len().max(e.2.len()), (0.0, 0.0));
        for (acc, b) in e.2.iter_mut().zip(&buckets) {
            if calls {
                acc.0 += b;
            } else {
                acc.1 += b;
            }
        }
        // With a trend, the totals are what the trend adds up to: the increase within the
        // range (a statement seen once in it counts nothing yet, as its trend shows).
        let total = if trend {
            buckets.iter().sum()
        } else {
            inc.total()
        };
        if calls {
            e.0 += total;
        } else {
            e.1 += total;
        }
    }
    let start_ms = window.0.timestamp_millis();
    let texts = metrics::statement_texts(&client, &collectors).await?;
    Ok(by_query
        .into_iter()
        .map(|((queryid, database), (calls, total, buckets))| Statement {
            query: texts.get(&queryid).cloned(),
            queryid,
            database,
            calls,
            total_time_ms: total,
            mean_time_ms: if calls > 0.0 { total / calls } else { 0.0 },
            trend: trend.then(|| {
                buckets
                    .iter()
                    .enumerate()
                    .map(|(n, (c, t))| (start_ms + n as i64 * bucket_ms, *c, *t))
                    .collect()
            }),
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

/// The top `limit` statements of a collector or an instance over the range, by `key`, largest
/// first.
async fn top(
    state: &AppState,
    scope: &SeriesScope,
    q: &HashMap<String, String>,
    key: fn(&Statement) -> f64,
    trend: bool,
) -> Result<Json<Vec<Statement>>, ApiError> {
    let n = limit(q)?;
    let mut all = statements(state, scope, q, trend).await?;
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
    let scope = SeriesScope::Collector(parse_id(&id, "collector")?);
    top(&state, &scope, &q, |s| s.mean_time_ms, false).await
}

/// `GET /collectors/{id}/queries/frequent`: top statements by calls over the range.
pub(crate) async fn frequent(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Statement>>, ApiError> {
    let scope = SeriesScope::Collector(parse_id(&id, "collector")?);
    top(&state, &scope, &q, |s| s.calls, false).await
}

/// The ranking `?by=` asks for.
fn ranking(q: &HashMap<String, String>) -> Result<fn(&Statement) -> f64, ApiError> {
    match q.get("by").map(String::as_str) {
        Some("total_time") => Ok(|s| s.total_time_ms),
        Some("mean_time") => Ok(|s| s.mean_time_ms),
        Some("calls") => Ok(|s| s.calls),
        _ => Err(invalid("by", "must be total_time, mean_time or calls")),
    }
}

/// `GET /collectors/{id}/queries/top?by=total_time|mean_time|calls`: a collector's top
/// statements by that key over the range, each with its trend.
pub(crate) async fn ranked(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Statement>>, ApiError> {
    let key = ranking(&q)?;
    let scope = SeriesScope::Collector(parse_id(&id, "collector")?);
    top(&state, &scope, &q, key, true).await
}

/// `GET /managed-instances/{id}/queries/top?by=…`: as [`ranked`], for one instance: only what
/// collectors bound to it sent under its name (a collector watching several servers shows each
/// its own statements).
pub(crate) async fn instance_ranked(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Statement>>, ApiError> {
    let key = ranking(&q)?;
    let id = parse_id(&id, "managed instance")?;
    let known = {
        let client = state.read().await?;
        projections::queries::managed_instances::get(&client, id).await?
    };
    if known.is_none() {
        return Err(ApiError::NotFound("managed instance not found".into()));
    }
    top(
        &state,
        &SeriesScope::Instance(id.to_string()),
        &q,
        key,
        true,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_reset_adds_the_new_value() {
        assert_eq!(increase(&[5.0, 9.0, 2.0]), 6.0);
        assert_eq!(increase(&[7.0]), 7.0);
        assert_eq!(increase(&[]), 0.0);
    }
}
