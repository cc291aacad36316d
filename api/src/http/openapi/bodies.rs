//! What each route takes and answers, as the Rust types its handler uses: the per-route map
//! beside the route table from which the OpenAPI document takes its JSON schemas. A route that
//! is neither here nor in [`UNTYPED`] fails a test, so a new route gets its bodies documented.

use axum::http::{Method, StatusCode};
use schemars::{JsonSchema, Schema, SchemaGenerator};

use super::super::{
    audit, auth, bindings, collectors, events, fleet, health, history, instances, latest, secrets,
    series, statements, users,
};

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The JSON bodies of one route.
pub(super) struct Bodies {
    /// The request body's schema, and whether the body may be left out.
    pub(super) request: Option<(SchemaFn, bool)>,
    /// The status of a success.
    pub(super) status: StatusCode,
    /// The success body's schema; `None` when a success has no body.
    pub(super) response: Option<SchemaFn>,
}

fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

impl Bodies {
    fn ok<T: JsonSchema>() -> Self {
        Self::answers::<T>(StatusCode::OK)
    }

    fn created<T: JsonSchema>() -> Self {
        Self::answers::<T>(StatusCode::CREATED)
    }

    fn answers<T: JsonSchema>(status: StatusCode) -> Self {
        Self {
            request: None,
            status,
            response: Some(schema::<T>),
        }
    }

    fn no_content() -> Self {
        Self {
            request: None,
            status: StatusCode::NO_CONTENT,
            response: None,
        }
    }

    fn takes<T: JsonSchema>(self) -> Self {
        Self {
            request: Some((schema::<T>, false)),
            ..self
        }
    }

    fn may_take<T: JsonSchema>(self) -> Self {
        Self {
            request: Some((schema::<T>, true)),
            ..self
        }
    }
}

/// Every route with typed bodies: method, path below `/api/v1` (as in the route table), bodies.
// Over 60 lines on purpose: one entry per route, beside the route table it documents.
pub(super) fn table() -> Vec<(Method, &'static str, Bodies)> {
    use Bodies as B;
    vec![
        (Method::GET, "/version", B::ok::<health::Version>()),
        (
            Method::POST,
            "/auth/login",
            B::ok::<auth::TokenPair>().takes::<auth::LoginBody>(),
        ),
        (
            Method::POST,
            "/auth/refresh",
            B::ok::<auth::TokenPair>().takes::<auth::RefreshBody>(),
        ),
        (
            Method::POST,
            "/auth/logout",
            B::no_content().may_take::<auth::LogoutBody>(),
        ),
        (
            Method::POST,
            "/auth/change-password",
            B::no_content().takes::<auth::ChangePasswordBody>(),
        ),
        (Method::GET, "/users", B::ok::<Vec<users::UserView>>()),
        (
            Method::POST,
            "/users",
            B::created::<users::UserView>().takes::<users::CreateBody>(),
        ),
        (
            Method::PUT,
            "/users/{id}",
            B::ok::<users::UserView>().takes::<users::UpdateBody>(),
        ),
        (Method::DELETE, "/users/{id}", B::no_content()),
        (
            Method::POST,
            "/users/{id}/reset-password",
            B::no_content().takes::<users::ResetBody>(),
        ),
        (
            Method::GET,
            "/managed-instances",
            B::ok::<Vec<instances::InstanceView>>(),
        ),
        (
            Method::POST,
            "/managed-instances",
            B::created::<instances::InstanceView>().takes::<instances::CreateBody>(),
        ),
        (
            Method::GET,
            "/managed-instances/{id}",
            B::ok::<instances::InstanceView>(),
        ),
        (
            Method::PUT,
            "/managed-instances/{id}",
            B::ok::<instances::InstanceView>().takes::<instances::UpdateBody>(),
        ),
        (Method::DELETE, "/managed-instances/{id}", B::no_content()),
        (
            Method::POST,
            "/managed-instances/{id}/test-connection",
            B::ok::<instances::TestResult>(),
        ),
        (
            Method::POST,
            "/managed-instances/test-connection-direct",
            B::ok::<instances::TestResult>().takes::<instances::DirectBody>(),
        ),
        (
            Method::GET,
            "/registration-secrets",
            B::ok::<Vec<secrets::SecretView>>(),
        ),
        (
            Method::POST,
            "/registration-secrets",
            B::created::<secrets::SecretView>().takes::<secrets::CreateBody>(),
        ),
        (
            Method::GET,
            "/registration-secrets/{id}",
            B::ok::<secrets::SecretView>(),
        ),
        (
            Method::PUT,
            "/registration-secrets/{id}",
            B::ok::<secrets::SecretView>().takes::<secrets::UpdateBody>(),
        ),
        (
            Method::DELETE,
            "/registration-secrets/{id}",
            B::no_content(),
        ),
        (
            Method::GET,
            "/collectors",
            B::ok::<Vec<collectors::CollectorView>>(),
        ),
        (
            Method::GET,
            "/collectors/{id}",
            B::ok::<collectors::CollectorView>(),
        ),
        (Method::DELETE, "/collectors/{id}", B::no_content()),
        (
            Method::PUT,
            "/collectors/{id}/instances",
            B::ok::<collectors::CollectorView>().takes::<bindings::BindBody>(),
        ),
        (Method::POST, "/events/ticket", B::ok::<events::Ticket>()),
        (Method::GET, "/audit", B::ok::<Vec<audit::Entry>>()),
        (Method::GET, "/fleet", B::ok::<fleet::Fleet>()),
        (
            Method::GET,
            "/managed-instances/{id}/history",
            B::ok::<history::HistoryPage>(),
        ),
        (
            Method::GET,
            "/managed-instances/{id}/diff",
            B::ok::<history::Diff>(),
        ),
        (
            Method::GET,
            "/collectors/{id}/history",
            B::ok::<history::HistoryPage>(),
        ),
        (
            Method::GET,
            "/collectors/{id}/diff",
            B::ok::<history::Diff>(),
        ),
        (
            Method::GET,
            "/users/{id}/history",
            B::ok::<history::HistoryPage>(),
        ),
        (Method::GET, "/users/{id}/diff", B::ok::<history::Diff>()),
        (
            Method::GET,
            "/registration-secrets/{id}/history",
            B::ok::<history::HistoryPage>(),
        ),
        (
            Method::GET,
            "/registration-secrets/{id}/diff",
            B::ok::<history::Diff>(),
        ),
        (
            Method::GET,
            "/alert-rules/{id}/history",
            B::ok::<history::HistoryPage>(),
        ),
        (
            Method::GET,
            "/alert-rules/{id}/diff",
            B::ok::<history::Diff>(),
        ),
        (
            Method::GET,
            "/metrics/series",
            B::ok::<series::SeriesAnswer>(),
        ),
        (
            Method::GET,
            "/collectors/{id}/queries/slow",
            B::ok::<Vec<statements::Statement>>(),
        ),
        (
            Method::GET,
            "/collectors/{id}/queries/frequent",
            B::ok::<Vec<statements::Statement>>(),
        ),
        (
            Method::GET,
            "/collectors/{id}/queries/top",
            B::ok::<Vec<statements::Statement>>(),
        ),
        (
            Method::GET,
            "/managed-instances/{id}/queries/top",
            B::ok::<Vec<statements::Statement>>(),
        ),
        (
            Method::GET,
            "/metrics/latest",
            B::ok::<latest::LatestAnswer>(),
        ),
    ]
}

