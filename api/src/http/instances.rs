//! `/managed-instances`: the PostgreSQL servers a team watches, and their connection tests.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use commands::instances;
use domain::managed_instance::{
    self, parse_tags, ConnectionOutcome, ConnectionSpec, TestTrigger, CONNECT_TIMEOUT_MAX_S,
};
use domain::values::Name;
use projections::queries::managed_instances::{self, InstanceRow};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::history::{as_of, AsOf};
use super::parse_id;
use crate::auth::access::CurrentUser;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;

/// An instance as the list and detail show it. Never a password, not even sealed.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Instance")]
pub(crate) struct InstanceView {
    id: Uuid,
    name: String,
    host: String,
    port: i32,
    database: String,
    username: String,
    sslmode: String,
    connect_timeout_s: i32,
    tags: Vec<String>,
    has_password: bool,
    last_connection_status: String,
    last_error: Option<String>,
    last_tested_at: Option<DateTime<Utc>>,
    latency_ms: Option<f64>,
    server_version: Option<String>,
    last_heartbeat: Option<DateTime<Utc>>,
    last_tls: Option<bool>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<InstanceRow> for InstanceView {
    fn from(r: InstanceRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            host: r.host,
            port: r.port,
            database: r.database,
            username: r.username,
            sslmode: r.sslmode,
            connect_timeout_s: r.connect_timeout_s,
            tags: r.tags,
            has_password: r.has_credential,
            last_connection_status: r.last_connection_status,
            last_error: r.last_error,
            last_tested_at: r.last_tested_at,
            latency_ms: r.latency_ms,
            server_version: r.server_version,
            last_heartbeat: r.last_heartbeat,
            last_tls: r.last_tls,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// What a connection test observes (when it ran, how long it took, the heartbeat it gave):
/// not kept in history, where each background heartbeat (every 15 minutes) would make a version.
/// The status, error, version and TLS a test finds are.
pub const OBSERVED_FIELDS: &[&str] = &["last_tested_at", "latency_ms", "last_heartbeat"];

/// An instance as history keeps it: without [`OBSERVED_FIELDS`].
pub(crate) fn observed_out(view: InstanceView) -> Value {
    let mut value = json!(view);
    if let Some(fields) = value.as_object_mut() {
        for key in OBSERVED_FIELDS {
            fields.remove(*key);
        }
    }
    value
}

fn not_found() -> ApiError {
    ApiError::NotFound("managed instance not found".into())
}

async fn find(state: &AppState, id: Uuid) -> Result<Option<InstanceView>, ApiError> {
    let client = state.read().await?;
    Ok(managed_instances::get(&client, id)
        .await?
        .map(InstanceView::from))
}

async fn load(state: &AppState, id: Uuid) -> Result<InstanceView, ApiError> {
    find(state, id).await?.ok_or_else(not_found)
}

fn default_sslmode() -> String {
    "prefer".into()
}

fn default_timeout() -> i64 {
    5
}

/// `Some(None)` for an explicit `null`, `None` when the field is absent.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "NewInstance")]
pub(crate) struct CreateBody {
    name: String,
    host: String,
    port: i64,
    database: String,
    username: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default = "default_sslmode")]
    sslmode: String,
    #[serde(default = "default_timeout")]
    connect_timeout_s: i64,
    #[serde(default)]
    tags: Vec<String>,
}

fn parse_name(raw: &str) -> Result<Name, ApiError> {
    Name::parse(raw).map_err(|e| ApiError::Invalid {
        field: "name".into(),
        message: e.to_string(),
    })
}

fn parse_spec(
    host: &str,
    port: i64,
    database: &str,
    username: &str,
    sslmode: &str,
    timeout: i64,
) -> Result<ConnectionSpec, ApiError> {
    ConnectionSpec::parse(host, port, database, username, sslmode, timeout).map_err(|e| {
        ApiError::Invalid {
            field: e.field().into(),
            message: e.to_string(),
        }
    })
}

fn clean_tags(tags: Vec<String>) -> Result<Vec<String>, ApiError> {
    parse_tags(tags).map_err(|e| ApiError::Invalid {
        field: "tags".into(),
        message: e.to_string(),
    })
}

fn check_password(password: Option<&str>) -> Result<(), ApiError> {
    match password.map(managed_instance::check_password) {
        Some(Err(e)) => Err(ApiError::Invalid {
            field: "password".into(),
            message: e.to_string(),
        }),
        _ => Ok(()),
    }
}

/// `GET /managed-instances`
pub(crate) async fn list(
    State(state): State<AppState>,
    at: Result<Query<AsOf>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let at = as_of(at)?;
    let client = state.read().await?;
    if let Some(at) = at {
        let rows = managed_instances::as_of(&client, at, None).await?;
        return Ok(Json(Value::Array(
            rows.into_iter()
                .map(|r| observed_out(InstanceView::from(r)))
                .collect(),
        )));
    }
    let rows = managed_instances::list(&client).await?;
    Ok(Json(json!(rows
        .into_iter()
        .map(InstanceView::from)
        .collect::<Vec<_>>())))
}

/// `GET /managed-instances/{id}`
pub(crate) async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    at: Result<Query<AsOf>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id, "managed instance")?;
    if let Some(at) = as_of(at)? {
        let client = state.read().await?;
        let row = managed_instances::as_of(&client, at, Some(id)).await?.pop();
        return row
            .map(|r| Json(observed_out(InstanceView::from(r))))
            .ok_or_else(not_found);
    }
    Ok(Json(json!(load(&state, id).await?)))
}

