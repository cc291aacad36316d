//! The metric families and the SQL that collects them, version-aware for PostgreSQL 12–17.
//!
//! Most families are declared as a [`Query`]: label columns (text) first, then value columns
//! (`float8`), each value column one metric. A `NULL` value is no sample, never a zero.
//! What a server's version or a missing extension cannot give is skipped with the reason, which
//! the collector logs once per target.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::metrics::Sample;
use pgconn::PgConnector;
use serde::{Deserialize, Serialize};
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

use crate::config::Target;

/// A family of metrics, collected on its own interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// `pg_stat_database` and database sizes.
    Database,
    /// `pg_stat_activity`: connections by state, waits, oldest transaction and query.
    Activity,
    /// `pg_locks`: locks by mode, blocked sessions.
    Locks,
    /// The background writer and the checkpointer.
    Bgwriter,
    /// WAL position (all versions) and `pg_stat_wal` (14+).
    Wal,
    /// Replicas' lag, slots' retained WAL, a standby's replay delay.
    Replication,
    /// Table statistics, per database.
    Tables,
    /// Index statistics, per database, with unused indexes flagged.
    Indexes,
    /// `pg_stat_statements`, when installed.
    Statements,
    /// `pg_stat_io` (16+).
    Io,
    /// The host, from `/proc` (not per target).
    Host,
}

impl Family {
    /// Every family.
    pub const ALL: [Self; 11] = [
        Self::Database,
        Self::Activity,
        Self::Locks,
        Self::Bgwriter,
        Self::Wal,
        Self::Replication,
        Self::Tables,
        Self::Indexes,
        Self::Statements,
        Self::Io,
        Self::Host,
    ];

    /// Its name in configuration and logs.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Database => "database",
            Self::Activity => "activity",
            Self::Locks => "locks",
            Self::Bgwriter => "bgwriter",
            Self::Wal => "wal",
            Self::Replication => "replication",
            Self::Tables => "tables",
            Self::Indexes => "indexes",
            Self::Statements => "statements",
            Self::Io => "io",
            Self::Host => "host",
        }
    }
}

/// What one pass of one target produced.
#[derive(Debug)]
pub struct Out {
    /// When the pass ran (every sample's time).
    pub ts: DateTime<Utc>,
    /// The samples.
    pub samples: Vec<Sample>,
    /// Statement texts by query id, sent once per statement.
    pub statements: BTreeMap<String, String>,
    /// `(family, reason)` of what was skipped.
    pub skipped: Vec<(String, String)>,
}

impl Default for Out {
    fn default() -> Self {
        Self {
            ts: Utc::now(),
            samples: Vec::new(),
            statements: BTreeMap::new(),
            skipped: Vec::new(),
        }
    }
}

impl Out {
    fn push(&mut self, metric: &str, labels: &[(&str, String)], value: f64, counter: bool) {
        if !value.is_finite() {
            return;
        }
        self.samples.push(Sample {
            metric: metric.to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            value,
            ts: self.ts,
            counter,
        });
    }

    /// A gauge.
    pub fn gauge(&mut self, metric: &str, labels: &[(&str, String)], value: f64) {
        self.push(metric, labels, value, false);
    }

    /// A cumulative counter.
    pub fn counter(&mut self, metric: &str, labels: &[(&str, String)], value: f64) {
        self.push(metric, labels, value, true);
    }

    /// Records that (part of) a family was skipped, and why.
    pub fn skip(&mut self, family: &str, reason: &str) {
        self.skipped.push((family.to_owned(), reason.to_owned()));
    }
}

/// Gauge or counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gauge,
    Counter,
}
use Kind::{Counter, Gauge};

/// A declared query: label columns, then one value column per metric.
struct Query {
    family: Family,
    /// Lowest `server_version_num` it runs on.
    min_version: i32,
    /// Highest `server_version_num` it runs on (exclusive).
    below_version: i32,
    /// Only where the server is not a standby.
    primary_only: bool,
    labels: &'static [&'static str],
    metrics: &'static [(&'static str, Kind)],
    sql: &'static str,
}

const ANY: i32 = i32::MAX;

