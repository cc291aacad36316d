//! Command → event store → relay → JetStream → projector → read model.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use domain::user::{PasswordHash, Role, UserEvent, Username};
use domain::AggregateKind;
use pganalytics::app::Roles;
use projections::projectors::{event_projection_names, EventProjection, Users};
use projections::{Delivered, Runner};

use crate::support::*;

const NO_ROLES: Roles = Roles {
    api: false,
    ingest: false,
    project: false,
    migrate: false,
};

#[tokio::test]
async fn events_reach_the_stream_exactly_once_when_the_relay_restarts() {
    let env = TestEnv::new().await;
    let commands = env.commands().await;
    let js = env.jetstream().await;
    let stream = env.config.names.events_stream();

    // Committed while no relay runs: the state a crash between commit and publish leaves.
    for name in ["ann", "bob", "cyd"] {
        create_user(&commands, name).await;
    }
    assert_eq!(stream_len(&js, &stream).await, 0, "nothing published yet");

    let relay = env.relay(&commands, &js);
    assert_eq!(relay.publish_pending().await.expect("relay"), 3);
    assert_eq!(stream_len(&js, &stream).await, 3);

    // Crash after publishing but before saving the checkpoint: the relay publishes again.
    env.sql()
        .await
        .execute("DELETE FROM relay_checkpoints", &[])
        .await
        .expect("reset checkpoint");
    assert_eq!(relay.publish_pending().await.expect("relay"), 3);
    create_user(&commands, "dee").await;
    relay.publish_pending().await.expect("relay");

    let messages = stream_messages(&js, &stream).await;
    assert_eq!(messages.len(), 4, "each event exactly once on the stream");
    let ids: HashSet<String> = messages
        .iter()
        .map(|m| {
            m.headers
                .as_ref()
                .and_then(|h| h.get("Nats-Msg-Id"))
                .map(|v| v.to_string())
                .expect("msg id")
        })
        .collect();
    assert_eq!(ids.len(), 4);
    assert!(ids
        .iter()
        .all(|id| id.starts_with("user:") && id.ends_with(":1")));
}

#[tokio::test]
async fn a_transaction_that_commits_late_is_not_skipped() {
    let env = TestEnv::new().await;
    let commands = env.commands().await;
    let js = env.jetstream().await;
    let relay = env.relay(&commands, &js);

    // A writer takes a position and holds its transaction open...
    let late_id = uuid::Uuid::new_v4().to_string();
    let event = UserEvent::UserCreated {
        username: Username::parse("late").expect("valid"),
        role: Role::Viewer,
        password_hash: PasswordHash::from_phc("$argon2id$stub".into()),
        at: Utc::now(),
    };
    let mut late = commands.pool().begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('user', $1, 1, 'UserCreated', '1', $2, '{}')",
    )
    .bind(&late_id)
    .bind(serde_json::to_value(&event).expect("json"))
    .execute(&mut *late)
    .await
    .expect("insert");

    // ...while another command tries to commit after it and the relay runs.
    let early = {
        let commands = env.commands().await;
        tokio::spawn(async move { create_user(&commands, "early").await.0 })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(relay.publish_pending().await.expect("relay"), 0);
    late.commit().await.expect("commit");
    let early_id = early.await.expect("early command");
    relay.publish_pending().await.expect("relay");

    let stream = env.config.names.events_stream();
    let published: Vec<String> = stream_messages(&js, &stream)
        .await
        .iter()
        .map(|m| {
            serde_json::from_slice::<domain::StoredEvent>(&m.payload)
                .expect("event")
                .aggregate_id
        })
        .collect();
    assert_eq!(published, vec![late_id, early_id], "both, in commit order");
}

#[tokio::test]
async fn a_command_can_wait_until_every_projection_shows_it() {
    let app = spawn_app(Roles {
        project: true,
        ..NO_ROLES
    })
    .await;
    let (env, running) = (&app.env, app.running());
    let commands = env.commands().await;
    let (id, committed) = create_user(&commands, "reader").await;
    let applied = projections::freshness::wait_applied(
        &running.read_pool,
        &event_projection_names(),
        AggregateKind::User,
        &id,
        committed.sequence,
        Duration::from_secs(10),
    )
    .await;
    assert!(applied);
    // Read straight after the wait, no polling: the row is there.
    let sql = env.sql().await;
    let rows = sql
        .query(
            "SELECT username, role FROM rm_users WHERE id = $1::text::uuid",
            &[&id],
        )
        .await
        .expect("query");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, String>(0), "reader");
    let audit = count(
        &sql,
        "SELECT count(*) FROM rm_audit_log WHERE summary LIKE 'created user reader%'",
    )
    .await;
    assert_eq!(audit, 1);

    // Waiting for a sequence that never comes gives up at the bound.
    let missing = projections::freshness::wait_applied(
        &running.read_pool,
        &event_projection_names(),
        AggregateKind::User,
        &id,
        committed.sequence + 1,
        Duration::from_millis(200),
    )
    .await;
    assert!(!missing);
}

