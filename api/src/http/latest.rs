//! `GET /metrics/latest` (viewer): the newest value of every series of some metrics, joined into
//! rows by label set (one row per table, per session state, per replica …), with each counter's
//! per-second rate over the window and, on request, a sparkline of one metric per row. What the
//! instance page's tables read; the reads are `projections::queries::metrics`'.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use projections::queries::metrics::{self, SeriesScope};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::series::{invalid, label_filter, scope};
use crate::error::ApiError;
use crate::state::AppState;

/// Most metrics one request may name.
const MAX_METRICS: usize = 30;
/// Most series one request may match.
const MAX_SERIES: usize = 50_000;
/// Most rows one answer holds; past it the answer says `truncated`.
const MAX_ROWS: usize = 5_000;
/// Most sparkline buckets (series × 30) one answer may hold.
const MAX_SPARK_ROWS: i64 = 300_000;
/// Counters' rates are over the window's last hour at most.
const RATE_WINDOW_S: i64 = 3600;
/// Points of a sparkline.
const SPARK_BUCKETS: i64 = 30;
/// The window's default, shortest and longest length (samples are kept 14 days by default).
const DEFAULT_WITHIN_S: i64 = 900;
const MIN_WITHIN_S: i64 = 60;
const MAX_WITHIN_S: i64 = 7 * 86_400;

