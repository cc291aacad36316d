//! Alerting test support: [`WebhookReceiver`] (an HTTP endpoint that records every request it
//! gets and can delay or fail its answers), [`Alertmanager`] (a real Alertmanager on a free
//! loopback port, delivering to a receiver) and [`HoldingProxy`] (a TCP proxy that can withhold
//! the answers, as if the sender died after the peer got the request but before it saw the
//! answer).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};

/// The Alertmanager binary: `PGA_TEST_ALERTMANAGER`, or Debian's (scripts/services.sh installs
/// it).
fn alertmanager_bin() -> String {
    std::env::var("PGA_TEST_ALERTMANAGER")
        .unwrap_or_else(|_| "/usr/bin/prometheus-alertmanager".into())
}

/// Aborts its task when dropped (held in an `Arc`: when the last clone goes).
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One request a [`WebhookReceiver`] got.
#[derive(Clone, Debug)]
pub struct ReceivedRequest {
    pub method: String,
    /// The path alone (`/hook`); the query string is in `query`.
    pub path: String,
    pub query: Option<String>,
    /// By lowercase name; the values of a repeated header joined with `", "`.
    pub headers: BTreeMap<String, String>,
    pub body: Bytes,
    pub received_at: DateTime<Utc>,
    /// The status it was (or, while held, will be) answered with.
    pub status: u16,
}

impl ReceivedRequest {
    /// The body as JSON; panics (showing the body) if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {}: the body is not JSON ({e}): {}",
                self.method,
                self.path,
                self.text()
            )
        })
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header by name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// An HTTP server on a free loopback port that records every request (any method, any path)
/// and answers 200 at once, unless told to [`fail_next`](Self::fail_next) or to
/// [`hold`](Self::hold). Clones share the server; it stops when the last one is dropped.
#[derive(Clone)]
pub struct WebhookReceiver {
    addr: SocketAddr,
    state: Arc<ReceiverState>,
    _server: Arc<AbortOnDrop>,
}

struct ReceiverState {
    requests: Mutex<Vec<ReceivedRequest>>,
    /// How many of the next requests to fail, and with what.
    failures: Mutex<(usize, StatusCode)>,
    /// While `true`, answers wait (the request is recorded first).
    hold: watch::Sender<bool>,
}

impl WebhookReceiver {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the webhook receiver");
        let addr = listener.local_addr().expect("webhook receiver address");
        let state = Arc::new(ReceiverState {
            requests: Mutex::new(Vec::new()),
            failures: Mutex::new((0, StatusCode::OK)),
            hold: watch::Sender::new(false),
        });
        let app = Router::new()
            .fallback(record)
            .layer(DefaultBodyLimit::disable())
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            state,
            _server: Arc::new(AbortOnDrop(server.abort_handle())),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to configure as the webhook: `http://127.0.0.1:PORT/hook`.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.state
            .requests
            .lock()
            .expect("webhook receiver requests")
            .clone()
    }

    /// Forgets the requests so far.
    pub fn clear(&self) {
        self.state
            .requests
            .lock()
            .expect("webhook receiver requests")
            .clear();
    }

    /// Waits until at least `n` requests came, and returns them all; panics (listing what did
    /// come) after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedRequest> {
        self.wait_until(&format!("{n} request(s)"), timeout, |requests| {
            (requests.len() >= n).then(|| requests.to_vec())
        })
        .await
    }

    /// Waits until `check` (on every request so far, oldest first) returns `Some`; panics
    /// (saying `what`, and listing what did come) after `timeout`.
    pub async fn wait_until<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&[ReceivedRequest]) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let requests = self.requests();
            if let Some(found) = check(&requests) {
                return found;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "webhook receiver {}: timed out after {timeout:?} waiting for {what}; \
                     it got {} request(s):\n{}",
                    self.url(),
                    requests.len(),
                    summary(&requests)
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// While held, a request is read in full and recorded, but its answer waits until
    /// `hold(false)`, so a test can kill the sender mid-delivery.
    pub fn hold(&self, held: bool) {
        self.state.hold.send_replace(held);
    }

    /// Answers the next `n` requests with `status` (recording them all the same).
    pub fn fail_next(&self, n: usize, status: u16) {
        let status = StatusCode::from_u16(status).expect("an HTTP status");
        *self
            .state
            .failures
            .lock()
            .expect("webhook receiver failures") = (n, status);
    }
}

/// The receiver's only handler: records the request, then answers (after any hold).
async fn record(
    State(state): State<Arc<ReceiverState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let status = {
        let mut failures = state.failures.lock().expect("webhook receiver failures");
        if failures.0 > 0 {
            failures.0 -= 1;
            failures.1
        } else {
            StatusCode::OK
        }
    };
    let mut by_name = BTreeMap::<String, String>::new();
    for (name, value) in &headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        by_name
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    state
        .requests
        .lock()
        .expect("webhook receiver requests")
        .push(ReceivedRequest {
            method: method.to_string(),
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            headers: by_name,
            body,
            received_at: Utc::now(),
            status: status.as_u16(),
        });
    // The sender lives in `state`, so this only ends on release (or when the sender hangs up
    // and the connection drops this future).
    let _ = state.hold.subscribe().wait_for(|held| !held).await;
    status
}

