//! Collectors bound to managed instances: a batch about an instance the collector is not bound
//! to is refused with the reason on the collector; an instance's charts show only data from
//! collectors bound to it.

use chrono::Utc;
use serde_json::{json, Value};

use crate::support::*;

/// Registers a collector with a new secret bound to `instances`.
async fn collector_for(app: &TestApp, name: &str, instances: &[&str]) -> RegisteredCollector {
    let secret = app
        .api()
        .post(
            "/registration-secrets",
            Some(app.admin()),
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
    let secret = secret.body["secret"].as_str().expect("secret");
    app.api().register_collector(secret, name).await
}

fn batch(c: &RegisteredCollector, batch_id: &str, instance: &str, value: f64) -> Value {
    json!({"batch_id": batch_id, "collector_id": c.id, "instance": instance,
        "collected_at": Utc::now(),
        "samples": [{"metric": "pg_bound_value", "value": value}]})
}

/// Binds `c` to `instances` as the admin.
async fn bind(app: &TestApp, c: &RegisteredCollector, instances: Value) -> Reply {
    app.bind(&c.id, instances).await
}

#[tokio::test]
async fn a_batch_for_an_instance_the_collector_is_not_bound_to_is_refused_with_the_reason() {
    let app = spawn_admin_app().await;
    let a = app.managed_instance("bound-a").await;
    let _b = app.managed_instance("other-b").await;
    let c = collector_for(&app, "scoped", &[&a]).await;
    assert_eq!(app.collector(&c.id).await["instance_ids"], json!([a]));

    app.push_accepted(&c, &batch(&c, "to-b", "other-b", 1.0))
        .await;
    let view = app.wait_for_rejected_batches(&c.id, 1).await;
    let reason = view["last_rejected_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("not bound") && reason.contains("other-b") && reason.contains("bound-a"),
        "{view}"
    );
    assert_eq!(view["metrics_count_total"], 0, "{view}");

    app.push_accepted(&c, &batch(&c, "to-a", "bound-a", 2.0))
        .await;
    let view = app.wait_for_points(&c.id, 1).await;
    assert_eq!(view["rejected_batches"], 1, "{view}");
    let stored = count(
        &app.sql().await,
        "SELECT count(*) FROM metric_series WHERE instance = 'other-b'",
    )
    .await;
    assert_eq!(stored, 0, "nothing of the refused batch was written");
}

#[tokio::test]
async fn a_collector_bound_to_nothing_may_not_report_a_managed_instance() {
    let app = spawn_admin_app().await;
    app.managed_instance("bound-a").await;
    let stranger = app.register_collector("stranger").await;
    app.push_accepted(&stranger, &batch(&stranger, "stranger-a", "bound-a", 9.0))
        .await;
    let view = app.wait_for_rejected_batches(&stranger.id, 1).await;
    assert!(
        view["last_rejected_reason"]
            .as_str()
            .unwrap_or_default()
            .contains("managed instance"),
        "{view}"
    );
}

#[tokio::test]
async fn an_instance_shows_only_data_from_collectors_bound_to_it() {
    let app = spawn_admin_app().await;
    // Before "shared" is a managed instance, anyone may use the name.
    let early = app.register_collector("early").await;
    app.push_accepted(&early, &batch(&early, "early-1", "shared", 100.0))
        .await;
    app.wait_for_points(&early.id, 1).await;
    let id = app.managed_instance("shared").await;
    let bound = app.register_collector("bound").await;
    let put = bind(&app, &bound, json!([id])).await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["instance_ids"], json!([id]), "{}", put.body);
    app.push_accepted(&bound, &batch(&bound, "bound-1", "shared", 7.0))
        .await;
    app.wait_for_points(&bound.id, 1).await;

    let from = (Utc::now() - chrono::Duration::minutes(10)).timestamp();
    for key in [id.as_str(), "shared"] {
        let series = app
            .api()
            .get(
                &format!("/metrics/series?instance_id={key}&metric=pg_bound_value&from={from}"),
                app.admin(),
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
}

#[tokio::test]
async fn binding_a_collector_to_an_unknown_instance_is_refused_naming_the_field() {
    let app = spawn_admin_app().await;
    let c = app.register_collector("bound").await;
    let bad = bind(&app, &c, json!([uuid::Uuid::new_v4()])).await;
    assert_eq!(
        (bad.status, bad.body["error"]["field"].clone()),
        (422, json!("instance_ids"))
    );
}
