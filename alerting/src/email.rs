//! Email over SMTP: one plain-text message per [`send`], on a connection of its own (no pool:
//! alert mail is rare, and a pooled connection would outlive a change of settings).
//!
//! TLS is rustls with the ring provider (the process default provider when one is installed),
//! trusting the bundled webpki roots plus [`SmtpSettings::ca_pem`]. STARTTLS is required, never
//! opportunistic: a server that does not offer it gets neither credentials nor the message.
//! Credentials are only ever sent over TLS; with [`SmtpTls::None`] they are refused outright.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::Message;

/// At most this many recipients in one settings block.
const MAX_RECIPIENTS: usize = 50;

/// The AUTH mechanisms offered to the server, in order of preference.
const MECHANISMS: [Mechanism; 2] = [Mechanism::Plain, Mechanism::Login];

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (usually port 587); required, not opportunistic.
    Starttls,
    /// TLS from the first byte ("SMTPS", usually port 465).
    Tls,
    /// No encryption at all (a local relay); credentials are refused.
    None,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub from: String,
    pub to: Vec<String>,
    pub username: Option<String>,
    /// Extra trusted root certificate(s), PEM (for a private mail relay; tests use it).
    pub ca_pem: Option<String>,
    /// Connect + whole-send timeout.
    pub timeout: Duration,
}

pub struct EmailMessage {
    pub subject: String,
    pub text: String,
    /// stable id, becomes the Message-ID header `<{message_id}@pganalytics>` so a re-send is
    /// recognisable. Characters a Message-ID cannot hold are replaced by `_`.
    pub message_id: String,
}

/// Sends one message. `password` is the SMTP password opened just before sending (never stored
/// in SmtpSettings); it is used only when `settings.username` is set.
/// Errors are a readable one-line String (what failed: connect, TLS, auth, a recipient refused,
/// ...), never containing the password.
pub async fn send(
    settings: &SmtpSettings,
    password: Option<&str>,
    message: &EmailMessage,
) -> Result<(), String> {
    let result = send_inner(settings, password, message).await;
    result.map_err(|e| one_line(&scrub(e, settings.username.as_deref(), password)))
}

/// Checks settings a user typed (addresses parse, host non-empty, at least one recipient, at
/// most 50, port non-zero); Err is a message for the user.
///
/// Also refused: a username with [`SmtpTls::None`] (credentials need TLS), an empty username,
/// a `ca_pem` holding no PEM certificate, and a zero timeout.
pub fn validate(settings: &SmtpSettings) -> Result<(), String> {
    let host = settings.host.as_str();
    if host.trim().is_empty() {
        return Err("the SMTP host is empty".into());
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("the SMTP host {host:?} must not contain spaces"));
    }
    if host.contains('/') || host.contains('@') {
        return Err(format!(
            "the SMTP host {host:?} is not a host name: give the name alone, without scheme, user or path"
        ));
    }
    if host.contains(':') && host.parse::<std::net::Ipv6Addr>().is_err() {
        return Err(format!(
            "the SMTP host {host:?} is not a host name: the port goes in the port field"
        ));
    }
    if settings.port == 0 {
        return Err("the SMTP port must be between 1 and 65535".into());
    }
    parse_mailbox("sender", &settings.from)?;
    if settings.to.is_empty() {
        return Err("at least one recipient is needed".into());
    }
    if settings.to.len() > MAX_RECIPIENTS {
        return Err(format!(
            "at most {MAX_RECIPIENTS} recipients are allowed ({} given)",
            settings.to.len()
        ));
    }
    for to in &settings.to {
        parse_mailbox("recipient", to)?;
    }
    if let Some(user) = &settings.username {
        if user.trim().is_empty() {
            return Err(
                "the SMTP username is empty: leave it unset to send without authentication".into(),
            );
        }
        if user.chars().any(char::is_control) {
            return Err("the SMTP username must not contain control characters".into());
        }
        if settings.tls == SmtpTls::None {
            return Err(CREDENTIALS_NEED_TLS.into());
        }
    }
    if let Some(pem) = &settings.ca_pem {
        ca_certificate(pem)?;
    }
    if settings.timeout.is_zero() {
        return Err("the SMTP timeout must be more than zero".into());
    }
    Ok(())
}

