//! Talking to the server: registration, tokens, and sending a batch over HTTP (gzip) or
//! JetStream (awaiting the ack). A batch keeps its `batch_id` through every retry, so the
//! server counts it once however often it arrives.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use domain::metrics::TOKEN_HEADER;
use serde::Deserialize;

use crate::config::{Config, Secret, Transport};
use crate::state::State;

/// What went wrong sending a batch, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server or NATS is unreachable or busy: keep the batch, try later.
    #[error("server unavailable: {0}")]
    Unavailable(String),
    /// The server will never take this batch (it says why): drop it, count it.
    #[error("batch refused: {0}")]
    Refused(String),
    /// This collector is no longer accepted (deleted, or its refresh secret revoked).
    #[error("{0}")]
    Fatal(String),
}

#[derive(Deserialize)]
struct Registered {
    collector_id: String,
    token: String,
    token_expires_at: DateTime<Utc>,
    refresh_secret: String,
}

#[derive(Deserialize)]
struct FreshToken {
    token: String,
    token_expires_at: DateTime<Utc>,
    /// Where batches go on NATS (the collector's partition); absent from servers before
    /// partitions.
    #[serde(default)]
    metrics_subject: Option<String>,
    /// On operator-mode NATS, this collector's own NATS credential (renewed with the token).
    #[serde(default)]
    nats: Option<NatsGrant>,
}

/// A NATS credential the server issued: it may publish only to `subject` and receive only
/// below `inbox_prefix`.
#[derive(Deserialize, Clone)]
struct NatsGrant {
    credentials: String,
    subject: String,
    inbox_prefix: String,
}

/// The API's error body: `{"error": {"code": …, "message": …}}`.
#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorDetail,
}

#[derive(Deserialize, Default)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
}

/// The connection to the server, with the current token.
pub struct Link {
    http: reqwest::Client,
    base: String,
    transport: Transport,
    nats: Option<async_nats::jetstream::Context>,
    nats_url: Option<String>,
    subject: String,
    /// The NATS credential of the last token refresh, if the server issues them.
    nats_grant: Option<NatsGrant>,
    /// Set by the NATS connection when the server refuses its credential (expired, revoked):
    /// the next publish drops the connection and gets a fresh credential first.
    nats_refused: Arc<std::sync::atomic::AtomicBool>,
    state: State,
    /// The token, when it expires, and how long it was valid for when it came.
    token: Option<(String, DateTime<Utc>, chrono::Duration)>,
    timeout: Duration,
    counters: LinkCounters,
}

/// What the link counts (shared: readable after the link moved into the agent).
#[derive(Debug, Clone, Default)]
pub struct LinkCounters {
    /// Tokens obtained.
    pub refreshes: Arc<AtomicU64>,
    /// Pushes the server answered 401 (an expired or revoked token).
    pub unauthorized: Arc<AtomicU64>,
}

async fn error_message(response: reqwest::Response) -> String {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<ErrorBody>(&body)
        .map(|b| b.error.message)
        .unwrap_or_default();
    if message.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {message}")
    }
}

fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("pganalytics-collector/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// Registers with the server and saves the state file.
///
/// # Errors
/// A refused secret, in words ("exits with a message saying so"), or an unreachable server.
pub async fn register(config: &Config, secret: &Secret) -> anyhow::Result<State> {
    let timeout = Duration::from_secs(config.server.request_timeout_s);
    let http = http_client(timeout)?;
    let hostname = hostname();
    let name = config
        .collector
        .name
        .clone()
        .unwrap_or_else(|| format!("{hostname} collector"));
    let url = format!("{}/api/v1/collectors/register", base(&config.server.url));
    let response = http
        .post(&url)
        .header("X-Registration-Secret", secret.expose())
        .json(&serde_json::json!({
            "name": name,
            "hostname": hostname,
            "version": env!("CARGO_PKG_VERSION"),
        }))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach the server at {url} to register: {e}"))?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        anyhow::bail!(
            "the server refused the registration secret ({}); ask an admin for a valid one",
            error_message(response).await
        );
    }
    if !status.is_success() {
        anyhow::bail!("registration failed: {}", error_message(response).await);
    }
    let registered: Registered = response.json().await?;
    let state = State {
        collector_id: registered.collector_id,
        refresh_secret: registered.refresh_secret,
        server_url: config.server.url.clone(),
    };
    state.save(&config.collector.state_file)?;
    tracing::info!(
        collector_id = %state.collector_id,
        state_file = %config.collector.state_file.display(),
        "registered with the server (token valid until {})",
        registered.token_expires_at
    );
    let _ = registered.token;
    Ok(state)
}