const DATABASE: Query = Query {
    family: Family::Database,
    min_version: 12_00_00,
    below_version: ANY,
    primary_only: false,
    labels: &["database"],
    metrics: &[
        ("pg_database_numbackends", Gauge),
        ("pg_database_xact_commit_total", Counter),
        ("pg_database_xact_rollback_total", Counter),
        ("pg_database_blks_read_total", Counter),
        ("pg_database_blks_hit_total", Counter),
        ("pg_database_tup_returned_total", Counter),
        ("pg_database_tup_fetched_total", Counter),
        ("pg_database_tup_inserted_total", Counter),
        ("pg_database_tup_updated_total", Counter),
        ("pg_database_tup_deleted_total", Counter),
        ("pg_database_conflicts_total", Counter),
        ("pg_database_temp_files_total", Counter),
        ("pg_database_temp_bytes_total", Counter),
        ("pg_database_deadlocks_total", Counter),
        ("pg_database_checksum_failures_total", Counter),
        ("pg_database_blk_read_time_ms_total", Counter),
        ("pg_database_blk_write_time_ms_total", Counter),
        ("pg_database_size_bytes", Gauge),
    ],
    sql: "SELECT d.datname::text,
                 d.numbackends::float8, d.xact_commit::float8, d.xact_rollback::float8,
                 d.blks_read::float8, d.blks_hit::float8, d.tup_returned::float8,
                 d.tup_fetched::float8, d.tup_inserted::float8, d.tup_updated::float8,
                 d.tup_deleted::float8, d.conflicts::float8, d.temp_files::float8,
                 d.temp_bytes::float8, d.deadlocks::float8, d.checksum_failures::float8,
                 d.blk_read_time::float8, d.blk_write_time::float8,
                 CASE WHEN has_database_privilege(d.datid, 'CONNECT')
                      THEN pg_database_size(d.datid)::float8 END
            FROM pg_stat_database d
            JOIN pg_database db ON db.oid = d.datid
           WHERE NOT db.datistemplate",
};

/// Transaction ID age of each database (`age(datfrozenxid)`): wraparound stops writes at about
/// 2.1 billion; the built-in `xid_wraparound` rule watches it.
const DATABASE_XID_AGE: Query = Query {
    family: Family::Database,
    min_version: 12_00_00,
    below_version: ANY,
    primary_only: false,
    labels: &["database"],
    metrics: &[("pg_database_xid_age", Gauge)],
    sql: "SELECT datname::text, age(datfrozenxid)::float8 FROM pg_database WHERE datallowconn",
};

const DATABASE_SESSIONS: Query = Query {
    family: Family::Database,
    min_version: 14_00_00,
    below_version: ANY,
    primary_only: false,
    labels: &["database"],
    metrics: &[
        ("pg_database_sessions_total", Counter),
        ("pg_database_sessions_abandoned_total", Counter),
        ("pg_database_sessions_fatal_total", Counter),
        ("pg_database_sessions_killed_total", Counter),
        ("pg_database_session_time_ms_total", Counter),
        ("pg_database_active_time_ms_total", Counter),
        ("pg_database_idle_in_transaction_time_ms_total", Counter),
    ],
    sql: "SELECT d.datname::text, d.sessions::float8, d.sessions_abandoned::float8,
                 d.sessions_fatal::float8, d.sessions_killed::float8, d.session_time::float8,
                 d.active_time::float8, d.idle_in_transaction_time::float8
            FROM pg_stat_database d
            JOIN pg_database db ON db.oid = d.datid
           WHERE NOT db.datistemplate",
};

const ACTIVITY_STATES: Query = Query {
    family: Family::Activity,
    min_version: 12_00_00,
    below_version: ANY,
    primary_only: false,
    labels: &["database", "state"],
    metrics: &[("pg_activity_connections", Gauge)],
    sql: "SELECT coalesce(datname, '')::text, coalesce(state, 'unknown')::text, count(*)::float8
            FROM pg_stat_activity
           WHERE backend_type = 'client backend'
           GROUP BY 1, 2",
};

const ACTIVITY_WAITS: Query = Query {
    family: Family::Activity,
    min_version: 12_00_00,
    below_version: ANY,
    primary_only: false,
    labels: &["wait_event_type", "wait_event"],
    metrics: &[("pg_activity_waiting", Gauge)],
    sql: "SELECT wait_event_type::text, wait_event::text, count(*)::float8
            FROM pg_stat_activity
           WHERE backend_type = 'client backend' AND state = 'active'
             AND wait_event IS NOT NULL
           GROUP BY 1, 2",
};

