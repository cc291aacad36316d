//! `/collectors`: registration (public, with a registration secret), token refresh (public,
//! with the collector's refresh secret), the list with live activity, and deletion (admin).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, Utc};
use commands::collectors::{self, CollectorCommandError};
use commands::service::CommandError;
use domain::collector::CollectorCommand;
use domain::registration_secret::RegistrationSecretError;
use domain::values::{AgentVersion, Hostname, Name, TextError};
use projections::queries::collectors::{self as queries, CollectorRow};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::history::{as_of, AsOf};
use super::parse_id;
use crate::auth::access::CurrentUser;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;

/// A collector counts as offline after this long without a batch (three standard intervals).
const OFFLINE_AFTER_S: f64 = 180.0;

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Collector")]
pub(crate) struct CollectorView {
    id: Uuid,
    name: String,
    hostname: String,
    version: String,
    /// `registered` (never pushed), `active`, or `offline`.
    status: &'static str,
    registered_at: DateTime<Utc>,
    last_seen: Option<DateTime<Utc>>,
    metrics_count_total: i64,
    /// Data points collected in the last 24 hours; goes down as time passes.
    metrics_count_24h: i64,
    batches_total: i64,
    rejected_batches: i64,
    last_instance: Option<String>,
    /// Data points refused by the cardinality guard (too many series), and the last metric.
    series_refused: i64,
    series_refused_last_metric: Option<String>,
    /// Managed instances it may report; empty: none (then it may not report a managed
    /// instance at all).
    instance_ids: Vec<Uuid>,
    /// Why its latest refused batch was refused.
    last_rejected_reason: Option<String>,
}

impl From<CollectorRow> for CollectorView {
    fn from(r: CollectorRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            hostname: r.hostname,
            version: r.version,
            status: match r.seen_ago_s {
                None => "registered",
                Some(a) if a <= OFFLINE_AFTER_S => "active",
                Some(_) => "offline",
            },
            registered_at: r.registered_at,
            last_seen: r.last_seen,
            metrics_count_total: r.metrics_count_total,
            metrics_count_24h: r.metrics_count_24h,
            batches_total: r.batches_total,
            rejected_batches: r.rejected_batches,
            last_instance: r.last_instance,
            series_refused: r.series_refused,
            series_refused_last_metric: r.series_refused_last_metric,
            instance_ids: r.instance_ids,
            last_rejected_reason: r.last_rejected_reason,
        }
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound("collector not found".into())
}

pub(crate) async fn load(state: &AppState, id: Uuid) -> Result<CollectorView, ApiError> {
    let client = state.read().await?;
    queries::get(&client, id)
        .await?
        .map(CollectorView::from)
        .ok_or_else(not_found)
}

/// `GET /collectors`
pub(crate) async fn list(
    State(state): State<AppState>,
    at: Result<Query<AsOf>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let at = as_of(at)?;
    let client = state.read().await?;
    let views: Vec<Value> = match at {
        Some(at) => queries::as_of(&client, at, None)
            .await?
            .into_iter()
            .map(|r| historical(CollectorView::from(r)))
            .collect(),
        None => queries::list(&client)
            .await?
            .into_iter()
            .map(|r| json!(CollectorView::from(r)))
            .collect(),
    };
    Ok(Json(Value::Array(views)))
}

/// A collector as history keeps it: its registration facts and bindings. Its status and
/// activity come from metric batches, not events, and are not historical.
pub(crate) fn historical(view: CollectorView) -> Value {
    let mut value = json!(view);
    if let Some(fields) = value.as_object_mut() {
        for key in ACTIVITY_FIELDS {
            fields.remove(*key);
        }
    }
    value
}

/// The fields of a collector that metric batches, not events, set.
pub const ACTIVITY_FIELDS: &[&str] = &[
    "status",
    "last_seen",
    "metrics_count_total",
    "metrics_count_24h",
    "batches_total",
    "rejected_batches",
    "last_instance",
    "series_refused",
    "series_refused_last_metric",
    "last_rejected_reason",
];

/// `GET /collectors/{id}`
pub(crate) async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    at: Result<Query<AsOf>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id, "collector")?;
    if let Some(at) = as_of(at)? {
        let client = state.read().await?;
        let row = queries::as_of(&client, at, Some(id)).await?.pop();
        return row
            .map(|r| Json(historical(CollectorView::from(r))))
            .ok_or_else(not_found);
    }
    Ok(Json(json!(load(&state, id).await?)))
}

