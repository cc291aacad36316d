//! One error type for every handler, one JSON shape for every error.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

mod conversions;

/// What a 5xx response carries for the log, in its extensions: the error's detail, which the
/// body does not show. `http`'s logging layer writes it once, with the method and path.
#[derive(Debug, Clone)]
pub struct ErrorDetail(pub String);

/// An error a handler returns. Its status and code are decided in one place.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be read.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid credentials.
    #[error("{message}")]
    Unauthorized {
        /// Machine-readable code, e.g. `token_expired`.
        code: &'static str,
        /// What a person should read.
        message: String,
    },
    /// 403: authenticated, not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 405.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: conflicts with current state.
    #[error("{0}")]
    Conflict(String),
    /// 413.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: a body in a format this route does not take.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: a field is invalid.
    #[error("{field}: {message}")]
    Invalid {
        /// The request field.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// 429 with `Retry-After`.
    #[error("too many attempts; retry in {retry_after_s} s")]
    TooManyRequests {
        /// Seconds to wait.
        retry_after_s: u64,
    },
    /// 408: the request (body included) took longer than the server allows.
    #[error("the request took longer than {seconds} s; send it faster or smaller")]
    RequestTimeout {
        /// The limit.
        seconds: u64,
    },
    /// 503 with `Retry-After`: this server is at its limit for this kind of request.
    #[error("{what}; retry in {retry_after_s} s")]
    Busy {
        /// What is at its limit.
        what: &'static str,
        /// Seconds to wait.
        retry_after_s: u64,
    },
    /// 503 with `Retry-After`: a dependency is down. The detail is logged, not shown.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// 500: a bug. The detail is logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status.
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::Busy { .. } | Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized { code, .. } => code,
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Invalid { .. } => "invalid_field",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::RequestTimeout { .. } => "request_timeout",
            Self::Busy { .. } => "busy",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    fn public_message(&self) -> String {
        match self {
            // Infrastructure detail stays in the log (written once, by `http`'s logging layer).
            Self::Unavailable(_) => "a dependency is unavailable; try again shortly".to_owned(),
            Self::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let mut body = json!({"error": {"code": self.code(), "message": self.public_message()}});
        if let Self::Invalid { field, .. } = &self {
            body["error"]["field"] = json!(field);
        }
        let mut response = (status, axum::Json(body)).into_response();
        let retry_after = match &self {
            Self::TooManyRequests { retry_after_s } | Self::Busy { retry_after_s, .. } => {
                Some(*retry_after_s)
            }
            Self::Unavailable(_) => Some(2),
            _ => None,
        };
        if let Some(secs) = retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if status.is_server_error() {
            response
                .extensions_mut()
                .insert(ErrorDetail(self.to_string()));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_error_leaves_its_detail_for_the_log_and_not_the_body() {
        let response =
            ApiError::Unavailable("PostgreSQL 57P01: terminating".into()).into_response();
        let detail = response
            .extensions()
            .get::<ErrorDetail>()
            .map(|d| d.0.clone());
        assert_eq!(
            detail.as_deref(),
            Some("service unavailable: PostgreSQL 57P01: terminating")
        );
    }

    #[test]
    fn a_client_error_leaves_nothing_to_log() {
        let response = ApiError::NotFound("user not found".into()).into_response();
        assert!(response.extensions().get::<ErrorDetail>().is_none());
    }
}
