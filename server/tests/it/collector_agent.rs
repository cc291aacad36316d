//! The collector agent against a real server: registration, pushes over HTTP and NATS, an
//! outage bridged by the spool with every batch stored exactly once, and the loud stop of a
//! deleted collector.

use std::sync::atomic::Ordering;
use std::time::Duration;

use collector::agent::{self, Agent};
use collector::config::{Config as AgentConfig, Secret};
use collector::transport::Link;
use tokio_util::sync::CancellationToken;

use crate::support::*;

fn agent_config(server: &str, state_dir: &std::path::Path, extra: &str) -> AgentConfig {
    let text = format!(
        r#"
[server]
url = "{server}"
request_timeout_s = 3
{extra}
[collector]
name = "agent under test"
state_file = "{state}"
[schedule.intervals]
database = 1
activity = 1
locks = 0
bgwriter = 0
wal = 0
replication = 0
tables = 0
indexes = 0
statements = 0
io = 0
host = 1
[spool]
replay_per_second = 50
[[target]]
name = "local-pg"
host = "127.0.0.1"
sslmode = "disable"
databases = ["postgres"]
"#,
        state = state_dir.join("state.json").display(),
    );
    AgentConfig::from_toml(&text).expect("agent config")
}

async fn applied_batches(env: &TestEnv, collector: &str) -> (i64, i64, i64) {
    let sql = env.sql().await;
    let id = uuid::Uuid::parse_str(collector).expect("uuid");
    let row = sql
        .query_one(
            "SELECT (SELECT count(*) FROM rm_applied_batches WHERE collector_id = $1),
                    (SELECT coalesce(max(batches_total), 0) FROM rm_collector_activity
                      WHERE collector_id = $1),
                    -- One collector per test database.
                    (SELECT count(*) FROM metric_applied_batches)",
            &[&id],
        )
        .await
        .expect("counts");
    (row.get(0), row.get(1), row.get(2))
}

/// Every batch the agent sent is counted, once, by both projections that count them (each at
/// its own pace: waits for both).
async fn assert_every_batch_counted_once(env: &TestEnv, id: &str, stats: &collector::agent::Stats) {
    let sent = i64::try_from(stats.batches_sent.load(Ordering::Relaxed)).expect("n");
    let counts = eventually("every sent batch counted", || async {
        let c = applied_batches(env, id).await;
        (c.0 >= sent && c.1 >= sent && c.2 >= sent).then_some(c)
    })
    .await;
    assert_eq!(counts, (sent, sent, sent));
}

/// A running server (admin signed in) and a state folder for an agent.
struct Setup {
    app: TestApp,
    dir: tempfile::TempDir,
}

async fn setup(app: AppBuilder) -> Setup {
    Setup {
        app: app.admin().spawn().await,
        dir: tempfile::tempdir().expect("tempdir"),
    }
}

impl Setup {
    fn agent_config(&self, extra: &str) -> AgentConfig {
        let server = format!("http://{}", self.app.addr.expect("http"));
        agent_config(&server, self.dir.path(), extra)
    }

    /// The spooled batches waiting on disk.
    fn spooled(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("spool"))
            .expect("spool dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json.gz"))
            .count()
    }
}

/// The value of the first sample of `metric` in a pass.
fn sample(out: &collector::families::Out, metric: &str) -> Option<f64> {
    out.samples
        .iter()
        .find(|s| s.metric == metric)
        .map(|s| s.value)
}

async fn prepared(config: AgentConfig, secret: &str) -> (Agent, Link) {
    let mut config = config;
    config.server.registration_secret = Some(Secret::new(secret));
    agent::prepare(config).await.expect("agent starts")
}

