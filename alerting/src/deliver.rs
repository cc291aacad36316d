//! The dispatcher: delivers the notification outbox. Each row is locked while it is sent, so
//! two servers never send it at once (`FOR NO KEY UPDATE`: the attempt rows' foreign key
//! takes a key-share lock on it from another connection, which `FOR UPDATE` would block); an attempt is recorded (on its own connection) before
//! the request leaves and completed after, so an attempt cut short by a crash stays visible as
//! `interrupted` and the row, still pending, is sent again. A receiver may therefore see a
//! notification twice after a crash, always with the same delivery id: Alertmanager merges it
//! (same labels and `startsAt`), webhook receivers dedupe on `X-Pga-Delivery-Id`, and an email
//! repeats its `Message-ID`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use commands::credentials::CredentialCipher;
use domain::alerting::channel::secret_binding;
use domain::alerting::{ChannelEvent, ChannelSpec, ChannelTarget, MailTls};
use domain::managed_instance::SealedCredential;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

use crate::email;

/// Attempts before a row is given up (`failed`, kept and shown): with the back-off doubling
/// from 5 s up to an hour, about a day of trying.
pub const MAX_ATTEMPTS: i32 = 30;

/// Delivers the outbox.
#[derive(Clone)]
pub struct Dispatcher {
    pool: deadpool_postgres::Pool,
    cipher: Option<CredentialCipher>,
    http: reqwest::Client,
    /// How long one delivery may take.
    pub timeout: Duration,
    /// Base URL of the dashboard, for links in notifications.
    pub public_url: Option<String>,
}

/// `sha256=<hex>` of HMAC-SHA256 over `<timestamp>.<body>`, the webhook's signature header.
pub fn webhook_signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// How one attempt ended.
enum Outcome {
    Delivered,
    /// Not to be sent any more (the channel was deleted, disabled or no longer takes it).
    Cancelled(String),
    Failed(String),
}

struct Due {
    id: i64,
    alert_id: uuid::Uuid,
    sequence: i64,
    channel_id: uuid::Uuid,
    kind: String,
    payload: Value,
    attempts: i32,
}

impl Dispatcher {
    /// A dispatcher on the read-model pool (the event store is in the same database).
    pub fn new(pool: deadpool_postgres::Pool, cipher: Option<CredentialCipher>) -> Self {
        let timeout = Duration::from_secs(10);
        Self {
            pool,
            cipher,
            http: reqwest::Client::builder()
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            timeout,
            public_url: None,
        }
    }

