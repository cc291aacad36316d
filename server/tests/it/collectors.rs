//! Collectors: registration, tokens, pushes over HTTP and NATS, activity and live updates.

use std::io::Write;
use std::time::Duration;

use chrono::{Duration as ChronoDuration, Utc};
use futures::StreamExt;
use serde_json::{json, Value};

use crate::support::*;

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

/// A batch of `points` points collected now, under a new id.
fn fresh_batch(c: &RegisteredCollector, points: usize) -> Value {
    batch(&c.id, &uuid::Uuid::new_v4().to_string(), points, Utc::now())
}

#[tokio::test]
async fn a_registered_collector_pushes_and_the_list_shows_its_activity() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("pusher").await;
    let listed = app.api().get("/collectors", app.admin()).await;
    assert_eq!(listed.body[0]["status"], "registered");
    assert_eq!(listed.body[0]["metrics_count_total"], 0);

    let r = app.push_accepted(&c, &fresh_batch(&c, 2000)).await;
    assert_eq!(
        (
            r.body["status"].clone(),
            r.body["metrics_accepted"].clone(),
            r.body["duplicate"].clone()
        ),
        (json!("accepted"), json!(2000), json!(false))
    );
    let v = app.wait_for_points(&c.id, 2000).await;
    assert_eq!(v["status"], "active");
    assert_eq!(v["metrics_count_24h"], 2000);
    assert!(v["last_seen"].is_string());
}

#[tokio::test]
async fn a_batch_sent_again_over_http_or_nats_is_counted_and_stored_once() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("pusher").await;
    let first = fresh_batch(&c, 2000);
    app.push_accepted(&c, &first).await;
    app.wait_for_points(&c.id, 2000).await;

    // A retry of the same batch: acknowledged as a duplicate, counted once.
    let again = app.push(&c, &first).await;
    assert_eq!(
        (again.status, again.body["duplicate"].clone()),
        (202, json!(true))
    );
    // The same batch over NATS too: still once (projector dedup, beyond JetStream's window).
    app.publish_batch(&c, &first, "another-msg-id").await;
    // A new batch over NATS counts.
    let second = fresh_batch(&c, 10);
    app.publish_batch(&c, &second, "second").await;
    let v = app.wait_for_points(&c.id, 2010).await;
    assert_eq!(v["batches_total"], 2);
    // The samples projection too stores the duplicate once: once it has the batch published
    // after it, exactly the 2,010 points of the two batches are there.
    let sql = app.sql().await;
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
    let stored = count(&sql, "SELECT count(*) FROM metric_samples").await;
    assert_eq!(stored, 2010, "the batch sent twice is stored once");
}

#[tokio::test]
async fn points_older_than_a_day_count_in_the_total_and_not_in_the_rolling_24_hours() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("pusher").await;
    app.push_accepted(&c, &fresh_batch(&c, 10)).await;
    // Data collected 25 hours ago counts in the total, not in the rolling 24 hours.
    let old = batch(
        &c.id,
        &uuid::Uuid::new_v4().to_string(),
        5,
        Utc::now() - ChronoDuration::hours(25),
    );
    app.push_accepted(&c, &old).await;
    let v = app.wait_for_points(&c.id, 15).await;
    assert_eq!(v["metrics_count_24h"], 10);
    // A day later (the clock driven through the buckets: every minute moved back a day) the
    // rolling count has gone down to nothing, and the total stays.
    app.sql()
        .await
        .execute(
            "UPDATE rm_collector_minutes SET minute = minute - interval '1 day' WHERE collector_id = $1::text::uuid",
            &[&c.id],
        )
        .await
        .expect("age buckets");
    let v = app.collector(&c.id).await;
    assert_eq!(
        (
            v["metrics_count_24h"].clone(),
            v["metrics_count_total"].clone()
        ),
        (json!(0), json!(15))
    );
}

#[tokio::test]
async fn forged_nats_batches_are_rejected_with_a_reason_and_never_counted() {
    let app = spawn_admin_app().await;
    let a = app.register_collector("alpha").await;
    let b = app.register_collector("beta").await;
    let env = &app.env;
    // B's token on A's subject; A's batch on B's subject with A's token; no token at all.
    let for_a = batch(&a.id, "forged-1", 3, Utc::now());
    env.publish_batch(&a.id, &b.token, &for_a, "f1").await;
    let for_b = batch(&b.id, "forged-2", 3, Utc::now());
    env.publish_batch(&b.id, &a.token, &for_b, "f2").await;
    let untokened = batch(&a.id, "forged-3", 3, Utc::now());
    env.publish_batch(&a.id, "not-a-token", &untokened, "f3")
        .await;
    // A genuine batch after them is applied.
    app.publish_batch(&a, &batch(&a.id, "genuine", 4, Utc::now()), "g")
        .await;
    let v = app.wait_for_points(&a.id, 4).await;
    assert_eq!(v["rejected_batches"], 2);
    assert_eq!(app.collector(&b.id).await["metrics_count_total"], 0);
    let reasons = rejected_reasons(&app.sql().await, "collector_activity").await;
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].contains("token belongs to"), "{reasons:?}");
    assert!(reasons[1].contains("token belongs to"), "{reasons:?}");
    assert!(reasons[2].contains("token refused"), "{reasons:?}");
}

