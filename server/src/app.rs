//! Starting and stopping server roles in one process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use api::auth::limiter::LoginLimits;
use api::auth::sessions::Sessions;
use api::auth::tokens::TokenKeys;
use api::auth::AuthState;
use async_nats::jetstream;
use commands::credentials::CredentialCipher;
use commands::relay::{ensure_events_stream, Relay};
use commands::service::CommandService;
use commands::tester::ConnectionTester;
use domain::user::{NewPassword, Username};
use projections::pg_error::describe_any;
use projections::workers::Worker;
use sqlx::PgPool;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, NatsAuth};

/// The connection tester, with the credential cipher when a key is configured.
pub fn tester(config: &Config) -> ConnectionTester {
    let cipher = config
        .encryption_key
        .as_ref()
        .map(|key| CredentialCipher::new(key, &config.previous_encryption_keys));
    ConnectionTester::new(cipher).with_unix_sockets(config.allow_unix_socket_hosts)
}

/// Hourly: partitions ahead, retention, dedup pruning (kept twice the stream's max age, so a
/// batch JetStream still holds is never counted twice), then every other table past its
/// retention.
async fn storage_upkeep(
    pool: deadpool_postgres::Pool,
    retention_days: u32,
    retention: projections::maintenance::Retention,
    stream_max_age: Duration,
    shutdown: CancellationToken,
) {
    let keep = chrono::Duration::from_std(stream_max_age * 2).unwrap_or(chrono::Duration::days(14));
    // Texts stored by a version that did not redact them on ingest.
    match projections::maintenance::redact_stored_statements(&pool).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(statements = n, "redacted stored statement texts"),
        Err(e) => tracing::warn!(error = %describe_any(&e), "redacting stored statements failed"),
    }
    let mut ticker = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let minutes_outlive_samples =
            retention.rollup_1m > chrono::Duration::days(i64::from(retention_days));
        match projections::maintenance::upkeep(
            &pool,
            chrono::Utc::now(),
            retention_days,
            minutes_outlive_samples,
            keep,
        )
        .await
        {
            Ok(done) if !done.dropped.is_empty() => {
                tracing::info!(dropped = ?done.dropped, "retention dropped old sample partitions");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %describe_any(&e), "storage upkeep failed; will retry")
            }
        }
        match projections::maintenance::prune(&pool, chrono::Utc::now(), &retention).await {
            Ok(pruned) if !pruned.is_empty() => {
                tracing::info!(?pruned, "retention deleted old rows");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %describe_any(&e), "retention pruning failed; will retry");
            }
        }
    }
}

/// Builds the 1-hour rollups of closed hours (and rebuilds hours late batches touched) every
/// minute.
async fn hour_rollups(pool: deadpool_postgres::Pool, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = shutdown.cancelled() => return,
        }
        match projections::maintenance::build_hours(&pool, chrono::Utc::now(), 24).await {
            Ok(done) if done.built + done.rebuilt > 0 => {
                tracing::debug!(
                    built = done.built,
                    rebuilt = done.rebuilt,
                    rejected = done.rejected,
                    "hour rollups"
                );
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %describe_any(&e), "building hour rollups failed; will retry");
            }
        }
    }
}

/// Re-tests every instance each `interval`, so the status stays true without anyone clicking.
/// Each instance is checked on its own: a slow one delays only its own next check.
async fn background_checks(
    commands: Arc<CommandService>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Dropped on return: the checks still running are cancelled.
    let mut checks = commands::checks::BackgroundChecks::new(commands);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = shutdown.cancelled() => return,
        }
        tokio::select! {
            r = checks.start_round() => {
                if let Err(e) = r {
                    tracing::warn!(error = %e, "background checks skipped: event store unavailable");
                }
            }
            () = shutdown.cancelled() => return,
        }
    }
}

