//! Health, and what happens when NATS or PostgreSQL goes away.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use domain::user::{PasswordHash, Role, UserEvent, Username};
use pganalytics::app::Roles;
use serde_json::Value;

use crate::support::*;

#[tokio::test]
async fn health_is_ok_and_reports_lag_per_projection() {
    let app = spawn_app(Roles::ALL).await;
    let commands = app.env.commands().await;
    create_user(&commands, "lagging").await;

    let body = eventually("all projections caught up", || async {
        let (status, body) = app.health().await;
        assert_eq!(status, 200, "{body}");
        let projections = body["projections"].as_array()?.clone();
        let events = |p: &&Value| {
            let name = p["name"].as_str().unwrap_or_default();
            !(name.starts_with("collector_activity.p") || name.starts_with("metric_samples.p"))
        };
        // Six event projections, and two metrics projections on each of the 4 partitions.
        let caught_up = projections.len() == 14
            && projections.iter().filter(events).count() == 6
            && projections
                .iter()
                .filter(events)
                .all(|p| p["checkpoint"] == 1 && p["lag"] == 0 && p["stream_head"] == 1)
            && projections.iter().all(|p| p["lag"] == 0);
        caught_up.then_some(body)
    })
    .await;
    assert_eq!(body["status"], "ok");
    assert_eq!(body["postgres"]["up"], true);
    assert_eq!(body["relay_pending"], 0);
}

/// A private nats-server with JetStream, its store in `dir` (kept across restarts).
pub(crate) struct NatsServer {
    child: Child,
    pub(crate) port: u16,
    pub(crate) dir: std::path::PathBuf,
}

impl NatsServer {
    pub(crate) fn start(port: u16, dir: &std::path::Path) -> Self {
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server on PATH");
        Self {
            child,
            port,
            dir: dir.to_owned(),
        }
    }

    /// Sends it a signal (`STOP` freezes it, `CONT` thaws it).
    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal}");
    }

    /// Kills it (SIGKILL).
    pub(crate) fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub(crate) async fn wait_for_port(port: u16) {
    eventually("nats-server listening", || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
}

#[tokio::test]
async fn with_nats_down_commands_succeed_and_their_events_arrive_when_it_is_back() {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("pga-nats-{}", uuid::Uuid::new_v4()));
    let mut nats = NatsServer::start(port, &dir);
    wait_for_port(port).await;
    let url = format!("nats://127.0.0.1:{port}");
    let app = TestApp::builder()
        .on(TestEnv::with_nats(&url).await)
        .spawn()
        .await;
    let commands = app.env.commands().await;
    let sql = app.sql().await;

    create_user(&commands, "before-outage").await;
    wait_for_count(
        &sql,
        "projected before the outage",
        "SELECT count(*) FROM rm_users",
        1,
    )
    .await;

    nats.stop();
    let (status, body) = eventually("health notices NATS is gone", || async {
        let (status, body) = app.health().await;
        (status == 503).then_some((status, body))
    })
    .await;
    assert_eq!(status, 503);
    assert_eq!(body["nats"]["up"], false);
    assert_eq!(body["postgres"]["up"], true);

    // The event store is the truth: the command succeeds without NATS.
    create_user(&commands, "during-outage").await;
    assert_eq!(count(&sql, "SELECT count(*) FROM rm_users").await, 1);

    let mut nats = NatsServer::start(nats.port, &nats.dir.clone());
    wait_for_port(port).await;
    wait_for_count(
        &sql,
        "the outage's event reached the read model",
        "SELECT count(*) FROM rm_users WHERE username = 'during-outage'",
        1,
    )
    .await;
    let (status, _) = eventually("health recovers", || async {
        let (status, body) = app.health().await;
        (status == 200).then_some((status, body))
    })
    .await;
    assert_eq!(status, 200);
    drop(app);
    nats.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn with_postgres_down_health_is_503_and_projectors_resume_without_loss() {
    let app = spawn_app(Roles::ALL).await;
    let env = &app.env;
    let commands = env.commands().await;
    let sql = env.sql().await;
    create_user(&commands, "first").await;
    wait_for_count(&sql, "projected", "SELECT count(*) FROM rm_users", 1).await;
    drop(commands);
    drop(sql);

    // Take the database away from the server: no new connections, existing ones killed.
    let admin = connect(&admin_url("postgres")).await;
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {db} ALLOW_CONNECTIONS false;
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}';",
            db = env.db
        ))
        .await
        .expect("block database");
    let (status, body) = eventually("health notices PostgreSQL is gone", || async {
        let (status, body) = app.health().await;
        (status == 503).then_some((status, body))
    })
    .await;
    assert_eq!(status, 503);
    assert_eq!(body["postgres"]["up"], false);

    // An event arrives on the stream meanwhile; the projectors cannot apply it yet.
    let id = uuid::Uuid::new_v4().to_string();
    let event = user_event(
        &id,
        1,
        &UserEvent::UserCreated {
            username: Username::parse("while-down").expect("valid"),
            role: Role::Viewer,
            password_hash: PasswordHash::from_phc("$argon2id$stub".into()),
            at: Utc::now(),
        },
    );
    let js = env.jetstream().await;
    env.publish_event(&js, &event).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    admin
        .batch_execute(&format!("ALTER DATABASE {} ALLOW_CONNECTIONS true", env.db))
        .await
        .expect("unblock database");
    let sql = env.sql().await;
    wait_for_count(
        &sql,
        "the event applied after PostgreSQL came back",
        "SELECT count(*) FROM rm_users WHERE username = 'while-down'",
        1,
    )
    .await;
    assert_eq!(
        count(&sql, "SELECT count(*) FROM projection_rejected").await,
        0
    );
    let (status, _) = app.health().await;
    assert_eq!(status, 200);
}
