//! The one guard: every route declares an [`Access`] in the route table and passes through
//! [`authorize`] with it. Missing or malformed token → 401, expired → 401 `token_expired`,
//! role too low → 403. The user's role and active flag are read fresh on every request.
//!
//! Tokens travel in the `Authorization` header only. The live event stream (`GET /events`),
//! which a browser's `EventSource` opens without headers, also takes a one-use
//! [`ticket`](super::tickets) in its URL; an access token in a URL is refused.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use domain::user::Role;
use domain::values::Actor;
use uuid::Uuid;

use super::tickets::{self, TicketError};
use super::tokens::TokenError;
use crate::error::ApiError;
use crate::state::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, no token.
    Public,
    /// A logged-in user with at least this role.
    Role(Role),
    /// A registered collector, with its own token.
    Collector,
}

/// The authenticated collector, put in the request by [`authorize`].
#[derive(Debug, Clone)]
pub struct CurrentCollector {
    /// Collector id.
    pub id: Uuid,
    /// The token it presented (forwarded with its batches for the projectors to verify).
    pub token: String,
}

/// What the credential of a user request allows beyond this request, put in the request by
/// [`authorize`] next to [`CurrentUser`]: a long-lived response (the event stream) re-checks it.
#[derive(Debug, Clone, Copy)]
pub struct Grant {
    /// The role the route requires.
    pub required: Role,
    /// When the access token presented (or the one the ticket was asked with) expires.
    pub access_expires_at: chrono::DateTime<chrono::Utc>,
}

/// The authenticated user, put in the request by [`authorize`].
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// User id.
    pub id: Uuid,
    /// Username.
    pub username: String,
    /// Role, as of this request.
    pub role: Role,
}

impl CurrentUser {
    /// The actor recorded in events this user causes.
    pub fn actor(&self) -> Actor {
        Actor::user(&self.id.to_string(), &self.username)
    }
}

fn unauthorized(code: &'static str, message: &str) -> ApiError {
    ApiError::Unauthorized {
        code,
        message: message.to_owned(),
    }
}

/// Middleware: enforces `access` for one route.
///
/// # Errors
/// 401 / 403 [`ApiError`]s as described above; 503 when the users read model is unreachable.
// Over 60 lines on purpose: the one guard: each kind of access is checked here and nowhere else.
pub async fn authorize(
    State((state, access)): State<(AppState, Access)>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let required = match access {
        Access::Public => return Ok(next.run(request).await),
        Access::Collector => return authorize_collector(&state, request, next).await,
        Access::Role(role) => role,
    };
    // The token is checked before a connection is taken, so a bad one costs no database work.
    let credential = match user_credential(&request)? {
        Credential::Bearer(token) => {
            let claims = state.auth.tokens.verify(&token).map_err(|e| match e {
                TokenError::Expired => unauthorized("token_expired", &e.to_string()),
                TokenError::Invalid => unauthorized("invalid_token", &e.to_string()),
            })?;
            let id = Uuid::parse_str(&claims.sub)
                .map_err(|_| unauthorized("invalid_token", "the access token is invalid"))?;
            let expires = chrono::DateTime::from_timestamp(claims.exp, 0)
                .ok_or_else(|| unauthorized("invalid_token", "the access token is invalid"))?;
            Ok((id, expires))
        }
        Credential::Ticket(ticket) => Err(ticket),
    };
    // The connection is for these lookups only and goes back to the pool before the handler
    // runs: a handler that waits (a command's read-your-writes wait, a slow read) must not keep
    // one of the few authentication connections, or a burst of such requests takes them all and
    // every other request (and the waits themselves) queue behind them.
    let client = state.auth_read().await?;
    let (id, access_expires_at) = match credential {
        Ok(known) => known,
        Err(ticket) => match tickets::redeem(&client, &ticket).await {
            Ok(r) => (r.user, r.access_expires_at),
            Err(e @ TicketError::Unknown) => {
                return Err(unauthorized("invalid_ticket", &e.to_string()))
            }
            Err(e @ TicketError::Expired) => {
                return Err(unauthorized("ticket_expired", &e.to_string()))
            }
            Err(TicketError::Store(e)) => return Err(e.into()),
        },
    };
    let Some(row) = projections::queries::users::get(&client, id).await? else {
        return Err(unauthorized("invalid_token", "this user no longer exists"));
    };
    if !row.active {
        return Err(unauthorized(
            "user_inactive",
            "this user has been deactivated",
        ));
    }
    drop(client);
    let role = Role::parse(&row.role)
        .ok_or_else(|| ApiError::Internal("unknown role in rm_users".into()))?;
    if !role.allows(required) {
        return Err(ApiError::Forbidden(format!(
            "this needs the {} role; you are {}",
            required.as_str(),
            role.as_str()
        )));
    }
    request.extensions_mut().insert(CurrentUser {
        id,
        username: row.username,
        role,
    });
    request.extensions_mut().insert(Grant {
        required,
        access_expires_at,
    });
    Ok(next.run(request).await)
}

