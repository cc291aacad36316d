//! `GET /openapi.json` (public): the route table as an OpenAPI 3.1 document, so the contract a
//! client reads is the one the server enforces. Each body's JSON schema is derived (schemars)
//! from the Rust type its handler reads or answers, through the per-route map in [`bodies`].
//!
//! The dashboard's TypeScript types are generated from a copy of this document,
//! `dashboard/src/api/openapi.json`; a test here fails when that copy is stale.

mod bodies;

use axum::http::Method;
use axum::Json;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{json, Map, Value};

use super::route_table;
use crate::auth::access::Access;

pub(crate) async fn document() -> Json<Value> {
    Json(build())
}

/// Schemas land in `components/schemas`, where OpenAPI 3.1 looks for them.
fn generator(settings: SchemaSettings) -> SchemaGenerator {
    settings
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .into_generator()
}

/// The schemas of every request body and every response body, apart: a type's schema says what
/// it accepts when it is read, and what it always holds when it is written.
struct Generators {
    requests: SchemaGenerator,
    responses: SchemaGenerator,
}

impl Generators {
    fn new() -> Self {
        Self {
            requests: generator(SchemaSettings::draft2020_12().for_deserialize()),
            responses: generator(SchemaSettings::draft2020_12().for_serialize()),
        }
    }

    /// `requestBody` and `responses` of a route.
    fn operation(&mut self, method: &Method, path: &str) -> (Option<Value>, Value) {
        let error = json!({"description": "JSON; errors are {\"error\": {\"code\", \"message\"}}"});
        let Some((_, _, bodies)) = bodies::table()
            .into_iter()
            .find(|(m, p, _)| m == method && *p == path)
        else {
            return (None, json!({"default": error}));
        };
        let request = bodies.request.map(|(schema, optional)| {
            json!({
                "required": !optional,
                "content": {"application/json": {"schema": schema(&mut self.requests)}}
            })
        });
        let mut success = json!({
            "description": bodies.status.canonical_reason().unwrap_or_default()
        });
        if let (Some(schema), Some(obj)) = (bodies.response, success.as_object_mut()) {
            obj.insert(
                "content".into(),
                json!({"application/json": {"schema": schema(&mut self.responses)}}),
            );
        }
        let mut responses = Map::new();
        responses.insert(bodies.status.as_u16().to_string(), success);
        responses.insert("default".into(), error);
        (request, Value::Object(responses))
    }

    /// Every schema the operations refer to. A type in both a request and a response (an enum)
    /// is kept once; a test checks that its two schemas agree.
    fn into_schemas(mut self) -> Map<String, Value> {
        let mut schemas = self.requests.take_definitions(true);
        for (name, schema) in self.responses.take_definitions(true) {
            schemas.entry(name).or_insert(schema);
        }
        schemas
    }
}

/// The document `GET /openapi.json` serves.
// Over 60 lines on purpose: one OpenAPI operation per route, built in one pass over the table.
pub(crate) fn build() -> Value {
    let mut generators = Generators::new();
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
        let (request, responses) = generators.operation(&route.method, route.path);
        let mut operation = json!({
            "summary": format!("{} {} ({who})", route.method, route.path),
            "x-pga-access": who,
            "security": security,
            "parameters": params,
            "responses": responses
        });
        if let Some(op) = operation.as_object_mut() {
            if let Some(text) = description {
                op.insert("description".into(), json!(text));
            }
            if let Some(body) = request {
                op.insert("requestBody".into(), body);
            }
        }
        let entry = paths
            .entry(format!("/api/v1{}", route.path))
            .or_insert_with(|| json!({}));
        if let Some(obj) = entry.as_object_mut() {
            obj.insert(route.method.as_str().to_lowercase(), operation);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "pgAnalytics", "version": env!("CARGO_PKG_VERSION")},
        "components": {
            "schemas": Value::Object(generators.into_schemas()),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "collectorToken": {"type": "http", "scheme": "bearer", "description": "collector token from /collectors/register"},
                "liveTicket": {"type": "apiKey", "in": "query", "name": "ticket", "description": "one-use ticket from POST /events/ticket"}
            }
        },
        "paths": Value::Object(paths)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dashboard's copy, from which `npm run api:types` generates `src/api/schema.ts`.
    const COPY: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../dashboard/src/api/openapi.json"
    );
    const REFRESH: &str = "PGA_UPDATE_OPENAPI=1 cargo test -p api openapi";

    #[test]
    fn the_dashboards_copy_of_the_openapi_document_is_what_the_server_serves() {
        let served = serde_json::to_string_pretty(&build()).expect("json") + "\n";
        if std::env::var_os("PGA_UPDATE_OPENAPI").is_some() {
            std::fs::write(COPY, &served).expect("write dashboard/src/api/openapi.json");
            return;
        }
        let copy = std::fs::read_to_string(COPY).unwrap_or_default();
        let first_difference = copy
            .lines()
            .zip(served.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| copy.lines().count().min(served.lines().count()));
        assert!(
            copy == served,
            "dashboard/src/api/openapi.json is not the document the server serves \
             (first difference at line {}). Refresh it with\n\n    {REFRESH}\n\n\
             then regenerate the dashboard's types with `npm run api:types` in dashboard/ \
             and commit both.",
            first_difference + 1
        );
    }

    #[test]
    fn every_route_has_its_bodies_documented_or_says_why_not() {
        let typed = bodies::table();
        for route in route_table() {
            let method = route.method.as_str();
            let in_table = typed
                .iter()
                .any(|(m, p, _)| *m == route.method && *p == route.path);
            let untyped = bodies::UNTYPED
                .iter()
                .any(|(m, p, _)| *m == method && *p == route.path);
            assert!(
                in_table != untyped,
                "{method} {}: give it bodies in openapi/bodies.rs, or a reason in UNTYPED (not both)",
                route.path
            );
        }
        let routes = route_table();
        for (m, p, _) in &typed {
            assert!(
                routes.iter().any(|r| r.method == *m && r.path == *p),
                "bodies for {m} {p}, which is no route"
            );
        }
        for (m, p, _) in bodies::UNTYPED {
            assert!(
                routes
                    .iter()
                    .any(|r| r.method.as_str() == *m && r.path == *p),
                "UNTYPED names {m} {p}, which is no route"
            );
        }
    }

    #[test]
    fn a_schema_name_shared_by_a_request_and_a_response_means_one_shape() {
        let mut generators = Generators::new();
        for route in route_table() {
            generators.operation(&route.method, route.path);
        }
        let requests = generators.requests.take_definitions(true);
        let responses = generators.responses.take_definitions(true);
        for (name, schema) in &requests {
            if let Some(other) = responses.get(name) {
                assert_eq!(
                    schema, other,
                    "{name} reads differently as request and response"
                );
            }
        }
    }

    #[test]
    fn an_instance_is_documented_with_every_field_the_server_sends() {
        let doc = build();
        let instance = &doc["components"]["schemas"]["Instance"];
        let required: Vec<&str> = instance["required"]
            .as_array()
            .expect("required")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for field in ["server_version", "last_tls", "created_at", "updated_at"] {
            assert!(required.contains(&field), "{field}: {required:?}");
        }
        let list = &doc["paths"]["/api/v1/managed-instances"]["get"]["responses"]["200"];
        assert_eq!(
            list["content"]["application/json"]["schema"]["items"]["$ref"],
            "#/components/schemas/Instance"
        );
    }
}
