//! Collectors: registration, tokens, pushes over HTTP and NATS, activity and live updates.

use std::io::Write;
use std::time::Duration;

use chrono::{Duration as ChronoDuration, Utc};
use futures::StreamExt;
use pganalytics::app::Roles;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

async fn setup() -> (TestEnv, pganalytics::app::Running, Api, String) {
    let env = TestEnv::new().await.with_bootstrap_admin();
    let running = env.start(Roles::ALL).await;
    let api = Api::new(running.addr.expect("http"));
    let admin = api.token(ADMIN_USER, ADMIN_PASSWORD).await;
    (env, running, api, admin)
}

fn batch(
    collector: &str,
    batch_id: &str,
    points: usize,
    collected_at: chrono::DateTime<Utc>,
) -> Value {
    let samples: Vec<Value> = (0..points)
        .map(|i| json!({"metric": "pg_test_value", "labels": {"n": i.to_string()}, "value": i as f64}))
        .collect();
    json!({"batch_id": batch_id, "collector_id": collector, "collected_at": collected_at, "samples": samples})
}

async fn push(api: &Api, token: &str, body: &Value) -> Reply {
    api.post("/metrics/push", Some(token), body.clone()).await
}

async fn collector_view(api: &Api, admin: &str, id: &str) -> Value {
    api.get(&format!("/collectors/{id}"), admin).await.body
}

async fn wait_counts(api: &Api, admin: &str, id: &str, total: i64) -> Value {
    eventually(&format!("collector {id} shows {total} points"), || async {
        let v = collector_view(api, admin, id).await;
        (v["metrics_count_total"] == total).then_some(v)
    })
    .await
}

async fn publish_nats(env: &TestEnv, subject_id: &str, token: &str, body: &Value, msg_id: &str) {
    let client = env.nats().await;
    let js = async_nats::jetstream::new(client);
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", msg_id);
    headers.insert("Pga-Collector-Token", token);
    js.publish_with_headers(
        env.config.names.subject(&format!("metrics.{subject_id}")),
        headers,
        serde_json::to_vec(body).expect("json").into(),
    )
    .await
    .expect("publish")
    .await
    .expect("ack");
}

