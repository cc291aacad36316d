//! Bounds at the edge: oversized, malformed and hostile input is refused with a 4xx naming the
//! field before anything is stored, and none of it can stall the pipeline.

use chrono::Utc;
use pganalytics::app::Roles;
use serde_json::{json, Value};

use crate::support::*;

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
    let app = spawn_admin_app().await;
    let (api, admin) = (app.api(), app.admin());
    let secret = app.registration_secret("huge").await;
    let huge = "v".repeat(1_100_000);
    let r = api
        .register(
            Some(&secret),
            json!({"name": "big", "hostname": "db-1", "version": huge}),
        )
        .await;
    assert_refused(&r, Some("version"), "1.1 MB version");
    let r = api
        .post("/managed-instances", Some(admin), instance_body(&huge))
        .await;
    assert_refused(&r, Some("database"), "1.1 MB database");
    let sql = app.sql().await;
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
        .create_user(admin, "after-huge", "a long enough password", "viewer")
        .await;
    let users = api.get("/users", admin).await;
    assert!(
        users.body.as_array().is_some_and(|all| all
            .iter()
            .any(|u| u["id"] == id.as_str() && u["username"] == "after-huge")),
        "{}",
        users.body
    );
    let c = app.register_collector("after-huge").await;
    let r = api.get(&format!("/collectors/{}", c.id), admin).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_batch_naming_a_3000_character_instance_is_refused_on_both_paths() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("wide").await;
    let long = "i".repeat(3000);
    let r = app
        .push(&c, &native_batch(&c.id, "wide-1", &long, 1.0))
        .await;
    assert_refused(&r, Some("instance"), "3000-character instance over HTTP");
    // Over NATS the projectors refuse it with the reason, and move on to the next batch.
    for (id, instance) in [("wide-2", long.as_str()), ("narrow", "db-1")] {
        app.publish_batch(&c, &native_batch(&c.id, id, instance, 1.0), id)
            .await;
    }
    app.wait_for_batches(1).await;
    let sql = app.sql().await;
    assert_eq!(
        count(&sql, "SELECT count(*) FROM metric_series").await,
        1,
        "only the narrow batch's series"
    );
    let reasons = rejected_reasons(&sql, "metric_samples").await;
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("instance"), "{reasons:?}");
}

#[tokio::test]
async fn a_value_that_would_overflow_a_rollup_is_refused_per_sample() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("overflow").await;
    for id in ["huge-1", "huge-2"] {
        let r = app
            .push_accepted(&c, &native_batch(&c.id, id, "db-1", 1e308))
            .await;
        assert_eq!(r.body["metrics_accepted"], 0, "{}", r.body);
        assert_eq!(r.body["metrics_rejected"], 1, "{}", r.body);
    }
    let r = app
        .push_accepted(&c, &native_batch(&c.id, "fine", "db-1", 1e200))
        .await;
    assert_eq!(r.body["metrics_accepted"], 1, "{}", r.body);
    app.wait_for_batches(3).await;
    assert_eq!(
        count(&app.sql().await, "SELECT count(*) FROM metric_samples").await,
        1
    );
}

#[tokio::test]
async fn a_batch_id_with_a_line_break_is_refused_not_a_panic() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("crlf").await;
    for id in ["b\r\nNats-Msg-Id: other", "b\u{0}", "with space"] {
        let r = app.push(&c, &native_batch(&c.id, id, "db-1", 1.0)).await;
        assert_refused(&r, Some("batch_id"), id);
    }
    app.push_accepted(&c, &native_batch(&c.id, "after-crlf", "db-1", 1.0))
        .await;
    assert_eq!(
        metric_stream_len(&app.jetstream().await, &app.config().names).await,
        1
    );
}

/// A private nats-server taking messages of at most `max_payload` bytes; killed on drop.
struct SmallNats(std::process::Child);

impl Drop for SmallNats {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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
    crate::faults::wait_for_port(port).await;
    (nats, conf)
}

#[tokio::test]
async fn the_server_refuses_to_start_on_a_nats_whose_max_payload_cannot_carry_every_event() {
    let port = crate::faults::free_port();
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
}

#[tokio::test]
async fn a_server_started_before_nats_stops_once_nats_turns_out_too_small_for_its_events() {
    let port = crate::faults::free_port();
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
}
