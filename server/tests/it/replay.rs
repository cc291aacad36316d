//! Replay: a projection rebuilt from history equals the live one.

use chrono::Utc;
use domain::collector::CollectorCommand;
use domain::managed_instance::{ConnectionSpec, ManagedInstanceCommand};
use domain::registration_secret::RegistrationSecretCommand;
use domain::user::UserCommand;
use domain::values::{AgentVersion, Hostname, Name};
use pganalytics::app::Roles;
use projections::projectors::event_projectors;

use crate::support::*;

const TABLES: [(&str, &str); 10] = [
    ("rm_users", "id"),
    ("rm_managed_instances", "id"),
    ("rm_collectors", "id"),
    ("rm_registration_secrets", "id"),
    ("rm_user_history", "id, sequence"),
    ("rm_instance_history", "id, sequence"),
    ("rm_collector_history", "id, sequence"),
    ("rm_secret_history", "id, sequence"),
    ("rm_alert_rule_history", "id, sequence"),
    ("rm_audit_log", "aggregate_type, aggregate_id, sequence"),
];

async fn snapshot(sql: &tokio_postgres::Client) -> Vec<String> {
    let mut out = Vec::new();
    for (table, key) in TABLES {
        let rows = sql
            .query(
                &format!("SELECT coalesce(json_agg(t ORDER BY {key})::text, '[]') FROM {table} t"),
                &[],
            )
            .await
            .expect("snapshot");
        out.push(format!("{table}: {}", rows[0].get::<_, String>(0)));
    }
    out
}

#[tokio::test]
async fn a_replayed_projection_equals_the_live_one() {
    let app = spawn_app(Roles::ALL).await;
    let env = &app.env;
    let commands = env.commands().await;
    let actor = admin_actor();
    let now = Utc::now();

    let mut users = Vec::new();
    for name in ["u-one", "u-two", "u-three"] {
        users.push(create_user(&commands, name).await.0);
    }
    commands
        .user(&users[1], UserCommand::DeleteUser { at: now }, &actor)
        .await
        .expect("delete user");
    for i in 0..4 {
        let id = uuid::Uuid::new_v4().to_string();
        commands
            .managed_instance(
                &id,
                ManagedInstanceCommand::RegisterInstance {
                    name: Name::parse(&format!("db-{i}")).expect("name"),
                    connection: ConnectionSpec::parse(
                        "127.0.0.1",
                        5432,
                        "postgres",
                        "postgres",
                        "prefer",
                        5,
                    )
                    .expect("spec"),
                    credential: None,
                    tags: vec![format!("t{i}")],
                    at: now,
                },
                &actor,
            )
            .await
            .expect("register");
        if i == 2 {
            commands
                .managed_instance(
                    &id,
                    ManagedInstanceCommand::RemoveInstance { at: now },
                    &actor,
                )
                .await
                .expect("remove");
        }
    }
    let secret = uuid::Uuid::new_v4().to_string();
    commands
        .registration_secret(
            &secret,
            RegistrationSecretCommand::CreateSecret {
                name: Name::parse("fleet").expect("name"),
                secret_hash: "hash".into(),
                prefix: "pgas_12".into(),
                expires_at: None,
                max_registrations: Some(5),
                instance_ids: vec![],
                at: now,
            },
            &actor,
        )
        .await
        .expect("secret");
    let collector = uuid::Uuid::new_v4().to_string();
    commands
        .collector(
            &collector,
            CollectorCommand::RegisterCollector {
                name: Name::parse("c-1").expect("name"),
                hostname: Hostname::parse("db-host").expect("hostname"),
                version: AgentVersion::parse("0.1.0").expect("version"),
                registration_secret_id: secret.clone(),
                refresh_secret_hash: "h".into(),
                instance_ids: vec![],
                at: now,
            },
            &actor,
        )
        .await
        .expect("collector");

    let sql = env.sql().await;
    let total_events = count(&sql, "SELECT count(*) FROM events").await;
    assert_eq!(total_events, 11);
    eventually("live projections caught up", || async {
        let behind = count(
            &sql,
            &format!("SELECT count(*) FROM projection_checkpoints WHERE stream_sequence < {total_events}"),
        )
        .await;
        let n = count(&sql, "SELECT count(*) FROM projection_checkpoints").await;
        (n == event_projectors(&env.seal()).len() as i64 && behind == 0).then_some(())
    })
    .await;
    let live = snapshot(&sql).await;
    assert!(live[0].contains("u-three") && !live[0].contains("u-two"));
    // History is kept, a removed instance with a last version of no state.
    assert!(live[5].contains("\"state\":null"), "{}", live[5]);

    // Replay every projection while the live runners keep going.
    let mut reports = Vec::new();
    for projector in event_projectors(&env.seal()) {
        let report = env.replay(app.running(), projector).await;
        reports.push(report);
    }
    assert!(reports.iter().all(|r| r.checkpoint == 11));
    let rebuilt = snapshot(&sql).await;
    assert_eq!(live, rebuilt);
    let leftover = count(
        &sql,
        "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'pga_replay_%'",
    )
    .await;
    assert_eq!(leftover, 0);

    // The live runners carry on after the switch.
    create_user(&commands, "after-replay").await;
    wait_for_count(
        &sql,
        "live runner applies into the swapped tables",
        "SELECT count(*) FROM rm_users WHERE username = 'after-replay'",
        1,
    )
    .await;
}
