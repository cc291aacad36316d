//! The same load into VictoriaMetrics, for `saturate --versus victoria-metrics`: a private
//! single-node VictoriaMetrics (Debian's `victoria-metrics`) on a free loopback port and a
//! temporary data directory, the same pushers and points as Prometheus remote-write (the very
//! bodies `--transport remote-write` sends pgAnalytics), and the rate at which the points became
//! queryable.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use ingest::remote_write::{Label, TimeSeries, WriteRequest, WriteSample};
use prost::Message as _;
use serde_json::Value;

use crate::{free_port, rss_mib, Args, Collector};

/// Batch `round` of `c` as a remote-write request: the same metrics, labels and values as
/// `batch` (plus `instance`, which the native batch carries as a field), stamped now. Returns
/// the batch id pgAnalytics gives it (`rw-<content id>`) and the snappy body.
pub(crate) fn remote_write_body(c: &Collector, points: usize, round: u64) -> (String, Vec<u8>) {
    let ts = Utc::now().timestamp_millis();
    let label = |name: &str, value: String| Label {
        name: name.to_owned(),
        value,
    };
    let instance = format!("db-{}", &c.id[..8]);
    let request = WriteRequest {
        timeseries: (0..points)
            .map(|k| TimeSeries {
                labels: vec![
                    label("__name__", format!("pg_bench_{}", k % 20)),
                    label("instance", instance.clone()),
                    label("object", (k / 20).to_string()),
                ],
                samples: vec![WriteSample {
                    value: (round * 1000 + k as u64) as f64,
                    timestamp: ts,
                }],
                histograms: Vec::new(),
            })
            .collect(),
        metadata: Vec::new(),
    };
    let plain = request.encode_to_vec();
    let id = format!("rw-{}", domain::metrics::content_id(&plain));
    let body = snap::raw::Encoder::new()
        .compress_vec(&plain)
        .unwrap_or_default();
    (id, body)
}

/// What VictoriaMetrics did with the load.
pub(crate) struct Outcome {
    /// Points per second, from the first timed push until every point was queryable.
    pub rate: f64,
    /// Its RSS at the end, MiB.
    pub rss_mib: f64,
}

struct Victoria {
    child: std::process::Child,
    dir: std::path::PathBuf,
}

impl Drop for Victoria {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// Over 60 lines on purpose: a benchmark scenario, read top to bottom: start, warm-up, load,
// until queryable, report.
/// Runs `args.pushers` pushers of `args.points` points back to back for `args.duration` s into
/// a private VictoriaMetrics, after one warm-up batch each (as `saturate` does), and waits
/// until every point answers a query.
pub(crate) async fn victoria_metrics(
    args: &Args,
    collectors: &Arc<Vec<Collector>>,
) -> anyhow::Result<Outcome> {
    let port = free_port()?;
    let dir = std::env::temp_dir().join(format!("pga-bench-vm-{}", uuid::Uuid::new_v4()));
    let child = Command::new(&args.victoria_metrics)
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        .arg(format!("-storageDataPath={}", dir.display()))
        .arg("-retentionPeriod=1")
        // Points are queryable as soon as they are flushed, as pgAnalytics's once stored.
        .arg("-search.latencyOffset=0s")
        .arg("-loggerLevel=ERROR")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| {
            format!(
                "starting {} (apt-get install victoria-metrics)",
                args.victoria_metrics
            )
        })?;
    let vm = Victoria { child, dir };
    let pid = vm.child.id();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_healthy(&http, &base).await?;
    let push = {
        let (http, url) = (http.clone(), format!("{base}/api/v1/write"));
        move |body: Vec<u8>| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let r = http
                    .post(url)
                    .header("content-encoding", "snappy")
                    .header("content-type", "application/x-protobuf")
                    .body(body)
                    .send()
                    .await?;
                if !r.status().is_success() {
                    bail!("VictoriaMetrics answered {}", r.status());
                }
                anyhow::Ok(())
            }
        }
    };
    for c in collectors.iter() {
        push(remote_write_body(c, args.points, 0).1).await?;
    }
    let warm = stored(&http, &base).await?;
    let start = Instant::now();
    let end = start + Duration::from_secs(args.duration);
    let pushed = crate::push_until(collectors.len(), end, {
        let (collectors, points) = (collectors.clone(), args.points);
        move |i, round| {
            let body = remote_write_body(&collectors[i], points, round).1;
            let push = push.clone();
            async move { push(body).await.is_ok() }
        }
    })
    .await?;
    let expected = warm + pushed * args.points as u64;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let _ = http
            .get(format!("{base}/internal/force_flush"))
            .send()
            .await;
        if stored(&http, &base).await? >= expected {
            break;
        }
        if Instant::now() > deadline {
            bail!("VictoriaMetrics did not make every point queryable within 300 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(Outcome {
        rate: (expected - warm) as f64 / secs,
        rss_mib: rss_mib(pid).unwrap_or(f64::NAN),
    })
}

async fn wait_healthy(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{base}/health")).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("VictoriaMetrics did not become healthy in 30 s")
}

/// Points of the bench's metrics VictoriaMetrics answers for (the last two hours).
async fn stored(http: &reqwest::Client, base: &str) -> anyhow::Result<u64> {
    let r: Value = http
        .get(format!("{base}/api/v1/query"))
        .query(&[
            (
                "query",
                r#"sum(count_over_time({__name__=~"pg_bench_.+"}[2h]))"#,
            ),
            ("nocache", "1"),
        ])
        .send()
        .await?
        .json()
        .await?;
    let value = r["data"]["result"][0]["value"][1]
        .as_str()
        .map_or(Ok(0.0), str::parse::<f64>)?;
    Ok(value as u64)
}