const ACTIVITY_AGES: Query = Query {
    family: Family::Activity,
    min_version: 12_00_00,
    below_version: ANY,
    primary_only: false,
    labels: &[],
    metrics: &[
        ("pg_activity_max_xact_age_seconds", Gauge),
        ("pg_activity_max_query_age_seconds", Gauge),
        ("pg_activity_idle_in_transaction", Gauge),
        ("pg_activity_total", Gauge),
        ("pg_settings_max_connections", Gauge),
    ],
    sql: "SELECT coalesce(max(extract(epoch FROM now() - xact_start)), 0)::float8,
                 coalesce(max(extract(epoch FROM now() - query_start))
                          FILTER (WHERE state = 'active'), 0)::float8,
                 count(*) FILTER (WHERE state LIKE 'idle in transaction%')::float8,
                 count(*)::float8,
                 current_setting('max_connections')::float8
            FROM pg_stat_activity
           WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
};

const LOCKS: Query = Query {
    family: Family::Locks,
    min_version: 12_00_00,
    below_version: ANY,
    primary_only: false,
    labels: &["mode"],
    metrics: &[("pg_locks_granted", Gauge), ("pg_locks_waiting", Gauge)],
    sql: "SELECT mode::text, count(*) FILTER (WHERE granted)::float8,
                 count(*) FILTER (WHERE NOT granted)::float8
            FROM pg_locks GROUP BY 1",
};

const LOCKS_BLOCKED: Query = Query {
    family: Family::Locks,
    min_version: 12_00_00,
    below_version: ANY,
    primary_only: false,
    labels: &[],
    metrics: &[("pg_locks_blocked_sessions", Gauge)],
    sql: "SELECT count(DISTINCT pid)::float8 FROM pg_locks WHERE NOT granted",
};

const BGWRITER_OLD: Query = Query {
    family: Family::Bgwriter,
    min_version: 12_00_00,
    below_version: 17_00_00,
    primary_only: false,
    labels: &[],
    metrics: &[
        ("pg_checkpoints_timed_total", Counter),
        ("pg_checkpoints_requested_total", Counter),
        ("pg_checkpoint_write_time_ms_total", Counter),
        ("pg_checkpoint_sync_time_ms_total", Counter),
        ("pg_checkpoint_buffers_written_total", Counter),
        ("pg_bgwriter_buffers_clean_total", Counter),
        ("pg_bgwriter_maxwritten_clean_total", Counter),
        ("pg_bgwriter_buffers_alloc_total", Counter),
        ("pg_bgwriter_buffers_backend_total", Counter),
        ("pg_bgwriter_buffers_backend_fsync_total", Counter),
    ],
    sql: "SELECT checkpoints_timed::float8, checkpoints_req::float8,
                 checkpoint_write_time::float8, checkpoint_sync_time::float8,
                 buffers_checkpoint::float8, buffers_clean::float8, maxwritten_clean::float8,
                 buffers_alloc::float8, buffers_backend::float8, buffers_backend_fsync::float8
            FROM pg_stat_bgwriter",
};

const BGWRITER_17: Query = Query {
    family: Family::Bgwriter,
    min_version: 17_00_00,
    below_version: ANY,
    primary_only: false,
    labels: &[],
    metrics: &[
        ("pg_checkpoints_timed_total", Counter),
        ("pg_checkpoints_requested_total", Counter),
        ("pg_checkpoint_write_time_ms_total", Counter),
        ("pg_checkpoint_sync_time_ms_total", Counter),
        ("pg_checkpoint_buffers_written_total", Counter),
        ("pg_bgwriter_buffers_clean_total", Counter),
        ("pg_bgwriter_maxwritten_clean_total", Counter),
        ("pg_bgwriter_buffers_alloc_total", Counter),
    ],
    sql: "SELECT c.num_timed::float8, c.num_requested::float8, c.write_time::float8,
                 c.sync_time::float8, c.buffers_written::float8, b.buffers_clean::float8,
                 b.maxwritten_clean::float8, b.buffers_alloc::float8
            FROM pg_stat_checkpointer c, pg_stat_bgwriter b",
};

const WAL_POSITION: Query = Query {
    family: Family::Wal,
    min_version: 12_00_00,
    below_version: ANY,
    primary_only: false,
    labels: &[],
    metrics: &[("pg_wal_lsn_bytes", Counter)],
    sql: "SELECT (CASE WHEN pg_is_in_recovery()
                       THEN pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')
                       ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') END)::float8",
};