    /// Delivers what is due every second and, on its own task, re-sends firing alerts to
    /// Alertmanager every minute (it resolves an alert nobody re-sends), until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let refresher = self.clone();
        let stop = shutdown.clone();
        let refresh = async move {
            let mut ticker = tokio::time::interval(Duration::from_secs(60));
            ticker.tick().await;
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    () = stop.cancelled() => return,
                }
                tokio::select! {
                    r = refresher.refresh_alertmanagers() => {
                        if let Err(e) = r {
                            tracing::warn!(error = %e, "firing alerts not re-sent to Alertmanager");
                        }
                    }
                    () = stop.cancelled() => return,
                }
            }
        };
        let deliver = async move {
            let mut ticker = tokio::time::interval(Duration::from_secs(1));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    () = shutdown.cancelled() => return,
                }
                tokio::select! {
                    r = self.deliver_due() => {
                        if let Err(e) = r {
                            tracing::warn!(error = %e, "notification outbox not read; retrying");
                        }
                    }
                    () = shutdown.cancelled() => return,
                }
            }
        };
        tokio::join!(refresh, deliver);
    }

    /// Delivers every due row: each pass takes the next row of every channel and sends them at
    /// once, so a slow or dead receiver delays only its own channel; rows of one alert and
    /// channel go in the alert's order. Returns how many were attempted.
    ///
    /// # Errors
    /// The database failed.
    pub async fn deliver_due(&self) -> anyhow::Result<usize> {
        let mut done = 0;
        loop {
            let ids: Vec<i64> = {
                let client = self.pool.get().await?;
                client
                    .query(
                        "SELECT DISTINCT ON (o.channel_id) o.id
                           FROM notification_outbox o
                          WHERE o.status = 'pending' AND o.next_attempt_at <= now()
                            AND NOT EXISTS (
                                SELECT 1 FROM notification_outbox p
                                 WHERE p.alert_id = o.alert_id AND p.channel_id = o.channel_id
                                   AND p.status = 'pending' AND p.alert_sequence < o.alert_sequence)
                          ORDER BY o.channel_id, o.next_attempt_at, o.id
                          LIMIT 64",
                        &[],
                    )
                    .await?
                    .iter()
                    .map(|r| r.get(0))
                    .collect()
            };
            if ids.is_empty() {
                return Ok(done);
            }
            let results =
                futures::future::join_all(ids.iter().map(|id| self.deliver_one(*id))).await;
            let mut attempted = 0;
            for r in results {
                if r? {
                    attempted += 1;
                }
            }
            if attempted == 0 {
                // Every one was taken by another server meanwhile.
                return Ok(done);
            }
            done += attempted;
        }
    }

    /// Sends one row if it is still pending and nobody else holds it; `Ok(false)` otherwise.
    async fn deliver_one(&self, id: i64) -> anyhow::Result<bool> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "SELECT id, alert_id, alert_sequence, channel_id, kind, payload, attempts
                   FROM notification_outbox
                  WHERE id = $1 AND status = 'pending'
                  FOR NO KEY UPDATE SKIP LOCKED",
                &[&id],
            )
            .await?
        else {
            return Ok(false);
        };
        let due = Due {
            id: row.get(0),
            alert_id: row.get(1),
            sequence: row.get(2),
            channel_id: row.get(3),
            kind: row.get(4),
            payload: row.get(5),
            attempts: row.get(6),
        };
        let attempt = due.attempts + 1;
        let started = Utc::now();
        // Committed before the request leaves: a crash leaves it `in_flight`, shown as
        // interrupted by the next attempt.
        let number = {
            let log = self.pool.get().await?;
            log.execute(
                "UPDATE notification_attempts SET outcome = 'interrupted',
                        detail = 'the server stopped during this attempt'
                  WHERE outbox_id = $1 AND outcome = 'in_flight'",
                &[&due.id],
            )
            .await?;
            let prior: i32 = log
                .query_one(
                    "SELECT coalesce(max(attempt), 0) FROM notification_attempts WHERE outbox_id = $1",
                    &[&due.id],
                )
                .await?
                .get(0);
            let number = prior.max(due.attempts) + 1;
            log.execute(
                "INSERT INTO notification_attempts (outbox_id, attempt, started_at, finished_at, outcome)
                 VALUES ($1, $2, $3, $3, 'in_flight')",
                &[&due.id, &number, &started],
            )
            .await?;
            number
        };
        let outcome = self.deliver(&tx, &due).await;
        let finished = Utc::now();
        let (status, outcome_name, detail) = match &outcome {
            Outcome::Delivered => ("delivered", "delivered", None),
            Outcome::Cancelled(why) => ("cancelled", "cancelled", Some(why.clone())),
            Outcome::Failed(e) if attempt >= MAX_ATTEMPTS => ("failed", "failed", Some(e.clone())),
            Outcome::Failed(e) => ("pending", "failed", Some(e.clone())),
        };
        let backoff = chrono::Duration::seconds((5_i64 << attempt.clamp(0, 10)).min(3600));
        let next = finished + backoff;
        tx.execute(
            "UPDATE notification_outbox
                SET status = $2::text, attempts = $3, last_error = $4,
                    delivered_at = CASE WHEN $2::text = 'delivered' THEN $5::timestamptz END,
                    next_attempt_at = $6
              WHERE id = $1",
            &[&due.id, &status, &attempt, &detail, &finished, &next],
        )
        .await?;
        if status == "pending" {
            // The receiver is failing: its channel's other rows wait for the same retry
            // instead of each costing a timeout now.
            tx.execute(
                "UPDATE notification_outbox SET next_attempt_at = $2
                  WHERE channel_id = $1 AND status = 'pending' AND next_attempt_at < $2 AND id <> $3",
                &[&due.channel_id, &next, &due.id],
            )
            .await?;
        }
        tx.execute(
            "UPDATE notification_attempts SET finished_at = $3, outcome = $4, detail = $5
              WHERE outbox_id = $1 AND attempt = $2",
            &[&due.id, &number, &finished, &outcome_name, &detail],
        )
        .await?;
        tx.commit().await?;
        match outcome {
            Outcome::Delivered => tracing::info!(alert = %due.alert_id, channel = %due.channel_id,
                kind = %due.kind, "notification delivered"),
            Outcome::Cancelled(why) => {
                tracing::info!(alert = %due.alert_id, channel = %due.channel_id,
                reason = %why, "notification cancelled")
            }
            Outcome::Failed(e) => tracing::warn!(alert = %due.alert_id, channel = %due.channel_id,
                attempt, error = %e, "notification not delivered; will retry"),
        }
        Ok(true)
    }

    /// The channel as it is now (spec from its last event, secret opened).
    async fn channel(
        &self,
        client: &impl deadpool_postgres::GenericClient,
        id: uuid::Uuid,
    ) -> Result<Option<(ChannelSpec, Option<String>)>, String> {
        let row = client
            .query_opt(
                "SELECT payload FROM events
                  WHERE aggregate_type = 'notification_channel' AND aggregate_id = $1
                  ORDER BY sequence DESC LIMIT 1",
                &[&id.to_string()],
            )
            .await
            .map_err(|e| format!("reading the channel: {e}"))?;
        let Some(row) = row else { return Ok(None) };
        let event: ChannelEvent = serde_json::from_value(row.get(0))
            .map_err(|e| format!("the channel's last event does not parse: {e}"))?;
        let (spec, secret): (ChannelSpec, Option<SealedCredential>) = match event {
            ChannelEvent::NotificationChannelCreated { spec, secret, .. }
            | ChannelEvent::NotificationChannelUpdated { spec, secret, .. } => (spec, secret),
            ChannelEvent::NotificationChannelDeleted { .. } => return Ok(None),
        };
        let secret = match (secret, &self.cipher) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(
                    "the channel's secret cannot be opened: PGA_ENCRYPTION_KEY is not set".into(),
                )
            }
            (Some(s), Some(cipher)) => Some(
                cipher
                    .open(&s, &secret_binding(&id.to_string()))
                    .map_err(|e| format!("the channel's secret cannot be opened: {e}"))?,
            ),
        };
        Ok(Some((spec, secret)))
    }

    async fn deliver(&self, client: &impl deadpool_postgres::GenericClient, due: &Due) -> Outcome {
        let (spec, secret) = match self.channel(client, due.channel_id).await {
            Ok(Some(found)) => found,
            Ok(None) => return Outcome::Cancelled("the channel was deleted".into()),
            Err(e) => return Outcome::Failed(e),
        };
        if !spec.enabled {
            return Outcome::Cancelled("the channel is disabled".into());
        }
        let severity = due.payload["severity"].as_str().unwrap_or("critical");
        let rank = |s: &str| ["info", "warning", "critical"].iter().position(|x| *x == s);
        if rank(severity) < rank(spec.min_severity.as_str()) {
            return Outcome::Cancelled("the channel no longer takes this severity".into());
        }
        match self.send(&spec, secret, due).await {
            Ok(()) => Outcome::Delivered,
            Err(e) => Outcome::Failed(e),
        }
    }

    async fn send(
        &self,
        spec: &ChannelSpec,
        secret: Option<String>,
        due: &Due,
    ) -> Result<(), String> {
        let delivery_id = format!("{}:{}", due.alert_id, due.sequence);
        match &spec.target {
            ChannelTarget::Alertmanager { url } => {
                let alert =
                    alertmanager_alert(&due.payload, Utc::now(), self.public_url.as_deref());
                self.post_alertmanager(url, &[alert]).await
            }
            ChannelTarget::Webhook { url } => {
                let body = serde_json::to_vec(&json!({
                    "version": "1",
                    "delivery_id": delivery_id,
                    "status": due.kind,
                    "alert": due.payload,
                }))
                .map_err(|e| e.to_string())?;
                let timestamp = Utc::now().timestamp().to_string();
                let mut request = self
                    .http
                    .post(url)
                    .header("content-type", "application/json")
                    .header("x-pga-delivery-id", &delivery_id)
                    .header("x-pga-timestamp", &timestamp);
                if let Some(secret) = &secret {
                    request = request.header(
                        "x-pga-signature",
                        webhook_signature(secret.as_bytes(), &timestamp, &body),
                    );
                }
                let response = request.body(body).send().await.map_err(describe_http)?;
                check_status(response).await
            }
            ChannelTarget::Email {
                host,
                port,
                tls,
                from,
                to,
                username,
                ca_pem,
            } => {
                let settings = email::SmtpSettings {
                    host: host.clone(),
                    port: *port,
                    tls: match tls {
                        MailTls::Starttls => email::SmtpTls::Starttls,
                        MailTls::Tls => email::SmtpTls::Tls,
                        MailTls::None => email::SmtpTls::None,
                    },
                    from: from.clone(),
                    to: to.clone(),
                    username: username.clone(),
                    ca_pem: ca_pem.clone(),
                    timeout: self.timeout,
                };
                let message = email_message(&due.payload, &due.kind, &delivery_id);
                email::send(&settings, secret.as_deref(), &message).await
            }
        }
    }

    async fn post_alertmanager(&self, base: &str, alerts: &[Value]) -> Result<(), String> {
        let url = format!("{}/api/v2/alerts", base.trim_end_matches('/'));
        let response = self
            .http
            .post(&url)
            .json(alerts)
            .send()
            .await
            .map_err(describe_http)?;
        check_status(response).await
    }

    /// Re-sends every firing, unsilenced alert to each enabled Alertmanager channel taking its
    /// severity, so Alertmanager does not resolve it on its own after `resolve_timeout`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn refresh_alertmanagers(&self) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        let channels = client
            .query(
                "SELECT id, spec->>'url', min_severity FROM rm_notification_channels
                  WHERE enabled AND kind = 'alertmanager'",
                &[],
            )
            .await?;
        for c in channels {
            let (url, min): (String, String) = (c.get(1), c.get(2));
            let rows = client
                .query(
                    "SELECT jsonb_build_object(
                        'alert_id', id, 'rule_id', rule_id, 'rule_name', rule_name,
                        'severity', severity, 'state', 'firing', 'labels', labels, 'value', value,
                        'summary', summary, 'starts_at', fired_at, 'sequence', last_sequence)
                       FROM rm_alerts
                      WHERE state = 'firing' AND silenced_by IS NULL
                        AND array_position(ARRAY['info','warning','critical'], severity)
                            >= array_position(ARRAY['info','warning','critical'], $1)",
                    &[&min],
                )
                .await?;
            let now = Utc::now();
            let mut failed = 0;
            // One alert a request: one that this Alertmanager refuses (a label name it does
            // not take) cannot make it drop the others.
            for row in &rows {
                let alert = alertmanager_alert(&row.get(0), now, self.public_url.as_deref());
                if self.post_alertmanager(&url, &[alert]).await.is_err() {
                    failed += 1;
                }
            }
            if failed > 0 {
                let channel: uuid::Uuid = c.get(0);
                tracing::warn!(%channel, failed, of = rows.len(),
                    "re-sending firing alerts to Alertmanager failed for some");
            }
        }
        Ok(())
    }
}

