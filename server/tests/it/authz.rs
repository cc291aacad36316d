//! The authorization matrix: every route, with no token, a viewer, an editor and an admin.

use std::collections::BTreeSet;

use api::auth::access::Access;
use api::http::route_table;
use domain::user::Role;
use pganalytics::app::Roles;
use reqwest::Method;
use serde_json::json;

use crate::support::*;

/// Who may call what, transcribed from shared/API.md for the routes that exist so far. A route
/// added to the router without being added here, or declared with another role, fails
/// `the_route_table_matches_the_api_contract`.
const EXPECTED: &[(&str, &str, &str)] = &[
    ("GET", "/health", "public"),
    ("GET", "/version", "public"),
    ("POST", "/auth/login", "public"),
    ("POST", "/auth/refresh", "public"),
    ("POST", "/auth/logout", "viewer"),
    ("POST", "/auth/change-password", "viewer"),
    ("GET", "/users", "admin"),
    ("POST", "/users", "admin"),
    ("PUT", "/users/{id}", "admin"),
    ("DELETE", "/users/{id}", "admin"),
    ("POST", "/users/{id}/reset-password", "admin"),
    ("GET", "/managed-instances", "viewer"),
    ("POST", "/managed-instances", "editor"),
    ("GET", "/managed-instances/{id}", "viewer"),
    ("PUT", "/managed-instances/{id}", "editor"),
    ("DELETE", "/managed-instances/{id}", "editor"),
    ("POST", "/managed-instances/{id}/test-connection", "editor"),
    ("POST", "/managed-instances/test-connection-direct", "admin"),
    ("GET", "/registration-secrets", "admin"),
    ("POST", "/registration-secrets", "admin"),
    ("GET", "/registration-secrets/{id}", "admin"),
    ("PUT", "/registration-secrets/{id}", "admin"),
    ("DELETE", "/registration-secrets/{id}", "admin"),
    ("POST", "/collectors/register", "public"),
    ("POST", "/collectors/{id}/token", "public"),
    ("GET", "/collectors", "viewer"),
    ("GET", "/collectors/{id}", "viewer"),
    ("DELETE", "/collectors/{id}", "admin"),
    ("PUT", "/collectors/{id}/instances", "admin"),
    ("POST", "/metrics/push", "collector"),
    ("POST", "/write", "collector"),
    ("POST", "/events/ticket", "viewer"),
    ("GET", "/events", "viewer"),
    ("GET", "/audit", "admin"),
    ("GET", "/metrics/series", "viewer"),
    ("GET", "/collectors/{id}/queries/slow", "viewer"),
    ("GET", "/collectors/{id}/queries/frequent", "viewer"),
    ("GET", "/collectors/{id}/queries/top", "viewer"),
    ("GET", "/managed-instances/{id}/queries/top", "viewer"),
    ("GET", "/metrics/latest", "viewer"),
    ("GET", "/openapi.json", "public"),
    // Alerting (issue 17): everyone signed in reads rules, alerts and silences; editors change
    // rules and silences and acknowledge; channels (they hold secrets) and deliveries are admin.
    ("GET", "/alert-rules", "viewer"),
    ("POST", "/alert-rules", "editor"),
    ("GET", "/alert-rules/{id}", "viewer"),
    ("PUT", "/alert-rules/{id}", "editor"),
    ("DELETE", "/alert-rules/{id}", "editor"),
    ("POST", "/alert-rules/{id}/enable", "editor"),
    ("POST", "/alert-rules/{id}/disable", "editor"),
    ("GET", "/alerts", "viewer"),
    ("GET", "/alerts/{id}", "viewer"),
    ("POST", "/alerts/{id}/acknowledge", "editor"),
    ("GET", "/silences", "viewer"),
    ("POST", "/silences", "editor"),
    ("DELETE", "/silences/{id}", "editor"),
    ("GET", "/notification-channels", "admin"),
    ("POST", "/notification-channels", "admin"),
    ("PUT", "/notification-channels/{id}", "admin"),
    ("DELETE", "/notification-channels/{id}", "admin"),
    ("GET", "/audit/export", "admin"),
    ("GET", "/fleet", "viewer"),
    ("GET", "/managed-instances/{id}/history", "viewer"),
    ("GET", "/managed-instances/{id}/diff", "viewer"),
    ("GET", "/collectors/{id}/history", "viewer"),
    ("GET", "/collectors/{id}/diff", "viewer"),
    ("GET", "/users/{id}/history", "admin"),
    ("GET", "/users/{id}/diff", "admin"),
    ("GET", "/registration-secrets/{id}/history", "admin"),
    ("GET", "/registration-secrets/{id}/diff", "admin"),
    ("GET", "/alert-rules/{id}/history", "viewer"),
    ("GET", "/alert-rules/{id}/diff", "viewer"),
    ("GET", "/notifications", "admin"),
];

/// 401 codes only the guard gives: an allowed caller never sees them.
const GUARD_CODES: [&str; 6] = [
    "missing_token",
    "invalid_credentials",
    "invalid_token",
    "token_expired",
    "user_inactive",
    "collector_deleted",
];

fn access_name(access: Access) -> &'static str {
    match access {
        Access::Public => "public",
        Access::Role(role) => role.as_str(),
        Access::Collector => "collector",
    }
}