const WAL_STATS: Query = Query {
    family: Family::Wal,
    min_version: 14_00_00,
    below_version: ANY,
    primary_only: false,
    labels: &[],
    metrics: &[
        ("pg_wal_records_total", Counter),
        ("pg_wal_fpi_total", Counter),
        ("pg_wal_bytes_total", Counter),
        ("pg_wal_buffers_full_total", Counter),
        ("pg_wal_write_total", Counter),
        ("pg_wal_sync_total", Counter),
        ("pg_wal_write_time_ms_total", Counter),
        ("pg_wal_sync_time_ms_total", Counter),
    ],
    sql: "SELECT wal_records::float8, wal_fpi::float8, wal_bytes::float8,
                 wal_buffers_full::float8, wal_write::float8, wal_sync::float8,
                 wal_write_time::float8, wal_sync_time::float8
            FROM pg_stat_wal",
};

const REPLICAS_BYTES: Query = Query {
    family: Family::Replication,
    min_version: 12_00_00,
    below_version: ANY,
    primary_only: true,
    labels: &["application_name", "client_addr", "state", "sync_state"],
    metrics: &[("pg_replication_lag_bytes", Gauge)],
    sql: "SELECT coalesce(application_name, '')::text, coalesce(client_addr::text, 'local'),
                 coalesce(state, '')::text, coalesce(sync_state, '')::text,
                 pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8
            FROM pg_stat_replication",
};

const REPLICAS_SECONDS: Query = Query {
    family: Family::Replication,
    min_version: 12_00_00,
    below_version: ANY,
    primary_only: true,
    labels: &[
        "application_name",
        "client_addr",
        "state",
        "sync_state",
        "kind",
    ],
    metrics: &[("pg_replication_lag_seconds", Gauge)],
    sql: "SELECT coalesce(r.application_name, '')::text, coalesce(r.client_addr::text, 'local'),
                 coalesce(r.state, '')::text, coalesce(r.sync_state, '')::text, k.kind,
                 extract(epoch FROM k.lag)::float8
            FROM pg_stat_replication r
           CROSS JOIN LATERAL (VALUES ('write', r.write_lag), ('flush', r.flush_lag),
                                      ('replay', r.replay_lag)) AS k(kind, lag)",
};

const SLOTS: Query = Query {
    family: Family::Replication,
    min_version: 12_00_00,
    below_version: ANY,
    primary_only: false,
    labels: &["slot_name", "slot_type"],
    metrics: &[
        ("pg_replication_slot_active", Gauge),
        ("pg_replication_slot_retained_wal_bytes", Gauge),
    ],
    sql: "SELECT slot_name::text, slot_type::text, active::int::float8,
                 (CASE WHEN pg_is_in_recovery() THEN NULL
                       ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) END)::float8
            FROM pg_replication_slots",
};

const STANDBY_DELAY: Query = Query {
    family: Family::Replication,
    min_version: 12_00_00,
    below_version: ANY,
    primary_only: false,
    labels: &[],
    metrics: &[("pg_replication_replay_delay_seconds", Gauge)],
    sql: "SELECT (CASE WHEN pg_is_in_recovery()
                       THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END)::float8",
};

const IO: Query = Query {
    family: Family::Io,
    min_version: 16_00_00,
    below_version: ANY,
    primary_only: false,
    labels: &["backend_type", "object", "context"],
    metrics: &[
        ("pg_io_reads_total", Counter),
        ("pg_io_writes_total", Counter),
        ("pg_io_extends_total", Counter),
        ("pg_io_hits_total", Counter),
        ("pg_io_evictions_total", Counter),
        ("pg_io_reuses_total", Counter),
        ("pg_io_fsyncs_total", Counter),
        ("pg_io_read_time_ms_total", Counter),
        ("pg_io_write_time_ms_total", Counter),
    ],
    sql: "SELECT backend_type::text, object::text, context::text, reads::float8,
                 writes::float8, extends::float8, hits::float8, evictions::float8,
                 reuses::float8, fsyncs::float8, read_time::float8, write_time::float8
            FROM pg_stat_io",
};

