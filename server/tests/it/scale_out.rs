//! Several projection workers on one database and one NATS: they share the metric partitions,
//! take over a dead worker's share, and apply every batch exactly once meanwhile.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use pganalytics::app::{self, Roles};
use projections::runtime::Runner;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::support::{
    count, eventually, eventually_within, spawn_admin_app, wait_for_count, RegisteredCollector,
    TestApp,
};

pub(crate) fn batch(c: &RegisteredCollector, n: usize) -> Value {
    json!({"batch_id": format!("b{n}"), "collector_id": c.id, "collected_at": Utc::now(),
           "samples": [{"metric": "pg_up", "labels": {}, "value": 1.0},
                       {"metric": "pg_seq", "labels": {"n": n.to_string()}, "value": n}]})
}

/// Live leases per worker, as `(worker, units held)`.
async fn holders(sql: &tokio_postgres::Client) -> Vec<(uuid::Uuid, i64)> {
    sql.query(
        "SELECT owner, count(*) FROM projection_leases
          WHERE owner IS NOT NULL AND expires_at > now() GROUP BY owner ORDER BY owner",
        &[],
    )
    .await
    .expect("leases")
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// Waits until `batches` batches of each collector (two points each, as [`batch`] makes them)
/// are applied, then checks each was counted once: per collector, in the batch table and in the
/// samples.
pub(crate) async fn each_batch_counted_once(
    app: &TestApp,
    collectors: &[RegisteredCollector],
    batches: usize,
) {
    let sql = app.sql().await;
    let total = i64::try_from(batches * collectors.len()).expect("small");
    // Up to 90 s: after a worker or a stream leader dies, its partitions wait for the lease to
    // lapse and the stream for a new leader, which takes long on two loaded cores (a full run
    // once missed a 15 s deadline here).
    eventually_within(90, "every accepted batch applied", || async {
        (count(&sql, "SELECT count(*) FROM metric_applied_batches").await == total).then_some(())
    })
    .await;
    let points = 2 * i64::try_from(batches).expect("small");
    for c in collectors {
        let view = eventually_within(90, &format!("{} shows {points} points", c.id), || async {
            let v = app.collector(&c.id).await;
            (v["metrics_count_total"] == points).then_some(v)
        })
        .await;
        assert_eq!(view["batches_total"], batches, "{view}");
    }
    // Nothing more arrives after a moment.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        count(&sql, "SELECT count(*) FROM metric_samples").await,
        2 * total,
        "no sample stored twice"
    );
}

const PROJECT_ONLY: Roles = Roles {
    api: false,
    ingest: false,
    project: true,
    migrate: false,
};

#[tokio::test]
async fn two_workers_share_the_partitions_and_one_takes_over_when_the_other_dies() {
    let app = TestApp::builder()
        .admin()
        .config(|c| {
            c.workers.lease = Duration::from_secs(2);
            c.workers.tick = Duration::from_millis(400);
        })
        .spawn()
        .await;
    let sql = app.sql().await;
    // A second worker: `pganalytics project` on the same database and NATS.
    let second = app::start(&app.env.config, PROJECT_ONLY, CancellationToken::new())
        .await
        .expect("second worker");
    // 1 unit for the domain events + 4 partitions: shares of 3 and 2.
    let split = eventually("the two workers share the units", || async {
        let h = holders(&sql).await;
        let shares: Vec<i64> = h.iter().map(|(_, n)| *n).collect();
        (h.len() == 2 && shares.iter().sum::<i64>() == 5 && shares.iter().all(|n| *n >= 2))
            .then_some(h)
    })
    .await;

    let mut collectors = Vec::new();
    for i in 0..6 {
        collectors.push(app.register_collector(&format!("c{i}")).await);
    }
    let partitions: HashSet<u16> = collectors
        .iter()
        .map(|c| domain::bus::metric_partition(&c.id, app.config().names.partitions()))
        .collect();
    assert!(
        partitions.len() >= 2,
        "the collectors spread over partitions"
    );

    // Push while the second worker dies: abruptly (its tasks aborted, no lease given back).
    const BATCHES: usize = 40;
    let mut second = Some(second);
    for n in 0..BATCHES {
        for c in &collectors {
            app.push_accepted(c, &batch(c, n)).await;
        }
        if n == BATCHES / 3 {
            drop(second.take());
        }
    }
    // The survivor holds every unit once the dead worker's leases ran out.
    let survivor = eventually("the surviving worker took over every unit", || async {
        let h = holders(&sql).await;
        (h.len() == 1 && h[0].1 == 5).then_some(h[0].0)
    })
    .await;
    assert!(split.iter().any(|(w, _)| *w == survivor));

    each_batch_counted_once(&app, &collectors, BATCHES).await;
    assert_eq!(
        count(&sql, "SELECT count(*) FROM projection_rejected").await,
        0
    );
}

