//! An HTTP-level sweep of every route that takes input: for each field, the boundary value is
//! accepted, one past it is a 422 naming the field, and control characters, wrong types, empty
//! values and malformed bodies are a 4xx with the JSON error body — never a 5xx, and nothing is
//! stored for a refused request.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

/// What a case expects.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// 2xx.
    Accepted,
    /// 422 naming this field.
    Refused(&'static str),
    /// Any 4xx with the JSON error body (a refusal that is not about a field's shape).
    Client,
}
use Expect::{Accepted, Client, Refused};

/// A route under test: how to reach it and a valid body (fresh for each `i`, so that names do
/// not collide).
struct Route {
    method: Method,
    path: String,
    token: Option<String>,
    secret: Option<String>,
    valid: Box<dyn Fn(usize) -> Value>,
}

struct Sweep {
    app: TestApp,
    n: usize,
}

impl Sweep {
    async fn send_raw(&self, route: &Route, content_type: &str, body: Vec<u8>) -> Reply {
        let api = self.app.api();
        let mut request = api
            .http
            .request(route.method.clone(), format!("{}{}", api.base, route.path))
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = &route.token {
            request = request.bearer_auth(token);
        }
        if let Some(secret) = &route.secret {
            request = request.header("X-Registration-Secret", secret);
        }
        Reply::read(request.send().await.expect("request")).await
    }

    /// What the server has stored: events, and batches on the metrics stream.
    async fn stored(&self) -> (i64, u64) {
        let sql = self.app.sql().await;
        let events = count(&sql, "SELECT count(*) FROM events").await;
        let js = self.app.jetstream().await;
        let batches = metric_stream_len(&js, &self.app.config().names).await;
        (events, batches)
    }

    /// Sends `body` and checks the answer; a refused request must store nothing.
    async fn check(
        &mut self,
        route: &Route,
        what: &str,
        content_type: &str,
        body: Vec<u8>,
        expect: Option<Expect>,
    ) {
        let before = self.stored().await;
        let reply = self.send_raw(route, content_type, body).await;
        let what = format!("{} {} {what}", route.method, route.path);
        assert!(
            reply.status < 500,
            "{what}: {} {}",
            reply.status,
            reply.body
        );
        match expect {
            Some(Accepted) => {
                assert!(
                    (200..300).contains(&reply.status),
                    "{what}: expected 2xx, got {} {}",
                    reply.status,
                    reply.body
                );
                return;
            }
            Some(Refused(field)) => {
                assert_eq!(reply.status, 422, "{what}: {}", reply.body);
                assert_eq!(
                    reply.body["error"]["field"], field,
                    "{what}: {}",
                    reply.body
                );
            }
            Some(Client) | None => {
                assert!(
                    reply.status >= 400,
                    "{what}: {} {}",
                    reply.status,
                    reply.body
                )
            }
        }
        assert!(
            reply.body["error"]["code"].is_string() && reply.body["error"]["message"].is_string(),
            "{what}: no JSON error body: {}",
            reply.body
        );
        assert_eq!(self.stored().await, before, "{what}: something was stored");
    }

    /// The valid body with `field` set to `value`.
    async fn field(&mut self, route: &Route, field: &str, value: Value, expect: Expect) {
        self.n += 1;
        let mut body = (route.valid)(self.n);
        body[field] = value.clone();
        let shown: String = value.to_string().chars().take(40).collect();
        let bytes = serde_json::to_vec(&body).expect("json");
        self.check(
            route,
            &format!("{field}={shown}"),
            "application/json",
            bytes,
            Some(expect),
        )
        .await;
    }

