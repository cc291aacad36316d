//! Statement texts lose the literals of utility statements (passwords) on ingest, whichever path
//! the batch took, before anything is stored or served.

use chrono::{DateTime, Duration, Utc};
use pganalytics::app::Roles;
use serde_json::{json, Value};

use crate::support::*;

const SECRET: &str = "hunter2";

fn batch(collector: &str, id: &str, at: DateTime<Utc>, calls: f64, time: f64) -> Value {
    let labels = json!({"database": "app", "queryid": "q-secret"});
    json!({
        "batch_id": id, "collector_id": collector, "collected_at": at,
        "samples": [
            {"metric": "pg_statement_calls_total", "labels": labels, "value": calls, "counter": true},
            {"metric": "pg_statement_exec_time_ms_total", "labels": labels, "value": time, "counter": true}
        ],
        "statements": {"q-secret": format!("ALTER ROLE app PASSWORD '{SECRET}'")}
    })
}

async fn stored(env: &TestEnv, batches: i64) {
    let sql = env.sql().await;
    eventually(&format!("{batches} batches stored"), || async {
        (count(&sql, "SELECT count(*) FROM metric_applied_batches").await == batches).then_some(())
    })
    .await;
}

/// What `/queries/slow` shows for the collector, after checking it names the statement.
async fn slow_queries(api: &Api, admin: &str, collector: &str, since: DateTime<Utc>) -> String {
    let range = format!(
        "?from={}&to={}",
        (since - Duration::minutes(1)).timestamp(),
        (Utc::now() + Duration::minutes(1)).timestamp()
    );
    let slow = api
        .get(
            &format!("/collectors/{collector}/queries/slow{range}"),
            admin,
        )
        .await;
    assert_eq!(slow.status, 200, "{}", slow.body);
    assert_eq!(slow.body[0]["queryid"], "q-secret", "{}", slow.body);
    assert_eq!(slow.body[0]["query"], "ALTER ROLE app PASSWORD '***'");
    slow.body.to_string()
}

async fn started() -> (
    TestEnv,
    pganalytics::app::Running,
    Api,
    String,
    RegisteredCollector,
) {
    let env = TestEnv::new().await.with_bootstrap_admin();
    let running = env.start(Roles::ALL).await;
    let api = Api::new(running.addr.expect("http"));
    let admin = api.token(ADMIN_USER, ADMIN_PASSWORD).await;
    let c = register_collector(&api, &admin, "redacted").await;
    (env, running, api, admin, c)
}

#[tokio::test]
async fn a_password_in_a_pushed_statement_is_neither_stored_nor_served() {
    let (env, running, api, admin, c) = started().await;
    let t0 = Utc::now() - Duration::minutes(5);
    for (id, at, calls, time) in [
        ("r0", t0, 1.0, 10.0),
        ("r1", t0 + Duration::minutes(2), 3.0, 50.0),
    ] {
        let r = api
            .post(
                "/metrics/push",
                Some(&c.token),
                batch(&c.id, id, at, calls, time),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.body);
    }
    stored(&env, 2).await;

    let served = slow_queries(&api, &admin, &c.id, t0).await;
    assert!(!served.contains(SECRET), "{served}");
    let sql = env.sql().await;
    let kept = count(
        &sql,
        &format!("SELECT count(*) FROM metric_statements WHERE query LIKE '%{SECRET}%'"),
    )
    .await;
    assert_eq!(kept, 0, "stored with the password");
    // The bridge published the redacted batch, not the one it was sent.
    let js = env.jetstream().await;
    for m in stream_messages(&js, &env.config.names.metrics_stream()).await {
        let text = String::from_utf8_lossy(&m.payload);
        assert!(!text.contains(SECRET), "on the bus: {text}");
    }
    running.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn a_password_in_a_statement_published_over_nats_is_not_served() {
    let (env, running, api, admin, c) = started().await;
    let t0 = Utc::now() - Duration::minutes(5);
    let client = env.nats().await;
    let js = async_nats::jetstream::new(client);
    for (id, at, calls, time) in [
        ("n0", t0, 1.0, 10.0),
        ("n1", t0 + Duration::minutes(2), 3.0, 50.0),
    ] {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("{}:{id}", c.id).as_str());
        headers.insert("Pga-Collector-Token", c.token.as_str());
        let body = serde_json::to_vec(&batch(&c.id, id, at, calls, time)).expect("json");
        js.publish_with_headers(
            env.config.names.subject(&format!("metrics.{}", c.id)),
            headers,
            body.into(),
        )
        .await
        .expect("publish")
        .await
        .expect("ack");
    }
    stored(&env, 2).await;

    let served = slow_queries(&api, &admin, &c.id, t0).await;
    assert!(!served.contains(SECRET), "{served}");
    running.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn texts_stored_by_an_earlier_version_are_redacted_when_the_server_starts() {
    let env = TestEnv::new().await.with_bootstrap_admin();
    let sql = env.sql().await;
    sql.execute(
        "INSERT INTO metric_statements (collector_id, queryid, query, updated_at)
         VALUES (gen_random_uuid(), 'old', $1, now()), (gen_random_uuid(), 'dml', 'SELECT ''x''', now())",
        &[&format!("CREATE USER old PASSWORD '{SECRET}'")],
    )
    .await
    .expect("insert");
    let running = env.start(Roles::ALL).await;
    eventually("the old text redacted", || async {
        let row = sql
            .query_one(
                "SELECT query FROM metric_statements WHERE queryid = 'old'",
                &[],
            )
            .await
            .expect("row");
        (row.get::<_, &str>(0) == "CREATE USER old PASSWORD '***'").then_some(())
    })
    .await;
    let dml: String = sql
        .query_one(
            "SELECT query FROM metric_statements WHERE queryid = 'dml'",
            &[],
        )
        .await
        .expect("row")
        .get(0);
    assert_eq!(dml, "SELECT 'x'", "planned statements are left alone");
    running.stop().await;
    env.cleanup().await;
}
