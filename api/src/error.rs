//! One error type for every handler, one JSON shape for every error.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

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
            // Infrastructure detail stays in the log (written once, by the trace layer).
            Self::Unavailable(_) => "a dependency is unavailable; try again shortly".to_owned(),
            Self::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        }
    }
}

impl From<commands::passwords::HashError> for ApiError {
    fn from(e: commands::passwords::HashError) -> Self {
        match e {
            // A full pool is load, not a fault: the client retries in a second.
            commands::passwords::HashError::Busy(_) => Self::Busy {
                what: "password hashing is at capacity",
                retry_after_s: 1,
            },
            commands::passwords::HashError::Failed(_) => Self::Internal(e.to_string()),
        }
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            // PostgreSQL's own words, with its code, for the log (the client sees a 503).
            Some(db) => {
                Self::Unavailable(format!("PostgreSQL {}: {}", db.code().code(), db.message()))
            }
            None => Self::Unavailable(format!("PostgreSQL: {e}")),
        }
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Unavailable(format!("PostgreSQL pool: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
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
        response
    }
}
