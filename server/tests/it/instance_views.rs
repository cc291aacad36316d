//! What the instance page reads: charts grouped into the top databases and one "others" line,
//! the newest values of tables joined into rows with rates and sparklines, and statements
//! ranked with their trend.

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::support::*;

/// A batch `secs_ago` seconds ago at time `t` (seconds since the first): eight databases
/// committing d<n> × n per second, two tables (`t_small` only while `small`), an unused index
/// and two statements.
fn batch(c: &RegisteredCollector, secs_ago: i64, t: f64, small: bool) -> Value {
    let at = (Utc::now() - Duration::seconds(secs_ago)).to_rfc3339();
    let mut samples: Vec<Value> = (1..=8)
        .map(|n| {
            json!({"metric": "pg_database_xact_commit_total", "labels": {"database": format!("d{n}")},
                   "value": f64::from(n) * t, "ts": at, "counter": true})
        })
        .collect();
    let table = |table: &str, metric: &str, value: f64, counter: bool| {
        json!({"metric": metric, "labels": {"database": "d2", "schema": "public", "table": table},
               "value": value, "ts": at, "counter": counter})
    };
    samples.extend([
        table("t_dead", "pg_table_dead_tuples", 5000.0 + t, false),
        table("t_dead", "pg_table_size_bytes", 1.0e6, false),
        table("t_dead", "pg_table_seq_scan_total", 2.0 * t, true),
        table("t_big", "pg_table_dead_tuples", 0.0, false),
        table("t_big", "pg_table_size_bytes", 9.0e9, false),
    ]);
    if small {
        samples.extend([
            table("t_small", "pg_table_dead_tuples", 10.0, false),
            table("t_small", "pg_table_size_bytes", 8192.0, false),
        ]);
    }
    samples.extend([
        json!({"metric": "pg_index_unused", "labels": {"database": "d2", "schema": "public", "table": "t_dead", "index": "t_dead_idx"},
               "value": 1.0, "ts": at}),
    ]);
    for (q, calls_per_s, ms_per_call) in [("q1", 10.0, 1.0), ("q2", 1.0, 50.0)] {
        let labels = json!({"database": "d1", "queryid": q});
        samples.push(
            json!({"metric": "pg_statement_calls_total", "labels": labels,
                            "value": calls_per_s * t, "ts": at, "counter": true}),
        );
        samples.push(
            json!({"metric": "pg_statement_exec_time_ms_total", "labels": labels,
                            "value": calls_per_s * ms_per_call * t, "ts": at, "counter": true}),
        );
    }
    json!({"batch_id": uuid::Uuid::new_v4().to_string(), "collector_id": c.id,
           "instance": "views-db", "collected_at": at, "samples": samples})
}

/// A batch about the collector's other server: a statement of its own.
fn other_batch(c: &RegisteredCollector, secs_ago: i64, calls: f64) -> Value {
    let at = (Utc::now() - Duration::seconds(secs_ago)).to_rfc3339();
    let labels = json!({"database": "d1", "queryid": "q-other"});
    json!({"batch_id": uuid::Uuid::new_v4().to_string(), "collector_id": c.id,
           "instance": "views-other", "collected_at": at, "samples": [
        {"metric": "pg_statement_calls_total", "labels": labels, "value": calls, "ts": at, "counter": true},
        {"metric": "pg_statement_exec_time_ms_total", "labels": labels, "value": calls * 1000.0, "ts": at, "counter": true},
    ]})
}

/// A series answer over the last 5 minutes in 1-minute steps.
async fn series(api: &Api, token: &str, id: &str, q: String) -> Value {
    let from = (Utc::now() - Duration::seconds(300)).timestamp();
    let reply = api
        .get(
            &format!("/metrics/series?instance_id={id}&from={from}&step=60&{q}"),
            token,
        )
        .await;
    assert_eq!(reply.status, 200, "{q}: {}", reply.body);
    reply.body
}

