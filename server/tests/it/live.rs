//! Live updates (`/events`): no access token in the URL, one-use tickets, and a stream that
//! ends when its session or user does.

use std::time::Duration;

use futures::StreamExt;
use reqwest::Method;
use serde_json::json;

use crate::support::*;

/// Status and JSON error body of `GET /events?<query>` (the body only when it is not a stream).
async fn open_events(
    api: &Api,
    query: &str,
) -> (u16, serde_json::Value, Option<reqwest::Response>) {
    let response = api
        .http
        .get(format!("{}/events?{query}", api.base))
        .send()
        .await
        .expect("events");
    let status = response.status().as_u16();
    if status == 200 {
        return (status, serde_json::Value::Null, Some(response));
    }
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, body, None)
}

/// Reads the stream until it has sent `needle`; panics after `seconds`.
async fn read_until(
    response: reqwest::Response,
    needle: &str,
    seconds: u64,
) -> (String, reqwest::Response) {
    let mut response = response;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while !seen.contains(needle) {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} within {seconds} s; got {seen:?}"))
            .expect("chunk")
            .unwrap_or_else(|| panic!("the stream ended before {needle:?}; got {seen:?}"));
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    (seen, response)
}

#[tokio::test]
async fn an_access_token_in_the_events_url_is_refused() {
    let app = spawn_admin_app().await;
    let (status, body, _) = open_events(app.api(), &format!("access_token={}", app.admin())).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "token_in_url", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("/events/ticket"), "{message}");
}

#[tokio::test]
async fn a_live_ticket_opens_the_stream_once() {
    let app = spawn_admin_app().await;
    let api = app.api();
    let reply = api
        .post("/events/ticket", Some(app.admin()), json!({}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["expires_in"], 30, "{}", reply.body);
    let ticket = reply.body["ticket"].as_str().expect("ticket").to_owned();

    let (status, body, stream) = open_events(api, &format!("ticket={ticket}")).await;
    assert_eq!(status, 200, "{body}");
    let (seen, stream) = read_until(stream.expect("stream"), "event: ready", 10).await;
    assert!(seen.contains("event: ready"));

    let (again, body, _) = open_events(api, &format!("ticket={ticket}")).await;
    assert_eq!(again, 401, "{body}");
    assert_eq!(body["error"]["code"], "invalid_ticket", "{body}");
    drop(stream);
}

#[tokio::test]
async fn only_a_live_tickets_hash_is_stored() {
    let app = spawn_admin_app().await;
    let ticket = app.api().live_ticket(app.admin()).await;
    let leaks: i64 = app
        .sql()
        .await
        .query_one(
            "SELECT count(*) FROM auth_live_tickets t WHERE row_to_json(t)::text LIKE '%' || $1 || '%'",
            &[&ticket],
        )
        .await
        .expect("search")
        .get(0);
    assert_eq!(leaks, 0);
    assert_eq!(
        count(&app.sql().await, "SELECT count(*) FROM auth_live_tickets").await,
        1,
        "the ticket is stored, as its hash"
    );
}

#[tokio::test]
async fn an_unknown_ticket_or_a_ticket_request_without_a_token_is_refused() {
    let app = spawn_app(pganalytics::app::Roles::ALL).await;
    let api = app.api();
    let (unknown, body, _) = open_events(api, "ticket=pgt_made-up").await;
    assert_eq!(
        (unknown, body["error"]["code"].clone()),
        (401, json!("invalid_ticket"))
    );
    // Without a token the ticket route is the guard's 401 like any other.
    let anonymous = api
        .call(Method::POST, "/events/ticket", None, Some(json!({})))
        .await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn an_expired_live_ticket_is_refused() {
    let app = spawn_admin_app().await;
    let ticket = app.api().live_ticket(app.admin()).await;
    // 30 s pass (the database clock decides).
    app.sql()
        .await
        .execute(
            "UPDATE auth_live_tickets SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .expect("age the ticket");
    let (status, body, _) = open_events(app.api(), &format!("ticket={ticket}")).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "ticket_expired", "{body}");
}

#[tokio::test]
async fn an_open_stream_ends_when_its_user_is_deactivated() {
    let app = spawn_admin_app().await;
    let api = app.api();
    let watcher = app.user("watcher", "viewer").await;
    let viewer = watcher.token;
    // Both ways in: a ticket (the dashboard) and the Authorization header (other clients).
    let ticket = api.live_ticket(&viewer).await;
    let (status, body, by_ticket) = open_events(api, &format!("ticket={ticket}")).await;
    assert_eq!(status, 200, "{body}");
    let (_, by_ticket) = read_until(by_ticket.expect("stream"), "event: ready", 10).await;
    let by_header = api
        .http
        .get(format!("{}/events", api.base))
        .bearer_auth(&viewer)
        .send()
        .await
        .expect("events");
    assert_eq!(by_header.status().as_u16(), 200);
    let (_, by_header) = read_until(by_header, "event: ready", 10).await;

    let off = api
        .put(
            &format!("/users/{}", watcher.id),
            app.admin(),
            json!({"active": false}),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.body);

    // Within the periodic re-check (15 s) at the latest; on the user's change, at once.
    for stream in [by_ticket, by_header] {
        let ended = tokio::time::timeout(Duration::from_secs(20), async move {
            let mut stream = stream.bytes_stream();
            let mut seen = String::new();
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(bytes) => seen.push_str(&String::from_utf8_lossy(&bytes)),
                    Err(_) => break,
                }
            }
            seen
        })
        .await
        .expect("the stream stays open after its user was deactivated");
        assert!(ended.contains("event: end"), "{ended}");
        assert!(ended.contains("user_inactive"), "{ended}");
    }
    // And cannot be reopened.
    let again = api.post("/events/ticket", Some(&viewer), json!({})).await;
    assert_eq!(again.status, 401, "{}", again.body);
}
