//! Metric storage: every v3 family queryable, rates over resets, rollups, retention,
//! statements ranking, cardinality guard, bad queries.

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{json, Value};

use crate::support::*;

fn query(
    c: &RegisteredCollector,
    metric: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    extra: &str,
) -> String {
    format!(
        "/metrics/series?collector_id={}&metric={metric}&from={}&to={}{extra}",
        c.id,
        from.timestamp(),
        to.timestamp()
    )
}

#[tokio::test]
async fn every_family_of_the_v3_payload_is_queryable_after_a_push() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("storage").await;
    let (api, admin) = (app.api(), app.admin());
    let now = Utc::now()
        .duration_trunc(Duration::seconds(1))
        .expect("trunc");
    let v3 = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../domain/fixtures/v3-push-example.json"
    ))
    .expect("fixture")
    .replace("8d3f6a2e-4b1c-4f7e-9a55-2c1d0e9b7f10", &c.id)
    .replace("2026-02-27T15:13:20Z", &now.to_rfc3339());
    app.push_accepted(&c, &serde_json::from_str(&v3).expect("json"))
        .await;
    app.wait_for_batches(1).await;
    let cases = [
        ("pg_database_size_bytes", "database", "app", 734_003_200.0),
        (
            "pg_database_xact_commit_total",
            "database",
            "app",
            912_345.0,
        ),
        ("pg_table_dead_tuples", "table", "orders", 3400.0),
        ("pg_index_size_bytes", "index", "orders_pkey", 2_695_168.0),
        (
            "pg_statement_calls_total",
            "queryid",
            "7712339900123456789",
            2210.0,
        ),
        ("node_cpu_percent", "mode", "user", 12.5),
        ("node_load1", "", "", 0.42),
        (
            "pg_replication_lag_bytes",
            "application_name",
            "replica-1",
            16384.0,
        ),
        (
            "pg_replication_slot_retained_wal_bytes",
            "slot_name",
            "replica_1_slot",
            33_554_432.0,
        ),
    ];
    for (metric, key, val, expected) in cases {
        let filter = if key.is_empty() {
            String::new()
        } else {
            format!("&label.{key}={val}")
        };
        let r = api
            .get(
                &query(
                    &c,
                    metric,
                    now - Duration::minutes(5),
                    now + Duration::minutes(1),
                    &format!("{filter}&step=10"),
                ),
                admin,
            )
            .await;
        assert_eq!(r.status, 200, "{metric}: {}", r.body);
        let series = r.body["series"].as_array().expect("series");
        assert_eq!(series.len(), 1, "{metric}: {}", r.body);
        assert_eq!(
            series[0]["points"][0][1].as_f64(),
            Some(expected),
            "{metric}: {}",
            r.body
        );
        assert_eq!(r.body["resolution"], "raw");
    }
    // Statement texts came along for the query endpoints.
    let slow = api
        .get(&format!("/collectors/{}/queries/slow", c.id), admin)
        .await;
    assert_eq!(
        slow.body[0]["query"], "UPDATE orders SET status = $1 WHERE id = $2",
        "{}",
        slow.body
    );
}

fn commit_batch(c: &RegisteredCollector, id: &str, at: DateTime<Utc>, value: f64) -> Value {
    json!({"batch_id": id, "collector_id": c.id, "collected_at": at, "samples": [
        {"metric": "pg_database_xact_commit_total", "labels": {"database": "app"}, "value": value, "counter": true}
    ]})
}

/// Pushes five minutes of a counter, +60 a minute, reset before the fourth sample (the server
/// restarted); returns the first minute.
async fn counter_with_a_reset(app: &TestApp, c: &RegisteredCollector) -> DateTime<Utc> {
    let start = (Utc::now() - Duration::minutes(30))
        .duration_trunc(Duration::minutes(1))
        .expect("trunc");
    for (i, v) in [100.0, 160.0, 220.0, 30.0, 90.0].iter().enumerate() {
        let at = start + Duration::minutes(i as i64);
        app.push_accepted(c, &commit_batch(c, &format!("b{i}"), at, *v))
            .await;
    }
    app.wait_for_batches(5).await;
    start
}

