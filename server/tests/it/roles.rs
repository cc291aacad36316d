//! Each role serves what it is for: `pganalytics ingest` alone answers collectors only.

use chrono::Utc;
use pganalytics::app::Roles;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn the_ingest_role_alone_serves_only_what_collectors_call() {
    let full = spawn_admin_app().await;
    let (api, admin) = (full.api(), full.admin());
    let ingest = full
        .env
        .start(Roles {
            api: false,
            ingest: true,
            project: false,
            migrate: false,
        })
        .await;
    let edge = Api::new(ingest.addr.expect("http"));

    // What a collector calls works on the ingest process.
    let secret = full.registration_secret("through ingest").await;
    let registered: serde_json::Value = edge
        .http
        .post(format!("{}/collectors/register", edge.base))
        .header("X-Registration-Secret", &secret)
        .json(&json!({"name": "through ingest", "hostname": "db-1", "version": "test"}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("json");
    let (id, token) = (&registered["collector_id"], &registered["token"]);
    let batch = json!({"batch_id": "b1", "collector_id": id, "collected_at": Utc::now(),
        "samples": [{"metric": "pg_up", "labels": {}, "value": 1.0}]});
    let pushed = edge.post("/metrics/push", token.as_str(), batch).await;
    assert_eq!(pushed.status, 202, "{}", pushed.body);
    let health = edge.call(reqwest::Method::GET, "/health", None, None).await;
    assert!(health.body["nats"]["up"].is_boolean());

    // Users, instances, collectors' views and the audit are the api's: not found here.
    for path in ["/users", "/managed-instances", "/collectors", "/audit"] {
        let r = edge.get(path, admin).await;
        assert_eq!(r.status, 404, "{path} is served by the ingest role");
        assert_eq!(api.get(path, admin).await.status, 200, "{path} on the api");
    }
    let login = edge.login(ADMIN_USER, ADMIN_PASSWORD).await;
    assert_eq!(login.status, 404);
    ingest.stop().await;
}
