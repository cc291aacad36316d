//! The HTTP API of pgAnalytics (axum), under `/api/v1`.
//!
//! - [`error`]: the one [`error::ApiError`] every handler returns, rendered as
//!   `{"error": {"code", "message"}}`.
//! - [`state`]: what handlers share: the command service, the read-model pool, NATS.
//! - [`auth`]: tokens, sessions, login limits, and the one guard every route passes.
//! - [`live`]: change notifications fanned out to server-sent event streams.
//! - [`json`]: the JSON body extractor whose rejections name the field.
//! - [`http`]: one router per resource, and the route table declaring each route's role.
//!
//! Commands go to `commands`; queries go through `projections::queries`, which own the SQL of
//! the read models — no handler loads an aggregate or reads the event store or a stream. The
//! api's own SQL is limited to its runtime tables (sessions, live tickets).

pub mod auth;
pub mod error;
pub mod http;
pub mod json;
pub mod live;
pub mod state;

pub use http::{router, Surface};
pub use state::AppState;
