//! Typed configuration: `PGA_*` environment variables over an optional TOML file, read once at
//! start-up and validated with messages that say what to fix.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use domain::bus::BusNames;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

pub use domain::values::Secret;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    database_url: Option<String>,
    nats_url: String,
    listen: String,
    jwt_secret: Option<Secret>,
    encryption_key: Option<Secret>,
    nats_prefix: String,
    bootstrap_admin_username: Option<String>,
    bootstrap_admin_password: Option<Secret>,
    metrics_max_age_days: u32,
    retention_days: u32,
    command_wait_ms: u64,
    access_token_ttl_s: u64,
    agent_token_ttl_s: u64,
    refresh_token_ttl_days: u64,
    previous_encryption_keys: Option<Secret>,
    previous_jwt_secrets: Option<Secret>,
    check_interval_s: u64,
    alert_interval_s: u64,
    alert_builtin_rules: bool,
    public_url: Option<String>,
    max_series_per_collector: usize,
    dashboard_dir: String,
    rollup_1m_retention_days: u32,
    rollup_1h_retention_days: u32,
    rejected_retention_days: u32,
    expired_session_keep_days: u32,
    read_statement_timeout_ms: u64,
    max_concurrent_pushes: usize,
    http_request_timeout_s: u64,
    allow_unix_socket_hosts: bool,
    max_concurrent_hashes: Option<usize>,
    trusted_proxy_header: Option<String>,
    trusted_proxies: Option<String>,
    nats_creds: Option<String>,
    nats_user: Option<String>,
    nats_password: Option<Secret>,
    nats_collector_account: Option<String>,
    nats_collector_signing_key: Option<Secret>,
    metric_partitions: u16,
    nats_replicas: usize,
    worker_lease_ms: u64,
}

impl Default for Raw {
    fn default() -> Self {
        Self {
            database_url: None,
            nats_url: "nats://127.0.0.1:4222".into(),
            listen: "127.0.0.1:4000".into(),
            jwt_secret: None,
            encryption_key: None,
            nats_prefix: "pga".into(),
            bootstrap_admin_username: None,
            bootstrap_admin_password: None,
            metrics_max_age_days: 7,
            retention_days: 14,
            command_wait_ms: 2000,
            access_token_ttl_s: 900,
            agent_token_ttl_s: 3600,
            refresh_token_ttl_days: 30,
            previous_encryption_keys: None,
            previous_jwt_secrets: None,
            check_interval_s: 60,
            alert_interval_s: 15,
            alert_builtin_rules: true,
            public_url: None,
            max_series_per_collector: 10_000,
            dashboard_dir: "dashboard/dist".into(),
            rollup_1m_retention_days: 30,
            rollup_1h_retention_days: 400,
            rejected_retention_days: 30,
            expired_session_keep_days: 7,
            read_statement_timeout_ms: 10_000,
            max_concurrent_pushes: 16,
            http_request_timeout_s: 30,
            allow_unix_socket_hosts: false,
            max_concurrent_hashes: None,
            trusted_proxy_header: None,
            trusted_proxies: None,
            nats_creds: None,
            nats_user: None,
            nats_password: None,
            nats_collector_account: None,
            nats_collector_signing_key: None,
            metric_partitions: domain::bus::DEFAULT_METRIC_PARTITIONS,
            nats_replicas: 1,
            worker_lease_ms: 5000,
        }
    }
}

