//! `pga-bench`: measures pgAnalytics ingest and queries on this machine, end to end.
//!
//! It starts the release server as a child process on a fresh database and NATS prefix, so
//! the server's RSS is its own, then runs:
//! - `fleet`: N simulated collectors, each pushing 2,000 data points every interval, over HTTP
//!   or NATS: push latency, end-to-end lag until the batch is queryable, server RSS;
//! - `saturate`: pushers sending back to back: sustained stored points/s, and in the same run
//!   the rate of a raw binary `COPY` of as many rows into the same table, with the ratio;
//!   with `--versus victoria-metrics`, the same load into a private VictoriaMetrics (Debian's
//!   package, started by the bench) right after, in the same run, and the ratio;
//! - `query`: a week of 1-minute data for many collectors, then 24-hour series queries.
//!
//! Its loops are bounded in count and time and it talks only to 127.0.0.1.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod overview;
mod versus;

use anyhow::{bail, Context};
use chrono::Utc;
use clap::{Parser, ValueEnum};
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use tokio::sync::Mutex;

#[derive(Parser)]
#[command(name = "pga-bench", about = "pgAnalytics ingest and query benchmark")]
struct Args {
    /// What to run.
    #[arg(value_enum)]
    scenario: Scenario,
    /// The server binary.
    #[arg(long, default_value = "target/release/pganalytics")]
    server: String,
    /// PostgreSQL to create the benchmark database in.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    pg: String,
    /// NATS with JetStream.
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// Simulated collectors (fleet, query).
    #[arg(long, default_value_t = 1000)]
    collectors: usize,
    /// Data points per batch.
    #[arg(long, default_value_t = 2000)]
    points: usize,
    /// Seconds between a collector's pushes (fleet).
    #[arg(long, default_value_t = 60)]
    interval: u64,
    /// Seconds of load.
    #[arg(long, default_value_t = 120)]
    duration: u64,
    /// Transport of the pushes.
    #[arg(long, value_enum, default_value = "http")]
    transport: Transport,
    /// Concurrent pushers (saturate).
    #[arg(long, default_value_t = 8)]
    pushers: usize,
    /// Metrics per collector loaded for a week (query).
    #[arg(long, default_value_t = 5)]
    metrics: usize,
    /// Keep the benchmark database afterwards.
    #[arg(long)]
    keep: bool,
    /// Saturate: run the same load into another system right after, in the same run.
    #[arg(long, value_enum)]
    versus: Option<Versus>,
    /// Overview: also time the dashboard's overview in headless Chromium.
    #[arg(long)]
    browser: bool,
    /// The VictoriaMetrics binary (`--versus victoria-metrics`).
    #[arg(long, default_value = "/usr/bin/victoria-metrics")]
    victoria_metrics: String,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Versus {
    VictoriaMetrics,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Fleet,
    Saturate,
    Query,
    /// The built-in alert rules evaluated over a fleet's worth of series (`--collectors`
    /// instances, 25 databases each): how long a round takes.
    Alerts,
    /// The fleet overview for `--collectors` instances fed through the pipeline: `GET /fleet`
    /// latency, and with `--browser` the page's time to interactive in headless Chromium.
    Overview,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
enum Transport {
    /// The native JSON batch to `POST /metrics/push`.
    Http,
    /// The compact batch (what the bridge publishes, and what a collector on NATS sends)
    /// published to JetStream.
    Nats,
    /// Prometheus remote-write (snappy protobuf) to `POST /write`: the very bodies
    /// `--versus victoria-metrics` sends VictoriaMetrics.
    RemoteWrite,
}

struct Server {
    child: Child,
    base: String,
    db: String,
    pg: String,
    prefix: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

async fn pg(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn start_server(args: &Args, max_series: usize) -> anyhow::Result<Server> {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let db = format!("pga_bench_{}", &tag[..12]);
    let prefix = format!("bench{}", &tag[..8]);
    pg(&format!("{}/postgres", args.pg))
        .await?
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await?;
    let port = free_port()?;
    let random = |n: usize| {
        use base64::Engine;
        let bytes: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    let child = Command::new(&args.server)
        .arg("serve")
        .env("PGA_DATABASE_URL", format!("{}/{db}", args.pg))
        .env("PGA_NATS_URL", &args.nats)
        .env("PGA_NATS_PREFIX", &prefix)
        .env("PGA_LISTEN", format!("127.0.0.1:{port}"))
        .env("PGA_JWT_SECRET", random(48))
        .env("PGA_ENCRYPTION_KEY", random(32))
        .env("PGA_BOOTSTRAP_ADMIN_USERNAME", "bench")
        .env("PGA_BOOTSTRAP_ADMIN_PASSWORD", "bench password 1")
        .env("PGA_CHECK_INTERVAL_S", "0")
        .env("PGA_MAX_SERIES_PER_COLLECTOR", max_series.to_string())
        .env("PGA_RETENTION_DAYS", "14")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {} (build it: cargo build --release)", args.server))?;
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}/api/v1"),
        db,
        pg: args.pg.clone(),
        prefix,
    };
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{}/health", server.base)).send().await {
            if r.status().is_success() {
                return Ok(server);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the server did not become healthy in 30 s")
}

async fn cleanup(server: Server, keep: bool, nats: &str) -> anyhow::Result<()> {
    let (db, pg_url, prefix) = (server.db.clone(), server.pg.clone(), server.prefix.clone());
    drop(server);
    if let Ok(client) = async_nats::connect(nats).await {
        let js = async_nats::jetstream::new(client);
        let _ = js
            .delete_stream(format!("{}_EVENTS", prefix.to_uppercase()))
            .await;
        let _ = js
            .delete_stream(format!("{}_METRICS", prefix.to_uppercase()))
            .await;
        if let Ok(names) = domain::bus::BusNames::new(&prefix) {
            for partition in 0..names.partitions() {
                let _ = js
                    .delete_stream(names.metrics_partition_stream(partition))
                    .await;
            }
        }
    }
    if !keep {
        pg(&format!("{pg_url}/postgres"))
            .await?
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .await?;
    }
    Ok(())
}

struct Collector {
    id: String,
    token: String,
    refresh_secret: String,
}

async fn register(server: &Server, n: usize) -> anyhow::Result<(String, Vec<Collector>)> {
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{}/auth/login", server.base))
        .json(&json!({"username": "bench", "password": "bench password 1"}))
        .send()
        .await?
        .json()
        .await?;
    let admin = login["access_token"].as_str().context("login")?.to_owned();
    let secret: Value = http
        .post(format!("{}/registration-secrets", server.base))
        .bearer_auth(&admin)
        .json(&json!({"name": "bench"}))
        .send()
        .await?
        .json()
        .await?;
    let secret = secret["secret"].as_str().context("secret")?.to_owned();
    let collectors: Vec<anyhow::Result<Collector>> = stream::iter(0..n)
        .map(|i| {
            let (http, secret, base) = (http.clone(), secret.clone(), server.base.clone());
            async move {
                // A busy server (503: too many hashes at once) is asked again, as a collector
                // retries; any other refusal ends the run, saying what the server said.
                let mut attempt = 0;
                let r: Value = loop {
                    attempt += 1;
                    let response = http
                        .post(format!("{base}/collectors/register"))
                        .header("X-Registration-Secret", &secret)
                        .json(&json!({"name": format!("bench-{i}"), "hostname": format!("db-{i}"), "version": "bench"}))
                        .send()
                        .await?;
                    let status = response.status();
                    if status.is_success() {
                        break response.json().await?;
                    }
                    let body = response.text().await.unwrap_or_default();
                    if attempt >= 10 || !(status.is_server_error() || status.as_u16() == 429) {
                        bail!("registering bench-{i} answered {status}: {body}");
                    }
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                };
                Ok(Collector {
                    id: r["collector_id"].as_str().context("id")?.to_owned(),
                    token: r["token"].as_str().context("token")?.to_owned(),
                    refresh_secret: r["refresh_secret"]
                        .as_str()
                        .context("refresh secret")?
                        .to_owned(),
                })
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    Ok((
        admin,
        collectors.into_iter().collect::<anyhow::Result<_>>()?,
    ))
}

fn batch(c: &Collector, points: usize, round: u64) -> (String, Vec<u8>) {
    use std::fmt::Write as _;
    // Written straight into the buffer, not through a JSON tree: the load generator shares the
    // 2 cores with the server, so its own cost is kept small (a real collector runs elsewhere).
    let id = uuid::Uuid::new_v4().to_string();
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut body = String::with_capacity(64 * points + 256);
    let _ = write!(
        body,
        r#"{{"batch_id":"{id}","collector_id":"{}","instance":"db-{}","collected_at":"{now}","samples":["#,
        c.id,
        &c.id[..8]
    );
    for k in 0..points {
        if k > 0 {
            body.push(',');
        }
        let _ = write!(
            body,
            r#"{{"metric":"pg_bench_{}","labels":{{"object":"{}"}},"value":{}.0,"counter":{}}}"#,
            k % 20,
            k / 20,
            round * 1000 + k as u64,
            k % 2 == 0
        );
    }
    body.push_str("]}");
    (id, body.into_bytes())
}

/// [`batch`]'s samples in the compact encoding a collector on NATS publishes.
fn compact_batch(c: &Collector, points: usize, round: u64) -> (String, Vec<u8>) {
    let id = uuid::Uuid::new_v4().to_string();
    let now = Utc::now();
    let batch = domain::metrics::MetricBatch {
        batch_id: id.clone(),
        collector_id: c.id.clone(),
        instance: Some(format!("db-{}", &c.id[..8])),
        collected_at: now,
        samples: (0..points)
            .map(|k| domain::metrics::Sample {
                metric: format!("pg_bench_{}", k % 20),
                labels: [("object".to_owned(), (k / 20).to_string())].into(),
                value: (round * 1000 + k as u64) as f64,
                ts: now,
                counter: k % 2 == 0,
            })
            .collect(),
        statements: Default::default(),
    };
    (id, domain::metrics::compact::encode(&batch))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(name: &str, mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    format!(
        "{name}: n={} p50={:.1} p99={:.1} max={:.1}",
        v.len(),
        percentile(&v, 0.5),
        percentile(&v, 0.99),
        v.last().copied().unwrap_or(f64::NAN)
    )
}

/// Where and how batches are pushed.
#[derive(Clone)]
struct Pusher {
    transport: Transport,
    http: reqwest::Client,
    js: async_nats::jetstream::Context,
    base: String,
    prefix: String,
}

impl Pusher {
    /// A pusher to `server` over the transport `args` choose.
    async fn new(args: &Args, server: &Server) -> anyhow::Result<Self> {
        Ok(Self {
            transport: args.transport,
            http: reqwest::Client::new(),
            js: async_nats::jetstream::new(async_nats::connect(&args.nats).await?),
            base: server.base.clone(),
            prefix: server.prefix.clone(),
        })
    }
}

impl Pusher {
    /// Batch `round` of `c` in this pusher's format: its batch id and body.
    fn body(&self, c: &Collector, points: usize, round: u64) -> (String, Vec<u8>) {
        match self.transport {
            Transport::Http => batch(c, points, round),
            Transport::Nats => compact_batch(c, points, round),
            Transport::RemoteWrite => versus::remote_write_body(c, points, round),
        }
    }

    /// Pushes one batch; returns the latency in ms.
    async fn push(&self, c: &Collector, id: &str, body: Vec<u8>) -> anyhow::Result<f64> {
        let t = Instant::now();
        match self.transport {
            Transport::Http => {
                let r = self
                    .http
                    .post(format!("{}/metrics/push", self.base))
                    .bearer_auth(&c.token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                if r.status().as_u16() != 202 {
                    bail!(
                        "push answered {}: {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    );
                }
            }
            Transport::RemoteWrite => {
                let r = self
                    .http
                    .post(format!("{}/write", self.base))
                    .basic_auth(&c.id, Some(&c.refresh_secret))
                    .header("content-encoding", "snappy")
                    .header("content-type", "application/x-protobuf")
                    .body(body)
                    .send()
                    .await?;
                if r.status().as_u16() != 204 {
                    bail!(
                        "remote write answered {}: {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    );
                }
            }
            Transport::Nats => {
                let mut headers = async_nats::HeaderMap::new();
                // As `domain::bus::BusNames::batch_message_id` makes it.
                headers.insert("Nats-Msg-Id", format!("{}:{id}", c.id).as_str());
                headers.insert(domain::metrics::TOKEN_HEADER, c.token.as_str());
                // As the server routes it: the collector's partition (default partition count).
                let subject = domain::bus::BusNames::new(&self.prefix)?.metrics_subject(&c.id);
                self.js
                    .publish_with_headers(subject, headers, body.into())
                    .await?
                    .await?;
            }
        }
        Ok(t.elapsed().as_secs_f64() * 1000.0)
    }
}

/// Runs while the load runs: receives (batch id, sent) and polls every 20 ms until each is
/// stored; returns the lags in ms once the senders are gone and nothing is pending.
async fn lag_poller(
    db: tokio_postgres::Client,
    mut sent: tokio::sync::mpsc::UnboundedReceiver<(String, Instant, u64)>,
) -> anyhow::Result<Vec<(u64, f64)>> {
    let mut pending: HashMap<String, (Instant, u64)> = HashMap::new();
    let mut out = Vec::new();
    let mut closed = false;
    let mut deadline = None;
    loop {
        while let Ok((id, at, round)) = sent.try_recv() {
            pending.insert(id, (at, round));
        }
        if !closed && sent.is_closed() && sent.is_empty() {
            closed = true;
            deadline = Some(Instant::now() + Duration::from_secs(180));
        }
        if closed && pending.is_empty() {
            return Ok(out);
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            bail!(
                "{} batches not stored within 180 s of the end",
                pending.len()
            );
        }
        if pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let ids: Vec<String> = pending.keys().cloned().collect();
        let rows = db
            .query(
                "SELECT batch_id FROM metric_applied_batches WHERE batch_id = ANY($1)",
                &[&ids],
            )
            .await?;
        let now = Instant::now();
        for r in rows {
            let id: String = r.get(0);
            if let Some((sent, round)) = pending.remove(&id) {
                out.push((round, now.duration_since(sent).as_secs_f64() * 1000.0));
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// Over 60 lines on purpose: a benchmark scenario, read top to bottom: set-up, load, measurement, report.
async fn fleet(args: &Args) -> anyhow::Result<()> {
    let server = start_server(args, args.points * 2).await?;
    let pid = server.child.id();
    let (_, collectors) = register(&server, args.collectors).await?;
    println!(
        "registered {} collectors; RSS {:.0} MiB",
        collectors.len(),
        rss_mib(pid).unwrap_or(f64::NAN)
    );
    let collectors = Arc::new(collectors);
    let pusher = Pusher::new(args, &server).await?;
    let db = pg(&format!("{}/{}", server.pg, server.db)).await?;
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let (sampled, sampled_rx) = tokio::sync::mpsc::unbounded_channel();
    let poller = tokio::spawn(lag_poller(db, sampled_rx));
    let start = Instant::now();
    let end = start + Duration::from_secs(args.duration);
    let interval = Duration::from_secs(args.interval);
    let rss_max = Arc::new(Mutex::new(0.0_f64));
    let rss_task = {
        let rss_max = rss_max.clone();
        tokio::spawn(async move {
            loop {
                if let Some(r) = rss_mib(pid) {
                    let mut m = rss_max.lock().await;
                    *m = m.max(r);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let n = collectors.len();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (collectors, pusher, latencies, sampled) = (
                collectors.clone(),
                pusher.clone(),
                latencies.clone(),
                sampled.clone(),
            );
            let points = args.points;
            tokio::spawn(async move {
                let c = &collectors[i];
                let mut next = start + interval.mul_f64(i as f64 / n as f64);
                let mut round = 0;
                let mut errors = 0u64;
                while next < end {
                    tokio::time::sleep_until(next.into()).await;
                    let (id, body) = pusher.body(c, points, round);
                    let sent = Instant::now();
                    match pusher.push(c, &id, body).await {
                        Ok(ms) => {
                            latencies.lock().await.push(ms);
                            if i % 4 == 0 {
                                let _ = sampled.send((id, sent, round));
                            }
                        }
                        Err(_) => errors += 1,
                    }
                    round += 1;
                    next += interval;
                }
                errors
            })
        })
        .collect();
    let mut errors = 0;
    for t in tasks {
        errors += t.await?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let lat = std::mem::take(&mut *latencies.lock().await);
    let batches = lat.len();
    drop(sampled);
    let lag = poller.await??;
    rss_task.abort();
    println!(
        "fleet over {:?}: {} collectors x {} points every {} s for {} s",
        args.transport, n, args.points, args.interval, args.duration
    );
    println!(
        "batches pushed: {batches} ({errors} failed); {:.1} batches/s, {:.0} points/s offered",
        batches as f64 / elapsed,
        (batches * args.points) as f64 / elapsed
    );
    println!("{}", summary("push latency ms", lat));
    let first: Vec<f64> = lag
        .iter()
        .filter(|(r, _)| *r == 0)
        .map(|(_, l)| *l)
        .collect();
    let later: Vec<f64> = lag
        .iter()
        .filter(|(r, _)| *r > 0)
        .map(|(_, l)| *l)
        .collect();
    let all: Vec<f64> = lag.iter().map(|(_, l)| *l).collect();
    println!(
        "{}",
        summary("end-to-end lag ms, all (every 4th collector)", all)
    );
    println!(
        "{}",
        summary("  first push of each collector (creates its series)", first)
    );
    println!("{}", summary("  later pushes (steady state)", later));
    // Round by round: whether the backlog of the series-creating first round drains.
    let rounds = lag.iter().map(|(r, _)| *r).max().unwrap_or(0);
    for round in 0..=rounds {
        let of_round: Vec<f64> = lag
            .iter()
            .filter(|(r, _)| *r == round)
            .map(|(_, l)| *l)
            .collect();
        println!("{}", summary(&format!("    round {}", round + 1), of_round));
    }
    println!("server RSS max: {:.0} MiB", *rss_max.lock().await);
    cleanup(server, args.keep, &args.nats).await
}

/// `pushers` tasks pushing back to back until `end`, task `i` calling `push(i, round)` for
/// rounds 1, 2, …; returns how many pushes succeeded.
async fn push_until<F, Fut>(pushers: usize, end: Instant, push: F) -> anyhow::Result<u64>
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let tasks: Vec<_> = (0..pushers)
        .map(|i| {
            let push = push.clone();
            tokio::spawn(async move {
                let (mut pushed, mut round) = (0u64, 1);
                while Instant::now() < end {
                    if push(i, round).await {
                        pushed += 1;
                    }
                    round += 1;
                }
                pushed
            })
        })
        .collect();
    let mut pushed = 0;
    for t in tasks {
        pushed += t.await?;
    }
    Ok(pushed)
}

// Over 60 lines on purpose: a benchmark scenario, read top to bottom: set-up, load, measurement, report.
async fn saturate(args: &Args) -> anyhow::Result<()> {
    let server = start_server(args, args.points * 2).await?;
    let pid = server.child.id();
    let (_, collectors) = register(&server, args.pushers).await?;
    let collectors = Arc::new(collectors);
    let pusher = Pusher::new(args, &server).await?;
    let db = pg(&format!("{}/{}", server.pg, server.db)).await?;
    // Warm-up: one batch per pusher creates its series (steady state is what a fleet sees).
    for c in collectors.iter() {
        let (id, body) = pusher.body(c, args.points, 0);
        pusher.push(c, &id, body).await?;
    }
    let warm: i64 = db
        .query_one("SELECT count(*) FROM metric_samples", &[])
        .await?
        .get(0);
    while db
        .query_one("SELECT count(*) FROM metric_applied_batches", &[])
        .await?
        .get::<_, i64>(0)
        < collectors.len() as i64
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let start = Instant::now();
    let end = start + Duration::from_secs(args.duration);
    let pushed = push_until(collectors.len(), end, {
        let (collectors, pusher, points) = (collectors.clone(), pusher.clone(), args.points);
        move |i, round| {
            let (collectors, pusher) = (collectors.clone(), pusher.clone());
            async move {
                let (id, body) = pusher.body(&collectors[i], points, round);
                pusher.push(&collectors[i], &id, body).await.is_ok()
            }
        }
    })
    .await?;
    let expected = (pushed as usize + collectors.len()) as i64;
    let deadline = Instant::now() + Duration::from_secs(300);
    while db
        .query_one("SELECT count(*) FROM metric_applied_batches", &[])
        .await?
        .get::<_, i64>(0)
        < expected
    {
        if Instant::now() > deadline {
            bail!("not all batches stored within 300 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    let stored: i64 = db
        .query_one("SELECT count(*) FROM metric_samples", &[])
        .await?
        .get(0);
    let points = (stored - warm) as f64;
    let e2e = points / secs;
    let rss = rss_mib(pid).unwrap_or(f64::NAN);
    // Raw COPY of as many rows into the same table, same series ids, in the same run.
    let ids: Vec<i64> = db
        .query("SELECT id FROM metric_series", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let rows = points as usize;
    let t = Instant::now();
    let copy = {
        use futures::pin_mut;
        use tokio_postgres::binary_copy::BinaryCopyInWriter;
        use tokio_postgres::types::Type;
        let sink = db
            .copy_in("COPY metric_samples (ts, series_id, value) FROM STDIN BINARY")
            .await?;
        let writer = BinaryCopyInWriter::new(sink, &[Type::TIMESTAMPTZ, Type::INT8, Type::FLOAT8]);
        pin_mut!(writer);
        let now = Utc::now();
        for k in 0..rows {
            let v = k as f64;
            writer
                .as_mut()
                .write(&[&now, &ids[k % ids.len()], &v])
                .await?;
        }
        writer.finish().await?
    };
    let copy_rate = copy as f64 / t.elapsed().as_secs_f64();
    println!(
        "saturate over {:?}: {} pushers x {} points, {} s",
        args.transport,
        collectors.len(),
        args.points,
        args.duration
    );
    println!("batches stored: {pushed}; {:.1} batches/s; {:.0} points/s end to end (pushed and queryable)", pushed as f64 / secs, e2e);
    println!("raw binary COPY of {copy} rows into metric_samples: {copy_rate:.0} rows/s");
    println!("ratio end-to-end / raw COPY: {:.2}", e2e / copy_rate);
    println!("server RSS: {rss:.0} MiB");
    cleanup(server, args.keep, &args.nats).await?;
    if let Some(Versus::VictoriaMetrics) = args.versus {
        let vm = versus::victoria_metrics(args, &collectors).await?;
        println!(
            "VictoriaMetrics, same pushers and points as remote-write: {:.0} points/s end to end (queryable); RSS {:.0} MiB",
            vm.rate, vm.rss_mib
        );
        println!(
            "ratio pgAnalytics ({:?}) / VictoriaMetrics: {:.2}",
            args.transport,
            e2e / vm.rate
        );
    }
    Ok(())
}

// Over 60 lines on purpose: a benchmark scenario, read top to bottom: set-up, load, measurement, report.
async fn query(args: &Args) -> anyhow::Result<()> {
    let server = start_server(args, args.points * 2).await?;
    let (admin, collectors) = register(&server, args.collectors).await?;
    let db = pg(&format!("{}/{}", server.pg, server.db)).await?;
    // A week of 1-minute data per collector and metric, loaded directly (as the projector
    // would have written it): series and raw samples in daily partitions (minutes and open
    // hours are read from them).
    let now = Utc::now();
    let minutes: i32 = 7 * 24 * 60;
    let t = Instant::now();
    for day in 0..=8 {
        let d = (now - chrono::Duration::days(day)).date_naive();
        let next = d + chrono::Duration::days(1);
        db.batch_execute(&format!("CREATE TABLE IF NOT EXISTS metric_samples_{} PARTITION OF metric_samples FOR VALUES FROM ('{d}') TO ('{next}')", d.format("%Y%m%d"))).await?;
    }
    for (ci, c) in collectors.iter().enumerate() {
        let cid = uuid::Uuid::parse_str(&c.id)?;
        for m in 0..args.metrics {
            let id = (ci * 1000 + m) as i64 + 1;
            db.execute(
                "INSERT INTO metric_series (id, collector_id, instance, metric, labels, counter) VALUES ($1, $2, '', $3, '{}', false)",
                &[&id, &cid, &format!("pg_week_{m}")],
            )
            .await?;
            db.execute(
                "INSERT INTO metric_samples (ts, series_id, value)
                 SELECT $2::timestamptz - make_interval(mins => g), $1, random() FROM generate_series(0, $3) g",
                &[&id, &now, &minutes],
            )
            .await?;
        }
    }
    db.batch_execute("ANALYZE metric_series; ANALYZE metric_samples; ANALYZE metric_rollup_1m")
        .await?;
    let loaded: i64 = db
        .query_one("SELECT count(*) FROM metric_samples", &[])
        .await?
        .get(0);
    println!(
        "loaded {loaded} samples for {} collectors x {} metrics in {:.0} s",
        collectors.len(),
        args.metrics,
        t.elapsed().as_secs_f64()
    );
    let http = reqwest::Client::new();
    let mut lat = Vec::new();
    let to = now.timestamp();
    let from = to - 86_400;
    for k in 0..300 {
        let c = &collectors[k % collectors.len()];
        let url = format!(
            "{}/metrics/series?collector_id={}&metric=pg_week_{}&from={from}&to={to}&step=60",
            server.base,
            c.id,
            k % args.metrics
        );
        let t = Instant::now();
        let r: Value = http
            .get(url)
            .bearer_auth(&admin)
            .send()
            .await?
            .json()
            .await?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        let n = r["series"][0]["points"].as_array().map_or(0, Vec::len);
        if n < 1400 {
            bail!("expected ~1440 points, got {n}: {r}");
        }
    }
    println!("{}", summary("24-hour series at 1-minute step, ms", lat));
    cleanup(server, args.keep, &args.nats).await
}

/// Loads 20 minutes of 1-minute samples shaped like a collector's for every built-in rule
/// (`--collectors` instances of 25 databases and 2 file systems), then reads the rounds the
/// server's evaluator records (`alert_evaluation`) for `--duration` seconds.
async fn alerts(args: &Args) -> anyhow::Result<()> {
    let server = start_server(args, 10_000).await?;
    let (_admin, collectors) = register(&server, args.collectors).await?;
    let db = pg(&format!("{}/{}", server.pg, server.db)).await?;
    let now = Utc::now();
    for day in 0..=1 {
        let d = (now - chrono::Duration::days(day)).date_naive();
        let next = d + chrono::Duration::days(1);
        db.batch_execute(&format!("CREATE TABLE IF NOT EXISTS metric_samples_{} PARTITION OF metric_samples FOR VALUES FROM ('{d}') TO ('{next}')", d.format("%Y%m%d"))).await?;
    }
    let t = Instant::now();
    let ids: Vec<uuid::Uuid> = collectors
        .iter()
        .map(|c| uuid::Uuid::parse_str(&c.id))
        .collect::<Result<_, _>>()?;
    // (metric, labels as SQL building jsonb from d = database index, f = path index, counter)
    let shapes: [(&str, &str, i32, bool); 13] = [
        ("pg_up", "'{}'", 1, false),
        ("pg_activity_total", "'{}'", 1, false),
        ("pg_settings_max_connections", "'{}'", 1, false),
        (
            "pg_replication_lag_seconds",
            "jsonb_build_object('application_name', 'replica')",
            1,
            false,
        ),
        ("pg_activity_max_xact_age_seconds", "'{}'", 1, false),
        ("pg_activity_idle_in_transaction", "'{}'", 1, false),
        ("pga_collector_spool_dropped_total", "'{}'", 1, true),
        (
            "pg_database_deadlocks_total",
            "jsonb_build_object('database', 'db' || k)",
            25,
            true,
        ),
        (
            "pg_database_blks_hit_total",
            "jsonb_build_object('database', 'db' || k)",
            25,
            true,
        ),
        (
            "pg_database_blks_read_total",
            "jsonb_build_object('database', 'db' || k)",
            25,
            true,
        ),
        (
            "pg_database_xid_age",
            "jsonb_build_object('database', 'db' || k)",
            25,
            false,
        ),
        (
            "node_filesystem_used_bytes",
            "jsonb_build_object('path', '/data' || k)",
            2,
            false,
        ),
        (
            "node_filesystem_size_bytes",
            "jsonb_build_object('path', '/data' || k)",
            2,
            false,
        ),
    ];
    for (metric, labels, n, counter) in shapes {
        db.execute(
            &format!(
                "INSERT INTO metric_series (id, collector_id, instance, metric, labels, counter)
                 SELECT ('x' || substr(md5(c::text || $1 || k), 1, 15))::bit(60)::bigint, c,
                        'db-' || substr(c::text, 1, 8), $1, {labels}, $3
                   FROM unnest($2::uuid[]) c, generate_series(1, $4) k"
            ),
            &[&metric, &ids, &counter, &n],
        )
        .await?;
    }
    // 20 minutes of samples, one a minute, of a healthy fleet (no rule holds: the rounds
    // measure evaluation, not writing alerts): cache hits 99 %, no deadlock, no drop.
    db.execute(
        "INSERT INTO metric_samples (ts, series_id, value)
         SELECT date_trunc('minute', $1::timestamptz) - make_interval(mins => g), s.id,
                CASE s.metric
                    WHEN 'pg_database_blks_hit_total' THEN (20 - g) * 990
                    WHEN 'pg_database_blks_read_total' THEN (20 - g) * 10
                    WHEN 'pg_settings_max_connections' THEN 100
                    WHEN 'node_filesystem_size_bytes' THEN 1000
                    WHEN 'pg_database_deadlocks_total' THEN 5
                    WHEN 'pga_collector_spool_dropped_total' THEN 0
                    ELSE 1 END
           FROM metric_series s, generate_series(0, 19) g",
        &[&now],
    )
    .await?;
    db.batch_execute("ANALYZE metric_series; ANALYZE metric_samples")
        .await?;
    let series: i64 = db
        .query_one("SELECT count(*) FROM metric_series", &[])
        .await?
        .get(0);
    let samples: i64 = db
        .query_one("SELECT count(*) FROM metric_samples", &[])
        .await?
        .get(0);
    println!(
        "loaded {series} series, {samples} samples for {} instances in {:.0} s",
        ids.len(),
        t.elapsed().as_secs_f64()
    );
    let end = Instant::now() + Duration::from_secs(args.duration);
    let mut seen = None;
    let mut rounds = Vec::new();
    let mut last = serde_json::Value::Null;
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(row) = db
            .query_opt(
                "SELECT at, duration_ms, rules, targets, transitions, errors::text FROM alert_evaluation",
                &[],
            )
            .await?
        else {
            continue;
        };
        let at: chrono::DateTime<Utc> = row.get(0);
        if seen == Some(at) {
            continue;
        }
        // The first round after loading also writes the alerts that fire.
        let first = seen.is_none();
        seen = Some(at);
        let ms: i32 = row.get(1);
        last = json!({"rules": row.get::<_, i32>(2), "targets": row.get::<_, i32>(3),
            "transitions": row.get::<_, i32>(4), "errors": row.get::<_, String>(5)});
        println!(
            "round at {at}: {ms} ms {last}{}",
            if first { " (first)" } else { "" }
        );
        if !first {
            rounds.push(f64::from(ms));
        }
    }
    println!(
        "{}",
        summary("evaluation round ms (after the first)", rounds)
    );
    println!("last round: {last}");
    cleanup(server, args.keep, &args.nats).await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match args.scenario {
        Scenario::Fleet => fleet(&args).await,
        Scenario::Saturate => saturate(&args).await,
        Scenario::Query => query(&args).await,
        Scenario::Alerts => alerts(&args).await,
        Scenario::Overview => overview::overview(&args).await,
    }
}