#[tokio::test]
async fn only_an_admin_deletes_a_collector_or_sees_and_creates_registration_secrets() {
    let app = spawn_admin_app().await;
    let api = app.api();
    let editor = app.user("col-editor", "editor").await.token;
    let viewer = app.user("col-viewer", "viewer").await.token;
    let c = app.register_collector("doomed").await;
    let path = format!("/collectors/{}", c.id);
    for token in [&viewer, &editor] {
        assert_eq!(api.delete(&path, token).await.status, 403);
        assert_eq!(api.get("/registration-secrets", token).await.status, 403);
        let create = api
            .post("/registration-secrets", Some(token), json!({"name": "x"}))
            .await;
        assert_eq!(create.status, 403);
    }
    assert_eq!(
        api.get(&path, app.admin()).await.status,
        200,
        "the collector is still there"
    );
}

#[tokio::test]
async fn a_deleted_collector_is_refused_on_both_paths_at_once() {
    let app = spawn_admin_app().await;
    let api = app.api();
    let c = app.register_collector("doomed").await;
    let path = format!("/collectors/{}", c.id);
    assert_eq!(api.delete(&path, app.admin()).await.status, 204);
    let r = app
        .push(&c, &batch(&c.id, "after-delete", 1, Utc::now()))
        .await;
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
    app.publish_batch(&c, &batch(&c.id, "nats-after-delete", 1, Utc::now()), "nd")
        .await;
    let sql = app.sql().await;
    eventually("the NATS batch is rejected", || async {
        let n = count(
            &sql,
            "SELECT count(*) FROM projection_rejected WHERE projection LIKE 'collector\\_activity.p__' AND reason LIKE '%deleted or unknown%'",
        )
        .await;
        (n == 1).then_some(())
    })
    .await;
    assert_eq!(api.get("/collectors", app.admin()).await.body, json!([]));
}

#[tokio::test]
async fn tokens_refresh_with_the_refresh_secret_and_are_scoped_to_one_collector() {
    let app = spawn_admin_app().await;
    let api = app.api();
    let a = app.register_collector("scoped-a").await;
    let b = app.register_collector("scoped-b").await;
    let r = api
        .post(
            &format!("/collectors/{}/token", a.id),
            None,
            json!({"refresh_secret": a.refresh_secret}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let fresh = RegisteredCollector {
        token: r.body["token"].as_str().expect("token").to_owned(),
        ..a.clone()
    };
    app.push_accepted(&fresh, &batch(&a.id, "fresh", 1, Utc::now()))
        .await;
    let wrong = api
        .post(
            &format!("/collectors/{}/token", a.id),
            None,
            json!({"refresh_secret": b.refresh_secret}),
        )
        .await;
    assert_eq!(wrong.status, 401);
    // A's token naming B in the batch: forbidden.
    let cross = app.push(&a, &batch(&b.id, "cross", 1, Utc::now())).await;
    assert_eq!(cross.status, 403, "{}", cross.body);
    // A user token is not a collector token.
    let as_user = api
        .post(
            "/metrics/push",
            Some(app.admin()),
            batch(&a.id, "user", 1, Utc::now()),
        )
        .await;
    assert_eq!(as_user.status, 401);
}

#[tokio::test]
async fn bad_samples_are_counted_as_rejected_and_the_others_accepted() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("sloppy").await;
    let mixed = json!({
        "batch_id": "mixed", "collector_id": c.id, "collected_at": Utc::now(),
        "samples": [
            {"metric": "pg_ok", "value": 1},
            {"metric": "", "value": 1},
            {"metric": "pg_nan", "value": null},
            {"metric": "pg_future", "value": 1, "ts": Utc::now() + ChronoDuration::hours(2)}
        ]
    });
    let r = app.push_accepted(&c, &mixed).await;
    assert_eq!(
        (
            r.body["metrics_accepted"].clone(),
            r.body["metrics_rejected"].clone()
        ),
        (json!(1), json!(3))
    );
    app.wait_for_points(&c.id, 1).await;
}

/// Pushes `body` as raw bytes with `c`'s token, gzip'd as the header says when `gzip`.
async fn push_raw(api: &Api, c: &RegisteredCollector, body: Vec<u8>, gzip: bool) -> Reply {
    let mut request = api
        .http
        .post(format!("{}/metrics/push", api.base))
        .bearer_auth(&c.token)
        .header("content-type", "application/json")
        .body(body);
    if gzip {
        request = request.header("content-encoding", "gzip");
    }
    Reply::read(request.send().await.expect("send")).await
}

#[tokio::test]
async fn a_push_that_is_not_json_not_gzip_or_too_large_is_refused() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("sloppy").await;
    let api = app.api();
    assert_eq!(
        push_raw(api, &c, b"{not json".to_vec(), false).await.status,
        400
    );
    assert_eq!(
        push_raw(api, &c, b"not gzip at all".to_vec(), true)
            .await
            .status,
        400
    );
    let huge = vec![b' '; ingest::MAX_BODY + 1];
    let r = push_raw(api, &c, huge, false).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.body["error"]["code"], "payload_too_large");
    assert_eq!(
        metric_stream_len(&app.jetstream().await, &app.config().names).await,
        0,
        "nothing was published"
    );
}

