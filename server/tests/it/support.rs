//! `TestEnv`: a fresh database and NATS prefix per test, and helpers to start the app.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream;
use chrono::Utc;
use commands::service::{CommandService, Committed};
use domain::user::{PasswordHash, Role, UserCommand, Username};
use domain::values::Actor;
use futures::StreamExt;
use pganalytics::app::{self, Roles, Running};
use pganalytics::config::Config;
use tokio_util::sync::CancellationToken;

pub const ADMIN_USER: &str = "root-admin";
pub const ADMIN_PASSWORD: &str = "first admin password";

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
        let config = Config::for_local(&url, nats_url, &prefix).expect("config");
        let pool = app::connect_store(&config, Duration::from_secs(5))
            .await
            .expect("store");
        commands::store::migrate(&pool).await.expect("migrate");
        pool.close().await;
        Self { db, prefix, config }
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
            .connect(&self.config.nats_url)
            .await
            .expect("nats")
    }

    pub async fn jetstream(&self) -> jetstream::Context {
        jetstream::new(self.nats().await)
    }

    /// Drops the database and this prefix's streams.
    pub async fn cleanup(self) {
        let client = pganalytics::app::nats_options(&self.config)
            .expect("nats options")
            .connect(&self.config.nats_url)
            .await;
        if let Ok(client) = client {
            let js = jetstream::new(client);
            let _ = js.delete_stream(self.config.names.events_stream()).await;
            let _ = js.delete_stream(self.config.names.metrics_stream()).await;
        }
        let admin = connect(&with_database(&self.config.database_url, "postgres")).await;
        let _ = admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db))
            .await;
    }
}

pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect postgres");
    tokio::spawn(conn);
    client
}

/// Waits (up to 15 s) until `check` returns `Some`. A deadline for eventual consistency, not a
/// speed assertion: on a slow machine it only waits longer.
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_within(15, what, check).await
}

/// [`eventually`] with another deadline, for what waits on a back-off.
pub async fn eventually_within<T, F, Fut>(seconds: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn admin_actor() -> Actor {
    Actor::user("00000000-0000-0000-0000-000000000001", "test-admin")
}

pub async fn create_user(commands: &CommandService, username: &str) -> (String, Committed) {
    let id = uuid::Uuid::new_v4().to_string();
    let committed = commands
        .user(
            &id,
            UserCommand::CreateUser {
                username: Username::parse(username).expect("username"),
                role: Role::Viewer,
                password_hash: PasswordHash::from_phc("$argon2id$v=19$m=19456,t=2,p=1$stub".into()),
                at: Utc::now(),
            },
            &admin_actor(),
        )
        .await
        .expect("create user");
    (id, committed)
}

/// Every message of a stream, in order (via an ephemeral consumer).
pub async fn stream_messages(js: &jetstream::Context, stream: &str) -> Vec<jetstream::Message> {
    let Ok(stream) = js.get_stream(stream).await else {
        return Vec::new();
    };
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ack_policy: jetstream::consumer::AckPolicy::None,
            inactive_threshold: Duration::from_secs(30),
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut out = Vec::new();
    loop {
        let mut batch = consumer
            .fetch()
            .max_messages(1000)
            .expires(Duration::from_millis(300))
            .messages()
            .await
            .expect("fetch");
        let mut got = 0;
        while let Some(m) = batch.next().await {
            out.push(m.expect("message"));
            got += 1;
        }
        if got == 0 {
            return out;
        }
    }
}

pub async fn stream_len(js: &jetstream::Context, stream: &str) -> u64 {
    match js.get_stream(stream).await {
        Ok(mut s) => s.info().await.map(|i| i.state.messages).unwrap_or(0),
        Err(_) => 0,
    }
}

pub async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.expect(sql).get(0)
}

/// A small HTTP client for the API under test.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: serde_json::Value,
}