/// Says which read models hold entities without any history: a deployment from before history
/// existed, whose earlier events made no versions. A replay of those projections rebuilds them
/// from the events stream, which keeps every event.
async fn warn_history_missing(pool: &deadpool_postgres::Pool) {
    const PAIRS: [(&str, &str, &str); 5] = [
        (
            "managed_instances",
            "rm_managed_instances",
            "rm_instance_history",
        ),
        ("collectors", "rm_collectors", "rm_collector_history"),
        ("users", "rm_users", "rm_user_history"),
        (
            "registration_secrets",
            "rm_registration_secrets",
            "rm_secret_history",
        ),
        ("alerting", "rm_alert_rules", "rm_alert_rule_history"),
    ];
    let sql = PAIRS
        .iter()
        .map(|(name, live, history)| {
            format!(
                "SELECT '{name}' WHERE EXISTS (SELECT 1 FROM {live} l
                     WHERE NOT EXISTS (SELECT 1 FROM {history} h WHERE h.id = l.id))"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let Ok(client) = pool.get().await else { return };
    if let Ok(rows) = client.query(&sql, &[]).await {
        let names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        if !names.is_empty() {
            tracing::warn!(projections = ?names,
                "these read models hold entities with no history (they date from before history was kept): `pganalytics replay {}` rebuilds it from the events stream",
                names.join(" "));
        }
    }
}

/// Creates the configured first admin when the event store has no user yet.
async fn bootstrap_admin(
    commands: &CommandService,
    hashes: &commands::passwords::HashPool,
    username: &str,
    password: &str,
) -> anyhow::Result<Option<commands::service::Committed>> {
    let username = Username::parse(username)
        .map_err(|e| anyhow::anyhow!("PGA_BOOTSTRAP_ADMIN_USERNAME {e}"))?;
    let password = NewPassword::parse(password)
        .map_err(|e| anyhow::anyhow!("PGA_BOOTSTRAP_ADMIN_PASSWORD {e}"))?;
    let committed =
        commands::users::bootstrap_admin(commands, hashes, &username, &password).await?;
    if committed.is_some() {
        tracing::info!(username = username.as_str(), "created the first admin");
    }
    Ok(committed)
}

/// Which roles this process plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// The HTTP API (and the dashboard).
    pub api: bool,
    /// The HTTP metrics bridge.
    pub ingest: bool,
    /// Relay and projectors.
    pub project: bool,
    /// Apply migrations before starting.
    pub migrate: bool,
}

impl Roles {
    /// Everything: `pganalytics serve`.
    pub const ALL: Roles = Roles {
        api: true,
        ingest: true,
        project: true,
        migrate: true,
    };
}

/// A started server.
pub struct Running {
    /// Where HTTP listens, when a role serves HTTP.
    pub addr: Option<SocketAddr>,
    /// Connections the roles use (tests inspect them).
    pub pool: PgPool,
    /// The projectors' and storage upkeep's pool on the read models (the query API has its
    /// own).
    pub read_pool: deadpool_postgres::Pool,
    /// JetStream.
    pub jetstream: jetstream::Context,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
}

impl Running {
    /// Asks every role to stop and waits for them (HTTP drains in-flight requests).
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
    }

    /// Waits until the roles end (after `shutdown` was cancelled by a signal).
    pub async fn wait(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Connects to PostgreSQL, retrying for up to `patience` so that a server started together with
/// its database waits for it instead of failing.
///
/// # Errors
/// The last connection error, with the URL's host named.
pub async fn connect_store(config: &Config, patience: Duration) -> anyhow::Result<PgPool> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match commands::store::connect(&config.database_url, 16).await {
            Ok(pool) => return Ok(pool),
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, "PostgreSQL not reachable yet; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(e).context("could not connect to PostgreSQL (PGA_DATABASE_URL)"),
        }
    }
}