#[test]
fn the_route_table_matches_the_api_contract() {
    let declared: BTreeSet<(String, String, String)> = route_table()
        .into_iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.path.to_owned(),
                access_name(r.access).to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String, String)> = EXPECTED
        .iter()
        .map(|(m, p, a)| ((*m).to_owned(), (*p).to_owned(), (*a).to_owned()))
        .collect();
    let undeclared: Vec<_> = declared.difference(&expected).collect();
    let missing: Vec<_> = expected.difference(&declared).collect();
    assert!(
        undeclared.is_empty() && missing.is_empty(),
        "routes not in the matrix (add them with their API.md role): {undeclared:?}; \
         matrix rows with no route: {missing:?}"
    );
}

#[tokio::test]
async fn every_route_answers_each_role_as_declared() {
    let app = spawn_admin_app().await;
    let api = app.api();
    let viewer = app.user("matrix-viewer", "viewer").await.token;
    let editor = app.user("matrix-editor", "editor").await.token;
    let collector = app.register_collector("matrix-collector").await.token;
    let callers: [(&str, Option<&str>, Option<Role>); 5] = [
        ("no token", None, None),
        ("viewer", Some(&viewer), Some(Role::Viewer)),
        ("editor", Some(&editor), Some(Role::Editor)),
        ("admin", Some(app.admin()), Some(Role::Admin)),
        ("collector", Some(&collector), None),
    ];

    let mut checked = 0;
    for route in route_table() {
        // An id that names nothing: allowed callers get 404/422, never a side effect.
        let path = route
            .path
            .replace("{id}", &uuid::Uuid::new_v4().to_string());
        let method = Method::from_bytes(route.method.as_str().as_bytes()).expect("method");
        for (who, token, role) in &callers {
            if route.path == "/events" {
                // A stream: only the status matters.
                let mut request = api.http.get(format!("{}{}", api.base, path));
                if let Some(t) = token {
                    request = request.bearer_auth(t);
                }
                let status = request.send().await.expect("events").status().as_u16();
                let expected = match (role, token) {
                    (Some(_), _) => 200,
                    (None, None) => 401,
                    (None, Some(_)) => 401,
                };
                assert_eq!(status, expected, "GET /events as {who}");
                checked += 1;
                continue;
            }
            let body = (method != Method::GET).then(|| json!({}));
            let reply = api.call(method.clone(), &path, *token, body).await;
            let is_collector = *who == "collector";
            let allowed = match route.access {
                Access::Public => true,
                Access::Role(required) => role.is_some_and(|r| r.allows(required)),
                Access::Collector => is_collector,
            };
            let context = format!(
                "{} {} as {who}: {} {}",
                route.method, route.path, reply.status, reply.body
            );
            let guard_401 = reply.status == 401
                && GUARD_CODES.contains(&reply.body["error"]["code"].as_str().unwrap_or_default());
            if allowed {
                assert!(
                    reply.status != 403 && !guard_401,
                    "should be allowed: {context}"
                );
            } else if token.is_none() {
                assert_eq!(reply.status, 401, "{context}");
                assert_eq!(reply.body["error"]["code"], "missing_token", "{context}");
            } else if is_collector || route.access == Access::Collector {
                // A collector token is no user token, and a user token no collector token.
                assert_eq!(reply.status, 401, "{context}");
                assert_eq!(reply.body["error"]["code"], "invalid_token", "{context}");
            } else {
                assert_eq!(reply.status, 403, "{context}");
                assert_eq!(reply.body["error"]["code"], "forbidden", "{context}");
            }
            assert!(reply.status < 500, "never a 5xx: {context}");
            checked += 1;
        }
    }
    assert_eq!(checked, EXPECTED.len() * 5);
}

#[tokio::test]
async fn the_openapi_document_declares_each_routes_access_as_the_route_table_does() {
    let app = spawn_app(Roles::ALL).await;
    let doc = app
        .api()
        .call(Method::GET, "/openapi.json", None, None)
        .await
        .body;
    for (method, path, access) in EXPECTED {
        let op = &doc["paths"][format!("/api/v1{path}")][method.to_lowercase()];
        assert_eq!(op["x-pga-access"], *access, "{method} {path}");
    }
}

#[tokio::test]
async fn the_audit_log_lists_an_admins_actions_and_refuses_bad_filters() {
    let app = spawn_admin_app().await;
    let (api, admin) = (app.api(), app.admin());
    api.create_user(admin, "audited", "audited password", "viewer")
        .await;
    let log = api
        .get("/audit?actor=root-admin&aggregate_type=user", admin)
        .await;
    assert_eq!(log.status, 200, "{}", log.body);
    let summaries: Vec<&str> = log
        .body
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["summary"].as_str())
        .collect();
    assert!(
        summaries.contains(&"created user audited with role viewer"),
        "{summaries:?}"
    );
    assert!(summaries.contains(&"logged in"), "{summaries:?}");
    let bad = api.get("/audit?limit=0", admin).await;
    assert_eq!(
        (bad.status, bad.body["error"]["field"].clone()),
        (422, json!("limit"))
    );
    let unknown = api.get("/audit?colour=red", admin).await;
    assert_eq!(unknown.status, 400);
}
