//! [`SmtpSink`]: a local SMTP server for tests. It speaks enough SMTP for a client such as
//! lettre (EHLO/HELO, STARTTLS, AUTH PLAIN and LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT),
//! upgrades with a self-signed certificate for `localhost`/`127.0.0.1` ([`SmtpSink::ca_pem`]
//! to trust it), accepts whatever it is told and records every message and every login.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

/// A message the sink accepted.
#[derive(Debug, Clone)]
pub struct SmtpMessage {
    /// The MAIL FROM address (without the angle brackets).
    pub from: String,
    /// The RCPT TO addresses, in order.
    pub recipients: Vec<String>,
    /// The message as sent after DATA (dot-unstuffed, CRLF line ends, without the final dot).
    pub data: String,
    /// Whether the message came over TLS (after STARTTLS).
    pub tls: bool,
    /// The user the session authenticated as, if it did.
    pub auth_user: Option<String>,
    /// That user's password, to check what a client sent.
    pub auth_password: Option<String>,
}

impl SmtpMessage {
    /// The first header `name` (case-insensitive) of the message, unfolded; None when absent.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(value) = found.as_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                continue;
            }
            if found.is_some() {
                break;
            }
            if let Some((key, value)) = line.split_once(':') {
                if key.trim().eq_ignore_ascii_case(name) {
                    found = Some(value.trim().to_owned());
                }
            }
        }
        found
    }

    /// The body: what follows the blank line after the headers.
    pub fn body(&self) -> &str {
        self.data
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or_default()
    }
}

/// A login attempt the sink saw (whether or not it accepted it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpAuth {
    pub mechanism: String,
    pub user: String,
    pub password: String,
    /// Whether the session was under TLS when the credentials arrived.
    pub tls: bool,
    pub accepted: bool,
}

/// How a sink behaves; [`SmtpSink::builder`], then [`SmtpSinkBuilder::start`].
#[derive(Debug, Clone)]
pub struct SmtpSinkBuilder {
    starttls: bool,
    password: Option<String>,
    rejected_recipients: HashSet<String>,
}

impl SmtpSinkBuilder {
    /// Do not advertise (nor accept) STARTTLS: a plain-text only server.
    pub fn without_starttls(mut self) -> Self {
        self.starttls = false;
        self
    }

    /// Accept only this password (any user); other logins get 535.
    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_owned());
        self
    }

    /// Refuse RCPT TO this address with 550.
    pub fn reject_recipient(mut self, address: &str) -> Self {
        self.rejected_recipients
            .insert(address.to_ascii_lowercase());
        self
    }

    pub async fn start(self) -> SmtpSink {
        let certified = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .expect("self-signed certificate");
        let ca_pem = certified.cert.pem();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
            rustls::pki_types::PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()),
        );
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .expect("server certificate");

        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind SMTP sink");
        let port = listener.local_addr().expect("local addr").port();
        let (count, _) = watch::channel(0usize);
        let shared = Arc::new(Shared {
            config: self,
            acceptor: TlsAcceptor::from(Arc::new(tls)),
            messages: Mutex::new(Vec::new()),
            auths: Mutex::new(Vec::new()),
            count,
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        SmtpSink {
            port,
            ca_pem,
            shared,
            task,
        }
    }
}

/// A running sink; stops accepting when dropped.
pub struct SmtpSink {
    port: u16,
    ca_pem: String,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    pub fn builder() -> SmtpSinkBuilder {
        SmtpSinkBuilder {
            starttls: true,
            password: None,
            rejected_recipients: HashSet::new(),
        }
    }

    /// A sink that advertises STARTTLS and accepts any login and recipient.
    pub async fn start() -> SmtpSink {
        Self::builder().start().await
    }

    /// Shorthand for `SmtpSink::builder().without_starttls()`.
    pub fn without_starttls() -> SmtpSinkBuilder {
        Self::builder().without_starttls()
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The sink's self-signed certificate (for localhost and 127.0.0.1), PEM, to trust.
    pub fn ca_pem(&self) -> String {
        self.ca_pem.clone()
    }

    /// The messages accepted so far, oldest first.
    pub fn messages(&self) -> Vec<SmtpMessage> {
        self.shared.messages.lock().expect("messages").clone()
    }

    /// The login attempts seen so far, oldest first.
    pub fn auths(&self) -> Vec<SmtpAuth> {
        self.shared.auths.lock().expect("auths").clone()
    }

    /// Waits until at least `n` messages arrived and returns them all; panics after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<SmtpMessage> {
        let mut count = self.shared.count.subscribe();
        let arrived = tokio::time::timeout(timeout, count.wait_for(|c| *c >= n)).await;
        if !matches!(arrived, Ok(Ok(_))) {
            panic!(
                "the SMTP sink got {} message(s), not {n}, within {timeout:?}",
                self.messages().len()
            );
        }
        self.messages()
    }
}

