//! The agent: collection passes on a schedule, every batch written to the spool first, and a
//! sender that ships fresh batches at once and replays the spool oldest first at a bounded
//! rate once the server answers again.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::Utc;
use domain::metrics::MetricBatch;
use pgconn::PgConnector;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::families::{Family, Limits, Out, TargetCollector};
use crate::host::HostReader;
use crate::spool::Spool;
use crate::state::State;
use crate::transport::{self, Link, SendError};

/// Most samples in one batch: keeps a batch well under NATS's 1 MiB default payload.
pub const MAX_SAMPLES_PER_BATCH: usize = 3_000;

/// The `application_name` of the collector's PostgreSQL sessions.
pub const APPLICATION_NAME: &str = "pganalytics-collector";

/// Longest wait between two attempts while the server is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Counters the agent keeps about itself (tests and self-metrics read them).
#[derive(Debug, Default)]
pub struct Stats {
    /// Collection passes run.
    pub passes: AtomicU64,
    /// Batches made and spooled.
    pub batches_made: AtomicU64,
    /// Batches the server acknowledged.
    pub batches_sent: AtomicU64,
    /// Batches the server refused for good (dropped, logged).
    pub batches_refused: AtomicU64,
    /// Send attempts that found the server unavailable.
    pub send_failures: AtomicU64,
}

/// The collecting side.
pub struct Agent {
    config: Config,
    collector_id: String,
    targets: Vec<TargetCollector>,
    host: Option<HostReader>,
    spool: Arc<Mutex<Spool>>,
    next_due: BTreeMap<Family, Instant>,
    stats: Arc<Stats>,
}

fn lock(spool: &Mutex<Spool>) -> MutexGuard<'_, Spool> {
    spool
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Loads the state file, or registers when there is none.
///
/// # Errors
/// No state and no secret, a refused secret, an unreachable server, an unreadable state file.
pub async fn identity(config: &Config) -> anyhow::Result<State> {
    if let Some(state) = State::load(&config.collector.state_file)? {
        if state.server_url.trim_end_matches('/') != config.server.url.trim_end_matches('/') {
            tracing::warn!(
                registered_with = %state.server_url,
                configured = %config.server.url,
                "the state file was written for another server URL; using it anyway"
            );
        }
        return Ok(state);
    }
    let Some(secret) = &config.server.registration_secret else {
        anyhow::bail!(
            "no state file at {} and no registration secret: set \
             PGA_COLLECTOR_SERVER__REGISTRATION_SECRET (or server.registration_secret) for the \
             first start",
            config.collector.state_file.display()
        );
    };
    transport::register(config, secret).await
}

impl Agent {
    /// An agent for `config`, as collector `collector_id`, opening its spool.
    ///
    /// # Errors
    /// When the spool folder cannot be opened.
    pub fn new(config: Config, collector_id: String) -> anyhow::Result<Self> {
        Self::with_application_name(config, collector_id, APPLICATION_NAME)
    }

    /// [`Agent::new`] with another `application_name` (the benchmark tells its sessions apart).
    ///
    /// # Errors
    /// As [`Agent::new`].
    pub fn with_application_name(
        config: Config,
        collector_id: String,
        application_name: &'static str,
    ) -> anyhow::Result<Self> {
        let spool = Spool::open(
            &config.spool_dir(),
            config.spool.max_bytes,
            Duration::from_secs(config.spool.max_age_s),
        )?;
        let connector = PgConnector::new();
        let limits = Limits {
            statement_timeout: Duration::from_millis(config.schedule.statement_timeout_ms),
            max_relations: config.schedule.max_relations_per_database,
            max_statements: config.schedule.max_statements,
            application_name,
        };
        let targets = config
            .targets
            .iter()
            .map(|t| TargetCollector::new(t.clone(), connector.clone(), limits))
            .collect();
        let host = config
            .host_enabled()
            .then(|| HostReader::new(config.host.disk_paths.clone()));
        let now = Instant::now();
        let next_due = Family::ALL
            .iter()
            .filter(|f| config.schedule.interval(**f).is_some())
            .map(|f| (*f, now))
            .collect();
        Ok(Self {
            config,
            collector_id,
            targets,
            host,
            spool: Arc::new(Mutex::new(spool)),
            next_due,
            stats: Arc::new(Stats::default()),
        })
    }

    /// The agent's counters.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// The server process ids of this agent's sessions (the benchmark reads their CPU).
    pub async fn session_pids(&self, application_name: &str) -> Vec<i32> {
        let mut pids = Vec::new();
        for t in &self.targets {
            pids.extend(t.session_pids(application_name).await);
        }
        pids
    }

    /// Batches waiting in the spool.
    pub fn spooled(&self) -> usize {
        lock(&self.spool).len()
    }

