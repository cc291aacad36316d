//! `GET /health` and `GET /version` (public).

use std::time::Duration;

use async_nats::connection::State;
use async_nats::jetstream::context::GetStreamErrorKind;
use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::Json;
use projections::status::{projection_status, ProjectionStatus};
use schemars::JsonSchema;
use serde::Serialize;

use crate::state::AppState;

#[derive(Serialize)]
pub(crate) struct Health {
    status: &'static str,
    postgres: Dependency,
    nats: Dependency,
    /// Events committed to the event store and not yet on the stream.
    relay_pending: Option<i64>,
    /// The event the relay cannot publish, while it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    relay_failing: Option<commands::relay::RelayFailure>,
    /// Why the status is not ok, when it is not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    problems: Vec<String>,
    projections: Vec<ProjectionStatus>,
    /// The last alert evaluation round (rules it could not evaluate) and the notification
    /// outbox (pending, oldest, failed, the last delivery error). Alerting problems are listed
    /// here, not as a reason for 503: the server still serves.
    #[serde(skip_serializing_if = "Option::is_none")]
    alerting: Option<serde_json::Value>,
}

#[derive(Serialize)]
pub(crate) struct Dependency {
    up: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Dependency {
    fn from<E: std::fmt::Display>(r: Result<(), E>) -> Self {
        match r {
            Ok(()) => Self {
                up: true,
                error: None,
            },
            Err(e) => Self {
                up: false,
                error: Some(e.to_string()),
            },
        }
    }
}

/// An event parked this long behind a missing predecessor means the predecessor is lost: a
/// re-publish closes such a gap within the relay's next pass, a few seconds at most.
const PARKED_TOO_LONG_S: i64 = 60;

/// 200 when PostgreSQL and NATS answer, the relay publishes and no projection waits on a
/// missing event; 503 otherwise, naming the problem; always with per-projection lag.
// Over 60 lines on purpose: each dependency's check under one 2 s budget, then the problems in words; the parts read in the order the answer lists them.
pub(crate) async fn health(AxumState(state): AxumState<AppState>) -> (StatusCode, Json<Health>) {
    let timeout = Duration::from_secs(2);
    let postgres = Dependency::from(
        match tokio::time::timeout(timeout, async {
            let client = state.read_pool.get().await.map_err(|e| e.to_string())?;
            client
                .simple_query("SELECT 1")
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await
        {
            Ok(r) => r,
            Err(_) => Err("timed out".to_owned()),
        },
    );
    let nats = Dependency::from(if state.nats.connection_state() == State::Connected {
        // Any answer from the JetStream API, "stream not found" included, means it is up.
        let stream = state.names.events_stream();
        match tokio::time::timeout(timeout, state.jetstream.get_stream(&stream)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => match e.kind() {
                GetStreamErrorKind::JetStream(_) => Ok(()),
                _ => Err(format!("jetstream: {e}")),
            },
            Err(_) => Err("jetstream timed out".to_owned()),
        }
    } else {
        Err(match state.nats_trouble.get() {
            Some(why) => format!("not connected: {why}"),
            None => "not connected".to_owned(),
        })
    });
    let projections = if postgres.up {
        tokio::time::timeout(
            timeout,
            projection_status(
                &state.read_pool,
                &state.jetstream,
                &state.names,
                &state.plan,
            ),
        )
        .await
    } else {
        Ok(Ok(Vec::new()))
    };
    // No list is no good news: say why there is none.
    let (projections, projections_problem) = match projections {
        Ok(Ok(list)) => (list, None),
        Ok(Err(e)) => (
            Vec::new(),
            Some(format!("projection status unavailable: {e}")),
        ),
        Err(_) => (
            Vec::new(),
            Some(format!("projection status did not come within {timeout:?}")),
        ),
    };
    let relay_pending = if postgres.up {
        commands::relay::pending_events(state.commands.pool())
            .await
            .ok()
    } else {
        None
    };
    let relay_failing = if postgres.up {
        commands::relay::relay_failure(state.commands.pool())
            .await
            .ok()
            .flatten()
    } else {
        None
    };
    let alerting = if postgres.up {
        match state.read().await {
            Ok(client) => {
                tokio::time::timeout(timeout, projections::queries::alerting::health(&client))
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
            Err(_) => None,
        }
    } else {
        None
    };
    let mut problems: Vec<String> = projections_problem.into_iter().collect();
    if let Some(f) = &relay_failing {
        problems.push(format!(
            "the relay cannot publish the event at position {} since {}: {}",
            f.position, f.since, f.reason
        ));
    }
    for p in &projections {
        if let Some(waited) = p.oldest_parked_s.filter(|s| *s >= PARKED_TOO_LONG_S) {
            problems.push(format!(
                "projection {} has {} event(s) waiting {waited} s for an earlier event of their aggregate",
                p.name, p.parked
            ));
        }
    }
    let ready = postgres.up && nats.up && problems.is_empty();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Health {
        status: if ready { "ok" } else { "unavailable" },
        postgres,
        nats,
        relay_pending,
        relay_failing,
        problems,
        projections,
        alerting,
    };
    (status, Json(body))
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct Version {
    name: &'static str,
    version: &'static str,
}

pub(crate) async fn version() -> Json<Version> {
    Json(Version {
        name: "pganalytics",
        version: env!("CARGO_PKG_VERSION"),
    })
}