/// Connects to NATS. Never fails because NATS is down: the client keeps retrying in the
/// background, health reports it, and the relay catches up once it is back. What NATS says
/// (an authorization violation, a permission refused, a lost connection) is logged.
///
/// # Errors
/// Only for an invalid URL or unusable credentials.
pub async fn connect_nats(
    config: &Config,
    trouble: &api::state::NatsTrouble,
) -> anyhow::Result<async_nats::Client> {
    let trouble = trouble.clone();
    nats_options(config)?
        .name("pganalytics")
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(3))
        .event_callback(move |event| {
            let trouble = trouble.clone();
            async move {
                match event {
                    async_nats::Event::Connected => {
                        trouble.set(None);
                        tracing::info!("NATS connected");
                    }
                    async_nats::Event::ServerError(e) => {
                        tracing::error!(error = %e, "NATS refused the server (check PGA_NATS_CREDS / PGA_NATS_USER)");
                        trouble.set(Some(e.to_string()));
                    }
                    async_nats::Event::ClientError(e) => {
                        tracing::warn!(error = %e, "NATS connection failed");
                        trouble.set(Some(e.to_string()));
                    }
                    other => tracing::warn!(event = %other, "NATS"),
                }
            }
        })
        .connect(config.nats_servers()?)
        .await
        .context("invalid PGA_NATS_URL")
}

/// The server's NATS credentials as connect options.
///
/// # Errors
/// A creds file that does not parse.
pub fn nats_options(config: &Config) -> anyhow::Result<async_nats::ConnectOptions> {
    let options = async_nats::ConnectOptions::new();
    Ok(match &config.nats_auth {
        NatsAuth::None => options,
        NatsAuth::Creds(creds) => options
            .credentials(creds.expose())
            .context("PGA_NATS_CREDS is not a NATS creds file")?,
        NatsAuth::UserPassword(user, password) => {
            options.user_and_password(user.clone(), password.expose().to_owned())
        }
    })
}

fn nats_connected(nats: &async_nats::Client) -> bool {
    nats.connection_state() == async_nats::connection::State::Connected
}

fn check_max_payload(nats: &async_nats::Client) -> anyhow::Result<()> {
    domain::envelope::check_max_payload(nats.server_info().max_payload)
        .map_err(anyhow::Error::msg)
        .context("the NATS server (PGA_NATS_URL) cannot carry pgAnalytics' events")
}