#[tokio::test]
async fn a_server_outage_loses_nothing_and_counts_each_batch_once() {
    let mut t = setup(TestApp::builder()).await;
    let secret = t.app.registration_secret("agent").await;
    let (agent, link) = prepared(t.agent_config(""), &secret).await;
    let collector_id = link.collector_id().to_owned();
    // The state file holds the identity, owner-only.
    let state = std::fs::read_to_string(t.dir.path().join("state.json")).expect("state file");
    assert!(state.contains(&collector_id) && state.contains("pgcr_"));
    let stats = agent.stats();
    let stop = CancellationToken::new();
    let run = tokio::spawn(agent.run(link, stop.clone()));

    eventually("two batches pushed", || async {
        (stats.batches_sent.load(Ordering::Relaxed) >= 2).then_some(())
    })
    .await;
    let collectors = t.app.api().get("/collectors", t.app.admin()).await;
    assert!(collectors.body.to_string().contains("agent under test"));

    // The server goes away for several passes.
    t.app.stop().await;
    let made_before = stats.batches_made.load(Ordering::Relaxed);
    eventually("three batches made while the server is down", || async {
        (stats.batches_made.load(Ordering::Relaxed) >= made_before + 3
            && stats.send_failures.load(Ordering::Relaxed) >= 1)
            .then_some(())
    })
    .await;
    let spooled = t.spooled();
    assert!(spooled >= 3, "batches wait on disk: {spooled}");

    // It comes back on the same address; the spool drains.
    t.app.start().await;
    // The sender probes on a back-off of at most 10 s; passes every second must not postpone
    // the probes (they once did: the spool never drained while passes kept coming).
    eventually_within(40, "the spool to drain", || async {
        let made = stats.batches_made.load(Ordering::Relaxed);
        let sent = stats.batches_sent.load(Ordering::Relaxed);
        (sent >= made && sent > made_before + 3).then_some(())
    })
    .await;
    stop.cancel();
    run.await.expect("join").expect("agent stops cleanly");
    let sent = stats.batches_sent.load(Ordering::Relaxed);
    let made = stats.batches_made.load(Ordering::Relaxed);
    assert_eq!(stats.batches_refused.load(Ordering::Relaxed), 0);
    let left = t.spooled() as u64;
    assert_eq!(
        made,
        sent + left,
        "every batch made was sent or is still spooled"
    );
    let expected = i64::try_from(sent).expect("count");
    let counts = eventually("every sent batch stored", || async {
        let c = applied_batches(&t.app.env, &collector_id).await;
        (c.0 >= expected && c.2 >= expected).then_some(c)
    })
    .await;
    assert_eq!(
        counts,
        (expected, expected, expected),
        "each batch applied exactly once by both metric projections"
    );
    // Real data arrived: the collector's own PostgreSQL commits, as a rate.
    let series = t.app
        .api()
        .get(
            &format!("/metrics/series?instance_id=local-pg&metric=pg_database_xact_commit_total&label.database=postgres&from={}",
                (chrono::Utc::now() - chrono::Duration::minutes(5)).timestamp()),
            t.app.admin(),
        )
        .await;
    assert_eq!(series.status, 200, "{}", series.body);
    assert!(
        series.body["series"][0]["points"]
            .as_array()
            .is_some_and(|p| !p.is_empty()),
        "{}",
        series.body
    );
}

#[tokio::test]
async fn an_agent_with_a_wrong_or_no_registration_secret_says_so_and_writes_no_state() {
    let t = setup(TestApp::builder()).await;
    let config = t.agent_config("");
    // A wrong registration secret: a message saying so, no state file.
    let mut wrong = config.clone();
    wrong.server.registration_secret = Some(Secret::new("pgas_not_a_real_secret"));
    let e = agent::prepare(wrong).await.err().expect("refused");
    assert!(
        e.to_string().contains("refused the registration secret"),
        "{e}"
    );
    assert!(!t.dir.path().join("state.json").exists());
    // No secret and no state: the start explains what is missing.
    let e = agent::prepare(config).await.err().expect("refused");
    assert!(e.to_string().contains("REGISTRATION_SECRET"), "{e}");
}