/// Why the alerting routes are untyped here.
#[cfg(test)]
const ALERTING: &str =
    "alerting bodies are built as JSON from the read model; their shapes are in docs/alerting.md";

/// Routes documented without body schemas, and why.
#[cfg(test)]
pub(super) const UNTYPED: &[(&str, &str, &str)] = &[
    ("GET", "/alert-rules", ALERTING),
    ("POST", "/alert-rules", ALERTING),
    ("GET", "/alert-rules/{id}", ALERTING),
    ("PUT", "/alert-rules/{id}", ALERTING),
    ("DELETE", "/alert-rules/{id}", ALERTING),
    ("POST", "/alert-rules/{id}/enable", ALERTING),
    ("POST", "/alert-rules/{id}/disable", ALERTING),
    ("GET", "/alerts", ALERTING),
    ("GET", "/alerts/{id}", ALERTING),
    ("POST", "/alerts/{id}/acknowledge", ALERTING),
    ("GET", "/silences", ALERTING),
    ("POST", "/silences", ALERTING),
    ("DELETE", "/silences/{id}", ALERTING),
    ("GET", "/notification-channels", ALERTING),
    ("POST", "/notification-channels", ALERTING),
    ("PUT", "/notification-channels/{id}", ALERTING),
    ("DELETE", "/notification-channels/{id}", ALERTING),
    ("GET", "/notifications", ALERTING),
    (
        "GET",
        "/audit/export",
        "a CSV or JSON-lines attachment, not JSON; its columns are audit::Entry's",
    ),
    (
        "GET",
        "/health",
        "its relay and projection parts are types of the commands and projections crates",
    ),
    (
        "POST",
        "/collectors/register",
        "for collectors; its NATS credential is a type of the commands crate",
    ),
    (
        "POST",
        "/collectors/{id}/token",
        "for collectors; its NATS credential is a type of the commands crate",
    ),
    (
        "POST",
        "/metrics/push",
        "for collectors; the batch formats are in docs/ingest.md",
    ),
    (
        "POST",
        "/write",
        "Prometheus remote-write 1.0 (snappy protobuf), described in docs/ingest.md",
    ),
    (
        "GET",
        "/events",
        "server-sent events, described in the operation's text",
    ),
    ("GET", "/openapi.json", "this document"),
];