const CREDENTIALS_NEED_TLS: &str =
    "SMTP credentials need TLS: choose starttls or tls, or remove the username";

fn parse_mailbox(what: &str, text: &str) -> Result<Mailbox, String> {
    text.trim()
        .parse::<Mailbox>()
        .map_err(|e| format!("the {what} address {text:?} is not valid: {e}"))
}

/// The extra root certificate(s), checked to hold at least one PEM certificate.
fn ca_certificate(pem: &str) -> Result<Certificate, String> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let count = CertificateDer::pem_slice_iter(pem.as_bytes())
        .try_fold(0usize, |n, cert| cert.map(|_| n + 1))
        .map_err(|e| format!("the CA certificate is not valid PEM: {e}"))?;
    if count == 0 {
        return Err(
            "the CA certificate holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        );
    }
    Certificate::from_pem(pem.as_bytes())
        .map_err(|e| format!("the CA certificate is not valid: {e}"))
}

async fn send_inner(
    settings: &SmtpSettings,
    password: Option<&str>,
    message: &EmailMessage,
) -> Result<(), String> {
    validate(settings)?;
    let credentials = credentials(settings, password)?;
    let email = build_message(settings, message)?;
    let tls = tls_parameters(settings)?;

    // What the exchange is doing, so that a timeout can say where it stopped.
    let mut doing = String::new();
    let exchange = deliver(settings, tls, credentials.as_ref(), &email, &mut doing);
    let outcome = tokio::time::timeout(settings.timeout, exchange).await;
    match outcome {
        Ok(result) => result,
        Err(_) => Err(format!(
            "timed out after {} while {doing}",
            human_duration(settings.timeout)
        )),
    }
}

fn credentials(
    settings: &SmtpSettings,
    password: Option<&str>,
) -> Result<Option<Credentials>, String> {
    let Some(user) = settings.username.as_deref() else {
        return Ok(None);
    };
    if settings.tls == SmtpTls::None {
        return Err(CREDENTIALS_NEED_TLS.into());
    }
    let Some(password) = password else {
        return Err(format!(
            "no SMTP password is available for the user {user:?}"
        ));
    };
    Ok(Some(Credentials::new(user.to_owned(), password.to_owned())))
}

fn build_message(settings: &SmtpSettings, message: &EmailMessage) -> Result<Message, String> {
    let message_id = sanitize_message_id(&message.message_id)?;
    let mut builder = Message::builder()
        .from(parse_mailbox("sender", &settings.from)?)
        .subject(one_line(&message.subject))
        .message_id(Some(format!("<{message_id}@pganalytics>")))
        .header(ContentType::TEXT_PLAIN);
    for to in &settings.to {
        builder = builder.to(parse_mailbox("recipient", to)?);
    }
    builder
        .body(message.text.clone())
        .map_err(|e| format!("could not build the email: {e}"))
}

/// Keeps what the left part of a Message-ID may hold (RFC 5322 dot-atom text), `_` for the rest.
fn sanitize_message_id(id: &str) -> Result<String, String> {
    const SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~.";
    let id = id.trim();
    if id.is_empty() {
        return Err("the email has no message id".into());
    }
    let clean: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || SPECIALS.contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    // A dot-atom neither starts nor ends with a dot, nor holds two in a row.
    let clean = clean
        .split('.')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(".");
    if clean.is_empty() {
        return Ok("_".into());
    }
    Ok(clean)
}

fn tls_parameters(settings: &SmtpSettings) -> Result<Option<TlsParameters>, String> {
    if settings.tls == SmtpTls::None {
        return Ok(None);
    }
    let mut builder = TlsParameters::builder(settings.host.clone());
    if let Some(pem) = &settings.ca_pem {
        builder = builder.add_root_certificate(ca_certificate(pem)?);
    }
    builder.build().map(Some).map_err(|e| {
        format!(
            "could not set up TLS for {}: {}",
            settings.host,
            describe(&e)
        )
    })
}

