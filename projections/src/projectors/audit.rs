use async_trait::async_trait;
use domain::alerting::{self, AlertEvent, AlertRuleEvent, ChannelEvent, SilenceEvent};
use domain::collector::CollectorEvent;
use domain::managed_instance::{ManagedInstanceEvent, TestTrigger};
use domain::registration_secret::RegistrationSecretEvent;
use domain::user::UserEvent;
use domain::{AggregateKind, StoredEvent};
use tokio_postgres::Transaction;

use super::{decode, EventProjector};
use crate::runtime::ApplyError;

/// `rm_audit_log`: one readable row per domain event, with who did it.
pub struct AuditLog;

#[async_trait]
impl EventProjector for AuditLog {
    const NAME: &'static str = "audit_log";
    const TABLES: &'static [&'static str] = &["rm_audit_log"];
    const NOTIFY: bool = false;

    async fn apply_event(
        &self,
        tx: &Transaction<'_>,
        event: &StoredEvent,
    ) -> Result<(), ApplyError> {
        let summary = summarize(event)?;
        tx.execute(
            "INSERT INTO rm_audit_log
                (aggregate_type, aggregate_id, sequence, event_type, summary,
                 actor_kind, actor_id, actor_name, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT DO NOTHING",
            &[
                &event.aggregate_type,
                &event.aggregate_id,
                &event.sequence,
                &event.event_type,
                &summary,
                &event.meta("actor_kind"),
                &event.meta("actor_id"),
                &event.meta("actor_name"),
                &event.recorded_at,
            ],
        )
        .await?;
        Ok(())
    }
}

