//! `pga-bench overview`: the fleet overview at fleet scale. `--collectors` managed instances,
//! each with its own bound collector pushing `--points`-free batches of the overview's metrics
//! (25 databases) every 3 minutes over the last hour, through the real pipeline; then
//! `GET /fleet` timed, and with `--browser` the dashboard's overview timed in headless
//! Chromium (`dashboard/e2e/fleet-bench.mjs`, which needs `npm run build` in `dashboard/`).

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};

use crate::{cleanup, pg, register, start_server, summary, Args};

/// Batches per collector, 3 minutes apart: the last hour's sparklines.
const BATCHES: i64 = 20;
/// Databases per instance.
const DATABASES: usize = 25;

fn batch(collector: &str, instance: &str, at: chrono::DateTime<Utc>, k: i64, i: usize) -> Value {
    let ts = at.to_rfc3339();
    let mut samples = Vec::new();
    for d in 0..DATABASES {
        let db = format!("db{d}");
        let scale = (i % 7 + 1) as f64;
        for (metric, value, counter) in [
            ("pg_database_numbackends", (d % 4) as f64 + scale, false),
            (
                "pg_database_xact_commit_total",
                (k as f64) * 5_000.0 * scale,
                true,
            ),
            ("pg_database_xact_rollback_total", k as f64 * 10.0, true),
            ("pg_database_blks_hit_total", k as f64 * 99_000.0, true),
            (
                "pg_database_blks_read_total",
                k as f64 * (100.0 * scale),
                true,
            ),
            ("pg_database_size_bytes", 1.0e8 * scale + d as f64, false),
        ] {
            samples.push(
                json!({"metric": metric, "labels": {"datname": db}, "value": value,
                                "ts": ts, "counter": counter}),
            );
        }
    }
    samples.push(json!({"metric": "pg_settings_max_connections", "value": 200.0, "ts": ts}));
    samples.push(json!({"metric": "pg_replication_lag_seconds",
        "labels": {"application_name": "replica"}, "value": (i % 5) as f64 * 0.5, "ts": ts}));
    json!({"batch_id": uuid::Uuid::new_v4().to_string(), "collector_id": collector,
           "instance": instance, "collected_at": ts, "samples": samples})
}

