//! Collectors bound to managed instances: a batch about an instance the collector is not bound
//! to is refused with the reason on the collector; an instance's charts show only data from
//! collectors bound to it.

use chrono::Utc;
use pganalytics::app::Roles;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

async fn setup() -> (TestEnv, pganalytics::app::Running, Api, String) {
    let env = TestEnv::new().await.with_bootstrap_admin();
    let running = env.start(Roles::ALL).await;
    let api = Api::new(running.addr.expect("http"));
    let admin = api.token(ADMIN_USER, ADMIN_PASSWORD).await;
    (env, running, api, admin)
}

async fn managed_instance(api: &Api, admin: &str, name: &str) -> String {
    let created = api
        .post(
            "/managed-instances",
            Some(admin),
            json!({"name": name, "host": "localhost", "port": 5432, "database": "postgres",
                   "username": "postgres", "sslmode": "disable", "tags": []}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["id"].as_str().expect("id").to_owned()
}

/// Registers a collector with a new secret bound to `instances`.
async fn collector_for(
    api: &Api,
    admin: &str,
    name: &str,
    instances: &[&str],
) -> RegisteredCollector {
    let secret = api
        .post(
            "/registration-secrets",
            Some(admin),
            json!({"name": format!("secret for {name}"), "instance_ids": instances}),
        )
        .await;
    assert_eq!(secret.status, 201, "{}", secret.body);
    assert_eq!(
        secret.body["instance_ids"],
        json!(instances),
        "{}",
        secret.body
    );
    let secret = secret.body["secret"].as_str().expect("secret").to_owned();
    let reply = api
        .http
        .post(format!("{}/collectors/register", api.base))
        .header("X-Registration-Secret", &secret)
        .json(&json!({"name": name, "hostname": "db-host-1", "version": "test"}))
        .send()
        .await
        .expect("register");
    assert_eq!(reply.status().as_u16(), 201);
    let body: Value = reply.json().await.expect("json");
    RegisteredCollector {
        id: body["collector_id"].as_str().expect("id").to_owned(),
        token: body["token"].as_str().expect("token").to_owned(),
        refresh_secret: body["refresh_secret"].as_str().expect("refresh").to_owned(),
        secret,
        nats: body.get("nats").cloned(),
    }
}

async fn push(api: &Api, c: &RegisteredCollector, batch_id: &str, instance: &str, value: f64) {
    let body = json!({"batch_id": batch_id, "collector_id": c.id, "instance": instance,
        "collected_at": Utc::now(),
        "samples": [{"metric": "pg_bound_value", "value": value}]});
    let reply = api.post("/metrics/push", Some(&c.token), body).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
}

async fn collector(api: &Api, admin: &str, id: &str) -> Value {
    api.get(&format!("/collectors/{id}"), admin).await.body
}

#[tokio::test]
async fn a_batch_for_an_instance_the_collector_is_not_bound_to_is_refused_with_the_reason() {
    let (env, running, api, admin) = setup().await;
    let a = managed_instance(&api, &admin, "bound-a").await;
    let _b = managed_instance(&api, &admin, "other-b").await;
    let c = collector_for(&api, &admin, "scoped", &[&a]).await;
    assert_eq!(
        collector(&api, &admin, &c.id).await["instance_ids"],
        json!([a])
    );

    push(&api, &c, "to-b", "other-b", 1.0).await;
    let view = eventually("the batch about other-b refused", || async {
        let v = collector(&api, &admin, &c.id).await;
        (v["rejected_batches"] == 1).then_some(v)
    })
    .await;
    let reason = view["last_rejected_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("not bound") && reason.contains("other-b") && reason.contains("bound-a"),
        "{view}"
    );
    assert_eq!(view["metrics_count_total"], 0, "{view}");

    push(&api, &c, "to-a", "bound-a", 2.0).await;
    let view = eventually("the batch about bound-a stored", || async {
        let v = collector(&api, &admin, &c.id).await;
        (v["metrics_count_total"] == 1).then_some(v)
    })
    .await;
    assert_eq!(view["rejected_batches"], 1, "{view}");
    let sql = env.sql().await;
    let stored = count(
        &sql,
        "SELECT count(*) FROM metric_series WHERE instance = 'other-b'",
    )
    .await;
    assert_eq!(stored, 0, "nothing of the refused batch was written");

    // A collector bound to nothing may not report a managed instance either.
    let stranger = register_collector(&api, &admin, "stranger").await;
    let body = json!({"batch_id": "stranger-a", "collector_id": stranger.id, "instance": "bound-a",
        "collected_at": Utc::now(), "samples": [{"metric": "pg_bound_value", "value": 9.0}]});
    assert_eq!(
        api.post("/metrics/push", Some(&stranger.token), body)
            .await
            .status,
        202
    );
    let view = eventually("the stranger's batch refused", || async {
        let v = collector(&api, &admin, &stranger.id).await;
        (v["rejected_batches"] == 1).then_some(v)
    })
    .await;
    assert!(
        view["last_rejected_reason"]
            .as_str()
            .unwrap_or_default()
            .contains("managed instance"),
        "{view}"
    );
    running.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn an_instance_shows_only_data_from_collectors_bound_to_it() {
    let (env, running, api, admin) = setup().await;
    // Before "shared" is a managed instance, anyone may use the name.
    let early = register_collector(&api, &admin, "early").await;
    push(&api, &early, "early-1", "shared", 100.0).await;
    eventually("the early batch stored", || async {
        (collector(&api, &admin, &early.id).await["metrics_count_total"] == 1).then_some(())
    })
    .await;
    let id = managed_instance(&api, &admin, "shared").await;
    let bound = register_collector(&api, &admin, "bound").await;
    let put = api
        .call(
            Method::PUT,
            &format!("/collectors/{}/instances", bound.id),
            Some(&admin),
            Some(json!({"instance_ids": [id]})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["instance_ids"], json!([id]), "{}", put.body);
    push(&api, &bound, "bound-1", "shared", 7.0).await;
    eventually("the bound batch stored", || async {
        (collector(&api, &admin, &bound.id).await["metrics_count_total"] == 1).then_some(())
    })
    .await;

    let from = (Utc::now() - chrono::Duration::minutes(10)).timestamp();
    for key in [id.as_str(), "shared"] {
        let series = api
            .get(
                &format!("/metrics/series?instance_id={key}&metric=pg_bound_value&from={from}"),
                &admin,
            )
            .await;
        assert_eq!(series.status, 200, "{}", series.body);
        let values: Vec<f64> = series.body["series"]
            .as_array()
            .expect("series")
            .iter()
            .flat_map(|s| s["points"].as_array().cloned().unwrap_or_default())
            .filter_map(|p| p[1].as_f64().or_else(|| p["value"].as_f64()))
            .collect();
        assert_eq!(values, vec![7.0], "instance_id={key}: {}", series.body);
    }

    // An unknown id or name in the body is refused, and only an admin binds.
    let bad = api
        .call(
            Method::PUT,
            &format!("/collectors/{}/instances", bound.id),
            Some(&admin),
            Some(json!({"instance_ids": [uuid::Uuid::new_v4()]})),
        )
        .await;
    assert_eq!(
        (bad.status, bad.body["error"]["field"].clone()),
        (422, json!("instance_ids"))
    );
    running.stop().await;
    env.cleanup().await;
}
