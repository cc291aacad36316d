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

/// Most series a combined request (`agg`/`group`) may read: its answer holds few lines, so it
/// may fold more (an instance with 100 databases × 6 session states); its source rows stay
/// bounded by `MAX_SOURCE_ROWS`.
const MAX_COMBINED_SERIES: usize = 2_000;

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
    /// On the one series that folds every group not shown (`top`/`pick`): how many it folds.
    #[serde(skip_serializing_if = "Option::is_none")]
    others: Option<usize>,
}

/// One group of a grouped answer, shown or not: for selectors and legends.
#[derive(Debug, Serialize, JsonSchema, PartialEq)]
pub(crate) struct GroupOut {
    /// The group label's value.
    value: String,
    /// The mean of its combined points over the range (0 without points).
    mean: f64,
    /// Its last combined point.
    last: Option<f64>,
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
    /// With `group`: every group, by mean, largest first (not only the ones shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<GroupOut>>,
}

/// How the series of a grouped or totalled answer are combined per bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Agg {
    Sum,
    Max,
    Avg,
}

/// Which groups a grouped answer shows, the others folded into one series.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Show {
    /// Every group.
    All,
    /// The `n` with the highest mean.
    Top(usize),
    /// These, in this order.
    Pick(Vec<String>),
}

/// `agg`, `group`, `top` and `pick`: series combined per bucket into one total, or one per
/// value of a label with only some shown.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Grouping {
    agg: Agg,
    /// None: one total over every series.
    label: Option<String>,
    show: Show,
}

/// Most groups `top` or `pick` may show.
const MAX_SHOWN_GROUPS: usize = 20;

impl Grouping {
    fn parse(q: &HashMap<String, String>) -> Result<Option<Self>, ApiError> {
        let agg = match q.get("agg").map(String::as_str) {
            None => None,
            Some("sum") => Some(Agg::Sum),
            Some("max") => Some(Agg::Max),
            Some("avg") => Some(Agg::Avg),
            Some(_) => return Err(invalid("agg", "must be sum, max or avg")),
        };
        let label = match q.get("group") {
            Some(g) if g.is_empty() || g.len() > 100 => {
                return Err(invalid("group", "must be a label name (1-100 characters)"))
            }
            other => other.cloned(),
        };
        let show = match (q.get("top"), q.get("pick")) {
            (Some(_), Some(_)) => return Err(invalid("pick", "give top or pick, not both")),
            (Some(n), None) => Show::Top(
                n.parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_SHOWN_GROUPS).contains(n))
                    .ok_or_else(|| invalid("top", "must be 1-20"))?,
            ),
            (None, Some(p)) => {
                let picked: Vec<String> = p
                    .split(',')
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
                    .collect();
                if picked.len() > MAX_SHOWN_GROUPS {
                    return Err(invalid("pick", "at most 20 values"));
                }
                Show::Pick(picked)
            }
            (None, None) => Show::All,
        };
        if label.is_none() && show != Show::All {
            let field = if q.contains_key("top") { "top" } else { "pick" };
            return Err(invalid(field, "needs group=<label>"));
        }
        Ok(match (agg, label) {
            (None, None) => None,
            (agg, label) => Some(Self {
                agg: agg.unwrap_or(Agg::Sum),
                label,
                show,
            }),
        })
    }

    /// How many series the answer holds at most, for its step.
    fn shown(&self, n_series: usize) -> usize {
        match (&self.label, &self.show) {
            (None, _) => 1,
            (Some(_), Show::All) => n_series,
            (Some(_), Show::Top(n)) => (n + 1).min(n_series),
            (Some(_), Show::Pick(p)) => (p.len() + 1).min(n_series),
        }
    }
}

/// Per bucket: the sum, the largest and the count of the values combined.
#[derive(Debug, Clone, Copy)]
struct Acc {
    sum: f64,
    max: f64,
    n: u32,
}

impl Acc {
    fn add(&mut self, other: Acc) {
        self.sum += other.sum;
        self.max = self.max.max(other.max);
        self.n += other.n;
    }

    fn value(self, agg: Agg) -> f64 {
        match agg {
            Agg::Sum => self.sum,
            Agg::Max => self.max,
            Agg::Avg => self.sum / f64::from(self.n.max(1)),
        }
    }
}

type Buckets = BTreeMap<i64, Acc>;