#[tokio::test]
async fn a_registered_collector_pushes_and_the_list_shows_its_activity_once_per_batch() {
    let (env, running, api, admin) = setup().await;
    let c = register_collector(&api, &admin, "pusher").await;
    let listed = api.get("/collectors", &admin).await;
    assert_eq!(listed.body[0]["status"], "registered");
    assert_eq!(listed.body[0]["metrics_count_total"], 0);

    let first = batch(&c.id, &uuid::Uuid::new_v4().to_string(), 2000, Utc::now());
    let r = push(&api, &c.token, &first).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        (
            r.body["status"].clone(),
            r.body["metrics_accepted"].clone(),
            r.body["duplicate"].clone()
        ),
        (json!("accepted"), json!(2000), json!(false))
    );
    let v = wait_counts(&api, &admin, &c.id, 2000).await;
    assert_eq!(v["status"], "active");
    assert_eq!(v["metrics_count_24h"], 2000);
    assert!(v["last_seen"].is_string());

    // A retry of the same batch: acknowledged as a duplicate, counted once.
    let again = push(&api, &c.token, &first).await;
    assert_eq!(
        (again.status, again.body["duplicate"].clone()),
        (202, json!(true))
    );
    // The same batch over NATS too: still once (projector dedup, beyond JetStream's window).
    publish_nats(&env, &c.id, &c.token, &first, "another-msg-id").await;
    // A new batch over NATS counts.
    let second = batch(&c.id, &uuid::Uuid::new_v4().to_string(), 10, Utc::now());
    publish_nats(&env, &c.id, &c.token, &second, "second").await;
    let v = wait_counts(&api, &admin, &c.id, 2010).await;
    assert_eq!(v["batches_total"], 2);
    // The samples projection too stores the duplicate once: once it has the batch published
    // after it, exactly the 2,010 points of the two batches are there.
    let sql = env.sql().await;
    let second_id = second["batch_id"].as_str().expect("id").to_owned();
    eventually(
        "the samples projection reached the second batch",
        || async {
            let n: i64 = sql
                .query_one(
                    "SELECT count(*) FROM metric_applied_batches WHERE batch_id = $1",
                    &[&second_id],
                )
                .await
                .expect("count")
                .get(0);
            (n == 1).then_some(())
        },
    )
    .await;
    let stored: i64 = sql
        .query_one("SELECT count(*) FROM metric_samples", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(stored, 2010, "the batch sent twice is stored once");

    // Data collected 25 hours ago counts in the total, not in the rolling 24 hours.
    let old = batch(
        &c.id,
        &uuid::Uuid::new_v4().to_string(),
        5,
        Utc::now() - ChronoDuration::hours(25),
    );
    assert_eq!(push(&api, &c.token, &old).await.status, 202);
    let v = wait_counts(&api, &admin, &c.id, 2015).await;
    assert_eq!(v["metrics_count_24h"], 2010);
    // A day later (the clock driven through the buckets: every minute moved back a day) the
    // rolling count has gone down to nothing, and the total stays.
    sql.execute(
        "UPDATE rm_collector_minutes SET minute = minute - interval '1 day' WHERE collector_id = $1::text::uuid",
        &[&c.id],
    )
    .await
    .expect("age buckets");
    let v = collector_view(&api, &admin, &c.id).await;
    assert_eq!(
        (
            v["metrics_count_24h"].clone(),
            v["metrics_count_total"].clone()
        ),
        (json!(0), json!(2015))
    );
    running.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn forged_nats_batches_are_rejected_with_a_reason_and_never_counted() {
    let (env, running, api, admin) = setup().await;
    let a = register_collector(&api, &admin, "alpha").await;
    let b = register_collector(&api, &admin, "beta").await;
    // B's token on A's subject; A's batch on B's subject with A's token; no token at all.
    let for_a = batch(&a.id, "forged-1", 3, Utc::now());
    publish_nats(&env, &a.id, &b.token, &for_a, "f1").await;
    publish_nats(
        &env,
        &b.id,
        &a.token,
        &batch(&b.id, "forged-2", 3, Utc::now()),
        "f2",
    )
    .await;
    publish_nats(
        &env,
        &a.id,
        "not-a-token",
        &batch(&a.id, "forged-3", 3, Utc::now()),
        "f3",
    )
    .await;
    // A genuine batch after them is applied.
    publish_nats(
        &env,
        &a.id,
        &a.token,
        &batch(&a.id, "genuine", 4, Utc::now()),
        "g",
    )
    .await;
    let v = wait_counts(&api, &admin, &a.id, 4).await;
    assert_eq!(v["rejected_batches"], 2);
    assert_eq!(
        collector_view(&api, &admin, &b.id).await["metrics_count_total"],
        0
    );
    let sql = env.sql().await;
    let reasons = rejected_reasons(&sql, "collector_activity").await;
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].contains("token belongs to"), "{reasons:?}");
    assert!(reasons[1].contains("token belongs to"), "{reasons:?}");
    assert!(reasons[2].contains("token refused"), "{reasons:?}");
    running.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn a_deleted_collector_is_refused_on_both_paths_at_once() {
    let (env, running, api, admin) = setup().await;
    api.create_user(&admin, "col-editor", "editor password 1", "editor")
        .await;
    api.create_user(&admin, "col-viewer", "viewer password 1", "viewer")
        .await;
    let editor = api.token("col-editor", "editor password 1").await;
    let viewer = api.token("col-viewer", "viewer password 1").await;
    let c = register_collector(&api, &admin, "doomed").await;
    let path = format!("/collectors/{}", c.id);
    for token in [&viewer, &editor] {
        assert_eq!(
            api.call(Method::DELETE, &path, Some(token), None)
                .await
                .status,
            403
        );
        assert_eq!(api.get("/registration-secrets", token).await.status, 403);
        let create = api
            .post("/registration-secrets", Some(token), json!({"name": "x"}))
            .await;
        assert_eq!(create.status, 403);
    }
    assert_eq!(
        api.call(Method::DELETE, &path, Some(&admin), None)
            .await
            .status,
        204
    );
    let r = push(&api, &c.token, &batch(&c.id, "after-delete", 1, Utc::now())).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].clone()),
        (401, json!("collector_deleted"))
    );
    let refresh = api
        .post(
            &format!("/collectors/{}/token", c.id),
            None,
            json!({"refresh_secret": c.refresh_secret}),
        )
        .await;
    assert_eq!(refresh.status, 401);
    publish_nats(
        &env,
        &c.id,
        &c.token,
        &batch(&c.id, "nats-after-delete", 1, Utc::now()),
        "nd",
    )
    .await;
    let sql = env.sql().await;
    eventually("the NATS batch is rejected", || async {
        let n = count(
            &sql,
            "SELECT count(*) FROM projection_rejected WHERE projection = 'collector_activity' AND reason LIKE '%deleted or unknown%'",
        )
        .await;
        (n == 1).then_some(())
    })
    .await;
    assert_eq!(api.get("/collectors", &admin).await.body, json!([]));
    running.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn tokens_refresh_with_the_refresh_secret_and_are_scoped_to_one_collector() {
    let (env, running, api, admin) = setup().await;
    let a = register_collector(&api, &admin, "scoped-a").await;
    let b = register_collector(&api, &admin, "scoped-b").await;
    let r = api
        .post(
            &format!("/collectors/{}/token", a.id),
            None,
            json!({"refresh_secret": a.refresh_secret}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let fresh = r.body["token"].as_str().expect("token").to_owned();
    assert_eq!(
        push(&api, &fresh, &batch(&a.id, "fresh", 1, Utc::now()))
            .await
            .status,
        202
    );
    let wrong = api
        .post(
            &format!("/collectors/{}/token", a.id),
            None,
            json!({"refresh_secret": b.refresh_secret}),
        )
        .await;
    assert_eq!(wrong.status, 401);
    // A's token naming B in the batch: forbidden.
    let cross = push(&api, &a.token, &batch(&b.id, "cross", 1, Utc::now())).await;
    assert_eq!(cross.status, 403, "{}", cross.body);
    // A user token is not a collector token.
    assert_eq!(
        push(&api, &admin, &batch(&a.id, "user", 1, Utc::now()))
            .await
            .status,
        401
    );
    running.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn pushes_with_bad_input_get_clear_errors_and_bad_samples_are_counted() {
    let (env, running, api, admin) = setup().await;
    let c = register_collector(&api, &admin, "sloppy").await;
    let mixed = json!({
        "batch_id": "mixed", "collector_id": c.id, "collected_at": Utc::now(),
        "samples": [
            {"metric": "pg_ok", "value": 1},
            {"metric": "", "value": 1},
            {"metric": "pg_nan", "value": null},
            {"metric": "pg_future", "value": 1, "ts": Utc::now() + ChronoDuration::hours(2)}
        ]
    });
    let r = push(&api, &c.token, &mixed).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        (
            r.body["metrics_accepted"].clone(),
            r.body["metrics_rejected"].clone()
        ),
        (json!(1), json!(3))
    );

    let raw = |body: Vec<u8>, gzip: bool| {
        let mut req = api
            .http
            .post(format!("{}/metrics/push", api.base))
            .bearer_auth(&c.token)
            .header("content-type", "application/json")
            .body(body);
        if gzip {
            req = req.header("content-encoding", "gzip");
        }
        req.send()
    };
    assert_eq!(
        raw(b"{not json".to_vec(), false)
            .await
            .expect("send")
            .status()
            .as_u16(),
        400
    );
    assert_eq!(
        raw(b"not gzip at all".to_vec(), true)
            .await
            .expect("send")
            .status()
            .as_u16(),
        400
    );
    let huge = vec![b' '; ingest::MAX_BODY + 1];
    let r = raw(huge, false).await.expect("send");
    assert_eq!(r.status().as_u16(), 413);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "payload_too_large");

    // The old collector's payload, gzip'd: every family, data points counted.
    let v3 = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../domain/fixtures/v3-push-example.json"
    ))
    .expect("fixture")
    .replace("8d3f6a2e-4b1c-4f7e-9a55-2c1d0e9b7f10", &c.id)
    .replace("2026-02-27T15:13:20Z", &Utc::now().to_rfc3339());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(v3.as_bytes()).expect("gzip");
    let r = raw(gz.finish().expect("gzip"), true).await.expect("send");
    assert_eq!(r.status().as_u16(), 202);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["metrics_accepted"], 60, "{body}");
    assert!(body["batch_id"].as_str().expect("id").starts_with("v3-"));
    wait_counts(&api, &admin, &c.id, 61).await;
    running.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn registration_refuses_bad_secrets_and_creates_nothing() {
    let (env, running, api, admin) = setup().await;
    let register = |secret: Option<String>| {
        let api = api.clone();
        async move {
            let mut req = api.http.post(format!("{}/collectors/register", api.base));
            if let Some(s) = secret {
                req = req.header("X-Registration-Secret", s);
            }
            let r = req
                .json(&json!({"name": "c", "hostname": "h"}))
                .send()
                .await
                .expect("send");
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.expect("json"))
        }
    };
    assert_eq!(register(None).await.0, 401);
    assert_eq!(register(Some("pgas_wrong".into())).await.0, 401);

    let capped = api
        .post(
            "/registration-secrets",
            Some(&admin),
            json!({"name": "capped", "max_registrations": 1}),
        )
        .await;
    let capped_secret = capped.body["secret"].as_str().expect("secret").to_owned();
    assert_eq!(register(Some(capped_secret.clone())).await.0, 201);
    let (status, body) = register(Some(capped_secret)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .expect("msg")
        .contains("maximum"));

    let off = api
        .post(
            "/registration-secrets",
            Some(&admin),
            json!({"name": "off"}),
        )
        .await;
    let off_id = off.body["id"].as_str().expect("id");
    let off_secret = off.body["secret"].as_str().expect("secret").to_owned();
    let r = api
        .call(
            Method::PUT,
            &format!("/registration-secrets/{off_id}"),
            Some(&admin),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(r.body["active"], false);
    assert_eq!(register(Some(off_secret.clone())).await.0, 403);

    let past = api
        .post(
            "/registration-secrets",
            Some(&admin),
            json!({"name": "past", "expires_at": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(
        (past.status, past.body["error"]["field"].clone()),
        (422, json!("expires_at"))
    );
    // A secret used after its expiry (a moment in the future when created, past when used).
    let soon = (Utc::now() + ChronoDuration::milliseconds(1500)).to_rfc3339();
    let expiring = api
        .post(
            "/registration-secrets",
            Some(&admin),
            json!({"name": "expiring", "expires_at": soon}),
        )
        .await;
    assert_eq!(expiring.status, 201, "{}", expiring.body);
    let expiring_secret = expiring.body["secret"].as_str().expect("secret").to_owned();
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let (status, body) = register(Some(expiring_secret)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .expect("msg")
        .contains("expired"));

    assert_eq!(
        api.get("/collectors", &admin)
            .await
            .body
            .as_array()
            .expect("list")
            .len(),
        1
    );
    // The secrets themselves are nowhere: not in lists, events or read models.
    let list = api.get("/registration-secrets", &admin).await.body;
    assert!(list
        .as_array()
        .expect("list")
        .iter()
        .all(|s| s.get("secret").is_none()));
    assert_eq!(list[0]["registrations_used"], 1);
    let sql = env.sql().await;
    let leaks: i64 = sql
        .query_one(
            "SELECT (SELECT count(*) FROM events WHERE payload::text LIKE '%' || $1 || '%')
                  + (SELECT count(*) FROM rm_registration_secrets t WHERE row_to_json(t)::text LIKE '%' || $1 || '%')
                  + (SELECT count(*) FROM rm_audit_log t WHERE row_to_json(t)::text LIKE '%' || $1 || '%')",
            &[&off_secret],
        )
        .await
        .expect("search")
        .get(0);
    assert_eq!(leaks, 0);
    assert!(!list.to_string().contains(&off_secret));
    running.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn the_event_stream_tells_the_dashboard_about_a_push() {
    let (env, running, api, admin) = setup().await;
    let c = register_collector(&api, &admin, "live").await;
    let ticket = live_ticket(&api, &admin).await;
    let response = api
        .http
        .get(format!("{}/events?ticket={ticket}", api.base))
        .send()
        .await
        .expect("events");
    assert_eq!(response.status().as_u16(), 200);
    let mut stream = response.bytes_stream();
    let mut seen = String::new();
    // Wait for the stream to be ready before pushing.
    while !seen.contains("event: ready") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("ready")
            .expect("chunk")
            .expect("bytes");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert_eq!(
        push(&api, &c.token, &batch(&c.id, "live-1", 3, Utc::now()))
            .await
            .status,
        202
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !seen.contains(&c.id) {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("a change event")
            .expect("chunk")
            .expect("bytes");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: change"));
    assert!(seen.contains("\"kind\":\"collector\""));
    running.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn with_jetstream_unreachable_a_push_is_a_503_with_retry_after() {
    let port = crate::faults::free_port();
    let env = TestEnv::with_nats(&format!("nats://127.0.0.1:{port}")).await;
    let running = env.start(Roles::ALL).await;
    let api = Api::new(running.addr.expect("http"));
    // Without NATS no collector can be registered through the projections either; make a
    // token for a collector row directly, as the projector would have.
    let c = register_collector_direct(&env, &running).await;
    let r = push(&api, &c.1, &batch(&c.0, "no-bus", 1, Utc::now())).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    running.stop().await;
    env.cleanup().await;
}

/// Inserts a collector into the read model and mints its token with the server's key.
async fn register_collector_direct(
    env: &TestEnv,
    _running: &pganalytics::app::Running,
) -> (String, String) {
    let id = uuid::Uuid::new_v4();
    env.sql()
        .await
        .execute(
            "INSERT INTO rm_collectors (id, name, hostname, version, status, registered_at, last_sequence)
             VALUES ($1, 'direct', 'h', 'v', 'registered', now(), 1)",
            &[&id],
        )
        .await
        .expect("insert");
    let keys = env.token_keys();
    let (token, _) = keys.issue_collector(id).expect("token");
    (id.to_string(), token)
}