#[tokio::test]
async fn a_message_delivered_twice_changes_the_read_model_once() {
    let env = TestEnv::new().await;
    let commands = env.commands().await;
    let js = env.jetstream().await;
    let relay = env.relay(&commands, &js);
    create_user(&commands, "once").await;
    create_user(&commands, "twice").await;
    relay.publish_pending().await.expect("relay");

    let sql = env.sql().await;
    let pool = projections::db::pool(&env.config.database_url, 2).expect("pool");
    let runner = Runner::new(
        pool,
        js.clone(),
        env.config.names.clone(),
        Arc::new(EventProjection::new(Users, env.seal())),
    );
    let stream = env.config.names.events_stream();
    let delivered = delivered(&js, &stream).await;
    assert_eq!(runner.apply_messages(&delivered).await.expect("apply"), 2);
    let before = count(&sql, "SELECT count(*) FROM rm_users").await;
    assert_eq!(before, 2);

    // Redelivery of the same stream messages: absorbed by the checkpoint.
    assert_eq!(runner.apply_messages(&delivered).await.expect("apply"), 2);
    // The same events republished under new stream sequences (after the duplicate window):
    // absorbed by the per-aggregate positions, no unique-key error, nothing rejected.
    let again: Vec<Delivered> = delivered
        .iter()
        .map(|d| Delivered {
            stream_sequence: d.stream_sequence + 2,
            ..d.clone()
        })
        .collect();
    assert_eq!(runner.apply_messages(&again).await.expect("apply"), 4);
    assert_eq!(count(&sql, "SELECT count(*) FROM rm_users").await, 2);
    assert_eq!(
        count(&sql, "SELECT count(*) FROM projection_rejected").await,
        0
    );
}

#[tokio::test]
async fn a_malformed_message_is_recorded_acked_and_never_applied() {
    let app = spawn_app(Roles {
        project: true,
        ..NO_ROLES
    })
    .await;
    let env = &app.env;
    let js = env.jetstream().await;
    let commands = env.commands().await;
    // Make sure the stream exists, then put garbage on it between two good events.
    create_user(&commands, "before").await;
    let sql = env.sql().await;
    wait_for_count(
        &sql,
        "first user projected",
        "SELECT count(*) FROM rm_users",
        1,
    )
    .await;
    // Signed, so that it reaches the envelope parser (unsigned ones are refused before it).
    let subject = env.config.names.subject("events.user.not-json");
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(
        domain::signature::SIGNATURE_HEADER,
        env.seal().sign(&subject, b"{this is not json").as_str(),
    );
    js.publish_with_headers(subject, headers, "{this is not json".into())
        .await
        .expect("publish")
        .await
        .expect("ack");
    create_user(&commands, "after").await;

    wait_for_count(
        &sql,
        "second user projected past the bad message",
        "SELECT count(*) FROM rm_users",
        2,
    )
    .await;
    let rejected = sql
        .query(
            "SELECT projection, reason FROM projection_rejected ORDER BY projection",
            &[],
        )
        .await
        .expect("rejected");
    // Every domain projection saw it, recorded it once, and moved on.
    assert_eq!(rejected.len(), event_projection_names().len());
    assert!(rejected
        .iter()
        .all(|r| r.get::<_, String>(1).contains("not a stored event")));
    eventually("checkpoints past every message", || async {
        let min = count(
            &sql,
            "SELECT min(stream_sequence) FROM projection_checkpoints",
        )
        .await;
        (min == 3).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_message_past_a_missing_one_waits_for_it() {
    let env = TestEnv::new().await;
    let commands = env.commands().await;
    let js = env.jetstream().await;
    let relay = env.relay(&commands, &js);
    for name in ["one", "two", "three"] {
        create_user(&commands, name).await;
    }
    relay.publish_pending().await.expect("relay");
    let stream = env.config.names.events_stream();
    let delivered = delivered(&js, &stream).await;
    let pool = projections::db::pool(&env.config.database_url, 2).expect("pool");
    let runner = Runner::new(
        pool,
        js.clone(),
        env.config.names.clone(),
        Arc::new(EventProjection::new(Users, env.seal())),
    );
    let sql = env.sql().await;

    // 1 and 3 arrive, 2 was dropped on the way: only 1 is applied.
    let first_and_third = [delivered[0].clone(), delivered[2].clone()];
    let gap = runner.apply_messages(&first_and_third).await;
    assert!(matches!(gap, Err(projections::RunError::Gap(1))), "{gap:?}");
    assert_eq!(count(&sql, "SELECT count(*) FROM rm_users").await, 1);
    // The same gap again (2 dropped twice): 2 is still in the stream, so 3 still waits.
    let again = runner.apply_messages(&first_and_third).await;
    assert!(
        matches!(again, Err(projections::RunError::Gap(1))),
        "{again:?}"
    );
    assert_eq!(count(&sql, "SELECT count(*) FROM rm_users").await, 1);
    // 2 is redelivered: 2 and 3 apply, in order.
    assert_eq!(
        runner.apply_messages(&delivered[1..]).await.expect("apply"),
        3
    );
    assert_eq!(count(&sql, "SELECT count(*) FROM rm_users").await, 3);
}

/// Every message of a stream as a projector receives it.
async fn delivered(js: &async_nats::jetstream::Context, stream: &str) -> Vec<Delivered> {
    stream_messages(js, stream)
        .await
        .iter()
        .map(|m| Delivered {
            stream_sequence: m.info().expect("info").stream_sequence,
            subject: m.subject.to_string(),
            headers: m.headers.clone(),
            payload: m.payload.clone(),
            published: chrono::Utc::now(),
        })
        .collect()
}