/// A series as read, before it is combined: labels, counter, points.
type ReadSeries = (BTreeMap<String, String>, bool, Vec<(i64, f64)>);

fn fold_into(into: &mut Buckets, points: &[(i64, f64)]) {
    for &(t, v) in points {
        into.entry(t)
            .or_insert(Acc {
                sum: 0.0,
                max: f64::NEG_INFINITY,
                n: 0,
            })
            .add(Acc {
                sum: v,
                max: v,
                n: 1,
            });
    }
}

fn merge_buckets(into: &mut Buckets, from: &Buckets) {
    for (t, acc) in from {
        into.entry(*t).and_modify(|a| a.add(*acc)).or_insert(*acc);
    }
}

fn points_of(buckets: &Buckets, agg: Agg) -> Vec<(i64, f64)> {
    buckets.iter().map(|(t, a)| (*t, a.value(agg))).collect()
}

/// Combines `series` (labels, counter, points) as `g` says: the shown series, then the others
/// series when groups were left out; and, for a grouped answer, every group by mean.
fn combine(series: Vec<ReadSeries>, g: &Grouping) -> (Vec<SeriesOut>, Option<Vec<GroupOut>>) {
    let counter = series.iter().any(|(_, c, _)| *c);
    let Some(label) = &g.label else {
        let mut total = Buckets::new();
        for (_, _, points) in &series {
            fold_into(&mut total, points);
        }
        let out = SeriesOut {
            labels: BTreeMap::new(),
            counter,
            points: points_of(&total, g.agg),
            others: None,
        };
        return (if series.is_empty() { vec![] } else { vec![out] }, None);
    };
    let mut groups: BTreeMap<String, Buckets> = BTreeMap::new();
    for (labels, _, points) in &series {
        let key = labels.get(label).cloned().unwrap_or_default();
        fold_into(groups.entry(key).or_default(), points);
    }
    let mut ranked: Vec<GroupOut> = groups
        .iter()
        .map(|(value, buckets)| {
            let points = points_of(buckets, g.agg);
            let mean = if points.is_empty() {
                0.0
            } else {
                points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64
            };
            GroupOut {
                value: value.clone(),
                mean,
                last: points.last().map(|p| p.1),
            }
        })
        .collect();
    // By mean, largest first; equal means by name, so the answer is stable.
    ranked.sort_by(|a, b| {
        b.mean
            .total_cmp(&a.mean)
            .then_with(|| a.value.cmp(&b.value))
    });
    let shown: Vec<String> = match &g.show {
        Show::All => ranked.iter().map(|r| r.value.clone()).collect(),
        Show::Top(n) => ranked.iter().take(*n).map(|r| r.value.clone()).collect(),
        Show::Pick(p) => p
            .iter()
            .filter(|v| groups.contains_key(*v))
            .cloned()
            .collect(),
    };
    let mut out: Vec<SeriesOut> = shown
        .iter()
        .map(|v| SeriesOut {
            labels: BTreeMap::from([(label.clone(), v.clone())]),
            counter,
            points: points_of(&groups[v], g.agg),
            others: None,
        })
        .collect();
    let rest: Vec<&Buckets> = groups
        .iter()
        .filter(|(v, _)| !shown.contains(v))
        .map(|(_, b)| b)
        .collect();
    if !rest.is_empty() {
        let mut folded = Buckets::new();
        for b in &rest {
            merge_buckets(&mut folded, b);
        }
        out.push(SeriesOut {
            labels: BTreeMap::new(),
            counter,
            points: points_of(&folded, g.agg),
            others: Some(rest.len()),
        });
    }
    (out, Some(ranked))
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

/// The `label.<name>=<value>` parameters, as the JSON object series labels must contain.
pub(crate) fn label_filter(q: &HashMap<String, String>) -> Value {
    Value::Object(
        q.iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("label.")
                    .map(|name| (name.to_owned(), Value::String(v.clone())))
            })
            .collect(),
    )
}

