//! `GET /openapi.json` (public): the route table as an OpenAPI 3.1 document, so the contract a
//! client reads is the one the server enforces.

use axum::Json;
use serde_json::{json, Map, Value};

use super::route_table;
use crate::auth::access::Access;

pub(crate) async fn document() -> Json<Value> {
    let mut paths = Map::new();
    for route in route_table() {
        let (who, security) = match route.access {
            Access::Public => ("public".to_owned(), json!([])),
            Access::Role(role) => (role.as_str().to_owned(), json!([{"bearer": []}])),
            Access::Collector => ("collector".to_owned(), json!([{"collectorToken": []}])),
        };
        let mut params: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut security = security;
        let mut description = None;
        if route.path == "/events/ticket" {
            description = Some(
                "A one-use ticket for GET /events, valid `expires_in` seconds:                  `{\"ticket\": \"pgt_…\", \"expires_in\": 30}`.",
            );
        }
        if route.path == "/events" {
            // EventSource cannot send headers: a ticket in the URL, never the access token.
            security = json!([{"bearer": []}, {"liveTicket": []}]);
            params.push(json!({"name": "ticket", "in": "query", "required": false,
                "description": "from POST /api/v1/events/ticket; works once",
                "schema": {"type": "string"}}));
            description = Some(
                "Server-sent events: `ready`, then `change` ({kind, id}) and `resync`; `end`                  ({reason}) when the session expires or is revoked, or the user is deactivated,                  deleted or demoted. `?access_token=` is refused (401 `token_in_url`).",
            );
        }
        let mut operation = json!({
            "summary": format!("{} {} ({who})", route.method, route.path),
            "x-pga-access": who,
            "security": security,
            "parameters": params,
            "responses": {
                "default": {"description": "JSON; errors are {\"error\": {\"code\", \"message\"}}"}
            }
        });
        if let (Some(text), Some(op)) = (description, operation.as_object_mut()) {
            op.insert("description".into(), json!(text));
        }
        let entry = paths
            .entry(format!("/api/v1{}", route.path))
            .or_insert_with(|| json!({}));
        if let Some(obj) = entry.as_object_mut() {
            obj.insert(route.method.as_str().to_lowercase(), operation);
        }
    }
    Json(json!({
        "openapi": "3.1.0",
        "info": {"title": "pgAnalytics", "version": env!("CARGO_PKG_VERSION")},
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "collectorToken": {"type": "http", "scheme": "bearer", "description": "collector token from /collectors/register"},
            "liveTicket": {"type": "apiKey", "in": "query", "name": "ticket", "description": "one-use ticket from POST /events/ticket"}
        }},
        "paths": Value::Object(paths)
    }))
}
