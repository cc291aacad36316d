//! The evaluator: every interval, at an instant on the interval's grid, each enabled rule is
//! computed over the read models as they stood at that instant (samples up to it), and each
//! target's observation goes to its Alert aggregate when it changes the alert's state. The
//! aggregate decides, so the same samples at the same instants give the same history, and two
//! servers evaluating at once add nothing twice.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use commands::service::CommandService;
use deadpool_postgres::GenericClient;
use domain::alerting::{
    alert_id, describe, silence::all_match, Alert, AlertCommand, Condition, Fold, Function,
    Matcher, Observation, Operand, RuleSpec, Scope, SilentTarget,
};
use domain::values::Actor;
use tokio_util::sync::CancellationToken;

/// Most targets one rule may have (memory per round): a rule matching more is reported as
/// failing. A per-database rule on 1,000 instances of 25 databases has 25,000.
pub const MAX_TARGETS_PER_RULE: usize = 50_000;

/// Most state changes one rule records per round: a rule whose threshold every series passes
/// changes the rest over the following rounds instead of holding this one (and the event store)
/// for minutes.
pub const MAX_TRANSITIONS_PER_RULE: usize = 500;

/// An advisory lock key: one evaluation round at a time across servers.
const ROUND_LOCK: i64 = 0x7067_615f_616c_7274; // "pga_alrt"

/// What a round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Round {
    /// Rules evaluated.
    pub rules: usize,
    /// Targets observed.
    pub targets: usize,
    /// Commands that changed an alert (or were sent to).
    pub transitions: usize,
    /// Rules that could not be evaluated (logged).
    pub failed: usize,
    /// Why, per rule that failed.
    pub errors: Vec<String>,
    /// Targets left for the next rounds ([`MAX_TRANSITIONS_PER_RULE`]).
    pub deferred: usize,
    /// Another server held the round.
    pub skipped: bool,
}

/// Evaluates the alert rules.
#[derive(Clone)]
pub struct Evaluator {
    commands: Arc<CommandService>,
    pool: deadpool_postgres::Pool,
    interval: Duration,
    /// Since when each active alert of a metric rule has gone unobserved (in memory: after a
    /// restart the count starts again, which only delays a stale alert's resolution).
    missing: Arc<std::sync::Mutex<HashMap<uuid::Uuid, DateTime<Utc>>>>,
}

/// One target of a rule this round.
#[derive(Debug, Clone)]
struct Target {
    key: String,
    labels: BTreeMap<String, String>,
    holds: bool,
    value: Option<f64>,
    detail: Option<String>,
}

struct Rule {
    id: uuid::Uuid,
    version: u32,
    spec: RuleSpec,
}

impl Evaluator {
    /// An evaluator on the read models' pool, sending commands through `commands`.
    pub fn new(
        commands: Arc<CommandService>,
        pool: deadpool_postgres::Pool,
        interval: Duration,
    ) -> Self {
        Self {
            commands,
            pool,
            interval: interval.max(Duration::from_secs(1)),
            missing: Arc::default(),
        }
    }

    /// The evaluation instant for `now`: the last point of the interval's grid.
    pub fn instant(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let step = i64::try_from(self.interval.as_millis())
            .unwrap_or(15_000)
            .max(1);
        let ms = now.timestamp_millis();
        Utc.timestamp_millis_opt(ms - ms.rem_euclid(step))
            .single()
            .unwrap_or(now)
    }