/// The validated configuration. Its `Debug` prints no secret: keys are redacted and the
/// database URL's password masked.
#[derive(Clone)]
pub struct Config {
    /// PostgreSQL: event store and read models.
    pub database_url: String,
    /// NATS server with JetStream; several, comma-separated, for a cluster (the client fails
    /// over between them).
    pub nats_url: String,
    /// HTTP listen address.
    pub listen: SocketAddr,
    /// HMAC key for access tokens (required by roles that serve HTTP).
    pub jwt_secret: Option<Secret>,
    /// Earlier JWT secrets, whose derived keys still verify events signed before a rotation.
    pub previous_jwt_secrets: Vec<Secret>,
    /// 32-byte AES-256-GCM key for managed-instance passwords; none: credentials are refused.
    pub encryption_key: Option<[u8; 32]>,
    /// Subject, stream and consumer names, and the number of metric partitions
    /// (`PGA_METRIC_PARTITIONS`, fixed when a deployment is set up).
    pub names: BusNames,
    /// Replicas of every stream (`PGA_NATS_REPLICAS`): 3 on a 3-node JetStream cluster.
    pub nats_replicas: usize,
    /// How long a projection worker's lease lasts (`PGA_WORKER_LEASE_MS`): the takeover time
    /// when a worker dies; renewed five times as often.
    pub workers: projections::workers::WorkerSettings,
    /// First admin, created when no user exists.
    pub bootstrap_admin: Option<(String, Secret)>,
    /// `max_age` of the metrics stream.
    pub metrics_max_age: Duration,
    /// How long raw samples are kept.
    pub retention_days: u32,
    /// How long a command endpoint waits for its events to be visible.
    pub command_wait: Duration,
    /// Lifetime of an access token.
    pub access_token_ttl: Duration,
    /// Lifetime of a collector (agent) token.
    pub agent_token_ttl: Duration,
    /// Lifetime of a refresh token.
    pub refresh_token_ttl: Duration,
    /// Keys that still open credentials sealed before a rotation.
    pub previous_encryption_keys: Vec<[u8; 32]>,
    /// Interval of the background connection checks; zero turns them off.
    pub check_interval: Duration,
    /// How often alert rules are evaluated (`PGA_ALERT_INTERVAL_S`, default 15); zero turns
    /// evaluation off (notifications still go out).
    pub alert_interval: Duration,
    /// Whether the built-in alert rules are created at start (`PGA_ALERT_BUILTIN_RULES`,
    /// default true; each once, so a rule an admin disabled stays disabled).
    pub alert_builtin_rules: bool,
    /// The dashboard's address as users reach it (`PGA_PUBLIC_URL`), for links in
    /// notifications.
    pub public_url: Option<String>,
    /// Cardinality guard: series one collector may have.
    pub max_series_per_collector: usize,
    /// The built dashboard, served at `/` (relative paths from the working directory).
    pub dashboard_dir: PathBuf,
    /// How long rollups, rejected messages and expired sessions are kept.
    pub retention: projections::maintenance::Retention,
    /// `statement_timeout` of the API's read connections.
    pub read_statement_timeout: Duration,
    /// Pushes decoded at the same time; past it a push gets 503 with `Retry-After`.
    pub max_concurrent_pushes: usize,
    /// Longest an HTTP request may take, body included (`GET /events` is exempt).
    pub http_request_timeout: Duration,
    /// Whether managed instances may name a Unix-socket directory as host (they reach servers
    /// local to pgAnalytics; off unless an admin turns it on).
    pub allow_unix_socket_hosts: bool,
    /// argon2 jobs (19 MiB each) at the same time; past it a login gets 503 with `Retry-After`.
    pub max_concurrent_hashes: usize,
    /// Where the login limits take the client's address from.
    pub client_address: api::auth::client::ClientAddress,
    /// How the server proves itself to NATS.
    pub nats_auth: NatsAuth,
    /// Issues collectors' NATS credentials (operator mode), when the collectors account and its
    /// signing key are set.
    pub nats_issuer: Option<std::sync::Arc<commands::nats_auth::NatsIssuer>>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |present: bool| if present { "<secret>" } else { "none" };
        f.debug_struct("Config")
            .field("database_url", &mask_password(&self.database_url))
            .field("nats_url", &mask_password(&self.nats_url))
            .field("listen", &self.listen)
            .field("jwt_secret", &redacted(self.jwt_secret.is_some()))
            .field("previous_jwt_secrets", &self.previous_jwt_secrets.len())
            .field("encryption_key", &redacted(self.encryption_key.is_some()))
            .field(
                "previous_encryption_keys",
                &self.previous_encryption_keys.len(),
            )
            .field("names", &self.names)
            .field("nats_replicas", &self.nats_replicas)
            .field("workers", &self.workers)
            .field(
                "bootstrap_admin",
                &self.bootstrap_admin.as_ref().map(|(user, _)| user),
            )
            .field("metrics_max_age", &self.metrics_max_age)
            .field("retention_days", &self.retention_days)
            .field("command_wait", &self.command_wait)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("agent_token_ttl", &self.agent_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("check_interval", &self.check_interval)
            .field("alert_interval", &self.alert_interval)
            .field("alert_builtin_rules", &self.alert_builtin_rules)
            .field("public_url", &self.public_url)
            .field("max_series_per_collector", &self.max_series_per_collector)
            .field("dashboard_dir", &self.dashboard_dir)
            .field("retention", &self.retention)
            .field("read_statement_timeout", &self.read_statement_timeout)
            .field("max_concurrent_pushes", &self.max_concurrent_pushes)
            .field("http_request_timeout", &self.http_request_timeout)
            .field("allow_unix_socket_hosts", &self.allow_unix_socket_hosts)
            .field("max_concurrent_hashes", &self.max_concurrent_hashes)
            .field("client_address", &self.client_address)
            .field("nats_auth", &self.nats_auth)
            .field("nats_issuer", &self.nats_issuer)
            .finish()
    }
}

