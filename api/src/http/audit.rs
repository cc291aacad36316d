//! `GET /audit` (admin): the audit log, one readable row per domain event, newest first.

use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use projections::queries::audit::{self, AuditFilter, AuditRow};
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
    let filter = AuditFilter {
        aggregate_type: f.aggregate_type,
        aggregate_id: f.aggregate_id,
        actor_name: f.actor,
        from: f.from,
        to: f.to,
    };
    let client = state.read().await?;
    let rows = audit::list(&client, &filter, limit).await?;
    Ok(Json(rows.into_iter().map(Entry::from).collect()))
}

impl From<AuditRow> for Entry {
    fn from(r: AuditRow) -> Self {
        Self {
            aggregate_type: r.aggregate_type,
            aggregate_id: r.aggregate_id,
            sequence: r.sequence,
            event_type: r.event_type,
            summary: r.summary,
            actor_kind: r.actor_kind,
            actor_id: r.actor_id,
            actor_name: r.actor_name,
            recorded_at: r.recorded_at,
        }
    }
}
