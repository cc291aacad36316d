//! The route table and the routers, one module per resource.
//!
//! Every route is declared once, in [`table`], with the [`Access`] it requires; the router is
//! built from that table, so a route cannot exist without a declared role, and
//! [`route_table`] gives tests the same list to walk.

mod alerts;
mod audit;
mod auth;
mod bindings;
mod collectors;
mod events;
mod fleet;
mod health;
mod history;
mod instances;
mod latest;
mod metrics;
mod openapi;
mod secrets;
mod series;
mod statements;
mod users;

pub use collectors::ACTIVITY_FIELDS as COLLECTOR_ACTIVITY_FIELDS;
pub use instances::OBSERVED_FIELDS as INSTANCE_OBSERVED_FIELDS;

#[cfg(test)]
mod bodies_never_panic;

use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post, put, MethodRouter};
use axum::Router;
use domain::user::Role::{Admin, Editor, Viewer};

use crate::auth::access::{authorize, Access};
use crate::error::ApiError;
use crate::state::AppState;

/// One route: method, path under `/api/v1`, and who may call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// HTTP method.
    pub method: Method,
    /// Path below `/api/v1`, with `{param}` placeholders.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

type Entry = (Method, &'static str, Access, MethodRouter<AppState>);

/// Every route of the API and its access rule: the one place roles are declared. One line a
/// route, so the table reads as the API's contract.
#[rustfmt::skip]
fn table() -> Vec<Entry> {
    use Access::{Collector, Public, Role};
    const GET: Method = Method::GET;
    const POST: Method = Method::POST;
    const PUT: Method = Method::PUT;
    const DELETE: Method = Method::DELETE;
    vec![
        (GET, "/health", Public, get(health::health)),
        (GET, "/version", Public, get(health::version)),
        (POST, "/auth/login", Public, post(auth::login)),
        (POST, "/auth/refresh", Public, post(auth::refresh)),
        (POST, "/auth/logout", Role(Viewer), post(auth::logout)),
        (POST, "/auth/change-password", Role(Viewer), post(auth::change_password)),
        (GET, "/users", Role(Admin), get(users::list)),
        (POST, "/users", Role(Admin), post(users::create)),
        (PUT, "/users/{id}", Role(Admin), put(users::update)),
        (DELETE, "/users/{id}", Role(Admin), delete(users::remove)),
        (POST, "/users/{id}/reset-password", Role(Admin), post(users::reset_password)),
        (GET, "/managed-instances", Role(Viewer), get(instances::list)),
        (POST, "/managed-instances", Role(Editor), post(instances::create)),
        (GET, "/managed-instances/{id}", Role(Viewer), get(instances::read)),
        (PUT, "/managed-instances/{id}", Role(Editor), put(instances::update)),
        (DELETE, "/managed-instances/{id}", Role(Editor), delete(instances::remove)),
        (POST, "/managed-instances/{id}/test-connection", Role(Editor), post(instances::test_connection)),
        (POST, "/managed-instances/test-connection-direct", Role(Admin), post(instances::test_connection_direct)),
        (GET, "/registration-secrets", Role(Admin), get(secrets::list)),
        (POST, "/registration-secrets", Role(Admin), post(secrets::create)),
        (GET, "/registration-secrets/{id}", Role(Admin), get(secrets::read)),
        (PUT, "/registration-secrets/{id}", Role(Admin), put(secrets::update)),
        (DELETE, "/registration-secrets/{id}", Role(Admin), delete(secrets::remove)),
        (POST, "/collectors/register", Public, post(collectors::register)),
        (POST, "/collectors/{id}/token", Public, post(collectors::token)),
        (GET, "/collectors", Role(Viewer), get(collectors::list)),
        (GET, "/collectors/{id}", Role(Viewer), get(collectors::read)),
        (DELETE, "/collectors/{id}", Role(Admin), delete(collectors::remove)),
        (PUT, "/collectors/{id}/instances", Role(Admin), put(bindings::bind)),
        (POST, "/metrics/push", Collector, post(metrics::push).layer(DefaultBodyLimit::disable())),
        // Prometheus remote-write, at the path Prometheus-compatible receivers use.
        (POST, "/write", Collector, post(metrics::remote_write).layer(DefaultBodyLimit::disable())),
        (POST, "/events/ticket", Role(Viewer), post(events::ticket)),
        // Also takes `?ticket=` from the route above (see `auth::access`).
        (GET, "/events", Role(Viewer), get(events::stream)),
        (GET, "/audit", Role(Admin), get(audit::list)),
        (GET, "/audit/export", Role(Admin), get(audit::export)),
        (GET, "/fleet", Role(Viewer), get(fleet::overview)),
        (GET, "/managed-instances/{id}/history", Role(Viewer), get(history::instance_history)),
        (GET, "/managed-instances/{id}/diff", Role(Viewer), get(history::instance_diff)),
        (GET, "/collectors/{id}/history", Role(Viewer), get(history::collector_history)),
        (GET, "/collectors/{id}/diff", Role(Viewer), get(history::collector_diff)),
        (GET, "/users/{id}/history", Role(Admin), get(history::user_history)),
        (GET, "/users/{id}/diff", Role(Admin), get(history::user_diff)),
        (GET, "/registration-secrets/{id}/history", Role(Admin), get(history::secret_history)),
        (GET, "/registration-secrets/{id}/diff", Role(Admin), get(history::secret_diff)),
        (GET, "/alert-rules/{id}/history", Role(Viewer), get(history::rule_history)),
        (GET, "/alert-rules/{id}/diff", Role(Viewer), get(history::rule_diff)),
        (GET, "/metrics/series", Role(Viewer), get(series::series)),
        (GET, "/metrics/latest", Role(Viewer), get(latest::latest)),
        (GET, "/collectors/{id}/queries/slow", Role(Viewer), get(statements::slow)),
        (GET, "/collectors/{id}/queries/frequent", Role(Viewer), get(statements::frequent)),
        (GET, "/collectors/{id}/queries/top", Role(Viewer), get(statements::ranked)),
        (GET, "/managed-instances/{id}/queries/top", Role(Viewer), get(statements::instance_ranked)),
        (GET, "/alert-rules", Role(Viewer), get(alerts::rules)),
        (POST, "/alert-rules", Role(Editor), post(alerts::create_rule)),
        (GET, "/alert-rules/{id}", Role(Viewer), get(alerts::rule)),
        (PUT, "/alert-rules/{id}", Role(Editor), put(alerts::update_rule)),
        (DELETE, "/alert-rules/{id}", Role(Editor), delete(alerts::delete_rule)),
        (POST, "/alert-rules/{id}/enable", Role(Editor), post(alerts::enable_rule)),
        (POST, "/alert-rules/{id}/disable", Role(Editor), post(alerts::disable_rule)),
        (GET, "/alerts", Role(Viewer), get(alerts::alerts)),
        (GET, "/alerts/{id}", Role(Viewer), get(alerts::alert)),
        (POST, "/alerts/{id}/acknowledge", Role(Editor), post(alerts::acknowledge)),
        (GET, "/silences", Role(Viewer), get(alerts::silences)),
        (POST, "/silences", Role(Editor), post(alerts::create_silence)),
        (DELETE, "/silences/{id}", Role(Editor), delete(alerts::expire_silence)),
        (GET, "/notification-channels", Role(Admin), get(alerts::channels)),
        (POST, "/notification-channels", Role(Admin), post(alerts::create_channel)),
        (PUT, "/notification-channels/{id}", Role(Admin), put(alerts::update_channel)),
        (DELETE, "/notification-channels/{id}", Role(Admin), delete(alerts::delete_channel)),
        (GET, "/notifications", Role(Admin), get(alerts::notifications)),
        (GET, "/openapi.json", Public, get(openapi::document)),
    ]
}

/// The declared routes, for tests and documentation.
pub fn route_table() -> Vec<RouteSpec> {
    table()
        .into_iter()
        .map(|(method, path, access, _)| RouteSpec {
            method,
            path,
            access,
        })
        .collect()
}

/// Which routes a process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// Every route, and the dashboard (`serve`, `api`).
    Full,
    /// Only what collectors call: health, registration, token refresh and pushes (`ingest`).
    Collectors,
}

