use async_trait::async_trait;
use domain::alerting::{
    AlertEvent, AlertRuleEvent, ChannelEvent, ChannelTarget, Seen, SilenceEvent,
};
use domain::{AggregateKind, StoredEvent};
use serde_json::json;
use tokio_postgres::Transaction;

use super::{decode, uuid_of, EventProjector, HistorySpec};
use crate::runtime::ApplyError;

/// Rules, alerts and their history, silences and channels; and, once per firing or resolving
/// transition and channel, a row of the notification outbox (not one of its tables: a replay
/// keeps the outbox, and its unique key makes the replayed transitions add nothing).
pub struct Alerting;

#[async_trait]
impl EventProjector for Alerting {
    const NAME: &'static str = "alerting";
    const TABLES: &'static [&'static str] = &[
        "rm_alert_rules",
        "rm_alerts",
        "rm_alert_history",
        "rm_silences",
        "rm_notification_channels",
        "rm_alert_rule_history",
    ];
    const HISTORY: Option<HistorySpec> = Some(HistorySpec {
        kind: AggregateKind::AlertRule,
        table: "rm_alert_rule_history",
        state:
            "SELECT to_jsonb(x) FROM (SELECT id, name, builtin, enabled, version, severity, spec,
                created_at, updated_at FROM rm_alert_rules WHERE id = $1) x",
    });

    async fn apply_event(
        &self,
        tx: &Transaction<'_>,
        event: &StoredEvent,
    ) -> Result<(), ApplyError> {
        match event.kind() {
            Some(AggregateKind::AlertRule) => rule(tx, event).await,
            Some(AggregateKind::Alert) => alert(tx, event).await,
            Some(AggregateKind::Silence) => silence(tx, event).await,
            Some(AggregateKind::NotificationChannel) => channel(tx, event).await,
            _ => Ok(()),
        }
    }
}

fn spec_json<T: serde::Serialize>(spec: &T) -> Result<serde_json::Value, ApplyError> {
    serde_json::to_value(spec).map_err(|e| ApplyError::Reject(format!("spec: {e}")))
}

async fn rule(tx: &Transaction<'_>, event: &StoredEvent) -> Result<(), ApplyError> {
    let id = uuid_of(event)?;
    let (seq, at) = (&event.sequence, &event.recorded_at);
    match decode::<AlertRuleEvent>(event)? {
        AlertRuleEvent::AlertRuleCreated {
            spec,
            builtin,
            enabled,
            at,
        } => {
            tx.execute(
                "INSERT INTO rm_alert_rules
                    (id, name, builtin, enabled, version, severity, spec, created_at, updated_at, last_sequence)
                 VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $7, $8)",
                &[&id, &spec.name, &builtin, &enabled, &spec.severity.as_str(), &spec_json(&spec)?, &at, seq],
            )
            .await?;
        }
        AlertRuleEvent::AlertRuleUpdated { spec, version, at } => {
            let version = i32::try_from(version).unwrap_or(i32::MAX);
            tx.execute(
                "UPDATE rm_alert_rules SET name = $2, severity = $3, spec = $4, version = $5,
                        updated_at = $6, last_sequence = $7 WHERE id = $1",
                &[
                    &id,
                    &spec.name,
                    &spec.severity.as_str(),
                    &spec_json(&spec)?,
                    &version,
                    &at,
                    seq,
                ],
            )
            .await?;
        }
        e
        @ (AlertRuleEvent::AlertRuleEnabled { .. } | AlertRuleEvent::AlertRuleDisabled { .. }) => {
            let enabled = matches!(e, AlertRuleEvent::AlertRuleEnabled { .. });
            tx.execute(
                "UPDATE rm_alert_rules SET enabled = $2, updated_at = $3, last_sequence = $4 WHERE id = $1",
                &[&id, &enabled, at, seq],
            )
            .await?;
        }
        AlertRuleEvent::AlertRuleDeleted { .. } => {
            tx.execute("DELETE FROM rm_alert_rules WHERE id = $1", &[&id])
                .await?;
        }
    }
    Ok(())
}

async fn history(
    tx: &Transaction<'_>,
    event: &StoredEvent,
    kind: &str,
    value: Option<f64>,
    rule_version: Option<u32>,
    at: &chrono::DateTime<chrono::Utc>,
    detail: Option<&str>,
) -> Result<(), ApplyError> {
    let id = uuid_of(event)?;
    let version = rule_version.map(|v| i32::try_from(v).unwrap_or(i32::MAX));
    tx.execute(
        "INSERT INTO rm_alert_history (alert_id, sequence, event, value, rule_version, at, actor, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        &[&id, &event.sequence, &kind, &value, &version, at, &event.meta("actor_name"), &detail],
    )
    .await?;
    Ok(())
}