fn near(v: &Value, want: f64) -> bool {
    v.as_f64()
        .is_some_and(|v| (v - want).abs() < want * 0.05 + 1e-9)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instance_views_read_top_groups_rows_and_ranked_statements() {
    let app = TestApp::builder().admin().spawn().await;
    let viewer = app.user("views-viewer", "viewer").await;
    let id = app.managed_instance("views-db").await;
    let other = app.managed_instance("views-other").await;
    let c = app.register_collector("views-collector").await;
    assert_eq!(app.bind(&c.id, json!([id, other])).await.status, 200);
    // Four batches a minute apart: three rates, in three one-minute buckets. t_small is dropped
    // before the last one.
    for (n, secs_ago) in [200, 140, 80, 20].into_iter().enumerate() {
        app.push_accepted(&c, &batch(&c, secs_ago, 60.0 * n as f64, n < 3))
            .await;
        app.push_accepted(&c, &other_batch(&c, secs_ago, 1.0e4 * n as f64))
            .await;
    }
    let api = app.api();
    let series = |q: String| series(api, &viewer.token, &id, q);
    let commits = "metric=pg_database_xact_commit_total&fn=rate";
    // Every batch stored before reading: a chart reads its series one by one, so one read in
    // the middle of the projection's writes mixes batches (a full run once saw it).
    app.wait_for_batches(8).await;
    let top = series(format!("{commits}&group=database&top=3")).await;
    // The three busiest databases by name, then one line for the other five.
    let names: Vec<Value> = top["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|s| s["labels"]["database"].clone())
        .collect();
    assert_eq!(
        names,
        [json!("d8"), json!("d7"), json!("d6"), Value::Null],
        "{top}"
    );
    assert_eq!(top["series"][3]["others"], json!(5));
    assert!(
        near(&top["series"][3]["points"][1][1], 15.0),
        "1+2+3+4+5: {top}"
    );
    let groups = top["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 8);
    assert_eq!(groups[0]["value"], "d8");
    assert!(near(&groups[0]["last"], 8.0), "{top}");
    let total = series(format!("{commits}&agg=sum")).await;
    assert_eq!(total["series"].as_array().map(Vec::len), Some(1));
    assert!(near(&total["series"][0]["points"][1][1], 36.0), "{total}");
    let picked = series(format!("{commits}&group=database&pick=d1,nope")).await;
    assert_eq!(picked["series"][0]["labels"]["database"], "d1");
    assert_eq!(picked["series"][1]["others"], json!(7));
    let bad = api
        .get(
            &format!("/metrics/series?instance_id={id}&{commits}&top=3"),
            &viewer.token,
        )
        .await;
    assert_eq!(
        (bad.status, bad.body["error"]["field"].clone()),
        (422, json!("top")),
        "{}",
        bad.body
    );

    // The tables' newest values, one row per table still there (t_small was dropped), with the
    // counter's rate and a sparkline, by dead tuples.
    let reply = api
        .get(
            &format!(
                "/metrics/latest?instance_id={id}&within=600&spark=pg_table_dead_tuples\
                 &metric=pg_table_dead_tuples,pg_table_size_bytes,pg_table_seq_scan_total\
                 &sort=pg_table_dead_tuples"
            ),
            &viewer.token,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let rows = reply.body["rows"].as_array().expect("rows");
    let tables: Vec<&Value> = rows.iter().map(|r| &r["labels"]["table"]).collect();
    assert_eq!(tables, ["t_dead", "t_big"], "{}", reply.body);
    let dead = &rows[0];
    assert_eq!(dead["labels"]["database"], "d2");
    assert_eq!(dead["values"]["pg_table_dead_tuples"], json!(5180.0));
    assert_eq!(dead["values"]["pg_table_size_bytes"], json!(1.0e6));
    assert!(
        near(&dead["rates"]["pg_table_seq_scan_total"], 2.0),
        "{dead}"
    );
    assert!(
        dead["rates"].get("pg_table_dead_tuples").is_none(),
        "a gauge has no rate"
    );
    assert_eq!(dead["spark"].as_array().map(Vec::len), Some(4), "{dead}");
    // Only what is newer than the window counts; a filter by label narrows the rows.
    let recent = api
        .get(
            &format!("/metrics/latest?instance_id={id}&within=60&metric=pg_index_unused&label.table=t_dead"),
            &viewer.token,
        )
        .await;
    assert_eq!(
        recent.body["rows"][0]["labels"]["index"], "t_dead_idx",
        "{}",
        recent.body
    );
    assert_eq!(recent.body["rows"].as_array().map(Vec::len), Some(1));
    let bad = api
        .get(
            &format!("/metrics/latest?instance_id={id}&metric=a&spark=b"),
            &viewer.token,
        )
        .await;
    assert_eq!(
        (bad.status, bad.body["error"]["field"].clone()),
        (422, json!("spark"))
    );

    // Statements ranked three ways, each with its trend: the trend adds up to the total. The
    // instance's own: the collector's other server's statement is not among them.
    let from = (Utc::now() - Duration::seconds(300)).timestamp();
    for (by, first) in [("calls", "q1"), ("mean_time", "q2"), ("total_time", "q2")] {
        let reply = api
            .get(
                &format!("/managed-instances/{id}/queries/top?by={by}&from={from}"),
                &viewer.token,
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body[0]["queryid"], first, "{by}: {}", reply.body);
        let trend = reply.body[0]["trend"].as_array().expect("trend");
        assert_eq!(trend.len(), 24);
        let calls: f64 = trend.iter().filter_map(|b| b[1].as_f64()).sum();
        assert!(near(&reply.body[0]["calls"], calls), "{}", reply.body);
        assert!(
            reply
                .body
                .as_array()
                .expect("list")
                .iter()
                .all(|s| s["queryid"] != "q-other"),
            "{}",
            reply.body
        );
    }
    // The collector's ranking has both servers' statements: the other's, with most calls, first.
    let reply = api
        .get(
            &format!("/collectors/{}/queries/top?by=calls&from={from}", c.id),
            &viewer.token,
        )
        .await;
    assert_eq!(reply.body[0]["queryid"], "q-other", "{}", reply.body);
    let unknown = api
        .get(
            &format!(
                "/managed-instances/{}/queries/top?by=calls",
                uuid::Uuid::new_v4()
            ),
            &viewer.token,
        )
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let bad = api
        .get(
            &format!("/collectors/{}/queries/top?by=rows", c.id),
            &viewer.token,
        )
        .await;
    assert_eq!(
        (bad.status, bad.body["error"]["field"].clone()),
        (422, json!("by"))
    );
}