/// `POST /managed-instances` → 201.
pub(crate) async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<InstanceView>), ApiError> {
    let name = parse_name(&body.name)?;
    let spec = parse_spec(
        &body.host,
        body.port,
        &body.database,
        &body.username,
        &body.sslmode,
        body.connect_timeout_s,
    )?;
    let tags = clean_tags(body.tags)?;
    check_password(body.password.as_deref())?;
    let (id, committed) = instances::register(
        &state.commands,
        &name,
        spec.clone(),
        body.password.as_deref(),
        tags.clone(),
        &user.actor(),
    )
    .await?;
    state.wait_visible(&committed).await;
    // Created is created: a projection running late shows the instance as the command made
    // it, untested.
    let view = match find(&state, id).await? {
        Some(view) => view,
        None => {
            let now = Utc::now();
            InstanceView {
                id,
                name: name.as_str().to_owned(),
                host: spec.host,
                port: i32::from(spec.port),
                database: spec.database,
                username: spec.username,
                sslmode: spec.sslmode.as_str().to_owned(),
                connect_timeout_s: i32::try_from(spec.connect_timeout_s).unwrap_or(i32::MAX),
                tags,
                has_password: body.password.is_some(),
                last_connection_status: "unknown".to_owned(),
                last_error: None,
                last_tested_at: None,
                latency_ms: None,
                server_version: None,
                last_heartbeat: None,
                last_tls: None,
                created_at: now,
                updated_at: now,
            }
        }
    };
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "InstanceChange")]
pub(crate) struct UpdateBody {
    name: Option<String>,
    host: Option<String>,
    port: Option<i64>,
    database: Option<String>,
    username: Option<String>,
    /// Absent: keep; a string: replace; `null`: remove the stored password.
    #[serde(default, deserialize_with = "present")]
    password: Option<Option<String>>,
    sslmode: Option<String>,
    connect_timeout_s: Option<i64>,
    tags: Option<Vec<String>>,
}

