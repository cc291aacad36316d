//! Managed instances: sealed passwords, real connection tests, sslmode, background checks.

use std::time::Duration;

use commands::tester::ConnectionTester;
use domain::managed_instance::{ConnectionSpec, ConnectionStatus};
use serde_json::{json, Value};

use crate::pg_fixture::{PrivatePostgres, PASSWORD, ROLE};
use crate::support::*;

fn spec(port: u16, sslmode: &str) -> ConnectionSpec {
    ConnectionSpec::parse("localhost", i64::from(port), "postgres", ROLE, sslmode, 5).expect("spec")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_is_honoured_and_failures_are_classified() {
    let pg = tokio::task::spawn_blocking(PrivatePostgres::start)
        .await
        .expect("fixture");
    let tester = ConnectionTester::new(None);
    let test = |mode: &'static str, password: &'static str| {
        let tester = tester.clone();
        let spec = spec(pg.port, mode);
        async move { tester.test_plain(&spec, Some(password)).await }
    };

    let disable = test("disable", PASSWORD).await;
    assert_eq!(disable.status, ConnectionStatus::Connected, "{disable:?}");
    assert_eq!(disable.tls, Some(false), "disable never uses TLS");
    assert!(disable.server_version.is_some());
    for mode in ["prefer", "require"] {
        let o = test(mode, PASSWORD).await;
        assert_eq!(
            (o.status, o.tls),
            (ConnectionStatus::Connected, Some(true)),
            "{mode}: {o:?}"
        );
    }
    for mode in ["verify-ca", "verify-full"] {
        let o = test(mode, PASSWORD).await;
        assert_eq!(
            o.status,
            ConnectionStatus::Error,
            "{mode} must refuse a self-signed certificate"
        );
        let message = o.error.expect("message");
        assert!(
            message.contains("TLS") && message.contains(mode),
            "{message}"
        );
    }
    let wrong = test("require", "not the password").await;
    assert_eq!(
        wrong.status,
        ConnectionStatus::InvalidCredentials,
        "{wrong:?}"
    );
    assert!(!wrong.error.expect("message").contains("not the password"));

    // The same server without TLS: require never falls back to plaintext.
    let pg_ref = &pg;
    tokio::task::block_in_place(|| pg_ref.disable_tls());
    let require = test("require", PASSWORD).await;
    assert_eq!(require.status, ConnectionStatus::Error);
    assert!(require
        .error
        .expect("message")
        .contains("does not offer TLS"));
    let prefer = test("prefer", PASSWORD).await;
    assert_eq!(
        (prefer.status, prefer.tls),
        (ConnectionStatus::Connected, Some(false))
    );
}

#[tokio::test]
async fn the_local_server_is_tested_as_its_tls_setup_allows() {
    let sql = connect(&admin_url("postgres")).await;
    let ssl: String = sql.query_one("SHOW ssl", &[]).await.expect("ssl").get(0);
    let tester = ConnectionTester::new(None);
    let local = |mode: &str| {
        ConnectionSpec::parse("localhost", 5432, "postgres", "postgres", mode, 5).expect("spec")
    };
    let disable = tester.test_plain(&local("disable"), None).await;
    assert_eq!(
        (disable.status, disable.tls),
        (ConnectionStatus::Connected, Some(false))
    );
    let require = tester.test_plain(&local("require"), None).await;
    if ssl == "on" {
        assert_eq!(
            (require.status, require.tls),
            (ConnectionStatus::Connected, Some(true))
        );
        // Whatever certificate the local server has, it is not one the system trusts for
        // "localhost" unless an operator made it so; a self-signed one must be refused.
        let full = tester.test_plain(&local("verify-full"), None).await;
        if full.status == ConnectionStatus::Connected {
            eprintln!("local certificate is trusted by the system; verify-full accepted it");
        } else {
            assert!(full.error.expect("message").contains("TLS"));
        }
    } else {
        assert_eq!(require.status, ConnectionStatus::Error);
    }
}

fn instance_body(name: &str, port: u16, password: Option<&str>) -> Value {
    json!({
        "name": name, "host": "localhost", "port": port, "database": "postgres",
        "username": ROLE, "password": password, "sslmode": "require", "connect_timeout_s": 2,
        "tags": ["it"]
    })
}

/// A private PostgreSQL server to test against (started on a blocking thread).
async fn private_postgres() -> PrivatePostgres {
    tokio::task::spawn_blocking(PrivatePostgres::start)
        .await
        .expect("fixture")
}

/// Creates an instance as `token`; returns the answer, asserting a 201.
async fn create(api: &Api, token: &str, body: Value) -> Reply {
    let created = api.post("/managed-instances", Some(token), body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    created
}

/// Runs the connection test of instance `id` as `token`.
async fn test_connection(api: &Api, token: &str, id: &str) -> Reply {
    let path = format!("/managed-instances/{id}/test-connection");
    api.post(&path, Some(token), json!({})).await
}

/// A private PostgreSQL server, and the app with an editor and a viewer signed in; the editor
/// has registered the server as an instance, with its password.
struct Fixture {
    app: TestApp,
    editor: String,
    viewer: String,
    created: Reply,
    pg: PrivatePostgres,
}

async fn fixture() -> Fixture {
    let pg = private_postgres().await;
    let app = spawn_admin_app().await;
    let editor = app.user("inst-editor", "editor").await.token;
    let viewer = app.user("inst-viewer", "viewer").await.token;
    let body = instance_body("fixture", pg.port, Some(PASSWORD));
    let created = create(app.api(), &editor, body).await;
    Fixture {
        app,
        editor,
        viewer,
        created,
        pg,
    }
}

#[tokio::test]
async fn a_connection_test_is_recorded_and_the_list_shows_it_at_once() {
    let f = fixture().await;
    let api = f.app.api();
    assert_eq!(f.created.body["last_connection_status"], "unknown");
    assert_eq!(f.created.body["has_password"], true);
    let id = f.created.body["id"].as_str().expect("id").to_owned();

    let tested = test_connection(api, &f.editor, &id).await;
    assert_eq!(tested.status, 200, "{}", tested.body);
    assert_eq!(tested.body["success"], true, "{}", tested.body);
    assert_eq!(tested.body["status"], "connected");
    assert_eq!(tested.body["tls"], true);
    assert!(tested.body["server_version"]
        .as_str()
        .is_some_and(|v| !v.is_empty()));
    // Read straight after: the badge says Connected, no reload race.
    let list = api.get("/managed-instances", &f.viewer).await;
    let row = list
        .body
        .as_array()
        .expect("list")
        .iter()
        .find(|r| r["id"] == id.as_str())
        .expect("row")
        .clone();
    assert_eq!(row["last_connection_status"], "connected");
    assert!(row["latency_ms"].as_f64().is_some());
    assert!(row["last_heartbeat"].is_string());
}

#[tokio::test]
async fn a_wrong_password_is_reported_as_invalid_credentials() {
    let pg = private_postgres().await;
    let app = spawn_admin_app().await;
    let created = create(
        app.api(),
        app.admin(),
        instance_body("wrong-pw", pg.port, Some("nope nope")),
    )
    .await;
    let id = created.body["id"].as_str().expect("id");
    let r = test_connection(app.api(), app.admin(), id).await;
    assert_eq!(
        (r.body["success"].clone(), r.body["status"].clone()),
        (json!(false), json!("invalid_credentials")),
        "{}",
        r.body
    );
    let shown = app
        .api()
        .get(&format!("/managed-instances/{id}"), app.admin())
        .await;
    assert_eq!(
        shown.body["last_connection_status"], "invalid_credentials",
        "stored: {}",
        shown.body
    );
}

#[tokio::test]
async fn a_closed_port_or_a_host_that_never_answers_is_an_error_not_a_hang() {
    let app = spawn_admin_app().await;
    let (api, admin) = (app.api(), app.admin());
    let closed_port = crate::faults::free_port();
    let closed = create(api, admin, instance_body("closed", closed_port, None)).await;
    let r = test_connection(api, admin, closed.body["id"].as_str().expect("id")).await;
    assert_eq!(r.body["status"], "error");
    assert!(
        r.body["error"].as_str().expect("error").contains("refused"),
        "{}",
        r.body
    );

    // A host that accepts TCP but never answers: an error within connect_timeout_s.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_port = silent.local_addr().expect("addr").port();
    let created = create(api, admin, instance_body("silent", silent_port, None)).await;
    let r = test_connection(api, admin, created.body["id"].as_str().expect("id")).await;
    assert_eq!(r.body["status"], "error");
    assert!(
        r.body["error"]
            .as_str()
            .expect("error")
            .contains("within 2 s"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn a_viewer_may_not_test_and_only_an_admin_tests_a_target_directly_storing_nothing() {
    let f = fixture().await;
    let api = f.app.api();
    let id = f.created.body["id"].as_str().expect("id");
    assert_eq!(test_connection(api, &f.viewer, id).await.status, 403);

    let direct = instance_body("x", f.pg.port, Some(PASSWORD));
    let path = "/managed-instances/test-connection-direct";
    assert_eq!(
        api.post(path, Some(&f.editor), direct.clone()).await.status,
        403
    );
    let before = f.app.listed("/managed-instances").await;
    let r = api.post(path, Some(f.app.admin()), direct).await;
    assert_eq!(
        (r.status, r.body["status"].clone()),
        (200, json!("connected")),
        "{}",
        r.body
    );
    assert_eq!(
        f.app.listed("/managed-instances").await,
        before,
        "direct stores nothing"
    );
}

#[tokio::test]
async fn a_removed_instance_cannot_be_tested_and_its_name_is_free_again() {
    let app = spawn_admin_app().await;
    let api = app.api();
    let editor = app.user("inst-editor", "editor").await.token;
    let port = crate::faults::free_port();
    let created = create(api, &editor, instance_body("closed", port, None)).await;
    let id = created.body["id"].as_str().expect("id");
    let del = api
        .delete(&format!("/managed-instances/{id}"), &editor)
        .await;
    assert_eq!(del.status, 204);
    assert_eq!(
        app.listed("/managed-instances").await,
        0,
        "gone from the list"
    );
    assert_eq!(test_connection(api, &editor, id).await.status, 404);
    create(api, &editor, instance_body("closed", port, None)).await;
}

#[tokio::test]
async fn an_instance_password_is_stored_sealed_and_shown_nowhere() {
    let f = fixture().await;
    let api = f.app.api();
    let tested = test_connection(api, &f.editor, f.created.body["id"].as_str().expect("id")).await;
    assert_eq!(tested.body["status"], "connected", "{}", tested.body);
    let list = api.get("/managed-instances", &f.viewer).await;

    // The password is nowhere: events, read models, audit, responses.
    let sql = f.app.sql().await;
    let leaks: i64 = sql
        .query_one(
            "SELECT (SELECT count(*) FROM events WHERE payload::text LIKE '%' || $1 || '%')
                  + (SELECT count(*) FROM rm_managed_instances t WHERE row_to_json(t)::text LIKE '%' || $1 || '%')
                  + (SELECT count(*) FROM rm_audit_log t WHERE row_to_json(t)::text LIKE '%' || $1 || '%')",
            &[&"p w"],
        )
        .await
        .expect("search")
        .get(0);
    assert_eq!(leaks, 0);
    for body in [&f.created.body, &tested.body, &list.body] {
        assert!(!body.to_string().contains("p w"), "{body}");
        assert!(!body.to_string().contains("ciphertext"), "{body}");
    }
    let sealed: i64 = count(
        &sql,
        "SELECT count(*) FROM events WHERE payload::text LIKE '%ciphertext%'",
    )
    .await;
    assert!(sealed >= 1, "the password is stored sealed");
}

#[tokio::test]
async fn bad_instance_input_names_the_field_and_stores_nothing() {
    let app = spawn_admin_app().await;
    let (api, admin) = (app.api(), app.admin());
    let cases = [
        (json!({"port": 0}), 422, "port"),
        (json!({"port": 70000}), 422, "port"),
        (json!({"host": "  "}), 422, "host"),
        (json!({"sslmode": "sometimes"}), 422, "sslmode"),
        (json!({"connect_timeout_s": -1}), 422, "connect_timeout_s"),
        (json!({"name": ""}), 422, "name"),
        (json!({"colour": "red"}), 422, "colour"),
    ];
    for (patch, status, field) in cases {
        let mut body = instance_body("bad", 5432, None);
        for (k, v) in patch.as_object().expect("object") {
            body[k] = v.clone();
        }
        let r = api
            .post("/managed-instances", Some(admin), body.clone())
            .await;
        assert_eq!(
            (r.status, r.body["error"]["field"].clone()),
            (status, json!(field)),
            "{body}: {}",
            r.body
        );
    }
    assert_eq!(
        count(
            &app.sql().await,
            "SELECT count(*) FROM events WHERE aggregate_type = 'managed_instance'"
        )
        .await,
        0
    );
    create(api, admin, instance_body("dup", 5432, None)).await;
    let dup = api
        .post(
            "/managed-instances",
            Some(admin),
            instance_body("dup", 5433, None),
        )
        .await;
    assert_eq!(dup.status, 409);
}

#[tokio::test]
async fn without_an_encryption_key_passwords_are_refused_not_stored() {
    let app = TestApp::builder()
        .admin()
        .config(|c| c.encryption_key = None)
        .spawn()
        .await;
    let (api, admin) = (app.api(), app.admin());
    let r = api
        .post(
            "/managed-instances",
            Some(admin),
            instance_body("needs-key", 5432, Some("secret pw")),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["field"].clone()),
        (422, json!("password"))
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .expect("message")
        .contains("PGA_ENCRYPTION_KEY"));
    assert_eq!(
        count(
            &app.sql().await,
            "SELECT count(*) FROM events WHERE aggregate_type = 'managed_instance'"
        )
        .await,
        0
    );
    create(api, admin, instance_body("no-password", 5432, None)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_check_flips_the_status_when_the_target_stops() {
    let pg = private_postgres().await;
    let app = TestApp::builder()
        .admin()
        .config(|c| c.check_interval = Duration::from_secs(1))
        .spawn()
        .await;
    let (api, admin) = (app.api(), app.admin());
    let created = create(
        api,
        admin,
        instance_body("watched", pg.port, Some(PASSWORD)),
    )
    .await;
    let path = format!(
        "/managed-instances/{}",
        created.body["id"].as_str().expect("id")
    );
    let status_is = |wanted: &'static str| {
        let path = path.clone();
        move || {
            let path = path.clone();
            async move {
                let status = api.get(&path, admin).await.body["last_connection_status"].clone();
                (status == wanted).then_some(())
            }
        }
    };

    eventually(
        "background check finds it connected",
        status_is("connected"),
    )
    .await;
    let pg_ref = &pg;
    tokio::task::block_in_place(|| pg_ref.stop());
    eventually("background check notices it stopped", status_is("error")).await;
    tokio::task::block_in_place(|| pg_ref.restart());
    eventually("and that it came back", status_is("connected")).await;
    // Only changes were recorded, not one event per check.
    let tests = count(
        &app.sql().await,
        "SELECT count(*) FROM events WHERE event_type = 'ConnectionTested'",
    )
    .await;
    assert_eq!(tests, 3, "connected, error, connected");
}

#[tokio::test]
async fn rotate_key_reseals_stored_passwords_and_they_still_work() {
    let pg = private_postgres().await;
    let mut app = spawn_admin_app().await;
    let created = create(
        app.api(),
        app.admin(),
        instance_body("rotating", pg.port, Some(PASSWORD)),
    )
    .await;
    let id = created.body["id"].as_str().expect("id").to_owned();
    app.stop().await;

    let old_key = app.config().encryption_key.expect("key");
    let mut rotated = app.config().clone();
    rotated.encryption_key = Some([42; 32]);
    rotated.previous_encryption_keys = vec![old_key];
    let pool = commands::store::connect(&rotated.database_url, 2)
        .await
        .expect("pool");
    let service = commands::service::CommandService::new(pool, pganalytics::app::tester(&rotated));
    let actor = domain::values::Actor::system("rotate-key");
    assert_eq!(
        commands::instances::reseal_all(&service, &actor)
            .await
            .expect("reseal"),
        1
    );
    assert_eq!(
        commands::instances::reseal_all(&service, &actor)
            .await
            .expect("reseal"),
        0,
        "idempotent"
    );
    let new_id = commands::credentials::key_id(&[42; 32]);
    let row = app
        .sql()
        .await
        .query_one(
            "SELECT payload::text FROM events WHERE event_type = 'CredentialsRotated'",
            &[],
        )
        .await
        .expect("event");
    assert!(row.get::<_, String>(0).contains(&new_id));

    // A server that knows only the new key reads the re-sealed password.
    app.env.config = rotated;
    app.env.config.previous_encryption_keys = vec![];
    app.start().await;
    let admin = app.api().token(ADMIN_USER, ADMIN_PASSWORD).await;
    let r = test_connection(app.api(), &admin, &id).await;
    assert_eq!(r.body["status"], "connected", "{}", r.body);
}