fn base(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// This host's name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Compresses a batch for the spool and the HTTP body.
///
/// # Errors
/// Never in practice (writes to memory).
pub fn gzip(json: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(json)?;
    encoder.finish()
}

fn gunzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body).read_to_end(&mut out)?;
    Ok(out)
}

impl Link {
    /// A link for a registered collector.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(config: &Config, state: State) -> anyhow::Result<Self> {
        let timeout = Duration::from_secs(config.server.request_timeout_s);
        Ok(Self {
            http: http_client(timeout)?,
            base: base(&config.server.url).to_owned(),
            transport: config.server.transport,
            nats: None,
            nats_url: config.server.nats_url.clone(),
            subject: format!(
                "{}.metrics.{}",
                config.server.nats_prefix, state.collector_id
            ),
            nats_grant: None,
            nats_refused: Arc::default(),
            state,
            token: None,
            timeout,
            counters: LinkCounters::default(),
        })
    }

    /// Its counters.
    pub fn counters(&self) -> LinkCounters {
        self.counters.clone()
    }

    /// The collector's id.
    pub fn collector_id(&self) -> &str {
        &self.state.collector_id
    }

    /// Gets a new token with the refresh secret.
    async fn refresh(&mut self) -> Result<(), SendError> {
        let url = format!(
            "{}/api/v1/collectors/{}/token",
            self.base, self.state.collector_id
        );
        let response = self
            .http
            .post(&url)
            .header("X-Refresh-Secret", &self.state.refresh_secret)
            .send()
            .await
            .map_err(|e| SendError::Unavailable(format!("token refresh: {e}")))?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(SendError::Fatal(format!(
                "the server no longer accepts this collector ({}): it was probably deleted. \
                 Not re-registering on its own: remove the state file and start again with a new \
                 registration secret if it should come back",
                error_message(response).await
            )));
        }
        if !status.is_success() {
            return Err(SendError::Unavailable(format!(
                "token refresh: {}",
                error_message(response).await
            )));
        }
        let fresh: FreshToken = response
            .json()
            .await
            .map_err(|e| SendError::Unavailable(format!("token refresh: {e}")))?;
        tracing::debug!(expires_at = %fresh.token_expires_at, "token refreshed");
        if let Some(subject) = &fresh.metrics_subject {
            self.subject.clone_from(subject);
        }
        match fresh.nats {
            Some(grant) => {
                // The old connection's credential expires with the old token: reconnect with
                // the new one before the next publish.
                self.nats = None;
                self.subject = grant.subject.clone();
                self.nats_grant = Some(grant);
            }
            None if self.nats_grant.is_some() => {
                // The server stopped issuing NATS credentials: the last one is of no more use.
                self.nats = None;
                self.nats_grant = None;
            }
            None => {}
        }
        let lifetime = fresh.token_expires_at - Utc::now();
        self.token = Some((fresh.token, fresh.token_expires_at, lifetime));
        self.counters.refreshes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// The current token, refreshed ahead of its expiry: when less than five minutes, or a
    /// quarter of its lifetime, is left (whichever is shorter).
    async fn token(&mut self) -> Result<String, SendError> {
        let fresh_enough = self.token.as_ref().is_some_and(|(_, expires, lifetime)| {
            let margin = (*lifetime / 4).min(chrono::Duration::minutes(5));
            *expires - Utc::now() > margin
        });
        if !fresh_enough {
            self.refresh().await?;
        }
        self.token
            .as_ref()
            .map(|(t, _, _)| t.clone())
            .ok_or_else(|| SendError::Unavailable("no token".into()))
    }

    /// Refreshes the token ahead of its expiry (called by the agent between sends).
    ///
    /// # Errors
    /// As [`SendError`].
    pub async fn keep_token_fresh(&mut self) -> Result<(), SendError> {
        self.token().await.map(|_| ())
    }

    /// Sends one gzip-compressed batch. A 401 refreshes the token once and retries; a second
    /// 401 is fatal.
    ///
    /// # Errors
    /// As [`SendError`].
    pub async fn send(&mut self, gzipped: &[u8]) -> Result<(), SendError> {
        match self.transport {
            Transport::Http => {
                let token = self.token().await?;
                match self.post(gzipped, &token).await {
                    Err(SendError::Fatal(_)) => {
                        self.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
                        self.refresh().await?;
                        let token = self.token().await?;
                        self.post(gzipped, &token).await.map_err(|e| match e {
                            SendError::Fatal(m) => SendError::Fatal(format!(
                                "the server refuses this collector's fresh token ({m}); stopping"
                            )),
                            other => other,
                        })
                    }
                    other => other,
                }
            }
            Transport::Nats => self.publish(gzipped).await,
        }
    }

    async fn post(&self, gzipped: &[u8], token: &str) -> Result<(), SendError> {
        let response = self
            .http
            .post(format!("{}/api/v1/metrics/push", self.base))
            .bearer_auth(token)
            .header("Content-Type", "application/json")
            .header("Content-Encoding", "gzip")
            .body(gzipped.to_vec())
            .send()
            .await
            .map_err(|e| SendError::Unavailable(e.to_string()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let message = error_message(response).await;
        Err(match status.as_u16() {
            401 => SendError::Fatal(message),
            408 | 429 | 500..=599 => SendError::Unavailable(message),
            _ => SendError::Refused(message),
        })
    }

    async fn publish(&mut self, gzipped: &[u8]) -> Result<(), SendError> {
        if self.nats_refused.swap(false, Ordering::Relaxed) {
            // Our credential was refused: a new connection with a fresh one, after a refresh.
            self.nats = None;
            self.token = None;
        }
        let token = self.token().await?;
        let json = gunzip(gzipped).map_err(|e| SendError::Refused(e.to_string()))?;
        // Published in the compact encoding the bridge publishes: the server reads it without
        // parsing JSON. What the checks refuse here the server would refuse too.
        let batch = domain::metrics::parse_payload(&json, chrono::Utc::now())
            .map_err(|e| SendError::Refused(format!("spooled batch: {e}")))?
            .batch;
        let batch_id = batch.batch_id.clone();
        let encoded = domain::metrics::compact::encode(&batch);
        if self.nats.is_none() {
            let url = self.nats_url.clone().unwrap_or_default();
            let mut options = async_nats::ConnectOptions::new();
            if let Some(grant) = &self.nats_grant {
                options = options
                    .credentials(&grant.credentials)
                    .map_err(|e| SendError::Unavailable(format!("NATS credential: {e}")))?
                    .custom_inbox_prefix(&grant.inbox_prefix);
            }
            let refused = self.nats_refused.clone();
            let client = options
                .event_callback(move |event| {
                    let refused = refused.clone();
                    async move {
                        let text = event.to_string().to_lowercase();
                        if text.contains("authorization") || text.contains("expired") {
                            tracing::warn!(%event, "NATS refused this collector's credential");
                            refused.store(true, Ordering::Relaxed);
                        }
                    }
                })
                .connection_timeout(self.timeout)
                .connect(url.as_str())
                .await
                .map_err(|e| SendError::Unavailable(format!("NATS at {url}: {e}")))?;
            self.nats = Some(async_nats::jetstream::new(client));
        }
        let Some(js) = &self.nats else {
            return Err(SendError::Unavailable("no NATS connection".into()));
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            "Nats-Msg-Id",
            domain::bus::BusNames::batch_message_id(&self.state.collector_id, &batch_id).as_str(),
        );
        headers.insert(TOKEN_HEADER, token.as_str());
        let ack = js
            .publish_with_headers(self.subject.clone(), headers, Bytes::from(encoded))
            .await
            .map_err(|e| SendError::Unavailable(format!("publish: {e}")))?;
        tokio::time::timeout(self.timeout, ack)
            .await
            .map_err(|_| SendError::Unavailable("no JetStream ack in time".into()))?
            .map_err(|e| SendError::Unavailable(format!("JetStream ack: {e}")))?;
        Ok(())
    }
}
