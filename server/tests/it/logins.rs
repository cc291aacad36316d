//! Login limits that hold under parallel attempts, cannot be turned against the admin, bound the
//! password hashing, and believe a proxy's header only from a trusted proxy.

use std::net::IpAddr;

use serde_json::json;

use crate::support::*;

/// The bootstrap admin exists but has not signed in: these tests count login attempts.
async fn started(configure: impl FnOnce(&mut pganalytics::config::Config) + 'static) -> TestApp {
    TestApp::builder()
        .admin_not_signed_in()
        .config(configure)
        .spawn()
        .await
}

/// The same server, reached from another loopback address (Linux answers on all of 127/8).
fn from_address(api: &Api, local: &str) -> Api {
    let local: IpAddr = local.parse().expect("ip");
    Api {
        base: api.base.clone(),
        http: reqwest::Client::builder()
            .local_address(local)
            .build()
            .expect("client"),
    }
}

/// A login with a `X-Forwarded-For` header; returns the status.
async fn login_forwarded_for(
    api: &Api,
    forwarded_for: &str,
    username: &str,
    password: &str,
) -> u16 {
    api.http
        .post(format!("{}/auth/login", api.base))
        .header("X-Forwarded-For", forwarded_for)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("login")
        .status()
        .as_u16()
}

#[tokio::test]
async fn parallel_wrong_passwords_beyond_the_limit_are_refused_before_the_hash() {
    // A pool big enough that only the limiter decides.
    let app = started(|c| c.max_concurrent_hashes = 64).await;
    let api = app.api();
    let tries = (0..20).map(|_| {
        let api = api.clone();
        async move { api.login(ADMIN_USER, "wrong password!!").await.status }
    });
    let statuses = futures::future::join_all(tries).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + refused, 20, "{statuses:?}");
    // Five attempts per (username, address): README, "Users and roles".
    assert!(
        checked <= 5,
        "{checked} wrong passwords were checked, the limit is 5: {statuses:?}"
    );
}

#[tokio::test]
async fn hashes_past_the_pool_bound_get_503_with_retry_after() {
    let app = started(|c| c.max_concurrent_hashes = 1).await;
    let api = app.api();
    // Distinct unknown users: no limit trips, each costs one decoy verification.
    let tries = (0..20).map(|i| {
        let api = api.clone();
        async move { api.login(&format!("nobody-{i}"), "whatever password").await }
    });
    let replies = futures::future::join_all(tries).await;
    let busy: Vec<&Reply> = replies.iter().filter(|r| r.status == 503).collect();
    assert!(
        replies.iter().all(|r| r.status == 401 || r.status == 503),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(!busy.is_empty(), "twenty hashes at once with a pool of one");
    for reply in busy {
        assert_eq!(reply.body["error"]["code"], "busy", "{}", reply.body);
        assert_eq!(reply.headers["retry-after"], "1");
    }
    // Refused attempts were not counted, and the pool is free again.
    assert_eq!(api.login(ADMIN_USER, ADMIN_PASSWORD).await.status, 200);
}

#[tokio::test]
async fn a_strangers_failures_from_one_address_do_not_keep_the_admin_out_of_another() {
    let app = started(|_| {}).await;
    let api = app.api();
    let stranger = from_address(api, "127.0.0.2");
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(stranger.login(ADMIN_USER, "a wrong guess!").await.status);
    }
    assert_eq!(statuses[..5], [401; 5], "{statuses:?}");
    assert_eq!(
        statuses[5..],
        [429; 5],
        "the stranger is held: {statuses:?}"
    );
    assert_eq!(
        stranger.login(ADMIN_USER, ADMIN_PASSWORD).await.status,
        429,
        "held even with the right password"
    );

    let reply = api.login(ADMIN_USER, ADMIN_PASSWORD).await;
    assert_eq!(reply.status, 200, "the admin gets in: {}", reply.body);
}

#[tokio::test]
async fn a_forwarded_for_header_is_ignored_unless_the_proxy_is_trusted() {
    let app = started(|c| {
        c.client_address =
            api::auth::client::ClientAddress::new(Some("X-Forwarded-For"), Some("192.0.2.10"))
                .expect("valid");
    })
    .await;
    let api = app.api();
    for _ in 0..5 {
        let status = login_forwarded_for(api, "198.51.100.1", ADMIN_USER, "a wrong guess!").await;
        assert_eq!(status, 401);
    }
    // 127.0.0.1 is not a trusted proxy: its header changes nothing, it is still the pair held.
    let status = login_forwarded_for(api, "198.51.100.2", ADMIN_USER, ADMIN_PASSWORD).await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn a_trusted_proxys_forwarded_for_header_names_the_client() {
    let app = started(|c| {
        c.client_address =
            api::auth::client::ClientAddress::new(Some("X-Forwarded-For"), Some("127.0.0.1"))
                .expect("valid");
    })
    .await;
    let api = app.api();
    for _ in 0..5 {
        let status = login_forwarded_for(api, "198.51.100.1", ADMIN_USER, "a wrong guess!").await;
        assert_eq!(status, 401);
    }
    assert_eq!(
        login_forwarded_for(api, "198.51.100.1", ADMIN_USER, ADMIN_PASSWORD).await,
        429,
        "the guesser behind the proxy is held"
    );
    assert_eq!(
        login_forwarded_for(api, "198.51.100.2", ADMIN_USER, ADMIN_PASSWORD).await,
        200,
        "another client behind the same proxy is not"
    );
    // What the client itself wrote further left is not believed.
    assert_eq!(
        login_forwarded_for(
            api,
            "203.0.113.50, 198.51.100.1",
            ADMIN_USER,
            ADMIN_PASSWORD
        )
        .await,
        429
    );
}