#[tokio::test]
async fn three_runners_on_one_partition_apply_each_batch_once() {
    // Beside the server's own worker, two more runners read partition 0 at the same time, as
    // workers do for a moment during a takeover (the old owner stalled past its lease while the
    // new one started). The checkpoint row, locked by every batch transaction, serializes them.
    let app = spawn_admin_app().await;
    let names = app.config().names.clone();
    let running = app.running();
    let stop = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    let verifier = Arc::new(app.env.token_keys());
    for owner in ["first", "second"] {
        for p in
            projections::projectors::metric_projectors(verifier.clone(), app.config().storage())
        {
            let runner = Runner::partition(
                running.read_pool.clone(),
                running.jetstream.clone(),
                names.clone(),
                p,
                0,
            );
            tasks.spawn(runner.owned_by(owner).run(stop.clone()));
        }
    }
    let mut collectors = Vec::new();
    let mut i = 0;
    while collectors.len() < 3 {
        let c = app.register_collector(&format!("c{i}")).await;
        i += 1;
        if domain::bus::metric_partition(&c.id, names.partitions()) == 0 {
            collectors.push(c);
        }
    }
    const BATCHES: usize = 30;
    for n in 0..BATCHES {
        for c in &collectors {
            app.push_accepted(c, &batch(c, n)).await;
        }
    }
    let sql = app.sql().await;
    let batches = i64::try_from(BATCHES * collectors.len()).expect("small");
    wait_for_count(
        &sql,
        "every batch applied",
        "SELECT count(*) FROM metric_applied_batches",
        batches,
    )
    .await;
    // Every runner has read the whole stream by now; nothing more may arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.cancel();
    while tasks.join_next().await.is_some() {}
    assert_eq!(
        count(&sql, "SELECT count(*) FROM metric_samples").await,
        2 * batches,
        "no sample stored twice"
    );
    let sum = |column: &str| {
        format!("SELECT coalesce(sum({column}), 0)::int8 FROM rm_collector_activity")
    };
    assert_eq!(count(&sql, &sum("batches_total")).await, batches);
    assert_eq!(count(&sql, &sum("metrics_count_total")).await, 2 * batches);
    assert_eq!(
        count(&sql, "SELECT count(*) FROM projection_rejected").await,
        0
    );
}

/// Records every message it is given, with no deduplication of its own: only the runtime's
/// checkpoint keeps it from applying one twice.
struct Probe;

#[async_trait::async_trait]
impl projections::runtime::Projector for Probe {
    fn name(&self) -> &'static str {
        "probe"
    }
    fn source(&self) -> projections::runtime::Source {
        projections::runtime::Source::Metrics
    }
    fn tables(&self) -> &'static [&'static str] {
        &["probe_applied"]
    }
    async fn apply(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        message: &projections::runtime::Delivered,
    ) -> Result<(), projections::runtime::ApplyError> {
        let seq = i64::try_from(message.stream_sequence).expect("small");
        tx.execute("INSERT INTO probe_applied (seq) VALUES ($1)", &[&seq])
            .await?;
        Ok(())
    }
}