/// The paths a collector calls: all that the `ingest` role serves on its own.
const COLLECTOR_PATHS: &[&str] = &[
    "/health",
    "/version",
    "/collectors/register",
    "/collectors/{id}/token",
    "/metrics/push",
    "/write",
];

/// The API under `/api/v1` (every route, or only the collectors' for [`Surface::Collectors`]);
/// with the full surface, the built dashboard (a single-page app) everywhere else, when
/// `dashboard` names its folder.
pub fn router(state: AppState, dashboard: Option<&std::path::Path>, surface: Surface) -> Router {
    let mut v1 = Router::new();
    let served = table()
        .into_iter()
        .filter(|(_, path, _, _)| surface == Surface::Full || COLLECTOR_PATHS.contains(path));
    for (method, path, access, handler) in served {
        let guard = from_fn_with_state((state.clone(), access), authorize);
        let handler = handler.layer(guard);
        // The event stream is meant to stay open; every other request has a deadline.
        let handler = if method == Method::GET && path == "/events" {
            handler
        } else {
            // Decided here: inside the nested router a request's path has lost `/api/v1`.
            let remote_write = path == "/write";
            handler.layer(from_fn_with_state((state.clone(), remote_write), deadline))
        };
        v1 = v1.route(path, handler);
    }
    let not_found = || async { ApiError::NotFound("no such route".into()) };
    let v1 = v1
        .fallback(not_found)
        .method_not_allowed_fallback(|| async {
            ApiError::MethodNotAllowed("this route does not accept that method".into())
        });
    let app = Router::new()
        .nest("/api/v1", v1)
        .route("/api", axum::routing::any(not_found))
        .route("/api/{*rest}", axum::routing::any(not_found));
    let dashboard = dashboard.filter(|_| surface == Surface::Full);
    let app = match dashboard.filter(|d| d.join("index.html").is_file()) {
        Some(dir) => app.fallback_service(dashboard_files(dir)),
        None => app.fallback(|| async {
            (
                axum::http::StatusCode::NOT_FOUND,
                "pgAnalytics: the dashboard is not built (npm ci && npm run build in dashboard/), \
                 or PGA_DASHBOARD_DIR does not point at it. The API is at /api/v1.",
            )
        }),
    };
    app.layer(axum::middleware::from_fn(log_server_errors))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// The built dashboard. Its scripts and styles (`/assets/…`) have a new name for every build, so a
/// browser may keep them for a year; everything else (`index.html`, which is also the answer for
/// any path the dashboard routes itself) is asked again each time, so that a tab opened after an
/// upgrade loads the new build's scripts rather than an old page naming ones that are gone.
/// A script that is not there is a 404, never the page in its place (which a browser would refuse
/// as a script, and might keep under that name).
fn dashboard_files(dir: &std::path::Path) -> Router {
    use tower_http::services::{ServeDir, ServeFile};
    let assets = ServeDir::new(dir.join("assets")).precompressed_gzip();
    let files = ServeDir::new(dir)
        .precompressed_gzip()
        .fallback(ServeFile::new(dir.join("index.html")));
    Router::new()
        .nest_service("/assets", assets)
        .fallback_service(files)
        .layer(axum::middleware::from_fn(dashboard_cache))
}

async fn dashboard_cache(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::header::{HeaderValue, CACHE_CONTROL, VARY};
    use axum::http::StatusCode;
    let asset = request.uri().path().starts_with("/assets/");
    let mut response = next.run(request).await;
    // A 304 renews what the browser keeps, headers included: it must say "immutable" again.
    let kept = response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED;
    // The files are served gzipped to those who ask: a shared cache must keep the two apart.
    response
        .headers_mut()
        .insert(VARY, HeaderValue::from_static("accept-encoding"));
    let value = if asset && kept {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static(value));
    response
}

/// Logs each 5xx once, with the method, the path and the detail the [`ApiError`] left in the
/// response (its body shows none).
async fn log_server_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if response.status().is_server_error() {
        let detail = response
            .extensions()
            .get::<crate::error::ErrorDetail>()
            .map_or("", |d| d.0.as_str());
        tracing::error!(%method, path, status = response.status().as_u16(), detail,
            "request failed");
    }
    response
}