/// Per database; `$1` is the most relations reported.
const TABLES: Query = Query {
    family: Family::Tables,
    min_version: 12_00_00,
    below_version: ANY,
    primary_only: false,
    labels: &["schema", "table"],
    metrics: &[
        ("pg_table_seq_scan_total", Counter),
        ("pg_table_seq_tup_read_total", Counter),
        ("pg_table_idx_scan_total", Counter),
        ("pg_table_idx_tup_fetch_total", Counter),
        ("pg_table_tup_inserted_total", Counter),
        ("pg_table_tup_updated_total", Counter),
        ("pg_table_tup_deleted_total", Counter),
        ("pg_table_tup_hot_updated_total", Counter),
        ("pg_table_live_tuples", Gauge),
        ("pg_table_dead_tuples", Gauge),
        ("pg_table_modified_since_analyze", Gauge),
        ("pg_table_vacuum_total", Counter),
        ("pg_table_autovacuum_total", Counter),
        ("pg_table_analyze_total", Counter),
        ("pg_table_autoanalyze_total", Counter),
        ("pg_table_last_vacuum_timestamp_seconds", Gauge),
        ("pg_table_last_autovacuum_timestamp_seconds", Gauge),
        ("pg_table_last_analyze_timestamp_seconds", Gauge),
        ("pg_table_last_autoanalyze_timestamp_seconds", Gauge),
        ("pg_table_size_bytes", Gauge),
        ("pg_table_heap_blks_read_total", Counter),
        ("pg_table_heap_blks_hit_total", Counter),
    ],
    sql: "SELECT s.schemaname::text, s.relname::text,
                 s.seq_scan::float8, s.seq_tup_read::float8, s.idx_scan::float8,
                 s.idx_tup_fetch::float8, s.n_tup_ins::float8, s.n_tup_upd::float8,
                 s.n_tup_del::float8, s.n_tup_hot_upd::float8, s.n_live_tup::float8,
                 s.n_dead_tup::float8, s.n_mod_since_analyze::float8, s.vacuum_count::float8,
                 s.autovacuum_count::float8, s.analyze_count::float8,
                 s.autoanalyze_count::float8,
                 extract(epoch FROM s.last_vacuum)::float8,
                 extract(epoch FROM s.last_autovacuum)::float8,
                 extract(epoch FROM s.last_analyze)::float8,
                 extract(epoch FROM s.last_autoanalyze)::float8,
                 pg_total_relation_size(s.relid)::float8,
                 io.heap_blks_read::float8, io.heap_blks_hit::float8
            FROM pg_stat_user_tables s
            JOIN pg_statio_user_tables io ON io.relid = s.relid
            JOIN pg_class c ON c.oid = s.relid
           ORDER BY c.relpages DESC, s.relid
           LIMIT $1",
};

/// Per database; `$1` is the most relations reported.
const INDEXES: Query = Query {
    family: Family::Indexes,
    min_version: 12_00_00,
    below_version: ANY,
    primary_only: false,
    labels: &["schema", "table", "index"],
    metrics: &[
        ("pg_index_scans_total", Counter),
        ("pg_index_tuples_read_total", Counter),
        ("pg_index_tuples_fetched_total", Counter),
        ("pg_index_size_bytes", Gauge),
        ("pg_index_unused", Gauge),
    ],
    sql: "SELECT s.schemaname::text, s.relname::text, s.indexrelname::text,
                 s.idx_scan::float8, s.idx_tup_read::float8, s.idx_tup_fetch::float8,
                 pg_relation_size(s.indexrelid)::float8,
                 (s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary)::int::float8
            FROM pg_stat_user_indexes s
            JOIN pg_index i ON i.indexrelid = s.indexrelid
            JOIN pg_class c ON c.oid = s.indexrelid
           ORDER BY c.relpages DESC, s.indexrelid
           LIMIT $1",
};

/// Cluster-wide queries, in the order they run.
const CLUSTER_QUERIES: [&Query; 17] = [
    &DATABASE,
    &DATABASE_XID_AGE,
    &DATABASE_SESSIONS,
    &ACTIVITY_STATES,
    &ACTIVITY_WAITS,
    &ACTIVITY_AGES,
    &LOCKS,
    &LOCKS_BLOCKED,
    &BGWRITER_OLD,
    &BGWRITER_17,
    &WAL_POSITION,
    &WAL_STATS,
    &REPLICAS_BYTES,
    &REPLICAS_SECONDS,
    &SLOTS,
    &STANDBY_DELAY,
    &IO,
];