// Over 60 lines on purpose: one arm per alert event, each with its row, history and outbox.
async fn alert(tx: &Transaction<'_>, event: &StoredEvent) -> Result<(), ApplyError> {
    let id = uuid_of(event)?;
    let seq = &event.sequence;
    match decode::<AlertEvent>(event)? {
        AlertEvent::AlertPending { seen } => {
            upsert_seen(tx, id, &seen, "pending", "", None, seq).await?;
            history(
                tx,
                event,
                "pending",
                seen.value,
                Some(seen.rule_version),
                &seen.at,
                None,
            )
            .await?;
        }
        AlertEvent::AlertFiring {
            seen,
            summary,
            silenced_by,
        } => {
            upsert_seen(
                tx,
                id,
                &seen,
                "firing",
                &summary,
                silenced_by.as_deref(),
                seq,
            )
            .await?;
            let detail = silenced_by.as_ref().map(|s| format!("silenced by {s}"));
            history(
                tx,
                event,
                "firing",
                seen.value,
                Some(seen.rule_version),
                &seen.at,
                detail.as_deref(),
            )
            .await?;
            if silenced_by.is_none() {
                enqueue(tx, event, id, "firing").await?;
            }
        }
        AlertEvent::AlertCleared { value, at } => {
            tx.execute(
                "UPDATE rm_alerts SET state = 'resolved', value = $2, since = $3, resolved_at = $3,
                        last_sequence = $4 WHERE id = $1",
                &[&id, &value, &at, seq],
            )
            .await?;
            history(tx, event, "cleared", value, None, &at, None).await?;
        }
        AlertEvent::AlertResolved {
            value,
            reason,
            rule_version,
            at,
        } => {
            // Notified when it fired unsilenced.
            let notified: bool = tx
                .query_opt(
                    "SELECT state = 'firing' AND silenced_by IS NULL FROM rm_alerts WHERE id = $1",
                    &[&id],
                )
                .await?
                .is_some_and(|r| r.get(0));
            tx.execute(
                "UPDATE rm_alerts SET state = 'resolved', value = coalesce($2, value), since = $3,
                        resolved_at = $3, last_sequence = $4 WHERE id = $1",
                &[&id, &value, &at, seq],
            )
            .await?;
            history(
                tx,
                event,
                "resolved",
                value,
                rule_version,
                &at,
                Some(&reason),
            )
            .await?;
            if notified {
                enqueue(tx, event, id, "resolved").await?;
            }
        }
        AlertEvent::AlertUnsilenced { at } => {
            let was_silenced: bool = tx
                .query_opt(
                    "SELECT state = 'firing' AND silenced_by IS NOT NULL FROM rm_alerts WHERE id = $1",
                    &[&id],
                )
                .await?
                .is_some_and(|r| r.get(0));
            tx.execute(
                "UPDATE rm_alerts SET silenced_by = NULL, last_sequence = $2 WHERE id = $1",
                &[&id, seq],
            )
            .await?;
            history(
                tx,
                event,
                "unsilenced",
                None,
                None,
                &at,
                Some("its silence no longer covers it"),
            )
            .await?;
            if was_silenced {
                enqueue(tx, event, id, "firing").await?;
            }
        }
        AlertEvent::AlertAcknowledged { comment, at } => {
            tx.execute(
                "UPDATE rm_alerts SET acknowledged_by = $2, acknowledged_at = $3, ack_comment = $4,
                        last_sequence = $5 WHERE id = $1",
                &[&id, &event.meta("actor_name"), &at, &comment, seq],
            )
            .await?;
            history(
                tx,
                event,
                "acknowledged",
                None,
                None,
                &at,
                comment.as_deref(),
            )
            .await?;
        }
    }
    Ok(())
}