#[tokio::test]
async fn a_deleted_collector_stops_loudly_and_never_registers_anew() {
    let t = setup(TestApp::builder()).await;
    let config = t.agent_config("");
    let secret = t.app.registration_secret("doomed").await;
    let (agent, link) = prepared(config.clone(), &secret).await;
    let id = link.collector_id().to_owned();
    let stats = agent.stats();
    let run = tokio::spawn(agent.run(link, CancellationToken::new()));
    eventually("a batch pushed", || async {
        (stats.batches_sent.load(Ordering::Relaxed) >= 1).then_some(())
    })
    .await;
    let deleted = t
        .app
        .api()
        .delete(&format!("/collectors/{id}"), t.app.admin())
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let outcome = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the agent stops instead of spinning")
        .expect("join");
    let e = outcome.expect_err("an error");
    assert!(e.to_string().contains("no longer accepts"), "{e}");
    // Started again with its (now dead) state, it refuses at the first send the same way
    // and never registers anew on its own.
    let (agent, link) = agent::prepare(config).await.expect("state file is read");
    assert_eq!(link.collector_id(), id);
    let outcome = tokio::time::timeout(
        Duration::from_secs(20),
        agent.run(link, CancellationToken::new()),
    )
    .await
    .expect("stops");
    assert!(outcome.is_err());
}

#[tokio::test]
async fn the_nats_transport_publishes_batches_that_count() {
    let t = setup(TestApp::builder()).await;
    let secret = t.app.registration_secret("nats agent").await;
    let extra = format!(
        "transport = \"nats\"\nnats_url = \"{}\"\nnats_prefix = \"{}\"",
        t.app.config().nats_url,
        t.app.env.prefix
    );
    let (agent, link) = prepared(t.agent_config(&extra), &secret).await;
    let id = link.collector_id().to_owned();
    let stats = agent.stats();
    let stop = CancellationToken::new();
    let run = tokio::spawn(agent.run(link, stop.clone()));
    eventually("two batches published", || async {
        (stats.batches_sent.load(Ordering::Relaxed) >= 2).then_some(())
    })
    .await;
    stop.cancel();
    run.await.expect("join").expect("clean stop");
    assert_every_batch_counted_once(&t.app.env, &id, &stats).await;
}