#[tokio::test]
async fn a_rate_over_a_counter_reset_is_right_at_every_resolution() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("storage").await;
    let start = counter_with_a_reset(&app, &c).await;
    let (from, to) = (start, start + Duration::minutes(5));
    for step in [30, 60] {
        let r = app
            .api()
            .get(
                &query(
                    &c,
                    "pg_database_xact_commit_total",
                    from,
                    to,
                    &format!("&step={step}&fn=rate"),
                ),
                app.admin(),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let rates: Vec<f64> = r.body["series"][0]["points"]
            .as_array()
            .expect("points")
            .iter()
            .map(|p| p[1].as_f64().expect("v"))
            .collect();
        assert_eq!(rates, vec![1.0, 1.0, 0.5, 1.0], "step {step}: {}", r.body);
        assert_eq!(r.body["resolution"], if step == 30 { "raw" } else { "1m" });
    }
}

#[tokio::test]
async fn minute_and_hour_rollups_are_the_aggregates_of_the_raw_points() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("storage").await;
    let start = counter_with_a_reset(&app, &c).await;
    let pool = &app.running().read_pool;
    // The hours built as if three hours had passed.
    projections::maintenance::build_hours(pool, Utc::now() + Duration::hours(3), 24)
        .await
        .expect("build hours");
    let sql = app.sql().await;
    let aggregates = |unit: &str| {
        format!(
            "SELECT series_id, date_trunc('{unit}', ts) AS bucket, min(value) AS min,
                    max(value) AS max, sum(value) AS sum, count(*) AS count,
                    (array_agg(value ORDER BY ts DESC))[1] AS last, max(ts) AS last_ts
               FROM metric_samples GROUP BY 1, 2"
        )
    };
    let differ = |table: &str, unit: &str| {
        format!(
            "SELECT count(*) FROM (({a} EXCEPT SELECT * FROM {table})
                                   UNION ALL (SELECT * FROM {table} EXCEPT {a})) d",
            a = aggregates(unit)
        )
    };
    assert_eq!(
        count(&sql, &differ("metric_rollup_1h", "hour")).await,
        0,
        "metric_rollup_1h differs from the raw points"
    );
    // Minutes are read from the samples while they are kept: nothing written per batch.
    assert_eq!(
        count(&sql, "SELECT count(*) FROM metric_rollup_1m").await,
        0
    );
    let chart = || {
        query(
            &c,
            "pg_database_xact_commit_total",
            start,
            start + Duration::minutes(5),
            "&step=60",
        )
    };
    let before = app.api().get(&chart(), app.admin()).await;
    assert_eq!(before.body["resolution"], "1m", "{}", before.body);
    assert_eq!(
        before.body["series"][0]["points"].as_array().map(Vec::len),
        Some(5),
        "{}",
        before.body
    );
    let minutes: Vec<String> = sql
        .query(
            &format!(
                "SELECT t::text FROM ({}) t ORDER BY 1",
                aggregates("minute")
            ),
            &[],
        )
        .await
        .expect("minutes")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(minutes.len(), 5);

    // Retention drops the day (as if 20 days had passed): its minutes are built first, and the
    // chart reads the same from them.
    let done = projections::maintenance::upkeep(
        pool,
        Utc::now() + Duration::days(20),
        14,
        true,
        Duration::days(14),
    )
    .await
    .expect("upkeep");
    assert!(
        done.dropped
            .contains(&projections::projectors::partition_name(start.date_naive())),
        "{done:?}"
    );
    assert_eq!(count(&sql, "SELECT count(*) FROM metric_samples").await, 0);
    let built: Vec<String> = sql
        .query("SELECT t::text FROM metric_rollup_1m t ORDER BY 1", &[])
        .await
        .expect("rollups")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(built, minutes, "the minutes built equal the raw points'");
    let after = app.api().get(&chart(), app.admin()).await;
    assert_eq!(
        after.body["series"], before.body["series"],
        "{}",
        after.body
    );
}