/// `url` with the password of its user-info part replaced by `***`.
fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The server's own NATS credentials.
#[derive(Debug, Clone, Default)]
pub enum NatsAuth {
    /// No authentication: only for a NATS nobody else can reach.
    #[default]
    None,
    /// A creds file (user JWT and seed), read at start-up: operator mode.
    Creds(Secret),
    /// A user and password from nats-server's own configuration.
    UserPassword(String, Secret),
}

/// A configuration problem, worded for the person starting the server.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// The NATS servers of `PGA_NATS_URL` (comma-separated for a cluster).
    ///
    /// # Errors
    /// [`ConfigError`] naming the address that does not parse.
    pub fn nats_servers(&self) -> Result<Vec<async_nats::ServerAddr>, ConfigError> {
        self.nats_url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| {
                u.parse().map_err(|e| {
                    ConfigError(format!("PGA_NATS_URL: {u:?} is no NATS address: {e}"))
                })
            })
            .collect()
    }

    /// Reads defaults, then `file` (if given), then `PGA_*` variables, and validates.
    ///
    /// # Errors
    /// [`ConfigError`] naming the setting and how to fix it.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Raw::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError(format!(
                    "config file {} not found",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        // PGA_COLLECTOR_* belongs to the collector agent, PGA_CONFIG names the file.
        figment = figment.merge(
            Env::prefixed("PGA_")
                .filter(|k| !k.as_str().starts_with("collector_") && k.as_str() != "config"),
        );
        let raw: Raw = figment.extract().map_err(|e| {
            ConfigError(format!(
                "{e} (settings are PGA_* variables or keys of the TOML file; see README)"
            ))
        })?;
        Self::validate(raw)
    }

    // Over 60 lines on purpose: long only by the struct it builds; each check before it names its setting (the bounds and the keys are checked in their own functions).
    fn validate(raw: Raw) -> Result<Self, ConfigError> {
        check_bounds(&raw)?;
        let (encryption_key, previous_encryption_keys) = encryption_keys(&raw)?;
        let database_url = raw.database_url.ok_or_else(|| {
            ConfigError(
                "PGA_DATABASE_URL is not set; e.g. postgres://postgres@127.0.0.1:5432/pganalytics"
                    .into(),
            )
        })?;
        if !database_url.starts_with("postgres://") && !database_url.starts_with("postgresql://") {
            return Err(ConfigError(
                "PGA_DATABASE_URL must be a postgres:// URL".into(),
            ));
        }
        let listen = raw.listen.parse().map_err(|_| {
            ConfigError(format!(
                "PGA_LISTEN {:?} is not an address like 127.0.0.1:4000",
                raw.listen
            ))
        })?;
        let names = BusNames::new(&raw.nats_prefix)
            .map_err(|e| ConfigError(e.to_string()))?
            .with_partitions(raw.metric_partitions);
        if let Some(secret) = &raw.jwt_secret {
            if secret.expose().len() < 32 {
                return Err(ConfigError(
                    "PGA_JWT_SECRET must be at least 32 characters; generate one with: openssl rand -base64 48".into(),
                ));
            }
        }
        let bootstrap_admin = match (raw.bootstrap_admin_username, raw.bootstrap_admin_password) {
            (Some(u), Some(p)) => Some((u, p)),
            (None, None) => None,
            _ => {
                return Err(ConfigError(
                    "set both PGA_BOOTSTRAP_ADMIN_USERNAME and PGA_BOOTSTRAP_ADMIN_PASSWORD, or neither".into(),
                ))
            }
        };
        let client_address = api::auth::client::ClientAddress::new(
            raw.trusted_proxy_header.as_deref(),
            raw.trusted_proxies.as_deref(),
        )
        .map_err(|e| {
            ConfigError(format!(
                "PGA_TRUSTED_PROXY_HEADER / PGA_TRUSTED_PROXIES: {e} (e.g. PGA_TRUSTED_PROXY_HEADER=X-Forwarded-For PGA_TRUSTED_PROXIES=10.0.0.5,10.1.0.0/16)"
            ))
        })?;
        let (nats_auth, nats_issuer) = nats_auth(
            raw.nats_creds.as_deref(),
            raw.nats_user,
            raw.nats_password,
            raw.nats_collector_account.as_deref(),
            raw.nats_collector_signing_key.as_ref(),
        )?;
        let days = |n: u32| chrono::Duration::days(i64::from(n));
        Ok(Self {
            database_url,
            nats_url: raw.nats_url,
            listen,
            jwt_secret: raw.jwt_secret,
            previous_jwt_secrets: raw
                .previous_jwt_secrets
                .as_ref()
                .map(|s| {
                    s.expose()
                        .split(',')
                        .map(str::trim)
                        .filter(|k| !k.is_empty())
                        .map(|k| Secret::new(k.to_owned()))
                        .collect()
                })
                .unwrap_or_default(),
            encryption_key,
            names,
            nats_replicas: raw.nats_replicas,
            workers: projections::workers::WorkerSettings {
                tick: Duration::from_millis(raw.worker_lease_ms / 5),
                lease: Duration::from_millis(raw.worker_lease_ms),
            },
            bootstrap_admin,
            metrics_max_age: Duration::from_secs(u64::from(raw.metrics_max_age_days) * 86_400),
            retention_days: raw.retention_days,
            command_wait: Duration::from_millis(raw.command_wait_ms),
            access_token_ttl: Duration::from_secs(raw.access_token_ttl_s),
            agent_token_ttl: Duration::from_secs(raw.agent_token_ttl_s),
            refresh_token_ttl: Duration::from_secs(raw.refresh_token_ttl_days * 86_400),
            previous_encryption_keys,
            check_interval: Duration::from_secs(raw.check_interval_s),
            alert_interval: Duration::from_secs(raw.alert_interval_s),
            alert_builtin_rules: raw.alert_builtin_rules,
            public_url: raw.public_url.clone(),
            max_series_per_collector: raw.max_series_per_collector,
            dashboard_dir: PathBuf::from(raw.dashboard_dir),
            retention: projections::maintenance::Retention {
                rollup_1m: days(raw.rollup_1m_retention_days),
                rollup_1h: days(raw.rollup_1h_retention_days),
                rejected: days(raw.rejected_retention_days),
                expired_sessions: days(raw.expired_session_keep_days),
            },
            read_statement_timeout: Duration::from_millis(raw.read_statement_timeout_ms),
            max_concurrent_pushes: raw.max_concurrent_pushes,
            http_request_timeout: Duration::from_secs(raw.http_request_timeout_s),
            allow_unix_socket_hosts: raw.allow_unix_socket_hosts,
            max_concurrent_hashes: raw
                .max_concurrent_hashes
                .unwrap_or_else(default_max_concurrent_hashes),
            client_address,
            nats_auth,
            nats_issuer,
        })
    }

    /// A configuration for tests: everything explicit, no environment read, port 0, and a
    /// random JWT secret and encryption key of its own.
    pub fn for_local(
        database_url: &str,
        nats_url: &str,
        prefix: &str,
    ) -> Result<Self, ConfigError> {
        let random = |n: usize| {
            let bytes: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
            base64::engine::general_purpose::STANDARD.encode(bytes)
        };
        Self::validate(Raw {
            database_url: Some(database_url.to_owned()),
            nats_url: nats_url.to_owned(),
            nats_prefix: prefix.to_owned(),
            listen: "127.0.0.1:0".into(),
            jwt_secret: Some(Secret::new(random(48))),
            encryption_key: Some(Secret::new(random(32))),
            ..Raw::default()
        })
    }

    /// This configuration connecting to NATS with the creds file text `creds` and issuing
    /// collector credentials for `collector_account` with `signing_key` (operator mode; for
    /// tests).
    ///
    /// # Errors
    /// [`ConfigError`] for keys of the wrong kind.
    pub fn with_nats_operator_auth(
        mut self,
        creds: &str,
        collector_account: &str,
        signing_key: &str,
    ) -> Result<Self, ConfigError> {
        self.nats_issuer = Some(std::sync::Arc::new(
            commands::nats_auth::NatsIssuer::new(signing_key, collector_account)
                .map_err(|e| ConfigError(e.to_string()))?,
        ));
        self.nats_auth = NatsAuth::Creds(Secret::new(creds));
        Ok(self)
    }

    /// Limits of metric storage.
    pub fn storage(&self) -> projections::projectors::StorageLimits {
        projections::projectors::StorageLimits {
            retention_days: self.retention_days,
            max_series_per_collector: self.max_series_per_collector,
            partitions: self.names.partitions(),
        }
    }

    /// The JWT secret, or the error that stops an HTTP role from starting.
    ///
    /// # Errors
    /// [`ConfigError`] when it is not set.
    pub fn require_jwt_secret(&self) -> Result<&Secret, ConfigError> {
        self.jwt_secret.as_ref().ok_or_else(|| {
            ConfigError(
                "PGA_JWT_SECRET is not set; generate one with: openssl rand -base64 48".into(),
            )
        })
    }

    /// The key the relay signs domain events with and the projectors check them against,
    /// derived from the JWT secret (which every server role holds).
    ///
    /// # Errors
    /// [`ConfigError`] when the JWT secret is missing.
    pub fn event_seal(&self) -> Result<domain::signature::EventSeal, ConfigError> {
        Ok(
            domain::signature::EventSeal::derive(self.require_jwt_secret()?.expose().as_bytes())
                .with_previous(
                    self.previous_jwt_secrets
                        .iter()
                        .map(|s| s.expose().as_bytes()),
                ),
        )
    }
}

