//! `POST /metrics/push` (collector): the HTTP bridge into the metric streams, and
//! `POST /write`: the same for Prometheus remote-write senders.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
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
    let (raw, permit) = read_push(&state, body).await?;
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

/// At most `PGA_MAX_CONCURRENT_PUSHES` pushes are read and parsed at once; one more is turned
/// away with 503 and `Retry-After` at once. Returns the body and the permit held until its
/// parse is over.
async fn read_push(
    state: &AppState,
    body: Body,
) -> Result<(bytes::Bytes, tokio::sync::OwnedSemaphorePermit), ApiError> {
    let permit = state
        .pushes
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Busy {
            what: "too many pushes at once",
            retry_after_s: BUSY_RETRY_AFTER_S,
        })?;
    let raw = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::PayloadTooLarge(format!(
            "the body is over the {} MiB limit",
            MAX_BODY / 1024 / 1024
        ))
    })?;
    Ok((raw, permit))
}

/// Prometheus remote-write 1.0 (`Content-Encoding: snappy`, a protobuf `WriteRequest`): the
/// request becomes one batch of the authenticated collector (see `ingest::remote_write`),
/// counted once however often the sender retries it.
///
/// Answers 204 when every sample was stored. When some were refused, the rest is stored and
/// the answer is 400 with the reasons: a sender does not retry a 4xx and logs its body, which
/// is where an operator looks. 5xx (the bus is down, too many pushes at once) is retried.
pub(crate) async fn remote_write(
    State(state): State<AppState>,
    collector: CurrentCollector,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let header_text = |name| {
        headers
            .get(name)
            .map(|v: &axum::http::HeaderValue| v.to_str().unwrap_or_default().to_ascii_lowercase())
    };
    if header_text(header::CONTENT_ENCODING).is_some_and(|e| e != "snappy") {
        return Err(ApiError::UnsupportedMediaType(
            "remote-write bodies are snappy-compressed: Content-Encoding must be snappy".into(),
        ));
    }
    // Remote-write 2.0 (`proto=io.prometheus.write.v2.Request`) is another message: 415 makes
    // a 2.0 sender fall back to 1.0, where decoding it as 1.0 would store nothing and say 204.
    if header_text(header::CONTENT_TYPE).is_some_and(|t| {
        let mut parts = t.split(';').map(str::trim);
        parts.next() != Some("application/x-protobuf")
            || parts.any(|p| p.starts_with("proto=") && p != "proto=prometheus.writerequest")
    }) {
        return Err(ApiError::UnsupportedMediaType(
            "this server takes Prometheus remote-write 1.0: Content-Type application/x-protobuf (proto=prometheus.WriteRequest)".into(),
        ));
    }
    let (raw, permit) = read_push(&state, body).await?;
    let id = collector.id.to_string();
    let bridge = state.bridge.clone();
    let collector_id = id.clone();
    let (prepared, _permit) = tokio::task::spawn_blocking(move || {
        (bridge.prepare_remote_write(&collector_id, &raw), permit)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("parsing a remote write failed: {e}")))?;
    let prepared = prepared.map_err(ingest_error)?;
    let accepted = if prepared.is_empty() {
        prepared.accepted().clone()
    } else {
        state
            .bridge
            .publish_prepared(&id, &collector.token, prepared)
            .await
            .map_err(ingest_error)?
    };
    if accepted.metrics_rejected == 0 {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok((StatusCode::BAD_REQUEST, Json(accepted)).into_response())
}

fn ingest_error(e: IngestError) -> ApiError {
    match e {
        IngestError::TooLarge(m) => ApiError::PayloadTooLarge(m),
        IngestError::BadGzip(_)
        | IngestError::BadEncoding(_)
        | IngestError::Payload(PayloadError::Malformed(_)) => ApiError::BadRequest(e.to_string()),
        IngestError::Payload(PayloadError::Field { field, message }) => {
            ApiError::Invalid { field, message }
        }
        IngestError::WrongCollector { .. } => ApiError::Forbidden(e.to_string()),
        IngestError::Unavailable(m) => ApiError::Unavailable(m),
    }
}
