//! `POST /metrics/push` (collector): the HTTP bridge into `PGA_METRICS`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use domain::metrics::PayloadError;
use ingest::{Accepted, IngestError, MAX_BODY};

use crate::auth::access::CurrentCollector;
use crate::error::ApiError;
use crate::state::AppState;

/// How long a collector turned away by the push limit is asked to wait.
const BUSY_RETRY_AFTER_S: u64 = 1;

/// Accepts a batch (native or v3 format, optionally gzip) → 202 once JetStream has it.
///
/// At most `PGA_MAX_CONCURRENT_PUSHES` pushes are read, decompressed and parsed at once; one
/// more is answered 503 with `Retry-After` at once rather than queued: a queued push would
/// hold its connection and its body in memory while it waits, and collectors already retry
/// (and spool) on 503.
pub(crate) async fn push(
    State(state): State<AppState>,
    collector: CurrentCollector,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let permit = state
        .pushes
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Busy {
            what: "too many pushes at once",
            retry_after_s: BUSY_RETRY_AFTER_S,
        })?;
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "the body is over the {} MiB limit",
            MAX_BODY / 1024 / 1024
        ))
    };
    let raw = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| too_large())?;
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let id = collector.id.to_string();
    // Decompression and parsing of up to 16 MiB are CPU work: off the async workers.
    let bridge = state.bridge.clone();
    let collector_id = id.clone();
    // The permit travels with the work: a push cut off by the request timeout still counts
    // until its parse, which cannot be cancelled, is over.
    let (prepared, _permit) = tokio::task::spawn_blocking(move || {
        let prepared = if gzip {
            ingest::gunzip(&raw)
        } else {
            Ok(raw.to_vec())
        }
        .and_then(|plain| bridge.prepare(&collector_id, &plain));
        (prepared, permit)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("parsing a push failed: {e}")))?;
    let prepared = prepared.map_err(ingest_error)?;
    let accepted = state
        .bridge
        .publish_prepared(&id, &collector.token, prepared)
        .await
        .map_err(ingest_error)?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

fn ingest_error(e: IngestError) -> ApiError {
    match e {
        IngestError::TooLarge(m) => ApiError::PayloadTooLarge(m),
        IngestError::BadGzip(_) | IngestError::Payload(PayloadError::Malformed(_)) => {
            ApiError::BadRequest(e.to_string())
        }
        IngestError::Payload(PayloadError::Field { field, message }) => {
            ApiError::Invalid { field, message }
        }
        IngestError::WrongCollector { .. } => ApiError::Forbidden(e.to_string()),
        IngestError::Unavailable(m) => ApiError::Unavailable(m),
    }
}
