//! Alerting: `/alert-rules` (viewer reads, editor changes), `/alerts` (viewer reads, editor
//! acknowledges), `/silences` (viewer reads, editor changes), `/notification-channels` and
//! `/notifications` (admin). Reads come from the `alerting` projection; every change is a
//! command whose event the projection must show before the answer (read-your-writes).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use domain::alerting::{
    silence::check_matchers, AlertCommand, AlertRuleCommand, ChannelCommand, ChannelSpec,
    ChannelTarget, MailTls, Matcher, RuleSpec, SecretChange, SilenceCommand,
};
use projections::queries::alerting::{self as q, AlertFilter};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use axum::extract::rejection::QueryRejection;

use super::history::{as_of, AsOf};
use super::parse_id;
use crate::auth::access::CurrentUser;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

pub(crate) fn rule_spec(body: Value) -> Result<RuleSpec, ApiError> {
    let spec: RuleSpec = serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        invalid(
            if path == "." { "body" } else { &path },
            e.into_inner().to_string(),
        )
    })?;
    spec.validated().map_err(|e| {
        let (field, message) = e.0.split_once(": ").unwrap_or(("body", &e.0));
        invalid(field, message)
    })
}

async fn rule_view(state: &AppState, id: Uuid) -> Result<Json<Value>, ApiError> {
    let client = state.read().await?;
    q::rule(&client, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("alert rule not found".into()))
}

/// `GET /alert-rules`
pub(crate) async fn rules(
    State(state): State<AppState>,
    at: Result<Query<AsOf>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let at = as_of(at)?;
    let client = state.read().await?;
    let rules = match at {
        Some(at) => q::rules_as_of(&client, at, None).await?,
        None => q::rules(&client).await?,
    };
    Ok(Json(json!({ "rules": rules })))
}

/// `GET /alert-rules/{id}`
pub(crate) async fn rule(
    State(state): State<AppState>,
    Path(id): Path<String>,
    at: Result<Query<AsOf>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id, "alert rule")?;
    if let Some(at) = as_of(at)? {
        let client = state.read().await?;
        return q::rules_as_of(&client, at, Some(id))
            .await?
            .pop()
            .map(Json)
            .ok_or_else(|| ApiError::NotFound("alert rule not found".into()));
    }
    rule_view(&state, id).await
}

/// `POST /alert-rules` → 201
pub(crate) async fn create_rule(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let spec = rule_spec(body)?;
    let id = Uuid::new_v4();
    let command = AlertRuleCommand::Create {
        spec,
        builtin: None,
        enabled: true,
        at: Utc::now(),
    };
    let c = state
        .commands
        .alert_rule(&id.to_string(), command, &user.actor())
        .await?;
    state.wait_visible(&c).await;
    Ok((StatusCode::CREATED, rule_view(&state, id).await?))
}

/// `PUT /alert-rules/{id}`
pub(crate) async fn update_rule(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id, "alert rule")?;
    let spec = rule_spec(body)?;
    let command = AlertRuleCommand::Update {
        spec,
        at: Utc::now(),
    };
    let c = state
        .commands
        .alert_rule(&id.to_string(), command, &user.actor())
        .await?;
    state.wait_visible(&c).await;
    rule_view(&state, id).await
}

async fn set_enabled(
    state: &AppState,
    user: &CurrentUser,
    id: &str,
    enabled: bool,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(id, "alert rule")?;
    let command = AlertRuleCommand::SetEnabled {
        enabled,
        at: Utc::now(),
    };
    let c = state
        .commands
        .alert_rule(&id.to_string(), command, &user.actor())
        .await?;
    state.wait_visible(&c).await;
    rule_view(state, id).await
}

/// `POST /alert-rules/{id}/enable`
pub(crate) async fn enable_rule(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_enabled(&state, &user, &id, true).await
}

/// `POST /alert-rules/{id}/disable`
pub(crate) async fn disable_rule(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_enabled(&state, &user, &id, false).await
}

/// `DELETE /alert-rules/{id}` → 204 (409 for a built-in rule).
pub(crate) async fn delete_rule(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id, "alert rule")?;
    let command = AlertRuleCommand::Delete { at: Utc::now() };
    let c = state
        .commands
        .alert_rule(&id.to_string(), command, &user.actor())
        .await?;
    state.wait_visible(&c).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertsQuery {
    state: Option<String>,
    limit: Option<i64>,
}