/// What went wrong, without the URL (a webhook URL may carry a token).
fn describe_http(e: reqwest::Error) -> String {
    let e = e.without_url();
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        format!(
            "could not connect: {}",
            std::error::Error::source(&e).map_or_else(|| e.to_string(), ToString::to_string)
        )
    } else {
        e.to_string()
    }
}

async fn check_status(response: reqwest::Response) -> Result<(), String> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = response.text().await.unwrap_or_default();
    let text: String = text.chars().take(300).collect();
    Err(format!("answered {status}: {text}"))
}

/// An alert in Alertmanager's API v2 form. Firing: `endsAt` five minutes ahead (re-sent every
/// minute); resolved: its resolution time. The `alert_id` label keeps alerts of one rule on
/// several targets apart.
pub fn alertmanager_alert(payload: &Value, now: DateTime<Utc>, public_url: Option<&str>) -> Value {
    let mut labels = payload
        .get("labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    labels.insert("alert_id".into(), payload["alert_id"].clone());
    let resolved = payload["state"] == "resolved";
    let ends_at = if resolved {
        payload["ends_at"].clone()
    } else {
        json!((now + chrono::Duration::minutes(5)).to_rfc3339())
    };
    let mut alert = json!({
        "labels": labels,
        "annotations": {
            "summary": payload["summary"],
            "value": payload["value"].as_f64().map(crate::evaluate::format_value).unwrap_or_default(),
            "rule_id": payload["rule_id"],
        },
        "startsAt": payload["starts_at"],
        "endsAt": ends_at,
    });
    if let Some(base) = public_url {
        alert["generatorURL"] = json!(format!(
            "{}/alerts?id={}",
            base.trim_end_matches('/'),
            payload["alert_id"].as_str().unwrap_or_default()
        ));
    }
    alert
}

fn email_message(payload: &Value, kind: &str, delivery_id: &str) -> email::EmailMessage {
    let labels = payload.get("labels").and_then(Value::as_object);
    let label = |k: &str| {
        labels
            .and_then(|l| l.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let subject = format!(
        "[{}] {} on {}",
        kind.to_uppercase(),
        payload["rule_name"].as_str().unwrap_or("alert"),
        label("instance")
    );
    let mut text = format!(
        "{}\n\nstate: {kind}\nseverity: {}\nvalue: {}\nsince: {}\n",
        payload["summary"].as_str().unwrap_or(""),
        payload["severity"].as_str().unwrap_or(""),
        payload["value"]
            .as_f64()
            .map(crate::evaluate::format_value)
            .unwrap_or_else(|| "-".into()),
        payload["starts_at"].as_str().unwrap_or(""),
    );
    if let Some(labels) = labels {
        text.push_str("\nlabels:\n");
        for (k, v) in labels {
            text.push_str(&format!("  {k} = {}\n", v.as_str().unwrap_or("")));
        }
    }
    email::EmailMessage {
        subject,
        text,
        message_id: delivery_id.replace(':', "."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Known answer: `printf '1700000000.{}' | openssl dgst -sha256 -hmac key`.
        assert_eq!(
            webhook_signature(b"key", "1700000000", b"{}"),
            "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }

    #[test]
    fn a_firing_alert_for_alertmanager_keeps_its_start_and_ends_ahead() {
        let now = Utc::now();
        let payload = json!({"alert_id": "a", "rule_id": "r", "state": "firing",
            "labels": {"alertname": "X"}, "summary": "s", "value": 0.5, "starts_at": "2026-12-03T10:00:00Z"});
        let a = alertmanager_alert(&payload, now, None);
        assert_eq!(a["labels"]["alert_id"], "a");
        assert_eq!(a["startsAt"], "2026-12-03T10:00:00Z");
        assert_eq!(a["annotations"]["value"], "0.5");
        let ends: DateTime<Utc> = a["endsAt"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("endsAt");
        assert!(ends > now);
    }
}
