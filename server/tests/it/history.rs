//! History: what the live read models showed at several instants equals the `as_of` answers
//! for those instants afterwards, also after a replay; diffs name the fields and who changed
//! them; the audit trail pages without gaps and exports as CSV and JSON lines.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use projections::projectors::event_projectors;
use serde_json::{json, Value};

use crate::support::*;

/// The read endpoints with history, as (list path, what to compare of each item).
const LISTS: [&str; 5] = [
    "/managed-instances",
    "/collectors",
    "/users",
    "/registration-secrets",
    "/alert-rules",
];

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The items of a list answer, with what is not historical removed: a collector's status and
/// activity (from metric batches), a rule's firing count (from alerts).
fn items(path: &str, body: &Value) -> Vec<Value> {
    let list = if path == "/alert-rules" {
        body["rules"].clone()
    } else {
        body.clone()
    };
    let mut out: Vec<Value> = list
        .as_array()
        .unwrap_or_else(|| panic!("{path}: {body}"))
        .clone();
    for item in &mut out {
        let fields = item.as_object_mut().expect("object");
        if path == "/collectors" {
            for key in api::http::COLLECTOR_ACTIVITY_FIELDS {
                fields.remove(*key);
            }
        }
        if path == "/managed-instances" {
            for key in api::http::INSTANCE_OBSERVED_FIELDS {
                fields.remove(*key);
            }
        }
        if path == "/alert-rules" {
            fields.remove("firing");
        }
    }
    out
}

/// Every list and every item's detail, as the admin sees them now.
async fn snapshot(app: &TestApp, as_of: Option<DateTime<Utc>>) -> Vec<(String, Vec<Value>)> {
    let query = as_of.map_or_else(String::new, |t| format!("?as_of={}", at(t)));
    let mut out = Vec::new();
    for path in LISTS {
        let reply = app.api().get(&format!("{path}{query}"), app.admin()).await;
        assert_eq!(reply.status, 200, "{path}{query}: {}", reply.body);
        let list = items(path, &reply.body);
        let mut details = Vec::new();
        if path != "/users" {
            for item in &list {
                let id = item["id"].as_str().expect("id");
                let one = app
                    .api()
                    .get(&format!("{path}/{id}{query}"), app.admin())
                    .await;
                assert_eq!(one.status, 200, "{path}/{id}{query}: {}", one.body);
                let wrapped = if path == "/alert-rules" {
                    json!({"rules": [one.body]})
                } else {
                    json!([one.body])
                };
                details.extend(items(path, &wrapped));
            }
        }
        out.push((path.to_owned(), list));
        out.push((format!("{path}/{{id}}"), details));
    }
    out
}

async fn call(app: &TestApp, method: reqwest::Method, path: &str, body: Value) -> Value {
    let reply = app
        .api()
        .call(method.clone(), path, Some(app.admin()), Some(body))
        .await;
    assert!(
        (200..300).contains(&reply.status),
        "{method} {path}: {} {}",
        reply.status,
        reply.body
    );
    reply.body
}

/// The rule the scripted sequence makes and edits.
fn rule_body(severity: &str, threshold: i64, message: &str) -> Value {
    json!({"name": "History rule", "severity": severity,
        "condition": {"kind": "metric", "metric": "app_queue_depth", "function": "value",
                      "window_secs": 60, "aggregate": "none", "op": ">", "threshold": threshold},
        "for_secs": 0, "scope": {"kind": "all"}, "message": message})
}

/// An instant between two steps: nothing is recorded at it.
async fn instant() -> DateTime<Utc> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    let t = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    t
}

