//! `TestEnv`: a fresh database and NATS prefix, removed again when it is dropped.

use std::time::Duration;

use async_nats::jetstream;
use commands::service::CommandService;
use pganalytics::app::{self, Roles, Running};
use pganalytics::config::Config;
use tokio_util::sync::CancellationToken;

use super::{connect, ADMIN_PASSWORD, ADMIN_USER};

pub fn admin_url(db: &str) -> String {
    format!("{}/{db}", pg_base())
}

/// The shared test PostgreSQL server, as a superuser URL without a database.
fn pg_base() -> String {
    std::env::var("PGA_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// `url` (a superuser URL naming a database, perhaps with `?options`) naming `db` instead.
fn with_database(url: &str, db: &str) -> String {
    let (path, query) = url
        .split_once('?')
        .map_or((url, None), |(p, q)| (p, Some(q)));
    let base = path.rsplit_once('/').map_or(path, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// The test process's own nats-server in operator mode, as `pganalytics nats-init` sets it up:
/// every test's server connects with the server credential and issues collectors theirs.
pub struct SecureNats {
    pub url: String,
    pub creds: String,
    pub collector_account: String,
    pub signing_key: String,
}

static SECURE_NATS: std::sync::OnceLock<SecureNats> = std::sync::OnceLock::new();

/// The shared operator-mode nats-server, started on first use on a free loopback port. A
/// watchdog shell stops it when this test process ends.
pub fn secure_nats() -> &'static SecureNats {
    SECURE_NATS.get_or_init(|| {
        // Kept until the watchdog removes it with the server: a static is never dropped.
        let dir = tempfile::tempdir().expect("temp dir").keep();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let listen: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let written = pganalytics::nats_init::NatsInit {
            dir: dir.join("nats"),
            server_dir: None,
            offline_dir: None,
            listen,
            store_dir: None,
        }
        .run()
        .expect("nats-init");
        let env = std::fs::read_to_string(&written.server_env).expect("env file");
        let var = |name: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}=")))
                .expect("variable")
                .to_owned()
        };
        let creds = std::fs::read_to_string(var("PGA_NATS_CREDS")).expect("creds");
        let log = dir.join("nats.log");
        // The shell returns at once, leaving a watchdog (reparented to init, so no zombie of
        // ours) that stops nats-server and removes its files once this test process is gone.
        let script = format!(
            "( nats-server -c '{}' -l '{}' & child=$!; \\
               while kill -0 {} 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 1; done; \\
               kill $child 2>/dev/null; wait $child; rm -rf '{}' ) >/dev/null 2>&1 &",
            written.nats_config.display(),
            log.display(),
            std::process::id(),
            dir.display()
        );
        let started = std::process::Command::new("sh")
            .args(["-c", &script])
            .stdin(std::process::Stdio::null())
            .status()
            .expect("sh");
        assert!(started.success(), "could not start nats-server");
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(listen).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the operator-mode nats-server did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        SecureNats {
            url: var("PGA_NATS_URL"),
            creds,
            collector_account: var("PGA_NATS_COLLECTOR_ACCOUNT"),
            signing_key: var("PGA_NATS_COLLECTOR_SIGNING_KEY"),
        }
    })
}

pub struct TestEnv {
    pub db: String,
    pub prefix: String,
    pub config: Config,
}

impl TestEnv {
    /// A new database (migrated) and a new NATS prefix, on the operator-mode NATS: the server
    /// connects with its own credential and issues collectors theirs.
    pub async fn new() -> Self {
        let nats = secure_nats();
        let mut env = Self::with_nats(&nats.url).await;
        env.config = env
            .config
            .clone()
            .with_nats_operator_auth(&nats.creds, &nats.collector_account, &nats.signing_key)
            .expect("operator auth");
        env
    }

    pub async fn with_nats(nats_url: &str) -> Self {
        Self::with_servers(&admin_url("postgres"), nats_url).await
    }

