//! Test support: [`TestApp`] (the server on a database and NATS prefix of its own, cleaned up
//! on drop), [`TestEnv`] (the database and prefix alone), the [`Api`] client, and waiting and
//! counting helpers.

#![allow(dead_code, unreachable_pub)]

mod alerting;
mod api;
mod app;
mod env;
mod smtp;

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream;
use chrono::Utc;
use commands::service::{CommandService, Committed};
use domain::user::{PasswordHash, Role, UserCommand, Username};
use domain::values::Actor;
use futures::StreamExt;

pub use alerting::*;
pub use api::*;
pub use app::*;
pub use env::*;
pub use smtp::*;

pub const ADMIN_USER: &str = "root-admin";
pub const ADMIN_PASSWORD: &str = "first admin password";

pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect postgres");
    tokio::spawn(conn);
    client
}

/// Waits (up to 15 s) until `check` returns `Some`. A deadline for eventual consistency, not a
/// speed assertion: on a slow machine it only waits longer.
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_within(15, what, check).await
}

/// [`eventually`] with another deadline, for what waits on a back-off.
pub async fn eventually_within<T, F, Fut>(seconds: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn admin_actor() -> Actor {
    Actor::user("00000000-0000-0000-0000-000000000001", "test-admin")
}

pub async fn create_user(commands: &CommandService, username: &str) -> (String, Committed) {
    let id = uuid::Uuid::new_v4().to_string();
    let committed = commands
        .user(
            &id,
            UserCommand::CreateUser {
                username: Username::parse(username).expect("username"),
                role: Role::Viewer,
                password_hash: PasswordHash::from_phc("$argon2id$v=19$m=19456,t=2,p=1$stub".into()),
                at: Utc::now(),
            },
            &admin_actor(),
        )
        .await
        .expect("create user");
    (id, committed)
}

/// Every message of a stream, in order (via an ephemeral consumer).
pub async fn stream_messages(js: &jetstream::Context, stream: &str) -> Vec<jetstream::Message> {
    let Ok(stream) = js.get_stream(stream).await else {
        return Vec::new();
    };
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ack_policy: jetstream::consumer::AckPolicy::None,
            inactive_threshold: Duration::from_secs(30),
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut out = Vec::new();
    loop {
        let mut batch = consumer
            .fetch()
            .max_messages(1000)
            .expires(Duration::from_millis(300))
            .messages()
            .await
            .expect("fetch");
        let mut got = 0;
        while let Some(m) = batch.next().await {
            out.push(m.expect("message"));
            got += 1;
        }
        if got == 0 {
            return out;
        }
    }
}

/// Metric batches on every partition's stream.
pub async fn metric_stream_len(js: &jetstream::Context, names: &domain::bus::BusNames) -> u64 {
    let mut n = 0;
    for partition in 0..names.partitions() {
        n += stream_len(js, &names.metrics_partition_stream(partition)).await;
    }
    n
}

/// Every metric batch on every partition's stream, partition after partition.
pub async fn metric_stream_messages(
    js: &jetstream::Context,
    names: &domain::bus::BusNames,
) -> Vec<jetstream::Message> {
    let mut out = Vec::new();
    for partition in 0..names.partitions() {
        out.extend(stream_messages(js, &names.metrics_partition_stream(partition)).await);
    }
    out
}

pub async fn stream_len(js: &jetstream::Context, stream: &str) -> u64 {
    match js.get_stream(stream).await {
        Ok(mut s) => s.info().await.map(|i| i.state.messages).unwrap_or(0),
        Err(_) => 0,
    }
}

/// A stream's configuration as the server holds it (to change one setting and update it).
pub async fn stream_config(js: &jetstream::Context, stream: &str) -> jetstream::stream::Config {
    js.get_stream(stream)
        .await
        .expect("stream")
        .info()
        .await
        .expect("info")
        .config
        .clone()
}

pub async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.expect(sql).get(0)
}

/// Waits ([`eventually`]) until the count `sql` answers `n`.
pub async fn wait_for_count(client: &tokio_postgres::Client, what: &str, sql: &str, n: i64) {
    eventually(what, || async {
        (count(client, sql).await == n).then_some(())
    })
    .await;
}

/// A user event as the event store would hold it, for publishing by hand.
pub fn user_event(id: &str, sequence: i64, event: &domain::user::UserEvent) -> domain::StoredEvent {
    domain::StoredEvent {
        position: 1000 + sequence,
        aggregate_type: "user".into(),
        aggregate_id: id.to_owned(),
        sequence,
        event_type: "UserEvent".into(),
        event_version: "1".into(),
        payload: serde_json::to_value(event).expect("json"),
        metadata: serde_json::json!({}),
        recorded_at: chrono::Utc::now(),
    }
}

/// The reasons `projection` rejected messages for, oldest first.
pub async fn rejected_reasons(client: &tokio_postgres::Client, projection: &str) -> Vec<String> {
    client
        .query(
            // A metrics projection rejects per partition (`<name>.p<NN>`).
            "SELECT reason FROM projection_rejected
              WHERE projection = $1 OR projection LIKE $1 || '.p__'
              ORDER BY rejected_at, stream_sequence",
            &[&projection],
        )
        .await
        .expect("rejected")
        .iter()
        .map(|r| r.get(0))
        .collect()
}