// Over 60 lines on purpose: one scripted sequence of commands, read top to bottom, with the
// snapshots taken between its steps and compared at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_answers_equal_what_the_live_projections_showed() {
    let app = TestApp::builder().admin().spawn().await;
    let before_all = instant().await;
    let empty = snapshot(&app, Some(before_all)).await;
    assert!(
        empty[0].1.is_empty(),
        "no instance before the first: {:?}",
        empty[0]
    );

    // Step 1: one of each.
    let kept = app.managed_instance("history-a").await;
    let removed = app.managed_instance("history-b").await;
    let viewer = app.user("history-viewer", "viewer").await;
    let secret = call(
        &app,
        reqwest::Method::POST,
        "/registration-secrets",
        json!({"name": "history secret"}),
    )
    .await;
    let secret_id = secret["id"].as_str().expect("id").to_owned();
    let collector = app.register_collector("history-collector").await;
    let rule = call(
        &app,
        reqwest::Method::POST,
        "/alert-rules",
        rule_body("warning", 5, "deep"),
    )
    .await;
    let rule_id = rule["id"].as_str().expect("id").to_owned();
    let t1 = instant().await;
    let s1 = snapshot(&app, None).await;

    // Step 2: every kind edited.
    call(
        &app,
        reqwest::Method::PUT,
        &format!("/managed-instances/{kept}"),
        json!({"port": 5433, "tags": ["prod", "eu"]}),
    )
    .await;
    call(
        &app,
        reqwest::Method::PUT,
        &format!("/users/{}", viewer.id),
        json!({"role": "editor"}),
    )
    .await;
    call(
        &app,
        reqwest::Method::PUT,
        &format!("/registration-secrets/{secret_id}"),
        json!({"active": false}),
    )
    .await;
    let bound = app.bind(&collector.id, json!([kept])).await;
    assert_eq!(bound.status, 200, "{}", bound.body);
    call(
        &app,
        reqwest::Method::PUT,
        &format!("/alert-rules/{rule_id}"),
        rule_body("critical", 9, "deeper"),
    )
    .await;
    let t2 = instant().await;
    let s2 = snapshot(&app, None).await;

    // Step 3: removals.
    for path in [
        format!("/managed-instances/{removed}"),
        format!("/users/{}", viewer.id),
        format!("/registration-secrets/{secret_id}"),
        format!("/collectors/{}", collector.id),
        format!("/alert-rules/{rule_id}"),
    ] {
        let reply = app.api().delete(&path, app.admin()).await;
        assert!(
            reply.status == 204 || reply.status == 200,
            "DELETE {path}: {}",
            reply.status
        );
    }
    let t3 = instant().await;
    let s3 = snapshot(&app, None).await;

    for (t, live) in [(t1, &s1), (t2, &s2), (t3, &s3)] {
        assert_eq!(&snapshot(&app, Some(t)).await, live, "as of {}", at(t));
    }
    assert_ne!(s1, s2, "the steps changed what was shown");

    // The diff names the fields, who changed them and when.
    let diff = app
        .api()
        .get(
            &format!(
                "/managed-instances/{kept}/diff?from={}&to={}",
                at(t1),
                at(t2)
            ),
            app.admin(),
        )
        .await;
    assert_eq!(diff.status, 200, "{}", diff.body);
    let fields: BTreeSet<&str> = diff.body["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["field"].as_str().expect("field"))
        .collect();
    assert!(
        fields.contains("port") && fields.contains("tags"),
        "{}",
        diff.body
    );
    let port = diff.body["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["field"] == "port")
        .expect("port")
        .clone();
    assert_eq!(
        (port["from"].clone(), port["to"].clone()),
        (json!(5432), json!(5433))
    );
    let events = diff.body["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{}", diff.body);
    assert_eq!(events[0]["event_type"], "InstanceUpdated");
    assert_eq!(events[0]["actor_name"], "root-admin", "{}", diff.body);
    assert!(
        events[0]["summary"].as_str().is_some_and(|s| !s.is_empty()),
        "{}",
        diff.body
    );

    // A removed entity: found before, 404 after; its history ends with no state.
    let path = format!("/managed-instances/{removed}");
    assert_eq!(
        app.api()
            .get(&format!("{path}?as_of={}", at(t2)), app.admin())
            .await
            .status,
        200
    );
    assert_eq!(
        app.api()
            .get(&format!("{path}?as_of={}", at(t3)), app.admin())
            .await
            .status,
        404
    );
    let history = app.api().get(&format!("{path}/history"), app.admin()).await;
    let versions = history.body["versions"].as_array().expect("versions");
    assert_eq!(
        versions.last().expect("last")["state"],
        Value::Null,
        "{}",
        history.body
    );
    // No secret is kept: not in the tables, so in no answer.
    let sql = app.sql().await;
    let secrets = count(
        &sql,
        "SELECT count(*) FROM rm_user_history
        WHERE state ? 'password_hash' OR state::text LIKE '%argon2%'",
    )
    .await
        + count(
            &sql,
            "SELECT count(*) FROM rm_collector_history WHERE state ? 'refresh_secret_hash'",
        )
        .await;
    assert_eq!(secrets, 0, "a secret in history");
    assert!(count(&sql, "SELECT count(*) FROM rm_user_history").await > 0);

    // Pages: one version at a time, oldest last reached through `before`.
    let path = format!("/managed-instances/{kept}/history");
    let first = app
        .api()
        .get(&format!("{path}?limit=1"), app.admin())
        .await
        .body;
    assert_eq!(
        (
            first["versions"].as_array().map(Vec::len),
            first["more"].clone()
        ),
        (Some(1), json!(true)),
        "{first}"
    );
    assert_eq!(
        first["versions"][0]["changed"],
        json!(["port", "tags", "updated_at"]),
        "{first}"
    );
    let before = first["versions"][0]["sequence"].as_i64().expect("sequence");
    let older = app
        .api()
        .get(&format!("{path}?limit=1&before={before}"), app.admin())
        .await
        .body;
    assert_eq!(
        older["versions"][0]["event_type"], "InstanceRegistered",
        "{older}"
    );
    assert_eq!(older["more"], false);
    // Who did it is the admins' (the audit trail's): a viewer sees the change, not the name.
    let viewer2 = app.user("history-viewer-2", "viewer").await;
    let seen = app.api().get(&path, &viewer2.token).await.body;
    assert!(
        seen["versions"]
            .as_array()
            .expect("versions")
            .iter()
            .all(|v| v["actor_name"].is_null()),
        "{seen}"
    );

    // A scheduled-style test with the same outcome twice makes one version, not two.
    let versions = |body: Value| body["versions"].as_array().map_or(0, Vec::len);
    let n = versions(app.api().get(&path, app.admin()).await.body);
    for _ in 0..2 {
        let tested = app
            .api()
            .post(
                &format!("/managed-instances/{kept}/test-connection"),
                Some(app.admin()),
                json!({}),
            )
            .await;
        assert_eq!(tested.status, 200, "{}", tested.body);
    }
    let after = app.api().get(&path, app.admin()).await.body;
    assert_eq!(versions(after.clone()), n + 1, "{after}");

    // Bad instants are refused, naming the field.
    for bad in ["yesterday", "2026-13-01T00:00:00Z", "99999-01-01T00:00:00Z"] {
        let reply = app
            .api()
            .get(&format!("/managed-instances?as_of={bad}"), app.admin())
            .await;
        assert_eq!(
            (reply.status, reply.body["error"]["field"].clone()),
            (422, json!("as_of")),
            "{bad}: {}",
            reply.body
        );
    }

    // Bad pages and diffs are refused too, naming the field; an unknown id is a 404.
    let history = format!("/managed-instances/{kept}");
    for (path, field) in [
        (format!("{history}/history?limit=0"), "limit"),
        (format!("{history}/history?limit=1001"), "limit"),
        (
            format!("{history}/diff?from={}&to={}", at(t2), at(t1)),
            "from",
        ),
        (format!("{history}/diff?from={}", at(t1)), "from"),
    ] {
        let reply = app.api().get(&path, app.admin()).await;
        assert_eq!(
            (reply.status, reply.body["error"]["field"].clone()),
            (422, json!(field)),
            "{path}: {}",
            reply.body
        );
    }
    let nobody = uuid::Uuid::new_v4();
    let reply = app
        .api()
        .get(&format!("/managed-instances/{nobody}/history"), app.admin())
        .await;
    assert_eq!(reply.status, 404, "{}", reply.body);

    // A replay of every event projection rebuilds the same history.
    for projector in event_projectors(&app.env.seal()) {
        app.env.replay(app.running(), projector).await;
    }
    for (t, live) in [(t1, &s1), (t2, &s2), (t3, &s3)] {
        assert_eq!(
            &snapshot(&app, Some(t)).await,
            live,
            "after replay, as of {}",
            at(t)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_pages_without_gaps_and_exports() {
    let app = TestApp::builder().admin().spawn().await;
    let editor = app.user("audit-editor", "editor").await;
    for i in 0..7 {
        let reply = app
            .api()
            .post(
                "/managed-instances",
                Some(&editor.token),
                json!({"name": format!("audited-{i}"), "host": "localhost", "port": 5432,
                   "database": "postgres", "username": "postgres", "sslmode": "disable"}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    let all = app.api().get("/audit?limit=1000", app.admin()).await.body;
    let all: Vec<Value> = all.as_array().expect("entries").clone();
    assert!(all.len() >= 9, "{}", all.len());

    // Pages of 3 give every entry once, in the same order.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/audit?limit=3&before={}", urlencoding(c)),
            None => "/audit?limit=3".to_owned(),
        };
        let page = app.api().get(&path, app.admin()).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let page = page.body.as_array().expect("page").clone();
        cursor = page
            .last()
            .map(|e| e["cursor"].as_str().expect("cursor").to_owned());
        let n = page.len();
        paged.extend(page);
        if n < 3 {
            break;
        }
    }
    assert_eq!(paged, all);

    // One user, one kind.
    let mine = app
        .api()
        .get(
            "/audit?actor=audit-editor&event_type=InstanceRegistered",
            app.admin(),
        )
        .await
        .body;
    assert_eq!(mine.as_array().expect("entries").len(), 7, "{mine}");
    assert_eq!(
        app.api()
            .get("/audit?before=nonsense", app.admin())
            .await
            .status,
        422
    );
    for bad in [
        "/audit/export?format=xml",
        "/audit/export?format=csv&limit=5",
        "/audit/export?from=2026-12-03T00:00:00Z&to=2026-12-02T00:00:00Z",
    ] {
        let reply = app.api().get(bad, app.admin()).await;
        assert_eq!(reply.status, 422, "{bad}: {}", reply.body);
    }
    assert_eq!(
        app.api().get("/audit/export", &editor.token).await.status,
        403,
        "the export is the admins'"
    );

    // The exports hold the same entries.
    let day = Utc::now().date_naive();
    let (from, to) = (
        format!("{day}T00:00:00Z"),
        format!("{day}T23:59:59.999999Z"),
    );
    let filter = format!("actor=audit-editor&from={from}&to={to}");
    let get = |format: &str| {
        let url = format!("{}/audit/export?format={format}&{filter}", app.api().base);
        let token = app.admin().to_owned();
        let http = app.api().http.clone();
        async move {
            let r = http
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("export");
            assert_eq!(r.status(), 200);
            let disposition = r.headers()["content-disposition"]
                .to_str()
                .expect("ascii")
                .to_owned();
            (disposition, r.text().await.expect("text"))
        }
    };
    let (disposition, csv) = get("csv").await;
    assert!(
        disposition.starts_with("attachment; filename=\"audit-") && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let listed = app
        .api()
        .get(&format!("/audit?{filter}"), app.admin())
        .await
        .body;
    let listed = listed.as_array().expect("entries").len();
    assert!(
        listed > 7,
        "the registrations and the editor's sign-in: {listed}"
    );
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("recorded_at,actor_kind,actor_name"),
        "{csv}"
    );
    assert_eq!(lines.len(), 1 + listed, "{csv}");
    assert!(
        lines[1..].iter().all(|l| l.contains(",user,audit-editor,")),
        "{csv}"
    );
    let registered = lines
        .iter()
        .filter(|l| l.contains(",managed_instance,"))
        .count();
    assert_eq!(registered, 7, "{csv}");
    let (_, jsonl) = get("jsonl").await;
    let entries: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(entries.len(), listed);
    assert!(entries.iter().all(|e| e["actor_name"] == "audit-editor"));

    // The command-line export, for auditors, reads the same projection.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_pganalytics"))
        .args([
            "audit",
            "export",
            "--from",
            &from,
            "--to",
            &to,
            "--actor",
            "audit-editor",
            "--format",
            "jsonl",
        ])
        .env_clear()
        .env("PGA_DATABASE_URL", &app.config().database_url)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .await
        .expect("run pganalytics");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), jsonl);
}

fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Samples of one series at `ts`, as a native batch about `instance`.
fn old_batch(c: &RegisteredCollector, instance: &str, ts: DateTime<Utc>, value: f64) -> Value {
    json!({"batch_id": uuid::Uuid::new_v4().to_string(), "collector_id": c.id,
    "instance": instance, "collected_at": ts.to_rfc3339(),
    "samples": [
        {"metric": "pg_database_numbackends", "labels": {"datname": "app"}, "value": value,
         "ts": ts.to_rfc3339()},
        {"metric": "pg_database_xact_commit_total", "labels": {"datname": "app"},
         "value": value * 100.0, "ts": ts.to_rfc3339(), "counter": true},
    ]})
}

async fn samples_before(sql: &tokio_postgres::Client, at: DateTime<Utc>) -> Vec<String> {
    sql.query(
        "SELECT s.ts::text || ' ' || s.series_id || ' ' || s.value FROM metric_samples s
          WHERE s.ts < $1 ORDER BY 1",
        &[&at],
    )
    .await
    .expect("samples")
    .iter()
    .map(|r| r.get(0))
    .collect()
}

// Over 60 lines on purpose: the whole story of one replay, from the batches the stream loses
// to what the rebuilt tables still hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_keeps_what_the_stream_no_longer_holds_or_refuses() {
    let app = TestApp::builder().admin().spawn().await;
    let id = app.managed_instance("kept-db").await;
    let c = app.register_collector("kept-collector").await;
    let bound = app.bind(&c.id, json!([id])).await;
    assert_eq!(bound.status, 200, "{}", bound.body);
    let names = &app.config().names;
    let js = app.jetstream().await;
    let stream =
        names.metrics_partition_stream(domain::bus::metric_partition(&c.id, names.partitions()));

    // Three days ago and two hours ago (a collector's backlog), then now.
    let now = Utc::now();
    let days_ago = now - chrono::Duration::days(3);
    for (ts, v) in [(days_ago, 1.0), (now - chrono::Duration::hours(2), 2.0)] {
        app.push_accepted(&c, &old_batch(&c, "kept-db", ts, v))
            .await;
    }
    app.wait_for_points(&c.id, 4).await;
    // PGA_METRICS loses them, as `max_age` makes it (purging is denied on these streams).
    expire_all(&js, &stream).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    app.push_accepted(&c, &old_batch(&c, "kept-db", Utc::now(), 3.0))
        .await;
    app.wait_for_points(&c.id, 6).await;

    // The activity projection counted them; the samples projection may still be writing.
    let sql = app.sql().await;
    wait_for_count(
        &sql,
        "six samples stored",
        "SELECT count(*) FROM metric_samples",
        6,
    )
    .await;
    let live_old = samples_before(&sql, now).await;
    assert_eq!(live_old.len(), 4, "{live_old:?}");
    let live_fleet = count(&sql, "SELECT count(*) FROM rm_fleet").await;
    assert_eq!(live_fleet, 1);
    let live_minutes = count(&sql, "SELECT count(*) FROM rm_collector_minutes").await;
    // A live row the stream still holds, made wrong (as a projector bug would): the replay
    // must correct it, not keep it.
    let wrong = sql
        .execute(
            "UPDATE metric_samples SET value = 999 WHERE ts >= $1 AND value = 3",
            &[&now],
        )
        .await
        .expect("corrupt");
    assert_eq!(wrong, 1);

    let running = app.running();
    for projector in projections::projectors::metric_projectors(
        std::sync::Arc::new(app.env.token_keys()),
        app.config().storage(),
    ) {
        let plan = projections::replay::plan(
            &running.read_pool,
            &running.jetstream,
            names,
            projector.clone(),
        )
        .await
        .expect("plan");
        let text = plan.to_string();
        let (cutoff, _) = plan
            .keeps
            .clone()
            .unwrap_or_else(|| panic!("keeps nothing: {text}"));
        assert!(cutoff > now && plan.refused.is_none(), "{text}");
        assert!(
            text.contains(&stream) && text.contains("keeps from the live tables"),
            "{text}"
        );
        app.env.replay(running, projector).await;
    }

    assert_eq!(
        samples_before(&sql, now).await,
        live_old,
        "samples older than the stream kept"
    );
    assert_eq!(
        count(
            &sql,
            "SELECT count(*) FROM metric_samples WHERE value = 999"
        )
        .await,
        0,
        "what the stream holds is rebuilt, not kept"
    );
    let days: Vec<String> = sql
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'public.metric_samples'::regclass ORDER BY 1",
            &[],
        )
        .await
        .expect("partitions")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let old_day = projections::projectors::partition_name(days_ago.date_naive());
    assert!(days.contains(&old_day), "{old_day} attached: {days:?}");
    let collector = app.collector(&c.id).await;
    assert_eq!(
        collector["metrics_count_total"], 6,
        "totals not lowered: {collector}"
    );
    assert_eq!(collector["batches_total"], 3, "{collector}");
    assert_eq!(
        count(&sql, "SELECT count(*) FROM rm_fleet").await,
        live_fleet
    );
    assert!(count(&sql, "SELECT count(*) FROM rm_collector_minutes").await >= live_minutes);
    // The series of the old samples still answers a chart query.
    let chart = app
        .api()
        .get(
            &format!(
                "/metrics/series?instance_id={id}&metric=pg_database_numbackends&from={}&to={}",
                at(days_ago - chrono::Duration::minutes(1)),
                at(days_ago + chrono::Duration::minutes(1))
            ),
            app.admin(),
        )
        .await;
    assert_eq!(chart.status, 200, "{}", chart.body);
    assert!(chart.body.to_string().contains("1.0"), "{}", chart.body);

    // The events stream losing its first message: an event projection's replay is refused,
    // saying why, and the live tables stay.
    let users_before = count(&sql, "SELECT count(*) FROM rm_users").await;
    expire_all(&js, &names.events_stream()).await;
    let users = event_projectors(&app.env.seal())
        .into_iter()
        .next()
        .expect("users");
    let refused = projections::replay::replay(
        &running.read_pool,
        &running.jetstream,
        names,
        users,
        &|_| {},
    )
    .await;
    match refused {
        Err(projections::RunError::Refused(why)) => {
            assert!(
                why.contains("are gone from") && why.contains("nothing was changed"),
                "{why}"
            );
        }
        other => panic!("not refused: {other:?}"),
    }
    assert_eq!(
        count(&sql, "SELECT count(*) FROM rm_users").await,
        users_before
    );
}

/// Lets `stream` drop every message it holds by age, then gives it back its `max_age`.
async fn expire_all(js: &async_nats::jetstream::Context, stream: &str) {
    let mut config = stream_config(js, stream).await;
    let (kept, window) = (config.max_age, config.duplicate_window);
    config.max_age = Duration::from_millis(200);
    config.duplicate_window = Duration::from_millis(200);
    js.update_stream(config.clone())
        .await
        .expect("shorten max_age");
    eventually(&format!("{stream} emptied by age"), || async {
        let info = js
            .get_stream(stream)
            .await
            .expect("stream")
            .info()
            .await
            .expect("info")
            .state
            .clone();
        (info.messages == 0 && info.first_sequence > 1).then_some(())
    })
    .await;
    config.max_age = kept;
    config.duplicate_window = window;
    js.update_stream(config).await.expect("restore max_age");
}
