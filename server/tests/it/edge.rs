//! Bounds at the edge: oversized, malformed and hostile input is refused with a 4xx naming the
//! field before anything is stored, and none of it can stall the pipeline.

use chrono::Utc;
use pganalytics::app::Roles;
use serde_json::{json, Value};

use crate::support::*;

async fn setup() -> (TestEnv, pganalytics::app::Running, Api, String) {
    let env = TestEnv::new().await.with_bootstrap_admin();
    let running = env.start(Roles::ALL).await;
    let api = Api::new(running.addr.expect("http"));
    let admin = api.token(ADMIN_USER, ADMIN_PASSWORD).await;
    (env, running, api, admin)
}

/// A 4xx with the JSON error body; with `field`, a 422 naming it.
#[track_caller]
fn assert_refused(reply: &Reply, field: Option<&str>, what: &str) {
    assert!(
        (400..500).contains(&reply.status),
        "{what}: expected a 4xx, got {} {}",
        reply.status,
        reply.body
    );
    assert!(
        reply.body["error"]["code"].is_string() && reply.body["error"]["message"].is_string(),
        "{what}: no JSON error body: {}",
        reply.body
    );
    if let Some(field) = field {
        assert_eq!(reply.status, 422, "{what}: {}", reply.body);
        assert_eq!(
            reply.body["error"]["field"], field,
            "{what}: {}",
            reply.body
        );
    }
}