/// The series of one label set.
#[derive(Serialize, JsonSchema)]
pub(crate) struct LatestRow {
    labels: BTreeMap<String, String>,
    /// Unix ms of the newest sample in the row.
    ts: i64,
    /// The newest value of each metric.
    values: BTreeMap<String, f64>,
    /// Counters only: the per-second increase over the window's last hour at most
    /// (reset-aware), where it holds two samples or more.
    rates: BTreeMap<String, f64>,
    /// With `spark`: `[unix_ms, value]` of that metric over the window, at most 30 points
    /// (the average per bucket, or the per-second rate with `spark_fn=rate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    spark: Option<Vec<(i64, f64)>>,
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct LatestAnswer {
    /// When the answer was read.
    at: DateTime<Utc>,
    within_s: i64,
    /// More than 5,000 rows matched; the first 5,000 are given (by labels, or by `sort`).
    truncated: bool,
    rows: Vec<LatestRow>,
}

/// A request, parsed and bounded.
#[derive(Debug)]
struct LatestQuery {
    metrics: Vec<String>,
    scope: SeriesScope,
    labels: Value,
    within_s: i64,
    spark: Option<(String, bool)>,
    /// Rows by this metric, largest first, before the answer is cut at `MAX_ROWS`.
    sort: Option<String>,
}

impl LatestQuery {
    fn parse(q: &HashMap<String, String>) -> Result<Self, ApiError> {
        let mut metrics: Vec<String> = q
            .get("metric")
            .map(|m| {
                m.split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        metrics.sort();
        metrics.dedup();
        if metrics.is_empty() || metrics.len() > MAX_METRICS {
            return Err(invalid(
                "metric",
                &format!("give 1-{MAX_METRICS} comma-separated metric names"),
            ));
        }
        let within_s = match q.get("within") {
            None => DEFAULT_WITHIN_S,
            Some(w) => w
                .parse::<i64>()
                .ok()
                .filter(|w| (MIN_WITHIN_S..=MAX_WITHIN_S).contains(w))
                .ok_or_else(|| {
                    invalid(
                        "within",
                        &format!("must be {MIN_WITHIN_S}-{MAX_WITHIN_S} seconds"),
                    )
                })?,
        };
        let spark = match q.get("spark") {
            None => None,
            Some(s) if metrics.contains(s) => Some((
                s.clone(),
                match q.get("spark_fn").map(String::as_str) {
                    None | Some("raw") => false,
                    Some("rate") => true,
                    Some(_) => return Err(invalid("spark_fn", "must be raw or rate")),
                },
            )),
            Some(_) => return Err(invalid("spark", "must be one of the metrics asked for")),
        };
        let sort = match q.get("sort") {
            None => None,
            Some(s) if metrics.contains(s) => Some(s.clone()),
            Some(_) => return Err(invalid("sort", "must be one of the metrics asked for")),
        };
        Ok(Self {
            metrics,
            scope: scope(q)?,
            labels: label_filter(q),
            within_s,
            spark,
            sort,
        })
    }
}

/// `GET /metrics/latest?collector_id=|instance_id=&metric=a,b&label.<k>=<v>&within=<s>&spark=<metric>&spark_fn=raw|rate&sort=<metric>`
// Over 60 lines on purpose: the reads in order (series, newest, rates, sparklines), then the rows.
pub(crate) async fn latest(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<LatestAnswer>, ApiError> {
    let query = LatestQuery::parse(&q)?;
    let client = state.read().await?;
    let limit = i64::try_from(MAX_SERIES + 1).unwrap_or(i64::MAX);
    let found =
        metrics::find_series(&client, &query.scope, &query.metrics, &query.labels, limit).await?;
    if found.len() > MAX_SERIES {
        return Err(invalid(
            "metric",
            &format!("matches more than {MAX_SERIES} series; narrow it with label.<key>=<value>"),
        ));
    }
    let at = Utc::now();
    let since = at - Duration::seconds(query.within_s);
    let ids: Vec<i64> = found.iter().map(|s| s.id).collect();
    let newest: HashMap<i64, (DateTime<Utc>, f64)> = metrics::latest(&client, &ids, since)
        .await?
        .into_iter()
        .map(|(id, ts, v)| (id, (ts, v)))
        .collect();
    let found = current(found, &newest);
    let counters: Vec<i64> = found.iter().filter(|s| s.counter).map(|s| s.id).collect();
    // Rates are "now": over the window's last hour at most, so a week-long window does not
    // make PostgreSQL walk a week of every counter.
    let rate_since = at - Duration::seconds(query.within_s.min(RATE_WINDOW_S));
    let rates: HashMap<i64, f64> = if counters.is_empty() {
        HashMap::new()
    } else {
        metrics::increases(&client, &counters, rate_since)
            .await?
            .into_iter()
            .filter(|(_, _, secs)| *secs > 0.0)
            .map(|(id, inc, secs)| (id, inc / secs))
            .collect()
    };
    let sparks = match &query.spark {
        None => HashMap::new(),
        Some((metric, as_rate)) => {
            let ids: Vec<i64> = found
                .iter()
                .filter(|s| &s.metric == metric)
                .map(|s| s.id)
                .collect();
            let step = spark_step(query.within_s);
            let buckets =
                metrics::buckets_since(&client, &ids, since, step, MAX_SPARK_ROWS + 1).await?;
            if buckets.len() > usize::try_from(MAX_SPARK_ROWS).unwrap_or(usize::MAX) {
                return Err(invalid(
                    "spark",
                    &format!("more than {MAX_SPARK_ROWS} sparkline points; narrow the labels"),
                ));
            }
            sparklines(&buckets, since, step, *as_rate)
        }
    };
    let mut rows: BTreeMap<BTreeMap<String, String>, LatestRow> = BTreeMap::new();
    // Per row and metric, the time of the value kept: with two series of one label set (two
    // collectors bound to the instance), the newer wins, metric by metric.
    let mut kept: HashMap<(BTreeMap<String, String>, String), DateTime<Utc>> = HashMap::new();
    for s in found {
        let (ts, value) = newest[&s.id];
        let key = (s.labels.clone(), s.metric.clone());
        if kept.get(&key).is_some_and(|t| *t > ts) {
            continue;
        }
        kept.insert(key, ts);
        let row = rows.entry(s.labels.clone()).or_insert_with(|| LatestRow {
            labels: s.labels,
            ts: 0,
            values: BTreeMap::new(),
            rates: BTreeMap::new(),
            spark: query.spark.as_ref().map(|_| Vec::new()),
        });
        row.values.insert(s.metric.clone(), value);
        match rates.get(&s.id) {
            Some(r) => row.rates.insert(s.metric.clone(), *r),
            None => row.rates.remove(&s.metric),
        };
        if let Some(points) = sparks.get(&s.id) {
            row.spark = Some(points.clone());
        }
        row.ts = row.ts.max(ts.timestamp_millis());
    }
    let mut rows: Vec<LatestRow> = rows.into_values().collect();
    if let Some(metric) = &query.sort {
        // Largest first; rows without the metric last (the sort is stable: then by labels).
        rows.sort_by(|a, b| {
            let v = |r: &LatestRow| r.values.get(metric).copied().unwrap_or(f64::NEG_INFINITY);
            v(b).total_cmp(&v(a))
        });
    }
    let truncated = rows.len() > MAX_ROWS;
    rows.truncate(MAX_ROWS);
    Ok(Json(LatestAnswer {
        at,
        within_s: query.within_s,
        truncated,
        rows,
    }))
}

/// The series still reported: a series whose newest sample in the window is older than the
/// newest of its metric from the same collector and instance was left out of that collector's
/// latest pass (a dropped table, a gone session state or replica), so it is no longer current.
/// Every sample of one pass carries the pass's time, so "the latest pass" is exact.
fn current(
    found: Vec<metrics::SeriesRow>,
    newest: &HashMap<i64, (DateTime<Utc>, f64)>,
) -> Vec<metrics::SeriesRow> {
    let mut pass: HashMap<(uuid::Uuid, &str, &str), DateTime<Utc>> = HashMap::new();
    for s in &found {
        if let Some((ts, _)) = newest.get(&s.id) {
            let e = pass
                .entry((s.collector_id, s.instance.as_str(), s.metric.as_str()))
                .or_insert(*ts);
            *e = (*e).max(*ts);
        }
    }
    let keep: Vec<bool> = found
        .iter()
        .map(|s| {
            newest.get(&s.id).is_some_and(|(ts, _)| {
                pass.get(&(s.collector_id, s.instance.as_str(), s.metric.as_str())) == Some(ts)
            })
        })
        .collect();
    found
        .into_iter()
        .zip(keep)
        .filter_map(|(s, k)| k.then_some(s))
        .collect()
}

/// Seconds per sparkline bucket: `SPARK_BUCKETS` buckets cover the window.
fn spark_step(within_s: i64) -> i64 {
    (within_s + SPARK_BUCKETS - 1) / SPARK_BUCKETS
}

/// Per series, its buckets (ordered by series, then bucket) as `[unix ms, value]`: the
/// average, or the per-second rate from the previous bucket's newest sample to this one's
/// (reset-aware; a series' first bucket has none).
fn sparklines(
    buckets: &[metrics::Bucket],
    since: DateTime<Utc>,
    step_s: i64,
    as_rate: bool,
) -> HashMap<i64, Vec<(i64, f64)>> {
    let start = since.timestamp_millis();
    let at = |n: i64| start + n.clamp(0, SPARK_BUCKETS - 1) * step_s * 1000;
    let mut out = HashMap::new();
    for chunk in buckets.chunk_by(|a, b| a.series_id == b.series_id) {
        let line: Vec<(i64, f64)> = if as_rate {
            chunk
                .windows(2)
                .filter_map(|w| {
                    let secs = (w[1].last_ts - w[0].last_ts).num_milliseconds() as f64 / 1000.0;
                    let increase = if w[1].last >= w[0].last {
                        w[1].last - w[0].last
                    } else {
                        w[1].last
                    };
                    (secs > 0.0).then(|| (at(w[1].n), increase / secs))
                })
                .collect()
        } else {
            chunk.iter().map(|b| (at(b.n), b.avg)).collect()
        };
        out.insert(chunk[0].series_id, line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn bad_requests_name_their_field() {
        for (pairs, field) in [
            (vec![("instance_id", "x")], "metric"),
            (vec![("instance_id", "x"), ("metric", ",")], "metric"),
            (vec![("metric", "a")], "collector_id"),
            (
                vec![("instance_id", "x"), ("metric", "a"), ("within", "59")],
                "within",
            ),
            (
                vec![("instance_id", "x"), ("metric", "a"), ("within", "604801")],
                "within",
            ),
            (
                vec![("instance_id", "x"), ("metric", "a"), ("spark", "b")],
                "spark",
            ),
            (
                vec![
                    ("instance_id", "x"),
                    ("metric", "a"),
                    ("spark", "a"),
                    ("spark_fn", "x"),
                ],
                "spark_fn",
            ),
        ] {
            match LatestQuery::parse(&q(&pairs)) {
                Err(ApiError::Invalid { field: f, .. }) => assert_eq!(f, field, "{pairs:?}"),
                other => panic!("{pairs:?}: {other:?}"),
            }
        }
        let many = (0..31)
            .map(|n| format!("m{n}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(LatestQuery::parse(&q(&[("instance_id", "x"), ("metric", &many)])).is_err());
        let ok =
            LatestQuery::parse(&q(&[("instance_id", "x"), ("metric", "b,a,b")])).expect("valid");
        assert_eq!(ok.metrics, ["a", "b"]);
        assert_eq!(ok.within_s, DEFAULT_WITHIN_S);
    }

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).expect("instant")
    }

    fn bucket(series_id: i64, n: i64, avg: f64, last: f64, last_ts: i64) -> metrics::Bucket {
        metrics::Bucket {
            series_id,
            n,
            avg,
            last,
            last_ts: t(last_ts),
        }
    }

    #[test]
    fn sparklines_are_per_series_and_rates_span_buckets() {
        let buckets = [
            bucket(1, 0, 2.0, 3.0, 10),
            bucket(1, 29, 5.0, 5.0, 899),
            // A sample at the window's very end lands in the last bucket, not a 31st.
            bucket(1, 30, 6.0, 6.0, 900),
            bucket(2, 0, 100.0, 100.0, 0),
            bucket(2, 2, 160.0, 160.0, 60),
            // The counter restarted: the increase is the new value.
            bucket(2, 4, 30.0, 30.0, 120),
        ];
        let lines = sparklines(&buckets, t(0), 30, false);
        assert_eq!(lines[&1], [(0, 2.0), (870_000, 5.0), (870_000, 6.0)]);
        let rates = sparklines(&buckets, t(0), 30, true);
        assert_eq!(rates[&2], [(60_000, 1.0), (120_000, 0.5)]);
        assert_eq!(spark_step(900), 30);
        assert_eq!(spark_step(901), 31);
    }

    fn series(id: i64, collector: u128, metric: &str) -> metrics::SeriesRow {
        metrics::SeriesRow {
            id,
            metric: metric.into(),
            collector_id: uuid::Uuid::from_u128(collector),
            instance: "db".into(),
            labels: BTreeMap::from([("n".to_owned(), id.to_string())]),
            counter: false,
        }
    }

    #[test]
    fn only_series_of_their_collectors_latest_pass_are_current() {
        let found = vec![
            series(1, 1, "pg_table_dead_tuples"),
            // Dropped since: its newest sample is an older pass's.
            series(2, 1, "pg_table_dead_tuples"),
            // Another metric, collected less often: its own latest pass counts.
            series(3, 1, "pg_table_size_bytes"),
            // Another collector's older pass still counts for that collector.
            series(4, 2, "pg_table_dead_tuples"),
            // No sample in the window.
            series(5, 1, "pg_table_dead_tuples"),
        ];
        let newest = HashMap::from([
            (1, (t(600), 1.0)),
            (2, (t(300), 1.0)),
            (3, (t(300), 1.0)),
            (4, (t(60), 1.0)),
        ]);
        let ids: Vec<i64> = current(found, &newest).iter().map(|s| s.id).collect();
        assert_eq!(ids, [1, 3, 4]);
    }
}