fn version_text(num: i32) -> String {
    format!("{}.{}", num / 10_000, num % 10_000)
}

/// Collection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `statement_timeout` of every query.
    pub statement_timeout: Duration,
    /// Most tables and indexes per database.
    pub max_relations: u32,
    /// Most statements per pass.
    pub max_statements: u32,
    /// The `application_name` of the collector's sessions.
    pub application_name: &'static str,
}

/// One monitored server: its connections (kept between passes) and what was already said.
pub struct TargetCollector {
    target: Target,
    connector: PgConnector,
    limits: Limits,
    main: Option<Client>,
    per_db: HashMap<String, Client>,
    version: i32,
    in_recovery: bool,
    said: HashSet<String>,
    sent_statements: HashSet<String>,
}

impl TargetCollector {
    /// A collector of `target` (it connects on its first pass).
    pub fn new(target: Target, connector: PgConnector, limits: Limits) -> Self {
        Self {
            target,
            connector,
            limits,
            main: None,
            per_db: HashMap::new(),
            version: 0,
            in_recovery: false,
            said: HashSet::new(),
            sent_statements: HashSet::new(),
        }
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Process ids of this collector's sessions on the server.
    pub async fn session_pids(&self, application_name: &str) -> Vec<i32> {
        let Some(main) = &self.main else {
            return Vec::new();
        };
        main.query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
            &[&application_name],
        )
        .await
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .unwrap_or_default()
    }

