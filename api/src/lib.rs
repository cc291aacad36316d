//! The HTTP API of pgAnalytics (axum), under `/api/v1`.
//!
//! - [`error`]: the one [`error::ApiError`] every handler returns, rendered as
//!   `{"error": {"code", "message"}}`.
//! - [`state`]: what handlers share: the command service, the read-model pool, NATS.
//! - [`http`]: one router per resource.
//!
//! Commands go to `commands`; queries read the projections' tables and nothing else — no
//! handler loads an aggregate or reads the event store or a stream.

pub mod error;
pub mod http;
pub mod state;

pub use http::router;
pub use state::AppState;
