//! `GET /metrics/latest` (viewer): the newest value of every series of some metrics, joined into
//! rows by label set (one row per table, per session state, per replica …), with each counter's
//! per-second rate over the window and, on request, a sparkline of one metric per row. What the
//! instance page's tables read; the reads are `projections::queries::metrics`'.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use projections::queries::metrics::{self, SeriesScope, SourcePoint};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::series::{average, invalid, label_filter, rate, scope};
use crate::error::ApiError;
use crate::state::AppState;

/// Most metrics one request may name.
const MAX_METRICS: usize = 30;
/// Most series one request may match.
const MAX_SERIES: usize = 50_000;
/// Most rows one answer holds; past it the answer says `truncated`.
const MAX_ROWS: usize = 5_000;
/// Most samples the sparklines of one answer may read.
const MAX_SPARK_SAMPLES: i64 = 200_000;
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
    /// Counters only: the per-second increase over the window (reset-aware), where the window
    /// holds two samples or more.
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
    /// More than 5,000 rows matched; the first 5,000 by labels are given.
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
        Ok(Self {
            metrics,
            scope: scope(q)?,
            labels: label_filter(q),
            within_s,
            spark,
        })
    }
}

/// `GET /metrics/latest?collector_id=|instance_id=&metric=a,b&label.<k>=<v>&within=<s>&spark=<metric>&spark_fn=raw|rate`
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
    let found: Vec<_> = found
        .into_iter()
        .filter(|s| newest.contains_key(&s.id))
        .collect();
    let counters: Vec<i64> = found.iter().filter(|s| s.counter).map(|s| s.id).collect();
    let rates: HashMap<i64, f64> = if counters.is_empty() {
        HashMap::new()
    } else {
        metrics::increases(&client, &counters, since)
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
            let samples =
                metrics::samples_since(&client, &ids, since, MAX_SPARK_SAMPLES + 1).await?;
            if samples.len() > usize::try_from(MAX_SPARK_SAMPLES).unwrap_or(usize::MAX) {
                return Err(invalid(
                    "spark",
                    &format!(
                        "the window holds more than {MAX_SPARK_SAMPLES} samples to draw; \
                         narrow within or the labels"
                    ),
                ));
            }
            sparklines(&samples, since, query.within_s, *as_rate)
        }
    };
    let mut rows: BTreeMap<BTreeMap<String, String>, LatestRow> = BTreeMap::new();
    for s in found {
        let (ts, value) = newest[&s.id];
        let row = rows.entry(s.labels.clone()).or_insert_with(|| LatestRow {
            labels: s.labels,
            ts: 0,
            values: BTreeMap::new(),
            rates: BTreeMap::new(),
            spark: query.spark.as_ref().map(|_| Vec::new()),
        });
        // Two series of one label set (two collectors bound to the instance): the newer wins.
        if ts.timestamp_millis() >= row.ts || !row.values.contains_key(&s.metric) {
            row.values.insert(s.metric.clone(), value);
            if let Some(r) = rates.get(&s.id) {
                row.rates.insert(s.metric.clone(), *r);
            }
            if let Some(points) = sparks.get(&s.id) {
                row.spark = Some(points.clone());
            }
        }
        row.ts = row.ts.max(ts.timestamp_millis());
    }
    let truncated = rows.len() > MAX_ROWS;
    Ok(Json(LatestAnswer {
        at,
        within_s: query.within_s,
        truncated,
        rows: rows.into_values().take(MAX_ROWS).collect(),
    }))
}

/// Per series, its samples (ordered by series, then time) in `SPARK_BUCKETS` buckets from
/// `since`: averages, or per-second rates.
fn sparklines(
    samples: &[(i64, DateTime<Utc>, f64)],
    since: DateTime<Utc>,
    within_s: i64,
    as_rate: bool,
) -> HashMap<i64, Vec<(i64, f64)>> {
    let step = (within_s + SPARK_BUCKETS - 1) / SPARK_BUCKETS;
    let mut out = HashMap::new();
    for chunk in samples.chunk_by(|a, b| a.0 == b.0) {
        let points: Vec<SourcePoint> = chunk
            .iter()
            .map(|(_, ts, v)| SourcePoint {
                ts: *ts,
                sum: *v,
                count: 1,
                last: *v,
            })
            .collect();
        let line = if as_rate {
            rate(&points, since, step)
        } else {
            average(&points, since, step)
        };
        out.insert(chunk[0].0, line);
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

    #[test]
    fn sparklines_are_bucketed_per_series() {
        let t = |s: i64| DateTime::from_timestamp(s, 0).expect("instant");
        let samples = [
            (1, t(0), 1.0),
            (1, t(10), 3.0),
            (1, t(899), 5.0),
            (2, t(0), 100.0),
            (2, t(60), 160.0),
        ];
        let lines = sparklines(&samples, t(0), 900, false);
        assert_eq!(lines[&1], [(0, 2.0), (870_000, 5.0)]);
        let rates = sparklines(&samples, t(0), 900, true);
        assert_eq!(rates[&2], [(60_000, 1.0)]);
    }
}
