//! Chaos: NATS and PostgreSQL (private servers) are killed and restarted while collectors push
//! and commands run. Afterwards every acknowledged batch is stored exactly once, nothing is
//! counted twice, and every domain event is on the stream and in the read models exactly once
//! and in order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use commands::service::CommandService;
use domain::user::{PasswordHash, Role, UserCommand, UserEvent, Username};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::faults::{free_port, wait_for_port, NatsServer};
use crate::pg_fixture::PrivatePostgres;
use crate::support::*;

const COLLECTORS: usize = 3;
const PUSHERS_PER_COLLECTOR: usize = 2;
/// Tasks running user commands side by side (the relay then publishes batches of events).
const COMMANDERS: usize = 2;
/// A push that fails is retried with the same batch id this many times, as a collector would.
const PUSH_ATTEMPTS: usize = 3;

/// What the pushers sent and what was acknowledged.
#[derive(Default)]
struct Pushes {
    /// Every batch id sent, with its collector and number of points.
    sent: HashMap<String, (String, i64)>,
    /// Batch ids answered 202.
    acked: BTreeSet<String>,
    /// Failed attempts (not acknowledged), by reason.
    failures: BTreeMap<String, usize>,
}

fn points_of(n: usize) -> usize {
    3 + n % 7
}

fn batch(collector: &str, batch_id: &str, points: usize) -> Value {
    let samples: Vec<Value> = (0..points)
        .map(|i| json!({"metric": "pg_chaos_value", "labels": {"n": i.to_string()}, "value": i as f64}))
        .collect();
    json!({"batch_id": batch_id, "collector_id": collector, "collected_at": Utc::now(), "samples": samples})
}