async fn register(api: &Api, secret: &str, body: Value) -> Reply {
    let response = api
        .http
        .post(format!("{}/collectors/register", api.base))
        .header("X-Registration-Secret", secret)
        .json(&body)
        .send()
        .await
        .expect("register");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

fn instance_body(database: &str) -> Value {
    json!({"name": "prod", "host": "127.0.0.1", "port": 5432, "database": database,
           "username": "postgres", "sslmode": "disable"})
}

fn native_batch(collector: &str, batch_id: &str, instance: &str, value: f64) -> Value {
    json!({"batch_id": batch_id, "collector_id": collector, "collected_at": Utc::now(),
           "instance": instance,
           "samples": [{"metric": "pg_edge_value", "value": value}]})
}

#[tokio::test]
async fn a_huge_collector_version_or_instance_database_is_refused_and_the_pipeline_keeps_going() {
    let (env, running, api, admin) = setup().await;
    let secret = registration_secret(&api, &admin, "huge").await;
    let huge = "v".repeat(1_100_000);
    let r = register(
        &api,
        &secret,
        json!({"name": "big", "hostname": "db-1", "version": huge}),
    )
    .await;
    assert_refused(&r, Some("version"), "1.1 MB version");
    let r = api
        .post("/managed-instances", Some(&admin), instance_body(&huge))
        .await;
    assert_refused(&r, Some("database"), "1.1 MB database");
    let sql = env.sql().await;
    assert_eq!(
        count(
            &sql,
            "SELECT count(*) FROM events WHERE aggregate_type IN ('collector', 'managed_instance')"
        )
        .await,
        0,
        "nothing stored for refused commands"
    );
    // The pipeline is not frozen: a user created afterwards is visible, and so is a collector.
    let id = api
        .create_user(&admin, "after-huge", "a long enough password", "viewer")
        .await;
    let users = api.get("/users", &admin).await;
    assert!(
        users.body.as_array().is_some_and(|all| all
            .iter()
            .any(|u| u["id"] == id.as_str() && u["username"] == "after-huge")),
        "{}",
        users.body
    );
    let c = register_collector(&api, &admin, "after-huge").await;
    let r = api.get(&format!("/collectors/{}", c.id), &admin).await;
    assert_eq!(r.status, 200, "{}", r.body);
    running.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn a_batch_naming_a_3000_character_instance_is_refused_on_both_paths() {
    let (env, running, api, admin) = setup().await;
    let c = register_collector(&api, &admin, "wide").await;
    let long = "i".repeat(3000);
    let r = api
        .post(
            "/metrics/push",
            Some(&c.token),
            native_batch(&c.id, "wide-1", &long, 1.0),
        )
        .await;
    assert_refused(&r, Some("instance"), "3000-character instance over HTTP");
    // Over NATS the projectors refuse it with the reason, and move on to the next batch.
    let client = env.nats().await;
    let js = async_nats::jetstream::new(client);
    for (id, instance) in [("wide-2", long.as_str()), ("narrow", "db-1")] {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id);
        headers.insert("Pga-Collector-Token", c.token.as_str());
        let body = native_batch(&c.id, id, instance, 1.0);
        js.publish_with_headers(
            env.config.names.subject(&format!("metrics.{}", c.id)),
            headers,
            serde_json::to_vec(&body).expect("json").into(),
        )
        .await
        .expect("publish")
        .await
        .expect("ack");
    }
    let sql = env.sql().await;
    eventually("the narrow batch stored", || async {
        (count(&sql, "SELECT count(*) FROM metric_applied_batches").await == 1).then_some(())
    })
    .await;
    assert_eq!(
        count(&sql, "SELECT count(*) FROM metric_series").await,
        1,
        "only the narrow batch's series"
    );
    let reasons = rejected_reasons(&sql, "metric_samples").await;
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("instance"), "{reasons:?}");
    running.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn a_value_that_would_overflow_a_rollup_is_refused_per_sample() {
    let (env, running, api, admin) = setup().await;
    let c = register_collector(&api, &admin, "overflow").await;
    for id in ["huge-1", "huge-2"] {
        let r = api
            .post(
                "/metrics/push",
                Some(&c.token),
                native_batch(&c.id, id, "db-1", 1e308),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.body);
        assert_eq!(r.body["metrics_accepted"], 0, "{}", r.body);
        assert_eq!(r.body["metrics_rejected"], 1, "{}", r.body);
    }
    let r = api
        .post(
            "/metrics/push",
            Some(&c.token),
            native_batch(&c.id, "fine", "db-1", 1e200),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["metrics_accepted"], 1, "{}", r.body);
    let sql = env.sql().await;
    eventually("the three batches applied", || async {
        (count(&sql, "SELECT count(*) FROM metric_applied_batches").await == 3).then_some(())
    })
    .await;
    assert_eq!(count(&sql, "SELECT count(*) FROM metric_samples").await, 1);
    running.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn a_batch_id_with_a_line_break_is_refused_not_a_panic() {
    let (env, running, api, admin) = setup().await;
    let c = register_collector(&api, &admin, "crlf").await;
    for id in ["b\r\nNats-Msg-Id: other", "b\u{0}", "with space"] {
        let r = api
            .post(
                "/metrics/push",
                Some(&c.token),
                native_batch(&c.id, id, "db-1", 1.0),
            )
            .await;
        assert_refused(&r, Some("batch_id"), id);
    }
    let r = api
        .post(
            "/metrics/push",
            Some(&c.token),
            native_batch(&c.id, "after-crlf", "db-1", 1.0),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        stream_len(&env.jetstream().await, &env.config.names.metrics_stream()).await,
        1
    );
    running.stop().await;
    env.cleanup().await;
}

/// A private nats-server taking messages of at most `max_payload` bytes; killed on drop.
struct SmallNats(std::process::Child);

impl Drop for SmallNats {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Starts a nats-server on `port` taking messages of at most 32 KiB.
async fn small_nats(port: u16) -> (SmallNats, std::path::PathBuf) {
    let conf = std::env::temp_dir().join(format!("pga-small-nats-{}.conf", uuid::Uuid::new_v4()));
    std::fs::write(
        &conf,
        format!("listen: 127.0.0.1:{port}\nmax_payload: 32768\n"),
    )
    .expect("nats conf");
    let nats = SmallNats(
        std::process::Command::new("nats-server")
            .arg("-c")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server on PATH"),
    );
    eventually("nats-server listening", || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    (nats, conf)
}

#[tokio::test]
async fn the_server_refuses_to_start_on_a_nats_whose_max_payload_cannot_carry_every_event() {
    let port = free_port();
    let (_nats, conf) = small_nats(port).await;
    let env = TestEnv::with_nats(&format!("nats://127.0.0.1:{port}")).await;
    let started = pganalytics::app::start(
        &env.config,
        Roles::ALL,
        tokio_util::sync::CancellationToken::new(),
    )
    .await;
    let error = match started {
        Ok(running) => {
            running.stop().await;
            panic!("started on a NATS server with max_payload 32768");
        }
        Err(e) => format!("{e:#}"),
    };
    assert!(error.contains("max_payload"), "{error}");
    let _ = std::fs::remove_file(&conf);
    env.cleanup().await;
}

#[tokio::test]
async fn a_server_started_before_nats_stops_once_nats_turns_out_too_small_for_its_events() {
    let port = free_port();
    let env = TestEnv::with_nats(&format!("nats://127.0.0.1:{port}")).await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = pganalytics::app::start(&env.config, Roles::ALL, shutdown.clone())
        .await
        .expect("starts while NATS is down");
    let (_nats, conf) = small_nats(port).await;
    let stopped =
        tokio::time::timeout(std::time::Duration::from_secs(30), shutdown.cancelled()).await;
    assert!(
        stopped.is_ok(),
        "still running on a NATS server with max_payload 32768"
    );
    running.wait().await;
    let _ = std::fs::remove_file(&conf);
    env.cleanup().await;
}
