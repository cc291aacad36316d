//! `GET /collectors/{id}/queries/slow` and `/frequent` (viewer): a collector's top statements
//! over a range, from the pg_stat_statements counters it sent (reset-aware increases) and the
//! redacted statement texts.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::Json;
use projections::queries::metrics;
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
fn increase(points: &[f64]) -> f64 {
    let mut acc = Increase::default();
    for p in points {
        acc.add(*p);
    }
    acc.total()
}

/// The statements of a collector over the request's range, with their calls and time.
async fn statements(
    state: &AppState,
    id: &str,
    q: &HashMap<String, String>,
) -> Result<Vec<Statement>, ApiError> {
    use futures::TryStreamExt;

    let collector = parse_id(id, "collector")?;
    let window = range(q, MAX_STATEMENT_RANGE_DAYS)?;
    let client = state.read().await?;
    // Streamed and folded per series as rows arrive: memory grows with the statements, not
    // with the samples in the range.
    let rows =
        metrics::statement_samples(&client, collector, window, MAX_STATEMENT_ROWS + 1).await?;
    futures::pin_mut!(rows);
    // Per series: (queryid, database), whether it counts calls, and its increase.
    let mut per_series: HashMap<i64, ((String, String), bool, Increase)> = HashMap::new();
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
        per_series
            .entry(sample.series_id)
            .or_insert_with(|| {
                (
                    (sample.queryid.clone(), sample.database.clone()),
                    sample.calls,
                    Increase::default(),
                )
            })
            .2
            .add(sample.value);
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
    let texts = metrics::statement_texts(&client, collector).await?;
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

    #[test]
    fn a_counter_reset_adds_the_new_value() {
        assert_eq!(increase(&[5.0, 9.0, 2.0]), 6.0);
        assert_eq!(increase(&[7.0]), 7.0);
        assert_eq!(increase(&[]), 0.0);
    }
}
