//! The NotificationChannel aggregate: where notifications go (Alertmanager, a webhook, email).
//! Its secret (a webhook's HMAC key, an SMTP password) reaches an event only sealed.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::Severity;
use crate::envelope::AggregateKind;
use crate::managed_instance::SealedCredential;

/// The associated data a channel's secret is sealed under: it opens for this channel only.
pub fn secret_binding(channel_id: &str) -> Vec<u8> {
    format!("notification_channel:{channel_id}").into_bytes()
}

/// How an email channel secures its SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTls {
    /// Plain connection upgraded with STARTTLS, which the server must offer.
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS (a relay on the same host); no credentials then.
    None,
}

/// Where a channel delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChannelTarget {
    /// Prometheus Alertmanager, API v2.
    Alertmanager {
        /// Base URL (`http://alertmanager:9093`).
        url: String,
    },
    /// A JSON POST signed with HMAC-SHA256.
    Webhook {
        /// Where to.
        url: String,
    },
    /// Email over SMTP.
    Email {
        /// SMTP host.
        host: String,
        /// SMTP port.
        port: u16,
        /// Connection security.
        tls: MailTls,
        /// Sender.
        from: String,
        /// Recipients.
        to: Vec<String>,
        /// SMTP user.
        username: Option<String>,
        /// Extra trusted root certificate(s), PEM, for a relay with a private CA.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ca_pem: Option<String>,
    },
}

/// A channel as an admin writes it (its secret travels apart, sealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSpec {
    /// Display name.
    pub name: String,
    /// Alerts of this severity and above go out.
    pub min_severity: Severity,
    /// Disabled channels send nothing.
    pub enabled: bool,
    /// Where.
    #[serde(flatten)]
    pub target: ChannelTarget,
}

impl ChannelSpec {
    /// Checks the bounds and the URL's scheme.
    ///
    /// # Errors
    /// A message naming the field.
    pub fn check(&self) -> Result<(), String> {
        let name = self.name.trim();
        if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
            return Err("name: 1 to 100 bytes, no control characters".into());
        }
        match &self.target {
            ChannelTarget::Alertmanager { url } | ChannelTarget::Webhook { url } => {
                check_url(url)?;
            }
            ChannelTarget::Email {
                host,
                from,
                to,
                username,
                ca_pem,
                ..
            } => {
                if host.trim().is_empty()
                    || host.len() > 253
                    || host.chars().any(|c| c.is_control() || c == ' ')
                {
                    return Err("host: a host name or address of 1 to 253 bytes".into());
                }
                if from.len() > 320 || to.is_empty() || to.len() > 50 {
                    return Err("to: 1 to 50 recipients".into());
                }
                if to
                    .iter()
                    .chain([from])
                    .any(|a| !a.contains('@') || a.len() > 320 || a.chars().any(char::is_control))
                {
                    return Err("from, to: email addresses".into());
                }
                if username.as_ref().is_some_and(|u| {
                    u.is_empty() || u.len() > 320 || u.chars().any(char::is_control)
                }) {
                    return Err("username: 1 to 320 bytes, no control characters".into());
                }
                if ca_pem.as_ref().is_some_and(|p| {
                    p.len() > 16 * 1024 || !p.contains("-----BEGIN CERTIFICATE-----")
                }) {
                    return Err("ca_pem: PEM certificate(s), at most 16 KiB".into());
                }
            }
        }
        Ok(())
    }
}

fn check_url(url: &str) -> Result<(), String> {
    // `user:password@` would be stored in plain text in events, read models and answers: a
    // webhook's secret goes in `secret`, where it is sealed.
    let authority = url.split_once("://").map_or("", |(_, rest)| {
        rest.split(['/', '?', '#']).next().unwrap_or_default()
    });
    if authority.contains('@') {
        return Err(
            "url: credentials in the URL would be stored in plain text; put a webhook's key in `secret`"
                .into(),
        );
    }
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_control() || c == ' ');
    if ok {
        Ok(())
    } else {
        Err("url: an http:// or https:// URL of at most 2048 bytes".into())
    }
}

/// A change to a channel's secret.
#[derive(Debug, Clone)]
pub enum SecretChange {
    /// Keep the sealed one.
    Keep,
    /// Replace it (or remove it with `None`).
    Replace(Option<SealedCredential>),
}

