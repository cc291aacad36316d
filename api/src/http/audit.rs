//! `GET /audit` (admin): the audit log, one readable row per domain event, newest first.

use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Filter {
    aggregate_type: Option<String>,
    aggregate_id: Option<String>,
    /// Username (or collector / task name) of who did it.
    actor: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    /// At most 1000; default 100.
    limit: Option<i64>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "AuditEntry")]
pub(crate) struct Entry {
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    summary: String,
    actor_kind: Option<String>,
    actor_id: Option<String>,
    actor_name: Option<String>,
    recorded_at: DateTime<Utc>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    filter: Result<Query<Filter>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Entry>>, ApiError> {
    let Query(f) = filter.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = f.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::Invalid {
            field: "limit".into(),
            message: "must be 1-1000".into(),
        });
    }
    // PostgreSQL refuses instants chrono holds (years past 294276 or before 4713 BC): outside
    // 1970..=9999 is a 422, not a failed query.
    for (field, value) in [("from", f.from), ("to", f.to)] {
        if value.is_some_and(|t| !(0..=253_402_300_799).contains(&t.timestamp())) {
            return Err(ApiError::Invalid {
                field: field.into(),
                message: "must be between 1970-01-01 and 9999-12-31".into(),
            });
        }
    }
    if let (Some(from), Some(to)) = (f.from, f.to) {
        if from > to {
            return Err(ApiError::Invalid {
                field: "from".into(),
                message: "must not be after to".into(),
            });
        }
    }
    let client = state.read().await?;
    let rows = client
        .query(
            "SELECT aggregate_type, aggregate_id, sequence, event_type, summary, actor_kind, actor_id,
                    actor_name, recorded_at
               FROM rm_audit_log
              WHERE ($1::text IS NULL OR aggregate_type = $1)
                AND ($2::text IS NULL OR aggregate_id = $2)
                AND ($3::text IS NULL OR actor_name = $3)
                AND ($4::timestamptz IS NULL OR recorded_at >= $4)
                AND ($5::timestamptz IS NULL OR recorded_at <= $5)
              ORDER BY recorded_at DESC, aggregate_type, aggregate_id, sequence DESC
              LIMIT $6",
            &[&f.aggregate_type, &f.aggregate_id, &f.actor, &f.from, &f.to, &limit],
        )
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(Json(
        rows.iter()
            .map(|r| Entry {
                aggregate_type: r.get(0),
                aggregate_id: r.get(1),
                sequence: r.get(2),
                event_type: r.get(3),
                summary: r.get(4),
                actor_kind: r.get(5),
                actor_id: r.get(6),
                actor_name: r.get(7),
                recorded_at: r.get(8),
            })
            .collect(),
    ))
}
