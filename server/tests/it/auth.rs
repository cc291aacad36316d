//! Login, tokens, refresh rotation, revocation, rate limits, user administration.

use chrono::Utc;
use jsonwebtoken::{encode, EncodingKey, Header};
use reqwest::Method;
use serde_json::json;

use crate::support::*;

/// The bootstrap admin exists but has not signed in: these tests count logins and attempts.
async fn started() -> TestApp {
    TestApp::builder().admin_not_signed_in().spawn().await
}

#[tokio::test]
async fn the_bootstrap_admin_can_log_in() {
    let app = started().await;
    let reply = app.api().login(ADMIN_USER, ADMIN_PASSWORD).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["user"]["role"], "admin");
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 900);
    assert!(reply.body["refresh_token"]
        .as_str()
        .is_some_and(|t| t.starts_with("pgr_")));
}

#[tokio::test]
async fn a_restart_with_the_same_settings_does_not_create_a_second_admin() {
    let mut app = started().await;
    app.stop().await;
    app.start().await;
    assert_eq!(
        count(
            &app.sql().await,
            "SELECT count(*) FROM events WHERE event_type = 'UserCreated'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_login_is_recorded_in_the_audit_log_with_who_did_it() {
    let app = started().await;
    assert_eq!(
        app.api().login(ADMIN_USER, ADMIN_PASSWORD).await.status,
        200
    );
    let sql = app.sql().await;
    wait_for_count(&sql, "login in the audit log", "SELECT count(*) FROM rm_audit_log WHERE summary = 'logged in' AND actor_name = 'root-admin'", 1).await;
}

#[tokio::test]
async fn missing_malformed_and_expired_tokens_get_401_with_a_code() {
    let app = started().await;
    let api = app.api();
    let missing = api.call(Method::GET, "/users", None, None).await;
    assert_eq!(
        (missing.status, missing.body["error"]["code"].clone()),
        (401, json!("missing_token"))
    );
    let garbage = api.get("/users", "not.a.jwt").await;
    assert_eq!(
        (garbage.status, garbage.body["error"]["code"].clone()),
        (401, json!("invalid_token"))
    );

    let token = api.token(ADMIN_USER, ADMIN_PASSWORD).await;
    assert_eq!(api.get("/users", &token).await.status, 200);
    let sub = api.login(ADMIN_USER, ADMIN_PASSWORD).await.body["user"]["id"].clone();
    let secret = app
        .config()
        .jwt_secret
        .as_ref()
        .expect("secret")
        .expose()
        .to_owned();
    let now = Utc::now().timestamp();
    let claims =
        json!({"sub": sub, "role": "admin", "iat": now - 1000, "exp": now - 10, "typ": "access"});
    let key = EncodingKey::from_secret(secret.as_bytes()).expect("key");
    let expired = encode(&Header::default(), &claims, &key).expect("encode");
    let reply = api.get("/users", &expired).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.body["error"]["code"], "token_expired");
}

/// `POST /auth/refresh` with `token`.
async fn refresh(api: &Api, token: &str) -> Reply {
    api.post("/auth/refresh", None, json!({"refresh_token": token}))
        .await
}

#[tokio::test]
async fn refresh_rotates_and_an_old_refresh_token_is_refused() {
    let app = started().await;
    let api = app.api();
    let first = api.login(ADMIN_USER, ADMIN_PASSWORD).await.body;
    let r1 = first["refresh_token"].as_str().expect("refresh").to_owned();
    let second = refresh(api, &r1).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let r2 = second.body["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_ne!(r1, r2);
    assert_eq!(
        api.get(
            "/users",
            second.body["access_token"].as_str().expect("access")
        )
        .await
        .status,
        200
    );

    let reused = refresh(api, &r1).await;
    assert_eq!(reused.status, 401);
    assert_eq!(reused.body["error"]["code"], "refresh_token_revoked");
    // Reuse of a rotated token ends the whole family, the newer token included.
    assert_eq!(refresh(api, &r2).await.status, 401);
    let unknown = refresh(api, "pgr_nope").await;
    assert_eq!(unknown.body["error"]["code"], "invalid_refresh_token");
}

#[tokio::test]
async fn logging_out_revokes_the_named_refresh_token() {
    let app = started().await;
    let api = app.api();
    let login = api.login(ADMIN_USER, ADMIN_PASSWORD).await.body;
    let (access, refresh_token) = (
        login["access_token"].as_str().expect("a"),
        login["refresh_token"].as_str().expect("r"),
    );
    assert_eq!(
        api.post(
            "/auth/logout",
            Some(access),
            json!({"refresh_token": refresh_token})
        )
        .await
        .status,
        204
    );
    assert_eq!(refresh(api, refresh_token).await.status, 401);
}

/// Whether `access` still authorizes a request (422 = the body was looked at; 401 = refused).
async fn authorized(api: &Api, access: &str) -> u16 {
    api.post("/auth/change-password", Some(access), json!({}))
        .await
        .status
}

#[tokio::test]
async fn deactivating_a_user_makes_its_tokens_fail_at_once() {
    let app = TestApp::builder().admin().spawn().await;
    let (api, admin) = (app.api(), app.admin());
    let editor = app.user("temp-editor", "editor").await;
    let login = api.login(&editor.username, &editor.password).await.body;
    let refresh_token = login["refresh_token"].as_str().expect("refresh").to_owned();
    assert_eq!(authorized(api, &editor.token).await, 422);

    let reply = api
        .put(
            &format!("/users/{}", editor.id),
            admin,
            json!({"active": false}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["active"], false);
    let refused = api
        .post("/auth/change-password", Some(&editor.token), json!({}))
        .await;
    assert_eq!(
        (refused.status, refused.body["error"]["code"].clone()),
        (401, json!("user_inactive"))
    );
    assert_eq!(refresh(api, &refresh_token).await.status, 401);
    assert_eq!(
        api.login(&editor.username, &editor.password).await.status,
        401
    );
    // Reactivated, it signs in again.
    let reply = api
        .put(
            &format!("/users/{}", editor.id),
            admin,
            json!({"active": true}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    api.token(&editor.username, &editor.password).await;
}

#[tokio::test]
async fn deleting_a_user_makes_its_token_fail_at_once_and_frees_the_name() {
    let app = TestApp::builder().admin().spawn().await;
    let (api, admin) = (app.api(), app.admin());
    let editor = app.user("temp-editor", "editor").await;
    assert_eq!(authorized(api, &editor.token).await, 422);
    let deleted = api.delete(&format!("/users/{}", editor.id), admin).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(authorized(api, &editor.token).await, 401);
    api.create_user(admin, "temp-editor", "editor password 2", "viewer")
        .await;
}

#[tokio::test]
async fn failed_logins_are_rate_limited_and_unknown_users_answer_like_wrong_passwords() {
    let app = started().await;
    let api = app.api();
    let unknown = api.login("nobody-here", "whatever password").await;
    let wrong = api.login(ADMIN_USER, "wrong password!!").await;
    assert_eq!((unknown.status, wrong.status), (401, 401));
    assert_eq!(
        unknown.body, wrong.body,
        "same answer for unknown user and wrong password"
    );

    for _ in 0..4 {
        assert_eq!(api.login(ADMIN_USER, "wrong password!!").await.status, 401);
    }
    let limited = api.login(ADMIN_USER, ADMIN_PASSWORD).await;
    assert_eq!(
        limited.status, 429,
        "even the right password waits: {}",
        limited.body
    );
    assert_eq!(limited.body["error"]["code"], "rate_limited");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .expect("header")
        .parse()
        .expect("seconds");
    assert!(retry > 0 && retry <= 900);
}

#[tokio::test]
async fn a_user_with_bad_input_is_refused_naming_the_field() {
    let app = spawn_admin_app().await;
    let (api, admin) = (app.api(), app.admin());
    let cases = [
        (
            json!({"username": "weak", "password": "short", "role": "viewer"}),
            422,
            "password",
        ),
        (
            json!({"username": "x", "password": "long enough pw", "role": "viewer"}),
            422,
            "username",
        ),
        (
            json!({"username": "ok-name", "password": "long enough pw", "role": "root"}),
            422,
            "role",
        ),
        (
            json!({"username": "ok-name", "password": "long enough pw", "role": "viewer", "is_admin": true}),
            422,
            "is_admin",
        ),
        (
            json!({"username": "ok-name", "password": 12345678901234_u64, "role": "viewer"}),
            422,
            "password",
        ),
        (
            json!({"username": "ok-name", "role": "viewer"}),
            422,
            "password",
        ),
    ];
    for (body, status, field) in cases {
        let reply = api.post("/users", Some(admin), body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert_eq!(
            reply.body["error"]["field"], field,
            "{body}: {}",
            reply.body
        );
    }
    let not_json = api
        .http
        .post(format!("{}/users", api.base))
        .bearer_auth(admin)
        .header("content-type", "application/json")
        .body("{broken")
        .send()
        .await
        .expect("send");
    assert_eq!(not_json.status().as_u16(), 400);
    assert_eq!(api.delete("/users/not-a-uuid", admin).await.status, 404);
}

#[tokio::test]
async fn a_taken_username_is_a_conflict() {
    let app = spawn_admin_app().await;
    let (api, admin) = (app.api(), app.admin());
    api.create_user(admin, "dup-name", "long enough pw", "viewer")
        .await;
    let dup = api
        .post(
            "/users",
            Some(admin),
            json!({"username": "dup-name", "password": "long enough pw", "role": "editor"}),
        )
        .await;
    assert_eq!(dup.status, 409);
}

/// The id of the bootstrap admin.
async fn admin_id(api: &Api) -> String {
    api.login(ADMIN_USER, ADMIN_PASSWORD).await.body["user"]["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

#[tokio::test]
async fn the_last_active_admin_can_neither_delete_nor_demote_itself() {
    let app = spawn_admin_app().await;
    let (api, admin) = (app.api(), app.admin());
    let me = format!("/users/{}", admin_id(api).await);
    assert_eq!(api.delete(&me, admin).await.status, 409);
    let demote = api.put(&me, admin, json!({"role": "editor"})).await;
    assert_eq!(demote.status, 409, "{}", demote.body);
    assert!(demote.body["error"]["message"]
        .as_str()
        .expect("msg")
        .contains("last active admin"));
}

#[tokio::test]
async fn with_a_second_admin_the_first_may_step_down_and_the_second_is_then_the_last() {
    let app = spawn_admin_app().await;
    let (api, admin) = (app.api(), app.admin());
    let me = format!("/users/{}", admin_id(api).await);
    let second = app.user("second-admin", "admin").await;
    let stepped_down = api.put(&me, admin, json!({"role": "viewer"})).await;
    assert_eq!(stepped_down.status, 200, "{}", stepped_down.body);
    assert_eq!(
        api.get("/users", admin).await.status,
        403,
        "demotion takes effect at once"
    );
    let last = api
        .put(
            &format!("/users/{}", second.id),
            &second.token,
            json!({"active": false}),
        )
        .await;
    assert_eq!(last.status, 409);
}

#[tokio::test]
async fn no_event_read_model_or_response_holds_a_password_in_clear() {
    let app = spawn_admin_app().await;
    let (api, admin) = (app.api(), app.admin());
    api.create_user(admin, "a-viewer", "long enough pw", "viewer")
        .await;
    api.create_user(admin, "second-admin", "second admin pw", "admin")
        .await;
    let second_token = api.token("second-admin", "second admin pw").await;
    let sql = app.sql().await;
    for secret in [ADMIN_PASSWORD, "long enough pw", "second admin pw"] {
        let leaks = sql
            .query_one(
                "SELECT (SELECT count(*) FROM events WHERE payload::text LIKE '%' || $1 || '%')
                      + (SELECT count(*) FROM rm_audit_log WHERE summary LIKE '%' || $1 || '%')",
                &[&secret],
            )
            .await
            .expect("search")
            .get::<_, i64>(0);
        assert_eq!(leaks, 0, "{secret} leaked");
    }
    let listed = api.get("/users", &second_token).await.body.to_string();
    assert!(!listed.contains("argon2") && !listed.contains("password"));
}

#[tokio::test]
async fn changing_a_password_needs_the_current_one_and_ends_other_sessions() {
    let app = started().await;
    let api = app.api();
    let login = api.login(ADMIN_USER, ADMIN_PASSWORD).await.body;
    let access = login["access_token"].as_str().expect("a").to_owned();
    let refresh_token = login["refresh_token"].as_str().expect("r").to_owned();
    let wrong = api
        .post(
            "/auth/change-password",
            Some(&access),
            json!({"current_password": "nope nope nope", "new_password": "a brand new password"}),
        )
        .await;
    assert_eq!(wrong.status, 403);
    let weak = api
        .post(
            "/auth/change-password",
            Some(&access),
            json!({"current_password": ADMIN_PASSWORD, "new_password": "short"}),
        )
        .await;
    assert_eq!(
        (weak.status, weak.body["error"]["field"].clone()),
        (422, json!("new_password"))
    );
    let ok = api
        .post(
            "/auth/change-password",
            Some(&access),
            json!({"current_password": ADMIN_PASSWORD, "new_password": "a brand new password"}),
        )
        .await;
    assert_eq!(ok.status, 204, "{}", ok.body);
    assert_eq!(api.login(ADMIN_USER, ADMIN_PASSWORD).await.status, 401);
    assert_eq!(
        api.login(ADMIN_USER, "a brand new password").await.status,
        200
    );
    assert_eq!(refresh(api, &refresh_token).await.status, 401);
}

#[tokio::test]
async fn a_client_that_leaves_mid_change_does_not_leave_admin_changes_locked() {
    let app = TestApp::builder()
        .admin()
        .config(|c| {
            c.command_wait = std::time::Duration::from_secs(5);
            // The server gives up on a request after 2 s, dropping its handler mid-way (as it
            // does when a client goes away and the connection closes).
            c.http_request_timeout = std::time::Duration::from_secs(2);
        })
        .spawn()
        .await;
    let (api, admin) = (app.api(), app.admin());
    let first = api
        .create_user(admin, "first-editor", "a long enough password", "editor")
        .await;
    let second = api
        .create_user(admin, "second-editor", "a long enough password", "editor")
        .await;

    // The users projection is held up, so a change waits for its result to be visible: the
    // request is abandoned in the middle of it.
    let sql = app.sql().await;
    sql.batch_execute(
        "BEGIN; SELECT * FROM projection_checkpoints WHERE projection = 'users' FOR UPDATE;",
    )
    .await
    .expect("hold the users projection");
    let gone = api
        .put(&format!("/users/{first}"), admin, json!({"role": "viewer"}))
        .await;
    assert_eq!(gone.status, 408, "{}", gone.body);
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    sql.batch_execute("COMMIT").await.expect("release");

    // The next admin change is not blocked by a lock the vanished request left behind.
    let patient = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("client");
    let next = patient
        .put(format!("{}/users/{second}", api.base))
        .bearer_auth(admin)
        .json(&json!({"role": "viewer"}))
        .send()
        .await
        .expect("the next change is answered");
    assert_eq!(next.status().as_u16(), 200);
}