#[tokio::test]
async fn the_old_collectors_gzipped_payload_is_accepted_with_every_family_counted() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("v3").await;
    let v3 = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../domain/fixtures/v3-push-example.json"
    ))
    .expect("fixture")
    .replace("8d3f6a2e-4b1c-4f7e-9a55-2c1d0e9b7f10", &c.id)
    .replace("2026-02-27T15:13:20Z", &Utc::now().to_rfc3339());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(v3.as_bytes()).expect("gzip");
    let r = push_raw(app.api(), &c, gz.finish().expect("gzip"), true).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["metrics_accepted"], 60, "{}", r.body);
    assert!(r.body["batch_id"].as_str().expect("id").starts_with("v3-"));
    app.wait_for_points(&c.id, 60).await;
}

/// A registration as a collector named "c" would send it.
async fn register(api: &Api, secret: Option<&str>) -> Reply {
    api.register(secret, json!({"name": "c", "hostname": "h"}))
        .await
}

/// A registration secret as created: its id, and the secret itself (shown this once).
struct CreatedSecret {
    id: String,
    secret: String,
}

/// Creates a registration secret from `body` as the admin.
async fn secret(app: &TestApp, body: Value) -> CreatedSecret {
    let r = app
        .api()
        .post("/registration-secrets", Some(app.admin()), body)
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    CreatedSecret {
        id: r.body["id"].as_str().expect("id").to_owned(),
        secret: r.body["secret"].as_str().expect("secret").to_owned(),
    }
}

/// Deactivates the registration secret `id` as the admin.
async fn deactivate(app: &TestApp, id: &str) -> Reply {
    app.api()
        .put(
            &format!("/registration-secrets/{id}"),
            app.admin(),
            json!({"active": false}),
        )
        .await
}

#[tokio::test]
async fn registration_without_a_valid_secret_is_refused_and_creates_nothing() {
    let app = spawn_admin_app().await;
    assert_eq!(register(app.api(), None).await.status, 401);
    assert_eq!(register(app.api(), Some("pgas_wrong")).await.status, 401);
    assert_eq!(app.listed("/collectors").await, 0);
}

#[tokio::test]
async fn a_secret_used_up_to_its_maximum_registrations_refuses_the_next() {
    let app = spawn_admin_app().await;
    let capped = secret(&app, json!({"name": "capped", "max_registrations": 1}))
        .await
        .secret;
    assert_eq!(register(app.api(), Some(&capped)).await.status, 201);
    let r = register(app.api(), Some(&capped)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body["error"]["message"]
        .as_str()
        .expect("msg")
        .contains("maximum"));
    // The projections may lag the 201 on a loaded machine: wait for the one registration to
    // show, then check the refused one added nothing.
    let used = eventually("the registration counted on the secret", || async {
        let list = app
            .api()
            .get("/registration-secrets", app.admin())
            .await
            .body;
        (list[0]["registrations_used"] != 0).then_some(list[0]["registrations_used"].clone())
    })
    .await;
    assert_eq!(used, 1);
    eventually("the registered collector listed", || async {
        (app.listed("/collectors").await >= 1).then_some(())
    })
    .await;
    assert_eq!(app.listed("/collectors").await, 1);
}

#[tokio::test]
async fn a_deactivated_secret_is_refused_and_creates_nothing() {
    let app = spawn_admin_app().await;
    let off = secret(&app, json!({"name": "off"})).await;
    assert_eq!(deactivate(&app, &off.id).await.body["active"], false);
    assert_eq!(register(app.api(), Some(&off.secret)).await.status, 403);
    assert_eq!(app.listed("/collectors").await, 0);
}

