//! Routers, one per resource, merged under `/api/v1`.

mod health;

use axum::Router;

use crate::error::ApiError;
use crate::state::AppState;

/// The whole API.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new().merge(health::router());
    Router::new()
        .nest("/api/v1", v1)
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
