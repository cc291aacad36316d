//! `/auth/*`: login, refresh, logout, change-password.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::Utc;
use domain::user::{NewPassword, Role, UserCommand, PASSWORD_MAX_CHARS, USERNAME_MAX};
use projections::queries::users;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::access::CurrentUser;
use crate::auth::sessions::RefreshError;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "LoginRequest")]
pub(crate) struct LoginBody {
    username: String,
    password: String,
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct TokenPair {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: i64,
    user: UserRef,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "SessionUser")]
pub(crate) struct UserRef {
    id: Uuid,
    username: String,
    role: Role,
}

fn bad_login() -> ApiError {
    ApiError::Unauthorized {
        code: "invalid_credentials",
        message: "invalid username or password".into(),
    }
}

fn limited(retry: std::time::Duration) -> ApiError {
    ApiError::TooManyRequests {
        retry_after_s: retry.as_secs().max(1),
    }
}

struct LoginRow {
    id: Uuid,
    username: String,
    role: Role,
    active: bool,
    hash: String,
}

async fn find_user(state: &AppState, username: &str) -> Result<Option<LoginRow>, ApiError> {
    let client = state.auth_read().await?;
    let row = users::find_login(&client, username).await?;
    Ok(row.map(|r| LoginRow {
        id: r.user.id,
        role: Role::parse(&r.user.role).unwrap_or(Role::Viewer),
        username: r.user.username,
        active: r.user.active,
        hash: r.password_hash,
    }))
}

async fn issue(
    state: &AppState,
    id: Uuid,
    username: String,
    role: Role,
    refresh_token: String,
) -> Result<TokenPair, ApiError> {
    let (access_token, expires_in) = state
        .auth
        .tokens
        .issue(id, role)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(TokenPair {
        access_token,
        refresh_token,
        token_type: "Bearer",
        expires_in,
        user: UserRef { id, username, role },
    })
}