    async fn connect(&self, dbname: &str) -> Result<Client, String> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.target.host)
            .port(self.target.port)
            .user(&self.target.user)
            .dbname(dbname)
            .application_name(self.limits.application_name)
            .connect_timeout(Duration::from_secs(self.target.connect_timeout_s))
            .options(format!(
                "-c statement_timeout={} -c lock_timeout=1000 -c idle_in_transaction_session_timeout=60000",
                self.limits.statement_timeout.as_millis()
            ));
        let password = self.target.password();
        if let Some(password) = &password {
            config.password(password);
        }
        let attempt = self.connector.connect(config, self.target.sslmode);
        match tokio::time::timeout(
            Duration::from_secs(self.target.connect_timeout_s.max(1)),
            attempt,
        )
        .await
        {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(e)) => {
                let mut message = match &e {
                    pgconn::ConnectError::Postgres(e) => pg_error(e),
                    other => other.to_string(),
                };
                if let Some(p) = password.filter(|p| !p.is_empty()) {
                    message = message.replace(&p, "<password>");
                }
                Err(message)
            }
            Err(_) => Err(format!(
                "no answer within {} s (connect_timeout_s)",
                self.target.connect_timeout_s
            )),
        }
    }

    /// Logs a skip or an error once per distinct message (they repeat every pass otherwise).
    fn say_once(&mut self, family: Family, reason: &str, out: &mut Out, error: bool) {
        out.skip(family.name(), reason);
        let key = format!("{}:{reason}", family.name());
        if self.said.insert(key) {
            if error {
                tracing::warn!(target = %self.target.name, family = family.name(), "{reason}");
            } else {
                tracing::info!(target = %self.target.name, family = family.name(), "skipped: {reason}");
            }
        }
    }

    /// One pass over the due families. An unreachable server gives `pg_up 0` and nothing else.
    // Over 60 lines on purpose: one arm per family, each naming its query and metrics.
    pub async fn collect(&mut self, families: &[Family], out: &mut Out) {
        if self.main.as_ref().is_none_or(Client::is_closed) {
            self.main = None;
            self.per_db.clear();
            match self.connect(&self.target.dbname.clone()).await {
                Ok(client) => self.main = Some(client),
                Err(message) => {
                    out.gauge("pg_up", &[], 0.0);
                    let key = format!("down:{message}");
                    if self.said.insert(key) {
                        tracing::warn!(target = %self.target.name, "target down: {message}");
                    }
                    out.skip("up", &message);
                    return;
                }
            }
        }
        let Some(main) = self.main.take() else {
            return;
        };
        match main
            .query_one(
                "SELECT current_setting('server_version_num')::int4,
                        extract(epoch FROM pg_postmaster_start_time())::float8,
                        pg_is_in_recovery()",
                &[],
            )
            .await
        {
            Ok(row) => {
                self.version = row.get(0);
                self.in_recovery = row.get(2);
                out.gauge("pg_up", &[], 1.0);
                out.gauge("pg_server_version_num", &[], f64::from(self.version));
                out.gauge("pg_postmaster_start_time_seconds", &[], row.get(1));
                out.gauge(
                    "pg_in_recovery",
                    &[],
                    if self.in_recovery { 1.0 } else { 0.0 },
                );
                // Successive down messages are worth saying again after a recovery.
                self.said.retain(|k| !k.starts_with("down:"));
            }
            Err(e) => {
                out.gauge("pg_up", &[], 0.0);
                tracing::warn!(target = %self.target.name, "target down: {}", pg_error(&e));
                out.skip("up", &pg_error(&e));
                if !main.is_closed() {
                    self.main = Some(main);
                }
                return;
            }
        }
        if self.version < 12_00_00 {
            self.say_once(
                Family::Database,
                &format!(
                    "PostgreSQL {} is older than 12, which this collector supports",
                    version_text(self.version)
                ),
                out,
                true,
            );
            self.main = Some(main);
            return;
        }
        for query in CLUSTER_QUERIES
            .iter()
            .filter(|q| families.contains(&q.family))
        {
            self.run(&main, query, &[], &[], out).await;
        }
        if families.contains(&Family::Statements) {
            self.statements(&main, out).await;
        }
        let per_db: Vec<Family> = families
            .iter()
            .copied()
            .filter(|f| matches!(f, Family::Tables | Family::Indexes))
            .collect();
        if !per_db.is_empty() {
            self.per_database(&main, &per_db, out).await;
        }
        if !main.is_closed() {
            self.main = Some(main);
        }
    }

    /// Runs a declared query, if this server's version has it.
    async fn run(
        &mut self,
        client: &Client,
        query: &Query,
        params: &[&(dyn ToSql + Sync)],
        extra: &[(&str, String)],
        out: &mut Out,
    ) {
        // A family's variant for newer servers is not "missing" where an older variant runs.
        let has_older_variant = CLUSTER_QUERIES
            .iter()
            .any(|q| q.family == query.family && q.below_version == query.min_version);
        if self.version < query.min_version && has_older_variant {
            return;
        }
        if self.version < query.min_version {
            let reason = format!(
                "{} needs PostgreSQL {} (this server is {})",
                query.metrics[0].0,
                query.min_version / 10_000,
                version_text(self.version)
            );
            self.say_once(query.family, &reason, out, false);
            return;
        }
        if self.version >= query.below_version || (query.primary_only && self.in_recovery) {
            return;
        }
        let rows = match client.query(query.sql, params).await {
            Ok(rows) => rows,
            Err(e) => {
                let reason = format!("{} query failed: {}", query.family.name(), pg_error(&e));
                self.say_once(query.family, &reason, out, true);
                return;
            }
        };
        let n = query.labels.len();
        for row in rows {
            let mut labels: Vec<(&str, String)> = extra.to_vec();
            for (i, name) in query.labels.iter().enumerate() {
                labels.push((name, row.get::<_, Option<String>>(i).unwrap_or_default()));
            }
            for (j, (metric, kind)) in query.metrics.iter().enumerate() {
                if let Some(v) = row.get::<_, Option<f64>>(n + j) {
                    match kind {
                        Gauge => out.gauge(metric, &labels, v),
                        Counter => out.counter(metric, &labels, v),
                    }
                }
            }
        }
    }

    /// Tables and indexes of every database (each through its own connection, kept).
    async fn per_database(&mut self, main: &Client, families: &[Family], out: &mut Out) {
        let names: Vec<String> = match main
            .query(
                "SELECT datname::text FROM pg_database
                  WHERE datallowconn AND NOT datistemplate
                    AND has_database_privilege(datname, 'CONNECT')
                  ORDER BY 1",
                &[],
            )
            .await
        {
            Ok(rows) => rows.iter().map(|r| r.get(0)).collect(),
            Err(e) => {
                let reason = format!("cannot list databases: {}", pg_error(&e));
                self.say_once(families[0], &reason, out, true);
                return;
            }
        };
        let names: Vec<String> = names
            .into_iter()
            .filter(|d| {
                self.target
                    .databases
                    .as_ref()
                    .is_none_or(|only| only.contains(d))
                    && !self.target.exclude_databases.contains(d)
            })
            .collect();
        self.per_db
            .retain(|d, c| names.contains(d) && !c.is_closed());
        let limit = i64::from(self.limits.max_relations);
        for db in names {
            let client = match self.per_db.remove(&db) {
                Some(c) => c,
                None => match self.connect(&db).await {
                    Ok(c) => c,
                    Err(message) => {
                        self.say_once(families[0], &format!("database {db}: {message}"), out, true);
                        continue;
                    }
                },
            };
            let label = [("database", db.clone())];
            for family in families {
                let query = if *family == Family::Tables {
                    &TABLES
                } else {
                    &INDEXES
                };
                self.run(&client, query, &[&limit], &label, out).await;
            }
            if !client.is_closed() {
                self.per_db.insert(db, client);
            }
        }
    }

    /// `pg_stat_statements` (every database's statements), read through the target's own
    /// database, where the extension must be installed.
    // Over 60 lines on purpose: pg_stat_statements differs across PostgreSQL 12-17; the column choice and the folding stay together.
    async fn statements(&mut self, main: &Client, out: &mut Out) {
        let installed = main
            .query_opt(
                "SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                  WHERE e.extname = 'pg_stat_statements'",
                &[],
            )
            .await;
        let schema: String = match installed {
            Ok(Some(row)) => row.get(0),
            Ok(None) => {
                self.say_once(
                    Family::Statements,
                    &format!(
                        "pg_stat_statements is not installed in database {} (CREATE EXTENSION pg_stat_statements)",
                        self.target.dbname
                    ),
                    out,
                    false,
                );
                return;
            }
            Err(e) => {
                let reason = format!("statements query failed: {}", pg_error(&e));
                self.say_once(Family::Statements, &reason, out, true);
                return;
            }
        };
        let (time, extra) = if self.version >= 13_00_00 {
            ("total_exec_time", "sum(s.wal_bytes)::float8")
        } else {
            ("total_time", "NULL::float8")
        };
        let schema = schema.replace('"', "\"\"");
        let sql = format!(
            "SELECT d.datname::text, s.queryid::text, sum(s.calls)::float8,
                    sum(s.{time})::float8, sum(s.rows)::float8, sum(s.shared_blks_hit)::float8,
                    sum(s.shared_blks_read)::float8, {extra}, left(min(s.query), 4000)
               FROM \"{schema}\".pg_stat_statements s
               JOIN pg_database d ON d.oid = s.dbid
              WHERE s.queryid IS NOT NULL
              GROUP BY 1, 2
              ORDER BY 4 DESC
              LIMIT $1"
        );
        let limit = i64::from(self.limits.max_statements);
        let rows = match main.query(&sql, &[&limit]).await {
            Ok(rows) => rows,
            Err(e) => {
                let reason = format!("pg_stat_statements unreadable: {}", pg_error(&e));
                self.say_once(Family::Statements, &reason, out, true);
                return;
            }
        };
        for row in rows {
            let database: String = row.get(0);
            let queryid: String = row.get(1);
            let labels = [("database", database), ("queryid", queryid.clone())];
            let calls: f64 = row.get::<_, Option<f64>>(2).unwrap_or(0.0);
            let total: f64 = row.get::<_, Option<f64>>(3).unwrap_or(0.0);
            out.counter("pg_statement_calls_total", &labels, calls);
            out.counter("pg_statement_exec_time_ms_total", &labels, total);
            if calls > 0.0 {
                out.gauge("pg_statement_mean_time_ms", &labels, total / calls);
            }
            for (i, metric) in [
                (4, "pg_statement_rows_total"),
                (5, "pg_statement_shared_blks_hit_total"),
                (6, "pg_statement_shared_blks_read_total"),
                (7, "pg_statement_wal_bytes_total"),
            ] {
                if let Some(v) = row.get::<_, Option<f64>>(i) {
                    out.counter(metric, &labels, v);
                }
            }
            if let Some(text) = row.get::<_, Option<String>>(8) {
                if self.sent_statements.insert(queryid.clone()) {
                    // Utility statements keep their literals (passwords): never send them.
                    let text = domain::metrics::redact_statement(&text).into_owned();
                    out.statements.insert(queryid, text);
                }
            }
        }
    }
}

/// A PostgreSQL error in words (the server's message when there is one).
pub fn pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    }
}
