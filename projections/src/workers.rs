//! Workers sharing the projections: several `pganalytics project` processes (or `serve`s) on
//! one database and one NATS divide the work between them and take over a dead one's share.
//!
//! The work is cut into units: the domain-event projections together (a small, ordered stream,
//! with the relay that feeds it, so that one relay runs at a time),
//! each metric partition with its projections, and the unpartitioned metrics stream of earlier
//! versions while it exists. A worker runs a unit while it holds the unit's lease in
//! `projection_leases`, renewed every [`WorkerSettings::tick`] and lost after
//! [`WorkerSettings::lease`] without renewal. Each worker says it is alive in
//! `projection_workers` and takes at most its fair share, `ceil(units / live workers)`, giving
//! back what is over it, so a new worker gets work within a couple of ticks and a dead worker's
//! units are taken over once its leases ran out (a few seconds).
//!
//! Leases decide who works, not what counts: a worker that stalls past its lease (GC pause,
//! network) may still be finishing a batch when the next owner starts. Exactly-once effect holds
//! anyway, because every batch transaction locks the unit's checkpoint row (`FOR UPDATE`) and
//! skips what is at or below it: of two runners on one stream, the second waits for the first
//! to commit and then finds those messages applied. Each runner reads through a consumer of its
//! own, named after its worker, so no worker ever deletes another's consumer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use deadpool_postgres::Pool;
use domain::bus::BusNames;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::runtime::{Projector, Runner};

/// One lease's worth of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// Every domain-event projection.
    Events,
    /// One metric partition's stream, for every metrics projection.
    Partition(u16),
    /// The unpartitioned metrics stream of earlier versions, drained after an upgrade.
    LegacyMetrics,
}

impl Unit {
    /// Its lease's key: `events`, `metrics.p03`, `metrics.legacy`.
    pub fn key(self) -> String {
        match self {
            Self::Events => "events".to_owned(),
            Self::Partition(p) => format!("metrics.p{p:02}"),
            Self::LegacyMetrics => "metrics.legacy".to_owned(),
        }
    }

    fn from_key(key: &str) -> Option<Self> {
        match key {
            "events" => Some(Self::Events),
            "metrics.legacy" => Some(Self::LegacyMetrics),
            _ => key
                .strip_prefix("metrics.p")
                .and_then(|p| p.parse().ok())
                .map(Self::Partition),
        }
    }
}

/// Makes the metrics projections afresh for one stream (they gather a fetch's writes in memory).
pub type MetricProjectors = Arc<dyn Fn() -> Vec<Arc<dyn Projector>> + Send + Sync>;

/// A task that runs beside the domain-event projections until it is told to stop (the relay,
/// which publishes the event store to the stream those projections read).
pub type Companion =
    Arc<dyn Fn(CancellationToken) -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

/// What there is to run.
#[derive(Clone)]
pub struct Plan {
    /// The domain-event projections (one shared instance each: one unit runs them).
    pub events: Vec<Arc<dyn Projector>>,
    /// The metrics projections, made afresh per unit.
    pub metrics: MetricProjectors,
    /// Runs wherever the `events` unit runs: one relay at a time, not one per worker.
    pub events_companion: Option<Companion>,
}

impl Plan {
    /// Every unit, given whether the unpartitioned stream of earlier versions exists.
    pub fn units(&self, names: &BusNames, legacy: bool) -> Vec<Unit> {
        let mut units = vec![Unit::Events];
        units.extend((0..names.partitions()).map(Unit::Partition));
        if legacy {
            units.push(Unit::LegacyMetrics);
        }
        units
    }

