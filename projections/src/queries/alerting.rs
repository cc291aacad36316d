//! Rules, alerts with their history, silences, channels and deliveries (written by
//! [`crate::projectors::Alerting`] and the dispatcher), as the JSON the API answers.

use serde_json::Value;
use tokio_postgres::Client;
use uuid::Uuid;

use super::history;

const RULE: &str = "SELECT jsonb_build_object(
        'id', r.id, 'builtin', r.builtin, 'enabled', r.enabled, 'version', r.version,
        'created_at', r.created_at, 'updated_at', r.updated_at,
        'firing', (SELECT count(*) FROM rm_alerts a WHERE a.rule_id = r.id AND a.state = 'firing'))
        || r.spec
      FROM rm_alert_rules r";

/// Every rule, built-in ones first, then by name.
///
/// # Errors
/// The database failed.
pub async fn rules(client: &Client) -> Result<Vec<Value>, tokio_postgres::Error> {
    let sql = format!("{RULE} ORDER BY r.builtin IS NULL, r.name, r.id");
    Ok(client
        .query(&sql, &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// One rule.
///
/// # Errors
/// The database failed.
pub async fn rule(client: &Client, id: Uuid) -> Result<Option<Value>, tokio_postgres::Error> {
    let sql = format!("{RULE} WHERE r.id = $1");
    Ok(client.query_opt(&sql, &[&id]).await?.map(|r| r.get(0)))
}

/// Whether the rule is built in (`None`: no such rule).
///
/// # Errors
/// The database failed.
pub async fn rule_builtin(
    client: &Client,
    id: Uuid,
) -> Result<Option<Option<String>>, tokio_postgres::Error> {
    Ok(client
        .query_opt("SELECT builtin FROM rm_alert_rules WHERE id = $1", &[&id])
        .await?
        .map(|r| r.get(0)))
}

const ALERT: &str = "SELECT jsonb_build_object(
        'id', a.id, 'rule_id', a.rule_id, 'rule_name', a.rule_name, 'rule_version', a.rule_version,
        'severity', a.severity, 'state', a.state, 'labels', a.labels, 'value', a.value,
        'summary', a.summary, 'since', a.since, 'fired_at', a.fired_at,
        'resolved_at', a.resolved_at, 'acknowledged_by', a.acknowledged_by,
        'acknowledged_at', a.acknowledged_at, 'ack_comment', a.ack_comment,
        'silenced_by', a.silenced_by,
        'instance_id', a.labels->>'instance_id', 'instance_name', a.labels->>'instance',
        'collector_id', a.labels->>'collector_id')
      FROM rm_alerts a";

/// Which alerts to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertFilter {
    /// Pending and firing.
    Active,
    /// Firing.
    Firing,
    /// Pending.
    Pending,
    /// Resolved (and cleared).
    Resolved,
    /// Everything.
    All,
}

/// Alerts, most severe and newest first (at most `limit`).
///
/// # Errors
/// The database failed.
pub async fn alerts(
    client: &Client,
    filter: AlertFilter,
    limit: i64,
) -> Result<Vec<Value>, tokio_postgres::Error> {
    let states: &[&str] = match filter {
        AlertFilter::Active => &["pending", "firing"],
        AlertFilter::Firing => &["firing"],
        AlertFilter::Pending => &["pending"],
        AlertFilter::Resolved => &["resolved"],
        AlertFilter::All => &["pending", "firing", "resolved"],
    };
    let sql = format!(
        "{ALERT} WHERE a.state = ANY($1)
          ORDER BY (a.state = 'firing') DESC,
                   array_position(ARRAY['critical','warning','info'], a.severity), a.since DESC, a.id
          LIMIT $2"
    );
    Ok(client
        .query(&sql, &[&states, &limit])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// One alert with its history, oldest first.
///
/// # Errors
/// The database failed.
pub async fn alert(client: &Client, id: Uuid) -> Result<Option<Value>, tokio_postgres::Error> {
    let sql = format!("{ALERT} WHERE a.id = $1");
    let Some(row) = client.query_opt(&sql, &[&id]).await? else {
        return Ok(None);
    };
    let mut alert: Value = row.get(0);
    let history: Vec<Value> = client
        .query(
            "SELECT jsonb_build_object('sequence', sequence, 'event', event, 'value', value,
                    'rule_version', rule_version, 'at', at, 'actor', actor, 'detail', detail)
               FROM rm_alert_history WHERE alert_id = $1 ORDER BY sequence",
            &[&id],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    alert["history"] = Value::Array(history);
    Ok(Some(alert))
}

/// The alert's state (`None`: no such alert).
///
/// # Errors
/// The database failed.
pub async fn alert_state(
    client: &Client,
    id: Uuid,
) -> Result<Option<String>, tokio_postgres::Error> {
    Ok(client
        .query_opt("SELECT state FROM rm_alerts WHERE id = $1", &[&id])
        .await?
        .map(|r| r.get(0)))
}

/// Active silences and those ended in the last day, newest first.
///
/// # Errors
/// The database failed.
pub async fn silences(client: &Client) -> Result<Vec<Value>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT jsonb_build_object('id', id, 'matchers', matchers, 'starts_at', starts_at,
                    'ends_at', ends_at, 'comment', comment, 'created_by', created_by,
                    'active', starts_at <= now() AND ends_at > now())
               FROM rm_silences WHERE ends_at > now() - interval '1 day'
              ORDER BY created_at DESC, id",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Whether the silence exists.
///
/// # Errors
/// The database failed.
pub async fn silence_exists(client: &Client, id: Uuid) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_opt("SELECT 1 FROM rm_silences WHERE id = $1", &[&id])
        .await?
        .is_some())
}

const CHANNEL: &str = "SELECT jsonb_build_object('id', id, 'has_secret', has_secret,
        'created_at', created_at, 'updated_at', updated_at) || spec
      FROM rm_notification_channels";