#[tokio::test]
async fn retention_drops_old_partitions_and_nothing_else() {
    let app = TestApp::builder()
        .admin()
        .config(|c| c.retention_days = 30)
        .spawn()
        .await;
    let c = app.register_collector("storage").await;
    let now = Utc::now();
    let old = now - Duration::days(20);
    app.push_accepted(&c, &commit_batch(&c, "old", old, 1.0))
        .await;
    app.push_accepted(&c, &commit_batch(&c, "new", now, 2.0))
        .await;
    app.wait_for_batches(2).await;
    let sql = app.sql().await;
    assert_eq!(count(&sql, "SELECT count(*) FROM metric_samples").await, 2);
    let done = projections::maintenance::upkeep(
        &app.running().read_pool,
        now,
        14,
        true,
        Duration::days(14),
    )
    .await
    .expect("upkeep");
    assert_eq!(
        done.dropped,
        vec![projections::projectors::partition_name(old.date_naive())]
    );
    assert_eq!(count(&sql, "SELECT count(*) FROM metric_samples").await, 1);
    assert_eq!(
        count(&sql, "SELECT count(*) FROM metric_samples WHERE value = 2").await,
        1
    );
    // Series and rollups stay; partitions for today and tomorrow exist.
    projections::maintenance::build_hours(&app.running().read_pool, now + Duration::hours(2), 24)
        .await
        .expect("build hours");
    assert_eq!(count(&sql, "SELECT count(*) FROM metric_series").await, 1);
    assert_eq!(
        count(&sql, "SELECT count(*) FROM metric_rollup_1h").await,
        2
    );
    let tomorrow = projections::projectors::partition_name((now + Duration::days(1)).date_naive());
    assert_eq!(
        count(
            &sql,
            &format!("SELECT count(*) FROM pg_class WHERE relname = '{tomorrow}'")
        )
        .await,
        1
    );
}

fn statements_batch(
    c: &RegisteredCollector,
    id: &str,
    at: DateTime<Utc>,
    stats: &[(&str, f64, f64)],
) -> Value {
    let mut samples = Vec::new();
    let mut statements = serde_json::Map::new();
    for (qid, calls, time) in stats {
        let labels = json!({"database": "app", "queryid": qid});
        samples.push(json!({"metric": "pg_statement_calls_total", "labels": labels, "value": calls, "counter": true}));
        samples.push(json!({"metric": "pg_statement_exec_time_ms_total", "labels": labels, "value": time, "counter": true}));
        statements.insert((*qid).to_owned(), json!(format!("SELECT {qid}")));
    }
    json!({"batch_id": id, "collector_id": c.id, "collected_at": at, "samples": samples, "statements": statements})
}

