//! The email channel's SMTP client ([`alerting::email::send`]) against the local [`SmtpSink`]:
//! STARTTLS is required, credentials travel only over TLS, errors say what failed. Needs neither
//! PostgreSQL nor NATS.

use std::time::Duration;

use ::alerting::email::{self, EmailMessage, SmtpSettings, SmtpTls};

use crate::support::SmtpSink;

const PASSWORD: &str = "correct horse battery staple";

fn settings(sink: &SmtpSink) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port: sink.port(),
        tls: SmtpTls::Starttls,
        from: "pgAnalytics <alerts@pganalytics.test>".into(),
        to: vec![
            "dba@pganalytics.test".into(),
            "Ops <ops@pganalytics.test>".into(),
        ],
        username: Some("alert-sender".into()),
        ca_pem: Some(sink.ca_pem()),
        timeout: Duration::from_secs(10),
    }
}

fn message(id: &str) -> EmailMessage {
    EmailMessage {
        subject: "[FIRING] replication lag on db-1".into(),
        text: "Replication lag is 42 s (threshold 30 s).\nSee the dashboard.".into(),
        message_id: id.into(),
    }
}

#[tokio::test]
async fn starttls_with_credentials_delivers_over_tls() {
    let sink = SmtpSink::start().await;
    email::send(&settings(&sink), Some(PASSWORD), &message("alert-7.firing"))
        .await
        .expect("send");

    let messages = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert!(m.tls, "the message came over plain text");
    assert_eq!(m.auth_user.as_deref(), Some("alert-sender"));
    assert_eq!(m.auth_password.as_deref(), Some(PASSWORD));
    assert_eq!(m.from, "alerts@pganalytics.test");
    assert_eq!(
        m.recipients,
        ["dba@pganalytics.test", "ops@pganalytics.test"]
    );
    assert_eq!(
        m.header("Subject").as_deref(),
        Some("[FIRING] replication lag on db-1")
    );
    assert_eq!(
        m.header("Message-ID").as_deref(),
        Some("<alert-7.firing@pganalytics>")
    );
    assert!(m.body().contains("Replication lag is 42 s"), "{}", m.data);

    // Every login arrived under TLS.
    let auths = sink.auths();
    assert!(!auths.is_empty());
    assert!(auths.iter().all(|a| a.tls), "{auths:?}");
}

#[tokio::test]
async fn a_server_without_starttls_gets_nothing() {
    let sink = SmtpSink::without_starttls().start().await;
    let err = email::send(&settings(&sink), Some(PASSWORD), &message("alert-8.firing"))
        .await
        .expect_err("sent without STARTTLS");
    println!("without STARTTLS: {err}");
    assert!(err.contains("STARTTLS"), "{err}");
    assert!(!err.contains(PASSWORD), "{err}");

    // Give a stray message time to land before saying there is none.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(sink.messages().is_empty(), "{:?}", sink.messages());
    assert!(
        sink.auths().is_empty(),
        "credentials sent in the clear: {:?}",
        sink.auths()
    );
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let sink = SmtpSink::start().await;
    let other = SmtpSink::start().await;
    let settings = SmtpSettings {
        ca_pem: Some(other.ca_pem()),
        ..settings(&sink)
    };
    let err = email::send(&settings, Some(PASSWORD), &message("alert-9.firing"))
        .await
        .expect_err("trusted a certificate it should not");
    println!("untrusted certificate: {err}");
    assert!(err.contains("STARTTLS"), "{err}");
    assert!(sink.messages().is_empty());
    assert!(sink.auths().is_empty(), "{:?}", sink.auths());
}

#[tokio::test]
async fn a_refused_login_and_a_refused_recipient_are_named() {
    let sink = SmtpSink::builder()
        .password(PASSWORD)
        .reject_recipient("ops@pganalytics.test")
        .start()
        .await;

    let err = email::send(&settings(&sink), Some("wrong password"), &message("a"))
        .await
        .expect_err("wrong password accepted");
    println!("wrong password: {err}");
    assert!(err.contains("authentication"), "{err}");
    assert!(!err.contains("wrong password"), "{err}");

    let err = email::send(&settings(&sink), Some(PASSWORD), &message("b"))
        .await
        .expect_err("refused recipient accepted");
    println!("refused recipient: {err}");
    assert!(err.contains("ops@pganalytics.test"), "{err}");
    assert!(sink.messages().is_empty(), "{:?}", sink.messages());
}

#[tokio::test]
async fn implicit_tls_and_plain_without_credentials() {
    // The sink speaks STARTTLS, not implicit TLS: a TLS handshake on connect fails and says so.
    let sink = SmtpSink::start().await;
    let err = email::send(
        &SmtpSettings {
            tls: SmtpTls::Tls,
            timeout: Duration::from_secs(3),
            ..settings(&sink)
        },
        Some(PASSWORD),
        &message("c"),
    )
    .await
    .expect_err("implicit TLS against a plain server");
    println!("implicit TLS against a plain server: {err}");
    assert!(err.contains("TLS"), "{err}");

    // Plain with credentials is refused before connecting.
    let plain = SmtpSettings {
        tls: SmtpTls::None,
        ..settings(&sink)
    };
    let err = email::send(&plain, Some(PASSWORD), &message("d"))
        .await
        .expect_err("credentials over plain text");
    assert!(err.contains("credentials need TLS"), "{err}");
    assert!(sink.auths().is_empty());

    // Plain without credentials goes through (a local relay).
    let anonymous = SmtpSettings {
        username: None,
        ..plain
    };
    email::send(&anonymous, None, &message("e"))
        .await
        .expect("plain send");
    let messages = sink.wait_for(1, Duration::from_secs(10)).await;
    assert!(!messages[0].tls);
    assert_eq!(messages[0].auth_user, None);
}
