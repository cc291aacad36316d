//! `/registration-secrets` (admin): the secret is shown once, at creation; lists show a prefix.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use commands::collectors;
use domain::registration_secret::RegistrationSecretCommand;
use domain::values::Name;
use projections::queries::registration_secrets::{self, SecretRow};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::history::{as_of, AsOf};
use super::parse_id;
use crate::auth::access::CurrentUser;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "RegistrationSecret")]
pub(crate) struct SecretView {
    id: Uuid,
    name: String,
    prefix: String,
    active: bool,
    expires_at: Option<DateTime<Utc>>,
    max_registrations: Option<i32>,
    registrations_used: i32,
    last_used_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    /// Managed instances the collectors it registers are bound to.
    instance_ids: Vec<Uuid>,
    /// Present only in the creation response.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl From<SecretRow> for SecretView {
    fn from(r: SecretRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            prefix: r.prefix,
            active: r.active,
            expires_at: r.expires_at,
            max_registrations: r.max_registrations,
            registrations_used: r.registrations_used,
            last_used_at: r.last_used_at,
            created_at: r.created_at,
            instance_ids: r.instance_ids,
            secret: None,
        }
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound("registration secret not found".into())
}

async fn find(state: &AppState, id: Uuid) -> Result<Option<SecretView>, ApiError> {
    let client = state.read().await?;
    Ok(registration_secrets::get(&client, id)
        .await?
        .map(SecretView::from))
}

async fn load(state: &AppState, id: Uuid) -> Result<SecretView, ApiError> {
    find(state, id).await?.ok_or_else(not_found)
}

/// `GET /registration-secrets`
pub(crate) async fn list(
    State(state): State<AppState>,
    at: Result<Query<AsOf>, QueryRejection>,
) -> Result<Json<Vec<SecretView>>, ApiError> {
    let at = as_of(at)?;
    let client = state.read().await?;
    let rows = match at {
        Some(at) => registration_secrets::as_of(&client, at, None).await?,
        None => registration_secrets::list(&client).await?,
    };
    Ok(Json(rows.into_iter().map(SecretView::from).collect()))
}

/// `GET /registration-secrets/{id}`
pub(crate) async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    at: Result<Query<AsOf>, QueryRejection>,
) -> Result<Json<SecretView>, ApiError> {
    let id = parse_id(&id, "registration secret")?;
    if let Some(at) = as_of(at)? {
        let client = state.read().await?;
        let row = registration_secrets::as_of(&client, at, Some(id))
            .await?
            .pop();
        return row.map(|r| Json(r.into())).ok_or_else(not_found);
    }
    Ok(Json(load(&state, id).await?))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "NewRegistrationSecret")]
pub(crate) struct CreateBody {
    name: String,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    max_registrations: Option<u32>,
    /// Managed instances the collectors it registers are bound to.
    #[serde(default)]
    instance_ids: Vec<Uuid>,
}

/// `POST /registration-secrets` → 201 with the secret, this once.
pub(crate) async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<SecretView>), ApiError> {
    let name = Name::parse(&body.name).map_err(|e| ApiError::Invalid {
        field: "name".into(),
        message: e.to_string(),
    })?;
    if body.expires_at.is_some_and(|t| t <= Utc::now()) {
        return Err(ApiError::Invalid {
            field: "expires_at".into(),
            message: "must be in the future".into(),
        });
    }
    if body.max_registrations == Some(0) {
        return Err(ApiError::Invalid {
            field: "max_registrations".into(),
            message: "must be at least 1".into(),
        });
    }
    super::bindings::existing_instances(&state, "instance_ids", &body.instance_ids).await?;
    let created = collectors::create_secret(
        &state.commands,
        name.clone(),
        body.expires_at,
        body.max_registrations,
        body.instance_ids.clone(),
        &user.actor(),
    )
    .await?;
    state.wait_visible(&created.committed).await;
    // The secret is shown this once: a projection running late must not lose it, so the view
    // is built from the command when the read model does not show it yet.
    let mut view = find(&state, created.id)
        .await?
        .unwrap_or_else(|| SecretView {
            id: created.id,
            name: name.as_str().to_owned(),
            prefix: created.prefix,
            active: true,
            expires_at: body.expires_at,
            max_registrations: body
                .max_registrations
                .map(|m| i32::try_from(m).unwrap_or(i32::MAX)),
            registrations_used: 0,
            last_used_at: None,
            created_at: created.created_at,
            instance_ids: body.instance_ids,
            secret: None,
        });
    view.secret = Some(created.secret);
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RegistrationSecretChange")]
pub(crate) struct UpdateBody {
    name: Option<String>,
    active: Option<bool>,
}

/// `PUT /registration-secrets/{id}`: rename and/or (de)activate.
pub(crate) async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<SecretView>, ApiError> {
    let id = parse_id(&id, "registration secret")?;
    let aggregate = id.to_string();
    if let Some(name) = body.name {
        let name = Name::parse(&name).map_err(|e| ApiError::Invalid {
            field: "name".into(),
            message: e.to_string(),
        })?;
        let command = RegistrationSecretCommand::Rename {
            name,
            at: Utc::now(),
        };
        let c = state
            .commands
            .registration_secret(&aggregate, command, &user.actor())
            .await?;
        state.wait_visible(&c).await;
    }
    if let Some(active) = body.active {
        let command = RegistrationSecretCommand::SetActive {
            active,
            at: Utc::now(),
        };
        let c = state
            .commands
            .registration_secret(&aggregate, command, &user.actor())
            .await?;
        state.wait_visible(&c).await;
    }
    Ok(Json(load(&state, id).await?))
}

/// `DELETE /registration-secrets/{id}` → 204.
pub(crate) async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id, "registration secret")?;
    let committed = collectors::delete_secret(&state.commands, id, &user.actor()).await?;
    state.wait_visible(&committed).await;
    Ok(StatusCode::NO_CONTENT)
}
