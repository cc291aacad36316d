//! Statement texts lose the literals of utility statements (passwords) on ingest, whichever path
//! the batch took, before anything is stored or served.

use chrono::{DateTime, Duration, Utc};
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

#[tokio::test]
async fn a_password_in_a_pushed_statement_is_neither_stored_nor_served() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("redacted").await;
    let t0 = Utc::now() - Duration::minutes(5);
    for (id, at, calls, time) in [
        ("r0", t0, 1.0, 10.0),
        ("r1", t0 + Duration::minutes(2), 3.0, 50.0),
    ] {
        app.push_accepted(&c, &batch(&c.id, id, at, calls, time))
            .await;
    }
    app.wait_for_batches(2).await;

    let served = slow_queries(app.api(), app.admin(), &c.id, t0).await;
    assert!(!served.contains(SECRET), "{served}");
    let sql = app.sql().await;
    let kept = count(
        &sql,
        &format!("SELECT count(*) FROM metric_statements WHERE query LIKE '%{SECRET}%'"),
    )
    .await;
    assert_eq!(kept, 0, "stored with the password");
    // The bridge published the redacted batch, not the one it was sent.
    let js = app.jetstream().await;
    for m in metric_stream_messages(&js, &app.config().names).await {
        let text = String::from_utf8_lossy(&m.payload);
        assert!(!text.contains(SECRET), "on the bus: {text}");
    }
}

#[tokio::test]
async fn a_password_in_a_statement_published_over_nats_is_not_served() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("redacted").await;
    let t0 = Utc::now() - Duration::minutes(5);
    for (id, at, calls, time) in [
        ("n0", t0, 1.0, 10.0),
        ("n1", t0 + Duration::minutes(2), 3.0, 50.0),
    ] {
        let body = batch(&c.id, id, at, calls, time);
        app.publish_batch(&c, &body, &format!("{}:{id}", c.id))
            .await;
    }
    app.wait_for_batches(2).await;

    let served = slow_queries(app.api(), app.admin(), &c.id, t0).await;
    assert!(!served.contains(SECRET), "{served}");
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
    let _app = TestApp::builder().on(env).spawn().await;
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
}