struct Shared {
    config: SmtpSinkBuilder,
    acceptor: TlsAcceptor,
    messages: Mutex<Vec<SmtpMessage>>,
    auths: Mutex<Vec<SmtpAuth>>,
    count: watch::Sender<usize>,
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            // A session ends with the client; an error only ends it sooner.
            let _ = session(stream, &shared).await;
        });
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The longest line or message the sink takes, so a runaway client ends its session.
const MAX_LINE: usize = 64 * 1024;
const MAX_DATA: usize = 16 * 1024 * 1024;

#[derive(Default)]
struct Session {
    tls: bool,
    greeted: bool,
    auth: Option<(String, String)>,
    from: Option<String>,
    recipients: Vec<String>,
}

impl Session {
    fn reset_transaction(&mut self) {
        self.from = None;
        self.recipients.clear();
    }
}

async fn session(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut io: BufReader<Box<dyn Io>> = BufReader::new(Box::new(stream));
    let mut state = Session::default();
    reply(&mut io, "220 localhost ESMTP pganalytics test sink").await?;
    loop {
        let Some(line) = read_line(&mut io).await? else {
            return Ok(());
        };
        let (verb, arg) = match line.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim().to_owned()),
            None => (line.to_ascii_uppercase(), String::new()),
        };
        match verb.as_str() {
            "EHLO" => {
                state.greeted = true;
                state.reset_transaction();
                let mut lines = vec![format!("localhost greets {arg}")];
                lines.push("8BITMIME".into());
                lines.push("SMTPUTF8".into());
                lines.push("SIZE 16777216".into());
                if shared.config.starttls && !state.tls {
                    lines.push("STARTTLS".into());
                }
                lines.push("AUTH PLAIN LOGIN".into());
                let last = lines.len() - 1;
                let text: Vec<String> = lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
                    .collect();
                reply(&mut io, &text.join("\r\n")).await?;
            }
            "HELO" => {
                state.greeted = true;
                state.reset_transaction();
                reply(&mut io, "250 localhost").await?;
            }
            "STARTTLS" => {
                if !shared.config.starttls || state.tls {
                    reply(&mut io, "502 5.5.1 STARTTLS not available").await?;
                    continue;
                }
                reply(&mut io, "220 2.0.0 Ready to start TLS").await?;
                // Whatever the client pipelined after STARTTLS is dropped with the buffer.
                let plain = io.into_inner();
                let tls = shared.acceptor.accept(plain).await?;
                io = BufReader::new(Box::new(tls));
                state = Session {
                    tls: true,
                    ..Session::default()
                };
            }
            "AUTH" => {
                let (mechanism, initial) = match arg.split_once(' ') {
                    Some((m, i)) => (m.to_ascii_uppercase(), Some(i.trim().to_owned())),
                    None => (arg.to_ascii_uppercase(), None),
                };
                let credentials = match mechanism.as_str() {
                    "PLAIN" => auth_plain(&mut io, initial).await?,
                    "LOGIN" => auth_login(&mut io, initial).await?,
                    _ => {
                        reply(&mut io, "504 5.5.4 mechanism not supported").await?;
                        continue;
                    }
                };
                let Some((user, password)) = credentials else {
                    reply(&mut io, "501 5.5.2 malformed authentication").await?;
                    continue;
                };
                let accepted = shared
                    .config
                    .password
                    .as_ref()
                    .is_none_or(|expected| *expected == password);
                shared.auths.lock().expect("auths").push(SmtpAuth {
                    mechanism,
                    user: user.clone(),
                    password: password.clone(),
                    tls: state.tls,
                    accepted,
                });
                if accepted {
                    state.auth = Some((user, password));
                    reply(&mut io, "235 2.7.0 Authentication successful").await?;
                } else {
                    reply(&mut io, "535 5.7.8 Authentication credentials invalid").await?;
                }
            }
            "MAIL" => {
                if !state.greeted {
                    reply(&mut io, "503 5.5.1 EHLO first").await?;
                    continue;
                }
                let Some(address) = path_argument(&arg, "FROM:") else {
                    reply(&mut io, "501 5.5.4 syntax: MAIL FROM:<address>").await?;
                    continue;
                };
                state.reset_transaction();
                state.from = Some(address);
                reply(&mut io, "250 2.1.0 OK").await?;
            }
            "RCPT" => {
                if state.from.is_none() {
                    reply(&mut io, "503 5.5.1 MAIL first").await?;
                    continue;
                }
                let Some(address) = path_argument(&arg, "TO:") else {
                    reply(&mut io, "501 5.5.4 syntax: RCPT TO:<address>").await?;
                    continue;
                };
                if shared
                    .config
                    .rejected_recipients
                    .contains(&address.to_ascii_lowercase())
                {
                    reply(&mut io, "550 5.1.1 mailbox unavailable").await?;
                    continue;
                }
                state.recipients.push(address);
                reply(&mut io, "250 2.1.5 OK").await?;
            }
            "DATA" => {
                if state.recipients.is_empty() {
                    reply(&mut io, "503 5.5.1 RCPT first").await?;
                    continue;
                }
                reply(&mut io, "354 End data with <CR><LF>.<CR><LF>").await?;
                let Some(data) = read_data(&mut io).await? else {
                    return Ok(());
                };
                let message = SmtpMessage {
                    from: state.from.take().unwrap_or_default(),
                    recipients: std::mem::take(&mut state.recipients),
                    data,
                    tls: state.tls,
                    auth_user: state.auth.as_ref().map(|(u, _)| u.clone()),
                    auth_password: state.auth.as_ref().map(|(_, p)| p.clone()),
                };
                let n = {
                    let mut messages = shared.messages.lock().expect("messages");
                    messages.push(message);
                    messages.len()
                };
                shared.count.send_replace(n);
                reply(&mut io, "250 2.0.0 OK queued").await?;
            }
            "RSET" => {
                state.reset_transaction();
                reply(&mut io, "250 2.0.0 OK").await?;
            }
            "NOOP" => reply(&mut io, "250 2.0.0 OK").await?,
            "QUIT" => {
                reply(&mut io, "221 2.0.0 Bye").await?;
                let _ = io.get_mut().shutdown().await;
                return Ok(());
            }
            _ => reply(&mut io, "502 5.5.2 command not recognized").await?,
        }
    }
}

