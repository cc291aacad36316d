//! `PUT /collectors/{id}/instances` (admin): which managed instances a collector may report.
//! Batches about any other instance are refused by the metrics projectors, with the reason on
//! the collector's page; an instance's charts show only data from collectors bound to it.

use axum::extract::{Path, State};
use axum::Json;
use chrono::Utc;
use domain::collector::CollectorCommand;
use schemars::JsonSchema;
use serde::Deserialize;
use uuid::Uuid;

use super::parse_id;
use crate::auth::access::CurrentUser;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;

/// Most instances one collector (or registration secret) may be bound to.
const MAX_BOUND: usize = 256;

/// Checks that every id names a managed instance; a 422 on `field` otherwise.
///
/// # Errors
/// [`ApiError::Invalid`]; 503 when the read model is unreachable.
pub(crate) async fn existing_instances(
    state: &AppState,
    field: &str,
    ids: &[Uuid],
) -> Result<(), ApiError> {
    if ids.len() > MAX_BOUND {
        return Err(ApiError::Invalid {
            field: field.into(),
            message: format!("at most {MAX_BOUND} instances"),
        });
    }
    if ids.is_empty() {
        return Ok(());
    }
    let client = state.read().await?;
    let known = projections::queries::managed_instances::existing_ids(&client, ids).await?;
    if let Some(missing) = ids.iter().find(|i| !known.contains(i)) {
        return Err(ApiError::Invalid {
            field: field.into(),
            message: format!("no managed instance has id {missing}"),
        });
    }
    Ok(())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CollectorBinding")]
pub(crate) struct BindBody {
    instance_ids: Vec<Uuid>,
}

/// `PUT /collectors/{id}/instances` `{instance_ids: [...]}` (the whole set) → the collector.
pub(crate) async fn bind(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<BindBody>,
) -> Result<Json<super::collectors::CollectorView>, ApiError> {
    let id = parse_id(&id, "collector")?;
    existing_instances(&state, "instance_ids", &body.instance_ids).await?;
    let command = CollectorCommand::BindInstances {
        instance_ids: body.instance_ids.iter().map(Uuid::to_string).collect(),
        at: Utc::now(),
    };
    let committed = state
        .commands
        .collector(&id.to_string(), command, &user.actor())
        .await?;
    state.wait_visible(&committed).await;
    Ok(Json(super::collectors::load(&state, id).await?))
}
