//! `GET /metrics/series` (viewer): time series from the metric projections, at the resolution
//! the step calls for (raw, 1-minute or 1-hour rollups), with reset-aware per-second rates for
//! counters. The request is parsed once into a [`SeriesQuery`]; the reads are
//! `projections::queries::metrics`'.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use projections::queries::metrics::{self, Resolution, SeriesScope, SourcePoint};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::state::AppState;

/// Most points one answer may hold (series × buckets).
const MAX_POINTS: i64 = 20_000;

/// Longest range a series query may cover: the default retention of the hour rollups
/// (`PGA_ROLLUP_1H_RETENTION_DAYS`); past it there is nothing to read by default.
const MAX_RANGE_DAYS: i64 = 400;

/// Most series one series query may match; more means the labels are too loose.
const MAX_SERIES: usize = 500;

/// Most source rows (samples or rollups, all series together) one series query may read.
const MAX_SOURCE_ROWS: i64 = 200_000;

/// Times outside 1970-01-01 ..= 9999-12-31 are refused: both chrono and PostgreSQL hold every
/// instant in there, with room for the offsets the queries subtract, so nothing overflows.
const MIN_UNIX_S: i64 = 0;
const MAX_UNIX_S: i64 = 253_402_300_799;

pub(crate) fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::Invalid {
        field: field.into(),
        message: message.into(),
    }
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
pub(crate) fn range(
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

/// How the points of a series are combined per step bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    /// The average of the values.
    Raw,
    /// The per-second rate of a counter, reset-aware.
    Rate,
}

impl Function {
    fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        match value {
            None | Some("raw") => Ok(Self::Raw),
            Some("rate") => Ok(Self::Rate),
            Some(_) => Err(invalid("fn", "must be raw or rate")),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Rate => "rate",
        }
    }
}

/// A series request, parsed and bounded.
#[derive(Debug)]
struct SeriesQuery {
    metric: String,
    scope: SeriesScope,
    labels: Value,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    /// The step asked for; none: the finest whose answer fits (decided once the series are
    /// known).
    step: Option<i64>,
    function: Function,
}

impl SeriesQuery {
    fn parse(q: &HashMap<String, String>) -> Result<Self, ApiError> {
        let metric = q
            .get("metric")
            .filter(|m| !m.is_empty())
            .ok_or_else(|| invalid("metric", "required"))?
            .clone();
        let (from, to) = range(q, MAX_RANGE_DAYS)?;
        let step = q
            .get("step")
            .map(|s| {
                s.parse::<i64>()
                    .map_err(|_| invalid("step", "must be a whole number of seconds"))
            })
            .transpose()?;
        if step.is_some_and(|s| s <= 0) {
            return Err(invalid("step", "must be positive"));
        }
        // A step longer than the longest range is one bucket anyway; refusing it keeps every
        // offset computed from it (the rate's look-back) far inside chrono's and PostgreSQL's
        // range.
        if step.is_some_and(|s| s > MAX_RANGE_DAYS * 86_400) {
            return Err(invalid(
                "step",
                &format!("must be at most {} seconds", MAX_RANGE_DAYS * 86_400),
            ));
        }
        let function = Function::parse(q.get("fn").map(String::as_str))?;
        let labels = Value::Object(
            q.iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("label.")
                        .map(|name| (name.to_owned(), Value::String(v.clone())))
                })
                .collect(),
        );
        let scope = match (q.get("collector_id"), q.get("instance_id")) {
            (Some(c), _) => SeriesScope::Collector(
                uuid::Uuid::parse_str(c).map_err(|_| invalid("collector_id", "must be a UUID"))?,
            ),
            (None, Some(i)) => SeriesScope::Instance(i.clone()),
            (None, None) => {
                return Err(invalid("collector_id", "give collector_id or instance_id"))
            }
        };
        Ok(Self {
            metric,
            scope,
            labels,
            from,
            to,
            step,
            function,
        })
    }

    fn span_s(&self) -> i64 {
        (self.to - self.from).num_seconds().max(1)
    }

    /// The step for `n_series` series: the one asked for, or the finest whose answer fits, so
    /// a server with hundreds of databases still gets its chart (fewer points per line)
    /// instead of a 422. Refused when the answer would not fit.
    fn step_for(&self, n_series: usize) -> Result<i64, ApiError> {
        let span = self.span_s();
        let n = i64::try_from(n_series).unwrap_or(i64::MAX).max(1);
        let step = self.step.unwrap_or_else(|| {
            let per_series = (MAX_POINTS / n).max(2);
            ((span / 300).max(1)).max((span + per_series - 2) / (per_series - 1))
        });
        if (span / step + 1).saturating_mul(n) > MAX_POINTS {
            return Err(invalid("step", &format!("this would return more than {MAX_POINTS} points; use a larger step or narrow the labels")));
        }
        Ok(step)
    }

    /// Where a series' points are read from: for a rate, one point before `from`, so the first
    /// bucket has a predecessor. Cannot overflow: `step` is at most `MAX_RANGE_DAYS` and `from`
    /// is after 1970.
    fn read_from(&self, step: i64) -> DateTime<Utc> {
        match self.function {
            Function::Rate => self.from - Duration::seconds(step.max(60).saturating_mul(2)),
            Function::Raw => self.from,
        }
    }
}