    /// The runners of one unit.
    pub fn runners(
        &self,
        unit: Unit,
        pool: &Pool,
        jetstream: &jetstream::Context,
        names: &BusNames,
    ) -> Vec<Runner> {
        let (pool, js, names) = (pool.clone(), jetstream.clone(), names.clone());
        match unit {
            Unit::Events => self
                .events
                .iter()
                .map(|p| Runner::new(pool.clone(), js.clone(), names.clone(), p.clone()))
                .collect(),
            Unit::LegacyMetrics => (self.metrics)()
                .into_iter()
                .map(|p| Runner::new(pool.clone(), js.clone(), names.clone(), p))
                .collect(),
            Unit::Partition(n) => (self.metrics)()
                .into_iter()
                .map(|p| Runner::partition(pool.clone(), js.clone(), names.clone(), p, n))
                .collect(),
        }
    }
}

/// How often a worker renews and how long its leases last.
#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    /// Renewal and rebalancing period.
    pub tick: Duration,
    /// A lease (and a worker's liveness) not renewed for this long is over: the takeover time.
    pub lease: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(1),
            lease: Duration::from_secs(5),
        }
    }
}

/// How long a unit's runners may take to finish their batch when the unit is given up.
const STOP_PATIENCE: Duration = Duration::from_secs(2);

/// One process's share of the projections.
pub struct Worker {
    id: uuid::Uuid,
    host: String,
    /// The runners' pool.
    pool: Pool,
    /// A small pool of its own for the leases, so that busy runners never delay a renewal.
    leases: Pool,
    jetstream: jetstream::Context,
    names: BusNames,
    plan: Plan,
    settings: WorkerSettings,
    running: HashMap<Unit, Running>,
    /// When the leases were last renewed.
    renewed: tokio::time::Instant,
}

struct Running {
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

impl Worker {
    /// A worker with a fresh identity: runners on `pool`, leases on `leases` (two connections
    /// are plenty).
    pub fn new(
        pool: Pool,
        leases: Pool,
        jetstream: jetstream::Context,
        names: BusNames,
        plan: Plan,
        settings: WorkerSettings,
    ) -> Self {
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unknown".to_owned());
        Self {
            id: uuid::Uuid::new_v4(),
            host: format!("{host} pid {}", std::process::id()),
            pool,
            leases,
            jetstream,
            names,
            plan,
            settings,
            running: HashMap::new(),
            renewed: tokio::time::Instant::now(),
        }
    }

    /// Its identity in `projection_workers` and `projection_leases`.
    pub fn id(&self) -> uuid::Uuid {
        self.id
    }

    /// Runs until `shutdown`, then stops its runners and gives its leases back at once (a
    /// worker that dies instead is taken over when its leases run out).
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut legacy = None;
        let mut ticks = 0_u32;
        loop {
            // Whether the stream of earlier versions exists changes only on an upgrade: look
            // now and then, not every tick.
            if legacy.is_none() || ticks.is_multiple_of(30) {
                legacy =
                    legacy_stream_exists(&self.jetstream, &self.names, Duration::from_millis(500))
                        .await
                        .ok()
                        .or(legacy);
            }
            ticks = ticks.wrapping_add(1);
            let units = self.plan.units(&self.names, legacy.unwrap_or(false));
            // Renewal must not wait behind anything for longer than a lease lasts.
            let budget = self.settings.lease / 2;
            let renewed = match tokio::time::timeout(budget, self.renew(&units)).await {
                Ok(r) => r,
                Err(_) => Err(anyhow::anyhow!(
                    "PostgreSQL did not answer within {budget:?}"
                )),
            };
            match renewed {
                Ok((owned, fair)) => {
                    self.renewed = tokio::time::Instant::now();
                    if let Err(e) = self.rebalance(owned, fair, &units).await {
                        tracing::warn!(worker = %self.id, error = %e, "could not rebalance the projection units");
                    }
                }
                Err(e) => {
                    tracing::warn!(worker = %self.id, error = %e,
                        "could not renew the projection leases; keeping the work until they run out");
                    self.drop_expired().await;
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.settings.tick) => {}
                () = shutdown.cancelled() => break,
            }
        }
        self.converge(&[]).await;
        if let Err(e) = self.resign().await {
            tracing::warn!(worker = %self.id, error = %e, "could not give the leases back; they run out by themselves");
        }
    }