    /// Evaluates every interval until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut last: Option<DateTime<Utc>> = None;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = shutdown.cancelled() => return,
            }
            let at = self.instant(Utc::now());
            if last == Some(at) {
                continue;
            }
            tokio::select! {
                r = self.evaluate_at(at) => match r {
                    Ok(round) => {
                        last = Some(at);
                        if round.transitions > 0 || round.failed > 0 {
                            tracing::info!(at = %at, rules = round.rules, targets = round.targets,
                                transitions = round.transitions, failed = round.failed, "alert rules evaluated");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "alert evaluation failed; next round retries"),
                },
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// One round at `at`.
    ///
    /// # Errors
    /// The read models could not be read.
    pub async fn evaluate_at(&self, at: DateTime<Utc>) -> anyhow::Result<Round> {
        let started = std::time::Instant::now();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let locked: bool = tx
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&ROUND_LOCK])
            .await?
            .get(0);
        if !locked {
            return Ok(Round {
                skipped: true,
                ..Round::default()
            });
        }
        // A rule too heavy for its interval fails alone instead of holding the round.
        tx.batch_execute("SET LOCAL statement_timeout = '20s'")
            .await?;
        let rules = load_rules(&tx).await?;
        let alerts = load_alerts(&tx).await?;
        let silences = load_silences(&tx, at).await?;
        let names = Names::load(&tx).await?;
        let mut round = Round {
            rules: rules.len(),
            ..Round::default()
        };
        let mut observed: HashSet<uuid::Uuid> = HashSet::new();
        let actor = Actor::system("alert-evaluator");
        for rule in &rules {
            // A rule whose query fails (a statement timeout, a bad spec) leaves the others be.
            tx.batch_execute("SAVEPOINT pga_rule").await?;
            let (targets, closed) = match targets(&tx, rule, at, &names).await {
                Ok(t) => t,
                Err(e) => {
                    tx.batch_execute("ROLLBACK TO SAVEPOINT pga_rule").await?;
                    let e = projections::pg_error::describe_any(&e);
                    round.failed += 1;
                    round.errors.push(format!("{}: {e}", rule.spec.name));
                    tracing::warn!(rule = %rule.spec.name, error = %e, "alert rule not evaluated");
                    continue;
                }
            };
            if targets.len() > MAX_TARGETS_PER_RULE {
                tx.batch_execute("RELEASE SAVEPOINT pga_rule").await?;
                let e = format!(
                    "matches {} targets, more than {MAX_TARGETS_PER_RULE}: narrow its labels or \
                     scope, or aggregate per instance",
                    targets.len()
                );
                round.failed += 1;
                round.errors.push(format!("{}: {e}", rule.spec.name));
                tracing::warn!(rule = %rule.spec.name, error = %e, "alert rule not evaluated");
                continue;
            }
            tx.batch_execute("RELEASE SAVEPOINT pga_rule").await?;
            round.targets += targets.len();
            let mut commands = Vec::new();
            let mut deferred = 0_usize;
            for target in targets {
                let id = alert_id(&rule.id.to_string(), &target.key);
                observed.insert(id);
                let state = alerts.get(&id).map_or(Alert::New, |a| a.state);
                let mut labels = target.labels;
                labels.insert("alertname".into(), rule.spec.name.clone());
                labels.insert("severity".into(), rule.spec.severity.as_str().into());
                labels.insert("rule_id".into(), rule.id.to_string());
                let silenced_by = silences
                    .iter()
                    .find(|(_, m)| all_match(m, &labels))
                    .map(|(id, _)| id.clone());
                let summary = summary(&rule.spec, target.value, &labels, target.detail.as_deref());
                let observation = Observation {
                    rule_id: rule.id.to_string(),
                    rule_version: rule.version,
                    rule_name: rule.spec.name.clone(),
                    severity: rule.spec.severity,
                    labels,
                    holds: target.holds,
                    value: target.value,
                    for_secs: rule.spec.for_secs,
                    summary,
                    silenced_by,
                    at,
                };
                let command = if state.observe(&observation).is_some() {
                    AlertCommand::Observe(Box::new(observation))
                } else if observation.holds
                    && observation.silenced_by.is_none()
                    && alerts.get(&id).is_some_and(|a| a.silenced)
                {
                    // Still firing, and the silence that held it back is over: announce it.
                    AlertCommand::Unsilence { at }
                } else {
                    continue;
                };
                if commands.len() >= MAX_TRANSITIONS_PER_RULE {
                    deferred += 1;
                    continue;
                }
                round.transitions += 1;
                commands.push((id, command));
            }
            if deferred > 0 {
                round.deferred += deferred;
                tracing::warn!(rule = %rule.spec.name, deferred,
                    "more targets than one round records: the rest follow in the next rounds");
            }
            // Alerts this round did not see: resolved when their target is gone, when the
            // rule changed since they began (their key may no longer exist), or when a metric
            // rule has had no data for them for long (a dropped database, a renamed label).
            // Silent rules are the exception: absence is what they fire on.
            {
                let mut missing = self
                    .missing
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for (id, a) in alerts.iter().filter(|(_, a)| a.rule_id == rule.id) {
                    if observed.contains(id) || a.state == Alert::Inactive {
                        missing.remove(id);
                        continue;
                    }
                    let since = *missing.entry(*id).or_insert(at);
                    let reason = if closed {
                        Some("its target no longer exists".to_owned())
                    } else if a
                        .collector_id
                        .is_some_and(|c| !names.collectors.contains_key(&c))
                    {
                        Some("its collector was deleted".to_owned())
                    } else if a.instance_id.is_some_and(|i| !names.instances.contains(&i)) {
                        Some("its instance was deleted".to_owned())
                    } else if a.rule_version < rule.version {
                        Some(format!("the rule changed (version {})", rule.version))
                    } else {
                        match &rule.spec.condition {
                            Condition::Metric { window_secs, .. } => {
                                let stale = chrono::Duration::seconds(i64::from(*window_secs) * 10)
                                    .max(chrono::Duration::hours(1));
                                (at - since >= stale).then(|| {
                                    format!(
                                        "no data since {} (for {} min)",
                                        since.to_rfc3339(),
                                        stale.num_minutes()
                                    )
                                })
                            }
                            _ => None,
                        }
                    };
                    if let Some(reason) = reason {
                        missing.remove(id);
                        round.transitions += 1;
                        commands.push((*id, AlertCommand::Resolve { reason, at }));
                    }
                }
            }
            self.send(commands, &actor).await;
        }
        // Alerts of rules disabled or deleted.
        let live: HashSet<uuid::Uuid> = rules.iter().map(|r| r.id).collect();
        let mut commands = Vec::new();
        for (id, a) in &alerts {
            if !live.contains(&a.rule_id) {
                round.transitions += 1;
                let reason = "the rule was disabled or deleted".to_owned();
                commands.push((*id, AlertCommand::Resolve { reason, at }));
            }
        }
        self.send(commands, &actor).await;
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO alert_evaluation (at, finished_at, rules, targets, transitions, errors, duration_ms)
             VALUES ($1, now(), $2, $3, $4, $5, $6)
             ON CONFLICT (singleton) DO UPDATE SET at = excluded.at, finished_at = now(),
                rules = excluded.rules, targets = excluded.targets,
                transitions = excluded.transitions, errors = excluded.errors,
                duration_ms = excluded.duration_ms",
            &[
                &at,
                &count(round.rules),
                &count(round.targets),
                &count(round.transitions),
                &serde_json::json!(round.errors),
                &i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(round)
    }

    /// Sends the round's commands, a few at a time (each alert is its own aggregate). One
    /// that fails is retried by the next round, which sees the same state.
    async fn send(&self, commands: Vec<(uuid::Uuid, AlertCommand)>, actor: &Actor) {
        use futures::StreamExt;
        futures::stream::iter(commands)
            .for_each_concurrent(8, |(id, command)| async move {
                if let Err(e) = self.commands.alert(&id.to_string(), command, actor).await {
                    tracing::warn!(alert = %id, error = %e, "alert transition not recorded; next round retries");
                }
            })
            .await;
    }
}

