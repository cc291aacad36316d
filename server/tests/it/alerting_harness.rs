//! The alerting test support itself: a real Alertmanager delivers a posted alert to the webhook
//! receiver once (and only once when posted again), the receiver fails and holds answers when
//! told to, and the proxy forwards, or withholds the answer, when told to.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::support::*;

/// The notifications (webhook bodies) that carry the firing `HarnessCheck` alert.
fn firing_harness_checks(requests: &[ReceivedRequest]) -> Vec<Value> {
    requests
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/hook")
        .map(ReceivedRequest::json)
        .filter(|body| {
            body["status"] == "firing"
                && body["alerts"].as_array().is_some_and(|alerts| {
                    alerts.iter().any(|a| {
                        a["status"] == "firing"
                            && a["labels"]["alertname"] == "HarnessCheck"
                            && a["labels"]["alert_id"] == "x"
                    })
                })
        })
        .collect()
}

#[tokio::test]
async fn alertmanager_notifies_the_receiver_once_per_alert() {
    let am = Alertmanager::start().await;
    let alert = json!([{
        "labels": {"alertname": "HarnessCheck", "alert_id": "x"},
        "annotations": {"summary": "the harness works"},
        "startsAt": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
    }]);

    am.post_alerts(&alert).await;
    let first = am
        .receiver()
        .wait_until(
            "a firing HarnessCheck notification",
            Duration::from_secs(15),
            |requests| firing_harness_checks(requests).into_iter().next(),
        )
        .await;
    eprintln!(
        "webhook body: {}",
        serde_json::to_string_pretty(&first).expect("json")
    );
    let hook = &am.receiver().requests()[0];
    eprintln!("webhook headers: {:?}", hook.headers);
    assert_eq!(
        hook.header("content-type"),
        Some("application/json"),
        "{hook:?}"
    );
    assert_eq!(first["version"], "4", "{first}");
    assert_eq!(
        first["groupLabels"],
        json!({"alertname": "HarnessCheck", "alert_id": "x"}),
        "{first}"
    );

    // Alertmanager holds it, under the fingerprint the notification carries.
    let held = am.alerts().await;
    eprintln!(
        "GET /api/v2/alerts: {}",
        serde_json::to_string_pretty(&held).expect("json")
    );
    let held = held.as_array().expect("an array of alerts");
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(
        held[0]["fingerprint"], first["alerts"][0]["fingerprint"],
        "{held:?}"
    );

    // The same alert again (same labels, same startsAt): nothing new to say.
    am.post_alerts(&alert).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let requests = am.receiver().requests();
    assert_eq!(
        requests.len(),
        1,
        "a second notification for the same alert: {requests:#?}"
    );
}

#[tokio::test]
async fn the_receiver_fails_and_holds_answers_when_told_to() {
    let receiver = WebhookReceiver::start().await;
    let http = reqwest::Client::new();
    let post = |body: &'static str| http.post(receiver.url()).body(body).send();

    receiver.fail_next(1, 503);
    assert_eq!(post("one").await.expect("post").status(), 503);
    assert_eq!(post("two").await.expect("post").status(), 200);

    receiver.hold(true);
    let held = tokio::spawn(post("three"));
    let got = receiver.wait_for(3, Duration::from_secs(5)).await;
    assert_eq!(got[2].text(), "three");
    assert_eq!(
        got.iter().map(|r| r.status).collect::<Vec<_>>(),
        [503, 200, 200]
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!held.is_finished(), "answered while held");
    receiver.hold(false);
    let answer = tokio::time::timeout(Duration::from_secs(5), held)
        .await
        .expect("answered once released")
        .expect("task")
        .expect("post");
    assert_eq!(answer.status(), 200);
}

#[tokio::test]
async fn the_proxy_forwards_and_withholds_answers_when_told_to() {
    let receiver = WebhookReceiver::start().await;
    let proxy = HoldingProxy::start(receiver.addr()).await;
    // A connection per request, so each one counts.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let url = format!("{}/hook", proxy.url());

    let answer = http.post(&url).body("through").send().await.expect("post");
    assert_eq!(answer.status(), 200);
    let got = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(
        (got[0].path.as_str(), got[0].text()),
        ("/hook", "through".into())
    );
    assert_eq!(proxy.connections(), 1);

    // Held: the receiver gets (and answers) the request, the client does not see the answer.
    proxy.hold_responses(true);
    let held = tokio::spawn(http.post(&url).body("held").send());
    let got = receiver.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(got[1].text(), "held");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!held.is_finished(), "the answer got through while held");
    proxy.hold_responses(false);
    let answer = tokio::time::timeout(Duration::from_secs(5), held)
        .await
        .expect("answered once released")
        .expect("task")
        .expect("post");
    assert_eq!(answer.status(), 200);
    assert_eq!(proxy.connections(), 2);
}
