//! Instance credentials bound to their target: a stored password never follows the instance to
//! another host; no Unix sockets unless allowed; bounded connect timeouts; and one silent
//! instance cannot hold back the background checks of the others.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

/// Background checks off: only the requests under test write events.
fn quiet() -> AppBuilder {
    TestApp::builder()
        .admin()
        .config(|c| c.check_interval = Duration::ZERO)
}

fn body(name: &str, host: &str, port: u16, password: Option<&str>, timeout: i64) -> Value {
    json!({
        "name": name, "host": host, "port": port, "database": "postgres",
        "username": "postgres", "password": password, "sslmode": "disable",
        "connect_timeout_s": timeout
    })
}

async fn put(api: &Api, token: &str, id: &str, patch: Value) -> Reply {
    api.put(&format!("/managed-instances/{id}"), token, patch)
        .await
}

/// Creates an instance as `token`; returns its id.
async fn create(api: &Api, token: &str, body: Value) -> String {
    let created = api.post("/managed-instances", Some(token), body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["id"].as_str().expect("id").to_owned()
}

async fn instance_events(env: &TestEnv) -> i64 {
    count(
        &env.sql().await,
        "SELECT count(*) FROM events WHERE aggregate_type = 'managed_instance'",
    )
    .await
}

fn refusal(r: &Reply) -> (u16, Value) {
    (r.status, r.body["error"]["field"].clone())
}

/// The app (background checks off) with an editor signed in, and an instance `prod` on
/// `db.internal` that the admin registered with a password.
struct Prod {
    app: TestApp,
    editor: String,
    id: String,
}

async fn prod() -> Prod {
    let app = quiet().spawn().await;
    let editor = app.user("creds-editor", "editor").await.token;
    let body = body("prod", "db.internal", 5432, Some("admin secret"), 5);
    let id = create(app.api(), app.admin(), body).await;
    Prod { app, editor, id }
}

#[tokio::test]
async fn an_editors_target_change_without_the_password_is_refused_and_changes_nothing() {
    let Prod { app, editor, id } = prod().await;
    let api = app.api();
    let before = instance_events(&app.env).await;

    for patch in [
        json!({"host": "attacker.example"}),
        json!({"port": 6543}),
        json!({"database": "other"}),
        json!({"username": "someone"}),
        json!({"sslmode": "prefer"}),
        json!({"host": "attacker.example", "name": "grabbed"}),
    ] {
        let r = put(api, &editor, &id, patch.clone()).await;
        assert_eq!(refusal(&r), (422, json!("password")), "{patch}: {}", r.body);
        let message = r.body["error"]["message"].as_str().expect("message");
        assert!(message.contains("password"), "{message}");
    }
    assert_eq!(
        instance_events(&app.env).await,
        before,
        "nothing was stored"
    );
    let shown = api.get(&format!("/managed-instances/{id}"), &editor).await;
    assert_eq!(
        (
            shown.body["host"].clone(),
            shown.body["name"].clone(),
            shown.body["has_password"].clone()
        ),
        (json!("db.internal"), json!("prod"), json!(true))
    );
    // The refused rename did not keep the name for itself.
    create(api, &editor, body("grabbed", "db2.internal", 5432, None, 5)).await;
}

#[tokio::test]
async fn an_editor_may_change_what_does_not_move_the_password_or_move_it_knowing_the_password() {
    let Prod { app, editor, id } = prod().await;
    let api = app.api();
    let r = put(
        api,
        &editor,
        &id,
        json!({"name": "prod-eu", "connect_timeout_s": 10, "tags": ["eu"]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["has_password"], true);

    // With the password, the move is the editor's own: accepted.
    let r = put(
        api,
        &editor,
        &id,
        json!({"host": "db-new.internal", "password": "editor knows it"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["host"].clone(), r.body["has_password"].clone()),
        (json!("db-new.internal"), json!(true))
    );
    // Or with the password removed.
    let r = put(
        api,
        &editor,
        &id,
        json!({"host": "db-third.internal", "password": null}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["has_password"], false);
}

#[tokio::test]
async fn a_unix_socket_host_is_refused_by_default() {
    let app = quiet().spawn().await;
    let (api, admin) = (app.api(), app.admin());
    let r = api
        .post(
            "/managed-instances",
            Some(admin),
            body("local", "/var/run/postgresql", 5432, None, 5),
        )
        .await;
    assert_eq!(refusal(&r), (422, json!("host")), "{}", r.body);
    assert!(r.body["error"]["message"]
        .as_str()
        .expect("message")
        .contains("PGA_ALLOW_UNIX_SOCKET_HOSTS"));
    assert_eq!(instance_events(&app.env).await, 0);

    let id = create(api, admin, body("tcp", "db.internal", 5432, None, 5)).await;
    let before = instance_events(&app.env).await;
    let r = put(api, admin, &id, json!({"host": "/tmp", "password": "pw"})).await;
    assert_eq!(refusal(&r), (422, json!("host")), "{}", r.body);
    assert_eq!(instance_events(&app.env).await, before);

    let r = api
        .post(
            "/managed-instances/test-connection-direct",
            Some(admin),
            body("direct", "/tmp", 5432, None, 5),
        )
        .await;
    assert_eq!(refusal(&r), (422, json!("host")), "{}", r.body);
}

#[tokio::test]
async fn a_unix_socket_host_is_accepted_when_an_admin_allows_it() {
    let app = quiet()
        .config(|c| c.allow_unix_socket_hosts = true)
        .spawn()
        .await;
    let (api, admin) = (app.api(), app.admin());
    let id = create(
        api,
        admin,
        body("local", "/var/run/postgresql", 5432, None, 5),
    )
    .await;
    let path = format!("/managed-instances/{id}/test-connection");
    let tested = api.post(&path, Some(admin), json!({})).await;
    assert_eq!(tested.status, 200, "{}", tested.body);
    // Whether a server listens there is this machine's business; the setting let it try.
    assert!(
        !tested.body["error"]
            .to_string()
            .contains("PGA_ALLOW_UNIX_SOCKET_HOSTS"),
        "{}",
        tested.body
    );
}

#[tokio::test]
async fn connect_timeout_s_is_at_most_30() {
    let app = quiet().spawn().await;
    let (api, admin) = (app.api(), app.admin());
    for timeout in [31, 300, 0] {
        let r = api
            .post(
                "/managed-instances",
                Some(admin),
                body("slow", "db.internal", 5432, None, timeout),
            )
            .await;
        assert_eq!(
            refusal(&r),
            (422, json!("connect_timeout_s")),
            "{timeout}: {}",
            r.body
        );
    }
    assert_eq!(instance_events(&app.env).await, 0);
    let id = create(api, admin, body("slow", "db.internal", 5432, None, 30)).await;
    let r = put(api, admin, &id, json!({"connect_timeout_s": 31})).await;
    assert_eq!(refusal(&r), (422, json!("connect_timeout_s")), "{}", r.body);
}

/// A TCP listener on loopback that accepts every connection and never says a word.
async fn black_hole() -> (u16, tokio::sync::mpsc::UnboundedReceiver<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (accepted, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
            let _ = accepted.send(());
        }
    });
    (port, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn black_hole_instances_do_not_delay_another_instances_check() {
    let app = TestApp::builder()
        .admin()
        .config(|c| c.check_interval = Duration::from_secs(1))
        .spawn()
        .await;
    let (api, admin) = (app.api(), app.admin());
    let (port, mut accepted) = black_hole().await;
    // More silent instances than the old four checks at a time, each at the longest timeout.
    for i in 0..5 {
        let silent = body(&format!("silent-{i}"), "127.0.0.1", port, None, 30);
        create(api, admin, silent).await;
    }
    // Wait until the background checks hang on the silent ones.
    tokio::time::timeout(Duration::from_secs(15), accepted.recv())
        .await
        .expect("a background check reached the black hole");

    // The shared test server: trust authentication, reachable, answers at once.
    let good = create(api, admin, body("good", "127.0.0.1", 5432, None, 5)).await;
    let path = format!("/managed-instances/{good}");
    // Checks run every second; the silent ones take 30 s each. 10 s is plenty for the good
    // one to be checked on its own schedule, and far less than waiting behind the others.
    eventually_within(
        10,
        "the good instance is checked despite the silent ones",
        || async {
            let r = api.get(&path, admin).await;
            (r.body["last_connection_status"] == "connected").then_some(())
        },
    )
    .await;
}