/// `GET /metrics/series?collector_id=|instance_id=&metric=&from=&to=&step=&fn=raw|rate&label.<k>=<v>`
// Over 60 lines on purpose: the read loop bounds every series' points by the rows left, so it stays with the answer it builds.
pub(crate) async fn series(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<SeriesAnswer>, ApiError> {
    let query = SeriesQuery::parse(&q)?;
    let series_limit = i64::try_from(MAX_SERIES + 1).unwrap_or(i64::MAX);
    let client = state.read().await?;
    let found = metrics::find_series(
        &client,
        &query.scope,
        &query.metric,
        &query.labels,
        series_limit,
    )
    .await?;
    if found.len() > MAX_SERIES {
        return Err(invalid(
            "metric",
            &format!("matches more than {MAX_SERIES} series; narrow it with label.<key>=<value>"),
        ));
    }
    let step = query.step_for(found.len())?;
    let resolution = Resolution::for_step(step);
    // Hours before `hours_built` are built in metric_rollup_1h; minutes and later hours are
    // aggregated from the samples while they are kept, from metric_rollup_1m before.
    let sources = match resolution {
        Resolution::Raw => metrics::Sources {
            hours_built: DateTime::<Utc>::UNIX_EPOCH,
            samples_from: DateTime::<Utc>::UNIX_EPOCH,
        },
        Resolution::Minute | Resolution::Hour => metrics::Sources {
            hours_built: match resolution {
                Resolution::Hour => metrics::hours_built_until(&client).await?,
                _ => None,
            }
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
            samples_from: metrics::samples_kept_from(&**client)
                .await?
                .unwrap_or_else(Utc::now),
        },
    };
    let window = (query.read_from(step), query.to);
    let mut out = Vec::with_capacity(found.len());
    let mut rows_left = MAX_SOURCE_ROWS;
    for series in found {
        let points = metrics::points(
            &client,
            series.id,
            resolution,
            window,
            sources,
            rows_left + 1,
        )
        .await?;
        rows_left -= i64::try_from(points.len()).unwrap_or(i64::MAX);
        if rows_left < 0 {
            return Err(invalid(
                "from",
                &format!(
                    "the range holds more than {MAX_SOURCE_ROWS} stored points; \
                     narrow the range or the labels, or use a larger step"
                ),
            ));
        }
        let bucketed = match query.function {
            Function::Rate => rate(&points, query.from, step),
            Function::Raw => average(&points, query.from, step),
        };
        out.push(SeriesOut {
            labels: series.labels,
            counter: series.counter,
            points: bucketed,
        });
    }
    Ok(Json(SeriesAnswer {
        metric: query.metric,
        function: query.function.as_str(),
        resolution: resolution.as_str(),
        step_s: step,
        from: query.from,
        to: query.to,
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
    }
}