    /// The families due now (their next time is moved on by their interval).
    fn due(&mut self) -> Vec<Family> {
        let now = Instant::now();
        let mut due = Vec::new();
        for (family, next) in &mut self.next_due {
            if *next <= now {
                due.push(*family);
                if let Some(interval) = self.config.schedule.interval(*family) {
                    // From now, not from the missed time: a slow pass never makes passes pile up.
                    *next = now + interval;
                }
            }
        }
        due
    }

    /// One pass over `families` for every target (in parallel, the whole bounded by
    /// `pass_timeout_s`), giving one or more batches per target.
    // Over 60 lines on purpose: one pass: targets in parallel under one deadline, then the host, then batching.
    pub async fn collect(&mut self, families: &[Family]) -> Vec<MetricBatch> {
        let started = Instant::now();
        let limit = Duration::from_secs(self.config.schedule.pass_timeout_s);
        let mut outs: Vec<Out> = self.targets.iter().map(|_| Out::default()).collect();
        let work = self
            .targets
            .iter_mut()
            .zip(outs.iter_mut())
            .map(|(t, out)| async move {
                if tokio::time::timeout(limit, t.collect(families, out))
                    .await
                    .is_err()
                {
                    tracing::warn!(
                        target = %t.target().name,
                        "collection pass cut off after {} s (schedule.pass_timeout_s)",
                        limit.as_secs()
                    );
                    out.skip("pass", "cut off by schedule.pass_timeout_s");
                }
            });
        futures::future::join_all(work).await;

        if families.contains(&Family::Host) {
            if let Some(host) = &mut self.host {
                let local = self
                    .targets
                    .iter()
                    .position(|t| t.target().is_local())
                    .unwrap_or(0);
                if let Some(out) = outs.get_mut(local) {
                    host.collect(out);
                }
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let (spooled, spool_bytes, dropped) = {
            let s = lock(&self.spool);
            (s.len(), s.bytes(), s.dropped_total())
        };
        let refused = self.stats.batches_refused.load(Ordering::Relaxed);
        let mut batches = Vec::new();
        for (t, mut out) in self.targets.iter().zip(outs) {
            out.gauge("pga_collector_pass_seconds", &[], elapsed);
            out.gauge("pga_collector_spool_batches", &[], spooled as f64);
            out.gauge("pga_collector_spool_bytes", &[], spool_bytes as f64);
            out.counter("pga_collector_spool_dropped_total", &[], dropped as f64);
            out.counter("pga_collector_batches_refused_total", &[], refused as f64);
            let collected_at = out.ts;
            let mut statements = std::mem::take(&mut out.statements);
            let mut samples = std::mem::take(&mut out.samples);
            while !samples.is_empty() || !statements.is_empty() {
                let rest = samples.split_off(samples.len().min(MAX_SAMPLES_PER_BATCH));
                batches.push(MetricBatch {
                    batch_id: uuid::Uuid::now_v7().to_string(),
                    collector_id: self.collector_id.clone(),
                    instance: Some(t.target().name.clone()),
                    collected_at,
                    samples,
                    statements: std::mem::take(&mut statements),
                });
                samples = rest;
            }
        }
        self.stats.passes.fetch_add(1, Ordering::Relaxed);
        batches
    }

    /// Every family once, whatever the schedule (`pganalytics-collector once`).
    pub async fn collect_all(&mut self) -> Vec<MetricBatch> {
        self.collect(&Family::ALL).await
    }

    /// Writes batches to the spool; returns their spool numbers.
    fn spool_batches(&self, batches: &[MetricBatch]) -> Vec<u64> {
        let mut seqs = Vec::new();
        for batch in batches {
            let stored = serde_json::to_vec(batch)
                .map_err(anyhow::Error::from)
                .and_then(|json| Ok(transport::gzip(&json)?))
                .and_then(|body| lock(&self.spool).push(&body));
            match stored {
                Ok(seq) => {
                    self.stats.batches_made.fetch_add(1, Ordering::Relaxed);
                    seqs.push(seq);
                }
                Err(e) => tracing::error!("batch {} lost: cannot spool it: {e}", batch.batch_id),
            }
        }
        seqs
    }

    /// Runs until `shutdown` (→ `Ok`) or until the server no longer accepts this collector
    /// (→ `Err` with the reason).
    ///
    /// # Errors
    /// [`SendError::Fatal`]'s message.
    pub async fn run(mut self, link: Link, shutdown: CancellationToken) -> anyhow::Result<()> {
        let (tx, rx) = mpsc::channel(64);
        let sender = Sender {
            spool: self.spool.clone(),
            link,
            stats: self.stats.clone(),
            replay_gap: Duration::from_secs_f64(1.0 / self.config.spool.replay_per_second),
        };
        let stop_sender = shutdown.child_token();
        let sending = tokio::spawn(sender.run(rx, stop_sender.clone()));
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let result = loop {
            tokio::select! {
                () = shutdown.cancelled() => break Ok(()),
                _ = tick.tick() => {}
            }
            if sending.is_finished() {
                break Err(anyhow::anyhow!("the sender stopped"));
            }
            let due = self.due();
            if due.is_empty() {
                continue;
            }
            let batches = self.collect(&due).await;
            lock(&self.spool).enforce_caps();
            for seq in self.spool_batches(&batches) {
                // A full queue only means the sender is busy: the batch is in the spool.
                let _ = tx.try_send(seq);
            }
        };
        stop_sender.cancel();
        match sending.await {
            Ok(Err(fatal)) => Err(anyhow::anyhow!(fatal)),
            Ok(Ok(())) => result,
            Err(e) => Err(anyhow::anyhow!("the sender failed: {e}")),
        }
    }
}

/// The sending side: fresh batches at once, the backlog oldest first at a bounded rate.
struct Sender {
    spool: Arc<Mutex<Spool>>,
    link: Link,
    stats: Arc<Stats>,
    replay_gap: Duration,
}

enum Outcome {
    Sent,
    Unavailable,
}

impl Sender {
    async fn run(
        mut self,
        mut fresh: mpsc::Receiver<u64>,
        shutdown: CancellationToken,
    ) -> Result<(), String> {
        let mut healthy = true;
        let mut backoff = Duration::from_secs(1);
        let mut outage_started: Option<Instant> = None;
        // While the server is unreachable: when to probe next. A deadline, not a sleep, so that
        // fresh batches arriving meanwhile (they wait in the spool) do not keep pushing it back.
        let mut next_probe = tokio::time::Instant::now();
        loop {
            let backlog = !lock(&self.spool).is_empty();
            let deadline = match (healthy, backlog) {
                (false, _) => next_probe,
                (true, true) => tokio::time::Instant::now() + self.replay_gap,
                (true, false) => tokio::time::Instant::now() + Duration::from_secs(30),
            };
            let seq = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                seq = fresh.recv() => match seq {
                    Some(seq) if healthy => Some(seq),
                    Some(_) => continue,
                    None => return Ok(()),
                },
                () = tokio::time::sleep_until(deadline) => None,
            };
            let seq = seq.or_else(|| lock(&self.spool).oldest());
            let outcome = match seq {
                Some(seq) => self.send(seq).await?,
                None => match self.link.keep_token_fresh().await {
                    Ok(()) => Outcome::Sent,
                    Err(SendError::Fatal(m)) => return Err(m),
                    Err(_) => Outcome::Unavailable,
                },
            };
            match outcome {
                Outcome::Sent => {
                    if let Some(since) = outage_started.take() {
                        tracing::info!(
                            after_s = since.elapsed().as_secs(),
                            spooled = lock(&self.spool).len(),
                            "server reachable again; replaying the spool"
                        );
                    }
                    healthy = true;
                    backoff = Duration::from_secs(1);
                }
                Outcome::Unavailable => {
                    healthy = false;
                    outage_started.get_or_insert_with(Instant::now);
                    next_probe = tokio::time::Instant::now() + backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    async fn send(&mut self, seq: u64) -> Result<Outcome, String> {
        let read = lock(&self.spool).read(seq);
        let body = match read {
            Ok(Some(body)) => body,
            Ok(None) => return Ok(Outcome::Sent),
            Err(e) => {
                tracing::error!("spooled batch {seq} unreadable, dropped: {e}");
                lock(&self.spool).remove(seq);
                return Ok(Outcome::Sent);
            }
        };
        match self.link.send(&body).await {
            Ok(()) => {
                lock(&self.spool).remove(seq);
                self.stats.batches_sent.fetch_add(1, Ordering::Relaxed);
                Ok(Outcome::Sent)
            }
            Err(SendError::Unavailable(m)) => {
                if self
                    .stats
                    .send_failures
                    .fetch_add(1, Ordering::Relaxed)
                    .is_multiple_of(20)
                {
                    tracing::warn!("server unavailable, batches kept in the spool: {m}");
                }
                Ok(Outcome::Unavailable)
            }
            Err(SendError::Refused(m)) => {
                tracing::error!("the server refused a batch for good; dropped: {m}");
                lock(&self.spool).remove(seq);
                self.stats.batches_refused.fetch_add(1, Ordering::Relaxed);
                Ok(Outcome::Sent)
            }
            Err(SendError::Fatal(m)) => Err(m),
        }
    }
}

/// Builds the agent from `config`: registers when needed, opens the spool.
///
/// # Errors
/// As [`identity`] and [`Agent::new`].
pub async fn prepare(config: Config) -> anyhow::Result<(Agent, Link)> {
    let state = identity(&config).await?;
    let link = Link::new(&config, state.clone())?;
    let agent = Agent::new(config, state.collector_id)?;
    tracing::info!(
        collector_id = %link.collector_id(),
        targets = agent.targets.len(),
        spooled = agent.spooled(),
        at = %Utc::now(),
        "collector started"
    );
    Ok((agent, link))
}