/// `GET /alerts?state=active|firing|pending|resolved|all`
pub(crate) async fn alerts(
    State(state): State<AppState>,
    query: Result<Query<AlertsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let filter = match query.state.as_deref().unwrap_or("active") {
        "active" => AlertFilter::Active,
        "firing" => AlertFilter::Firing,
        "pending" => AlertFilter::Pending,
        "resolved" => AlertFilter::Resolved,
        "all" => AlertFilter::All,
        other => {
            return Err(invalid(
                "state",
                format!("{other:?}: one of active, firing, pending, resolved, all"),
            ))
        }
    };
    let limit = query.limit.unwrap_or(500).clamp(1, 5000);
    let client = state.read().await?;
    Ok(Json(
        json!({ "alerts": q::alerts(&client, filter, limit).await? }),
    ))
}

/// `GET /alerts/{id}`: the alert and its history.
pub(crate) async fn alert(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id, "alert")?;
    let client = state.read().await?;
    q::alert(&client, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("alert not found".into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AckBody {
    #[serde(default)]
    comment: Option<String>,
}

/// `POST /alerts/{id}/acknowledge` (409 unless firing)
pub(crate) async fn acknowledge(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id, "alert")?;
    // The body is optional: none, or `{"comment": …}`.
    let body: AckBody = if body.iter().all(u8::is_ascii_whitespace) {
        AckBody { comment: None }
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("body: {e}")))?
    };
    let comment = body.comment.map(|c| c.trim().to_owned());
    if comment
        .as_ref()
        .is_some_and(|c| c.len() > 1000 || c.chars().any(|ch| ch.is_control() && ch != '\n'))
    {
        return Err(invalid(
            "comment",
            "at most 1000 bytes, no control characters",
        ));
    }
    let comment = comment.filter(|c| !c.is_empty());
    {
        let client = state.read().await?;
        if q::alert_state(&client, id).await?.is_none() {
            return Err(ApiError::NotFound("alert not found".into()));
        }
    }
    let command = AlertCommand::Acknowledge {
        comment,
        at: Utc::now(),
    };
    let c = state
        .commands
        .alert(&id.to_string(), command, &user.actor())
        .await?;
    state.wait_visible(&c).await;
    alert(State(state), Path(id.to_string())).await
}

