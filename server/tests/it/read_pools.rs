//! The read-model pools: the URL's `sslmode` is honoured as by the command pool, and the query
//! API's reads are cut off by a statement timeout.

use std::time::Duration;

use crate::pg_fixture::PrivatePostgres;
use crate::support::*;

async fn uses_tls(pool: &deadpool_postgres::Pool) -> Result<bool, String> {
    let client = pool.get().await.map_err(|e| e.to_string())?;
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .map(|r| r.get(0))
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn the_read_pool_honours_the_urls_sslmode_like_the_command_pool() {
    let pg = tokio::task::spawn_blocking(PrivatePostgres::start)
        .await
        .expect("start");
    let url = |mode: &str| {
        format!(
            "postgres://postgres:superpass@127.0.0.1:{}/postgres?sslmode={mode}",
            pg.port
        )
    };
    for (mode, tls) in [("disable", false), ("prefer", true), ("require", true)] {
        let pool = projections::db::pool(&url(mode), 1).expect("pool");
        assert_eq!(uses_tls(&pool).await, Ok(tls), "read pool, sslmode={mode}");
        let store = commands::store::connect(&url(mode), 1).await.expect(mode);
        let (command_side,): (bool,) =
            sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                .fetch_one(&store)
                .await
                .expect("ssl");
        assert_eq!(command_side, tls, "command pool, sslmode={mode}");
    }
    // A self-signed certificate is not trusted: verify-full refuses, as libpq and sqlx do.
    let pool = projections::db::pool(&url("verify-full"), 1).expect("pool");
    assert!(uses_tls(&pool).await.is_err());
    tokio::task::spawn_blocking(move || pg.stop())
        .await
        .expect("stop");
}

#[tokio::test]
async fn the_api_read_pool_cancels_a_statement_past_its_timeout() {
    let env = TestEnv::new().await;
    let pool = projections::db::pool_with(
        &env.config.database_url,
        1,
        Some(Duration::from_millis(200)),
    )
    .expect("pool");
    let client = pool.get().await.expect("connection");
    let setting: String = client
        .query_one("SHOW statement_timeout", &[])
        .await
        .expect("show")
        .get(0);
    assert_eq!(setting, "200ms");
    let e = client
        .execute("SELECT pg_sleep(5)", &[])
        .await
        .expect_err("cancelled");
    assert_eq!(
        e.code(),
        Some(&tokio_postgres::error::SqlState::QUERY_CANCELED)
    );
    // The projectors' pool has none.
    let projectors = projections::db::pool(&env.config.database_url, 1).expect("pool");
    let setting: String = projectors
        .get()
        .await
        .expect("connection")
        .query_one("SHOW statement_timeout", &[])
        .await
        .expect("show")
        .get(0);
    assert_eq!(setting, "0");
    drop(client);
}

/// A burst of commands, more than the authentication pool's 8 connections, each waiting until
/// its change is visible: every one answers, and at once. The guard once kept its connection
/// while the handler ran, so 8 waiting commands held the whole pool and their own waits (which
/// need a connection from it) could only give up at the deadline, 30 s here: the burst then
/// took the deadline, and every other request queued behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_commands_waiting_for_visibility_does_not_starve_the_guard() {
    let app = TestApp::builder()
        .admin()
        .config(|c| c.command_wait = Duration::from_secs(30))
        .spawn()
        .await;
    let burst = (0..16).map(|n| {
        let app = &app;
        async move {
            app.api()
                .post(
                    "/managed-instances",
                    Some(app.admin()),
                    serde_json::json!({"name": format!("burst-{n}"), "host": "localhost",
                        "port": 5432, "database": "postgres", "username": "postgres",
                        "sslmode": "disable", "tags": []}),
                )
                .await
        }
    });
    // Not a speed target: 20 s is far more than 16 small commands take, and far less than the
    // 30 s a wait that cannot get a connection runs to.
    let replies = tokio::time::timeout(Duration::from_secs(20), futures::future::join_all(burst))
        .await
        .expect("the burst answered before the visibility wait's deadline");
    for r in &replies {
        assert_eq!(r.status, 201, "{}", r.body);
    }
    // Read-your-writes held: each one is listed right after its answer.
    assert_eq!(app.listed("/managed-instances").await, 16);
}