async fn upsert_seen(
    tx: &Transaction<'_>,
    id: uuid::Uuid,
    seen: &Seen,
    state: &str,
    summary: &str,
    silenced_by: Option<&str>,
    seq: &i64,
) -> Result<(), ApplyError> {
    let rule_id = uuid::Uuid::parse_str(&seen.rule_id)
        .map_err(|_| ApplyError::Reject(format!("rule id {:?} is not a UUID", seen.rule_id)))?;
    let version = i32::try_from(seen.rule_version).unwrap_or(i32::MAX);
    let fired_at = (state == "firing").then_some(seen.at);
    // A new pending or firing cycle starts unacknowledged.
    tx.execute(
        "INSERT INTO rm_alerts (id, rule_id, rule_name, rule_version, severity, state, labels, value,
                                summary, since, fired_at, silenced_by, last_sequence)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (id) DO UPDATE SET
            rule_name = excluded.rule_name, rule_version = excluded.rule_version,
            severity = excluded.severity, state = excluded.state, labels = excluded.labels,
            value = excluded.value, summary = excluded.summary, since = excluded.since,
            fired_at = excluded.fired_at, resolved_at = NULL, silenced_by = excluded.silenced_by,
            acknowledged_by = NULL, acknowledged_at = NULL, ack_comment = NULL,
            last_sequence = excluded.last_sequence",
        &[
            &id,
            &rule_id,
            &seen.rule_name,
            &version,
            &seen.severity.as_str(),
            &state,
            &json!(seen.labels),
            &seen.value,
            &summary,
            &seen.at,
            &fired_at,
            &silenced_by,
            seq,
        ],
    )
    .await?;
    Ok(())
}

/// One outbox row per enabled channel taking the alert's severity, for channels that existed
/// when the transition was recorded.
async fn enqueue(
    tx: &Transaction<'_>,
    event: &StoredEvent,
    alert_id: uuid::Uuid,
    kind: &str,
) -> Result<(), ApplyError> {
    tx.execute(
        "INSERT INTO notification_outbox (alert_id, alert_sequence, channel_id, kind, payload)
         SELECT a.id, $2::bigint, c.id, $3::text,
                jsonb_build_object(
                    'alert_id', a.id, 'rule_id', a.rule_id, 'rule_name', a.rule_name,
                    'severity', a.severity, 'state', $3::text, 'labels', a.labels, 'value', a.value,
                    'summary', a.summary, 'starts_at', a.fired_at, 'ends_at', a.resolved_at,
                    'sequence', $2::bigint)
           FROM rm_alerts a, rm_notification_channels c
          WHERE a.id = $1 AND c.enabled AND c.created_at <= $4
            -- A replay (or a projection far behind) does not page for old transitions.
            AND $4 > now() - interval '6 hours'
            AND array_position(ARRAY['info','warning','critical'], a.severity)
                >= array_position(ARRAY['info','warning','critical'], c.min_severity)
         ON CONFLICT (alert_id, alert_sequence, channel_id) DO NOTHING",
        &[&alert_id, &event.sequence, &kind, &event.recorded_at],
    )
    .await?;
    Ok(())
}

async fn silence(tx: &Transaction<'_>, event: &StoredEvent) -> Result<(), ApplyError> {
    let id = uuid_of(event)?;
    match decode::<SilenceEvent>(event)? {
        SilenceEvent::SilenceCreated {
            matchers,
            starts_at,
            ends_at,
            comment,
        } => {
            tx.execute(
                "INSERT INTO rm_silences (id, matchers, starts_at, ends_at, comment, created_by, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&id, &json!(matchers), &starts_at, &ends_at, &comment, &event.meta("actor_name"), &event.recorded_at],
            )
            .await?;
        }
        SilenceEvent::SilenceExpired { at } => {
            tx.execute(
                "UPDATE rm_silences SET ends_at = $2 WHERE id = $1",
                &[&id, &at],
            )
            .await?;
        }
    }
    Ok(())
}

async fn channel(tx: &Transaction<'_>, event: &StoredEvent) -> Result<(), ApplyError> {
    let id = uuid_of(event)?;
    match decode::<ChannelEvent>(event)? {
        ChannelEvent::NotificationChannelCreated { spec, secret, at }
        | ChannelEvent::NotificationChannelUpdated { spec, secret, at } => {
            let kind = match spec.target {
                ChannelTarget::Alertmanager { .. } => "alertmanager",
                ChannelTarget::Webhook { .. } => "webhook",
                ChannelTarget::Email { .. } => "email",
            };
            tx.execute(
                "INSERT INTO rm_notification_channels
                    (id, name, kind, min_severity, enabled, spec, has_secret, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind,
                    min_severity = excluded.min_severity, enabled = excluded.enabled,
                    spec = excluded.spec, has_secret = excluded.has_secret,
                    updated_at = excluded.updated_at",
                &[&id, &spec.name, &kind, &spec.min_severity.as_str(), &spec.enabled, &spec_json(&spec)?, &secret.is_some(), &at],
            )
            .await?;
        }
        ChannelEvent::NotificationChannelDeleted { .. } => {
            tx.execute("DELETE FROM rm_notification_channels WHERE id = $1", &[&id])
                .await?;
        }
    }
    Ok(())
}
