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

/// Accepts a batch (native or v3 format, optionally gzip) → 202 once JetStream has it.
pub(crate) async fn push(
    State(state): State<AppState>,
    collector: CurrentCollector,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
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
    let plain = if gzip {
        ingest::gunzip(&raw).map_err(ingest_error)?
    } else {
        raw.to_vec()
    };
    let accepted = state
        .bridge
        .accept(&collector.id.to_string(), &collector.token, &plain)
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