/// `GET /silences`
pub(crate) async fn silences(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let client = state.read().await?;
    Ok(Json(json!({ "silences": q::silences(&client).await? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SilenceBody {
    matchers: Vec<Matcher>,
    #[serde(default)]
    starts_at: Option<DateTime<Utc>>,
    ends_at: DateTime<Utc>,
    #[serde(default)]
    comment: String,
}

/// `POST /silences` → 201
pub(crate) async fn create_silence(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<SilenceBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    check_matchers(&body.matchers)
        .map_err(|m| invalid("matchers", m.trim_start_matches("matchers: ")))?;
    let now = Utc::now();
    let starts_at = body.starts_at.unwrap_or(now).max(now);
    if body.ends_at <= starts_at {
        return Err(invalid("ends_at", "must be in the future, after starts_at"));
    }
    if body.comment.len() > 1000 || body.comment.chars().any(char::is_control) {
        return Err(invalid(
            "comment",
            "at most 1000 bytes, no control characters",
        ));
    }
    let id = Uuid::new_v4();
    let command = SilenceCommand::Create {
        matchers: body.matchers,
        starts_at,
        ends_at: body.ends_at,
        comment: body.comment,
    };
    let c = state
        .commands
        .silence(&id.to_string(), command, &user.actor())
        .await?;
    state.wait_visible(&c).await;
    let client = state.read().await?;
    let view = q::silences(&client)
        .await?
        .into_iter()
        .find(|s| s["id"] == id.to_string())
        .unwrap_or_else(|| json!({"id": id}));
    Ok((StatusCode::CREATED, Json(view)))
}

/// `DELETE /silences/{id}` → 204: ends it now.
pub(crate) async fn expire_silence(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id, "silence")?;
    let command = SilenceCommand::Expire { at: Utc::now() };
    let c = state
        .commands
        .silence(&id.to_string(), command, &user.actor())
        .await?;
    state.wait_visible(&c).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /notification-channels`
pub(crate) async fn channels(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let client = state.read().await?;
    Ok(Json(json!({ "channels": q::channels(&client).await? })))
}

/// The spec, and the write-only secret (`secret` for a webhook, `password` for email; `None`:
/// not given).
pub(crate) fn channel_body(
    mut body: Value,
) -> Result<(ChannelSpec, Option<Option<String>>), ApiError> {
    let obj = body
        .as_object_mut()
        .ok_or_else(|| invalid("body", "a JSON object"))?;
    let secret = match (obj.remove("secret"), obj.remove("password")) {
        (Some(_), Some(_)) => {
            return Err(invalid("secret", "give `secret` or `password`, not both"))
        }
        (Some(v), None) | (None, Some(v)) => Some(match v {
            Value::Null => None,
            Value::String(s) if s.len() <= 4096 && !s.is_empty() => Some(s),
            _ => {
                return Err(invalid(
                    "secret",
                    "a string of 1 to 4096 bytes, or null to remove it",
                ))
            }
        }),
        (None, None) => None,
    };
    let spec: ChannelSpec = serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        invalid(
            if path == "." { "body" } else { &path },
            e.into_inner().to_string(),
        )
    })?;
    spec.check().map_err(|e| {
        let (field, message) = e.split_once(": ").unwrap_or(("body", &e));
        invalid(field, message)
    })?;
    if let ChannelTarget::Email {
        tls: MailTls::None,
        username: Some(_),
        ..
    } = &spec.target
    {
        return Err(invalid(
            "tls",
            "credentials are sent only over TLS: use starttls or tls",
        ));
    }
    if matches!(spec.target, ChannelTarget::Alertmanager { .. }) && secret.is_some() {
        return Err(invalid("secret", "an Alertmanager channel takes no secret"));
    }
    Ok((spec, secret))
}

fn seal(
    state: &AppState,
    id: Uuid,
    secret: Option<String>,
) -> Result<Option<domain::managed_instance::SealedCredential>, ApiError> {
    let Some(secret) = secret else {
        return Ok(None);
    };
    let cipher = state.commands.tester().cipher().ok_or_else(|| {
        ApiError::Conflict(
            "this server has no PGA_ENCRYPTION_KEY, so it cannot store a channel secret".into(),
        )
    })?;
    let binding = domain::alerting::channel::secret_binding(&id.to_string());
    Ok(Some(cipher.seal(&secret, &binding)))
}

async fn channel_view(state: &AppState, id: Uuid) -> Result<Json<Value>, ApiError> {
    let client = state.read().await?;
    q::channel(&client, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("notification channel not found".into()))
}

/// `POST /notification-channels` → 201
pub(crate) async fn create_channel(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (spec, secret) = channel_body(body)?;
    let id = Uuid::new_v4();
    let secret = seal(&state, id, secret.flatten())?;
    let command = ChannelCommand::Create {
        spec,
        secret,
        at: Utc::now(),
    };
    let c = state
        .commands
        .notification_channel(&id.to_string(), command, &user.actor())
        .await?;
    state.wait_visible(&c).await;
    Ok((StatusCode::CREATED, channel_view(&state, id).await?))
}

/// `PUT /notification-channels/{id}`: a secret left out is kept; `null` removes it.
pub(crate) async fn update_channel(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id, "notification channel")?;
    let (spec, secret) = channel_body(body)?;
    // A kept secret goes only where it went before: an admin who changes where a channel
    // sends must give its secret again, or could make the server hand it to another host.
    if secret.is_none() {
        let client = state.read().await?;
        if let Some(current) = q::channel(&client, id).await? {
            let destination = |v: &Value| {
                let spec = v.get("spec").unwrap_or(v);
                ["kind", "url", "host", "port", "tls", "username", "ca_pem"]
                    .map(|k| spec.get(k).cloned())
            };
            let new = serde_json::to_value(&spec).unwrap_or_default();
            if current["has_secret"] == true && destination(&current) != destination(&new) {
                return Err(invalid(
                    "secret",
                    "the destination changed: give the secret (or password) again, or null to remove it",
                ));
            }
        }
    }
    let secret = match secret {
        None => SecretChange::Keep,
        Some(s) => SecretChange::Replace(seal(&state, id, s)?),
    };
    let command = ChannelCommand::Update {
        spec,
        secret,
        at: Utc::now(),
    };
    let c = state
        .commands
        .notification_channel(&id.to_string(), command, &user.actor())
        .await?;
    state.wait_visible(&c).await;
    channel_view(&state, id).await
}

/// `DELETE /notification-channels/{id}` → 204
pub(crate) async fn delete_channel(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id, "notification channel")?;
    let command = ChannelCommand::Delete { at: Utc::now() };
    let c = state
        .commands
        .notification_channel(&id.to_string(), command, &user.actor())
        .await?;
    state.wait_visible(&c).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Limit {
    limit: Option<i64>,
}

/// `GET /notifications`: the newest deliveries and their attempts.
pub(crate) async fn notifications(
    State(state): State<AppState>,
    query: Result<Query<Limit>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let client = state.read().await?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(
        json!({ "notifications": q::notifications(&client, limit).await? }),
    ))
}