    /// What every JSON route must refuse whatever its fields: broken JSON, another content
    /// type, the wrong shape, an unknown field.
    async fn malformed(&mut self, route: &Route) {
        let json = "application/json";
        self.check(route, "broken JSON", json, b"{\"name\": ".to_vec(), None)
            .await;
        self.check(route, "empty body", json, Vec::new(), None)
            .await;
        self.check(route, "not JSON", "text/plain", b"name=x".to_vec(), None)
            .await;
        self.check(route, "an array", json, b"[1, 2]".to_vec(), None)
            .await;
        self.check(route, "a string", json, b"\"x\"".to_vec(), None)
            .await;
        self.n += 1;
        let mut body = (route.valid)(self.n);
        body["surprise"] = json!(1);
        let bytes = serde_json::to_vec(&body).expect("json");
        self.check(
            route,
            "unknown field",
            json,
            bytes,
            Some(Refused("surprise")),
        )
        .await;
    }
}

fn long(n: usize) -> Value {
    json!("x".repeat(n))
}

/// A text of exactly `n` characters that differs for each `i` (names must be unique).
fn unique(i: usize, n: usize) -> Value {
    json!(format!("{i:0>n$}"))
}

fn ctrl() -> Value {
    json!("a\u{1}b")
}

async fn setup() -> Sweep {
    Sweep {
        app: spawn_admin_app().await,
        n: 0,
    }
}

impl Sweep {
    /// The admin's token, for a route's `token`.
    fn admin(&self) -> Option<String> {
        Some(self.app.admin().to_owned())
    }
}

#[tokio::test]
async fn collector_registration_refuses_bad_fields_with_a_4xx_naming_them_and_stores_nothing() {
    let mut s = setup().await;
    let secret = s.app.registration_secret("sweep").await;
    let register = Route {
        method: Method::POST,
        path: "/collectors/register".into(),
        token: None,
        secret: Some(secret),
        valid: Box::new(|i| json!({"name": format!("c{i}"), "hostname": "db-1", "version": "1.0"})),
    };
    for (field, value, expect) in [
        ("name", unique(1, 128), Accepted),
        ("name", long(129), Refused("name")),
        ("name", json!(""), Refused("name")),
        ("name", ctrl(), Refused("name")),
        ("name", json!(5), Refused("name")),
        ("hostname", long(255), Accepted),
        ("hostname", long(256), Refused("hostname")),
        ("hostname", json!("  "), Refused("hostname")),
        ("hostname", ctrl(), Refused("hostname")),
        ("hostname", json!([]), Refused("hostname")),
        ("version", long(64), Accepted),
        ("version", json!(""), Accepted),
        ("version", long(65), Refused("version")),
        ("version", json!("1\u{0}2"), Refused("version")),
        ("version", json!(true), Refused("version")),
    ] {
        s.field(&register, field, value, expect).await;
    }
    s.malformed(&register).await;
}

#[tokio::test]
async fn a_metrics_push_refuses_bad_fields_with_a_4xx_naming_them_and_stores_nothing() {
    let mut s = setup().await;
    let c = s.app.register_collector("pusher").await;
    let collector = c.id.clone();
    let push = Route {
        method: Method::POST,
        path: "/metrics/push".into(),
        token: Some(c.token.clone()),
        secret: None,
        valid: Box::new(move |i| {
            json!({"batch_id": format!("b-{i}"), "collector_id": collector,
                   "collected_at": chrono::Utc::now(), "instance": "db-1",
                   "samples": [{"metric": "pg_up", "value": 1}]})
        }),
    };
    for (field, value, expect) in [
        ("batch_id", unique(2, 128), Accepted),
        ("batch_id", long(129), Refused("batch_id")),
        ("batch_id", json!(""), Refused("batch_id")),
        ("batch_id", json!("b\r\nx"), Refused("batch_id")),
        ("batch_id", json!(7), Refused("batch_id")),
        ("instance", long(512), Accepted),
        ("instance", long(513), Refused("instance")),
        ("instance", ctrl(), Refused("instance")),
        ("instance", json!({}), Refused("instance")),
        ("collected_at", json!("yesterday"), Refused("collected_at")),
        (
            "collected_at",
            json!("1900-01-01T00:00:00Z"),
            Refused("collected_at"),
        ),
        ("statements", json!({"1": "select 1"}), Accepted),
        (
            "statements",
            json!({"q".repeat(129): "select 1"}),
            Refused("statements"),
        ),
        (
            "statements",
            json!({"1": "s".repeat(64 * 1024 + 1)}),
            Refused("statements"),
        ),
        ("statements", json!([1]), Refused("statements")),
        (
            "samples",
            json!([{"metric": "m", "value": "x"}]),
            Refused("samples[0]"),
        ),
        ("samples", json!("none"), Refused("samples")),
    ] {
        s.field(&push, field, value, expect).await;
    }
    s.malformed(&push).await;
}