async fn reply(io: &mut BufReader<Box<dyn Io>>, text: &str) -> std::io::Result<()> {
    let stream = io.get_mut();
    stream.write_all(text.as_bytes()).await?;
    stream.write_all(b"\r\n").await?;
    stream.flush().await
}

/// One line without its CRLF; None at the end of the stream.
async fn read_line(io: &mut BufReader<Box<dyn Io>>) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = (&mut *io)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut buf)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if !buf.ends_with(b"\n") {
        return Err(std::io::Error::other("SMTP line too long or cut off"));
    }
    let line = String::from_utf8_lossy(&buf);
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

/// The message after DATA, up to the lone dot; None if the client went away.
async fn read_data(io: &mut BufReader<Box<dyn Io>>) -> std::io::Result<Option<String>> {
    let mut data = String::new();
    loop {
        let Some(line) = read_line(io).await? else {
            return Ok(None);
        };
        if line == "." {
            return Ok(Some(data));
        }
        data.push_str(line.strip_prefix('.').unwrap_or(&line));
        data.push_str("\r\n");
        if data.len() > MAX_DATA {
            return Err(std::io::Error::other("SMTP message too large"));
        }
    }
}

fn decode(text: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// AUTH PLAIN: `[authzid] NUL user NUL password`, as the initial response or after a 334.
async fn auth_plain(
    io: &mut BufReader<Box<dyn Io>>,
    initial: Option<String>,
) -> std::io::Result<Option<(String, String)>> {
    let response = match initial {
        Some(i) => i,
        None => {
            reply(io, "334 ").await?;
            read_line(io).await?.unwrap_or_default()
        }
    };
    let Some(decoded) = decode(&response) else {
        return Ok(None);
    };
    let mut parts = decoded.split('\0');
    let (Some(_authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(None);
    };
    Ok(Some((user.to_owned(), password.to_owned())))
}

/// AUTH LOGIN: the user (maybe as the initial response), then the password, each after a 334.
async fn auth_login(
    io: &mut BufReader<Box<dyn Io>>,
    initial: Option<String>,
) -> std::io::Result<Option<(String, String)>> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let user = match initial {
        Some(i) => i,
        None => {
            reply(io, &format!("334 {}", b64.encode("Username:"))).await?;
            read_line(io).await?.unwrap_or_default()
        }
    };
    reply(io, &format!("334 {}", b64.encode("Password:"))).await?;
    let password = read_line(io).await?.unwrap_or_default();
    Ok(decode(&user).zip(decode(&password)))
}

/// The address of `FROM:<a>` / `TO:<a>` (parameters after it ignored); the null path is "".
fn path_argument(arg: &str, keyword: &str) -> Option<String> {
    let rest = arg
        .get(..keyword.len())
        .filter(|k| k.eq_ignore_ascii_case(keyword))
        .map(|_| arg[keyword.len()..].trim_start())?;
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_owned())
}