/// `POST /auth/login`. Unknown user and wrong password answer alike and cost one argon2
/// verification each. The attempt is counted before the hash (see `auth::limiter` for the
/// scheme); the hash runs on the bounded pool, and past it the answer is 503 with
/// `Retry-After`.
// Over 60 lines on purpose: its order is its security (limit, hash, verify, record), kept in one place.
pub(crate) async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<TokenPair>, ApiError> {
    // No account can have a longer name or password: refuse before the limiter sees the name
    // and before argon2 hashes megabytes.
    if body.username.len() > USERNAME_MAX {
        return Err(ApiError::Invalid {
            field: "username".into(),
            message: format!("must be at most {USERNAME_MAX} characters"),
        });
    }
    if body.password.chars().count() > PASSWORD_MAX_CHARS {
        return Err(ApiError::Invalid {
            field: "password".into(),
            message: format!("must be at most {PASSWORD_MAX_CHARS} characters"),
        });
    }
    let client = state.auth.client_address.resolve(peer.ip(), &headers);
    let attempt = state
        .auth
        .logins
        .begin(&body.username, client)
        .map_err(limited)?;
    if !attempt.delay.is_zero() {
        // The username is being guessed from many addresses: slow every try, lock none.
        tokio::time::sleep(attempt.delay).await;
    }

    let found = match find_user(&state, &body.username).await {
        Ok(found) => found,
        Err(e) => {
            state.auth.logins.abandoned(attempt);
            return Err(e);
        }
    };
    let hash = found
        .as_ref()
        .map_or(state.auth.decoy_hash.as_phc(), |u| u.hash.as_str());
    let verified = match state.auth.hashes.verify(&body.password, hash).await {
        Ok(verified) => verified,
        Err(e) => {
            // Nothing was checked (the pool is full): the attempt does not count.
            state.auth.logins.abandoned(attempt);
            return Err(e.into());
        }
    };
    let user = match found {
        Some(user) if verified && user.active => user,
        // The reservation stays: it is the failure.
        _ => return Err(bad_login()),
    };
    state.auth.logins.succeeded(attempt);

    let actor = domain::values::Actor::user(&user.id.to_string(), &user.username);
    state
        .commands
        .user(
            &user.id.to_string(),
            UserCommand::RecordLogin { at: Utc::now() },
            &actor,
        )
        .await
        .map_err(|e| match e {
            commands::service::CommandError::Rejected(_) => bad_login(),
            other => other.into(),
        })?;
    let refresh = state.auth.sessions.open(user.id).await?;
    Ok(Json(
        issue(&state, user.id, user.username, user.role, refresh).await?,
    ))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RefreshRequest")]
pub(crate) struct RefreshBody {
    refresh_token: String,
}

/// `POST /auth/refresh`: a new pair; the presented refresh token stops working.
pub(crate) async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<TokenPair>, ApiError> {
    let (user_id, fresh) = state
        .auth
        .sessions
        .rotate(&body.refresh_token)
        .await
        .map_err(|e| match e {
            RefreshError::Store(e) => e.into(),
            RefreshError::Expired => ApiError::Unauthorized {
                code: "refresh_token_expired",
                message: e.to_string(),
            },
            RefreshError::Revoked => ApiError::Unauthorized {
                code: "refresh_token_revoked",
                message: e.to_string(),
            },
            RefreshError::Invalid => ApiError::Unauthorized {
                code: "invalid_refresh_token",
                message: e.to_string(),
            },
        })?;
    let client = state.auth_read().await?;
    match users::get(&client, user_id).await? {
        Some(r) if r.active => {
            let role = Role::parse(&r.role).unwrap_or(Role::Viewer);
            Ok(Json(issue(&state, user_id, r.username, role, fresh).await?))
        }
        _ => {
            let _ = state
                .auth
                .sessions
                .revoke_all(user_id, "user inactive")
                .await;
            Err(ApiError::Unauthorized {
                code: "user_inactive",
                message: "this user has been deactivated or deleted".into(),
            })
        }
    }
}

#[derive(Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "LogoutRequest")]
pub(crate) struct LogoutBody {
    refresh_token: Option<String>,
}

/// `POST /auth/logout`: revokes the given refresh token, or every session of the caller when
/// the body names none.
pub(crate) async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
    body: bytes::Bytes,
) -> Result<StatusCode, ApiError> {
    let body: LogoutBody = if body.iter().all(u8::is_ascii_whitespace) {
        LogoutBody::default()
    } else {
        crate::json::parse(&body)?
    };
    let result = match body.refresh_token {
        Some(token) => state
            .auth
            .sessions
            .revoke(user.id, &token)
            .await
            .map(|_| ()),
        None => state
            .auth
            .sessions
            .revoke_all(user.id, "logout")
            .await
            .map(|_| ()),
    };
    result?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ChangePasswordRequest")]
pub(crate) struct ChangePasswordBody {
    current_password: String,
    new_password: String,
}

/// `POST /auth/change-password`: every refresh token of the caller is revoked afterwards.
pub(crate) async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<ChangePasswordBody>,
) -> Result<StatusCode, ApiError> {
    let new = NewPassword::parse(&body.new_password).map_err(|e| ApiError::Invalid {
        field: "new_password".into(),
        message: e.to_string(),
    })?;
    let row = find_user(&state, &user.username)
        .await?
        .ok_or_else(bad_login)?;
    if !state
        .auth
        .hashes
        .verify(&body.current_password, &row.hash)
        .await?
    {
        return Err(ApiError::Forbidden(
            "current_password is not your password".into(),
        ));
    }
    let password_hash = state.auth.hashes.hash(&new).await?;
    let committed = state
        .commands
        .user(
            &user.id.to_string(),
            UserCommand::ChangePassword {
                password_hash,
                at: Utc::now(),
            },
            &user.actor(),
        )
        .await?;
    state.wait_visible(&committed).await;
    state
        .auth
        .sessions
        .revoke_all(user.id, "password changed")
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
