//! The collector's configuration: a TOML file, overridden by `PGA_COLLECTOR_*` environment
//! variables (`__` separates levels: `PGA_COLLECTOR_SERVER__REGISTRATION_SECRET`). Unknown keys
//! refuse the start and are named. Secrets never appear in `Debug` output or logs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use domain::managed_instance::SslMode;
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::{Deserialize, Deserializer};

use crate::families::Family;

pub use domain::values::Secret;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where batches go.
    pub server: ServerConfig,
    /// Who this collector is and where it keeps its state.
    #[serde(default)]
    pub collector: IdentityConfig,
    /// How often each family is collected.
    #[serde(default)]
    pub schedule: ScheduleConfig,
    /// The on-disk spool.
    #[serde(default)]
    pub spool: SpoolConfig,
    /// Host statistics from `/proc`.
    #[serde(default)]
    pub host: HostConfig,
    /// The PostgreSQL servers to monitor.
    #[serde(default, rename = "target")]
    pub targets: Vec<Target>,
}

/// How batches travel.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// `POST /api/v1/metrics/push`, gzip-compressed.
    #[default]
    Http,
    /// JetStream publish to `<prefix>.metrics.<collector id>`, awaiting the ack.
    Nats,
}

/// The pgAnalytics server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The API's base URL, e.g. `http://pganalytics:4000` (registration and tokens always use
    /// it; batches too unless `transport = "nats"`).
    pub url: String,
    /// `http` (default) or `nats`.
    #[serde(default)]
    pub transport: Transport,
    /// NATS URL, for `transport = "nats"`.
    #[serde(default)]
    pub nats_url: Option<String>,
    /// The server's stream prefix (`pga` unless the server was told otherwise).
    #[serde(default = "default_prefix")]
    pub nats_prefix: String,
    /// The registration secret, needed only for the first start (better given by env:
    /// `PGA_COLLECTOR_SERVER__REGISTRATION_SECRET`).
    #[serde(default)]
    pub registration_secret: Option<Secret>,
    /// Seconds one request or publish may take.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_s: u64,
}

fn default_prefix() -> String {
    "pga".into()
}
const fn default_request_timeout() -> u64 {
    10
}

/// Identity and state.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// The name shown in pgAnalytics (default: `<hostname> collector`).
    #[serde(default)]
    pub name: Option<String>,
    /// The state file: collector id and refresh secret, mode 0600.
    #[serde(default = "default_state_file")]
    pub state_file: PathBuf,
}

fn default_state_file() -> PathBuf {
    PathBuf::from("/var/lib/pganalytics-collector/state.json")
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            name: None,
            state_file: default_state_file(),
        }
    }
}

/// The presets of per-family intervals.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Health only, every minute; the heavier families every five minutes or never.
    Minimal,
    /// About one push a minute; table and index statistics every five minutes.
    #[default]
    Standard,
    /// Everything every 15 seconds; tables and indexes every minute.
    Exhaustive,
}

impl Preset {
    /// Seconds between collections of `family` (0: never).
    pub const fn interval_s(self, family: Family) -> u64 {
        use Family::{
            Activity, Bgwriter, Database, Host, Indexes, Io, Locks, Replication, Statements,
            Tables, Wal,
        };
        match (self, family) {
            (Self::Minimal, Database | Activity | Replication | Host) => 60,
            (Self::Minimal, Bgwriter | Wal) => 300,
            (Self::Minimal, Locks | Tables | Indexes | Statements | Io) => 0,
            (Self::Standard, Tables | Indexes | Io) => 300,
            (Self::Standard, _) => 60,
            (Self::Exhaustive, Tables | Indexes) => 60,
            (Self::Exhaustive, _) => 15,
        }
    }
}