/// A sentence a person reads in the audit page. Never includes a hash or a ciphertext.
// Over 60 lines on purpose: one arm per event kind, each with its readable summary.
fn summarize(event: &StoredEvent) -> Result<String, ApplyError> {
    let kind = event.kind().ok_or_else(|| {
        ApplyError::Reject(format!("unknown aggregate type {:?}", event.aggregate_type))
    })?;
    Ok(match kind {
        AggregateKind::User => match decode::<UserEvent>(event)? {
            UserEvent::UserCreated { username, role, .. } => {
                format!(
                    "created user {} with role {}",
                    username.as_str(),
                    role.as_str()
                )
            }
            UserEvent::PasswordChanged { reset: true, .. } => "reset the password".to_owned(),
            UserEvent::PasswordChanged { reset: false, .. } => "changed their password".to_owned(),
            UserEvent::RoleChanged { from, to, .. } => {
                format!("changed role from {} to {}", from.as_str(), to.as_str())
            }
            UserEvent::UserDeactivated { .. } => "deactivated the user".to_owned(),
            UserEvent::UserReactivated { .. } => "reactivated the user".to_owned(),
            UserEvent::UserLoggedIn { .. } => "logged in".to_owned(),
            UserEvent::UserDeleted { username, .. } => {
                format!("deleted user {}", username.as_str())
            }
        },
        AggregateKind::ManagedInstance => match decode::<ManagedInstanceEvent>(event)? {
            ManagedInstanceEvent::InstanceRegistered {
                name, connection, ..
            } => format!(
                "registered instance {name} ({}:{}/{})",
                connection.host, connection.port, connection.database
            ),
            ManagedInstanceEvent::InstanceUpdated {
                name, connection, ..
            } => format!(
                "updated instance {name} ({}:{}/{}, sslmode {})",
                connection.host,
                connection.port,
                connection.database,
                connection.sslmode.as_str()
            ),
            ManagedInstanceEvent::CredentialsRotated {
                credential,
                key_rotation,
                ..
            } => match (credential, key_rotation) {
                (_, true) => "re-sealed the stored password under the current key".to_owned(),
                (Some(_), false) => "replaced the stored password".to_owned(),
                (None, false) => "removed the stored password".to_owned(),
            },
            ManagedInstanceEvent::ConnectionTested {
                status,
                trigger,
                error,
                ..
            } => {
                let by = match trigger {
                    TestTrigger::Manual => "connection test",
                    TestTrigger::Background => "background check",
                };
                match error {
                    Some(e) => format!("{by}: {} ({e})", status.as_str()),
                    None => format!("{by}: {}", status.as_str()),
                }
            }
            ManagedInstanceEvent::InstanceRemoved { name, .. } => {
                format!("removed instance {name}")
            }
        },
        AggregateKind::Collector => match decode::<CollectorEvent>(event)? {
            CollectorEvent::CollectorRegistered { name, hostname, .. } => {
                format!("collector {name} registered from {hostname}")
            }
            CollectorEvent::CollectorDeleted { name, .. } => format!("deleted collector {name}"),
            CollectorEvent::CollectorInstancesBound { instance_ids, .. } => {
                bound_summary("bound the collector to", &instance_ids)
            }
        },
        AggregateKind::RegistrationSecret => match decode::<RegistrationSecretEvent>(event)? {
            RegistrationSecretEvent::RegistrationSecretCreated { name, prefix, .. } => {
                format!("created registration secret {name} ({prefix}…)")
            }
            RegistrationSecretEvent::RegistrationSecretRenamed { from, to, .. } => {
                format!("renamed registration secret {from} to {to}")
            }
            RegistrationSecretEvent::RegistrationSecretDeactivated { .. } => {
                "deactivated the registration secret".to_owned()
            }
            RegistrationSecretEvent::RegistrationSecretReactivated { .. } => {
                "reactivated the registration secret".to_owned()
            }
            RegistrationSecretEvent::RegistrationSecretUsed { collector_id, .. } => {
                format!("collector {collector_id} registered with it")
            }
            RegistrationSecretEvent::RegistrationSecretDeleted { name, .. } => {
                format!("deleted registration secret {name}")
            }
            RegistrationSecretEvent::RegistrationSecretInstancesSet { instance_ids, .. } => {
                bound_summary("collectors registered with it are bound to", &instance_ids)
            }
        },
        AggregateKind::AlertRule => match decode::<AlertRuleEvent>(event)? {
            AlertRuleEvent::AlertRuleCreated { spec, builtin, .. } => match builtin {
                Some(key) => format!("created built-in alert rule {} ({key})", spec.name),
                None => format!(
                    "created alert rule {}: {}",
                    spec.name,
                    alerting::describe(&spec.condition)
                ),
            },
            AlertRuleEvent::AlertRuleUpdated { spec, version, .. } => format!(
                "changed alert rule {} (version {version}): {}",
                spec.name,
                alerting::describe(&spec.condition)
            ),
            AlertRuleEvent::AlertRuleEnabled { .. } => "enabled the alert rule".to_owned(),
            AlertRuleEvent::AlertRuleDisabled { .. } => "disabled the alert rule".to_owned(),
            AlertRuleEvent::AlertRuleDeleted { name, .. } => format!("deleted alert rule {name}"),
        },
        AggregateKind::Alert => match decode::<AlertEvent>(event)? {
            AlertEvent::AlertPending { seen } => {
                format!("{} pending ({})", seen.rule_name, labels_text(&seen.labels))
            }
            AlertEvent::AlertFiring { seen, summary, .. } => {
                format!("{} firing: {summary}", seen.rule_name)
            }
            AlertEvent::AlertCleared { .. } => "pending alert cleared before firing".to_owned(),
            AlertEvent::AlertResolved { reason, .. } => format!("alert resolved: {reason}"),
            AlertEvent::AlertUnsilenced { .. } => {
                "its silence ended while it fires: notified".to_owned()
            }
            AlertEvent::AlertAcknowledged { comment, .. } => match comment {
                Some(c) => format!("acknowledged the alert: {c}"),
                None => "acknowledged the alert".to_owned(),
            },
        },
        AggregateKind::Silence => match decode::<SilenceEvent>(event)? {
            SilenceEvent::SilenceCreated {
                matchers, ends_at, ..
            } => {
                let m: Vec<String> = matchers
                    .iter()
                    .map(|m| {
                        format!(
                            "{}{}{:?}",
                            m.name,
                            if m.op == alerting::MatchOp::Eq {
                                "="
                            } else {
                                "!="
                            },
                            m.value
                        )
                    })
                    .collect();
                format!("silenced {} until {}", m.join(", "), ends_at.to_rfc3339())
            }
            SilenceEvent::SilenceExpired { .. } => "expired the silence".to_owned(),
        },
        AggregateKind::NotificationChannel => match decode::<ChannelEvent>(event)? {
            ChannelEvent::NotificationChannelCreated { spec, .. } => {
                format!("created notification channel {}", spec.name)
            }
            ChannelEvent::NotificationChannelUpdated { spec, .. } => {
                format!("changed notification channel {}", spec.name)
            }
            ChannelEvent::NotificationChannelDeleted { name, .. } => {
                format!("deleted notification channel {name}")
            }
        },
    })
}

fn labels_text(labels: &std::collections::BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn bound_summary(what: &str, ids: &[String]) -> String {
    if ids.is_empty() {
        return format!("{what} no instance");
    }
    format!("{what} instance(s) {}", ids.join(", "))
}