#[tokio::test]
async fn slow_and_frequent_rank_statements_by_what_happened_in_the_range() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("storage").await;
    let (api, admin) = (app.api(), app.admin());
    let t0 = Utc::now() - Duration::minutes(10);
    // q1: many cheap calls; q2: few slow calls; q3: big totals from before the range, idle now.
    app.push_accepted(
        &c,
        &statements_batch(
            &c,
            "s0",
            t0,
            &[
                ("q1", 1000.0, 100.0),
                ("q2", 10.0, 500.0),
                ("q3", 90000.0, 900000.0),
            ],
        ),
    )
    .await;
    app.push_accepted(
        &c,
        &statements_batch(
            &c,
            "s1",
            t0 + Duration::minutes(5),
            &[
                ("q1", 6000.0, 600.0),
                ("q2", 20.0, 5500.0),
                ("q3", 90000.0, 900000.0),
            ],
        ),
    )
    .await;
    app.wait_for_batches(2).await;
    let range = format!(
        "?from={}&to={}",
        (t0 - Duration::minutes(1)).timestamp(),
        Utc::now().timestamp()
    );
    let slow = api
        .get(&format!("/collectors/{}/queries/slow{range}", c.id), admin)
        .await;
    assert_eq!(slow.status, 200, "{}", slow.body);
    let ids: Vec<&str> = slow
        .body
        .as_array()
        .expect("list")
        .iter()
        .map(|s| s["queryid"].as_str().expect("id"))
        .collect();
    assert_eq!(
        ids,
        ["q2", "q1"],
        "q3 did nothing in the range: {}",
        slow.body
    );
    assert_eq!(slow.body[0]["mean_time_ms"], 500.0);
    assert_eq!(slow.body[0]["query"], "SELECT q2");
    let frequent = api
        .get(
            &format!("/collectors/{}/queries/frequent{range}&limit=1", c.id),
            admin,
        )
        .await;
    assert_eq!(frequent.body.as_array().expect("list").len(), 1);
    assert_eq!(
        (
            frequent.body[0]["queryid"].clone(),
            frequent.body[0]["calls"].clone()
        ),
        (json!("q1"), json!(5000.0))
    );
    let bad = api
        .get(&format!("/collectors/{}/queries/slow?limit=0", c.id), admin)
        .await;
    assert_eq!(
        (bad.status, bad.body["error"]["field"].clone()),
        (422, json!("limit"))
    );
}

#[tokio::test]
async fn the_cardinality_guard_refuses_new_series_past_the_limit_and_says_so() {
    let app = TestApp::builder()
        .admin()
        .config(|c| c.max_series_per_collector = 5)
        .spawn()
        .await;
    let c = app.register_collector("storage").await;
    let (api, admin) = (app.api(), app.admin());
    let samples: Vec<Value> = (0..8)
        .map(|i| json!({"metric": "pg_many", "labels": {"n": i.to_string()}, "value": 1}))
        .collect();
    app.push_accepted(&c, &json!({"batch_id": "wide", "collector_id": c.id, "collected_at": Utc::now(), "samples": samples})).await;
    app.wait_for_batches(1).await;
    let sql = app.sql().await;
    assert_eq!(count(&sql, "SELECT count(*) FROM metric_series").await, 5);
    let v = api.get(&format!("/collectors/{}", c.id), admin).await.body;
    assert_eq!(
        (
            v["series_refused"].clone(),
            v["series_refused_last_metric"].clone()
        ),
        (json!(3), json!("pg_many"))
    );
}

#[tokio::test]
async fn bad_series_queries_name_the_parameter_and_unknowns_are_empty() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("storage").await;
    let (api, admin) = (app.api(), app.admin());
    let now = Utc::now();
    let cases = [
        (query(&c, "m", now, now - Duration::hours(1), ""), "from"),
        (
            query(&c, "m", now - Duration::hours(1), now, "&step=0"),
            "step",
        ),
        (
            query(&c, "m", now - Duration::days(30), now, "&step=1"),
            "step",
        ),
        (
            query(&c, "m", now - Duration::hours(1), now, "&fn=median"),
            "fn",
        ),
        ("/metrics/series?metric=m".to_owned(), "collector_id"),
        (format!("/metrics/series?collector_id={}", c.id), "metric"),
    ];
    for (path, field) in cases {
        let r = api.get(&path, admin).await;
        assert_eq!(
            (r.status, r.body["error"]["field"].clone()),
            (422, json!(field)),
            "{path}: {}",
            r.body
        );
    }
    let empty = api
        .get(
            &query(&c, "no_such_metric", now - Duration::hours(1), now, ""),
            admin,
        )
        .await;
    assert_eq!(
        (empty.status, empty.body["series"].clone()),
        (200, json!([]))
    );
    let nobody = api
        .get("/metrics/series?instance_id=nowhere&metric=pg_up", admin)
        .await;
    assert_eq!(
        (nobody.status, nobody.body["series"].clone()),
        (200, json!([]))
    );
}

