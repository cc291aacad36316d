//! `TestApp`: the server running on a `TestEnv` of its own, with a client for its API and the
//! helpers tests repeat. Dropped, it stops and takes its database and streams with it.

use std::net::SocketAddr;

use pganalytics::app::{Roles, Running};
use pganalytics::config::Config;
use serde_json::{json, Value};

use super::{
    eventually, register_collector, wait_for_count, Api, RegisteredCollector, Reply, TestEnv,
    ADMIN_PASSWORD, ADMIN_USER,
};

/// The server with `roles` on a fresh database and NATS prefix, with no user.
pub async fn spawn_app(roles: Roles) -> TestApp {
    TestApp::builder().roles(roles).spawn().await
}

/// The server with every role and its bootstrap admin signed in: what most API tests want.
pub async fn spawn_admin_app() -> TestApp {
    TestApp::builder().admin().spawn().await
}

type Tweak = Box<dyn FnOnce(&mut Config)>;

/// The variants of [`TestApp`] tests need; see [`TestApp::builder`].
#[must_use]
pub struct AppBuilder {
    env: Option<TestEnv>,
    roles: Roles,
    admin: Admin,
    tweaks: Vec<Tweak>,
}

#[derive(Clone, Copy, PartialEq)]
enum Admin {
    None,
    Created,
    SignedIn,
}

impl AppBuilder {
    /// With the bootstrap admin, signed in: [`TestApp::admin`] is its token.
    pub fn admin(mut self) -> Self {
        self.admin = Admin::SignedIn;
        self
    }

    /// With the bootstrap admin created at start-up but not signed in (for tests that count
    /// logins or login attempts).
    pub fn admin_not_signed_in(mut self) -> Self {
        self.admin = Admin::Created;
        self
    }

    /// Only these roles (every role otherwise).
    pub fn roles(mut self, roles: Roles) -> Self {
        self.roles = roles;
        self
    }

    /// A change to the configuration before the server starts.
    pub fn config(mut self, tweak: impl FnOnce(&mut Config) + 'static) -> Self {
        self.tweaks.push(Box::new(tweak));
        self
    }

    /// On `env` (another NATS or PostgreSQL) instead of a new [`TestEnv`].
    pub fn on(mut self, env: TestEnv) -> Self {
        self.env = Some(env);
        self
    }

    pub async fn spawn(self) -> TestApp {
        let mut env = match self.env {
            Some(env) => env,
            None => TestEnv::new().await,
        };
        if self.admin != Admin::None {
            env = env.with_bootstrap_admin();
        }
        for tweak in self.tweaks {
            tweak(&mut env.config);
        }
        let running = env.start(self.roles).await;
        let addr = running.addr;
        let api = addr.map(Api::new);
        let mut app = TestApp {
            running: Some(running),
            env,
            api,
            addr,
            roles: self.roles,
            admin: None,
        };
        if self.admin == Admin::SignedIn {
            app.admin = Some(app.api().token(ADMIN_USER, ADMIN_PASSWORD).await);
        }
        app
    }
}

/// A user made through the API, signed in.
pub struct TestUser {
    pub id: String,
    pub username: String,
    pub password: String,
    pub token: String,
}

/// The running server, its environment, a client for its API and, when asked for, the
/// bootstrap admin's token.
///
/// Dropping it aborts the server's tasks and then drops the database and the streams (see
/// [`TestEnv`]), also when the test panics; [`TestApp::stop`] is for a test that needs the
/// server gone before it carries on.
pub struct TestApp {
    /// Declared first so that it is dropped first: the server goes before its database.
    running: Option<Running>,
    pub env: TestEnv,
    api: Option<Api>,
    /// Where HTTP listens (kept across [`TestApp::stop`] and [`TestApp::start`]).
    pub addr: Option<SocketAddr>,
    roles: Roles,
    admin: Option<String>,
}

impl TestApp {
    pub fn builder() -> AppBuilder {
        AppBuilder {
            env: None,
            roles: Roles::ALL,
            admin: Admin::None,
            tweaks: Vec::new(),
        }
    }

    /// The client for the API.
    pub fn api(&self) -> &Api {
        self.api.as_ref().expect("this app serves no HTTP")
    }

    /// The bootstrap admin's access token.
    pub fn admin(&self) -> &str {
        self.admin
            .as_deref()
            .expect("spawned without a signed-in admin: TestApp::builder().admin()")
    }