/// The SMTP exchange itself. `doing` says what it is at, for the timeout message.
async fn deliver(
    settings: &SmtpSettings,
    tls: Option<TlsParameters>,
    credentials: Option<&Credentials>,
    email: &Message,
    doing: &mut String,
) -> Result<(), String> {
    let server = format!("{}:{}", settings.host, settings.port);
    let hello = ClientId::default();
    let (wrapper, starttls) = match settings.tls {
        SmtpTls::Tls => (tls, None),
        SmtpTls::Starttls => (None, tls),
        SmtpTls::None => (None, None),
    };

    *doing = if wrapper.is_some() {
        format!("connecting to {server} over TLS")
    } else {
        format!("connecting to {server}")
    };
    let over_tls = if wrapper.is_some() { " over TLS" } else { "" };
    let mut conn = AsyncSmtpConnection::connect_tokio1(
        (settings.host.as_str(), settings.port),
        Some(settings.timeout),
        &hello,
        wrapper,
        None,
    )
    .await
    .map_err(|e| format!("could not connect to {server}{over_tls}: {}", describe(&e)))?;

    if let Some(tls) = starttls {
        if !conn.server_info().supports_feature(Extension::StartTls) {
            conn.abort().await;
            return Err(format!(
                "{server} does not offer STARTTLS; refusing to send without TLS \
                 (for a server that speaks TLS from the start choose tls, usually on port 465)"
            ));
        }
        *doing = format!("upgrading the connection to {server} with STARTTLS");
        if let Err(e) = conn.starttls(tls, &hello).await {
            // No QUIT here: a failed upgrade leaves lettre's stream unusable (writing to it
            // trips a debug assertion); dropping the connection closes the socket.
            return Err(format!("STARTTLS with {server} failed: {}", describe(&e)));
        }
    }

    let result = exchange(&mut conn, &server, credentials, email, doing).await;
    if result.is_ok() {
        *doing = format!("closing the connection to {server}");
    }
    // Sends QUIT (unless the connection broke) and closes; the message is already accepted.
    conn.abort().await;
    result
}

async fn exchange(
    conn: &mut AsyncSmtpConnection,
    server: &str,
    credentials: Option<&Credentials>,
    email: &Message,
    doing: &mut String,
) -> Result<(), String> {
    if let Some(credentials) = credentials {
        // Belt and braces: `credentials` refuses SmtpTls::None, STARTTLS is required above.
        if !conn.is_encrypted() {
            return Err(format!(
                "refusing to send credentials to {server} over an unencrypted connection"
            ));
        }
        if conn.server_info().get_auth_mechanism(&MECHANISMS).is_none() {
            return Err(format!(
                "{server} offers no supported authentication (AUTH PLAIN or LOGIN)"
            ));
        }
        *doing = format!("authenticating with {server}");
        conn.auth(&MECHANISMS, credentials)
            .await
            .map_err(|e| format!("authentication with {server} failed: {}", describe(&e)))?;
    }

    let envelope = email.envelope();
    let bytes = email.formatted();
    let mut mail_parameters = Vec::new();
    let non_ascii_address = envelope
        .from()
        .into_iter()
        .chain(envelope.to())
        .any(|a| !AsRef::<str>::as_ref(a).is_ascii());
    if non_ascii_address {
        if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
            return Err(format!(
                "{server} does not support SMTPUTF8, needed for a non-ASCII address"
            ));
        }
        mail_parameters.push(MailParameter::SmtpUtfEight);
    }
    if !bytes.is_ascii() {
        if !conn.server_info().supports_feature(Extension::EightBitMime) {
            return Err(format!(
                "{server} does not support 8BITMIME, needed for this message"
            ));
        }
        mail_parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }

    *doing = format!("sending MAIL FROM to {server}");
    let from = envelope.from().map(|a| a.to_string()).unwrap_or_default();
    conn.command(Mail::new(envelope.from().cloned(), mail_parameters))
        .await
        .map_err(|e| format!("{server} refused the sender {from}: {}", describe(&e)))?;
    for to in envelope.to() {
        *doing = format!("sending RCPT TO {to} to {server}");
        conn.command(Rcpt::new(to.clone(), Vec::new()))
            .await
            .map_err(|e| format!("{server} refused the recipient {to}: {}", describe(&e)))?;
    }
    *doing = format!("sending the message to {server}");
    conn.command(Data)
        .await
        .map_err(|e| format!("{server} refused DATA: {}", describe(&e)))?;
    conn.message(&bytes)
        .await
        .map_err(|e| format!("{server} refused the message: {}", describe(&e)))?;
    Ok(())
}

