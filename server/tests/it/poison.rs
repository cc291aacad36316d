//! Messages that used to stop the pipeline for everyone: each is now rejected alone, with its
//! real reason, and everything else keeps flowing.

use chrono::{Duration, DurationRound, Utc};
use domain::user::{PasswordHash, Role, UserEvent, Username};
use pganalytics::app::Roles;
use serde_json::{json, Value};

use crate::support::*;

fn batch(c: &RegisteredCollector, id: &str, metric: &str, value: f64) -> Value {
    let ts = Utc::now().duration_trunc(Duration::seconds(1)).expect("ts");
    json!({
        "batch_id": id,
        "collector_id": c.id,
        "collected_at": ts,
        "samples": [{"metric": metric, "value": value, "ts": ts}]
    })
}

#[tokio::test]
async fn a_batch_the_database_refuses_on_its_data_is_rejected_alone_and_other_collectors_carry_on()
{
    let app = spawn_admin_app().await;
    let a = app.register_collector("refused").await;
    let b = app.register_collector("bystander").await;
    let sql = app.sql().await;

    app.push_accepted(&a, &batch(&a, "a-1", "pg_x", 1.0)).await;
    wait_for_count(
        &sql,
        "the first batch stored",
        "SELECT count(*) FROM metric_samples",
        1,
    )
    .await;
    // The database refuses one value (as a rollup whose float8 sum overflowed once refused a
    // batch, before values were bounded): the batch holding it cannot be written.
    sql.batch_execute("ALTER TABLE metric_samples ADD CONSTRAINT poison CHECK (value <> 2)")
        .await
        .expect("prime the refusal");
    app.push_accepted(&a, &batch(&a, "a-2", "pg_x", 2.0)).await;
    app.push_accepted(&b, &batch(&b, "b-1", "pg_y", 3.0)).await;

    eventually(
        "the bystander's batch stored past the poison one",
        || async {
            (count(
                &sql,
                &format!(
                "SELECT count(*) FROM metric_samples s JOIN metric_series m ON m.id = s.series_id
                  WHERE m.collector_id = '{}'",
                b.id
            ),
            )
            .await
                == 1)
                .then_some(())
        },
    )
    .await;
    // The two collectors' batches travel on their own partitions: the bystander's may be
    // stored before the poison one is looked at.
    wait_for_count(
        &sql,
        "the poison batch recorded",
        "SELECT count(*) FROM projection_rejected WHERE projection LIKE 'metric\\_samples.p__'",
        1,
    )
    .await;
    let row = sql
        .query_one(
            "SELECT reason, sqlstate, collector_id, batch_id FROM projection_rejected
              WHERE projection LIKE 'metric\\_samples.p__'",
            &[],
        )
        .await
        .expect("the poison batch is recorded");
    let reason: String = row.get(0);
    assert!(reason.contains("violates check constraint"), "{reason}");
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("23514"));
    assert_eq!(row.get::<_, Option<String>>(2), Some(a.id.clone()));
    assert_eq!(row.get::<_, Option<String>>(3).as_deref(), Some("a-2"));
    // Nothing of the poison batch half-stored: one sample of `a`, the first.
    assert_eq!(
        count(
            &sql,
            &format!(
                "SELECT count(*) FROM metric_samples s JOIN metric_series m ON m.id = s.series_id
                  WHERE m.collector_id = '{}'",
                a.id
            ),
        )
        .await,
        1
    );
    let (status, body) = eventually("health green with no lag", || async {
        let (status, body) = app.health().await;
        let caught_up = body["projections"]
            .as_array()?
            .iter()
            .all(|p| p["lag"] == 0);
        (status == 200 && caught_up).then_some((status, body))
    })
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn two_collectors_may_use_the_same_batch_id_and_both_batches_count() {
    let app = spawn_admin_app().await;
    let a = app.register_collector("first").await;
    let b = app.register_collector("second").await;
    let sql = app.sql().await;

    app.push_accepted(&a, &batch(&a, "shared-id", "pg_x", 1.0))
        .await;
    let r = app
        .push_accepted(&b, &batch(&b, "shared-id", "pg_x", 1.0))
        .await;
    assert_eq!(r.body["duplicate"], false, "{}", r.body);
    // The same collector sending its batch again is still one batch.
    app.push_accepted(&b, &batch(&b, "shared-id", "pg_x", 1.0))
        .await;

    eventually("both collectors' batches counted", || async {
        (count(
            &sql,
            "SELECT coalesce(sum(batches_total), 0)::int8 FROM rm_collector_activity",
        )
        .await
            == 2
            && count(&sql, "SELECT count(*) FROM metric_applied_batches").await == 2)
            .then_some(())
    })
    .await;
    assert_eq!(count(&sql, "SELECT count(*) FROM metric_samples").await, 2);
}