    /// The running server's pools and JetStream.
    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("the app is stopped")
    }

    pub fn config(&self) -> &Config {
        &self.env.config
    }

    /// Stops the server and waits for it (HTTP drains in-flight requests); the database and
    /// streams stay until the app is dropped.
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }

    /// Starts the server again from `self.env.config`, on the same address.
    pub async fn start(&mut self) {
        assert!(self.running.is_none(), "already running");
        if let Some(addr) = self.addr {
            self.env.config.listen = addr;
        }
        self.running = Some(self.env.start(self.roles).await);
    }

    pub async fn sql(&self) -> tokio_postgres::Client {
        self.env.sql().await
    }

    pub async fn jetstream(&self) -> async_nats::jetstream::Context {
        self.env.jetstream().await
    }

    /// Creates a user with `role` as the admin, and signs it in.
    pub async fn user(&self, username: &str, role: &str) -> TestUser {
        let password = format!("password of {username}");
        let id = self
            .api()
            .create_user(self.admin(), username, &password, role)
            .await;
        let token = self.api().token(username, &password).await;
        TestUser {
            id,
            username: username.to_owned(),
            password,
            token,
        }
    }

    /// Creates a registration secret as the admin; returns the secret itself.
    pub async fn registration_secret(&self, name: &str) -> String {
        super::registration_secret(self.api(), self.admin(), name).await
    }

    /// Registers a collector with a new registration secret, as the admin.
    pub async fn register_collector(&self, name: &str) -> RegisteredCollector {
        register_collector(self.api(), self.admin(), name).await
    }

    /// Binds collector `collector` to `instances` (a JSON array of ids) as the admin.
    pub async fn bind(&self, collector: &str, instances: Value) -> Reply {
        self.api()
            .put(
                &format!("/collectors/{collector}/instances"),
                self.admin(),
                json!({"instance_ids": instances}),
            )
            .await
    }

    /// Creates a managed instance on the local server as the admin; returns its id.
    pub async fn managed_instance(&self, name: &str) -> String {
        let created = self
            .api()
            .post(
                "/managed-instances",
                Some(self.admin()),
                json!({"name": name, "host": "localhost", "port": 5432, "database": "postgres",
                       "username": "postgres", "sslmode": "disable", "tags": []}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        created.body["id"].as_str().expect("id").to_owned()
    }

    /// How many items `GET path` lists for the admin.
    pub async fn listed(&self, path: &str) -> usize {
        let reply = self.api().get(path, self.admin()).await;
        reply.body.as_array().map_or_else(
            || panic!("GET {path} is no list: {} {}", reply.status, reply.body),
            Vec::len,
        )
    }

    /// Pushes `body` over HTTP with `c`'s token.
    pub async fn push(&self, c: &RegisteredCollector, body: &Value) -> Reply {
        self.api()
            .post("/metrics/push", Some(&c.token), body.clone())
            .await
    }

    /// Pushes `body` over HTTP with `c`'s token, panicking unless it is accepted (202).
    pub async fn push_accepted(&self, c: &RegisteredCollector, body: &Value) -> Reply {
        let reply = self.push(c, body).await;
        assert_eq!(reply.status, 202, "{}", reply.body);
        reply
    }

    /// Publishes `body` over NATS on `c`'s subject with `c`'s token.
    pub async fn publish_batch(&self, c: &RegisteredCollector, body: &Value, msg_id: &str) {
        self.env.publish_batch(&c.id, &c.token, body, msg_id).await;
    }

    /// What `GET /collectors/{id}` shows the admin.
    pub async fn collector(&self, id: &str) -> Value {
        self.api()
            .get(&format!("/collectors/{id}"), self.admin())
            .await
            .body
    }

    /// Waits until the collector's view counts `total` points; returns the view.
    pub async fn wait_for_points(&self, id: &str, total: i64) -> Value {
        eventually(&format!("collector {id} shows {total} points"), || async {
            let v = self.collector(id).await;
            (v["metrics_count_total"] == total).then_some(v)
        })
        .await
    }

    /// Waits until the collector's view counts `n` rejected batches; returns the view.
    pub async fn wait_for_rejected_batches(&self, id: &str, n: i64) -> Value {
        eventually(
            &format!("collector {id} shows {n} rejected batches"),
            || async {
                let v = self.collector(id).await;
                (v["rejected_batches"] == n).then_some(v)
            },
        )
        .await
    }

    /// Waits until the samples projection has applied `n` batches.
    pub async fn wait_for_batches(&self, n: i64) {
        wait_for_batches(&self.env, n).await;
    }

    /// `GET /health`: its status and body.
    pub async fn health(&self) -> (u16, Value) {
        let r = self
            .api()
            .call(reqwest::Method::GET, "/health", None, None)
            .await;
        (r.status, r.body)
    }
}

/// Waits until the samples projection of `env` has applied `n` batches.
pub async fn wait_for_batches(env: &TestEnv, n: i64) {
    let sql = "SELECT count(*) FROM metric_applied_batches";
    wait_for_count(&env.sql().await, &format!("{n} batches stored"), sql, n).await;
}