async fn load_rules(client: &impl GenericClient) -> anyhow::Result<Vec<Rule>> {
    let rows = client
        .query(
            "SELECT id, version, spec FROM rm_alert_rules WHERE enabled ORDER BY id",
            &[],
        )
        .await?;
    let mut rules = Vec::with_capacity(rows.len());
    for row in rows {
        let id: uuid::Uuid = row.get(0);
        match serde_json::from_value::<RuleSpec>(row.get(2)) {
            Ok(spec) => rules.push(Rule {
                id,
                version: u32::try_from(row.get::<_, i32>(1)).unwrap_or(0),
                spec,
            }),
            Err(e) => tracing::warn!(rule = %id, error = %e, "stored rule does not parse; skipped"),
        }
    }
    Ok(rules)
}

struct ActiveAlert {
    rule_id: uuid::Uuid,
    silenced: bool,
    rule_version: u32,
    collector_id: Option<uuid::Uuid>,
    instance_id: Option<uuid::Uuid>,
    state: Alert,
}

async fn load_alerts(
    client: &impl GenericClient,
) -> anyhow::Result<HashMap<uuid::Uuid, ActiveAlert>> {
    let rows = client
        .query(
            "SELECT id, rule_id, state, since, acknowledged_by IS NOT NULL, rule_version,
                    CASE WHEN labels->>'collector_id' ~ '^[0-9a-f-]{36}$'
                         THEN (labels->>'collector_id')::uuid END,
                    CASE WHEN labels->>'instance_id' ~ '^[0-9a-f-]{36}$'
                         THEN (labels->>'instance_id')::uuid END,
                    silenced_by IS NOT NULL
               FROM rm_alerts WHERE state <> 'resolved'",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let since: DateTime<Utc> = r.get(3);
            let state = match r.get::<_, &str>(2) {
                "pending" => Alert::Pending { since },
                _ => Alert::Firing {
                    since,
                    acknowledged: r.get(4),
                },
            };
            let active = ActiveAlert {
                rule_id: r.get(1),
                silenced: r.get(8),
                rule_version: u32::try_from(r.get::<_, i32>(5)).unwrap_or(0),
                collector_id: r.get(6),
                instance_id: r.get(7),
                state,
            };
            (r.get(0), active)
        })
        .collect())
}