/// Answers 408 when a request (guard, body and handler together) takes longer than
/// `PGA_HTTP_REQUEST_TIMEOUT_S`, so a slow client cannot hold a connection and its handler.
/// On the remote-write route the answer is 503 with `Retry-After`: Prometheus drops a request
/// answered 408 (it retries only 5xx and 429), and part of it may not be stored yet.
async fn deadline(
    axum::extract::State((state, remote_write)): axum::extract::State<(AppState, bool)>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match tokio::time::timeout(state.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) if remote_write => ApiError::Busy {
            what: "the remote write took longer than this server allows",
            retry_after_s: 1,
        }
        .into_response(),
        Err(_) => ApiError::RequestTimeout {
            seconds: state.request_timeout.as_secs(),
        }
        .into_response(),
    }
}

/// Parses a path id; anything that is not a UUID cannot name an entity, so it is a 404.
pub(crate) fn parse_id(raw: &str, what: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError::NotFound(format!("{what} not found")))
}

#[cfg(test)]
mod dashboard_tests {
    use axum::body::Body;
    use axum::http::{header::CACHE_CONTROL, Request, StatusCode};
    use tower::ServiceExt;

    async fn get(dir: &std::path::Path, path: &str) -> (StatusCode, String, String) {
        let response = super::dashboard_files(dir)
            .oneshot(Request::get(path).body(Body::empty()).expect("a request"))
            .await
            .expect("an answer");
        let cache = response.headers()[CACHE_CONTROL]
            .to_str()
            .expect("an ASCII header")
            .to_owned();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("the body");
        (status, cache, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_builds_scripts_are_kept_and_its_page_is_asked_again() {
        let dir = std::env::temp_dir().join(format!("pga-dashboard-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("assets")).expect("the test's files");
        std::fs::write(dir.join("index.html"), "<html>page</html>").expect("the test's files");
        std::fs::write(dir.join("assets/start-abc.js"), "export const a = 1;")
            .expect("the test's files");

        let (status, cache, body) = get(&dir, "/assets/start-abc.js").await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "export const a = 1;")
        );
        assert_eq!(cache, "public, max-age=31536000, immutable");

        // Asked again with its date: a 304 that still says it may be kept.
        let response = super::dashboard_files(&dir)
            .oneshot(
                Request::get("/assets/start-abc.js")
                    .header("if-modified-since", "Fri, 01 Jan 2100 00:00:00 GMT")
                    .body(Body::empty())
                    .expect("a request"),
            )
            .await
            .expect("an answer");
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(
            response.headers()[CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(response.headers()["vary"], "accept-encoding");

        // A script of another build: a 404, not the page under the script's name.
        let (status, cache, body) = get(&dir, "/assets/start-old.js").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(cache, "no-cache");
        assert!(!body.contains("page"), "{body}");

        for path in ["/", "/index.html", "/users"] {
            let (status, cache, body) = get(&dir, path).await;
            assert_eq!(
                (status, body.as_str()),
                (StatusCode::OK, "<html>page</html>"),
                "{path}"
            );
            assert_eq!(cache, "no-cache", "{path}");
        }
        std::fs::remove_dir_all(&dir).expect("the test's files");
    }
}