    /// Says this worker is alive and renews its leases; returns the units it still holds and
    /// its fair share. Only the lease connection is used, never the runners' pool.
    async fn renew(&self, units: &[Unit]) -> Result<(Vec<String>, usize), anyhow::Error> {
        let lease = pg_interval(self.settings.lease);
        let keys: Vec<String> = units.iter().map(|u| u.key()).collect();
        let client = self.leases.get().await?;
        client
            .execute(
                "INSERT INTO projection_workers (worker, host) VALUES ($1, $2)
                 ON CONFLICT (worker) DO UPDATE SET seen_at = now()",
                &[&self.id, &self.host],
            )
            .await?;
        // Workers that died long ago are of no more interest.
        client
            .execute(
                "DELETE FROM projection_workers WHERE seen_at < now() - interval '1 hour'",
                &[],
            )
            .await?;
        client
            .execute(
                "INSERT INTO projection_leases (unit) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
                &[&keys],
            )
            .await?;
        let live: i64 = client
            .query_one(
                "SELECT count(*) FROM projection_workers WHERE seen_at > now() - $1::text::interval",
                &[&lease],
            )
            .await?
            .get(0);
        let mut owned: Vec<String> = client
            .query(
                "UPDATE projection_leases SET expires_at = now() + $2::text::interval
                  WHERE owner = $1 AND unit = ANY($3) AND expires_at > now() RETURNING unit",
                &[&self.id, &lease, &keys],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        owned.sort();
        Ok((owned, fair_share(units.len(), live)))
    }

    /// Gives back what is over the fair share (its runners stopped first, so the next owner
    /// normally starts on a quiet stream), takes free units up to it, and starts and stops
    /// runners to match.
    async fn rebalance(
        &mut self,
        mut owned: Vec<String>,
        fair: usize,
        units: &[Unit],
    ) -> Result<(), anyhow::Error> {
        if owned.len() > fair {
            let surplus: Vec<String> = owned.split_off(fair);
            let give: Vec<Unit> = surplus.iter().filter_map(|k| Unit::from_key(k)).collect();
            self.stop(&give).await;
            let client = self.leases.get().await?;
            client
                .execute(
                    "UPDATE projection_leases SET owner = NULL, expires_at = '-infinity'
                      WHERE owner = $1 AND unit = ANY($2)",
                    &[&self.id, &surplus],
                )
                .await?;
        } else if owned.len() < fair {
            let lease = pg_interval(self.settings.lease);
            let keys: Vec<String> = units.iter().map(|u| u.key()).collect();
            let want = i64::try_from(fair - owned.len()).unwrap_or(i64::MAX);
            let client = self.leases.get().await?;
            let taken = client
                .query(
                    "UPDATE projection_leases l
                        SET owner = $1, expires_at = now() + $2::text::interval, taken_at = now()
                      WHERE l.unit IN (SELECT unit FROM projection_leases
                                        WHERE unit = ANY($3) AND (owner IS NULL OR expires_at <= now())
                                        ORDER BY random() LIMIT $4 FOR UPDATE SKIP LOCKED)
                      RETURNING l.unit",
                    &[&self.id, &lease, &keys, &want],
                )
                .await?;
            owned.extend(taken.iter().map(|r| r.get::<_, String>(0)));
        }
        let owned: Vec<Unit> = owned.iter().filter_map(|k| Unit::from_key(k)).collect();
        self.converge(&owned).await;
        Ok(())
    }

    /// Starts the runners of units newly held and stops those of units no longer held.
    async fn converge(&mut self, owned: &[Unit]) {
        let lost: Vec<Unit> = self
            .running
            .keys()
            .filter(|u| !owned.contains(u))
            .copied()
            .collect();
        self.stop(&lost).await;
        for unit in owned {
            if self.running.contains_key(unit) {
                continue;
            }
            tracing::info!(worker = %self.id, unit = %unit.key(), "taking over projection unit");
            let stop = CancellationToken::new();
            let mut tasks = JoinSet::new();
            let owner = self.id.simple().to_string();
            for runner in self
                .plan
                .runners(*unit, &self.pool, &self.jetstream, &self.names)
            {
                tasks.spawn(runner.owned_by(&owner[..12]).run(stop.clone()));
            }
            if let (Unit::Events, Some(companion)) = (unit, &self.plan.events_companion) {
                tasks.spawn(companion(stop.clone()));
            }
            self.running.insert(*unit, Running { stop, tasks });
        }
    }

    async fn stop(&mut self, units: &[Unit]) {
        for unit in units {
            if let Some(mut running) = self.running.remove(unit) {
                tracing::info!(worker = %self.id, unit = %unit.key(), "giving up projection unit");
                running.stop.cancel();
                // A runner finishes the batch it is applying; one stuck (waiting on a lock, on
                // PostgreSQL) is aborted, its transaction rolled back, rather than holding up
                // the renewal of every other lease.
                let drained = tokio::time::timeout(STOP_PATIENCE, async {
                    while running.tasks.join_next().await.is_some() {}
                })
                .await;
                if drained.is_err() {
                    running.tasks.shutdown().await;
                }
            }
        }
    }

    /// PostgreSQL unreachable: without renewal the leases run out and another worker may take
    /// the units; stop ours once they would have (the checkpoint lock keeps the overlap harmless).
    async fn drop_expired(&mut self) {
        if self.renewed.elapsed() >= self.settings.lease {
            let all: Vec<Unit> = self.running.keys().copied().collect();
            self.stop(&all).await;
        }
    }

    async fn resign(&self) -> Result<(), anyhow::Error> {
        let client = self.leases.get().await?;
        client
            .execute(
                "UPDATE projection_leases SET owner = NULL, expires_at = '-infinity' WHERE owner = $1",
                &[&self.id],
            )
            .await?;
        client
            .execute(
                "DELETE FROM projection_workers WHERE worker = $1",
                &[&self.id],
            )
            .await?;
        Ok(())
    }
}

/// Whether the unpartitioned metrics stream of earlier versions exists. Only JetStream's "not
/// found" says no; a slow or failed answer is an error, so that nobody takes it for "no" (a
/// replay would rebuild without that history and drop it).
///
/// # Errors
/// Why JetStream did not say, within `patience`.
pub async fn legacy_stream_exists(
    jetstream: &jetstream::Context,
    names: &BusNames,
    patience: Duration,
) -> Result<bool, String> {
    match tokio::time::timeout(patience, jetstream.get_stream(names.metrics_stream())).await {
        Ok(Ok(_)) => Ok(true),
        Ok(Err(e)) => match e.kind() {
            jetstream::context::GetStreamErrorKind::JetStream(js)
                if js.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND =>
            {
                Ok(false)
            }
            _ => Err(e.to_string()),
        },
        Err(_) => Err(format!("JetStream did not answer within {patience:?}")),
    }
}

/// Units one worker may hold when `live` workers share `units`: every unit is held by someone
/// (the shares add up to at least `units`) and nobody holds more than one more than another.
pub fn fair_share(units: usize, live: i64) -> usize {
    let live = usize::try_from(live.max(1)).unwrap_or(1);
    units.div_ceil(live)
}

fn pg_interval(d: Duration) -> String {
    format!("{} milliseconds", d.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fair_shares_cover_every_unit() {
        assert_eq!(fair_share(17, 1), 17);
        assert_eq!(fair_share(17, 2), 9);
        assert_eq!(fair_share(17, 0), 17);
        for units in 1..40 {
            for live in 1..10 {
                let share = fair_share(units, live);
                assert!(share * usize::try_from(live).expect("small") >= units);
            }
        }
    }

    #[test]
    fn unit_keys_round_trip() {
        for unit in [
            Unit::Events,
            Unit::Partition(0),
            Unit::Partition(63),
            Unit::LegacyMetrics,
        ] {
            assert_eq!(Unit::from_key(&unit.key()), Some(unit));
        }
        assert_eq!(Unit::from_key("metrics.px"), None);
    }
}