async fn load_silences(
    client: &impl GenericClient,
    at: DateTime<Utc>,
) -> anyhow::Result<Vec<(String, Vec<Matcher>)>> {
    let rows = client
        .query(
            "SELECT id::text, matchers FROM rm_silences WHERE starts_at <= $1 AND ends_at > $1 ORDER BY id",
            &[&at],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| Some((r.get(0), serde_json::from_value(r.get(1)).ok()?)))
        .collect())
}

/// Instance and collector names for labels and messages.
struct Names {
    collectors: HashMap<uuid::Uuid, String>,
    instances: HashSet<uuid::Uuid>,
}

impl Names {
    async fn load(client: &impl GenericClient) -> anyhow::Result<Self> {
        let rows = client
            .query("SELECT id, name FROM rm_collectors", &[])
            .await?;
        let instances = client
            .query("SELECT id FROM rm_managed_instances", &[])
            .await?;
        Ok(Self {
            collectors: rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
            instances: instances.iter().map(|r| r.get(0)).collect(),
        })
    }

    fn collector(&self, id: uuid::Uuid) -> String {
        self.collectors
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }
}

/// The rule's targets, and whether they are every target there is (so that an active alert
/// missing from them belongs to a target that is gone). Metric rules are not closed: a series
/// without samples in the window keeps its alert as it is — absence is the silent rules' job,
/// never a resolution.
async fn targets(
    client: &impl GenericClient,
    rule: &Rule,
    at: DateTime<Utc>,
    names: &Names,
) -> anyhow::Result<(Vec<Target>, bool)> {
    match &rule.spec.condition {
        Condition::Metric {
            operand,
            window_secs,
            divide_by,
            op,
            threshold,
        } => {
            let from = at - chrono::Duration::seconds(i64::from(*window_secs));
            let values = operand_values(client, operand, &rule.spec.scope, from, at).await?;
            let divisor = match divide_by {
                Some(d) => Some(operand_values(client, d, &rule.spec.scope, from, at).await?),
                None => None,
            };
            let mut out = Vec::new();
            for (key, v) in values {
                let value = match (&divisor, divide_by) {
                    (Some(div), Some(d)) => {
                        let dkey = if d.aggregate == Fold::None {
                            key.clone()
                        } else {
                            key.folded()
                        };
                        match div.get(&dkey) {
                            Some(den) if *den != 0.0 => v / den,
                            _ => continue,
                        }
                    }
                    _ => v,
                };
                if !value.is_finite() {
                    continue;
                }
                out.push(Target {
                    labels: key.labels(names),
                    key: key.id(),
                    holds: op.holds(value, *threshold),
                    value: Some(value),
                    detail: None,
                });
            }
            Ok((out, false))
        }
        Condition::Silent {
            target: SilentTarget::Collector,
            after_secs,
        } => {
            let rows = client
                .query(
                    "SELECT c.id, c.name, coalesce(a.last_seen, c.registered_at)
                       FROM rm_collectors c
                       LEFT JOIN rm_collector_activity a ON a.collector_id = c.id
                      WHERE CASE $1::text
                              WHEN 'collector' THEN c.id = $2
                              WHEN 'instance' THEN EXISTS (SELECT 1 FROM rm_collector_instances ci
                                                           WHERE ci.collector_id = c.id AND ci.instance_id = $2)
                              WHEN 'tag' THEN EXISTS (SELECT 1 FROM rm_collector_instances ci
                                                      JOIN rm_managed_instances mi ON mi.id = ci.instance_id
                                                      WHERE ci.collector_id = c.id AND $3 = ANY(mi.tags))
                              ELSE true END",
                    &scope_params(&rule.spec.scope).as_params(),
                )
                .await?;
            let limit = at - chrono::Duration::seconds(i64::from(*after_secs));
            Ok((
                rows.iter()
                    .map(|r| {
                        let id: uuid::Uuid = r.get(0);
                        let seen: DateTime<Utc> = r.get(2);
                        Target {
                            key: format!("collector:{id}"),
                            labels: BTreeMap::from([
                                ("collector_id".into(), id.to_string()),
                                ("collector".into(), r.get::<_, String>(1)),
                            ]),
                            holds: seen < limit,
                            value: Some((at - seen).num_seconds() as f64),
                            detail: Some(format!("last heard from at {}", seen.to_rfc3339())),
                        }
                    })
                    .collect(),
                true,
            ))
        }
        Condition::Silent {
            target: SilentTarget::Instance,
            after_secs,
        } => {
            // Instances with samples in the last hour before the silence began: one gone
            // quiet for longer keeps its alert (absence never resolves).
            let limit = at - chrono::Duration::seconds(i64::from(*after_secs));
            let from = limit - chrono::Duration::hours(1);
            let p = scope_params(&rule.spec.scope);
            let rows = client
                .query(
                    "SELECT mi.id, mi.name, max(x.ts)
                       FROM rm_managed_instances mi
                       JOIN metric_series s ON s.instance = mi.name AND s.metric = 'pg_up'
                       JOIN metric_samples x ON x.series_id = s.id AND x.ts > $4 AND x.ts <= $5
                      WHERE CASE $1::text WHEN 'collector' THEN s.collector_id = $2
                                          WHEN 'instance' THEN mi.id = $2
                                          WHEN 'tag' THEN $3 = ANY(mi.tags) ELSE true END
                      GROUP BY mi.id, mi.name",
                    &[&p.kind, &p.id, &p.tag, &from, &at],
                )
                .await?;
            Ok((
                rows.iter()
                    .map(|r| {
                        let id: uuid::Uuid = r.get(0);
                        let seen: DateTime<Utc> = r.get(2);
                        Target {
                            key: format!("instance:{id}"),
                            labels: BTreeMap::from([
                                ("instance_id".into(), id.to_string()),
                                ("instance".into(), r.get::<_, String>(1)),
                            ]),
                            holds: seen < limit,
                            value: Some((at - seen).num_seconds() as f64),
                            detail: Some(format!("last sample at {}", seen.to_rfc3339())),
                        }
                    })
                    .collect(),
                false,
            ))
        }
        Condition::ConnectionStatus => {
            let p = scope_params(&rule.spec.scope);
            let rows = client
                .query(
                    "SELECT mi.id, mi.name, mi.last_connection_status, mi.last_error
                       FROM rm_managed_instances mi
                      WHERE CASE $1::text
                              WHEN 'collector' THEN EXISTS (SELECT 1 FROM rm_collector_instances ci
                                                            WHERE ci.instance_id = mi.id AND ci.collector_id = $2)
                              WHEN 'instance' THEN mi.id = $2
                              WHEN 'tag' THEN $3 = ANY(mi.tags) ELSE true END",
                    &p.as_params(),
                )
                .await?;
            Ok((
                rows.iter()
                    .map(|r| {
                        let id: uuid::Uuid = r.get(0);
                        let status: String = r.get(2);
                        Target {
                            key: format!("instance:{id}"),
                            labels: BTreeMap::from([
                                ("instance_id".into(), id.to_string()),
                                ("instance".into(), r.get::<_, String>(1)),
                            ]),
                            holds: status == "error" || status == "invalid_credentials",
                            value: None,
                            detail: Some(match r.get::<_, Option<String>>(3) {
                                Some(e) => format!("{status}: {e}"),
                                None => status,
                            }),
                        }
                    })
                    .collect(),
                true,
            ))
        }
    }
}