#[tokio::test]
async fn the_samples_projection_replays_to_the_same_tables_partitions_included() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("storage").await;
    let start = Utc::now() - Duration::days(2);
    for i in 0..4 {
        app.push_accepted(
            &c,
            &commit_batch(
                &c,
                &format!("r{i}"),
                start + Duration::hours(12 * i),
                10.0 * i as f64,
            ),
        )
        .await;
    }
    app.wait_for_batches(4).await;
    let sql = app.sql().await;
    let live = snapshot(&sql).await;
    let keys = std::sync::Arc::new(app.env.token_keys());
    let projector =
        projections::projectors::all_projectors(keys, &app.env.seal(), app.config().storage())
            .into_iter()
            .find(|p| p.name() == "metric_samples")
            .expect("projector");
    let report = app.env.replay(app.running(), projector).await;
    assert_eq!(report.checkpoint, 4);
    let rebuilt = snapshot(&sql).await;
    assert_eq!(live, rebuilt);
    assert!(live[4].parse::<i64>().expect("partitions") >= 2, "{live:?}");
}

async fn snapshot(sql: &tokio_postgres::Client) -> Vec<String> {
    let mut out = Vec::new();
    for q in [
        "SELECT coalesce(json_agg(t ORDER BY ts)::text, '') FROM metric_samples t",
        "SELECT coalesce(json_agg(t ORDER BY series_id, bucket)::text, '') FROM metric_rollup_1m t",
        "SELECT coalesce(json_agg(t ORDER BY series_id, bucket)::text, '') FROM metric_rollup_1h t",
        "SELECT coalesce(json_agg(t.id ORDER BY id)::text, '') FROM metric_series t",
        // Partitions holding data (pre-created empty ones for tomorrow may differ).
        "SELECT count(DISTINCT tableoid)::text FROM metric_samples",
    ] {
        out.push(sql.query_one(q, &[]).await.expect(q).get::<_, String>(0));
    }
    out
}

#[tokio::test]
async fn hours_are_built_once_closed_rebuilt_after_late_data_and_read_the_same_either_way() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("storage").await;
    let (api, admin) = (app.api(), app.admin());
    let hour = (Utc::now() - Duration::hours(5))
        .duration_trunc(Duration::hours(1))
        .expect("trunc");
    // Two closed hours of data, one point every 10 minutes.
    for i in 0..12 {
        let at = hour + Duration::minutes(i * 10);
        app.push_accepted(
            &c,
            &commit_batch(&c, &format!("h{i}"), at, 100.0 + i as f64),
        )
        .await;
    }
    app.wait_for_batches(12).await;
    let (from, to) = (hour, hour + Duration::hours(2));
    let ask = || query(&c, "pg_database_xact_commit_total", from, to, "&step=3600");
    let before = api.get(&ask(), admin).await;
    assert_eq!(before.status, 200, "{}", before.body);
    assert_eq!(before.body["resolution"], "1h");
    let sql = app.sql().await;
    assert_eq!(
        count(&sql, "SELECT count(*) FROM metric_rollup_1h").await,
        0,
        "nothing built yet"
    );

    // Upkeep builds the closed hours; the answer is the same, now read from built hours.
    let pool = &app.running().read_pool;
    let done = projections::maintenance::build_hours(pool, Utc::now(), 24)
        .await
        .expect("build");
    assert_eq!(done.built, 2, "{done:?}");
    assert_eq!(
        count(&sql, "SELECT count(*) FROM metric_rollup_1h").await,
        2
    );
    let after = api.get(&ask(), admin).await;
    assert_eq!(
        after.body["series"], before.body["series"],
        "{}",
        after.body
    );
    let again = projections::maintenance::build_hours(pool, Utc::now(), 24)
        .await
        .expect("build");
    assert_eq!((again.built, again.rebuilt), (0, 0), "nothing left to do");

    // A late batch (a collector's spool after an outage) lands in a built hour: marked, rebuilt.
    app.push_accepted(
        &c,
        &commit_batch(&c, "late", hour + Duration::minutes(5), 500.0),
    )
    .await;
    app.wait_for_batches(13).await;
    assert_eq!(
        count(&sql, "SELECT count(*) FROM metric_rollup_dirty_hours").await,
        1
    );
    let done = projections::maintenance::build_hours(pool, Utc::now(), 24)
        .await
        .expect("rebuild");
    assert_eq!(done.rebuilt, 1, "{done:?}");
    let diff = count(
        &sql,
        "SELECT count(*) FROM (
           SELECT series_id, date_trunc('hour', ts) AS bucket, min(value) AS min, max(value) AS max,
                  sum(value) AS sum, count(*) AS count
             FROM metric_samples GROUP BY 1, 2
           EXCEPT
           SELECT series_id, bucket, min, max, sum, count FROM metric_rollup_1h) d",
    )
    .await;
    assert_eq!(diff, 0, "the rebuilt hours equal the raw points");
    assert_eq!(
        count(
            &sql,
            "SELECT count(*) FROM metric_rollup_1h WHERE max = 500"
        )
        .await,
        1
    );
}