/// Scheduling.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// `minimal`, `standard` (default) or `exhaustive`.
    #[serde(default)]
    pub preset: Preset,
    /// Per-family overrides in seconds (0 turns a family off), e.g. `tables = 120`.
    #[serde(default)]
    pub intervals: BTreeMap<Family, u64>,
    /// Each query's `statement_timeout`, in milliseconds.
    #[serde(default = "default_statement_timeout")]
    pub statement_timeout_ms: u64,
    /// Longest a whole collection pass may take, in seconds; what is not done by then is
    /// skipped for this pass.
    #[serde(default = "default_pass_timeout")]
    pub pass_timeout_s: u64,
    /// Most tables (and indexes) reported per database, the largest first.
    #[serde(default = "default_max_relations")]
    pub max_relations_per_database: u32,
    /// Most statements reported per pass, by total execution time.
    #[serde(default = "default_max_statements")]
    pub max_statements: u32,
}

const fn default_statement_timeout() -> u64 {
    2_000
}
const fn default_pass_timeout() -> u64 {
    10
}
const fn default_max_relations() -> u32 {
    500
}
const fn default_max_statements() -> u32 {
    100
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            preset: Preset::default(),
            intervals: BTreeMap::new(),
            statement_timeout_ms: default_statement_timeout(),
            pass_timeout_s: default_pass_timeout(),
            max_relations_per_database: default_max_relations(),
            max_statements: default_max_statements(),
        }
    }
}

impl ScheduleConfig {
    /// The interval of `family`, `None` when it is off.
    pub fn interval(&self, family: Family) -> Option<Duration> {
        let s = self
            .intervals
            .get(&family)
            .copied()
            .unwrap_or_else(|| self.preset.interval_s(family));
        (s > 0).then(|| Duration::from_secs(s))
    }
}

/// The spool.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// Its folder (default: `spool/` beside the state file).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Most bytes kept (compressed batches); past it the oldest are dropped and counted.
    #[serde(default = "default_spool_bytes")]
    pub max_bytes: u64,
    /// Oldest batch kept, in seconds; older ones are dropped and counted.
    #[serde(default = "default_spool_age")]
    pub max_age_s: u64,
    /// Spooled batches replayed per second once the server answers again (new data is sent
    /// at once besides).
    #[serde(default = "default_replay_rate")]
    pub replay_per_second: f64,
}

const fn default_spool_bytes() -> u64 {
    256 * 1024 * 1024
}
const fn default_spool_age() -> u64 {
    7 * 24 * 3600
}
const fn default_replay_rate() -> f64 {
    5.0
}

impl Default for SpoolConfig {
    fn default() -> Self {
        Self {
            dir: None,
            max_bytes: default_spool_bytes(),
            max_age_s: default_spool_age(),
            replay_per_second: default_replay_rate(),
        }
    }
}

/// Host statistics.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// `true`, `false`, or absent: on when a target is on this host (localhost or a socket).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// File systems whose size and free space are reported.
    #[serde(default = "default_disk_paths")]
    pub disk_paths: Vec<PathBuf>,
}

fn default_disk_paths() -> Vec<PathBuf> {
    vec![PathBuf::from("/")]
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            enabled: None,
            disk_paths: default_disk_paths(),
        }
    }
}

/// One PostgreSQL server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The name its batches carry as `instance` (use the managed instance's name in
    /// pgAnalytics, so its page shows these charts).
    pub name: String,
    /// Host name, address, or a Unix socket folder.
    #[serde(default = "default_host")]
    pub host: String,
    /// Port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Role to connect as (`pg_monitor` is enough).
    #[serde(default = "default_user")]
    pub user: String,
    /// The database to connect to first.
    #[serde(default = "default_dbname")]
    pub dbname: String,
    /// libpq's sslmode.
    #[serde(default = "default_sslmode", deserialize_with = "sslmode")]
    pub sslmode: SslMode,
    /// The name of an environment variable holding the password; without it, `~/.pgpass`
    /// (or `PGPASSFILE`) is read; a password in the file itself is refused.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Only these databases (default: every database that accepts connections).
    #[serde(default)]
    pub databases: Option<Vec<String>>,
    /// Never these databases.
    #[serde(default)]
    pub exclude_databases: Vec<String>,
    /// Seconds a connection attempt may take.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_s: u64,
}