    /// On another PostgreSQL server (`pg_url`: a superuser URL naming any database) and NATS.
    pub async fn with_servers(pg_url: &str, nats_url: &str) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let db = format!("pga_t_{}", &id[..16]);
        let prefix = format!("t{}", &id[..12]);
        let admin = connect(&with_database(pg_url, "postgres")).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .expect("create test database");
        let url = with_database(pg_url, &db);
        let mut config = Config::for_local(&url, nats_url, &prefix).expect("config");
        // Fewer streams per test than the default 16: every test still runs partitioned.
        config.names = config.names.with_partitions(4);
        // Alerting adds events (built-in rules) and rounds that tests counting events or
        // timing their own rounds do not expect; the alerting tests turn them on.
        config.alert_builtin_rules = false;
        config.alert_interval = Duration::ZERO;
        // From here on, a panic drops the database again.
        let env = Self { db, prefix, config };
        let pool = app::connect_store(&env.config, Duration::from_secs(5))
            .await
            .expect("store");
        commands::store::migrate(&pool).await.expect("migrate");
        pool.close().await;
        env
    }

    /// Sets the first admin, created at start-up.
    pub fn with_bootstrap_admin(mut self) -> Self {
        self.config.bootstrap_admin = Some((
            ADMIN_USER.to_owned(),
            pganalytics::config::Secret::new(ADMIN_PASSWORD),
        ));
        self
    }

    pub async fn start(&self, roles: Roles) -> Running {
        app::start(&self.config, roles, CancellationToken::new())
            .await
            .expect("start app")
    }

    /// A relay over this environment's event store and stream.
    pub fn relay(
        &self,
        commands: &CommandService,
        js: &jetstream::Context,
    ) -> commands::relay::Relay {
        commands::relay::Relay::new(
            commands.pool().clone(),
            js.clone(),
            self.config.names.clone(),
            self.seal(),
        )
    }

    /// The key this environment's server signs domain events with.
    pub fn seal(&self) -> domain::signature::EventSeal {
        self.config.event_seal().expect("jwt secret")
    }

    /// Publishes `event` on the events stream as the server's relay would: signed.
    pub async fn publish_event(&self, js: &jetstream::Context, event: &domain::StoredEvent) {
        let subject = self.config.names.subject(&event.subject_suffix());
        let payload = serde_json::to_vec(event).expect("json");
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            domain::signature::SIGNATURE_HEADER,
            self.seal().sign(&subject, &payload).as_str(),
        );
        js.publish_with_headers(subject, headers, payload.into())
            .await
            .expect("publish")
            .await
            .expect("ack");
    }

    /// Publishes a metrics batch on `collector`'s subject as a collector would, with `token`
    /// in the header and `msg_id` for JetStream's duplicate window.
    pub async fn publish_batch(
        &self,
        collector: &str,
        token: &str,
        body: &serde_json::Value,
        msg_id: &str,
    ) {
        let json = serde_json::to_vec(body).expect("json");
        self.publish_bytes(collector, token, json, msg_id).await;
    }

    /// Publishes raw bytes on `collector`'s metrics subject with `token`, as a collector on
    /// NATS may (the compact encoding, or anything else).
    pub async fn publish_bytes(&self, collector: &str, token: &str, bytes: Vec<u8>, msg_id: &str) {
        let js = self.jetstream().await;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", msg_id);
        headers.insert(domain::metrics::TOKEN_HEADER, token);
        js.publish_with_headers(
            self.config.names.metrics_subject(collector),
            headers,
            bytes.into(),
        )
        .await
        .expect("publish")
        .await
        .expect("ack");
    }

    /// The token keys the server derives from this environment's JWT secret.
    pub fn token_keys(&self) -> api::auth::tokens::TokenKeys {
        api::auth::tokens::TokenKeys::new(
            self.config
                .jwt_secret
                .as_ref()
                .expect("secret")
                .expose()
                .as_bytes(),
            Duration::from_secs(60),
        )
        .expect("keys")
    }

    /// Replays one projection into a fresh schema and switches over.
    pub async fn replay(
        &self,
        running: &Running,
        projector: std::sync::Arc<dyn projections::runtime::Projector>,
    ) -> projections::replay::ReplayReport {
        projections::replay::replay(
            &running.read_pool,
            &running.jetstream,
            &self.config.names,
            projector,
            &|_| {},
        )
        .await
        .expect("replay")
    }

    pub async fn sql(&self) -> tokio_postgres::Client {
        connect(&self.config.database_url).await
    }

    pub async fn commands(&self) -> CommandService {
        let pool = commands::store::connect(&self.config.database_url, 4)
            .await
            .expect("pool");
        CommandService::new(pool, pganalytics::app::tester(&self.config))
    }

    /// A NATS connection with the server's own credential.
    pub async fn nats(&self) -> async_nats::Client {
        pganalytics::app::nats_options(&self.config)
            .expect("nats options")
            .connect(self.config.nats_servers().expect("PGA_NATS_URL"))
            .await
            .expect("nats")
    }

    pub async fn jetstream(&self) -> jetstream::Context {
        jetstream::new(self.nats().await)
    }
}

impl Drop for TestEnv {
    /// `Drop` cannot await, and the test's own runtime may be single-threaded and busy
    /// unwinding: the clean-up runs on a thread of its own with a runtime of its own, and the
    /// drop waits for it (at most a few seconds, should a server be gone).
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "test failed: dropping its database {} and the streams of prefix {}",
                self.db, self.prefix
            );
        }
        let config = self.config.clone();
        let db = self.db.clone();
        let cleanup = std::thread::Builder::new()
            .name(format!("drop {db}"))
            .spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                runtime.block_on(remove(&config, &db));
            });
        if let Ok(cleanup) = cleanup {
            let _ = cleanup.join();
        }
    }
}

/// Drops the database (its connections too) and the prefix's streams; never panics.
async fn remove(config: &Config, db: &str) {
    let patience = Duration::from_secs(10);
    let database = async {
        let url = with_database(&config.database_url, "postgres");
        if let Ok((client, connection)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await
        {
            tokio::spawn(connection);
            let _ = client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                .await;
        }
    };
    let streams = async {
        let Ok(options) = pganalytics::app::nats_options(config) else {
            return;
        };
        let client = options
            .connection_timeout(Duration::from_secs(3))
            .connect(config.nats_servers().unwrap_or_default())
            .await;
        if let Ok(client) = client {
            let js = jetstream::new(client);
            let _ = js.delete_stream(config.names.events_stream()).await;
            let _ = js.delete_stream(config.names.metrics_stream()).await;
            for partition in 0..config.names.partitions() {
                let _ = js
                    .delete_stream(config.names.metrics_partition_stream(partition))
                    .await;
            }
        }
    };
    let _ = tokio::join!(
        tokio::time::timeout(patience, database),
        tokio::time::timeout(patience, streams)
    );
}