/// How a user request says who it is.
enum Credential {
    /// An access token in the `Authorization` header.
    Bearer(String),
    /// A one-use ticket in the event stream's URL.
    Ticket(String),
}

fn query_param<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.uri().query().and_then(|q| {
        q.split('&').find_map(|kv| {
            kv.split_once('=')
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v)
        })
    })
}

/// The bearer token or, for the event stream only, a ticket. An access token in a URL ends up
/// in proxy logs and browser history, so it is refused with a message saying what to do.
fn user_credential(request: &Request) -> Result<Credential, ApiError> {
    if request
        .headers()
        .contains_key(axum::http::header::AUTHORIZATION)
    {
        return bearer(request).map(Credential::Bearer);
    }
    if request.uri().path().ends_with("/events") {
        if query_param(request, "access_token").is_some() {
            return Err(unauthorized(
                "token_in_url",
                "an access token in the URL is refused: POST /api/v1/events/ticket with the \
                 Authorization header, then open /api/v1/events?ticket=<ticket>",
            ));
        }
        if let Some(ticket) = query_param(request, "ticket").filter(|t| !t.is_empty()) {
            return Ok(Credential::Ticket(ticket.to_owned()));
        }
    }
    bearer(request).map(Credential::Bearer)
}

/// The bearer token of the `Authorization` header.
fn bearer(request: &Request) -> Result<String, ApiError> {
    let Some(header) = request.headers().get(axum::http::header::AUTHORIZATION) else {
        return Err(unauthorized(
            "missing_token",
            "log in: this route needs a bearer token",
        ));
    };
    header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            unauthorized(
                "invalid_token",
                "the Authorization header must be 'Bearer <token>'",
            )
        })
}

/// A collector authenticates with its token (`Authorization: Bearer <token>`), or — for
/// senders that cannot refresh a token, such as Prometheus's remote-write — with HTTP Basic
/// auth: its id as the user name and its refresh secret as the password. The refresh secret
/// already buys a token at `POST /collectors/{id}/token`, so Basic grants nothing more; the
/// batch then travels with a token issued for it, as every batch does.
async fn authorize_collector(
    state: &AppState,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let current = match basic(&request)? {
        Some((id, secret)) => collector_by_secret(state, &id, &secret).await?,
        None => collector_by_token(state, bearer(&request)?).await?,
    };
    request.extensions_mut().insert(current);
    Ok(next.run(request).await)
}

async fn collector_by_token(state: &AppState, token: String) -> Result<CurrentCollector, ApiError> {
    let claims = state
        .auth
        .tokens
        .verify_collector(&token, chrono::Utc::now())
        .map_err(|e| match e {
            TokenError::Expired => unauthorized(
                "token_expired",
                "the collector token has expired; refresh it",
            ),
            TokenError::Invalid => unauthorized("invalid_token", "the collector token is invalid"),
        })?;
    let id = Uuid::parse_str(&claims.sub)
        .map_err(|_| unauthorized("invalid_token", "the collector token is invalid"))?;
    let client = state.auth_read().await?;
    if !projections::queries::collectors::exists(&client, id).await? {
        return Err(unauthorized(
            "collector_deleted",
            "this collector has been deleted; register it again",
        ));
    }
    Ok(CurrentCollector { id, token })
}

async fn collector_by_secret(
    state: &AppState,
    id: &str,
    secret: &str,
) -> Result<CurrentCollector, ApiError> {
    let refused = || {
        unauthorized(
            "invalid_credentials",
            "Basic auth takes the collector's id and its refresh secret: unknown collector or wrong secret",
        )
    };
    let id = Uuid::parse_str(id).map_err(|_| refused())?;
    let client = state.auth_read().await?;
    let stored = projections::queries::collectors::refresh_secret_hash(&client, id).await?;
    let digest = commands::collectors::digest(secret);
    if !stored.is_some_and(|h| !h.is_empty() && h == digest) {
        return Err(refused());
    }
    let (token, _) = state
        .auth
        .tokens
        .issue_collector(id)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(CurrentCollector { id, token })
}

/// The `(user, password)` of a `Basic` `Authorization` header; `None` for any other scheme.
fn basic(request: &Request) -> Result<Option<(String, String)>, ApiError> {
    use base64::Engine as _;
    let Some(encoded) = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            // The scheme is case-insensitive (RFC 9110).
            h.get(..6)
                .filter(|scheme| scheme.eq_ignore_ascii_case("basic "))
                .map(|_| &h[6..])
        })
    else {
        return Ok(None);
    };
    let malformed = || {
        unauthorized(
            "invalid_credentials",
            "the Authorization header must be 'Basic base64(<collector id>:<refresh secret>)'",
        )
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (user, password) = decoded.split_once(':').ok_or_else(malformed)?;
    Ok(Some((user.to_owned(), password.to_owned())))
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentCollector {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentCollector>()
            .cloned()
            .ok_or_else(|| {
                ApiError::Internal("CurrentCollector on a route without collector access".into())
            })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentUser>()
            .cloned()
            .ok_or_else(|| ApiError::Internal("CurrentUser on a route without a role".into()))
    }
}