/// What can be asked of a NotificationChannel.
#[derive(Debug, Clone)]
pub enum ChannelCommand {
    /// Create it.
    Create {
        /// Checked spec.
        spec: ChannelSpec,
        /// Sealed secret, bound to the channel id.
        secret: Option<SealedCredential>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Replace its spec and maybe its secret.
    Update {
        /// Checked spec.
        spec: ChannelSpec,
        /// The secret.
        secret: SecretChange,
        /// When.
        at: DateTime<Utc>,
    },
    /// Delete it.
    Delete {
        /// When.
        at: DateTime<Utc>,
    },
}

/// What happened to a NotificationChannel. Names are frozen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ChannelEvent {
    /// Created.
    NotificationChannelCreated {
        /// Spec.
        spec: ChannelSpec,
        /// Sealed secret.
        secret: Option<SealedCredential>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Changed.
    NotificationChannelUpdated {
        /// Spec.
        spec: ChannelSpec,
        /// The sealed secret from now on.
        secret: Option<SealedCredential>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Deleted.
    NotificationChannelDeleted {
        /// Name, for the audit log.
        name: String,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for ChannelEvent {
    fn event_type(&self) -> String {
        match self {
            Self::NotificationChannelCreated { .. } => "NotificationChannelCreated",
            Self::NotificationChannelUpdated { .. } => "NotificationChannelUpdated",
            Self::NotificationChannelDeleted { .. } => "NotificationChannelDeleted",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a channel command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// Create twice.
    #[error("notification channel already exists")]
    AlreadyExists,
    /// Anything but create on nothing.
    #[error("notification channel not found")]
    NotFound,
    /// Anything on a deleted channel.
    #[error("notification channel has been deleted")]
    Deleted,
    /// A bad spec.
    #[error("{0}")]
    Invalid(String),
}

/// A channel's state.
#[derive(Debug, Default, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)] // one per command, loaded and dropped
pub enum NotificationChannel {
    /// Not created.
    #[default]
    New,
    /// Live.
    Live {
        /// Spec.
        spec: ChannelSpec,
        /// Sealed secret.
        secret: Option<SealedCredential>,
    },
    /// Deleted.
    Removed,
}

impl Aggregate for NotificationChannel {
    const TYPE: &'static str = AggregateKind::NotificationChannel.type_name();
    type Command = ChannelCommand;
    type Event = ChannelEvent;
    type Error = ChannelError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match (&*self, command) {
            (Self::Removed, _) => return Err(ChannelError::Deleted),
            (Self::New, ChannelCommand::Create { spec, secret, at }) => {
                spec.check().map_err(ChannelError::Invalid)?;
                ChannelEvent::NotificationChannelCreated { spec, secret, at }
            }
            (Self::New, _) => return Err(ChannelError::NotFound),
            (Self::Live { .. }, ChannelCommand::Create { .. }) => {
                return Err(ChannelError::AlreadyExists)
            }
            (Self::Live { secret: old, .. }, ChannelCommand::Update { spec, secret, at }) => {
                spec.check().map_err(ChannelError::Invalid)?;
                let secret = match secret {
                    SecretChange::Keep => old.clone(),
                    SecretChange::Replace(s) => s,
                };
                ChannelEvent::NotificationChannelUpdated { spec, secret, at }
            }
            (Self::Live { spec, .. }, ChannelCommand::Delete { at }) => {
                ChannelEvent::NotificationChannelDeleted {
                    name: spec.name.clone(),
                    at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        *self = match event {
            ChannelEvent::NotificationChannelCreated { spec, secret, .. }
            | ChannelEvent::NotificationChannelUpdated { spec, secret, .. } => {
                Self::Live { spec, secret }
            }
            ChannelEvent::NotificationChannelDeleted { .. } => Self::Removed,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(username: Option<String>, ca_pem: Option<String>) -> ChannelSpec {
        ChannelSpec {
            name: "mail".into(),
            min_severity: Severity::Warning,
            enabled: true,
            target: ChannelTarget::Email {
                host: "smtp.example.org".into(),
                port: 587,
                tls: MailTls::Starttls,
                from: "pga@example.org".into(),
                to: vec!["dba@example.org".into()],
                username,
                ca_pem,
            },
        }
    }

    #[test]
    fn what_an_email_channel_may_carry_is_bounded() {
        assert_eq!(email(Some("pga".into()), None).check(), Ok(()));
        // An unbounded username once could make an event larger than NATS carries.
        let long = email(Some("u".repeat(2 * 1024 * 1024)), None).check();
        assert!(long.is_err_and(|e| e.starts_with("username")));
        assert!(email(Some(String::new()), None).check().is_err());
        assert!(email(None, Some("not a certificate".into()))
            .check()
            .is_err());
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert_eq!(email(None, Some(pem.into())).check(), Ok(()));
    }

    #[test]
    fn only_web_urls_are_destinations() {
        let hook = |url: &str| ChannelSpec {
            name: "hook".into(),
            min_severity: Severity::Info,
            enabled: true,
            target: ChannelTarget::Webhook { url: url.into() },
        };
        assert_eq!(hook("https://hooks.example.org/x").check(), Ok(()));
        assert!(hook("file:///etc/passwd").check().is_err());
        assert!(hook("http://a b").check().is_err());
        assert!(hook("https://user:pw@hooks.example.org/x")
            .check()
            .is_err_and(|e| e.contains("plain text")));
        assert_eq!(hook("https://hooks.example.org/x?to=a@b").check(), Ok(()));
    }
}