/// Whose series a request reads: `collector_id=<uuid>` or `instance_id=<id or name>`.
pub(crate) fn scope(q: &HashMap<String, String>) -> Result<SeriesScope, ApiError> {
    match (q.get("collector_id"), q.get("instance_id")) {
        (Some(c), _) => Ok(SeriesScope::Collector(
            uuid::Uuid::parse_str(c).map_err(|_| invalid("collector_id", "must be a UUID"))?,
        )),
        (None, Some(i)) => Ok(SeriesScope::Instance(i.clone())),
        (None, None) => Err(invalid("collector_id", "give collector_id or instance_id")),
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
    grouping: Option<Grouping>,
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
        let grouping = Grouping::parse(q)?;
        Ok(Self {
            metric,
            scope: scope(q)?,
            labels: label_filter(q),
            from,
            to,
            step,
            function,
            grouping,
        })
    }

    fn span_s(&self) -> i64 {
        (self.to - self.from).num_seconds().max(1)
    }

    /// The step for `n_series` series: the one asked for, or the finest whose answer fits, so
    /// a server with hundreds of databases still gets its chart (fewer points per line)
    /// instead of a 422. Refused when the answer would not fit.
    ///
    /// A chosen step also keeps the rows read within `MAX_SOURCE_ROWS` for the `n_read` series
    /// read: minutes cost a row per minute and series, so a 7-day chart of 20 databases reads
    /// hours instead of being refused.
    fn step_for(&self, n_series: usize, n_read: usize) -> Result<i64, ApiError> {
        let span = self.span_s();
        let n = i64::try_from(n_series).unwrap_or(i64::MAX).max(1);
        let read = i64::try_from(n_read).unwrap_or(i64::MAX).max(1);
        let step = self.step.unwrap_or_else(|| {
            let per_series = (MAX_POINTS / n).max(2);
            let step = ((span / 300).max(1)).max((span + per_series - 2) / (per_series - 1));
            if Resolution::for_step(step) == Resolution::Minute
                && (span / 60 + 1).saturating_mul(read) > MAX_SOURCE_ROWS
            {
                step.max(3600)
            } else {
                step
            }
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
/// `[&agg=sum|max|avg][&group=<label>[&top=N|&pick=a,b]]`: see [`Grouping`].
// Over 60 lines on purpose: the read loop bounds every series' points by the rows left, so it stays with the answer it builds.
pub(crate) async fn series(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<SeriesAnswer>, ApiError> {
    let query = SeriesQuery::parse(&q)?;
    let max_series = if query.grouping.is_some() {
        MAX_COMBINED_SERIES
    } else {
        MAX_SERIES
    };
    let series_limit = i64::try_from(max_series + 1).unwrap_or(i64::MAX);
    let client = state.read().await?;
    let found = metrics::find_series(
        &client,
        &query.scope,
        std::slice::from_ref(&query.metric),
        &query.labels,
        series_limit,
    )
    .await?;
    if found.len() > max_series {
        return Err(invalid(
            "metric",
            &format!("matches more than {max_series} series; narrow it with label.<key>=<value>"),
        ));
    }
    let shown = query
        .grouping
        .as_ref()
        .map_or(found.len(), |g| g.shown(found.len()));
    let step = query.step_for(shown, found.len())?;
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
        out.push((series.labels, series.counter, bucketed));
    }
    let (series, groups) = match &query.grouping {
        Some(g) => combine(out, g),
        None => (
            out.into_iter()
                .map(|(labels, counter, points)| SeriesOut {
                    labels,
                    counter,
                    points,
                    others: None,
                })
                .collect(),
            None,
        ),
    };
    Ok(Json(SeriesAnswer {
        metric: query.metric,
        function: query.function.as_str(),
        resolution: resolution.as_str(),
        step_s: step,
        from: query.from,
        to: query.to,
        series,
        groups,
    }))
}

fn bucket_of(ts: DateTime<Utc>, from: DateTime<Utc>, step: i64) -> Option<i64> {
    let offset = (ts - from).num_seconds();
    (offset >= 0).then(|| from.timestamp() + (offset / step) * step)
}

/// Average per step bucket.
pub(crate) fn average(points: &[SourcePoint], from: DateTime<Utc>, step: i64) -> Vec<(i64, f64)> {
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
pub(crate) fn rate(points: &[SourcePoint], from: DateTime<Utc>, step: i64) -> Vec<(i64, f64)> {
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

    fn grouping(q: &[(&str, &str)]) -> Result<Option<Grouping>, ApiError> {
        Grouping::parse(
            &q.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    /// Seven databases, each with a line of constant value `rank` (two buckets), and a second
    /// series in `d3` (another state), so a group is several series.
    fn seven() -> Vec<ReadSeries> {
        let mut v: Vec<_> = (1..=7)
            .map(|n| {
                (
                    BTreeMap::from([("database".to_owned(), format!("d{n}"))]),
                    true,
                    vec![(0, f64::from(n)), (60_000, f64::from(n))],
                )
            })
            .collect();
        v.push((
            BTreeMap::from([("database".to_owned(), "d3".to_owned())]),
            true,
            vec![(60_000, 10.0)],
        ));
        v
    }

    #[test]
    fn the_top_groups_are_shown_and_the_rest_fold_into_one_others_series() {
        let g = grouping(&[("group", "database"), ("top", "2")])
            .expect("valid")
            .expect("grouped");
        let (out, groups) = combine(seven(), &g);
        // d3 is 3 then 13 (mean 8): first; d7 (7) second; the other five fold.
        let names: Vec<_> = out
            .iter()
            .map(|s| s.labels.get("database").cloned())
            .collect();
        assert_eq!(names, [Some("d3".into()), Some("d7".into()), None]);
        assert_eq!(out[0].points, [(0, 3.0), (60_000, 13.0)]);
        assert_eq!(out[2].others, Some(5));
        assert_eq!(
            out[2].points,
            [(0, 1.0 + 2.0 + 4.0 + 5.0 + 6.0), (60_000, 18.0)]
        );
        let groups = groups.expect("groups");
        assert_eq!(groups.len(), 7);
        assert_eq!(
            groups[0],
            GroupOut {
                value: "d3".into(),
                mean: 8.0,
                last: Some(13.0)
            }
        );
        assert_eq!(groups[6].value, "d1");
    }

    #[test]
    fn picked_groups_keep_their_order_and_max_folds_the_rest_by_max() {
        let g = grouping(&[
            ("group", "database"),
            ("pick", "d1,gone,d2"),
            ("agg", "max"),
        ])
        .expect("valid")
        .expect("grouped");
        let (out, _) = combine(seven(), &g);
        let names: Vec<_> = out
            .iter()
            .map(|s| s.labels.get("database").cloned())
            .collect();
        assert_eq!(names, [Some("d1".into()), Some("d2".into()), None]);
        assert_eq!(out[2].points, [(0, 7.0), (60_000, 10.0)]);
        assert_eq!(out[2].others, Some(5));
    }

    #[test]
    fn a_total_is_one_series_and_avg_counts_every_series() {
        let g = grouping(&[("agg", "sum")])
            .expect("valid")
            .expect("grouped");
        let (out, groups) = combine(seven(), &g);
        assert_eq!(out.len(), 1);
        assert!(out[0].labels.is_empty() && out[0].others.is_none() && groups.is_none());
        assert_eq!(out[0].points, [(0, 28.0), (60_000, 38.0)]);
        let g = grouping(&[("agg", "avg")])
            .expect("valid")
            .expect("grouped");
        assert_eq!(combine(seven(), &g).0[0].points[1], (60_000, 38.0 / 8.0));
        assert!(combine(vec![], &g).0.is_empty());
    }

    #[test]
    fn a_long_range_over_many_series_reads_hours_not_minutes() {
        let q: HashMap<String, String> = [
            ("metric", "m"),
            ("instance_id", "x"),
            ("from", "0"),
            ("to", "604800"),
            ("group", "database"),
            ("top", "5"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let q = SeriesQuery::parse(&q).expect("valid");
        // One series over 7 days: 2,016 s steps from minutes (10,081 rows).
        assert_eq!(q.step_for(1, 1).expect("fits"), 2016);
        // Twenty databases folded into 6 lines: minutes would read 201,620 rows; hours instead.
        assert_eq!(q.step_for(6, 20).expect("fits"), 3600);
    }

    #[test]
    fn bad_grouping_parameters_name_their_field() {
        assert!(grouping(&[]).expect("valid").is_none());
        for (q, field) in [
            (vec![("top", "3")], "top"),
            (vec![("pick", "a")], "pick"),
            (vec![("group", "database"), ("top", "0")], "top"),
            (vec![("group", "database"), ("top", "21")], "top"),
            (
                vec![("group", "database"), ("top", "2"), ("pick", "a")],
                "pick",
            ),
            (vec![("group", "")], "group"),
            (vec![("agg", "median")], "agg"),
        ] {
            match grouping(&q) {
                Err(ApiError::Invalid { field: f, .. }) => assert_eq!(f, field, "{q:?}"),
                other => panic!("{q:?}: {other:?}"),
            }
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