#[tokio::test]
async fn the_checkpoint_lock_keeps_two_runners_on_one_stream_from_applying_a_message_twice() {
    let env = crate::support::TestEnv::new().await;
    let sql = env.sql().await;
    sql.batch_execute("CREATE TABLE probe_applied (seq bigint NOT NULL)")
        .await
        .expect("probe table");
    let js = env.jetstream().await;
    let names = env.config.names.clone();
    ingest::ensure_metrics_stream(&js, &names, Duration::from_secs(3600), 1)
        .await
        .expect("streams");
    const MESSAGES: i64 = 400;
    let subject = format!("{}-p00.metrics.probe", names.prefix());
    for i in 0..MESSAGES {
        js.publish(subject.clone(), format!("{i}").into())
            .await
            .expect("publish")
            .await
            .expect("ack");
    }
    let pool = projections::db::pool(&env.config.database_url, 8).expect("pool");
    let stop = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    for owner in ["first", "second"] {
        let runner = Runner::partition(pool.clone(), js.clone(), names.clone(), Arc::new(Probe), 0);
        tasks.spawn(runner.owned_by(owner).run(stop.clone()));
    }
    wait_for_count(
        &sql,
        "the checkpoint at the stream head",
        "SELECT coalesce(max(stream_sequence), 0) FROM projection_checkpoints
          WHERE projection = 'probe.p00'",
        MESSAGES,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    while tasks.join_next().await.is_some() {}
    assert_eq!(
        count(&sql, "SELECT count(DISTINCT seq) FROM probe_applied").await,
        MESSAGES
    );
    assert_eq!(
        count(&sql, "SELECT count(*) FROM probe_applied").await,
        MESSAGES,
        "a message applied twice"
    );
}

#[tokio::test]
async fn two_partitions_creating_the_same_day_at_once_both_succeed() {
    // Each metric partition's transaction creates the day it writes into when it is missing;
    // with 16 of them, two do so at once on the first batch of a day.
    let env = crate::support::TestEnv::new().await;
    let (a, b) = (env.sql().await, env.sql().await);
    let day = chrono::NaiveDate::from_ymd_opt(2031, 1, 1).expect("date");
    let ddl = projections::projectors::partition_ddl(day);
    a.batch_execute(&format!("BEGIN; {ddl}"))
        .await
        .expect("first creates");
    let second =
        tokio::spawn(async move { b.batch_execute(&format!("BEGIN; {ddl}; COMMIT")).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.batch_execute("COMMIT").await.expect("first commits");
    second
        .await
        .expect("task")
        .expect("the second finds the day created and goes on");
}

#[tokio::test]
async fn a_replay_that_would_not_read_every_partition_is_refused_and_changes_nothing() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("c").await;
    app.push_accepted(&c, &batch(&c, 0)).await;
    app.wait_for_points(&c.id, 2).await;
    // As if the live tables had also been fed by a partition this configuration does not have
    // (a shell with another PGA_METRIC_PARTITIONS than the deployment's).
    let sql = app.sql().await;
    sql.execute(
        "INSERT INTO projection_checkpoints (projection, stream_sequence)
         VALUES ('metric_samples.p09', 5)",
        &[],
    )
    .await
    .expect("checkpoint");
    let samples = projections::projectors::metric_projectors(
        Arc::new(app.env.token_keys()),
        app.config().storage(),
    )
    .into_iter()
    .find(|p| p.name() == "metric_samples")
    .expect("metric_samples");
    let running = app.running();
    let refused = projections::replay::replay(
        &running.read_pool,
        &running.jetstream,
        &app.config().names,
        samples,
        &|_| {},
    )
    .await
    .expect_err("a replay that would drop partition 9's rows is refused");
    assert!(
        refused.to_string().contains("metric_samples.p09"),
        "{refused}"
    );
    assert_eq!(count(&sql, "SELECT count(*) FROM metric_samples").await, 2);
}

#[tokio::test]
async fn every_token_names_the_collectors_partition_subject() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("c").await;
    let fresh = app
        .api()
        .post(
            &format!("/collectors/{}/token", c.id),
            None,
            json!({"refresh_secret": c.refresh_secret}),
        )
        .await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    let subject = app.config().names.metrics_subject(&c.id);
    assert_eq!(fresh.body["metrics_subject"], subject.as_str());
    assert_eq!(fresh.body["nats"]["subject"], subject.as_str());
}
