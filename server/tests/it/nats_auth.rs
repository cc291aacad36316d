//! NATS enforces least privilege itself (operator mode): a collector's credential publishes to
//! its own subject only, reads nothing, and expires; nobody connects without a credential.

use std::time::Duration;

use async_nats::jetstream;
use chrono::Utc;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::support::*;

/// A connection with a collector's NATS credential, and what the server says to it.
async fn connect_as(
    url: &str,
    grant: &Value,
) -> (async_nats::Client, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::new()
        .credentials(grant["credentials"].as_str().expect("credentials"))
        .expect("creds")
        .custom_inbox_prefix(grant["inbox_prefix"].as_str().expect("inbox"))
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                if let async_nats::Event::ServerError(e) = event {
                    let _ = tx.send(e.to_string());
                }
            }
        })
        .connect(url)
        .await
        .expect("a collector connects with its credential");
    (client, rx)
}

/// Waits (up to 10 s) for the server's permissions violation naming `subject`.
async fn violation(rx: &mut mpsc::UnboundedReceiver<String>, kind: &str, subject: &str) {
    let wanted = format!("Permissions Violation for {kind} to \"{subject}");
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(e) = rx.recv().await {
            if e.contains(&wanted) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "NATS did not refuse: {wanted}");
}

fn batch(collector: &str, batch_id: &str) -> Value {
    json!({"batch_id": batch_id, "collector_id": collector, "collected_at": Utc::now(),
           "samples": [{"metric": "pg_test_value", "labels": {}, "value": 1.0}]})
}

/// A collector of `app` connected to NATS with its own credential, what NATS says to it, and
/// its subject.
struct Connected {
    c: RegisteredCollector,
    client: async_nats::Client,
    said: mpsc::UnboundedReceiver<String>,
    own: String,
}

async fn connected_collector(app: &TestApp, name: &str) -> Connected {
    let c = app.register_collector(name).await;
    let grant = c
        .nats
        .clone()
        .expect("registration issues a NATS credential");
    let own = app.config().names.metrics_subject(&c.id);
    assert_eq!(grant["subject"], own.as_str());
    let (client, said) = connect_as(&app.config().nats_url, &grant).await;
    Connected {
        c,
        client,
        said,
        own,
    }
}

/// Publishes a batch on the collector's own subject with its own connection; JetStream
/// acknowledges it.
async fn publish_own(collector: &Connected) {
    let js = jetstream::new(collector.client.clone());
    let c = &collector.c;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", format!("{}:own", c.id).as_str());
    headers.insert(domain::metrics::TOKEN_HEADER, c.token.as_str());
    let payload = serde_json::to_vec(&batch(&c.id, "own")).expect("json");
    js.publish_with_headers(collector.own.clone(), headers, payload.into())
        .await
        .expect("publish")
        .await
        .expect("JetStream acknowledges the collector's own batch");
}

#[tokio::test]
async fn a_collector_credential_publishes_to_its_own_subject_and_the_batch_counts() {
    let app = spawn_admin_app().await;
    let a = connected_collector(&app, "a").await;
    publish_own(&a).await;
    app.wait_for_points(&a.c.id, 1).await;
}

#[tokio::test]
async fn a_collector_credential_cannot_publish_for_another_collector_or_an_event() {
    let app = spawn_admin_app().await;
    let mut a = connected_collector(&app, "a").await;
    let b = app.register_collector("b").await;
    publish_own(&a).await;
    let names = &app.config().names;
    let others = names.metrics_subject(&b.id);
    let forged = serde_json::to_vec(&batch(&b.id, "forged")).expect("json");
    a.client
        .publish(others.clone(), forged.into())
        .await
        .expect("sent");
    violation(&mut a.said, "Publish", &others).await;
    let event = names.subject("events.user.x");
    a.client
        .publish(event.clone(), "{}".into())
        .await
        .expect("sent");
    violation(&mut a.said, "Publish", &event).await;

    // What reached the streams: the collector's own batch only.
    let server_js = app.jetstream().await;
    let subjects: Vec<String> = metric_stream_messages(&server_js, names)
        .await
        .iter()
        .map(|m| m.subject.to_string())
        .collect();
    assert_eq!(subjects, vec![a.own.clone()]);
    let events = stream_messages(&server_js, &names.events_stream()).await;
    assert!(events.iter().all(|m| m.subject.as_str() != event));
}

#[tokio::test]
async fn a_collector_credential_reads_no_stream() {
    let app = spawn_admin_app().await;
    let mut a = connected_collector(&app, "a").await;
    // Neither a plain subscription nor the JetStream API.
    let wildcard = app.config().names.subject("metrics.>");
    let _sub = a.client.subscribe(wildcard.clone()).await.expect("sent");
    violation(&mut a.said, "Subscription", &wildcard).await;
    let js = jetstream::new(a.client.clone());
    let info = tokio::time::timeout(
        Duration::from_secs(10),
        js.get_stream(app.config().names.metrics_partition_stream(0)),
    )
    .await;
    assert!(
        !matches!(info, Ok(Ok(_))),
        "the JetStream API answered a collector"
    );
    violation(&mut a.said, "Publish", "$JS.API.STREAM.INFO").await;
}