struct ScopeParams {
    kind: &'static str,
    id: Option<uuid::Uuid>,
    tag: Option<String>,
}

impl ScopeParams {
    fn as_params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 3] {
        [&self.kind, &self.id, &self.tag]
    }
}

fn scope_params(scope: &Scope) -> ScopeParams {
    match scope {
        Scope::All => ScopeParams {
            kind: "all",
            id: None,
            tag: None,
        },
        Scope::Tag { tag } => ScopeParams {
            kind: "tag",
            id: None,
            tag: Some(tag.clone()),
        },
        Scope::Instance { id } => ScopeParams {
            kind: "instance",
            id: Some(*id),
            tag: None,
        },
        Scope::Collector { id } => ScopeParams {
            kind: "collector",
            id: Some(*id),
            tag: None,
        },
    }
}

/// Where a value belongs: a collector's instance, and the series' labels unless folded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    collector: uuid::Uuid,
    instance: String,
    instance_id: Option<uuid::Uuid>,
    labels: Option<BTreeMap<String, String>>,
}

impl Key {
    fn folded(&self) -> Key {
        Key {
            labels: None,
            ..self.clone()
        }
    }

    fn id(&self) -> String {
        match &self.labels {
            None => format!("i:{}/{}", self.collector, self.instance),
            Some(l) => format!(
                "s:{}/{}/{}",
                self.collector,
                self.instance,
                serde_json::to_string(l).unwrap_or_default()
            ),
        }
    }

