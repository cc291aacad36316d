//! The fleet overview: one row per managed instance from the projection made for it, with
//! rates from consecutive batches, and nothing from a collector not bound to the instance.

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::support::*;

fn batch(
    c: &RegisteredCollector,
    instance: &str,
    secs_ago: i64,
    xacts: f64,
    hit: f64,
    read: f64,
    backends: f64,
) -> Value {
    let at = (Utc::now() - Duration::seconds(secs_ago)).to_rfc3339();
    let sample = |metric: &str, db: &str, value: f64, counter: bool| json!({"metric": metric, "labels": {"datname": db}, "value": value, "ts": at, "counter": counter});
    json!({"batch_id": uuid::Uuid::new_v4().to_string(), "collector_id": c.id,
    "instance": instance, "collected_at": at,
    "samples": [
        sample("pg_database_numbackends", "app", backends, false),
        sample("pg_database_numbackends", "postgres", 1.0, false),
        sample("pg_database_xact_commit_total", "app", xacts, true),
        sample("pg_database_xact_rollback_total", "app", 0.0, true),
        sample("pg_database_blks_hit_total", "app", hit, true),
        sample("pg_database_blks_read_total", "app", read, true),
        sample("pg_database_size_bytes", "app", 1.0e9, false),
        sample("pg_database_size_bytes", "postgres", 8.0e6, false),
        {"metric": "pg_settings_max_connections", "labels": {}, "value": 100.0, "ts": at},
    ]})
}

async fn fleet_row(app: &TestApp, token: &str, name: &str) -> Value {
    let reply = app.api().get("/fleet", token).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .find(|i| i["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} not in {}", reply.body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_shows_rates_and_only_bound_collectors() {
    let app = TestApp::builder().admin().spawn().await;
    let viewer = app.user("fleet-viewer", "viewer").await;
    let id = app.managed_instance("fleet-db").await;
    let quiet = app.managed_instance("fleet-quiet").await;
    let c = app.register_collector("fleet-collector").await;
    let bound = app.bind(&c.id, json!([id])).await;
    assert_eq!(bound.status, 200, "{}", bound.body);

    app.push_accepted(&c, &batch(&c, "fleet-db", 20, 1000.0, 900.0, 100.0, 4.0))
        .await;
    app.push_accepted(&c, &batch(&c, "fleet-db", 10, 1500.0, 1890.0, 110.0, 6.0))
        .await;
    let row = eventually("the second batch in the overview", || async {
        let row = fleet_row(&app, &viewer.token, "fleet-db").await;
        (row["tps"] != Value::Null).then_some(row)
    })
    .await;
    assert_eq!(row["id"], json!(id));
    let tps = row["tps"].as_f64().expect("tps");
    assert!((tps - 50.0).abs() < 1.0, "500 transactions in 10 s: {row}");
    assert!(
        (row["cache_hit_ratio"].as_f64().expect("ratio") - 0.99).abs() < 1e-9,
        "{row}"
    );
    assert_eq!(
        row["connections"],
        json!(7.0),
        "backends summed over databases"
    );
    assert_eq!(row["max_connections"], json!(100.0));
    assert_eq!(row["database_size_bytes"], json!(1.008e9));
    assert_eq!(row["status"], "unknown");
    let spark = row["spark_connections"].as_array().expect("spark");
    assert_eq!(spark.len(), 60);
    assert!(spark.iter().any(|v| v == &json!(7.0)), "{row}");

    // An instance nobody reports is listed, empty.
    let empty = fleet_row(&app, &viewer.token, "fleet-quiet").await;
    assert_eq!(
        (empty["id"].clone(), empty["tps"].clone()),
        (json!(quiet), Value::Null)
    );

    // A collector bound to nothing sends the same name: its batch is refused (a managed
    // instance's name is only its bound collectors'), and the overview does not change.
    let rogue = app.register_collector("fleet-rogue").await;
    app.push_accepted(&c, &batch(&c, "fleet-db", 3, 1600.0, 1990.0, 110.0, 5.0))
        .await;
    app.push_accepted(&rogue, &batch(&rogue, "fleet-db", 0, 0.0, 0.0, 0.0, 999.0))
        .await;
    eventually("the bound collector's third batch", || async {
        let row = fleet_row(&app, &viewer.token, "fleet-db").await;
        (row["connections"] == json!(6.0)).then_some(())
    })
    .await;
    eventually("the rogue's batch applied or refused", || async {
        let c = app.collector(&rogue.id).await;
        (c["batches_total"].as_i64().unwrap_or(0) + c["rejected_batches"].as_i64().unwrap_or(0) > 0)
            .then_some(())
    })
    .await;
    assert!(
        app.collector(&rogue.id).await["rejected_batches"].as_i64() >= Some(1),
        "refused"
    );
    // A row of a collector once bound and since unbound (here written directly, newer than
    // the bound one's) is not shown either.
    let sql = app.sql().await;
    sql.execute(
        "INSERT INTO rm_fleet (instance, collector_id, sampled_at, connections)
         VALUES ('fleet-db', $1, now() + interval '1 minute', 999)",
        &[&uuid::Uuid::parse_str(&rogue.id).expect("id")],
    )
    .await
    .expect("row");
    let row = fleet_row(&app, &viewer.token, "fleet-db").await;
    assert_eq!(row["connections"], json!(6.0), "{row}");
    assert!(row["spark_connections"]
        .as_array()
        .expect("spark")
        .iter()
        .all(|v| v != &json!(999.0)));
}