/// A request that cannot be answered (the handler panicked and hyper dropped the connection)
/// shows as `None`, so a panic fails the assertion instead of the helper.
async fn try_get(api: &Api, path: &str, token: &str) -> Option<(u16, Value)> {
    let response = api
        .http
        .get(format!("{}{path}", api.base))
        .bearer_auth(token)
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.unwrap_or(Value::Null)))
}

#[tokio::test]
async fn extreme_numbers_in_series_and_statement_queries_get_422_naming_the_parameter() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("storage").await;
    let (api, admin) = (app.api(), app.admin());
    // The arithmetic on the step only runs for a series that exists.
    app.sql()
        .await
        .execute(
            "INSERT INTO metric_series (id, collector_id, instance, metric, labels, counter)
             VALUES (1, $1, '', 'm', '{}', true)",
            &[&c.id.parse::<uuid::Uuid>().expect("uuid")],
        )
        .await
        .expect("series");
    let now = Utc::now().timestamp();
    let series = format!("/metrics/series?collector_id={}&metric=m", c.id);
    let slow = format!("/collectors/{}/queries/slow?", c.id);
    let cases = [
        // Overflowed chrono when the rate looked back two steps.
        (
            format!(
                "{series}&fn=rate&step=10000000000000&from={}&to={now}",
                now - 3600
            ),
            "step",
        ),
        (format!("{series}&fn=rate&step={}", i64::MAX), "step"),
        // The earliest instant chrono holds: the default `from` (an hour before) overflowed.
        (format!("{series}&to=-8334601228800"), "to"),
        (format!("{slow}to=-8334601228800"), "to"),
        (format!("{series}&from=-1&to={now}"), "from"),
        // Ranges past the bounds.
        (format!("{series}&from=0&to=253402300799"), "from"),
        (
            format!("{series}&from={}&to={now}", now - 401 * 86_400),
            "from",
        ),
        (format!("{slow}from={}&to={now}", now - 32 * 86_400), "from"),
        (
            format!("/collectors/{}/queries/frequent?from=0&to={now}", c.id),
            "from",
        ),
        // The audit log's range: instants chrono holds but PostgreSQL does not.
        ("/audit?to=%2B200000-01-01T00:00:00Z".to_owned(), "to"),
        ("/audit?from=-200000-01-01T00:00:00Z".to_owned(), "from"),
    ];
    for (path, field) in cases {
        let got = try_get(api, &path, admin).await;
        let (status, body) = got.unwrap_or_else(|| panic!("{path}: no answer (a panic?)"));
        assert_eq!(
            (status, body["error"]["field"].clone()),
            (422, json!(field)),
            "{path}: {body}"
        );
        assert_eq!(body["error"]["code"], "invalid_field", "{path}: {body}");
    }
    // The server is still fine.
    let r = api.get(&format!("{series}&fn=rate&step=60"), admin).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_series_query_matching_too_many_series_is_refused_naming_the_metric() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("storage").await;
    let (api, admin) = (app.api(), app.admin());
    let collector: uuid::Uuid = c.id.parse().expect("uuid");
    app.sql()
        .await
        .execute(
            "INSERT INTO metric_series (id, collector_id, instance, metric, labels, counter)
             SELECT i, $1, '', 'wide', jsonb_build_object('n', i::text), false
               FROM generate_series(1, 501) i",
            &[&collector],
        )
        .await
        .expect("series");
    let wide = format!("/metrics/series?collector_id={}&metric=wide&step=600", c.id);
    let r = api.get(&wide, admin).await;
    assert_eq!(
        (r.status, r.body["error"]["field"].clone()),
        (422, json!("metric")),
        "{}",
        r.body["error"]
    );
    let narrowed = api.get(&format!("{wide}&label.n=7"), admin).await;
    assert_eq!(narrowed.status, 200, "{}", narrowed.body);
    assert_eq!(narrowed.body["series"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_series_query_reading_too_many_rows_is_refused_naming_from_and_a_coarser_step_is_not() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("storage").await;
    let (api, admin) = (app.api(), app.admin());
    let sql = app.sql().await;
    let collector: uuid::Uuid = c.id.parse().expect("uuid");
    // One series with 200,001 minutes of rollups, before the samples kept (today's and
    // tomorrow's partitions, which upkeep creates).
    sql.execute(
        "INSERT INTO metric_series (id, collector_id, instance, metric, labels, counter)
         VALUES (1000, $1, '', 'long', '{}', false)",
        &[&collector],
    )
    .await
    .expect("series");
    let end = Utc::now().duration_trunc(Duration::days(1)).expect("trunc") - Duration::minutes(1);
    sql.execute(
        "INSERT INTO metric_rollup_1m (series_id, bucket, min, max, sum, count, last, last_ts)
         SELECT 1000, $1::timestamptz - i * interval '1 minute', 1, 1, 1, 1, 1,
                $1::timestamptz - i * interval '1 minute'
           FROM generate_series(0, 200000) i",
        &[&end],
    )
    .await
    .expect("rollups");
    let now = end.timestamp();
    let long = format!(
        "/metrics/series?collector_id={}&metric=long&step=900&from={}&to={now}",
        c.id,
        now - 140 * 86_400
    );
    let r = api.get(&long, admin).await;
    assert_eq!(
        (r.status, r.body["error"]["field"].clone()),
        (422, json!("from")),
        "{}",
        r.body["error"]
    );
    // A coarser step reads the hours instead, within the bound.
    let hours = format!(
        "/metrics/series?collector_id={}&metric=long&step=3600&from={}&to={now}",
        c.id,
        now - 140 * 86_400
    );
    let r = api.get(&hours, admin).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn without_a_step_a_query_over_many_series_gets_a_coarser_step_not_a_422() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("storage").await;
    let (api, admin) = (app.api(), app.admin());
    let sql = app.sql().await;
    let collector: uuid::Uuid = c.id.parse().expect("uuid");
    // A server with 120 databases: 120 series of one metric (24 h at the default 5-minute
    // step would be 120 × 289 points, over the 20,000 an answer may hold).
    sql.execute(
        "INSERT INTO metric_series (id, collector_id, instance, metric, labels, counter)
         SELECT i, $1, '', 'per_db', jsonb_build_object('database', 'db' || i), false
           FROM generate_series(1, 120) i",
        &[&collector],
    )
    .await
    .expect("series");
    let now = Utc::now().timestamp();
    let q = format!(
        "/metrics/series?collector_id={}&metric=per_db&from={}&to={now}",
        c.id,
        now - 86_400
    );
    let r = api.get(&q, admin).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["series"].as_array().map(Vec::len), Some(120));
    // An explicit step that does not fit is still refused, naming it.
    let r = api.get(&format!("{q}&step=60"), admin).await;
    assert_eq!(
        (r.status, r.body["error"]["field"].clone()),
        (422, json!("step")),
        "{}",
        r.body
    );
}
