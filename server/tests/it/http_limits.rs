//! HTTP limits: concurrent pushes are bounded (503 with `Retry-After` past the limit), a slow
//! client is cut off by the request timeout (408), and the event stream is exempt.

use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::support::*;

fn batch(c: &RegisteredCollector, id: &str) -> Value {
    json!({"batch_id": id, "collector_id": c.id, "collected_at": Utc::now(), "samples": [
        {"metric": "pg_up", "labels": {}, "value": 1.0}
    ]})
}

#[tokio::test]
async fn a_push_past_the_limit_gets_503_and_a_slow_one_is_cut_off_with_408() {
    let app = TestApp::builder()
        .admin()
        .config(|c| {
            c.max_concurrent_pushes = 1;
            c.http_request_timeout = Duration::from_secs(2);
        })
        .spawn()
        .await;
    let api = app.api();
    let c = app.register_collector("slow").await;

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

    let busy = app.push(&c, &batch(&c, "b1")).await;
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

    app.push_accepted(&c, &batch(&c, "b2")).await;
}

#[tokio::test]
async fn the_event_stream_stays_open_past_the_request_timeout() {
    let app = TestApp::builder()
        .admin_not_signed_in()
        .config(|c| c.http_request_timeout = Duration::from_secs(1))
        .spawn()
        .await;
    // A token minted here rather than a login, which (argon2) may itself take over the 1 s
    // limit on a loaded machine.
    let admin: uuid::Uuid = app
        .sql()
        .await
        .query_one(
            "SELECT id FROM rm_users WHERE username = $1",
            &[&ADMIN_USER],
        )
        .await
        .expect("the bootstrap admin")
        .get(0);
    let (token, _) = app
        .env
        .token_keys()
        .issue(admin, domain::user::Role::Admin)
        .expect("token");
    let api = app.api();
    let mut events = api
        .http
        .get(format!("{}/events", api.base))
        .bearer_auth(&token)
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
}

#[tokio::test]
async fn a_slow_remote_write_is_answered_503_which_prometheus_retries_not_408() {
    let app = TestApp::builder()
        .admin()
        .config(|c| c.http_request_timeout = Duration::from_secs(2))
        .spawn()
        .await;
    let api = app.api();
    let c = app.register_collector("slow-prometheus").await;
    let stalled = futures::stream::once(async {
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"\x0a"))
    })
    .chain(futures::stream::pending());
    let slow = api
        .http
        .post(format!("{}/write", api.base))
        .basic_auth(&c.id, Some(&c.refresh_secret))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "snappy")
        .body(reqwest::Body::wrap_stream(stalled))
        .send();
    let cut = tokio::time::timeout(Duration::from_secs(10), slow)
        .await
        .expect("the slow write is answered within the request timeout")
        .expect("response");
    assert_eq!(cut.status().as_u16(), 503);
    assert!(cut.headers().contains_key("retry-after"));
    let body: Value = cut.json().await.expect("json");
    assert_eq!(body["error"]["code"], "busy", "{body}");
}