#[tokio::test]
async fn statements_over_tls_with_a_password_from_the_environment() {
    use collector::families::{Family, Limits, Out, TargetCollector};

    let pg = crate::pg_fixture::PrivatePostgres::start();
    pg.psql("CREATE EXTENSION pg_stat_statements");
    pg.psql(&format!(
        "GRANT pg_monitor TO {role}; CREATE TABLE pga_orders (id int); GRANT INSERT ON pga_orders TO {role}",
        role = crate::pg_fixture::ROLE
    ));
    // Some work as the monitored application would do it.
    let (app, conn) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(pg.port)
        .user(crate::pg_fixture::ROLE)
        .password(crate::pg_fixture::PASSWORD)
        .dbname("postgres")
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect as the application");
    tokio::spawn(conn);
    for i in 0..7 {
        app.execute("INSERT INTO pga_orders VALUES ($1)", &[&i])
            .await
            .expect("insert");
    }
    let var = format!("PGA_IT_PASSWORD_{}", pg.port);
    std::env::set_var(&var, crate::pg_fixture::PASSWORD);
    let text = format!(
        "[server]\nurl = \"http://127.0.0.1:9\"\n[[target]]\nname = \"tls\"\nport = {}\nuser = \"{}\"\nsslmode = \"require\"\npassword_env = \"{var}\"\n",
        pg.port,
        crate::pg_fixture::ROLE
    );
    let config = AgentConfig::from_toml(&text).expect("config");
    let limits = Limits {
        statement_timeout: Duration::from_secs(2),
        max_relations: 10,
        max_statements: 50,
        application_name: "pganalytics-collector-it",
    };
    // A collector for the configured target (its password is read when it connects).
    let collector_for_target = || {
        TargetCollector::new(
            config.targets[0].clone(),
            pgconn::PgConnector::new(),
            limits,
        )
    };
    let mut target = collector_for_target();
    let mut out = Out::default();
    target.collect(&[Family::Statements], &mut out).await;
    assert_eq!(
        sample(&out, "pg_up"),
        Some(1.0),
        "connected over TLS with the password from {var}: {:?}",
        out.skipped
    );
    let insert = out
        .statements
        .iter()
        .find(|(_, q)| q.contains("INSERT INTO pga_orders"))
        .map(|(id, _)| id.clone())
        .expect("the INSERT's text is sent");
    let calls = out
        .samples
        .iter()
        .find(|s| {
            s.metric == "pg_statement_calls_total"
                && s.labels.get("queryid") == Some(&insert)
                && s.labels.get("database").map(String::as_str) == Some("postgres")
        })
        .map(|s| s.value);
    assert_eq!(calls, Some(7.0), "seven inserts counted");
    assert!(sample(&out, "pg_statement_exec_time_ms_total").is_some());
    // A statement's text travels once; later passes carry only the numbers.
    let mut again = Out::default();
    target.collect(&[Family::Statements], &mut again).await;
    assert!(!again.statements.contains_key(&insert));
    assert!(sample(&again, "pg_statement_calls_total").is_some());

    // A wrong password: the target is down, and the message never holds the password.
    std::env::set_var(&var, "not the password at all");
    let mut wrong = collector_for_target();
    let mut out = Out::default();
    wrong.collect(&[Family::Database], &mut out).await;
    assert_eq!(sample(&out, "pg_up"), Some(0.0));
    assert!(
        out.skipped
            .iter()
            .any(|(_, r)| r.contains("password authentication failed")),
        "{:?}",
        out.skipped
    );
    assert!(!out
        .skipped
        .iter()
        .any(|(_, r)| r.contains("not the password")));
    std::env::remove_var(&var);
    pg.stop();
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire() {
    // Eight-second agent tokens: the agent must renew them with a quarter of their life left.
    let t = setup(TestApp::builder().config(|c| c.agent_token_ttl = Duration::from_secs(8))).await;
    let secret = t.app.registration_secret("renewing").await;
    let config = t.agent_config("");
    let (agent, link) = prepared(config, &secret).await;
    let counters = link.counters();
    let stats = agent.stats();
    let stop = CancellationToken::new();
    let run = tokio::spawn(agent.run(link, stop.clone()));
    // About 12 s: a token every 6 s.
    eventually_within(40, "three tokens and twelve pushes", || async {
        (counters.refreshes.load(Ordering::Relaxed) >= 3
            && stats.batches_sent.load(Ordering::Relaxed) >= 12)
            .then_some(())
    })
    .await;
    stop.cancel();
    run.await.expect("join").expect("clean stop");
    assert_eq!(
        counters.unauthorized.load(Ordering::Relaxed),
        0,
        "no push ever met an expired token"
    );
    assert_eq!(stats.send_failures.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn the_nats_transport_renews_its_credential_before_nats_drops_it() {
    // Tokens, and NATS credentials with them, of 6 s: nats-server closes a connection the
    // moment its credential expires, so only a renewal keeps batches flowing.
    let t = setup(TestApp::builder().config(|c| c.agent_token_ttl = Duration::from_secs(6))).await;
    let secret = t.app.registration_secret("renewing nats agent").await;
    let extra = format!(
        "transport = \"nats\"\nnats_url = \"{}\"\nnats_prefix = \"{}\"",
        t.app.config().nats_url,
        t.app.env.prefix
    );
    let (agent, link) = prepared(t.agent_config(&extra), &secret).await;
    let id = link.collector_id().to_owned();
    let refreshes = link.counters().refreshes;
    let stats = agent.stats();
    let stop = CancellationToken::new();
    let run = tokio::spawn(agent.run(link, stop.clone()));
    eventually_within(60, "four credential lifetimes", || async {
        (refreshes.load(Ordering::Relaxed) >= 4).then_some(())
    })
    .await;
    let before = stats.batches_sent.load(Ordering::Relaxed);
    eventually("batches still published after the renewals", || async {
        (stats.batches_sent.load(Ordering::Relaxed) >= before + 3).then_some(())
    })
    .await;
    stop.cancel();
    run.await.expect("join").expect("clean stop");
    assert_every_batch_counted_once(&t.app.env, &id, &stats).await;
}