/// Refuses a NATS server whose `max_payload` is smaller than the largest event the domain can
/// produce: the relay would retry such an event forever and every projection would freeze.
/// Waits up to `patience` for the connection; `Ok(false)` when NATS is not reachable yet (the
/// server starts anyway, and [`check_max_payload_later`] checks once it is).
///
/// # Errors
/// When the server is connected and its `max_payload` is too small.
async fn check_max_payload_now(
    nats: &async_nats::Client,
    patience: Duration,
) -> anyhow::Result<bool> {
    let deadline = tokio::time::Instant::now() + patience;
    while !nats_connected(nats) {
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!("NATS is not reachable yet; its max_payload is checked once it is");
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check_max_payload(nats)?;
    Ok(true)
}

/// [`check_max_payload_now`] for a server that came up after start-up: stops every role when
/// its `max_payload` is too small.
async fn check_max_payload_later(nats: async_nats::Client, shutdown: CancellationToken) {
    while !nats_connected(&nats) {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    if let Err(e) = check_max_payload(&nats) {
        tracing::error!("{e:#}; stopping");
        shutdown.cancel();
    }
}

/// Starts the given roles; they run until `shutdown` is cancelled.
///
/// # Errors
/// Start-up failures: PostgreSQL unreachable, a migration failing, a NATS server whose
/// `max_payload` cannot carry the largest event, the port taken, a missing
/// secret for an HTTP role.
// Over 60 lines on purpose: the wiring in start-up order; each part (pipeline, upkeep, HTTP) is its own function.
pub async fn start(
    config: &Config,
    roles: Roles,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let pool = connect_store(config, Duration::from_secs(30)).await?;
    if roles.migrate {
        commands::store::migrate(&pool)
            .await
            .context("applying migrations")?;
    }
    // Three pools on the read models: projectors and upkeep; the query API's reads (with a
    // statement timeout); and authentication. A heavy query waits for a read connection
    // without taking one from the projectors or from the auth guard.
    let read_pool = projections::db::runner_pool(&config.database_url, 16)?;
    if roles.project {
        warn_history_missing(&read_pool).await;
    }
    let nats_trouble = api::state::NatsTrouble::default();
    let nats = connect_nats(config, &nats_trouble).await?;
    let max_payload_checked = check_max_payload_now(&nats, Duration::from_secs(2)).await?;
    let jetstream = jetstream::new(nats.clone());
    let mut keys = TokenKeys::new(
        config.require_jwt_secret()?.expose().as_bytes(),
        config.access_token_ttl,
    )?;
    keys.collector_ttl = config.agent_token_ttl;
    let keys = Arc::new(keys);
    let seal = config.event_seal()?;
    let plan = {
        let (verifier, storage) = (keys.clone(), config.storage());
        projections::workers::Plan {
            events: projections::projectors::event_projectors(&seal),
            metrics: Arc::new(move || {
                projections::projectors::metric_projectors(verifier.clone(), storage)
            }),
            events_companion: None,
        }
    };
    record_partitions(&read_pool, config.names.partitions()).await?;
    let mut tasks = JoinSet::new();
    if !max_payload_checked {
        tasks.spawn(check_max_payload_later(nats.clone(), shutdown.clone()));
    }
    let pipeline = Pipeline {
        pool: pool.clone(),
        read_pool: read_pool.clone(),
        jetstream: jetstream.clone(),
        plan,
    };
    if roles.project {
        pipeline.spawn(config, &seal, &mut tasks, &shutdown).await;
    }

    let commands = Arc::new(CommandService::new(pool.clone(), tester(config)));
    let hashes = commands::passwords::HashPool::new(config.max_concurrent_hashes);
    if let Some((username, password)) = &config.bootstrap_admin {
        let created = bootstrap_admin(&commands, &hashes, username, password.expose()).await?;
        if let (Some(c), true) = (created, roles.project) {
            // So that the admin can log in the moment the server says it is listening.
            let names = projections::projectors::event_projection_names();
            let (kind, id, seq) = (c.kind, &c.aggregate_id, c.sequence);
            let wait = Duration::from_secs(10);
            projections::freshness::wait_applied(&read_pool, &names, kind, id, seq, wait).await;
        }
    }
    if roles.project && config.alert_builtin_rules {
        match alerting::seed::seed_builtin_rules(&commands).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rules = n, "created the built-in alert rules"),
            Err(e) => {
                tracing::warn!(error = %e, "built-in alert rules not created; next start retries")
            }
        }
    }
    if roles.project {
        spawn_upkeep(config, &read_pool, &commands, &mut tasks, &shutdown);
    }

    let addr = if roles.api || roles.ingest {
        let surface = if roles.api {
            api::Surface::Full
        } else {
            // `pganalytics ingest` alone serves collectors only: users and queries are the api's.
            api::Surface::Collectors
        };
        let http = Http {
            keys,
            hashes,
            commands,
            nats,
            nats_trouble,
        };
        Some(
            http.serve(config, &pipeline, surface, &mut tasks, &shutdown)
                .await?,
        )
    } else {
        None
    };

    Ok(Running {
        addr,
        pool,
        read_pool,
        jetstream,
        shutdown,
        tasks,
    })
}

/// What the relay and the projectors run on (the `project` role), and what the API reads.
struct Pipeline {
    pool: PgPool,
    read_pool: deadpool_postgres::Pool,
    jetstream: jetstream::Context,
    plan: projections::workers::Plan,
}