impl Api {
    pub fn new(addr: std::net::SocketAddr) -> Self {
        Self {
            base: format!("http://{addr}/api/v1"),
            http: reqwest::Client::new(),
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: serde_json::Value) -> Reply {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Reply {
        self.post(
            "/auth/login",
            None,
            serde_json::json!({"username": username, "password": password}),
        )
        .await
    }

    /// Logs in and returns the access token, panicking on failure.
    pub async fn token(&self, username: &str, password: &str) -> String {
        let reply = self.login(username, password).await;
        assert_eq!(reply.status, 200, "login {username}: {}", reply.body);
        reply.body["access_token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// Creates a user as `admin` and returns its id.
    pub async fn create_user(
        &self,
        admin: &str,
        username: &str,
        password: &str,
        role: &str,
    ) -> String {
        let reply = self
            .post(
                "/users",
                Some(admin),
                serde_json::json!({"username": username, "password": password, "role": role}),
            )
            .await;
        assert_eq!(reply.status, 201, "create {username}: {}", reply.body);
        reply.body["id"].as_str().expect("id").to_owned()
    }
}

pub struct RegisteredCollector {
    pub id: String,
    pub token: String,
    pub refresh_secret: String,
    pub secret: String,
    /// Its NATS credential (`credentials`, `subject`, `inbox_prefix`, `expires_at`), when the
    /// server issues them.
    pub nats: Option<serde_json::Value>,
}

/// Creates a registration secret as `admin`; returns the secret itself.
pub async fn registration_secret(api: &Api, admin: &str, name: &str) -> String {
    let secret = api
        .post(
            "/registration-secrets",
            Some(admin),
            serde_json::json!({"name": format!("secret for {name}")}),
        )
        .await;
    assert_eq!(secret.status, 201, "{}", secret.body);
    secret.body["secret"].as_str().expect("secret").to_owned()
}

/// Creates a registration secret as `admin` and registers a collector with it.
pub async fn register_collector(api: &Api, admin: &str, name: &str) -> RegisteredCollector {
    let secret = registration_secret(api, admin, name).await;
    let reply = api
        .http
        .post(format!("{}/collectors/register", api.base))
        .header("X-Registration-Secret", &secret)
        .json(&serde_json::json!({"name": name, "hostname": "db-host-1", "version": "test"}))
        .send()
        .await
        .expect("register");
    assert_eq!(reply.status().as_u16(), 201);
    let body: serde_json::Value = reply.json().await.expect("json");
    RegisteredCollector {
        id: body["collector_id"].as_str().expect("id").to_owned(),
        token: body["token"].as_str().expect("token").to_owned(),
        refresh_secret: body["refresh_secret"].as_str().expect("refresh").to_owned(),
        secret,
        nats: body.get("nats").cloned(),
    }
}

/// Asks for a one-use live-updates ticket with `token`, panicking on failure.
pub async fn live_ticket(api: &Api, token: &str) -> String {
    let reply = api
        .post("/events/ticket", Some(token), serde_json::json!({}))
        .await;
    assert_eq!(reply.status, 200, "ticket: {}", reply.body);
    reply.body["ticket"].as_str().expect("ticket").to_owned()
}

/// A user event as the event store would hold it, for publishing by hand.
pub fn user_event(id: &str, sequence: i64, event: &domain::user::UserEvent) -> domain::StoredEvent {
    domain::StoredEvent {
        position: 1000 + sequence,
        aggregate_type: "user".into(),
        aggregate_id: id.to_owned(),
        sequence,
        event_type: "UserEvent".into(),
        event_version: "1".into(),
        payload: serde_json::to_value(event).expect("json"),
        metadata: serde_json::json!({}),
        recorded_at: chrono::Utc::now(),
    }
}

/// The reasons `projection` rejected messages for, oldest first.
pub async fn rejected_reasons(client: &tokio_postgres::Client, projection: &str) -> Vec<String> {
    client
        .query(
            "SELECT reason FROM projection_rejected WHERE projection = $1 ORDER BY stream_sequence",
            &[&projection],
        )
        .await
        .expect("rejected")
        .iter()
        .map(|r| r.get(0))
        .collect()
}