#[tokio::test]
async fn a_collector_cannot_reach_jetstream_through_the_reply_subject_of_its_publish() {
    let app = spawn_admin_app().await;
    let a = app.register_collector("a").await;
    let b = app.register_collector("b").await;
    let (client, _said) = connect_as(&app.config().nats_url, a.nats.as_ref().expect("nats")).await;
    let names = &app.config().names;
    let js = app.jetstream().await;
    let partition = domain::bus::metric_partition(&a.id, names.partitions());
    let (events, metrics) = (
        names.events_stream(),
        names.metrics_partition_stream(partition),
    );
    let events_before = stream_len(&js, &events).await;
    assert!(events_before > 0, "the set-up produced events");
    let metrics_before = stream_len(&js, &metrics).await;

    // JetStream answers a stored message with `{"stream", "seq"}` on the publish's reply
    // subject: as the account, were the collector in it. Each of these would purge, delete or
    // inject there.
    let own = names.metrics_subject(&a.id);
    let replies = [
        format!("$JS.API.STREAM.PURGE.{metrics}"),
        format!("$JS.API.STREAM.PURGE.{events}"),
        format!("$JS.API.STREAM.MSG.DELETE.{events}"),
        names.subject("events.user.injected"),
        names.metrics_subject(&b.id),
    ];
    for (i, reply) in replies.iter().enumerate() {
        let payload = serde_json::to_vec(&batch(&a.id, &format!("attack-{i}"))).expect("json");
        client
            .publish_with_reply(own.clone(), reply.clone(), payload.into())
            .await
            .expect("sent");
    }
    client.flush().await.expect("flush");
    let expected = metrics_before + replies.len() as u64;
    eventually("the collector's own messages are stored", || async {
        (stream_len(&js, &metrics).await >= expected).then_some(())
    })
    .await;
    // Give a purge or delete, had one gone through, time to land.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        stream_len(&js, &events).await,
        events_before,
        "events purged, deleted or injected"
    );
    assert_eq!(
        stream_len(&js, &metrics).await,
        expected,
        "metrics purged or injected"
    );
    let subjects: Vec<String> = stream_messages(&js, &metrics)
        .await
        .iter()
        .map(|m| m.subject.to_string())
        .collect();
    assert!(subjects.iter().all(|s| *s == own), "{subjects:?}");
}

#[tokio::test]
async fn nats_refuses_clients_without_a_credential_with_an_expired_one_or_a_forged_one() {
    let env = TestEnv::new().await;
    let url = env.config.nats_url.clone();
    let anonymous = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .connect(&url)
        .await;
    assert!(anonymous.is_err(), "an anonymous client connected");

    let names = &env.config.names;
    let id = uuid::Uuid::new_v4();
    let issuer = env.config.nats_issuer.clone().expect("issuer");
    let expired = issuer
        .collector(id, names, Utc::now() - chrono::Duration::minutes(1))
        .expect("issue");
    let refused = async_nats::ConnectOptions::new()
        .credentials(&expired.credentials)
        .expect("creds")
        .connection_timeout(Duration::from_secs(5))
        .connect(&url)
        .await;
    assert!(refused.is_err(), "an expired credential connected");

    // Signed by a signing key the account does not list: a forger's own trust chain.
    let forger = commands::nats_auth::NatsSetup::generate("forger").expect("setup");
    let forged =
        commands::nats_auth::NatsIssuer::new(&forger.collector_signing_seed, issuer.account())
            .expect("issuer")
            .collector(id, names, Utc::now() + chrono::Duration::minutes(5))
            .expect("issue");
    let refused = async_nats::ConnectOptions::new()
        .credentials(&forged.credentials)
        .expect("creds")
        .connection_timeout(Duration::from_secs(5))
        .connect(&url)
        .await;
    assert!(
        refused.is_err(),
        "a credential from another signing key connected"
    );

    // The real one connects.
    let valid = issuer
        .collector(id, names, Utc::now() + chrono::Duration::minutes(5))
        .expect("issue");
    async_nats::ConnectOptions::new()
        .credentials(&valid.credentials)
        .expect("creds")
        .connect(&url)
        .await
        .expect("a valid credential connects");
}

#[tokio::test]
async fn the_nats_credential_is_renewed_with_the_token_and_not_once_the_collector_is_deleted() {
    let app = spawn_admin_app().await;
    let api = app.api();
    let c = app.register_collector("renewing").await;
    let refresh = || async {
        api.http
            .post(format!("{}/collectors/{}/token", api.base, c.id))
            .header("X-Refresh-Secret", &c.refresh_secret)
            .send()
            .await
            .expect("refresh")
    };
    let fresh = refresh().await;
    assert_eq!(fresh.status().as_u16(), 200);
    let body: Value = fresh.json().await.expect("json");
    assert_eq!(
        body["nats"]["expires_at"], body["token_expires_at"],
        "the NATS credential lives as long as the token"
    );
    assert_ne!(
        body["nats"]["credentials"],
        c.nats.as_ref().expect("nats")["credentials"]
    );
    let (client, _said) = connect_as(&app.config().nats_url, &body["nats"]).await;
    drop(client);

    let deleted = api
        .delete(&format!("/collectors/{}", c.id), app.admin())
        .await;
    assert_eq!(deleted.status, 204);
    let refused = refresh().await;
    assert_eq!(refused.status().as_u16(), 401);
    let body: Value = refused.json().await.expect("json");
    assert!(body.get("nats").is_none());
}

#[tokio::test]
async fn a_server_whose_nats_credential_is_refused_says_why_in_health() {
    let forger = commands::nats_auth::NatsSetup::generate("forger").expect("setup");
    let app = TestApp::builder()
        .config(move |c| {
            *c = c
                .clone()
                .with_nats_operator_auth(
                    &forger.server_creds,
                    &forger.collector_account.0,
                    &forger.collector_signing_seed,
                )
                .expect("config");
        })
        .spawn()
        .await;
    let health = eventually("health names NATS's refusal", || async {
        let (status, body) = app.health().await;
        let error = body["nats"]["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        (status == 503 && error.contains("authorization violation")).then_some(body)
    })
    .await;
    assert_eq!(health["nats"]["up"], false);
}