#[tokio::test]
async fn an_event_that_arrives_before_its_predecessor_waits_for_it_instead_of_being_lost() {
    let app = spawn_app(Roles::ALL).await;
    let env = &app.env;
    let sql = env.sql().await;
    let js = env.jetstream().await;
    let id = uuid::Uuid::new_v4().to_string();
    let created = UserEvent::UserCreated {
        username: Username::parse("reordered").expect("valid"),
        role: Role::Admin,
        password_hash: PasswordHash::from_phc("$argon2id$stub".into()),
        at: Utc::now(),
    };
    let deactivated = UserEvent::UserDeactivated { at: Utc::now() };
    // What a failed acknowledgement followed by a re-publish leaves on the stream: event 2
    // stored before event 1.
    for event in [
        user_event(&id, 2, &deactivated),
        user_event(&id, 1, &created),
    ] {
        env.publish_event(&js, &event).await;
    }
    let active = eventually("the user projected with both events", || async {
        sql.query_opt(
            "SELECT active FROM rm_users WHERE username = 'reordered'",
            &[],
        )
        .await
        .expect("query")
        .map(|r| r.get::<_, bool>(0))
    })
    .await;
    assert!(!active, "the deactivation was applied, after the creation");
    // Every event projection (not only users) releases what it held back.
    eventually("no projection holds an event back", || async {
        (count(&sql, "SELECT count(*) FROM projection_parked").await == 0
            && count(
                &sql,
                &format!("SELECT count(*) FROM rm_audit_log WHERE aggregate_id = '{id}'"),
            )
            .await
                == 2)
            .then_some(())
    })
    .await;
    assert_eq!(
        count(&sql, "SELECT count(*) FROM projection_rejected").await,
        0
    );
    let audit = count(
        &sql,
        &format!("SELECT count(*) FROM rm_audit_log WHERE aggregate_id = '{id}'"),
    )
    .await;
    assert_eq!(audit, 2, "both events in the audit log");
    let (status, _) = app.health().await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_event_too_large_for_nats_stops_the_relay_in_order_and_health_names_it() {
    let app = spawn_app(Roles::ALL).await;
    let env = &app.env;
    let commands = env.commands().await;
    let sql = env.sql().await;
    create_user(&commands, "before").await;
    wait_for_count(&sql, "projected", "SELECT count(*) FROM rm_users", 1).await;
    // An event larger than the server's max_payload (1 MiB), as an older version without
    // bounds could store: it cannot be published, and must not be skipped either.
    let big = "x".repeat(1_200_000);
    let position: i64 = sql
        .query_one(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             VALUES ('user', $1, 1, 'UserCreated', '1', json_build_object('blob', $2::text), '{}')
             RETURNING position",
            &[&uuid::Uuid::new_v4().to_string(), &big],
        )
        .await
        .expect("insert")
        .get(0);
    sql.execute("NOTIFY pga_events", &[]).await.expect("notify");
    let body = eventually("health names the stuck event", || async {
        let (status, body) = app.health().await;
        (status == 503 && body["relay_failing"]["position"] == position).then_some(body)
    })
    .await;
    let reason = body["relay_failing"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("max_payload"), "{body}");
    assert!(
        body["problems"][0]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("position {position}")),
        "{body}"
    );
    // Strict order: the event after it waits behind it.
    create_user(&commands, "after").await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(count(&sql, "SELECT count(*) FROM rm_users").await, 1);
    assert_eq!(
        count(
            &sql,
            "SELECT count(*) FROM relay_checkpoints WHERE last_position >= (SELECT max(position) FROM events)"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn an_event_whose_ack_fails_while_its_successor_is_stored_is_still_applied_in_order() {
    let app = spawn_app(Roles::ALL).await;
    let env = &app.env;
    let commands = env.commands().await;
    let sql = env.sql().await;
    let js = env.jetstream().await;
    let (id, _) = create_user(&commands, "acked-out-of-order").await;
    wait_for_count(&sql, "projected", "SELECT count(*) FROM rm_users", 1).await;

    // JetStream refuses messages over 2 KB on the events stream for a while: event 2 (padded)
    // is refused while event 3, published right behind it in the same pipelined batch, is stored.
    let stream_name = env.config.names.events_stream();
    let mut config = stream_config(&js, &stream_name).await;
    config.max_message_size = 2048;
    js.update_stream(config.clone()).await.expect("limit");
    let deactivated =
        serde_json::to_value(UserEvent::UserDeactivated { at: Utc::now() }).expect("json");
    let demoted = serde_json::to_value(UserEvent::RoleChanged {
        from: Role::Admin,
        to: Role::Editor,
        at: Utc::now(),
    })
    .expect("json");
    let padding = json!({"note": "x".repeat(4000)});
    let tx_sql = format!(
        "BEGIN;
         INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('user', '{id}', 2, 'UserEvent', '1', '{deactivated}', '{padding}'),
                ('user', '{id}', 3, 'UserEvent', '1', '{demoted}', '{{}}');
         COMMIT; NOTIFY pga_events;"
    );
    sql.batch_execute(&tx_sql).await.expect("two events");
    eventually(
        "the successor stored while the event was refused",
        || async {
            let (status, body) = app.health().await;
            (status == 503 && body["relay_failing"]["position"].is_i64()).then_some(())
        },
    )
    .await;
    assert_eq!(
        stream_len(&js, &stream_name).await,
        2,
        "event 3 is on the stream, event 2 not"
    );

    config.max_message_size = -1;
    js.update_stream(config).await.expect("lift the limit");
    let (active, role) = eventually("both events applied", || async {
        let row = sql
            .query_one(
                "SELECT active, role FROM rm_users WHERE username = 'acked-out-of-order'",
                &[],
            )
            .await
            .expect("query");
        let role: String = row.get(1);
        (role == "editor").then(|| (row.get::<_, bool>(0), role))
    })
    .await;
    assert!(
        !active,
        "the deactivation (published late) was applied, not skipped"
    );
    assert_eq!(role, "editor");
    // Every event projection applies all three, in order, and holds nothing back.
    eventually(
        "the audit log has all three and nothing is parked",
        || async {
            (count(
                &sql,
                &format!("SELECT count(*) FROM rm_audit_log WHERE aggregate_id = '{id}'"),
            )
            .await
                == 3
                && count(&sql, "SELECT count(*) FROM projection_parked").await == 0)
                .then_some(())
        },
    )
    .await;
    let (status, body) = eventually("health green again", || async {
        let (status, body) = app.health().await;
        (status == 200).then_some((status, body))
    })
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn an_event_not_signed_by_the_relay_is_rejected_and_changes_nothing() {
    let app = spawn_app(Roles::ALL).await;
    let env = &app.env;
    let commands = env.commands().await;
    let sql = env.sql().await;
    let js = env.jetstream().await;
    let (id, _) = create_user(&commands, "would-be-admin").await;
    wait_for_count(&sql, "projected", "SELECT count(*) FROM rm_users", 1).await;
    let role: String = sql
        .query_one("SELECT role FROM rm_users", &[])
        .await
        .expect("role")
        .get(0);
    // Anyone who can publish on NATS tries to make themselves admin: once unsigned, once
    // signed under a key of their own.
    let promote = user_event(
        &id,
        2,
        &UserEvent::RoleChanged {
            from: Role::Viewer,
            to: Role::Admin,
            at: Utc::now(),
        },
    );
    let subject = env.config.names.subject(&promote.subject_suffix());
    let payload = serde_json::to_vec(&promote).expect("json");
    js.publish(subject.clone(), payload.clone().into())
        .await
        .expect("publish")
        .await
        .expect("ack");
    let mut headers = async_nats::HeaderMap::new();
    let forged = domain::signature::EventSeal::derive(b"not the server's secret, but long");
    headers.insert(
        domain::signature::SIGNATURE_HEADER,
        forged.sign(&subject, &payload).as_str(),
    );
    js.publish_with_headers(subject, headers, payload.into())
        .await
        .expect("publish")
        .await
        .expect("ack");
    create_user(&commands, "afterwards").await;

    wait_for_count(
        &sql,
        "the next real event applied",
        "SELECT count(*) FROM rm_users",
        2,
    )
    .await;
    let reasons = rejected_reasons(&sql, "users").await;
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].contains("not signed"), "{reasons:?}");
    assert!(
        reasons[1].contains("signature does not match"),
        "{reasons:?}"
    );
    let after: String = sql
        .query_one(
            "SELECT role FROM rm_users WHERE username = 'would-be-admin'",
            &[],
        )
        .await
        .expect("role")
        .get(0);
    assert_eq!(after, role, "the forged promotion changed nothing");
}

#[tokio::test]
async fn unsigned_events_published_before_signing_began_are_still_applied() {
    let env = TestEnv::new().await;
    let js = env.jetstream().await;
    commands::relay::ensure_events_stream(&js, &env.config.names, 1)
        .await
        .expect("stream");
    // What an earlier version left on the stream: an unsigned event.
    let legacy = user_event(
        &uuid::Uuid::new_v4().to_string(),
        1,
        &UserEvent::UserCreated {
            username: Username::parse("from-before").expect("valid"),
            role: Role::Viewer,
            password_hash: PasswordHash::from_phc("$argon2id$stub".into()),
            at: Utc::now(),
        },
    );
    js.publish(
        env.config.names.subject(&legacy.subject_suffix()),
        serde_json::to_vec(&legacy).expect("json").into(),
    )
    .await
    .expect("publish")
    .await
    .expect("ack");
    let app = TestApp::builder().on(env).spawn().await;
    let sql = app.sql().await;
    wait_for_count(
        &sql,
        "the earlier version's event applied",
        "SELECT count(*) FROM rm_users WHERE username = 'from-before'",
        1,
    )
    .await;
    assert_eq!(
        count(&sql, "SELECT count(*) FROM projection_rejected").await,
        0
    );
    assert_eq!(
        count(&sql, "SELECT since_stream_sequence FROM event_signing").await,
        2
    );
}

#[tokio::test]
async fn an_event_waiting_long_for_a_lost_predecessor_turns_health_red_naming_the_projection() {
    let app = spawn_app(Roles::ALL).await;
    let env = &app.env;
    let sql = env.sql().await;
    eventually("health green at first", || async {
        (app.health().await.0 == 200).then_some(())
    })
    .await;
    // An event parked two minutes ago whose predecessor never came.
    sql.execute(
        "INSERT INTO projection_parked
            (projection, aggregate_type, aggregate_id, sequence, stream_sequence, subject, payload, parked_at)
         VALUES ('users', 'user', 'u-1', 5, 9, 'x.events.user.u-1', '\\x7b7d', now() - interval '2 minutes')",
        &[],
    )
    .await
    .expect("park");
    let (status, body) = app.health().await;
    assert_eq!(status, 503, "{body}");
    let users = body["projections"]
        .as_array()
        .expect("projections")
        .iter()
        .find(|p| p["name"] == "users")
        .expect("users")
        .clone();
    assert_eq!(users["parked"], 1, "{body}");
    assert!(
        users["oldest_parked_s"].as_i64().unwrap_or(0) >= 119,
        "{body}"
    );
    let problem = body["problems"][0].as_str().unwrap_or_default();
    assert!(problem.contains("projection users"), "{body}");
}

/// A sample for [`compact`]: metric, labels, value, seconds from now.
type Point<'a> = (&'a str, &'a [(&'a str, &'a str)], f64, i64);

/// A compact batch of `c` with these samples.
fn compact(c: &RegisteredCollector, id: &str, samples: &[Point<'_>]) -> Vec<u8> {
    let now = Utc::now().duration_trunc(Duration::seconds(1)).expect("ts");
    domain::metrics::compact::encode(&domain::metrics::MetricBatch {
        batch_id: id.into(),
        collector_id: c.id.clone(),
        instance: None,
        collected_at: now,
        samples: samples
            .iter()
            .map(|(metric, labels, value, after)| domain::metrics::Sample {
                metric: (*metric).into(),
                labels: labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                value: *value,
                ts: now + Duration::seconds(*after),
                counter: false,
            })
            .collect(),
        statements: Default::default(),
    })
}

/// Replaces the first occurrence of `from` in `bytes` by `to` (same length).
fn patch(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("bytes to patch");
    bytes[at..at + to.len()].copy_from_slice(to);
}

#[tokio::test]
async fn hostile_compact_batches_over_nats_store_only_what_json_would_and_damaged_ones_are_rejected(
) {
    let app = spawn_admin_app().await;
    let c = app.register_collector("hostile").await;
    let sql = app.sql().await;
    // A series whose labels are out of order (a different series id than JSON would give the
    // same labels) and a point three hours ahead are left out; the rest is stored.
    let mut first = compact(
        &c,
        "hostile-1",
        &[
            ("pg_ok", &[("database", "app")], 1.0, 0),
            ("pg_unsorted", &[("a", "1"), ("b", "2")], 2.0, 0),
            ("pg_ok", &[("database", "app")], 3.0, 3 * 3600),
        ],
    );
    patch(&mut first, b"a\x011\x00b\x012\x00", b"b\x012\x00a\x011\x00");
    app.env
        .publish_bytes(&c.id, &c.token, first, "hostile-1")
        .await;
    // Cut short (its point count no longer fits): rejected whole, with the reason, its batch
    // id read for the record.
    let second = compact(
        &c,
        "hostile-2",
        &[("pg_ok", &[("database", "app")], 4.0, 0)],
    );
    let cut = second[..second.len() - 3].to_vec();
    app.env
        .publish_bytes(&c.id, &c.token, cut, "hostile-2")
        .await;
    // The same series pushed as JSON over HTTP lands in the same series.
    let ts = Utc::now().duration_trunc(Duration::seconds(1)).expect("ts");
    app.push_accepted(
        &c,
        &json!({"batch_id": "json-1", "collector_id": c.id, "collected_at": ts,
                "samples": [{"metric": "pg_ok", "labels": {"database": "app"}, "value": 5, "ts": ts}]}),
    )
    .await;

    app.wait_for_points(&c.id, 2).await;
    let view = app.wait_for_rejected_batches(&c.id, 1).await;
    assert_eq!(view["metrics_count_total"], 2, "{view}");
    // The activity projection counted them; the samples projection may still be writing.
    wait_for_count(
        &sql,
        "both samples stored",
        "SELECT count(*) FROM metric_samples",
        2,
    )
    .await;
    let series: Vec<String> = sql
        .query("SELECT metric FROM metric_series ORDER BY metric", &[])
        .await
        .expect("series")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        series,
        ["pg_ok"],
        "one series, whichever encoding brought it"
    );
    let values: Vec<f64> = sql
        .query("SELECT value FROM metric_samples ORDER BY value", &[])
        .await
        .expect("samples")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(values, [1.0, 5.0]);
    let rejected = sql
        .query(
            "SELECT reason, batch_id FROM projection_rejected WHERE projection LIKE 'metric\\_samples%'",
            &[],
        )
        .await
        .expect("rejected");
    assert_eq!(rejected.len(), 1);
    let reason: String = rejected[0].get(0);
    assert!(
        reason.contains("compact batch: 1 points do not fit"),
        "{reason}"
    );
    assert_eq!(
        rejected[0].get::<_, Option<String>>(1).as_deref(),
        Some("hostile-2")
    );
}