/// Every channel (never a secret).
///
/// # Errors
/// The database failed.
pub async fn channels(client: &Client) -> Result<Vec<Value>, tokio_postgres::Error> {
    let sql = format!("{CHANNEL} ORDER BY name, id");
    Ok(client
        .query(&sql, &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// One channel.
///
/// # Errors
/// The database failed.
pub async fn channel(client: &Client, id: Uuid) -> Result<Option<Value>, tokio_postgres::Error> {
    let sql = format!("{CHANNEL} WHERE id = $1");
    Ok(client.query_opt(&sql, &[&id]).await?.map(|r| r.get(0)))
}

/// The newest deliveries with their attempts.
///
/// # Errors
/// The database failed.
pub async fn notifications(
    client: &Client,
    limit: i64,
) -> Result<Vec<Value>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT jsonb_build_object('id', o.id, 'alert_id', o.alert_id, 'channel_id', o.channel_id,
                    'channel_name', c.name, 'kind', o.kind, 'status', o.status,
                    'attempts', o.attempts, 'next_attempt_at', o.next_attempt_at,
                    'delivered_at', o.delivered_at, 'last_error', o.last_error,
                    'created_at', o.created_at, 'rule_name', o.payload->>'rule_name',
                    'history', coalesce((SELECT jsonb_agg(jsonb_build_object('attempt', t.attempt,
                        'at', t.started_at, 'finished_at', t.finished_at, 'outcome', t.outcome,
                        'detail', t.detail) ORDER BY t.attempt)
                        FROM notification_attempts t WHERE t.outbox_id = o.id), '[]'::jsonb))
               FROM notification_outbox o
               LEFT JOIN rm_notification_channels c ON c.id = o.channel_id
              ORDER BY o.id DESC LIMIT $1",
            &[&limit],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// What /health says of alerting: the last evaluation round and the outbox.
///
/// # Errors
/// The database failed.
pub async fn health(client: &Client) -> Result<Value, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT jsonb_build_object(
                'last_round_at', (SELECT at FROM alert_evaluation),
                'last_round_s_ago', (SELECT extract(epoch FROM now() - finished_at)::float8 FROM alert_evaluation),
                'rules', (SELECT rules FROM alert_evaluation),
                'rules_failing', coalesce((SELECT errors FROM alert_evaluation), '[]'::jsonb),
                'firing', (SELECT count(*) FROM rm_alerts WHERE state = 'firing'),
                'notifications_pending', (SELECT count(*) FROM notification_outbox WHERE status = 'pending'),
                'oldest_pending_s', (SELECT extract(epoch FROM now() - min(created_at))::float8
                                       FROM notification_outbox WHERE status = 'pending'),
                'notifications_failed', (SELECT count(*) FROM notification_outbox WHERE status = 'failed'),
                'last_delivery_error', (SELECT last_error FROM notification_outbox
                                         WHERE last_error IS NOT NULL AND status <> 'delivered'
                                         ORDER BY id DESC LIMIT 1))",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// A rule as the API answers it, from a history row (no `firing` count: that is not historical).
const RULE_AS_OF: &str = "jsonb_build_object(
        'id', id, 'builtin', builtin, 'enabled', enabled, 'version', version,
        'created_at', created_at, 'updated_at', updated_at) || spec AS rule";

/// Every rule as it was at `at` (or only `id`), built-in ones first, then by name.
///
/// # Errors
/// The database failed.
pub async fn rules_as_of(
    client: &Client,
    at: chrono::DateTime<chrono::Utc>,
    id: Option<Uuid>,
) -> Result<Vec<Value>, tokio_postgres::Error> {
    history::as_of(
        client,
        &history::ALERT_RULES,
        RULE_AS_OF,
        "builtin IS NULL, name, id",
        at,
        id,
        |r| r.get("rule"),
    )
    .await
}

/// Every version of one rule, oldest first.
///
/// # Errors
/// The database failed.
pub async fn rule_versions(
    client: &Client,
    id: Uuid,
    page: history::Page,
) -> Result<Vec<history::Version<Value>>, tokio_postgres::Error> {
    history::versions(client, &history::ALERT_RULES, RULE_AS_OF, id, page, |r| {
        r.get("rule")
    })
    .await
}