impl Pipeline {
    /// Makes sure both streams exist, and starts the relay and one runner per projection.
    /// JetStream not ready yet is no reason to stop: each of them retries.
    async fn spawn(
        &self,
        config: &Config,
        seal: &domain::signature::EventSeal,
        tasks: &mut JoinSet<()>,
        shutdown: &CancellationToken,
    ) {
        let (js, names) = (&self.jetstream, &config.names);
        if let Err(e) = ensure_events_stream(js, names, config.nats_replicas).await {
            tracing::warn!(error = %e, "events stream not ready yet; the relay will retry");
        } else if let Err(e) = commands::relay::record_signing_start(&self.pool, js, names).await {
            // The relay records it before it publishes anything; until then, nothing unsigned
            // is applied.
            tracing::warn!(error = %e, "could not record where event signing starts; the relay will retry");
        }
        let (max_age, replicas) = (config.metrics_max_age, config.nats_replicas);
        if let Err(e) = ingest::ensure_metrics_stream(js, names, max_age, replicas).await {
            tracing::warn!(error = %e, "metric streams not ready yet; projectors will retry");
        }
        // The relay runs wherever the `events` unit runs: one relay at a time.
        let relay = Relay::new(self.pool.clone(), js.clone(), names.clone(), seal.clone())
            .with_replicas(replicas);
        let mut plan = self.plan.clone();
        plan.events_companion = Some(Arc::new(move |stop| {
            Box::pin(relay.clone().run(Duration::from_secs(1), stop))
        }));
        // In the background: with NATS away, each of these waits for its request timeout.
        tasks.spawn(tidy_streams(
            js.clone(),
            names.clone(),
            replicas,
            self.plan.clone(),
        ));
        let leases = match projections::db::pool(&config.database_url, 2) {
            Ok(pool) => pool,
            Err(e) => {
                tracing::error!(error = %e, "no pool for the projection leases; projections not started");
                return;
            }
        };
        let worker = Worker::new(
            self.read_pool.clone(),
            leases,
            js.clone(),
            names.clone(),
            plan,
            config.workers,
        );
        tracing::info!(worker = %worker.id(), partitions = names.partitions(), "projection worker started");
        tasks.spawn(worker.run(shutdown.clone()));
    }
}

/// Stream upkeep at start: replicas as configured, and the consumers of earlier versions gone.
async fn tidy_streams(
    js: jetstream::Context,
    names: domain::bus::BusNames,
    replicas: usize,
    plan: projections::workers::Plan,
) {
    ensure_replicas(&js, &names, replicas).await;
    // Earlier versions' one durable consumer per projection: replaced by each worker's own.
    if let Ok(stream) = js.get_stream(names.events_stream()).await {
        for p in &plan.events {
            let _ = stream.delete_consumer(&names.consumer(p.name())).await;
        }
    }
    if let Ok(stream) = js.get_stream(names.metrics_stream()).await {
        for p in (plan.metrics)() {
            let _ = stream.delete_consumer(&names.consumer(p.name())).await;
        }
    }
}

/// Streams keep the replica count they were created with: one created before
/// `PGA_NATS_REPLICAS` was raised (or by an earlier version) is raised now (JetStream copies the
/// data to the new replicas), or the refusal is logged.
async fn ensure_replicas(js: &jetstream::Context, names: &domain::bus::BusNames, replicas: usize) {
    let streams = (0..names.partitions())
        .map(|p| names.metrics_partition_stream(p))
        .chain([names.events_stream()]);
    for name in streams {
        let stream = match js.get_stream(&name).await {
            Ok(stream) => stream,
            Err(e) => match e.kind() {
                jetstream::context::GetStreamErrorKind::JetStream(_) => continue,
                // NATS is away: nothing more to do now.
                _ => return,
            },
        };
        let mut config = stream.cached_info().config.clone();
        if config.num_replicas == replicas {
            continue;
        }
        let had = config.num_replicas;
        config.num_replicas = replicas;
        match js.update_stream(config).await {
            Ok(_) => {
                tracing::info!(stream = %name, from = had, to = replicas, "stream replicas changed")
            }
            Err(e) => tracing::warn!(stream = %name, has = had, wanted = replicas, error = %e,
                "could not change the stream's replicas; it keeps its own"),
        }
    }
}

/// Records the number of metric partitions on first start; refuses to run with another one,
/// which would move collectors to other partitions (their order and deduplication lost).
async fn record_partitions(pool: &deadpool_postgres::Pool, partitions: u16) -> anyhow::Result<()> {
    let client = pool.get().await?;
    let wanted = i32::from(partitions);
    client
        .execute(
            "INSERT INTO metric_partitioning (partitions) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&wanted],
        )
        .await
        .context("recording the number of metric partitions")?;
    let recorded: i32 = client
        .query_one("SELECT partitions FROM metric_partitioning", &[])
        .await?
        .get(0);
    if recorded != wanted {
        anyhow::bail!(
            "PGA_METRIC_PARTITIONS is {wanted}, but this deployment was set up with {recorded} \
             metric partitions; changing it would move collectors to other partitions, losing \
             their order and deduplication. Set PGA_METRIC_PARTITIONS={recorded}."
        );
    }
    Ok(())
}