    fn labels(&self, names: &Names) -> BTreeMap<String, String> {
        let mut out = self.labels.clone().unwrap_or_default();
        out.insert("collector_id".into(), self.collector.to_string());
        out.insert("collector".into(), names.collector(self.collector));
        out.insert("instance".into(), self.instance.clone());
        if let Some(id) = self.instance_id {
            out.insert("instance_id".into(), id.to_string());
        }
        out
    }
}

/// The operand's value per key at `at` over `(from, at]`.
async fn operand_values(
    client: &impl GenericClient,
    operand: &Operand,
    scope: &Scope,
    from: DateTime<Utc>,
    at: DateTime<Utc>,
) -> anyhow::Result<BTreeMap<Key, f64>> {
    let metrics: Vec<&str> = std::iter::once(operand.metric.as_str())
        .chain(operand.add.iter().map(String::as_str))
        .collect();
    let filters = serde_json::to_value(&operand.labels)?;
    let p = scope_params(scope);
    // Per series: the last value, and the reset-aware increase between the first and last
    // point of the window with the seconds it spans.
    let rows = client
        .query(
            "WITH s AS (
                SELECT s.id, s.collector_id, s.instance, s.labels, mi.id AS instance_id
                  FROM metric_series s
                  LEFT JOIN rm_managed_instances mi ON mi.name = s.instance
                 WHERE s.metric = ANY($4) AND s.labels @> $5
                   AND CASE $1::text WHEN 'collector' THEN s.collector_id = $2
                                     WHEN 'instance' THEN mi.id = $2
                                     WHEN 'tag' THEN $3 = ANY(mi.tags) ELSE true END),
             p AS (
                SELECT x.series_id, x.ts, x.value,
                       x.value - lag(x.value) OVER (PARTITION BY x.series_id ORDER BY x.ts) AS d
                  FROM metric_samples x
                 WHERE x.series_id IN (SELECT id FROM s) AND x.ts > $6 AND x.ts <= $7)
             SELECT s.collector_id, s.instance, s.instance_id, s.labels,
                    (array_agg(p.value ORDER BY p.ts DESC))[1],
                    sum(CASE WHEN p.d IS NULL THEN 0 WHEN p.d >= 0 THEN p.d ELSE p.value END),
                    extract(epoch FROM max(p.ts) - min(p.ts))::float8,
                    count(*)
               FROM p JOIN s ON s.id = p.series_id
              GROUP BY s.id, s.collector_id, s.instance, s.instance_id, s.labels",
            &[&p.kind, &p.id, &p.tag, &metrics, &filters, &from, &at],
        )
        .await?;
    let mut per_key: BTreeMap<Key, f64> = BTreeMap::new();
    for r in rows {
        let labels: BTreeMap<String, String> = serde_json::from_value(r.get(3)).unwrap_or_default();
        let (last, increase, span, count): (f64, f64, f64, i64) =
            (r.get(4), r.get(5), r.get(6), r.get(7));
        let value = match operand.function {
            Function::Value => last,
            Function::Increase if count >= 2 => increase,
            Function::Rate if count >= 2 && span > 0.0 => increase / span,
            _ => continue,
        };
        let key = Key {
            collector: r.get(0),
            instance: r.get(1),
            instance_id: r.get(2),
            labels: Some(labels),
        };
        // The added metrics' series with the same labels add up.
        *per_key.entry(key).or_insert(0.0) += value;
    }
    Ok(fold(per_key, operand.aggregate))
}

