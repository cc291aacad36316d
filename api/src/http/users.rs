//! `/users` (admin): list, create, change role or active, delete, reset password.

use std::future::Future;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use domain::user::{NewPassword, Role, UserCommand, Username};
use projections::queries::users::{self, UserRow};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::history::{as_of, AsOf};
use super::parse_id;
use crate::auth::access::CurrentUser;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;

/// Held while a change could remove the last admin, so two admins cannot demote each other at
/// the same moment and leave nobody in charge.
const ADMIN_LOCK: i64 = 7_362_981_450_013;

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "User")]
pub(crate) struct UserView {
    id: Uuid,
    username: String,
    #[schemars(with = "Role")]
    role: String,
    active: bool,
    created_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
}

impl From<UserRow> for UserView {
    fn from(r: UserRow) -> Self {
        Self {
            id: r.id,
            username: r.username,
            role: r.role,
            active: r.active,
            created_at: r.created_at,
            last_login_at: r.last_login_at,
        }
    }
}

async fn find(state: &AppState, id: Uuid) -> Result<Option<UserView>, ApiError> {
    let client = state.read().await?;
    Ok(users::get(&client, id).await?.map(UserView::from))
}

async fn load_existing(state: &AppState, id: Uuid) -> Result<UserView, ApiError> {
    find(state, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("user not found".into()))
}

/// `GET /users`
pub(crate) async fn list(
    State(state): State<AppState>,
    at: Result<Query<AsOf>, QueryRejection>,
) -> Result<Json<Vec<UserView>>, ApiError> {
    let at = as_of(at)?;
    let client = state.read().await?;
    let rows = match at {
        Some(at) => users::as_of(&client, at, None).await?,
        None => users::list(&client).await?,
    };
    Ok(Json(rows.into_iter().map(UserView::from).collect()))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "NewUser")]
pub(crate) struct CreateBody {
    username: String,
    password: String,
    role: Role,
}

/// `POST /users` → 201 with the user.
pub(crate) async fn create(
    State(state): State<AppState>,
    admin: CurrentUser,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let username = Username::parse(&body.username).map_err(|e| ApiError::Invalid {
        field: "username".into(),
        message: e.to_string(),
    })?;
    let password = NewPassword::parse(&body.password).map_err(|e| ApiError::Invalid {
        field: "password".into(),
        message: e.to_string(),
    })?;
    let (id, committed) = commands::users::create_user(
        &state.commands,
        &state.auth.hashes,
        &username,
        &password,
        body.role,
        &admin.actor(),
    )
    .await?;
    state.wait_visible(&committed).await;
    // Created is created: a projection running late shows the user as the command made it.
    let view = find(&state, id).await?.unwrap_or_else(|| UserView {
        id,
        username: username.as_str().to_owned(),
        role: body.role.as_str().to_owned(),
        active: true,
        created_at: Utc::now(),
        last_login_at: None,
    });
    Ok((StatusCode::CREATED, Json(view)))
}

/// Runs `work` while holding the admin lock: a transaction-scoped advisory lock, so it is
/// released with the transaction however the request ends. (A session-level lock on a pooled
/// connection stayed held when a client went away mid-request: dropping the future skipped the
/// unlock, the connection went back to the pool locked, and every later admin change hung.)
/// A request waits at most [`ADMIN_LOCK_WAIT`] for it, then answers 503.
async fn with_admin_lock<T>(
    state: &AppState,
    work: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let mut tx = state.commands.pool().begin().await?;
    sqlx::query(&format!(
        "SET LOCAL lock_timeout = '{}ms'",
        ADMIN_LOCK_WAIT.as_millis()
    ))
    .execute(&mut *tx)
    .await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(ADMIN_LOCK)
        .execute(&mut *tx)
        .await?;
    let result = work.await;
    // Nothing was written in it: ending it releases the lock.
    let _ = tx.rollback().await;
    result
}

/// How long an admin change waits for another one to finish.
const ADMIN_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// 409 when `target` is the last active admin.
async fn refuse_last_admin(
    state: &AppState,
    target: &UserView,
    what: &str,
) -> Result<(), ApiError> {
    if target.role != "admin" || !target.active {
        return Ok(());
    }
    let client = state.read().await?;
    if users::other_active_admins(&client, target.id).await? == 0 {
        return Err(ApiError::Conflict(format!(
            "cannot {what} the last active admin; make another user admin first"
        )));
    }
    Ok(())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "UserChange")]
pub(crate) struct UpdateBody {
    role: Option<Role>,
    active: Option<bool>,
}

/// `PUT /users/{id}`: `{role?, active?}` → the user.
pub(crate) async fn update(
    State(state): State<AppState>,
    admin: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<UserView>, ApiError> {
    let id = parse_id(&id, "user")?;
    if body.role.is_none() && body.active.is_none() {
        return Err(ApiError::Invalid {
            field: "role".into(),
            message: "give role, active, or both".into(),
        });
    }
    with_admin_lock(&state, async {
        let target = load_existing(&state, id).await?;
        if body.role.is_some_and(|r| r != Role::Admin) {
            refuse_last_admin(&state, &target, "demote").await?;
        }
        if body.active == Some(false) {
            refuse_last_admin(&state, &target, "deactivate").await?;
        }
        let aggregate = id.to_string();
        let now = Utc::now();
        if let Some(role) = body.role {
            let command = UserCommand::ChangeRole { role, at: now };
            let c = state
                .commands
                .user(&aggregate, command, &admin.actor())
                .await;
            state.wait_visible(&c?).await;
        }
        if let Some(active) = body.active {
            let command = UserCommand::SetActive { active, at: now };
            let c = state
                .commands
                .user(&aggregate, command, &admin.actor())
                .await;
            state.wait_visible(&c?).await;
            if !active {
                state.auth.sessions.revoke_all(id, "deactivated").await?;
            }
        }
        Ok(Json(load_existing(&state, id).await?))
    })
    .await
}

/// `DELETE /users/{id}` → 204. Not yourself, not the last admin.
pub(crate) async fn remove(
    State(state): State<AppState>,
    admin: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id, "user")?;
    if id == admin.id {
        return Err(ApiError::Conflict("you cannot delete yourself".into()));
    }
    with_admin_lock(&state, async {
        let target = load_existing(&state, id).await?;
        refuse_last_admin(&state, &target, "delete").await?;
        let command = UserCommand::DeleteUser { at: Utc::now() };
        let committed = state
            .commands
            .user(&id.to_string(), command, &admin.actor())
            .await?;
        state.auth.sessions.revoke_all(id, "deleted").await?;
        commands::users::release_username(&state.commands, id).await?;
        state.wait_visible(&committed).await;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PasswordReset")]
pub(crate) struct ResetBody {
    password: String,
}

/// `POST /users/{id}/reset-password` → 204; the user's refresh tokens are revoked.
pub(crate) async fn reset_password(
    State(state): State<AppState>,
    admin: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ResetBody>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id, "user")?;
    let password = NewPassword::parse(&body.password).map_err(|e| ApiError::Invalid {
        field: "password".into(),
        message: e.to_string(),
    })?;
    load_existing(&state, id).await?;
    let password_hash = state.auth.hashes.hash(&password).await?;
    let command = UserCommand::ResetPassword {
        password_hash,
        at: Utc::now(),
    };
    let committed = state
        .commands
        .user(&id.to_string(), command, &admin.actor())
        .await?;
    state.wait_visible(&committed).await;
    state.auth.sessions.revoke_all(id, "password reset").await?;
    Ok(StatusCode::NO_CONTENT)
}
