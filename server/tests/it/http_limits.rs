//! HTTP limits: concurrent pushes are bounded (503 with `Retry-After` past the limit), a slow
//! client is cut off by the request timeout (408), and the event stream is exempt.

use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use pganalytics::app::Roles;
use serde_json::{json, Value};

use crate::support::*;

fn batch(c: &RegisteredCollector, id: &str) -> Value {
    json!({"batch_id": id, "collector_id": c.id, "collected_at": Utc::now(), "samples": [
        {"metric": "pg_up", "labels": {}, "value": 1.0}
    ]})
}

#[tokio::test]
async fn a_push_past_the_limit_gets_503_and_a_slow_one_is_cut_off_with_408() {
    let mut env = TestEnv::new().await.with_bootstrap_admin();
    env.config.max_concurrent_pushes = 1;
    env.config.http_request_timeout = Duration::from_secs(2);
    let running = env.start(Roles::ALL).await;
    let api = Api::new(running.addr.expect("http"));
    let admin = api.token(ADMIN_USER, ADMIN_PASSWORD).await;
    let c = register_collector(&api, &admin, "slow").await;

    // A client that sends one byte of its body and then nothing.
    let stalled =
        futures::stream::once(async { Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{")) })
            .chain(futures::stream::pending());
    let slow = api
        .http
        .post(format!("{}/metrics/push", api.base))
        .bearer_auth(&c.token)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stalled))
        .send();
    let slow = tokio::spawn(slow);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let busy = api
        .post("/metrics/push", Some(&c.token), batch(&c, "b1"))
        .await;
    assert_eq!(
        (busy.status, busy.body["error"]["code"].clone()),
        (503, json!("busy")),
        "{}",
        busy.body
    );
    assert_eq!(
        busy.headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );

    let cut = tokio::time::timeout(Duration::from_secs(10), slow)
        .await
        .expect("the slow push is answered within the request timeout")
        .expect("task")
        .expect("response");
    assert_eq!(cut.status().as_u16(), 408);
    let body: Value = cut.json().await.expect("json");
    assert_eq!(body["error"]["code"], "request_timeout", "{body}");

    let ok = api
        .post("/metrics/push", Some(&c.token), batch(&c, "b2"))
        .await;
    assert_eq!(ok.status, 202, "{}", ok.body);
    running.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn the_event_stream_stays_open_past_the_request_timeout() {
    let mut env = TestEnv::new().await.with_bootstrap_admin();
    env.config.http_request_timeout = Duration::from_secs(1);
    let running = env.start(Roles::ALL).await;
    let api = Api::new(running.addr.expect("http"));
    let admin = api.token(ADMIN_USER, ADMIN_PASSWORD).await;
    let mut events = api
        .http
        .get(format!("{}/events", api.base))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("events");
    assert_eq!(events.status().as_u16(), 200);
    let ended = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match events.chunk().await {
                Ok(Some(_)) => continue,
                other => return other.map(|_| ()),
            }
        }
    })
    .await;
    assert!(ended.is_err(), "the stream ended early: {ended:?}");
    drop(events);
    running.stop().await;
    env.cleanup().await;
}