#[tokio::test]
async fn a_pushs_bad_samples_are_counted_in_the_answer_not_a_refusal_of_the_batch() {
    let s = setup().await;
    let c = s.app.register_collector("pusher").await;
    let body = json!({"batch_id": "per-sample", "collector_id": c.id,
    "collected_at": chrono::Utc::now(), "samples": [
        {"metric": "ok", "value": 1e200},
        {"metric": "huge", "value": 1e201},
        {"metric": "bad name", "value": 1},
        {"metric": "long_label", "labels": {"k": "v".repeat(1025)}, "value": 1}
    ]});
    let r = s.app.push_accepted(&c, &body).await;
    assert_eq!(
        (
            r.body["metrics_accepted"].clone(),
            r.body["metrics_rejected"].clone()
        ),
        (json!(1), json!(3)),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn the_collector_token_route_refuses_bad_fields_with_a_4xx_and_stores_nothing() {
    let mut s = setup().await;
    let c = s.app.register_collector("pusher").await;
    let token = Route {
        method: Method::POST,
        path: format!("/collectors/{}/token", c.id),
        token: None,
        secret: None,
        valid: Box::new(|_| json!({})),
    };
    s.field(
        &token,
        "refresh_secret",
        json!(5),
        Refused("refresh_secret"),
    )
    .await;
    s.field(&token, "refresh_secret", long(100_000), Client)
        .await;
}

fn instance(i: usize) -> Value {
    json!({"name": format!("i{i}"), "host": "127.0.0.1", "port": 5432,
           "database": "postgres", "username": "postgres", "sslmode": "disable"})
}

/// The fields of a managed instance, at and past their bounds.
fn instance_cases() -> Vec<(&'static str, Value, Expect)> {
    let tag = |n: usize| json!("t".repeat(n));
    vec![
        ("name", unique(3, 128), Accepted),
        ("name", long(129), Refused("name")),
        ("name", json!(""), Refused("name")),
        ("name", ctrl(), Refused("name")),
        ("host", long(255), Accepted),
        ("host", long(256), Refused("host")),
        ("host", json!(""), Refused("host")),
        ("host", ctrl(), Refused("host")),
        ("host", json!(1), Refused("host")),
        ("port", json!(0), Refused("port")),
        ("port", json!(65536), Refused("port")),
        ("port", json!("5432"), Refused("port")),
        ("port", json!(1e300), Refused("port")),
        ("database", long(63), Accepted),
        ("database", long(64), Refused("database")),
        ("database", json!(""), Refused("database")),
        ("database", ctrl(), Refused("database")),
        ("username", long(63), Accepted),
        ("username", long(64), Refused("username")),
        ("username", json!(null), Refused("username")),
        ("password", long(1024), Accepted),
        ("password", long(1025), Refused("password")),
        ("password", json!(12), Refused("password")),
        ("sslmode", json!("sometimes"), Refused("sslmode")),
        (
            "connect_timeout_s",
            json!(301),
            Refused("connect_timeout_s"),
        ),
        ("tags", json!(vec![tag(64); 32]), Accepted),
        ("tags", json!(vec![tag(1); 33]), Refused("tags")),
        ("tags", json!([tag(65)]), Refused("tags")),
        ("tags", json!(["a\u{7}"]), Refused("tags")),
        ("tags", json!("one"), Refused("tags")),
    ]
}

#[tokio::test]
async fn creating_an_instance_refuses_bad_fields_with_a_4xx_naming_them_and_stores_nothing() {
    let mut s = setup().await;
    let create = Route {
        method: Method::POST,
        path: "/managed-instances".into(),
        token: s.admin(),
        secret: None,
        valid: Box::new(instance),
    };
    for (field, value, expect) in instance_cases() {
        s.field(&create, field, value, expect).await;
    }
    s.malformed(&create).await;
    // A 1.1 MB database, the stall of issue 13.
    s.field(&create, "database", long(1_100_000), Refused("database"))
        .await;
}

#[tokio::test]
async fn updating_an_instance_refuses_bad_fields_with_a_4xx_naming_them_and_stores_nothing() {
    let mut s = setup().await;
    let r = s
        .app
        .api()
        .post("/managed-instances", Some(s.app.admin()), instance(0))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().expect("id").to_owned();
    let update = Route {
        method: Method::PUT,
        path: format!("/managed-instances/{id}"),
        token: s.admin(),
        secret: None,
        valid: Box::new(|_| json!({})),
    };
    for (field, value, expect) in instance_cases() {
        // `name` must stay unique and `null` means "keep" in an update.
        if field == "name" && matches!(expect, Accepted) || value.is_null() {
            continue;
        }
        s.field(&update, field, value, expect).await;
    }
    s.malformed(&update).await;
}

#[tokio::test]
async fn the_direct_connection_test_refuses_bad_fields_with_a_4xx_naming_them() {
    let mut s = setup().await;
    let direct = Route {
        method: Method::POST,
        path: "/managed-instances/test-connection-direct".into(),
        token: s.admin(),
        secret: None,
        valid: Box::new(|_| {
            json!({"host": "127.0.0.1", "port": 5432, "database": "postgres",
                                   "username": "postgres", "sslmode": "disable"})
        }),
    };
    for (field, value, expect) in [
        ("database", long(63), Accepted),
        ("host", long(256), Refused("host")),
        ("database", long(64), Refused("database")),
        ("username", ctrl(), Refused("username")),
        ("password", long(1025), Refused("password")),
        ("port", json!(-1), Refused("port")),
    ] {
        s.field(&direct, field, value, expect).await;
    }
    s.malformed(&direct).await;
}

#[tokio::test]
async fn user_routes_refuse_bad_fields_with_a_4xx_naming_them_and_store_nothing() {
    let mut s = setup().await;
    let password = "a long enough password";
    let users = Route {
        method: Method::POST,
        path: "/users".into(),
        token: s.admin(),
        secret: None,
        valid: Box::new(
            move |i| json!({"username": format!("user{i}"), "password": password, "role": "viewer"}),
        ),
    };
    for (field, value, expect) in [
        ("username", unique(4, 64), Accepted),
        ("username", long(65), Refused("username")),
        ("username", json!("ab"), Refused("username")),
        ("username", json!("a\nbc"), Refused("username")),
        ("username", json!(""), Refused("username")),
        ("password", long(1024), Accepted),
        ("password", long(1025), Refused("password")),
        ("password", json!("short"), Refused("password")),
        ("password", json!([]), Refused("password")),
        ("role", json!("root"), Refused("role")),
        ("role", json!(1), Refused("role")),
    ] {
        s.field(&users, field, value, expect).await;
    }
    s.malformed(&users).await;
    let id = s
        .app
        .api()
        .create_user(s.app.admin(), "target", password, "viewer")
        .await;
    let update = Route {
        method: Method::PUT,
        path: format!("/users/{id}"),
        token: s.admin(),
        secret: None,
        valid: Box::new(|_| json!({})),
    };
    s.field(&update, "role", json!("root"), Refused("role"))
        .await;
    s.field(&update, "active", json!("yes"), Refused("active"))
        .await;
    s.malformed(&update).await;
    let reset = Route {
        method: Method::POST,
        path: format!("/users/{id}/reset-password"),
        token: s.admin(),
        secret: None,
        valid: Box::new(move |_| json!({"password": password})),
    };
    s.field(&reset, "password", long(1025), Refused("password"))
        .await;
    s.field(&reset, "password", json!(""), Refused("password"))
        .await;
    s.malformed(&reset).await;
}

#[tokio::test]
async fn registration_secret_routes_refuse_bad_fields_with_a_4xx_naming_them_and_store_nothing() {
    let mut s = setup().await;
    let secrets = Route {
        method: Method::POST,
        path: "/registration-secrets".into(),
        token: s.admin(),
        secret: None,
        valid: Box::new(|i| json!({"name": format!("s{i}")})),
    };
    for (field, value, expect) in [
        ("name", unique(5, 128), Accepted),
        ("name", long(129), Refused("name")),
        ("name", json!(""), Refused("name")),
        ("name", ctrl(), Refused("name")),
        ("max_registrations", json!(0), Refused("max_registrations")),
        ("max_registrations", json!(-1), Refused("max_registrations")),
        (
            "max_registrations",
            json!(1e20),
            Refused("max_registrations"),
        ),
        (
            "expires_at",
            json!("2000-01-01T00:00:00Z"),
            Refused("expires_at"),
        ),
        ("expires_at", json!("soon"), Refused("expires_at")),
    ] {
        s.field(&secrets, field, value, expect).await;
    }
    s.malformed(&secrets).await;
    let r = s
        .app
        .api()
        .post(
            "/registration-secrets",
            Some(s.app.admin()),
            json!({"name": "renamed"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let secret_id = r.body["id"].as_str().expect("id").to_owned();
    let rename = Route {
        method: Method::PUT,
        path: format!("/registration-secrets/{secret_id}"),
        token: s.admin(),
        secret: None,
        valid: Box::new(|_| json!({})),
    };
    s.field(&rename, "name", long(129), Refused("name")).await;
    s.field(&rename, "name", ctrl(), Refused("name")).await;
    s.field(&rename, "active", json!(1), Refused("active"))
        .await;
    s.malformed(&rename).await;
}

#[tokio::test]
async fn auth_routes_refuse_bad_fields_with_a_4xx_naming_them_and_store_nothing() {
    let mut s = setup().await;
    let login = Route {
        method: Method::POST,
        path: "/auth/login".into(),
        token: None,
        secret: None,
        valid: Box::new(|_| json!({"username": "nobody", "password": "wrong"})),
    };
    s.field(&login, "username", long(65), Refused("username"))
        .await;
    s.field(&login, "password", long(1025), Refused("password"))
        .await;
    s.field(&login, "username", json!(5), Refused("username"))
        .await;
    s.malformed(&login).await;
    let change = Route {
        method: Method::POST,
        path: "/auth/change-password".into(),
        token: s.admin(),
        secret: None,
        valid: Box::new(|_| json!({"current_password": ADMIN_PASSWORD, "new_password": "short"})),
    };
    s.field(&change, "new_password", long(1025), Refused("new_password"))
        .await;
    s.field(
        &change,
        "current_password",
        json!(1),
        Refused("current_password"),
    )
    .await;
    s.malformed(&change).await;
    let refresh = Route {
        method: Method::POST,
        path: "/auth/refresh".into(),
        token: None,
        secret: None,
        valid: Box::new(|_| json!({"refresh_token": "nope"})),
    };
    s.field(
        &refresh,
        "refresh_token",
        json!(5),
        Refused("refresh_token"),
    )
    .await;
    s.field(&refresh, "refresh_token", long(100_000), Client)
        .await;
    s.malformed(&refresh).await;
}

#[tokio::test]
async fn bad_audit_query_parameters_get_a_4xx_with_the_json_error_body() {
    let s = setup().await;
    for path in [
        "/audit?limit=abc",
        "/audit?limit=0",
        "/audit?from=yesterday",
        "/audit?limit=99999999999999999999",
    ] {
        let r = s.app.api().get(path, s.app.admin()).await;
        assert!(
            (400..500).contains(&r.status),
            "{path}: {} {}",
            r.status,
            r.body
        );
        assert!(r.body["error"]["code"].is_string(), "{path}: {}", r.body);
    }
}