async fn pusher(
    api: Api,
    collector: RegisteredCollector,
    stop: CancellationToken,
    pushes: Arc<Mutex<Pushes>>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(8))
        .build()
        .expect("client");
    let mut n = 0;
    while !stop.is_cancelled() {
        n += 1;
        let batch_id = uuid::Uuid::new_v4().to_string();
        let points = points_of(n);
        let body = batch(&collector.id, &batch_id, points);
        pushes.lock().expect("lock").sent.insert(
            batch_id.clone(),
            (collector.id.clone(), i64::try_from(points).expect("small")),
        );
        for _ in 0..PUSH_ATTEMPTS {
            let outcome = http
                .post(format!("{}/metrics/push", api.base))
                .bearer_auth(&collector.token)
                .json(&body)
                .send()
                .await;
            let failure = match outcome {
                Ok(r) if r.status().as_u16() == 202 => {
                    let accepted: Value = r.json().await.unwrap_or(Value::Null);
                    assert_eq!(
                        accepted["metrics_accepted"], points,
                        "a 202 accepts every point: {accepted}"
                    );
                    pushes.lock().expect("lock").acked.insert(batch_id.clone());
                    None
                }
                Ok(r) => Some(format!("HTTP {}", r.status().as_u16())),
                Err(e) if e.is_timeout() => Some("client timeout".to_owned()),
                Err(_) => Some("transport error".to_owned()),
            };
            match failure {
                None => break,
                Some(_) if stop.is_cancelled() => break,
                Some(reason) => {
                    *pushes
                        .lock()
                        .expect("lock")
                        .failures
                        .entry(reason)
                        .or_default() += 1;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

/// A user as the commands that succeeded left it.
#[derive(Debug, Clone)]
struct UserModel {
    role: Role,
    active: bool,
    /// Whether every command sent to it succeeded (a failed one may still have committed).
    certain: bool,
}

#[derive(Default)]
struct Commands {
    users: BTreeMap<String, UserModel>,
    /// (user id, sequence after the command) of every command that succeeded.
    succeeded: Vec<(String, i64)>,
    failed: usize,
}

async fn commander(
    commands: Arc<CommandService>,
    stop: CancellationToken,
    log: Arc<Mutex<Commands>>,
) {
    let actor = admin_actor();
    let mut step: usize = 0;
    while !stop.is_cancelled() {
        step += 1;
        let users: Vec<(String, UserModel)> = {
            let l = log.lock().expect("lock");
            l.users
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        let (id, command, next) = if users.len() < 4 || step.is_multiple_of(4) {
            let id = uuid::Uuid::new_v4().to_string();
            let username = format!("chaos-{step}-{}", &id[..8]);
            let command = UserCommand::CreateUser {
                username: Username::parse(&username).expect("username"),
                role: Role::Viewer,
                password_hash: PasswordHash::from_phc("$argon2id$v=19$m=19456,t=2,p=1$stub".into()),
                at: Utc::now(),
            };
            let next = UserModel {
                role: Role::Viewer,
                active: true,
                certain: true,
            };
            (id, command, next)
        } else {
            let (id, model) = users[step % users.len()].clone();
            let mut next = model.clone();
            let command = if step.is_multiple_of(2) {
                next.active = !model.active;
                UserCommand::SetActive {
                    active: next.active,
                    at: Utc::now(),
                }
            } else {
                next.role = match model.role {
                    Role::Viewer => Role::Editor,
                    Role::Editor => Role::Admin,
                    Role::Admin => Role::Viewer,
                };
                UserCommand::ChangeRole {
                    role: next.role,
                    at: Utc::now(),
                }
            };
            (id, command, next)
        };
        let outcome =
            tokio::time::timeout(Duration::from_secs(10), commands.user(&id, command, &actor))
                .await;
        let pause = {
            let mut l = log.lock().expect("lock");
            match outcome {
                Ok(Ok(committed)) => {
                    l.succeeded.push((id.clone(), committed.sequence));
                    let certain = l.users.get(&id).is_none_or(|m| m.certain);
                    l.users.insert(id, UserModel { certain, ..next });
                    60
                }
                _ => {
                    l.failed += 1;
                    // A failed create may still have committed: the event store says (checked
                    // below). A failed change leaves the user's state unknown to the model.
                    if let Some(m) = l.users.get_mut(&id) {
                        m.certain = false;
                    }
                    200
                }
            }
        };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

async fn health(http: &reqwest::Client, addr: std::net::SocketAddr) -> Option<(u16, Value)> {
    let r = http
        .get(format!("http://{addr}/api/v1/health"))
        .send()
        .await
        .ok()?;
    let status = r.status().as_u16();
    Some((status, r.json().await.ok()?))
}

fn caught_up(status: u16, body: &Value) -> bool {
    let Some(projections) = body["projections"].as_array() else {
        return false;
    };
    status == 200
        && body["relay_pending"] == 0
        // Six event projections, and two metrics projections on each of the 4 partitions.
        && projections.len() == 14
        && projections.iter().all(|p| p["lag"] == 0)
}

async fn blocking(pg: &Arc<PrivatePostgres>, f: fn(&PrivatePostgres)) {
    let pg = pg.clone();
    tokio::task::spawn_blocking(move || f(&pg))
        .await
        .expect("pg_ctl");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_nats_and_postgres_loses_no_acknowledged_batch_and_no_event() {
    let started = Instant::now();
    let pg = Arc::new(
        tokio::task::spawn_blocking(PrivatePostgres::start)
            .await
            .expect("private postgres"),
    );
    let nats_port = free_port();
    let store = std::env::temp_dir().join(format!("pga-chaos-nats-{}", uuid::Uuid::new_v4()));
    let nats = NatsServer::start(nats_port, &store);
    wait_for_port(nats_port).await;
    let nats_url = format!("nats://127.0.0.1:{nats_port}");
    let app = TestApp::builder()
        .on(TestEnv::with_servers(&pg.url("postgres"), &nats_url).await)
        .admin()
        .spawn()
        .await;
    let (env, api) = (&app.env, app.api());
    let addr = app.addr.expect("http");
    let mut collectors = Vec::new();
    for i in 0..COLLECTORS {
        collectors.push(app.register_collector(&format!("chaos-{i}")).await);
    }
    let commands = env.commands().await;

    // The workload.
    let stop = CancellationToken::new();
    let pushes = Arc::new(Mutex::new(Pushes::default()));
    // One log per commander: each changes only the users it created.
    let logs: Vec<Arc<Mutex<Commands>>> = (0..COMMANDERS).map(|_| Arc::default()).collect();
    let mut workers = tokio::task::JoinSet::new();
    for c in &collectors {
        for _ in 0..PUSHERS_PER_COLLECTOR {
            workers.spawn(pusher(api.clone(), c.clone(), stop.clone(), pushes.clone()));
        }
    }
    let commands = Arc::new(commands);
    let setup_done = started.elapsed();
    for log in &logs {
        workers.spawn(commander(commands.clone(), stop.clone(), log.clone()));
    }

    // The chaos: NATS killed (SIGKILL) and restarted on its store, PostgreSQL stopped in
    // immediate mode (its processes killed, no checkpoint) and restarted; twice each. Then NATS
    // frozen for a while.
    let chaos = {
        let pg = pg.clone();
        let store = store.clone();
        tokio::spawn(async move {
            let pause = |ms: u64| tokio::time::sleep(Duration::from_millis(ms));
            let mut nats = nats;
            let mut timeline = Vec::new();
            let t0 = Instant::now();
            let mut mark =
                |what: &str| timeline.push(format!("{:.1}s {what}", t0.elapsed().as_secs_f64()));
            for round in 0..2 {
                pause(if round == 0 { 2000 } else { 1500 }).await;
                nats.stop();
                mark("NATS killed");
                pause(2500 - 500 * round).await;
                nats = NatsServer::start(nats_port, &store);
                wait_for_port(nats_port).await;
                mark("NATS back");
                pause(1500).await;
                blocking(&pg, PrivatePostgres::stop).await;
                mark("PostgreSQL stopped (immediate)");
                pause(2500 - 500 * round).await;
                blocking(&pg, PrivatePostgres::restart).await;
                mark("PostgreSQL back");
            }
            // A frozen NATS (SIGSTOP) outlasting the 5 s publish-ack timeouts: what was sent
            // meanwhile is stored when it thaws, though nobody got an acknowledgement.
            pause(1500).await;
            nats.signal("STOP");
            mark("NATS frozen");
            pause(6000).await;
            nats.signal("CONT");
            mark("NATS thawed");
            pause(1000).await;
            mark("chaos over");
            (nats, timeline)
        })
    };
    let (nats, timeline) = chaos.await.expect("chaos");
    stop.cancel();
    while let Some(done) = workers.join_next().await {
        done.expect("worker");
    }
    let workload_done = started.elapsed();

    // Recovery: health green, relay drained, every projection at the stream head (twice in a
    // row, a second apart, so that nothing was still arriving).
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    eventually_within(
        60,
        "health green and every projection caught up",
        || async {
            let (status, body) = health(&http, addr).await?;
            if !caught_up(status, &body) {
                return None;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            let (status, again) = health(&http, addr).await?;
            (caught_up(status, &again) && again["projections"] == body["projections"]).then_some(())
        },
    )
    .await;
    let recovered = started.elapsed();

    let sql = env.sql().await;
    let js = env.jetstream().await;
    let mut problems: Vec<String> = Vec::new();
    let pushes = std::mem::take(&mut *pushes.lock().expect("lock"));
    let mut log = Commands::default();
    for l in &logs {
        let l = std::mem::take(&mut *l.lock().expect("lock"));
        log.users.extend(l.users);
        log.succeeded.extend(l.succeeded);
        log.failed += l.failed;
    }

    // ---- Metric batches ----
    let ids = |rows: Vec<tokio_postgres::Row>| -> BTreeMap<String, String> {
        rows.iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
            .collect()
    };
    let in_samples = ids(sql
        .query("SELECT batch_id, '' FROM metric_applied_batches", &[])
        .await
        .expect("metric_applied_batches"));
    let in_activity = ids(sql
        .query(
            "SELECT batch_id, collector_id::text FROM rm_applied_batches",
            &[],
        )
        .await
        .expect("rm_applied_batches"));
    let stream = metric_stream_messages(&js, &env.config.names).await;
    let mut on_stream: BTreeMap<String, usize> = BTreeMap::new();
    for m in &stream {
        let batch = domain::metrics::compact::read_payload(&m.payload, chrono::Utc::now())
            .expect("a batch the bridge published");
        *on_stream.entry(batch.batch_id().to_owned()).or_default() += 1;
    }
    let lost: Vec<&String> = pushes
        .acked
        .iter()
        .filter(|b| !in_samples.contains_key(*b) || !in_activity.contains_key(*b))
        .collect();
    if !lost.is_empty() {
        let not_on_stream = lost.iter().filter(|b| !on_stream.contains_key(**b)).count();
        problems.push(format!(
            "{} acknowledged batches not stored ({not_on_stream} of them not even on the stream): {:?}",
            lost.len(),
            lost.iter().take(5).collect::<Vec<_>>()
        ));
    }
    let unknown: Vec<&String> = in_activity
        .keys()
        .chain(in_samples.keys())
        .filter(|b| !pushes.sent.contains_key(*b))
        .collect();
    if !unknown.is_empty() {
        problems.push(format!("stored batch ids never sent: {unknown:?}"));
    }
    let stored_a: BTreeSet<&String> = in_activity.keys().collect();
    let stored_s: BTreeSet<&String> = in_samples.keys().collect();
    let streamed: BTreeSet<&String> = on_stream.keys().collect();
    if stored_a != streamed || stored_s != streamed {
        problems.push(format!(
            "batches on the stream {} / in rm_applied_batches {} / in metric_applied_batches {}: \
             not the same set (on the stream, not applied: {:?})",
            streamed.len(),
            stored_a.len(),
            stored_s.len(),
            streamed
                .difference(&stored_a)
                .chain(streamed.difference(&stored_s))
                .take(5)
                .collect::<Vec<_>>()
        ));
    }
    for (batch, c) in &in_activity {
        if let Some((sent_by, _)) = pushes.sent.get(batch) {
            if sent_by != c {
                problems.push(format!("batch {batch} counted for {c}, sent by {sent_by}"));
            }
        }
    }
    let duplicates_on_stream = on_stream.values().filter(|n| **n > 1).count();
    for c in &collectors {
        let expected = |stored: &BTreeMap<String, String>| -> (i64, i64) {
            stored
                .keys()
                .filter_map(|b| pushes.sent.get(b))
                .filter(|(by, _)| *by == c.id)
                .fold((0, 0), |(n, p), (_, points)| (n + 1, p + points))
        };
        let (batches_a, points_a) = expected(&in_activity);
        let (_, points_s) = expected(&in_samples);
        let row = sql
            .query_opt(
                "SELECT metrics_count_total, batches_total FROM rm_collector_activity
                  WHERE collector_id = $1::text::uuid",
                &[&c.id],
            )
            .await
            .expect("activity");
        let (total, batches) = row.map_or((0, 0), |r| (r.get::<_, i64>(0), r.get::<_, i64>(1)));
        if (total, batches) != (points_a, batches_a) {
            problems.push(format!(
                "collector {}: rm_collector_activity counts {total} points in {batches} batches, \
                 the stored batches hold {points_a} in {batches_a}",
                c.id
            ));
        }
        let minutes = count(
            &sql,
            &format!(
                "SELECT coalesce(sum(samples), 0)::int8 FROM rm_collector_minutes
                  WHERE collector_id = '{}'",
                c.id
            ),
        )
        .await;
        if minutes != points_a {
            problems.push(format!(
                "collector {}: rm_collector_minutes sums to {minutes}, expected {points_a}",
                c.id
            ));
        }
        let samples = count(
            &sql,
            &format!(
                "SELECT count(*) FROM metric_samples s JOIN metric_series r ON r.id = s.series_id
                  WHERE r.collector_id = '{}'",
                c.id
            ),
        )
        .await;
        // The hours upkeep builds from the samples count each point once too.
        let pool = projections::db::pool(&env.config.database_url, 1).expect("pool");
        projections::maintenance::build_hours(
            &pool,
            chrono::Utc::now() + chrono::Duration::hours(3),
            24,
        )
        .await
        .expect("build hours");
        let rolled = count(
            &sql,
            &format!(
                "SELECT coalesce(sum(m.count), 0)::int8 FROM metric_rollup_1h m
                   JOIN metric_series r ON r.id = m.series_id WHERE r.collector_id = '{}'",
                c.id
            ),
        )
        .await;
        if samples != points_s || rolled != points_s {
            problems.push(format!(
                "collector {}: {samples} samples and a rollup count of {rolled}, \
                 the stored batches hold {points_s}",
                c.id
            ));
        }
    }

    // ---- Domain events ----
    let mut store_seqs: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for r in sql
        .query(
            "SELECT aggregate_type, aggregate_id, sequence FROM events
              ORDER BY aggregate_type, aggregate_id, sequence",
            &[],
        )
        .await
        .expect("events")
    {
        store_seqs
            .entry((r.get(0), r.get(1)))
            .or_default()
            .push(r.get(2));
    }
    for ((kind, id), seqs) in &store_seqs {
        let want: Vec<i64> = (1..=i64::try_from(seqs.len()).expect("len")).collect();
        if *seqs != want {
            problems.push(format!("event store {kind}/{id}: sequences {seqs:?}"));
        }
    }
    // On the stream: each event once, per aggregate in sequence order.
    let mut stream_seqs: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for m in stream_messages(&js, &env.config.names.events_stream()).await {
        let e: domain::StoredEvent = serde_json::from_slice(&m.payload).expect("stored event");
        stream_seqs
            .entry((e.aggregate_type, e.aggregate_id))
            .or_default()
            .push(e.sequence);
    }
    for (key, seqs) in &stream_seqs {
        let want = store_seqs.get(key).cloned().unwrap_or_default();
        if *seqs != want {
            problems.push(format!(
                "events stream {}/{}: sequences in stream order {seqs:?}, event store has {want:?}",
                key.0, key.1
            ));
        }
    }
    for key in store_seqs.keys() {
        if !stream_seqs.contains_key(key) {
            problems.push(format!(
                "events of {}/{} never reached the stream",
                key.0, key.1
            ));
        }
    }
    // The audit log: one row per event, no gap, no extra.
    let mut audit: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for r in sql
        .query(
            "SELECT aggregate_type, aggregate_id, sequence FROM rm_audit_log
              ORDER BY aggregate_type, aggregate_id, sequence",
            &[],
        )
        .await
        .expect("audit")
    {
        audit
            .entry((r.get(0), r.get(1)))
            .or_default()
            .push(r.get(2));
    }
    if audit != store_seqs {
        for (key, want) in &store_seqs {
            let got = audit.get(key).cloned().unwrap_or_default();
            if got != *want {
                problems.push(format!(
                    "rm_audit_log {}/{}: sequences {got:?}, event store has {want:?}",
                    key.0, key.1
                ));
            }
        }
        for key in audit.keys().filter(|k| !store_seqs.contains_key(*k)) {
            problems.push(format!(
                "rm_audit_log has {key:?}, the event store does not"
            ));
        }
    }
    // Every event projection got to the last event of every aggregate.
    for r in sql
        .query(
            "SELECT p.projection, e.aggregate_type, e.aggregate_id, p.sequence, e.last
               FROM (SELECT aggregate_type, aggregate_id, max(sequence) AS last
                       FROM events GROUP BY 1, 2) e
               CROSS JOIN (SELECT unnest(ARRAY['users', 'managed_instances', 'collectors',
                                               'registration_secrets', 'audit_log']) AS projection) n
               LEFT JOIN projection_positions p
                      ON p.projection = n.projection AND p.aggregate_type = e.aggregate_type
                     AND p.aggregate_id = e.aggregate_id
              WHERE p.sequence IS DISTINCT FROM e.last",
            &[],
        )
        .await
        .expect("positions")
    {
        problems.push(format!(
            "projection {:?} is at {:?} of {}/{}, which has {} events",
            r.get::<_, Option<String>>(0),
            r.get::<_, Option<i64>>(3),
            r.get::<_, String>(1),
            r.get::<_, String>(2),
            r.get::<_, i64>(4),
        ));
    }
    // Users: the read model is the fold of the event store; every command that succeeded is in
    // it; and where every command succeeded, it is what the commands said.
    let mut folded: BTreeMap<String, (String, bool, i64)> = BTreeMap::new();
    for r in sql
        .query(
            "SELECT aggregate_id, sequence, payload::text FROM events
              WHERE aggregate_type = 'user' ORDER BY aggregate_id, sequence",
            &[],
        )
        .await
        .expect("user events")
    {
        let id: String = r.get(0);
        let seq: i64 = r.get(1);
        let event: UserEvent = serde_json::from_str(r.get(2)).expect("user event");
        let entry = folded.entry(id).or_insert(("viewer".into(), true, 0));
        entry.2 = seq;
        match event {
            UserEvent::UserCreated { role, .. } => entry.0 = role.as_str().to_owned(),
            UserEvent::RoleChanged { to, .. } => entry.0 = to.as_str().to_owned(),
            UserEvent::UserDeactivated { .. } => entry.1 = false,
            UserEvent::UserReactivated { .. } => entry.1 = true,
            _ => {}
        }
    }
    let read: BTreeMap<String, (String, bool, i64)> = sql
        .query(
            "SELECT id::text, role, active, last_sequence FROM rm_users",
            &[],
        )
        .await
        .expect("rm_users")
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
        .collect();
    if read != folded {
        for (id, want) in &folded {
            let got = read.get(id);
            if got != Some(want) {
                problems.push(format!(
                    "rm_users {id}: {got:?}, the event store says {want:?}"
                ));
            }
        }
    }
    for (id, seq) in &log.succeeded {
        if read.get(id).is_none_or(|r| r.2 < *seq) {
            problems.push(format!(
                "command on user {id} succeeded at sequence {seq}; rm_users has {:?}",
                read.get(id)
            ));
        }
    }
    for (id, m) in log.users.iter().filter(|(_, m)| m.certain) {
        let want = (m.role.as_str().to_owned(), m.active);
        if read.get(id).map(|r| (r.0.clone(), r.1)) != Some(want.clone()) {
            problems.push(format!(
                "user {id}: the commands left it {want:?}; rm_users has {:?}",
                read.get(id)
            ));
        }
    }
    let rejected: Vec<String> = sql
        .query(
            "SELECT projection || ' #' || stream_sequence || ': ' || reason FROM projection_rejected",
            &[],
        )
        .await
        .expect("rejected")
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !rejected.is_empty() {
        problems.push(format!("projection_rejected: {rejected:?}"));
    }

    let events_total: usize = store_seqs.values().map(Vec::len).sum();
    eprintln!(
        "chaos: {timeline:?}\n\
         pushes: {} batches sent, {} acknowledged, {} stored, {duplicates_on_stream} twice on \
         the stream; failed attempts {:?}\n\
         commands: {} succeeded, {} failed; {events_total} events over {} aggregates\n\
         set up in {:.1}s, workload ended at {:.1}s, caught up at {:.1}s",
        pushes.sent.len(),
        pushes.acked.len(),
        in_activity.len(),
        pushes.failures,
        log.succeeded.len(),
        log.failed,
        store_seqs.len(),
        setup_done.as_secs_f64(),
        workload_done.as_secs_f64(),
        recovered.as_secs_f64(),
    );
    // The chaos must have hit something, and work must have gone through around it.
    assert!(pushes.acked.len() > 50, "too few acknowledged pushes");
    assert!(log.succeeded.len() > 20, "too few commands succeeded");
    assert!(
        !pushes.failures.is_empty(),
        "no push failed: the chaos missed"
    );
    assert!(
        problems.is_empty(),
        "{} problems (the first 40):\n{}",
        problems.len(),
        problems
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );

    // The app and its database go first, while the private servers still run.
    drop(app);
    drop(nats);
    let _ = std::fs::remove_dir_all(&store);
    drop(pg);
}