/// A lettre error with the causes its Display does not already show.
fn describe(error: &lettre::transport::smtp::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    // lettre nests some errors in one of their own kind ("Connection error: Connection error: …").
    let mut parts: Vec<&str> = text.split(": ").collect();
    parts.dedup();
    parts.join(": ")
}

/// Removes the password, and the AUTH encodings that would carry it, from an error message.
fn scrub(mut message: String, username: Option<&str>, password: Option<&str>) -> String {
    use base64::Engine as _;
    let Some(password) = password.filter(|p| !p.is_empty()) else {
        return message;
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut secrets = vec![password.to_owned(), b64.encode(password)];
    if let Some(user) = username {
        secrets.push(b64.encode(format!("\0{user}\0{password}")));
    }
    // The longest first, so that a shorter secret inside a longer one leaves no remnant.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in &secrets {
        if message.contains(secret.as_str()) {
            message = message.replace(secret.as_str(), "***");
        }
    }
    message
}

/// Folds line breaks and other control characters into spaces.
fn one_line(text: &str) -> String {
    let folded: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn human_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SmtpSettings {
        SmtpSettings {
            host: "smtp.example.com".into(),
            port: 587,
            tls: SmtpTls::Starttls,
            from: "pgAnalytics <alerts@example.com>".into(),
            to: vec![
                "dba@example.com".into(),
                "Ops Team <ops@example.com>".into(),
            ],
            username: Some("alerts".into()),
            ca_pem: None,
            timeout: Duration::from_secs(10),
        }
    }

    fn rejected(s: &SmtpSettings) -> String {
        match validate(s) {
            Ok(()) => panic!("accepted: {s:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn accepts_sound_settings() {
        assert_eq!(validate(&settings()), Ok(()));
        let plain = SmtpSettings {
            tls: SmtpTls::None,
            username: None,
            port: 25,
            host: "127.0.0.1".into(),
            ..settings()
        };
        assert_eq!(validate(&plain), Ok(()));
        let v6 = SmtpSettings {
            host: "::1".into(),
            ..settings()
        };
        assert_eq!(validate(&v6), Ok(()));
        let implicit = SmtpSettings {
            tls: SmtpTls::Tls,
            port: 465,
            ..settings()
        };
        assert_eq!(validate(&implicit), Ok(()));
    }

    #[test]
    fn host_must_be_a_bare_name() {
        for host in [
            "",
            "  ",
            "smtp example.com",
            "smtp://smtp.example.com",
            "smtp.example.com:587",
            "user@smtp.example.com",
        ] {
            let e = rejected(&SmtpSettings {
                host: host.into(),
                ..settings()
            });
            assert!(e.contains("host"), "{host:?}: {e}");
        }
    }

    #[test]
    fn port_must_not_be_zero() {
        let e = rejected(&SmtpSettings {
            port: 0,
            ..settings()
        });
        assert!(e.contains("port"), "{e}");
    }

    #[test]
    fn addresses_must_parse() {
        let e = rejected(&SmtpSettings {
            from: "not an address".into(),
            ..settings()
        });
        assert!(e.contains("sender") && e.contains("not an address"), "{e}");
        let e = rejected(&SmtpSettings {
            from: String::new(),
            ..settings()
        });
        assert!(e.contains("sender"), "{e}");
        let e = rejected(&SmtpSettings {
            to: vec!["dba@example.com".into(), "dba@".into()],
            ..settings()
        });
        assert!(e.contains("recipient") && e.contains("dba@"), "{e}");
        let e = rejected(&SmtpSettings {
            to: vec!["a@example.com, b@example.com".into()],
            ..settings()
        });
        assert!(e.contains("recipient"), "{e}");
    }

    #[test]
    fn recipients_between_one_and_fifty() {
        let e = rejected(&SmtpSettings {
            to: Vec::new(),
            ..settings()
        });
        assert!(e.contains("at least one recipient"), "{e}");
        let fifty: Vec<String> = (0..50).map(|i| format!("dba{i}@example.com")).collect();
        assert_eq!(
            validate(&SmtpSettings {
                to: fifty.clone(),
                ..settings()
            }),
            Ok(())
        );
        let mut fifty_one = fifty;
        fifty_one.push("one-more@example.com".into());
        let e = rejected(&SmtpSettings {
            to: fifty_one,
            ..settings()
        });
        assert!(e.contains("50") && e.contains("51"), "{e}");
    }

    #[test]
    fn credentials_need_tls() {
        let e = rejected(&SmtpSettings {
            tls: SmtpTls::None,
            ..settings()
        });
        assert!(e.contains("credentials need TLS"), "{e}");
        let e = rejected(&SmtpSettings {
            username: Some(" ".into()),
            ..settings()
        });
        assert!(e.contains("username"), "{e}");
    }

    #[test]
    fn ca_pem_must_hold_a_certificate() {
        let e = rejected(&SmtpSettings {
            ca_pem: Some("not a certificate".into()),
            ..settings()
        });
        assert!(e.contains("CA certificate"), "{e}");
        let e = rejected(&SmtpSettings {
            ca_pem: Some("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n".into()),
            ..settings()
        });
        assert!(e.contains("CA certificate"), "{e}");
    }

    #[test]
    fn timeout_must_not_be_zero() {
        let e = rejected(&SmtpSettings {
            timeout: Duration::ZERO,
            ..settings()
        });
        assert!(e.contains("timeout"), "{e}");
    }

    #[tokio::test]
    async fn send_refuses_credentials_without_tls_before_connecting() {
        // Port 9 on a name that never resolves: a connection attempt would fail differently.
        let s = SmtpSettings {
            tls: SmtpTls::None,
            host: "smtp.invalid".into(),
            port: 9,
            ..settings()
        };
        let message = EmailMessage {
            subject: "s".into(),
            text: "t".into(),
            message_id: "m".into(),
        };
        let e = send(&s, Some("secret"), &message)
            .await
            .err()
            .unwrap_or_default();
        assert!(e.contains("credentials need TLS"), "{e}");
    }

    #[test]
    fn message_ids_are_kept_when_clean_and_mended_otherwise() {
        assert_eq!(
            sanitize_message_id("alert-42.firing").as_deref(),
            Ok("alert-42.firing")
        );
        assert_eq!(sanitize_message_id("a b<c>@d").as_deref(), Ok("a_b_c__d"));
        assert_eq!(sanitize_message_id("..a..b.").as_deref(), Ok("a.b"));
        assert!(sanitize_message_id("  ").is_err());
    }

    #[test]
    fn built_message_carries_subject_and_message_id() {
        let message = EmailMessage {
            subject: "[FIRING] replication lag\r\nBcc: evil@example.com".into(),
            text: "lag is 42 s".into(),
            message_id: "0190-abc".into(),
        };
        let built = build_message(&settings(), &message).map(|m| m.formatted());
        let text = String::from_utf8(built.unwrap_or_default()).unwrap_or_default();
        assert!(
            text.contains("Message-ID: <0190-abc@pganalytics>\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Subject: [FIRING] replication lag Bcc: evil@example.com\r\n"),
            "{text}"
        );
        assert!(!text.contains("\r\nBcc:"), "{text}");
    }

    #[test]
    fn scrub_removes_the_password_and_its_encodings() {
        let e = scrub(
            "535 bad AUTH PLAIN AGFsZXJ0cwBodW50ZXIy for hunter2 aHVudGVyMg==".into(),
            Some("alerts"),
            Some("hunter2"),
        );
        assert!(
            !e.contains("hunter2")
                && !e.contains("aHVudGVyMg")
                && !e.contains("AGFsZXJ0cwBodW50ZXIy"),
            "{e}"
        );
    }
}