/// A 32-byte AES-256-GCM key.
type Key = [u8; 32];

/// `PGA_ENCRYPTION_KEY` and the earlier keys still accepted for opening.
fn encryption_keys(raw: &Raw) -> Result<(Option<Key>, Vec<Key>), ConfigError> {
    let encryption_key = raw
        .encryption_key
        .as_ref()
        .map(|k| parse_key(k.expose()))
        .transpose()?;
    let previous_encryption_keys = raw
        .previous_encryption_keys
        .as_ref()
        .map(|keys| {
            keys.expose()
                .split(',')
                .filter(|k| !k.trim().is_empty())
                .map(parse_key)
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    if !previous_encryption_keys.is_empty() && encryption_key.is_none() {
        return Err(ConfigError(
            "PGA_PREVIOUS_ENCRYPTION_KEYS needs PGA_ENCRYPTION_KEY (the new key)".into(),
        ));
    }
    Ok((encryption_key, previous_encryption_keys))
}

/// The lifetimes, retentions and limits: each in its range, named when it is not.
fn check_bounds(raw: &Raw) -> Result<(), ConfigError> {
    if !(10..=86_400).contains(&raw.access_token_ttl_s) || raw.refresh_token_ttl_days == 0 {
        return Err(ConfigError(
            "PGA_ACCESS_TOKEN_TTL_S must be 10-86400 and PGA_REFRESH_TOKEN_TTL_DAYS at least 1"
                .into(),
        ));
    }
    if !(5..=86_400).contains(&raw.agent_token_ttl_s) {
        return Err(ConfigError("PGA_AGENT_TOKEN_TTL_S must be 5-86400".into()));
    }
    if !(1..=domain::bus::MAX_METRIC_PARTITIONS).contains(&raw.metric_partitions) {
        return Err(ConfigError(format!(
            "PGA_METRIC_PARTITIONS must be 1-{}",
            domain::bus::MAX_METRIC_PARTITIONS
        )));
    }
    for url in raw.nats_url.split(',').map(str::trim) {
        if let Err(e) = url.parse::<async_nats::ServerAddr>() {
            return Err(ConfigError(format!(
                "PGA_NATS_URL: {url:?} is no NATS address ({e}); several are separated by commas"
            )));
        }
    }
    if !(1000..=60_000).contains(&raw.worker_lease_ms) {
        return Err(ConfigError("PGA_WORKER_LEASE_MS must be 1000-60000".into()));
    }
    if !matches!(raw.nats_replicas, 1 | 3 | 5) {
        return Err(ConfigError(
            "PGA_NATS_REPLICAS must be 1, 3 or 5 (JetStream replicas; 3 on a 3-node cluster)"
                .into(),
        ));
    }
    if raw.metrics_max_age_days == 0 || raw.retention_days == 0 {
        return Err(ConfigError(
            "PGA_METRICS_MAX_AGE_DAYS and PGA_RETENTION_DAYS must be at least 1".into(),
        ));
    }
    if raw.rollup_1m_retention_days < raw.retention_days
        || raw.rollup_1h_retention_days < raw.rollup_1m_retention_days
        || raw.rejected_retention_days == 0
    {
        return Err(ConfigError(
            "retention must grow with the resolution: PGA_RETENTION_DAYS <= PGA_ROLLUP_1M_RETENTION_DAYS <= PGA_ROLLUP_1H_RETENTION_DAYS, and PGA_REJECTED_RETENTION_DAYS at least 1".into(),
        ));
    }
    if raw.read_statement_timeout_ms == 0
        || raw.max_concurrent_pushes == 0
        || raw.http_request_timeout_s == 0
    {
        return Err(ConfigError(
            "PGA_READ_STATEMENT_TIMEOUT_MS, PGA_MAX_CONCURRENT_PUSHES and PGA_HTTP_REQUEST_TIMEOUT_S must be at least 1".into(),
        ));
    }
    if raw.max_concurrent_hashes == Some(0) {
        return Err(ConfigError(
            "PGA_MAX_CONCURRENT_HASHES must be at least 1".into(),
        ));
    }
    Ok(())
}

/// The server's NATS authentication, and the issuer of collector credentials.
fn nats_auth(
    creds: Option<&str>,
    user: Option<String>,
    password: Option<Secret>,
    collector_account: Option<&str>,
    signing_key: Option<&Secret>,
) -> Result<
    (
        NatsAuth,
        Option<std::sync::Arc<commands::nats_auth::NatsIssuer>>,
    ),
    ConfigError,
> {
    let auth = match (creds, user, password) {
        (None, None, None) => NatsAuth::None,
        (Some(path), None, None) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError(format!(
                    "PGA_NATS_CREDS {path:?} cannot be read: {e} (`pganalytics nats-init` writes one)"
                ))
            })?;
            NatsAuth::Creds(Secret::new(text))
        }
        (None, Some(user), Some(password)) => NatsAuth::UserPassword(user, password),
        (Some(_), _, _) => {
            return Err(ConfigError(
                "set PGA_NATS_CREDS or PGA_NATS_USER/PGA_NATS_PASSWORD, not both".into(),
            ))
        }
        _ => {
            return Err(ConfigError(
                "set both PGA_NATS_USER and PGA_NATS_PASSWORD, or neither".into(),
            ))
        }
    };
    let issuer = match (collector_account, signing_key) {
        (None, None) => None,
        (Some(account), Some(key)) => Some(std::sync::Arc::new(
            commands::nats_auth::NatsIssuer::new(key.expose(), account)
                .map_err(|e| ConfigError(e.to_string()))?,
        )),
        _ => {
            return Err(ConfigError(
                "set both PGA_NATS_COLLECTOR_ACCOUNT and PGA_NATS_COLLECTOR_SIGNING_KEY (from `pganalytics nats-init`), or neither".into(),
            ))
        }
    };
    Ok((auth, issuer))
}

