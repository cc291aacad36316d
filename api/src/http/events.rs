//! The live event stream.
//!
//! - `POST /events/ticket` (viewer): a one-use ticket, valid 30 s, for opening the stream; a
//!   browser's `EventSource` cannot send the `Authorization` header, and an access token in a
//!   URL is refused (it would sit in proxy logs and history).
//! - `GET /events` (viewer; `?ticket=…` or the `Authorization` header): server-sent events, one
//!   `change` event per projection change (`{"kind": "collector" | "managed_instance" | …,
//!   "id": …}`), so a dashboard updates "last heartbeat" and status badges without reloading.
//!
//! An open stream is re-checked every [`RECHECK`] and on every change to its user: it ends, with
//! an `end` event saying why, once the access token it was opened with would have expired, or
//! the user was deactivated, deleted, demoted below the route's role, or lost every session
//! (logout everywhere, password change). The dashboard then asks for a new ticket, which a
//! refreshed session gets and an ended one does not.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::{Extension, Json};
use futures::{Stream, StreamExt};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;

use crate::auth::access::{CurrentUser, Grant};
use crate::auth::tickets;
use crate::error::ApiError;
use crate::state::AppState;

/// How often an open stream re-checks its user and session even when no user changed.
const RECHECK: Duration = Duration::from_secs(15);

/// A one-use ticket for opening `GET /events?ticket=…`.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "LiveTicket")]
pub(crate) struct Ticket {
    ticket: String,
    /// Seconds it stays valid.
    expires_in: u64,
}

/// `POST /events/ticket` → `{ticket, expires_in}`.
pub(crate) async fn ticket(
    State(state): State<AppState>,
    user: CurrentUser,
    Extension(grant): Extension<Grant>,
) -> Result<Json<Ticket>, ApiError> {
    let client = state.auth_read().await?;
    let (ticket, ttl) = tickets::issue(&client, user.id, grant.access_expires_at).await?;
    Ok(Json(Ticket {
        ticket,
        expires_in: ttl.as_secs(),
    }))
}

/// Whether the stream may stay open; the error is the `end` event's `reason`.
async fn still_allowed(
    state: &AppState,
    user: &CurrentUser,
    grant: &Grant,
) -> Result<(), &'static str> {
    if chrono::Utc::now() >= grant.access_expires_at {
        return Err("session_expired");
    }
    let Ok(client) = state.auth_read().await else {
        // Fail closed: the dashboard reconnects with a new ticket once the database is back.
        return Err("unavailable");
    };
    let Some(row) = projections::queries::users::get(&client, user.id)
        .await
        .map_err(|_| "unavailable")?
    else {
        return Err("user_deleted");
    };
    if !row.active {
        return Err("user_inactive");
    }
    let role = domain::user::Role::parse(&row.role).ok_or("role_changed")?;
    if !role.allows(grant.required) {
        return Err("role_changed");
    }
    // `auth_sessions` is the api's own table (written by `auth::sessions`), not a read model.
    let session_open: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM auth_sessions WHERE user_id = $1
                              AND revoked_at IS NULL AND expires_at > now()) AS open",
            &[&user.id],
        )
        .await
        .map_err(|_| "unavailable")?
        .get("open");
    if !session_open {
        return Err("session_revoked");
    }
    Ok(())
}

/// Whether `change` is about this user (a login, a role change, a deactivation, a deletion).
fn is_about(change: &str, user: uuid::Uuid) -> bool {
    serde_json::from_str::<Value>(change)
        .is_ok_and(|c| c["kind"] == "user" && c["id"] == user.to_string().as_str())
}

struct Open {
    rx: Receiver<String>,
    state: AppState,
    user: CurrentUser,
    grant: Grant,
    recheck: tokio::time::Interval,
    ended: bool,
}

impl Open {
    /// The next event, or `None` once the stream ended.
    async fn next(&mut self) -> Option<Event> {
        if self.ended {
            return None;
        }
        loop {
            let expiry = (self.grant.access_expires_at - chrono::Utc::now())
                .to_std()
                .unwrap_or_default();
            // What to send once the session checks out; `None`: nothing, wait again.
            let pending = tokio::select! {
                received = self.rx.recv() => match received {
                    Ok(change) if is_about(&change, self.user.id) => {
                        Some(Event::default().event("change").data(change))
                    }
                    Ok(change) => return Some(Event::default().event("change").data(change)),
                    // Fell behind: the page reloads its lists once; a user change may be among
                    // the skipped ones, so check too.
                    Err(RecvError::Lagged(_)) => Some(Event::default().event("resync").data("{}")),
                    Err(RecvError::Closed) => return None,
                },
                _ = self.recheck.tick() => None,
                () = tokio::time::sleep(expiry) => None,
            };
            if let Err(reason) = still_allowed(&self.state, &self.user, &self.grant).await {
                self.ended = true;
                let data = json!({"reason": reason}).to_string();
                return Some(Event::default().event("end").data(data));
            }
            if let Some(event) = pending {
                return Some(event);
            }
        }
    }
}

/// `GET /events`.
pub(crate) async fn stream(
    State(state): State<AppState>,
    user: CurrentUser,
    Extension(grant): Extension<Grant>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.changes.subscribe();
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    recheck.reset();
    let stop = state.shutdown.clone().cancelled_owned();
    let open = Open {
        rx,
        state,
        user,
        grant,
        recheck,
        ended: false,
    };
    let ready = futures::stream::once(async { Ok(Event::default().event("ready").data("{}")) });
    // Dropped with the response when the browser goes away.
    let changes = futures::stream::unfold(open, |mut open| async move {
        let event = open.next().await?;
        Some((Ok(event), open))
    });
    // Ends at shutdown, or graceful shutdown would wait for every open dashboard forever.
    Sse::new(ready.chain(changes).take_until(stop))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