fn default_host() -> String {
    "127.0.0.1".into()
}
const fn default_port() -> u16 {
    5432
}
fn default_user() -> String {
    "postgres".into()
}
fn default_dbname() -> String {
    "postgres".into()
}
const fn default_sslmode() -> SslMode {
    SslMode::Prefer
}
const fn default_connect_timeout() -> u64 {
    5
}

fn sslmode<'de, D: Deserializer<'de>>(d: D) -> Result<SslMode, D::Error> {
    let raw = String::deserialize(d)?;
    SslMode::parse(&raw).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "sslmode {raw:?} is not one of disable, prefer, require, verify-ca, verify-full"
        ))
    })
}

impl Target {
    /// Whether the server runs on this host.
    pub fn is_local(&self) -> bool {
        matches!(self.host.as_str(), "localhost" | "127.0.0.1" | "::1")
            || self.host.starts_with('/')
    }

    /// The password: from the named environment variable, else from the pgpass file.
    pub fn password(&self) -> Option<String> {
        if let Some(var) = &self.password_env {
            return std::env::var(var).ok();
        }
        let file = std::env::var_os("PGPASSFILE")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pgpass")))?;
        let text = std::fs::read_to_string(file).ok()?;
        pgpass_lookup(&text, &self.host, self.port, &self.dbname, &self.user)
    }
}