/// One line per request (the body cut at 500 bytes), for failure messages.
fn summary(requests: &[ReceivedRequest]) -> String {
    requests
        .iter()
        .map(|r| {
            let text = r.text();
            let cut: String = text.chars().take(500).collect();
            let more = if cut.len() < text.len() { "…" } else { "" };
            format!(
                "  {} {} {} -> {}: {cut}{more}",
                r.received_at.format("%H:%M:%S%.3f"),
                r.method,
                r.path,
                r.status
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A real Alertmanager (`/usr/bin/prometheus-alertmanager`, or `PGA_TEST_ALERTMANAGER`) on a
/// free loopback port, clustering off, with its storage, configuration and log in a temporary
/// directory, routing every alert to one [`WebhookReceiver`]: grouped by `alertname` and
/// `alert_id`, `group_wait` 1 s, `group_interval` 2 s, `repeat_interval` 1 h, resolved alerts
/// sent too. Killed when dropped.
pub struct Alertmanager {
    addr: SocketAddr,
    receiver: WebhookReceiver,
    http: reqwest::Client,
    child: tokio::process::Child,
    /// Removed after the child is gone (see `Drop`).
    dir: tempfile::TempDir,
}

impl Alertmanager {
    /// An Alertmanager delivering to a new [`WebhookReceiver`].
    pub async fn start() -> Self {
        Self::with_receiver(WebhookReceiver::start().await).await
    }

    /// An Alertmanager delivering to `receiver` (keep a clone to look at what it gets).
    pub async fn with_receiver(receiver: WebhookReceiver) -> Self {
        Self::with_webhook(receiver, None).await
    }

    /// An Alertmanager delivering to `webhook_url` (a [`HoldingProxy`] in front of `receiver`,
    /// say) instead of `receiver`'s own URL; `receiver` is still what [`Self::receiver`]
    /// answers.
    pub async fn with_webhook_url(receiver: WebhookReceiver, webhook_url: &str) -> Self {
        Self::with_webhook(receiver, Some(webhook_url)).await
    }

    async fn with_webhook(receiver: WebhookReceiver, webhook_url: Option<&str>) -> Self {
        let bin = alertmanager_bin();
        assert!(
            Path::new(&bin).exists(),
            "no Alertmanager at {bin}: install Debian's prometheus-alertmanager \
             (scripts/services.sh does) or set PGA_TEST_ALERTMANAGER"
        );
        let dir = tempfile::tempdir().expect("alertmanager temp dir");
        let config = dir.path().join("alertmanager.yml");
        let url = webhook_url.map_or_else(|| receiver.url(), str::to_owned);
        std::fs::write(&config, alertmanager_config(&url)).expect("write alertmanager.yml");
        let storage = dir.path().join("data");
        std::fs::create_dir_all(&storage).expect("alertmanager storage dir");
        let log = dir.path().join("alertmanager.log");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("http client");

        // The port is free when we look, but another process may take it before Alertmanager
        // binds it: then try another.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let addr = free_port();
            let out = std::fs::File::create(&log).expect("alertmanager log");
            let err = out.try_clone().expect("alertmanager log");
            let mut child = tokio::process::Command::new(&bin)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.path={}", storage.display()))
                .arg("--cluster.listen-address=")
                .arg(format!("--web.listen-address={addr}"))
                .arg(format!("--web.external-url=http://{addr}"))
                .arg("--log.level=debug")
                .stdin(std::process::Stdio::null())
                .stdout(out)
                .stderr(err)
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|e| panic!("could not run {bin}: {e}"));
            match wait_ready(&http, addr, &mut child).await {
                Ready::Yes => {
                    return Self {
                        addr,
                        receiver,
                        http,
                        child,
                        dir,
                    }
                }
                Ready::Exited(status) => {
                    let tail = log_tail(&log);
                    if attempt < 3 && tail.contains("address already in use") {
                        continue;
                    }
                    panic!("Alertmanager on {addr} exited ({status}) before it was ready:\n{tail}");
                }
                Ready::TimedOut => {
                    let _ = child.start_kill();
                    panic!(
                        "Alertmanager on {addr} was not ready within 20 s:\n{}",
                        log_tail(&log)
                    );
                }
            }
        }
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The receiver it delivers to.
    pub fn receiver(&self) -> &WebhookReceiver {
        &self.receiver
    }

    /// Its temporary directory: `alertmanager.yml`, `alertmanager.log`, `data/`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The last lines it logged (at debug level).
    pub fn log_tail(&self) -> String {
        log_tail(&self.log_path())
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("alertmanager.log")
    }

    /// `GET /api/v2/alerts`: the alerts it holds (an array).
    pub async fn alerts(&self) -> Value {
        let response = self
            .http
            .get(format!("{}/api/v2/alerts", self.url()))
            .send()
            .await
            .expect("GET /api/v2/alerts");
        let status = response.status();
        let body = response.text().await.expect("alerts body");
        assert!(status.is_success(), "GET /api/v2/alerts: {status}: {body}");
        serde_json::from_str(&body).expect("alerts JSON")
    }

    /// `POST /api/v2/alerts` with `alerts` (an array of `{labels, annotations, startsAt, …}`),
    /// as a sender would; panics unless it answers 200.
    pub async fn post_alerts(&self, alerts: &Value) {
        let response = self
            .http
            .post(format!("{}/api/v2/alerts", self.url()))
            .json(alerts)
            .send()
            .await
            .expect("POST /api/v2/alerts");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "POST /api/v2/alerts: {status}: {body}");
    }
}

impl Drop for Alertmanager {
    /// Kills the process and waits (briefly) for it to go, so its storage is removed after it.
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "test failed: Alertmanager {} logged, last:\n{}",
                self.url(),
                self.log_tail()
            );
        }
        let _ = self.child.start_kill();
        for _ in 0..100 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The generated `alertmanager.yml`: everything to the webhook at `url`.
pub fn alertmanager_config(url: &str) -> String {
    format!(
        "\
global:
  resolve_timeout: 5m
route:
  receiver: webhook
  group_by: ['alertname', 'alert_id']
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: webhook
    webhook_configs:
      - url: '{url}'
        send_resolved: true
"
    )
}

enum Ready {
    Yes,
    Exited(std::process::ExitStatus),
    TimedOut,
}

/// Polls `GET /-/ready` until it answers 200, the child exits, or 20 s pass.
async fn wait_ready(
    http: &reqwest::Client,
    addr: SocketAddr,
    child: &mut tokio::process::Child,
) -> Ready {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let url = format!("http://{addr}/-/ready");
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Ready::Exited(status);
        }
        let ready = http
            .get(&url)
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .is_ok_and(|r| r.status() == reqwest::StatusCode::OK);
        if ready {
            return Ready::Yes;
        }
        if tokio::time::Instant::now() > deadline {
            return Ready::TimedOut;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A loopback address with a port free at the moment.
fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
}

/// The last 40 lines of `path`.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A TCP proxy on a free loopback port forwarding to `target`, each connection to a connection
/// of its own. With [`hold_responses`](Self::hold_responses) on, what the client sends still
/// goes through at once, but what comes back waits until released: the peer has the request,
/// the client never sees the answer (kill it meanwhile). When the client hangs up, the upstream
/// connection is shut down for writing, as a dead process's would be. Clones share the proxy; it
/// stops, with its connections, when the last one is dropped.
#[derive(Clone)]
pub struct HoldingProxy {
    addr: SocketAddr,
    target: SocketAddr,
    state: Arc<ProxyState>,
    _server: Arc<AbortOnDrop>,
}

struct ProxyState {
    hold: watch::Sender<bool>,
    connections: AtomicUsize,
}

impl HoldingProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let state = Arc::new(ProxyState {
            hold: watch::Sender::new(false),
            connections: AtomicUsize::new(0),
        });
        let shared = state.clone();
        let server = tokio::spawn(async move {
            // Dropped with this task when the proxy is: the connections end with it.
            let mut connections = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                while connections.try_join_next().is_some() {}
                shared.connections.fetch_add(1, Ordering::SeqCst);
                connections.spawn(forward(client, target, shared.hold.subscribe()));
            }
        });
        Self {
            addr,
            target,
            state,
            _server: Arc::new(AbortOnDrop(server.abort_handle())),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (no path: add the target's).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// How many connections it accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// While on, bytes from upstream wait; off, they (and any waiting) go through.
    pub fn hold_responses(&self, held: bool) {
        self.state.hold.send_replace(held);
    }
}

/// Pipes `client` to a new connection to `target` and back, the way back waiting on `hold`.
async fn forward(client: TcpStream, target: SocketAddr, mut hold: watch::Receiver<bool>) {
    let Ok(upstream) = TcpStream::connect(target).await else {
        return; // The client sees its connection closed.
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut upstream_read, mut upstream_write) = upstream.into_split();
    let up = async {
        let _ = tokio::io::copy(&mut client_read, &mut upstream_write).await;
        let _ = upstream_write.shutdown().await;
    };
    let down = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match upstream_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if hold.wait_for(|held| !held).await.is_err() {
                return;
            }
            if client_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(up, down);
}