#[tokio::test]
async fn a_secret_cannot_be_created_expired_and_is_refused_once_it_expires() {
    let app = spawn_admin_app().await;
    let past = app
        .api()
        .post(
            "/registration-secrets",
            Some(app.admin()),
            json!({"name": "past", "expires_at": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(
        (past.status, past.body["error"]["field"].clone()),
        (422, json!("expires_at"))
    );
    // A secret used after its expiry (a moment in the future when created, past when used).
    let soon = (Utc::now() + ChronoDuration::milliseconds(1500)).to_rfc3339();
    let expiring = secret(&app, json!({"name": "expiring", "expires_at": soon}))
        .await
        .secret;
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let r = register(app.api(), Some(&expiring)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body["error"]["message"]
        .as_str()
        .expect("msg")
        .contains("expired"));
    assert_eq!(app.listed("/collectors").await, 0);
}

#[tokio::test]
async fn a_registration_secret_is_shown_even_when_its_read_model_is_late() {
    let app = TestApp::builder()
        .admin()
        .config(|c| c.command_wait = Duration::from_millis(300))
        .spawn()
        .await;
    // Holds the projector's writes (EXCLUSIVE still lets reads through): the read model stays
    // behind the command for longer than the server waits.
    let mut sql = app.sql().await;
    let hold = sql.transaction().await.expect("begin");
    hold.batch_execute("LOCK TABLE rm_registration_secrets IN EXCLUSIVE MODE")
        .await
        .expect("lock");
    let r = app
        .api()
        .post(
            "/registration-secrets",
            Some(app.admin()),
            json!({"name": "late"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let shown = r.body["secret"].as_str().expect("secret").to_owned();
    assert_eq!(r.body["name"], "late");
    assert!(shown.starts_with(r.body["prefix"].as_str().expect("prefix")));
    hold.rollback().await.expect("release");
    assert_eq!(register(app.api(), Some(&shown)).await.status, 201);
}

#[tokio::test]
async fn a_registration_secret_is_shown_once_and_kept_in_no_list_event_or_read_model() {
    let app = spawn_admin_app().await;
    let CreatedSecret { id, secret: shown } = secret(&app, json!({"name": "kept"})).await;
    // Used and changed, so that it is in as many events and rows as can be.
    assert_eq!(register(app.api(), Some(&shown)).await.status, 201);
    let r = deactivate(&app, &id).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let list = app
        .api()
        .get("/registration-secrets", app.admin())
        .await
        .body;
    assert!(list
        .as_array()
        .expect("list")
        .iter()
        .all(|s| s.get("secret").is_none()));
    assert!(!list.to_string().contains(&shown));
    let leaks: i64 = app
        .sql()
        .await
        .query_one(
            "SELECT (SELECT count(*) FROM events WHERE payload::text LIKE '%' || $1 || '%')
                  + (SELECT count(*) FROM rm_registration_secrets t WHERE row_to_json(t)::text LIKE '%' || $1 || '%')
                  + (SELECT count(*) FROM rm_audit_log t WHERE row_to_json(t)::text LIKE '%' || $1 || '%')",
            &[&shown],
        )
        .await
        .expect("search")
        .get(0);
    assert_eq!(leaks, 0);
}

#[tokio::test]
async fn the_event_stream_tells_the_dashboard_about_a_push() {
    let app = spawn_admin_app().await;
    let api = app.api();
    let c = app.register_collector("live").await;
    let ticket = api.live_ticket(app.admin()).await;
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
    app.push_accepted(&c, &batch(&c.id, "live-1", 3, Utc::now()))
        .await;
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
}

#[tokio::test]
async fn with_jetstream_unreachable_a_push_is_a_503_with_retry_after() {
    let port = crate::faults::free_port();
    let env = TestEnv::with_nats(&format!("nats://127.0.0.1:{port}")).await;
    let app = TestApp::builder().on(env).spawn().await;
    // Without NATS no collector can be registered through the projections either; make a
    // token for a collector row directly, as the projector would have.
    let c = register_collector_direct(&app.env).await;
    let r = app.push(&c, &batch(&c.id, "no-bus", 1, Utc::now())).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.headers.contains_key("retry-after"));
}

/// Inserts a collector into the read model and mints its token with the server's key.
async fn register_collector_direct(env: &TestEnv) -> RegisteredCollector {
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
    RegisteredCollector {
        id: id.to_string(),
        token,
        refresh_secret: String::new(),
        secret: String::new(),
        nats: None,
    }
}
