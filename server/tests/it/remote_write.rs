//! Prometheus remote-write on the HTTP bridge: decoded, counted once per request however often
//! it is retried, refused per sample, split when over the bus's message size; and for real:
//! Debian's `prometheus` scraping Debian's `prometheus-postgres-exporter` and remote-writing
//! here.

use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use chrono::Utc;
use ingest::remote_write::{Label, TimeSeries, WriteRequest, WriteSample};
use prost::Message as _;
use serde_json::Value;

use crate::faults::{free_port, wait_for_port};
use crate::support::*;

fn series(name: &str, labels: &[(&str, &str)], value: f64, ts_ms: i64) -> TimeSeries {
    let mut all = vec![Label {
        name: "__name__".into(),
        value: name.into(),
    }];
    all.extend(labels.iter().map(|(n, v)| Label {
        name: (*n).into(),
        value: (*v).into(),
    }));
    TimeSeries {
        labels: all,
        samples: vec![WriteSample {
            value,
            timestamp: ts_ms,
        }],
        histograms: Vec::new(),
    }
}

fn snappy(request: &WriteRequest) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .expect("snappy")
}

fn basic(c: &RegisteredCollector, secret: &str) -> String {
    let pair = format!("{}:{secret}", c.id);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

async fn write(app: &TestApp, authorization: &str, body: Vec<u8>) -> (u16, Value) {
    write_as(app, authorization, "application/x-protobuf", "snappy", body).await
}

async fn write_as(
    app: &TestApp,
    authorization: &str,
    content_type: &str,
    encoding: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/write", app.api().base))
        .header("Authorization", authorization)
        .header("Content-Encoding", encoding)
        .header("Content-Type", content_type)
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .await
        .expect("write");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn stored(app: &TestApp, c: &RegisteredCollector, metric: &str) -> (i64, i64) {
    let client = app.sql().await;
    let row = client
        .query_one(
            "SELECT count(*), count(DISTINCT (s.series_id, s.ts))
               FROM metric_samples s JOIN metric_series m ON m.id = s.series_id
              WHERE m.collector_id = $1::text::uuid AND m.metric LIKE $2",
            &[&c.id, &metric],
        )
        .await
        .expect("count");
    (row.get(0), row.get(1))
}

/// The points of `c`'s series `metric` matching `filter` (`&label.k=v`…) over the last minute
/// and the next: those of its first series, empty when there is none.
async fn points(app: &TestApp, c: &RegisteredCollector, metric: &str, filter: &str) -> Vec<Value> {
    let now = Utc::now().timestamp();
    let r = app
        .api()
        .get(
            &format!(
                "/metrics/series?collector_id={}&metric={metric}{filter}&from={}&to={}",
                c.id,
                now - 120,
                now + 60
            ),
            app.admin(),
        )
        .await;
    r.body["series"][0]["points"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_remote_write_is_stored_once_however_often_it_is_retried() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("prometheus-1").await;
    let now = Utc::now().timestamp_millis();
    let request = WriteRequest {
        timeseries: (0..50)
            .map(|i| {
                series(
                    "rw_value",
                    &[("job", "node"), ("n", &i.to_string())],
                    f64::from(i),
                    now,
                )
            })
            .collect(),
        metadata: Vec::new(),
    };
    let body = snappy(&request);
    // Basic auth with the collector's id and refresh secret, as Prometheus sends it; and the
    // token, as a sender that refreshes it would.
    let (status, answer) = write(&app, &basic(&c, &c.refresh_secret), body.clone()).await;
    assert_eq!(status, 204, "{answer}");
    let (status, answer) = write(&app, &format!("Bearer {}", c.token), body.clone()).await;
    assert_eq!(status, 204, "{answer}");
    // The scheme in any case, as RFC 9110 has it.
    let lower = basic(&c, &c.refresh_secret).replacen("Basic", "basic", 1);
    let (status, _) = write(&app, &lower, body).await;
    assert_eq!(status, 204);
    app.wait_for_batches(1).await;
    eventually("50 samples stored", || async {
        (stored(&app, &c, "rw_value").await == (50, 50)).then_some(())
    })
    .await;
    // Queryable like any series, with the sender's labels.
    let r = app
        .api()
        .get(
            &format!(
                "/metrics/series?collector_id={}&metric=rw_value&label.n=7&from={}&to={}",
                c.id,
                now / 1000 - 60,
                now / 1000 + 60
            ),
            app.admin(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["series"][0]["labels"]["job"], "node", "{}", r.body);
    assert_eq!(r.body["series"][0]["points"][0][1].as_f64(), Some(7.0));
    // Retries changed nothing: still one batch, 50 samples.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(stored(&app, &c, "rw_value").await, (50, 50));
    assert_eq!(
        count(
            &app.sql().await,
            "SELECT count(*) FROM metric_applied_batches"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_remote_write_refuses_bad_credentials_bodies_and_samples_clearly() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("prometheus-2").await;
    let other = app.register_collector("prometheus-3").await;
    let now = Utc::now().timestamp_millis();
    let good = WriteRequest {
        timeseries: vec![series("rw_ok", &[], 1.0, now)],
        metadata: Vec::new(),
    };
    for (authorization, code) in [
        (basic(&c, "wrong"), "invalid_credentials"),
        (basic(&c, &other.refresh_secret), "invalid_credentials"),
        ("Basic !!!".to_owned(), "invalid_credentials"),
        (format!("Bearer {}", app.admin()), "invalid_token"),
    ] {
        let (status, answer) = write(&app, &authorization, snappy(&good)).await;
        assert_eq!(status, 401, "{authorization}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{answer}");
    }
    let auth = basic(&c, &c.refresh_secret);
    // Remote-write 2.0, or another encoding: 415 (a 2.0 sender then falls back to 1.0).
    for (content_type, encoding) in [
        (
            "application/x-protobuf;proto=io.prometheus.write.v2.Request",
            "snappy",
        ),
        ("application/json", "snappy"),
        ("application/x-protobuf", "gzip"),
    ] {
        let (status, answer) = write_as(&app, &auth, content_type, encoding, snappy(&good)).await;
        assert_eq!(status, 415, "{content_type} {encoding}: {answer}");
    }
    let (status, answer) = write_as(
        &app,
        &auth,
        "application/x-protobuf;proto=prometheus.WriteRequest",
        "snappy",
        snappy(&WriteRequest::default()),
    )
    .await;
    assert_eq!(status, 204, "an empty (metadata-only) request: {answer}");
    // Not snappy, or snappy that is not a WriteRequest: 400, nothing stored.
    let (status, answer) = write(&app, &auth, b"plain protobuf?".to_vec()).await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = write(
        &app,
        &auth,
        snap::raw::Encoder::new()
            .compress_vec(b"\x0a\xff\xff\xff\x0f")
            .expect("snappy"),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("remote-write"),
        "{answer}"
    );
    // One bad sample among good ones: the good are stored, the answer names the bad.
    let mixed = WriteRequest {
        timeseries: vec![
            series("rw_ok", &[("k", "a")], 1.0, now),
            series("rw_ok", &[("k", "b")], f64::INFINITY, now),
            series("rw_ok", &[("k", "c")], 3.0, now),
            series("rw_ok", &[("k", "d")], 4.0, now + 2 * 3_600_000),
        ],
        metadata: Vec::new(),
    };
    let (status, answer) = write(&app, &auth, snappy(&mixed)).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["metrics_accepted"], 2, "{answer}");
    assert_eq!(answer["metrics_rejected"], 2, "{answer}");
    let reasons = answer["rejected"].to_string();
    assert!(
        reasons.contains("finite") && reasons.contains("future"),
        "{answer}"
    );
    eventually("the two good samples", || async {
        (stored(&app, &c, "rw_ok").await == (2, 2)).then_some(())
    })
    .await;
    // A deleted collector's secret no longer writes.
    let deleted = app
        .api()
        .delete(&format!("/collectors/{}", other.id), app.admin())
        .await;
    assert!(deleted.status < 300, "{}", deleted.body);
    let (status, answer) = write(&app, &basic(&other, &other.refresh_secret), snappy(&good)).await;
    assert_eq!(status, 401, "{answer}");
}

#[tokio::test]
async fn a_remote_write_over_the_bus_message_size_is_split_and_still_counted_once() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("vmagent").await;
    let now = Utc::now().timestamp_millis();
    // 20,000 samples (5,000 series, under the per-collector cap, × 4 scrapes): some 3 MB as
    // JSON, over NATS's 1 MB messages.
    let long = "x".repeat(60);
    let request = WriteRequest {
        timeseries: (0..5_000)
            .map(|i| {
                let mut s = series("rw_big", &[("n", &i.to_string()), ("pad", &long)], 1.0, now);
                s.samples = (0..4)
                    .map(|k| WriteSample {
                        value: f64::from(k),
                        timestamp: now - 15_000 * i64::from(k),
                    })
                    .collect();
                s
            })
            .collect(),
        metadata: Vec::new(),
    };
    let body = snappy(&request);
    let auth = basic(&c, &c.refresh_secret);
    let (status, answer) = write(&app, &auth, body.clone()).await;
    assert_eq!(status, 204, "{answer}");
    let (status, _) = write(&app, &auth, body).await;
    assert_eq!(status, 204);
    eventually_within(120, "20,000 samples stored", || async {
        (stored(&app, &c, "rw_big").await == (20_000, 20_000)).then_some(())
    })
    .await;
    // Parts `rw-<id>-0` … `rw-<id>-<n-1>`, each stored once.
    let ids: Vec<String> = app
        .sql()
        .await
        .query("SELECT batch_id FROM metric_applied_batches", &[])
        .await
        .expect("ids")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(ids.len() >= 3, "split into parts: {ids:?}");
    let stem = ids[0].rsplit_once('-').expect("a part id").0.to_owned();
    let mut expected: Vec<String> = (0..ids.len()).map(|i| format!("{stem}-{i}")).collect();
    let mut ids = ids;
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected);
}

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Debian's packages, as `scripts/services.sh` installs them.
fn tool(name: &str) -> String {
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin"] {
        let path = format!("{dir}/{name}");
        if std::path::Path::new(&path).exists() {
            return path;
        }
    }
    panic!("{name} is not installed: run scripts/services.sh (it installs Debian's package)");
}

#[tokio::test]
async fn prometheus_scraping_postgres_exporter_remote_writes_here() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("prometheus").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let exporter_port = free_port();
    let dsn = {
        let url = &app.config().database_url;
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}sslmode=disable")
    };
    let _exporter = Killed(
        Command::new(tool("prometheus-postgres-exporter"))
            .arg(format!("--web.listen-address=127.0.0.1:{exporter_port}"))
            .env("DATA_SOURCE_NAME", dsn)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres_exporter"),
    );
    wait_for_port(exporter_port).await;
    let addr = app.api().base.clone();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n\
             scrape_configs:\n  - job_name: postgres\n    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n\
             remote_write:\n  - url: {addr}/write\n    basic_auth:\n      username: {}\n      password: {}\n    \
             queue_config:\n      batch_send_deadline: 1s\n      min_backoff: 100ms\n      max_backoff: 1s\n    \
             metadata_config:\n      send_interval: 2s\n",
            c.id, c.refresh_secret
        ),
    )
    .expect("config");
    let prometheus_port = free_port();
    let log = dir.path().join("prometheus.log");
    let _prometheus = Killed(
        Command::new(tool("prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("prometheus"),
    );
    let db = app
        .config()
        .database_url
        .rsplit('/')
        .next()
        .and_then(|d| d.split('?').next())
        .unwrap_or_default()
        .to_owned();
    let up = eventually_within(90, "pg_up from Prometheus", || async {
        let up = points(&app, &c, "pg_up", "&label.job=postgres").await;
        (up.len() >= 3).then_some(up)
    })
    .await;
    assert!(
        up.iter().all(|p| p[1].as_f64() == Some(1.0)),
        "the exporter reaches PostgreSQL: {up:?}"
    );
    // A postgres_exporter series with its own labels: this test's database's commits.
    let filter = format!("&label.datname={db}");
    eventually_within(
        30,
        "pg_stat_database_xact_commit of the test database",
        || async {
            points(&app, &c, "pg_stat_database_xact_commit", &filter).await[..]
                .first()
                .and_then(|p| p[1].as_f64())
                .filter(|v| *v > 0.0)
        },
    )
    .await;
    // Everything Prometheus sent was stored once, and it was never refused: its own counters.
    let (rows, distinct) = stored(&app, &c, "%").await;
    assert!(rows > 100, "{rows} samples");
    assert_eq!(rows, distinct, "no sample stored twice");
    let own = reqwest::get(format!("http://127.0.0.1:{prometheus_port}/metrics"))
        .await
        .expect("prometheus /metrics")
        .text()
        .await
        .expect("text");
    let counter = |name: &str| -> f64 {
        own.lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let sent = counter("prometheus_remote_storage_samples_total");
    let failed = counter("prometheus_remote_storage_samples_failed_total");
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(sent > 100.0, "Prometheus sent {sent} samples: {log}");
    assert_eq!(failed, 0.0, "Prometheus was refused: {log}");
}
