//! `ApiJson<T>`: a JSON body extractor whose every rejection is an [`ApiError`] naming the field.

use axum::extract::{FromRequest, Request};
use axum::http::header;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON request body. Syntax errors → 400; a missing, unknown or mistyped field → 422 with
/// the field named.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return Err(ApiError::BadRequest(
                "expected a JSON body with Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(e.body_text())
            } else {
                ApiError::BadRequest(e.body_text())
            }
        })?;
        parse(&bytes).map(ApiJson)
    }
}

/// Parses a body the way [`ApiJson`] does.
///
/// # Errors
/// See [`ApiJson`].
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                let field = unknown_field(&message)
                    .or_else(|| missing_field(&message))
                    .unwrap_or(path);
                ApiError::Invalid {
                    field,
                    message: strip_position(&message),
                }
            }
            // serde_json reports a wrong type for an enum (`"role": 1`) as a syntax error; the
            // body is valid JSON all the same, so it is the field at `path` that is wrong.
            serde_json::error::Category::Syntax
                if !path.is_empty()
                    && path != "."
                    && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() =>
            {
                ApiError::Invalid {
                    field: path,
                    message: "has the wrong type or an unknown value".into(),
                }
            }
            _ => ApiError::BadRequest(format!("the body is not valid JSON: {inner}")),
        }
    })
}

fn between_backticks(message: &str, after: &str) -> Option<String> {
    let rest = message.split_once(after)?.1;
    let rest = rest.strip_prefix('`')?;
    Some(rest.split('`').next()?.to_owned())
}

fn unknown_field(message: &str) -> Option<String> {
    between_backticks(message, "unknown field ")
}

fn missing_field(message: &str) -> Option<String> {
    between_backticks(message, "missing field ")
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        port: u16,
        #[serde(default)]
        mode: Option<Mode>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        Fast,
    }

    fn field(r: Result<Body, ApiError>) -> String {
        match r {
            Err(ApiError::Invalid { field, .. }) => field,
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn each_data_error_names_its_field() {
        assert_eq!(field(parse(br#"{"name":"a","port":70000}"#)), "port");
        assert_eq!(field(parse(br#"{"name":"a"}"#)), "port");
        assert_eq!(field(parse(br#"{"name":"a","port":1,"extra":1}"#)), "extra");
        assert_eq!(field(parse(br#"{"name":5,"port":1}"#)), "name");
        assert_eq!(field(parse(br#"{"name":"a","port":1,"mode":1}"#)), "mode");
        assert!(matches!(
            parse::<Body>(b"{nope"),
            Err(ApiError::BadRequest(_))
        ));
    }
}