/// Finds a password in pgpass text (`host:port:database:user:password`, `*` matches anything,
/// `\:` and `\\` escaped).
pub fn pgpass_lookup(text: &str, host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    let port = port.to_string();
    let host = if host.starts_with('/') {
        "localhost"
    } else {
        host
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .find_map(|line| {
            let fields = split_pgpass(line);
            if fields.len() != 5 {
                return None;
            }
            let ok = |field: &str, want: &str| field == "*" || field == want;
            (ok(&fields[0], host)
                && ok(&fields[1], &port)
                && ok(&fields[2], db)
                && ok(&fields[3], user))
            .then(|| fields[4].clone())
        })
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(last)) = (chars.next(), fields.last_mut()) {
                    last.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(last) = fields.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    fields
}

/// A configuration that cannot be used, in words.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads the TOML file (when given) and the `PGA_COLLECTOR_*` environment.
    ///
    /// # Errors
    /// [`ConfigError`] naming the unknown key or the bad value.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError(format!(
                    "configuration file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        // LOG and CONFIG_FILE belong to the command line, not to the configuration.
        figment = figment.merge(
            Env::prefixed("PGA_COLLECTOR_")
                .ignore(&["log", "config_file"])
                .split("__"),
        );
        let config: Self = figment
            .extract()
            .map_err(|e| ConfigError(format!("configuration refused: {e}")))?;
        config.check()?;
        Ok(config)
    }

    /// Parses TOML text alone (tests, `check`).
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Self = Figment::new()
            .merge(Toml::string(text))
            .extract()
            .map_err(|e| ConfigError(format!("configuration refused: {e}")))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if !(self.server.url.starts_with("http://") || self.server.url.starts_with("https://")) {
            return Err(ConfigError(format!(
                "server.url {:?} must start with http:// or https://",
                self.server.url
            )));
        }
        if self.server.transport == Transport::Nats && self.server.nats_url.is_none() {
            return Err(ConfigError(
                "server.transport = \"nats\" needs server.nats_url".into(),
            ));
        }
        if self.targets.is_empty() {
            return Err(ConfigError(
                "no [[target]]: name at least one PostgreSQL server to monitor".into(),
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for t in &self.targets {
            if t.name.trim().is_empty() {
                return Err(ConfigError("a [[target]] has an empty name".into()));
            }
            if !names.insert(&t.name) {
                return Err(ConfigError(format!(
                    "two targets are named {:?}; names must differ",
                    t.name
                )));
            }
        }
        if !(self.spool.replay_per_second > 0.0 && self.spool.replay_per_second.is_finite()) {
            return Err(ConfigError(
                "spool.replay_per_second must be a positive number".into(),
            ));
        }
        if self.schedule.pass_timeout_s == 0 {
            return Err(ConfigError(
                "schedule.pass_timeout_s must be positive".into(),
            ));
        }
        Ok(())
    }

    /// The spool folder.
    pub fn spool_dir(&self) -> PathBuf {
        self.spool.dir.clone().unwrap_or_else(|| {
            self.collector
                .state_file
                .parent()
                .unwrap_or_else(|| Path::new("."))
                .join("spool")
        })
    }

    /// Whether host statistics are collected.
    pub fn host_enabled(&self) -> bool {
        self.host
            .enabled
            .unwrap_or_else(|| self.targets.iter().any(Target::is_local))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [server]
        url = "http://127.0.0.1:4000"
        [[target]]
        name = "local"
    "#;

    #[test]
    fn defaults_fill_in() {
        let c = Config::from_toml(MINIMAL).expect("config");
        assert_eq!(c.targets[0].port, 5432);
        assert_eq!(c.targets[0].sslmode, SslMode::Prefer);
        assert_eq!(c.schedule.preset, Preset::Standard);
        assert_eq!(
            c.schedule.interval(Family::Database),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            c.schedule.interval(Family::Tables),
            Some(Duration::from_secs(300))
        );
        assert!(c.host_enabled());
    }

    #[test]
    fn unknown_key_is_named() {
        let text = format!("{MINIMAL}\ncolour = \"blue\"\n");
        let e = Config::from_toml(&text).expect_err("refused");
        assert!(e.0.contains("colour"), "{e}");
        let text = MINIMAL.replace("name = \"local\"", "name = \"local\"\npasword = \"x\"");
        let e = Config::from_toml(&text).expect_err("refused");
        assert!(e.0.contains("pasword"), "{e}");
    }

    #[test]
    fn bad_values_are_explained() {
        let e = Config::from_toml(
            &MINIMAL.replace("name = \"local\"", "name = \"l\"\nsslmode = \"always\""),
        )
        .expect_err("refused");
        assert!(e.0.contains("always"), "{e}");
        let e = Config::from_toml("[server]\nurl = \"http://x\"\n").expect_err("refused");
        assert!(e.0.contains("target"), "{e}");
        let e = Config::from_toml(&MINIMAL.replace("http://127.0.0.1:4000", "ftp://x"))
            .expect_err("refused");
        assert!(e.0.contains("server.url"), "{e}");
    }

    #[test]
    fn overrides_and_presets() {
        let text = format!(
            "{MINIMAL}\n[schedule]\npreset = \"minimal\"\n[schedule.intervals]\ntables = 120\ndatabase = 0\n"
        );
        let c = Config::from_toml(&text).expect("config");
        assert_eq!(c.schedule.interval(Family::Database), None);
        assert_eq!(
            c.schedule.interval(Family::Tables),
            Some(Duration::from_secs(120))
        );
        assert_eq!(c.schedule.interval(Family::Locks), None);
        assert_eq!(
            Preset::Exhaustive.interval_s(Family::Activity),
            15,
            "exhaustive is every 15 s"
        );
    }

    #[test]
    fn pgpass_matches_like_libpq() {
        let text = "# comment\ndb1:5432:*:app:one\n*:*:*:postgres:p\\:w\\\\d\n";
        assert_eq!(
            pgpass_lookup(text, "db1", 5432, "x", "app").as_deref(),
            Some("one")
        );
        assert_eq!(
            pgpass_lookup(text, "other", 5433, "x", "postgres").as_deref(),
            Some("p:w\\d")
        );
        assert_eq!(pgpass_lookup(text, "db1", 5432, "x", "nobody"), None);
    }

    #[test]
    fn the_shipped_example_is_valid() {
        let c = Config::from_toml(include_str!(
            "../../docker/collector/collector.example.toml"
        ))
        .expect("example config");
        assert_eq!(
            c.targets[0].password_env.as_deref(),
            Some("PGA_MONITOR_PASSWORD")
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let text = MINIMAL.replace(
            "url = \"http://127.0.0.1:4000\"",
            "url = \"http://127.0.0.1:4000\"\nregistration_secret = \"pgas_topsecret\"",
        );
        let c = Config::from_toml(&text).expect("config");
        assert!(!format!("{c:?}").contains("topsecret"));
    }
}
