//! `GET /fleet` (viewer): the fleet overview, one row per managed instance, in one query over
//! the projection made for it.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Duration, DurationRound, Utc};
use projections::projectors::fleet::SPARK_POINTS;
use projections::queries::fleet::{self, FleetRow};
use schemars::JsonSchema;
use serde::Serialize;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// `GET /fleet`: every managed instance, by name.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Fleet {
    generated_at: DateTime<Utc>,
    instances: Vec<FleetInstance>,
}

/// One instance's row of the fleet overview.
#[derive(Serialize, JsonSchema)]
pub(crate) struct FleetInstance {
    id: Uuid,
    name: String,
    tags: Vec<String>,
    /// The last connection test's status.
    status: String,
    last_error: Option<String>,
    last_heartbeat: Option<DateTime<Utc>>,
    last_sample_at: Option<DateTime<Utc>>,
    tps: Option<f64>,
    connections: Option<f64>,
    max_connections: Option<f64>,
    cache_hit_ratio: Option<f64>,
    replication_lag_s: Option<f64>,
    database_size_bytes: Option<f64>,
    /// One point per minute of the last hour, oldest first, the last at the current minute.
    spark_tps: Vec<Option<f64>>,
    spark_connections: Vec<Option<f64>>,
    firing: i64,
    firing_severity: Option<String>,
}

/// `line` (its last point at `last`) as [`SPARK_POINTS`] points ending at `now`'s minute:
/// minutes without a batch are empty, and a stale line slides out.
fn align(
    line: Vec<Option<f64>>,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Vec<Option<f64>> {
    let minute = now.duration_trunc(Duration::minutes(1)).unwrap_or(now);
    let behind = last.map_or(SPARK_POINTS as i64, |l| (minute - l).num_minutes().max(0));
    let behind = usize::try_from(behind)
        .unwrap_or(SPARK_POINTS)
        .min(SPARK_POINTS);
    let mut out = vec![None; SPARK_POINTS];
    // Point k of `line` (from its end) lands at position SPARK_POINTS - 1 - behind - k.
    for (k, value) in line.iter().rev().enumerate() {
        let Some(pos) = (SPARK_POINTS - 1).checked_sub(behind + k) else {
            break;
        };
        out[pos] = value.map(significant);
    }
    out
}

/// `v` to three significant digits: a sparkline is 60 pixels high, and 1,000 instances' worth
/// of full-precision rates is most of the overview's bytes (`35.714285714285715` → `35.7`).
fn significant(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(2 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}

/// `GET /fleet`
pub(crate) async fn overview(State(state): State<AppState>) -> Result<Json<Fleet>, ApiError> {
    let client = state.read().await?;
    let rows = fleet::overview(&client).await?;
    let now = Utc::now();
    let instances = rows
        .into_iter()
        .map(|r: FleetRow| FleetInstance {
            spark_tps: align(r.spark_tps, r.spark_minute, now),
            spark_connections: align(r.spark_connections, r.spark_minute, now),
            id: r.id,
            name: r.name,
            tags: r.tags,
            status: r.status,
            last_error: r.last_error,
            last_heartbeat: r.last_heartbeat,
            last_sample_at: r.sampled_at,
            tps: r.tps,
            connections: r.connections,
            max_connections: r.max_connections,
            cache_hit_ratio: r.cache_hit_ratio,
            replication_lag_s: r.replication_lag_s,
            database_size_bytes: r.database_size,
            firing: r.firing,
            firing_severity: r.firing_severity,
        })
        .collect();
    Ok(Json(Fleet {
        generated_at: now,
        instances,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_values_keep_three_significant_digits() {
        assert_eq!(significant(35.714_285_714_285_715), 35.7);
        assert_eq!(significant(2525.25), 2530.0);
        assert_eq!(significant(0.012_345), 0.0123);
        assert_eq!(significant(7.0), 7.0);
        assert_eq!(significant(0.0), 0.0);
        assert_eq!(significant(-4.567), -4.57);
    }

    #[test]
    fn sparklines_end_at_the_current_minute() {
        let now: DateTime<Utc> = "2026-12-03T10:05:30Z".parse().expect("instant");
        let fresh = align(
            vec![Some(1.0), Some(2.0)],
            Some("2026-12-03T10:05:00Z".parse().expect("instant")),
            now,
        );
        assert_eq!(fresh.len(), SPARK_POINTS);
        assert_eq!(&fresh[SPARK_POINTS - 2..], &[Some(1.0), Some(2.0)]);
        let stale = align(
            vec![Some(1.0), Some(2.0)],
            Some("2026-12-03T10:02:00Z".parse().expect("instant")),
            now,
        );
        assert_eq!(
            &stale[SPARK_POINTS - 5..],
            &[Some(1.0), Some(2.0), None, None, None]
        );
        let gone = align(
            vec![Some(1.0)],
            Some("2026-12-03T08:00:00Z".parse().expect("instant")),
            now,
        );
        assert!(gone.iter().all(Option::is_none));
        assert!(align(vec![], None, now).iter().all(Option::is_none));
    }
}