/// Two argon2 jobs per core, at least 4 (4 × 19 MiB is small on any server).
fn default_max_concurrent_hashes() -> usize {
    std::thread::available_parallelism()
        .map_or(4, |n| n.get() * 2)
        .max(4)
}

fn parse_key(b64: &str) -> Result<[u8; 32], ConfigError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| {
            ConfigError(
                "PGA_ENCRYPTION_KEY is not base64; generate one with: openssl rand -base64 32"
                    .into(),
            )
        })?;
    bytes.try_into().map_err(|_| {
        ConfigError(
            "PGA_ENCRYPTION_KEY must decode to exactly 32 bytes; generate one with: openssl rand -base64 32".into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> Raw {
        Raw {
            database_url: Some("postgres://u@h/db".into()),
            ..Raw::default()
        }
    }

    #[test]
    fn defaults_are_valid_once_the_database_is_named() {
        let c = Config::validate(raw()).expect("valid");
        assert_eq!(c.listen.to_string(), "127.0.0.1:4000");
        assert_eq!(c.names.events_stream(), "PGA_EVENTS");
        assert!(
            !c.allow_unix_socket_hosts,
            "Unix sockets only when an admin says so"
        );
    }

    #[test]
    fn each_bad_setting_is_named() {
        let cases: Vec<(Raw, &str)> = vec![
            (Raw::default(), "PGA_DATABASE_URL"),
            (
                Raw {
                    listen: "nope".into(),
                    ..raw()
                },
                "PGA_LISTEN",
            ),
            (
                Raw {
                    nats_prefix: "A.B".into(),
                    ..raw()
                },
                "PGA_NATS_PREFIX",
            ),
            (
                Raw {
                    jwt_secret: Some(Secret::new("short")),
                    ..raw()
                },
                "PGA_JWT_SECRET",
            ),
            (
                Raw {
                    encryption_key: Some(Secret::new("AAAA")),
                    ..raw()
                },
                "PGA_ENCRYPTION_KEY",
            ),
            (
                Raw {
                    bootstrap_admin_username: Some("a".into()),
                    ..raw()
                },
                "PGA_BOOTSTRAP_ADMIN",
            ),
            (
                Raw {
                    nats_creds: Some("/nonexistent/pganalytics.creds".into()),
                    ..raw()
                },
                "PGA_NATS_CREDS",
            ),
            (
                Raw {
                    nats_user: Some("pga".into()),
                    ..raw()
                },
                "PGA_NATS_PASSWORD",
            ),
            (
                Raw {
                    nats_collector_signing_key: Some(Secret::new("SA")),
                    ..raw()
                },
                "PGA_NATS_COLLECTOR_ACCOUNT",
            ),
            (
                Raw {
                    nats_collector_account: Some("AAAA".into()),
                    nats_collector_signing_key: Some(Secret::new("SAAA")),
                    ..raw()
                },
                "PGA_NATS_COLLECTOR_SIGNING_KEY",
            ),
            (
                Raw {
                    rollup_1m_retention_days: 7,
                    ..raw()
                },
                "PGA_ROLLUP_1M_RETENTION_DAYS",
            ),
            (
                Raw {
                    read_statement_timeout_ms: 0,
                    ..raw()
                },
                "PGA_READ_STATEMENT_TIMEOUT_MS",
            ),
            (
                Raw {
                    max_concurrent_hashes: Some(0),
                    ..raw()
                },
                "PGA_MAX_CONCURRENT_HASHES",
            ),
            (
                Raw {
                    trusted_proxy_header: Some("X-Forwarded-For".into()),
                    ..raw()
                },
                "PGA_TRUSTED_PROXIES",
            ),
            (
                Raw {
                    trusted_proxy_header: Some("X-Forwarded-For".into()),
                    trusted_proxies: Some("10.0.0.300".into()),
                    ..raw()
                },
                "PGA_TRUSTED_PROXIES",
            ),
        ];
        for (r, needle) in cases {
            let err = Config::validate(r).expect_err(needle).to_string();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn secrets_never_print() {
        let c = Config::validate(Raw {
            jwt_secret: Some(Secret::new("x".repeat(40))),
            ..raw()
        })
        .expect("valid");
        assert!(!format!("{c:?}").contains("xxxx"));
    }

    #[test]
    fn debug_prints_no_key_and_no_database_password() {
        let c = Config::validate(Raw {
            database_url: Some("postgres://app:hunter2@db:5432/pga?sslmode=require".into()),
            encryption_key: Some(Secret::new(
                base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
            )),
            previous_encryption_keys: Some(Secret::new(
                base64::engine::general_purpose::STANDARD.encode([9u8; 32]),
            )),
            ..raw()
        })
        .expect("valid");
        let printed = format!("{c:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("postgres://app:***@db:5432/pga?sslmode=require"));
        assert!(
            !printed.contains("[7, 7") && !printed.contains("[9, 9"),
            "{printed}"
        );
    }

    #[test]
    fn a_url_without_a_password_is_printed_as_it_is() {
        assert_eq!(
            mask_password("postgres://postgres@h/db"),
            "postgres://postgres@h/db"
        );
        assert_eq!(
            mask_password("nats://127.0.0.1:4222"),
            "nats://127.0.0.1:4222"
        );
        assert_eq!(
            mask_password("nats://u:p@w:rd@host:4222"),
            "nats://u:***@host:4222"
        );
    }
}