/// Storage upkeep, the hour rollups and the background connection checks.
fn spawn_upkeep(
    config: &Config,
    read_pool: &deadpool_postgres::Pool,
    commands: &Arc<CommandService>,
    tasks: &mut JoinSet<()>,
    shutdown: &CancellationToken,
) {
    tasks.spawn(storage_upkeep(
        read_pool.clone(),
        config.retention_days,
        config.retention,
        config.metrics_max_age,
        shutdown.clone(),
    ));
    tasks.spawn(hour_rollups(read_pool.clone(), shutdown.clone()));
    if !config.alert_interval.is_zero() {
        let evaluator = alerting::evaluate::Evaluator::new(
            commands.clone(),
            read_pool.clone(),
            config.alert_interval,
        );
        tasks.spawn(evaluator.run(shutdown.clone()));
    }
    let cipher = config
        .encryption_key
        .as_ref()
        .map(|key| CredentialCipher::new(key, &config.previous_encryption_keys));
    let mut dispatcher = alerting::deliver::Dispatcher::new(read_pool.clone(), cipher);
    dispatcher.public_url.clone_from(&config.public_url);
    tasks.spawn(dispatcher.run(shutdown.clone()));
    if !config.check_interval.is_zero() {
        tasks.spawn(background_checks(
            commands.clone(),
            config.check_interval,
            shutdown.clone(),
        ));
    }
}

/// What the HTTP roles need besides the pipeline.
struct Http {
    keys: Arc<TokenKeys>,
    hashes: commands::passwords::HashPool,
    commands: Arc<CommandService>,
    nats: async_nats::Client,
    nats_trouble: api::state::NatsTrouble,
}

impl Http {
    /// Binds `PGA_LISTEN` and serves `surface` until shutdown; returns the bound address.
    async fn serve(
        self,
        config: &Config,
        pipeline: &Pipeline,
        surface: api::Surface,
        tasks: &mut JoinSet<()>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<SocketAddr> {
        let auth = AuthState {
            tokens: self.keys,
            sessions: Sessions::new(pipeline.pool.clone(), config.refresh_token_ttl),
            logins: LoginLimits::default(),
            client_address: config.client_address.clone(),
            decoy_hash: self.hashes.decoy().await?,
            hashes: self.hashes,
            command_wait: config.command_wait,
            nats_issuer: config.nats_issuer.clone(),
        };
        let timeout = Some(config.read_statement_timeout);
        let state = api::AppState {
            commands: self.commands,
            read_pool: projections::db::pool_with(&config.database_url, 16, timeout)?,
            auth_pool: projections::db::pool_with(&config.database_url, 8, timeout)?,
            nats: self.nats.clone(),
            nats_trouble: self.nats_trouble,
            jetstream: pipeline.jetstream.clone(),
            names: config.names.clone(),
            plan: pipeline.plan.clone(),
            auth: Arc::new(auth),
            bridge: ingest::Bridge::new(
                self.nats,
                config.names.clone(),
                config.metrics_max_age,
                config.nats_replicas,
            ),
            pushes: Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_pushes)),
            request_timeout: config.http_request_timeout,
            changes: api::live::channel(),
            shutdown: shutdown.clone(),
        };
        tasks.spawn(api::live::run(
            pipeline.pool.clone(),
            state.changes.clone(),
            shutdown.clone(),
        ));
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {} (PGA_LISTEN)", config.listen))?;
        let addr = listener.local_addr()?;
        let router = api::router(state, Some(&config.dashboard_dir), surface)
            .into_make_service_with_connect_info::<SocketAddr>();
        let stop = shutdown.clone();
        tasks.spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "HTTP server failed");
            }
        });
        Ok(addr)
    }
}