/// `PUT /managed-instances/{id}`: any subset of the fields; returns the instance.
pub(crate) async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<InstanceView>, ApiError> {
    let id = parse_id(&id, "managed instance")?;
    let current = load(&state, id).await?;
    let name = parse_name(body.name.as_deref().unwrap_or(&current.name))?;
    let spec = parse_spec(
        body.host.as_deref().unwrap_or(&current.host),
        body.port.unwrap_or(i64::from(current.port)),
        body.database.as_deref().unwrap_or(&current.database),
        body.username.as_deref().unwrap_or(&current.username),
        body.sslmode.as_deref().unwrap_or(&current.sslmode),
        // A row projected when the bound was 300 may hold more: read it as the bound.
        body.connect_timeout_s
            .unwrap_or(i64::from(current.connect_timeout_s).min(i64::from(CONNECT_TIMEOUT_MAX_S))),
    )?;
    let tags = clean_tags(body.tags.unwrap_or(current.tags))?;
    let password = body.password.as_ref().map(|p| p.as_deref());
    check_password(password.flatten())?;
    let committed = instances::update(
        &state.commands,
        id,
        &name,
        spec,
        tags,
        password,
        &user.actor(),
    )
    .await?;
    state.wait_visible(&committed).await;
    Ok(Json(load(&state, id).await?))
}

/// `DELETE /managed-instances/{id}` → 204.
pub(crate) async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id, "managed instance")?;
    let committed = instances::remove(&state.commands, id, &user.actor()).await?;
    state.wait_visible(&committed).await;
    Ok(StatusCode::NO_CONTENT)
}

/// A connection test's answer.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "ConnectionTestResult")]
pub(crate) struct TestResult {
    success: bool,
    status: String,
    latency_ms: Option<f64>,
    server_version: Option<String>,
    error: Option<String>,
    tls: Option<bool>,
    tested_at: Option<DateTime<Utc>>,
}

/// `POST /managed-instances/{id}/test-connection`: tests now, records the result as an event,
/// and answers once the instance list shows it (read-your-writes).
pub(crate) async fn test_connection(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<TestResult>, ApiError> {
    let id = parse_id(&id, "managed instance")?;
    let committed =
        instances::test(&state.commands, id, TestTrigger::Manual, &user.actor()).await?;
    state.wait_visible(&committed).await;
    let row = load(&state, id).await?;
    Ok(Json(TestResult {
        success: row.last_connection_status == "connected",
        status: row.last_connection_status,
        latency_ms: row.latency_ms,
        server_version: row.server_version,
        error: row.last_error,
        tls: row.last_tls,
        tested_at: row.last_tested_at,
    }))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DirectConnectionTest")]
pub(crate) struct DirectBody {
    /// Accepted (a form may send it) and ignored: nothing is stored.
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<String>,
    host: String,
    port: i64,
    database: String,
    username: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default = "default_sslmode")]
    sslmode: String,
    #[serde(default = "default_timeout")]
    connect_timeout_s: i64,
    #[serde(default)]
    #[allow(dead_code)]
    tags: Vec<String>,
}

/// `POST /managed-instances/test-connection-direct` (admin: it can point the server at any
/// host): tests details before they are registered; nothing is stored.
pub(crate) async fn test_connection_direct(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<DirectBody>,
) -> Result<Json<TestResult>, ApiError> {
    let spec = parse_spec(
        &body.host,
        body.port,
        &body.database,
        &body.username,
        &body.sslmode,
        body.connect_timeout_s,
    )?;
    check_password(body.password.as_deref())?;
    let tester = state.commands.tester();
    tester.check_target(&spec).map_err(|e| ApiError::Invalid {
        field: "host".into(),
        message: e.to_string(),
    })?;
    let outcome: ConnectionOutcome = tester.test_plain(&spec, body.password.as_deref()).await;
    Ok(Json(TestResult {
        success: outcome.status == domain::managed_instance::ConnectionStatus::Connected,
        status: outcome.status.as_str().to_owned(),
        latency_ms: Some(outcome.latency_ms),
        server_version: outcome.server_version,
        error: outcome.error,
        tls: outcome.tls,
        tested_at: Some(Utc::now()),
    }))
}