async fn send(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Value,
) -> anyhow::Result<Value> {
    for attempt in 1..=10u64 {
        let r = http
            .request(method.clone(), &url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await?;
        let status = r.status();
        if status.is_success() {
            return Ok(r.json().await.unwrap_or(Value::Null));
        }
        let text = r.text().await.unwrap_or_default();
        if !(status.is_server_error() || status.as_u16() == 429) {
            bail!("{method} {url}: {status} {text}");
        }
        tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
    }
    bail!("{method} {url}: still busy after 10 attempts")
}

// Over 60 lines on purpose: set-up, load, wait and the two measurements, in order.
pub(crate) async fn overview(args: &Args) -> anyhow::Result<()> {
    let server = start_server(args, 10_000).await?;
    let n = args.collectors;
    let (admin, collectors) = register(&server, n).await?;
    let http = reqwest::Client::new();
    let t = Instant::now();
    let base = server.base.clone();
    let made: Vec<anyhow::Result<()>> = stream::iter(collectors.iter().enumerate())
        .map(|(i, c)| {
            let (http, admin, base) = (http.clone(), admin.clone(), base.clone());
            async move {
                let tags = [["prod", "staging"][i % 2], ["eu", "us", "ap"][i % 3]];
                let created = send(
                    &http,
                    reqwest::Method::POST,
                    format!("{base}/managed-instances"),
                    &admin,
                    json!({"name": format!("fleet-{i:04}"), "host": "127.0.0.1",
                        "port": 5432, "database": "postgres", "username": "postgres",
                        "sslmode": "disable", "tags": tags}),
                )
                .await?;
                let id = created["id"].as_str().context("instance id")?.to_owned();
                send(
                    &http,
                    reqwest::Method::PUT,
                    format!("{base}/collectors/{}/instances", c.id),
                    &admin,
                    json!({"instance_ids": [id]}),
                )
                .await?;
                Ok(())
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    made.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    println!(
        "{n} instances and bound collectors in {:.0} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let now = Utc::now();
    let last = now - chrono::Duration::seconds(5);
    let pushes: Vec<anyhow::Result<()>> = stream::iter(0..BATCHES)
        .flat_map(|k| stream::iter(collectors.iter().enumerate().map(move |(i, c)| (k, i, c))))
        .map(|(k, i, c)| {
            let (http, base) = (http.clone(), base.clone());
            let at = last - chrono::Duration::minutes(3 * (BATCHES - 1 - k));
            let body = batch(&c.id, &format!("fleet-{i:04}"), at, k + 1, i);
            async move {
                send(
                    &http,
                    reqwest::Method::POST,
                    format!("{base}/metrics/push"),
                    &c.token,
                    body,
                )
                .await
                .map(drop)
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    pushes.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    println!(
        "{} batches of {} points pushed in {:.0} s",
        BATCHES as usize * n,
        DATABASES * 6 + 2,
        t.elapsed().as_secs_f64()
    );
    let db = pg(&format!("{}/{}", server.pg, server.db)).await?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let ready: i64 = db
            .query_one(
                "SELECT count(*) FROM rm_fleet WHERE sampled_at >= $1",
                &[&last],
            )
            .await?
            .get(0);
        if ready as usize >= n {
            break;
        }
        if Instant::now() > deadline {
            bail!("only {ready} of {n} instances projected after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "projected in {:.0} s after the pushes",
        t.elapsed().as_secs_f64()
    );

    let url = format!("{base}/fleet");
    let mut times = Vec::new();
    let mut bytes = 0;
    for i in 0..310 {
        let t = Instant::now();
        let body = http
            .get(&url)
            .bearer_auth(&admin)
            .send()
            .await?
            .bytes()
            .await?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if i >= 10 {
            times.push(ms);
        }
        bytes = body.len();
        if i == 0 {
            let v: Value = serde_json::from_slice(&body)?;
            let rows = v["instances"].as_array().map_or(0, Vec::len);
            let with_tps = v["instances"]
                .as_array()
                .map_or(0, |a| a.iter().filter(|r| r["tps"].is_number()).count());
            println!(
                "GET /fleet: {rows} rows, {with_tps} with a rate, {} bytes",
                body.len()
            );
            if rows != n || with_tps != n {
                bail!("the overview is incomplete");
            }
        }
    }
    println!(
        "{}",
        summary(
            &format!("GET /fleet ms ({bytes} bytes, sequential, after 10 warm-up)"),
            times
        )
    );

    // BENCH_HOLD_S=<s>: keep the server and its fleet up that long before the browser part,
    // to run `dashboard/e2e/fleet-bench.mjs` (or a browser) against it by hand while changing
    // the dashboard (`npm run build`; the server reads dist/ at each request).
    if let Some(hold) = std::env::var("BENCH_HOLD_S")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        println!(
            "holding for {hold} s: PGA_E2E_BASE={} PGA_E2E_ADMIN=bench PGA_E2E_ADMIN_PASSWORD='bench password 1'",
            base.trim_end_matches("/api/v1")
        );
        tokio::time::sleep(Duration::from_secs(hold)).await;
    }
    if args.browser {
        let root = base.trim_end_matches("/api/v1");
        let out = tokio::process::Command::new("node")
            .arg("dashboard/e2e/fleet-bench.mjs")
            .env("PGA_E2E_BASE", root)
            .env("PGA_E2E_ADMIN", "bench")
            .env("PGA_E2E_ADMIN_PASSWORD", "bench password 1")
            .env("RUNS", "20")
            .output()
            .await
            .context("running node dashboard/e2e/fleet-bench.mjs")?;
        println!("browser: {}", String::from_utf8_lossy(&out.stdout).trim());
        if !out.status.success() {
            bail!(
                "fleet-bench.mjs failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    cleanup(server, args.keep, &args.nats).await
}