/// `DELETE /collectors/{id}` (admin) → 204; its token and refresh secret fail from then on.
pub(crate) async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id, "collector")?;
    let command = CollectorCommand::DeleteCollector { at: Utc::now() };
    let committed = state
        .commands
        .collector(&id.to_string(), command, &user.actor())
        .await?;
    // Token checks read the collectors projection: answer once it no longer lists it.
    state.wait_visible(&committed).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterBody {
    name: String,
    hostname: String,
    #[serde(default)]
    version: String,
}

#[derive(Serialize)]
pub(crate) struct Registered {
    collector_id: Uuid,
    #[serde(flatten)]
    credentials: Credentials,
    refresh_secret: String,
}

/// What a collector proves itself with: its token, and on operator-mode NATS its own NATS
/// credential, valid as long as the token and renewed with it.
#[derive(Serialize)]
pub(crate) struct Credentials {
    token: String,
    token_expires_at: DateTime<Utc>,
    /// Where a collector publishing to NATS sends its batches (its partition's subject), also
    /// when the server issues no NATS credential (NATS without authentication).
    metrics_subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    nats: Option<commands::nats_auth::CollectorNatsCredential>,
}

fn issue_credentials(state: &AppState, collector_id: Uuid) -> Result<Credentials, ApiError> {
    let (token, token_expires_at) = state
        .auth
        .tokens
        .issue_collector(collector_id)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let nats = state
        .auth
        .nats_issuer
        .as_ref()
        .map(|issuer| issuer.collector(collector_id, &state.names, token_expires_at))
        .transpose()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Credentials {
        token,
        token_expires_at,
        metrics_subject: state.names.metrics_subject(&collector_id.to_string()),
        nats,
    })
}

fn invalid(field: &str, e: TextError) -> ApiError {
    ApiError::Invalid {
        field: field.into(),
        message: e.to_string(),
    }
}

fn secret_refused(code: &'static str, message: String) -> ApiError {
    ApiError::Unauthorized { code, message }
}

/// `POST /collectors/register` with `X-Registration-Secret` → 201.
pub(crate) async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    let secret = headers
        .get("x-registration-secret")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            secret_refused(
                "missing_registration_secret",
                "send the registration secret in X-Registration-Secret".into(),
            )
        })?;
    let name = Name::parse(&body.name).map_err(|e| ApiError::Invalid {
        field: "name".into(),
        message: e.to_string(),
    })?;
    let hostname = Hostname::parse(&body.hostname).map_err(|e| invalid("hostname", e))?;
    let version = AgentVersion::parse(&body.version).map_err(|e| invalid("version", e))?;
    let registered =
        collectors::register_collector(&state.commands, secret, name, hostname, version)
            .await
            .map_err(|e| match e {
                CollectorCommandError::UnknownSecret => secret_refused(
                    "invalid_registration_secret",
                    "the registration secret is not valid".into(),
                ),
                CollectorCommandError::Secret(CommandError::Rejected(r)) => match r {
                    RegistrationSecretError::NotFound | RegistrationSecretError::Deleted => {
                        secret_refused(
                            "invalid_registration_secret",
                            "the registration secret is not valid".into(),
                        )
                    }
                    other => ApiError::Forbidden(other.to_string()),
                },
                CollectorCommandError::Secret(CommandError::Conflict(_)) => ApiError::Conflict(
                    "another collector registered at the same moment; try again".into(),
                ),
                other => other.into(),
            })?;
    state.wait_visible(&registered.committed).await;
    let credentials = issue_credentials(&state, registered.collector_id)?;
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            collector_id: registered.collector_id,
            credentials,
            refresh_secret: registered.refresh_secret,
        }),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenBody {
    refresh_secret: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct FreshToken {
    collector_id: Uuid,
    #[serde(flatten)]
    credentials: Credentials,
}

/// `POST /collectors/{id}/token` with the refresh secret (`X-Refresh-Secret` or
/// `{"refresh_secret"}`) → a fresh token.
pub(crate) async fn token(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Result<Json<FreshToken>, ApiError> {
    let refused = || {
        secret_refused(
            "invalid_refresh_secret",
            "unknown collector or wrong refresh secret".into(),
        )
    };
    let id = Uuid::parse_str(&id).map_err(|_| refused())?;
    let from_body: TokenBody = if body.iter().all(u8::is_ascii_whitespace) {
        TokenBody::default()
    } else {
        crate::json::parse(&body)?
    };
    let secret = headers
        .get("x-refresh-secret")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(from_body.refresh_secret)
        .ok_or_else(refused)?;
    let client = state.read().await?;
    let stored = queries::refresh_secret_hash(&client, id).await?;
    let matches = stored.is_some_and(|h| !h.is_empty() && h == collectors::digest(&secret));
    if !matches {
        return Err(refused());
    }
    Ok(Json(FreshToken {
        collector_id: id,
        credentials: issue_credentials(&state, id)?,
    }))
}
