//! The families against the real local PostgreSQL, family by family: names, labels, plausible
//! values, and values that move when the database does something.

use std::time::Duration;

use collector::agent::Agent;
use collector::config::Config;
use collector::families::{Family, Limits, Out, TargetCollector};
use pgconn::PgConnector;
use tokio_postgres::{Client, NoTls};

fn base_url() -> String {
    std::env::var("PGA_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

async fn connect(db: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(&format!("{}/{db}", base_url()), NoTls)
        .await
        .expect("connect to the local PostgreSQL");
    tokio::spawn(conn);
    client
}

/// A fresh database with a table, two indexes and some history.
struct Scratch {
    db: String,
    admin: Client,
}

impl Scratch {
    async fn new() -> Self {
        let db = format!("pga_c_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let admin = connect("postgres").await;
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .expect("create database");
        let c = connect(&db).await;
        c.batch_execute(
            "CREATE TABLE orders (id int PRIMARY KEY, status text);
             CREATE INDEX orders_status ON orders (status);
             INSERT INTO orders SELECT g, 'new' FROM generate_series(1, 1000) g;
             DELETE FROM orders WHERE id <= 100;",
        )
        .await
        .expect("fill");
        Self { db, admin }
    }

    async fn drop(self) {
        let _ = self
            .admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db))
            .await;
    }
}

fn config(toml_targets: &str) -> Config {
    let text = format!(
        "[server]\nurl = \"http://127.0.0.1:9\"\n[collector]\nstate_file = \"/nonexistent/state.json\"\n{toml_targets}"
    );
    Config::from_toml(&text).expect("config")
}

fn target_toml(name: &str, db: &str, port: u16) -> String {
    let url = base_url();
    let hostport = url.rsplit('@').next().unwrap_or("127.0.0.1:5432");
    let host = hostport.split(':').next().unwrap_or("127.0.0.1");
    format!(
        "[[target]]\nname = \"{name}\"\nhost = \"{host}\"\nport = {port}\ndbname = \"{db}\"\nsslmode = \"disable\"\ndatabases = [\"{db}\"]\nconnect_timeout_s = 3\n"
    )
}

fn collector(db: &str) -> TargetCollector {
    let c = config(&target_toml("local", db, 5432));
    TargetCollector::new(
        c.targets[0].clone(),
        PgConnector::new(),
        Limits {
            statement_timeout: Duration::from_secs(2),
            max_relations: 100,
            max_statements: 50,
            application_name: "pganalytics-collector-test",
        },
    )
}

async fn pass(t: &mut TargetCollector, families: &[Family]) -> Out {
    let mut out = Out::default();
    t.collect(families, &mut out).await;
    out
}

fn value(out: &Out, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    out.samples
        .iter()
        .find(|s| {
            s.metric == metric
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

fn has(out: &Out, metric: &str) -> bool {
    out.samples.iter().any(|s| s.metric == metric)
}

/// Passes until `check` holds for one (stats reach the views within a second or two).
async fn until(
    t: &mut TargetCollector,
    families: &[Family],
    what: &str,
    check: impl Fn(&Out) -> bool,
) -> Out {
    for _ in 0..40 {
        let out = pass(t, families).await;
        if check(&out) {
            return out;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test]
async fn database_family_counts_commits_and_sizes() {
    let s = Scratch::new().await;
    let mut t = collector(&s.db);
    let first = pass(&mut t, &[Family::Database]).await;
    assert_eq!(value(&first, "pg_up", &[]), Some(1.0));
    let version = value(&first, "pg_server_version_num", &[]).expect("version");
    assert!((120_000.0..190_000.0).contains(&version), "{version}");
    let db = s.db.as_str();
    let commits = value(&first, "pg_database_xact_commit_total", &[("database", db)])
        .expect("xact_commit for the scratch database");
    let size = value(&first, "pg_database_size_bytes", &[("database", db)]).expect("size");
    assert!(size > 1_000_000.0, "a database is megabytes: {size}");
    assert!(first
        .samples
        .iter()
        .any(|s| s.counter && s.metric == "pg_database_xact_commit_total"));
    assert!(
        value(&first, "pg_database_numbackends", &[("database", db)]).expect("backends") >= 1.0
    );
    if version >= 140_000.0 {
        assert!(has(&first, "pg_database_sessions_total"));
    }

    let work = connect(db).await;
    for i in 0..25 {
        work.execute(
            "UPDATE orders SET status = 'paid' WHERE id = $1",
            &[&(200 + i)],
        )
        .await
        .expect("update");
    }
    drop(work);
    until(
        &mut t,
        &[Family::Database],
        "xact_commit to rise by 25",
        |out| {
            value(out, "pg_database_xact_commit_total", &[("database", db)])
                .is_some_and(|now| now >= commits + 25.0)
        },
    )
    .await;
    s.drop().await;
}

#[tokio::test]
async fn activity_and_locks_see_a_blocked_session() {
    let s = Scratch::new().await;
    let mut t = collector(&s.db);
    let holder = connect(&s.db).await;
    holder
        .batch_execute("BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE;")
        .await
        .expect("lock");
    let waiter = connect(&s.db).await;
    let blocked = tokio::spawn(async move {
        let _ = waiter.query("SELECT count(*) FROM orders", &[]).await;
    });
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let out = pass(&mut t, &[Family::Activity, Family::Locks]).await;
    assert!(
        value(&out, "pg_locks_blocked_sessions", &[]).expect("blocked") >= 1.0,
        "{:?}",
        out.samples
    );
    assert!(
        value(&out, "pg_locks_waiting", &[("mode", "AccessShareLock")]).expect("waiting") >= 1.0
    );
    assert!(
        value(&out, "pg_locks_granted", &[("mode", "AccessExclusiveLock")]).expect("granted")
            >= 1.0
    );
    assert!(
        value(&out, "pg_activity_idle_in_transaction", &[]).expect("idle in tx") >= 1.0,
        "the lock holder sits idle in its transaction"
    );
    assert!(value(&out, "pg_activity_max_xact_age_seconds", &[]).expect("xact age") >= 1.0);
    assert!(value(&out, "pg_activity_max_query_age_seconds", &[]).expect("query age") >= 1.0);
    assert!(
        value(&out, "pg_activity_waiting", &[("wait_event_type", "Lock")]).expect("lock wait")
            >= 1.0
    );
    assert!(
        value(
            &out,
            "pg_activity_connections",
            &[("database", s.db.as_str()), ("state", "active")]
        )
        .expect("active")
            >= 1.0
    );
    assert!(value(&out, "pg_settings_max_connections", &[]).expect("max") >= 1.0);
    holder.batch_execute("ROLLBACK").await.expect("release");
    blocked.await.expect("waiter");
    let out = pass(&mut t, &[Family::Locks]).await;
    assert_eq!(value(&out, "pg_locks_blocked_sessions", &[]), Some(0.0));
    s.drop().await;
}

#[tokio::test]
async fn tables_and_indexes_per_database() {
    let s = Scratch::new().await;
    let mut t = collector(&s.db);
    let db = s.db.as_str();
    let table = [("database", db), ("schema", "public"), ("table", "orders")];
    let out = until(
        &mut t,
        &[Family::Tables, Family::Indexes],
        "tuple counts",
        |out| {
            value(out, "pg_table_live_tuples", &table) == Some(900.0)
                && value(out, "pg_table_dead_tuples", &table) == Some(100.0)
        },
    )
    .await;
    assert_eq!(
        value(&out, "pg_table_tup_inserted_total", &table),
        Some(1000.0)
    );
    assert_eq!(
        value(&out, "pg_table_tup_deleted_total", &table),
        Some(100.0)
    );
    assert!(value(&out, "pg_table_size_bytes", &table).expect("size") > 8192.0);
    assert!(
        value(&out, "pg_table_last_vacuum_timestamp_seconds", &table).is_none(),
        "never vacuumed: no sample, not 0"
    );
    let status = [
        ("database", db),
        ("table", "orders"),
        ("index", "orders_status"),
    ];
    let pkey = [
        ("database", db),
        ("table", "orders"),
        ("index", "orders_pkey"),
    ];
    assert_eq!(
        value(&out, "pg_index_unused", &status),
        Some(1.0),
        "never scanned, not unique"
    );
    assert_eq!(
        value(&out, "pg_index_unused", &pkey),
        Some(0.0),
        "unique indexes are never unused"
    );
    let scans = value(&out, "pg_index_scans_total", &pkey).expect("pkey scans");

    let work = connect(db).await;
    work.batch_execute("SET enable_seqscan = off")
        .await
        .expect("set");
    work.query("SELECT * FROM orders WHERE id = 500", &[])
        .await
        .expect("scan");
    work.batch_execute("VACUUM orders").await.expect("vacuum");
    drop(work);
    until(
        &mut t,
        &[Family::Tables, Family::Indexes],
        "a scan and a vacuum",
        |out| {
            value(out, "pg_index_scans_total", &pkey).is_some_and(|v| v > scans)
                && value(out, "pg_table_vacuum_total", &table) == Some(1.0)
                && value(out, "pg_table_last_vacuum_timestamp_seconds", &table)
                    .is_some_and(|ts| ts > 1.7e9)
                && value(out, "pg_table_dead_tuples", &table) == Some(0.0)
        },
    )
    .await;
    s.drop().await;
}

#[tokio::test]
async fn server_wide_families_and_version_skips() {
    let s = Scratch::new().await;
    let mut t = collector(&s.db);
    let slot = format!("pga_test_{}", &s.db[6..]);
    s.admin
        .execute(
            "SELECT pg_create_physical_replication_slot($1, true)",
            &[&slot],
        )
        .await
        .expect("slot");
    let out = pass(
        &mut t,
        &[
            Family::Bgwriter,
            Family::Wal,
            Family::Replication,
            Family::Io,
            Family::Statements,
        ],
    )
    .await;
    let _ = s
        .admin
        .execute("SELECT pg_drop_replication_slot($1)", &[&slot])
        .await;
    let version = value(&out, "pg_server_version_num", &[]).expect("version");
    assert!(has(&out, "pg_checkpoints_timed_total"));
    assert!(has(&out, "pg_bgwriter_buffers_alloc_total"));
    assert!(value(&out, "pg_wal_lsn_bytes", &[]).expect("lsn") > 0.0);
    let labels = [("slot_name", slot.as_str()), ("slot_type", "physical")];
    assert_eq!(
        value(&out, "pg_replication_slot_active", &labels),
        Some(0.0)
    );
    assert!(
        value(&out, "pg_replication_slot_retained_wal_bytes", &labels).expect("retained") >= 0.0
    );
    let skipped = |family: &str, text: &str| {
        out.skipped
            .iter()
            .any(|(f, reason)| f == family && reason.contains(text))
    };
    if version >= 140_000.0 {
        assert!(value(&out, "pg_wal_records_total", &[]).expect("wal records") > 0.0);
    } else {
        assert!(skipped("wal", "needs PostgreSQL 14"));
    }
    if version >= 160_000.0 {
        assert!(has(&out, "pg_io_reads_total"));
    } else {
        assert!(skipped("io", "needs PostgreSQL 16"), "{:?}", out.skipped);
        assert!(!has(&out, "pg_io_reads_total"));
    }
    // The local server has no pg_stat_statements in the scratch database.
    assert!(skipped("statements", "not installed"), "{:?}", out.skipped);
    // A version-specific variant is not reported as missing where its sibling ran.
    assert!(!out
        .skipped
        .iter()
        .any(|(_, r)| r.contains("needs PostgreSQL 17")));
    s.drop().await;
}

#[tokio::test]
async fn an_unreachable_target_is_marked_down_and_the_others_go_on() {
    let s = Scratch::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = config(&format!(
        "{}{}",
        target_toml("up", &s.db, 5432),
        target_toml("down", &s.db, 1)
    ));
    c.spool.dir = Some(dir.path().to_owned());
    c.host.enabled = Some(true);
    let mut agent = Agent::new(c, "collector-under-test".into()).expect("agent");
    let batches = agent.collect(&[Family::Database, Family::Host]).await;
    let by = |name: &str| {
        batches
            .iter()
            .find(|b| b.instance.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("a batch for {name}"))
    };
    let up = by("up");
    let down = by("down");
    let get = |b: &domain::metrics::MetricBatch, m: &str| {
        b.samples.iter().find(|s| s.metric == m).map(|s| s.value)
    };
    assert_eq!(get(up, "pg_up"), Some(1.0));
    assert!(get(up, "pg_database_xact_commit_total").is_some());
    assert!(
        get(up, "node_memory_total_bytes").is_some(),
        "host stats ride with the local target"
    );
    assert_eq!(get(down, "pg_up"), Some(0.0));
    assert!(get(down, "pg_database_xact_commit_total").is_none());
    assert!(get(down, "pga_collector_pass_seconds").is_some());
    assert_eq!(up.collector_id, "collector-under-test");
    assert_ne!(up.batch_id, down.batch_id);
    s.drop().await;
}
