//! `pganalytics-collector measure`: what a collection pass costs the collector and the
//! monitored server, measured from `/proc` (CPU ticks of this process and of the server's
//! backends serving it), for `docs/benchmarks.md`.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::agent::Agent;
use crate::config::{Config, Preset};
use crate::families::Family;

const APPLICATION_NAME: &str = "pganalytics-collector-measure";
const TICK_MS: f64 = 10.0;

/// The figures of one kind of pass.
#[derive(Debug, Serialize)]
pub struct PassCost {
    /// Which families.
    pub families: Vec<&'static str>,
    /// Passes measured.
    pub passes: u32,
    /// Samples per pass.
    pub samples_per_pass: usize,
    /// Compressed bytes per pass.
    pub gzip_bytes_per_pass: usize,
    /// Wall time per pass.
    pub wall_ms_per_pass: f64,
    /// CPU of this process per pass (collection, JSON, gzip).
    pub collector_cpu_ms_per_pass: f64,
    /// CPU of the server's backends serving the collector, per pass.
    pub server_cpu_ms_per_pass: f64,
    /// That CPU as a share of one core at a one-minute interval.
    pub server_cpu_percent_at_1_min: f64,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The standard preset's per-minute pass.
    pub standard_pass: PassCost,
    /// Every family at once (the five-minute pass of the standard preset).
    pub full_pass: PassCost,
    /// Peak resident memory of the collector, KiB.
    pub peak_rss_kib: u64,
    /// Resident memory at the end, KiB.
    pub rss_kib: u64,
}

fn self_ticks() -> f64 {
    ticks("/proc/self/stat").unwrap_or(0.0)
}

fn ticks(path: &str) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
    let rest = text.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

async fn backend_pids(agent: &Agent) -> Vec<i32> {
    agent.session_pids(APPLICATION_NAME).await
}

fn backends_ticks(pids: &[i32]) -> f64 {
    pids.iter()
        .filter_map(|p| ticks(&format!("/proc/{p}/stat")))
        .sum()
}

async fn cost(agent: &mut Agent, families: &[Family], passes: u32, gap: Duration) -> PassCost {
    // One pass first: connections opened, statements' texts sent once.
    let _ = agent.collect(families).await;
    let pids = backend_pids(agent).await;
    let (mut samples, mut bytes) = (0, 0);
    let server_before = backends_ticks(&pids);
    let self_before = self_ticks();
    let started = Instant::now();
    let mut busy = Duration::ZERO;
    for _ in 0..passes {
        let t = Instant::now();
        for batch in agent.collect(families).await {
            samples += batch.samples.len();
            let json = serde_json::to_vec(&batch).unwrap_or_default();
            bytes += crate::transport::gzip(&json).map(|g| g.len()).unwrap_or(0);
        }
        busy += t.elapsed();
        tokio::time::sleep(gap).await;
    }
    let _ = started;
    let n = f64::from(passes.max(1));
    let server_ms = (backends_ticks(&pids) - server_before) * TICK_MS / n;
    PassCost {
        families: families.iter().map(|f| f.name()).collect(),
        passes,
        samples_per_pass: samples / passes.max(1) as usize,
        gzip_bytes_per_pass: bytes / passes.max(1) as usize,
        wall_ms_per_pass: busy.as_secs_f64() * 1000.0 / n,
        collector_cpu_ms_per_pass: (self_ticks() - self_before) * TICK_MS / n,
        server_cpu_ms_per_pass: server_ms,
        server_cpu_percent_at_1_min: server_ms / 60_000.0 * 100.0,
    }
}

/// Runs `passes` standard passes and `passes` full passes, `gap` apart.
///
/// # Errors
/// When the spool folder cannot be made.
pub async fn measure(mut config: Config, passes: u32, gap: Duration) -> anyhow::Result<Report> {
    let spool = std::env::temp_dir().join(format!("pga-measure-{}", std::process::id()));
    config.spool.dir = Some(spool.clone());
    let standard: Vec<Family> = Family::ALL
        .iter()
        .copied()
        .filter(|f| {
            let s = Preset::Standard.interval_s(*f);
            s > 0 && s <= 60
        })
        .collect();
    let mut agent = Agent::with_application_name(config, "measure".into(), APPLICATION_NAME)?;
    let standard_pass = cost(&mut agent, &standard, passes, gap).await;
    let full_pass = cost(&mut agent, &Family::ALL, passes, gap).await;
    let _ = std::fs::remove_dir_all(spool);
    Ok(Report {
        standard_pass,
        full_pass,
        peak_rss_kib: status_kib("VmHWM:"),
        rss_kib: status_kib("VmRSS:"),
    })
}