fn fold(values: BTreeMap<Key, f64>, how: Fold) -> BTreeMap<Key, f64> {
    if how == Fold::None {
        return values;
    }
    let mut out: BTreeMap<Key, f64> = BTreeMap::new();
    for (key, v) in values {
        let slot = out.entry(key.folded());
        match (how, slot) {
            (_, std::collections::btree_map::Entry::Vacant(e)) => {
                e.insert(v);
            }
            (Fold::Sum, std::collections::btree_map::Entry::Occupied(mut e)) => *e.get_mut() += v,
            (Fold::Max, std::collections::btree_map::Entry::Occupied(mut e)) => {
                *e.get_mut() = e.get().max(v);
            }
            (_, std::collections::btree_map::Entry::Occupied(mut e)) => {
                *e.get_mut() = e.get().min(v);
            }
        }
    }
    out
}

/// A number for people: at most 4 significant digits, no trailing zeros.
pub fn format_value(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 6);
    let s = format!("{v:.*}", usize::try_from(digits).unwrap_or(0));
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// The rule's message for one target.
fn summary(
    spec: &RuleSpec,
    value: Option<f64>,
    labels: &BTreeMap<String, String>,
    detail: Option<&str>,
) -> String {
    let value_text = value.map_or_else(|| "-".to_owned(), format_value);
    let threshold = match &spec.condition {
        Condition::Metric { threshold, .. } => format_value(*threshold),
        _ => String::new(),
    };
    let own: Vec<String> = labels
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "alertname"
                    | "severity"
                    | "rule_id"
                    | "collector_id"
                    | "collector"
                    | "instance"
                    | "instance_id"
            )
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let labels_text = match (own.is_empty(), detail) {
        (true, Some(d)) => d.to_owned(),
        (true, None) => String::new(),
        (false, _) => own.join(", "),
    };
    let template = if spec.message.trim().is_empty() {
        format!(
            "{}: {} (value {{{{value}}}})",
            spec.name,
            describe(&spec.condition)
        )
    } else {
        spec.message.clone()
    };
    let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
    let text = template
        .replace("{{rule}}", &spec.name)
        .replace("{{value}}", &value_text)
        .replace("{{threshold}}", &threshold)
        .replace("{{instance}}", &get("instance"))
        .replace("{{collector}}", &get("collector"))
        .replace("{{labels}}", &labels_text);
    text.chars().take(2000).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_people_write_them() {
        assert_eq!(format_value(0.93456), "0.9346");
        assert_eq!(format_value(1234.6), "1235");
        assert_eq!(format_value(300.0), "300");
        assert_eq!(format_value(0.0), "0");
    }

    fn key(c: u128, labels: &[(&str, &str)]) -> Key {
        Key {
            collector: uuid::Uuid::from_u128(c),
            instance: "db".into(),
            instance_id: None,
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
            ),
        }
    }

    #[test]
    fn folding_is_per_instance() {
        let values = BTreeMap::from([
            (key(1, &[("database", "a")]), 3.0),
            (key(1, &[("database", "b")]), 4.0),
            (key(2, &[("database", "a")]), 10.0),
        ]);
        let sum = fold(values.clone(), Fold::Sum);
        assert_eq!(sum.get(&key(1, &[]).folded()), Some(&7.0));
        assert_eq!(sum.get(&key(2, &[]).folded()), Some(&10.0));
        assert_eq!(
            fold(values.clone(), Fold::Max).get(&key(1, &[]).folded()),
            Some(&4.0)
        );
        assert_eq!(
            fold(values.clone(), Fold::Min).get(&key(1, &[]).folded()),
            Some(&3.0)
        );
        assert_eq!(fold(values, Fold::None).len(), 3);
    }
}
