//! What every handler shares.

use std::sync::Arc;

use async_nats::jetstream;
use commands::service::{CommandService, Committed};
use deadpool_postgres::Pool;
use domain::bus::BusNames;

use crate::auth::AuthState;

/// Shared handler state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Runs commands through the aggregates.
    pub commands: Arc<CommandService>,
    /// The query API's pool on the read models, with a statement timeout. Apart from the
    /// projectors' pool, so a heavy query cannot starve projections.
    pub read_pool: Pool,
    /// A small pool for the auth guard, login and read-your-writes waits, so that a flood of
    /// heavy reads cannot lock users and collectors out.
    pub auth_pool: Pool,
    /// The NATS connection (health, ingest).
    pub nats: async_nats::Client,
    /// Why NATS last refused or dropped the connection, shown by `/health` while disconnected.
    pub nats_trouble: NatsTrouble,
    /// JetStream on that connection.
    pub jetstream: jetstream::Context,
    /// Subject and stream names.
    pub names: BusNames,
    /// Every projection and the streams it reads, for health.
    pub plan: projections::workers::Plan,
    /// Tokens, sessions, login limits.
    pub auth: Arc<AuthState>,
    /// The HTTP metrics bridge.
    pub bridge: ingest::Bridge,
    /// Pushes being read, decompressed and parsed at once; past it a push answers 503 with
    /// `Retry-After` (see `http::metrics`).
    pub pushes: Arc<tokio::sync::Semaphore>,
    /// Longest a request may take, body included; `GET /events` is exempt.
    pub request_timeout: std::time::Duration,
    /// Live changes for `GET /events`.
    pub changes: tokio::sync::broadcast::Sender<String>,
    /// Cancelled at shutdown: long-lived responses (event streams) end so the server can drain.
    pub shutdown: tokio_util::sync::CancellationToken,
}

/// What NATS last said against the server's connection (an authorization violation, a refused
/// credential, an unreachable address), forgotten once it connects. Shared by the connection's
/// event callback and `/health`, so that an operator sees *why* NATS is down.
#[derive(Clone, Default, Debug)]
pub struct NatsTrouble(Arc<std::sync::Mutex<Option<String>>>);

impl NatsTrouble {
    /// Records what NATS said; `None` once connected.
    pub fn set(&self, trouble: Option<String>) {
        if let Ok(mut t) = self.0.lock() {
            *t = trouble;
        }
    }

    /// The last trouble, if the connection has not recovered since.
    pub fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|t| t.clone())
    }
}

impl AppState {
    /// A read-model connection; an unreachable database is a 503.
    ///
    /// # Errors
    /// [`crate::error::ApiError::Unavailable`].
    pub async fn read(&self) -> Result<deadpool_postgres::Object, crate::error::ApiError> {
        Ok(self.read_pool.get().await?)
    }

    /// A connection for authentication (the guard, login, refresh); a 503 as [`Self::read`].
    ///
    /// # Errors
    /// [`crate::error::ApiError::Unavailable`].
    pub async fn auth_read(&self) -> Result<deadpool_postgres::Object, crate::error::ApiError> {
        Ok(self.auth_pool.get().await?)
    }

    /// Read-your-writes: waits (bounded by `PGA_COMMAND_WAIT_MS`) until every domain projection
    /// applied what a command committed. A command that succeeded stays a success if the wait
    /// runs out; the lag is logged and shows in `/health`.
    pub async fn wait_visible(&self, committed: &Committed) {
        let names = projections::projectors::event_projection_names();
        let applied = projections::freshness::wait_applied(
            &self.auth_pool,
            &names,
            committed.kind,
            &committed.aggregate_id,
            committed.sequence,
            self.auth.command_wait,
        )
        .await;
        if !applied {
            tracing::warn!(aggregate = committed.kind.type_name(), id = %committed.aggregate_id,
                "projections did not show the command's events within the wait");
        }
    }
}
