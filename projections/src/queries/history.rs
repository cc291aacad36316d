//! Entities as they were: the history tables written beside each live read model (see
//! [`crate::projectors::HistorySpec`]). An entity's state at an instant is the version valid
//! then, read back into the live table's row type, so the same column lists and row mappers
//! serve the live and the past answer.

use chrono::{DateTime, Utc};
use tokio_postgres::{Client, Row};
use uuid::Uuid;

/// An entity with a history: its live table, its history table and its aggregate type.
#[derive(Debug, Clone, Copy)]
pub struct Entity {
    /// The live read model (its row type reads the versions back).
    pub live: &'static str,
    /// The history table.
    pub history: &'static str,
    /// The aggregate type of its events (joins the audit log's summaries).
    pub aggregate_type: &'static str,
}

/// Managed instances.
pub const INSTANCES: Entity = Entity {
    live: "rm_managed_instances",
    history: "rm_instance_history",
    aggregate_type: "managed_instance",
};
/// Collectors (registration facts and bindings; activity is not historical).
pub const COLLECTORS: Entity = Entity {
    live: "rm_collectors",
    history: "rm_collector_history",
    aggregate_type: "collector",
};
/// Users.
pub const USERS: Entity = Entity {
    live: "rm_users",
    history: "rm_user_history",
    aggregate_type: "user",
};
/// Registration secrets.
pub const SECRETS: Entity = Entity {
    live: "rm_registration_secrets",
    history: "rm_secret_history",
    aggregate_type: "registration_secret",
};
/// Alert rules.
pub const ALERT_RULES: Entity = Entity {
    live: "rm_alert_rules",
    history: "rm_alert_rule_history",
    aggregate_type: "alert_rule",
};

/// The event that made a version, and how long the version held.
#[derive(Debug, Clone)]
pub struct VersionMeta {
    /// The event's sequence in its aggregate.
    pub sequence: i64,
    /// When the event was recorded.
    pub valid_from: DateTime<Utc>,
    /// When the next event was recorded (none: still current).
    pub valid_to: Option<DateTime<Utc>>,
    /// The event's type.
    pub event_type: String,
    /// `user`, `collector` or `system`.
    pub actor_kind: Option<String>,
    /// Who did it.
    pub actor_name: Option<String>,
    /// The audit log's sentence for it (none while the audit projection is behind).
    pub summary: Option<String>,
}

/// One version: what the event made of the entity (none: it was removed).
#[derive(Debug, Clone)]
pub struct Version<R> {
    /// The event.
    pub meta: VersionMeta,
    /// The entity after it.
    pub state: Option<R>,
}

/// `SELECT {select} FROM` the rows valid at `$1` (and with id `$2` unless NULL), each a row of
/// the live table's type plus `history_state` (the stored JSON), `ORDER BY {order}`.
pub(crate) async fn as_of<R>(
    client: &Client,
    entity: &Entity,
    select: &str,
    order: &str,
    at: DateTime<Utc>,
    id: Option<Uuid>,
    from_row: fn(&Row) -> R,
) -> Result<Vec<R>, tokio_postgres::Error> {
    let Entity { live, history, .. } = entity;
    let sql = format!(
        "SELECT {select} FROM (
            SELECT t.*, h.state AS history_state
              FROM {history} h CROSS JOIN LATERAL jsonb_populate_record(NULL::{live}, h.state) t
             WHERE tstzrange(h.valid_from, h.valid_to, '[)') @> $1::timestamptz
               AND h.state IS NOT NULL AND ($2::uuid IS NULL OR h.id = $2)) x
          ORDER BY {order}"
    );
    let rows = client.query(&sql, &[&at, &id]).await?;
    Ok(rows.iter().map(from_row).collect())
}

/// Which versions of an entity to read: the `limit` newest before sequence `before` (all:
/// `Page::ALL`).
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// Only versions made by events before this sequence.
    pub before: Option<i64>,
    /// At most this many.
    pub limit: i64,
}

impl Page {
    /// Every version.
    pub const ALL: Page = Page {
        before: None,
        limit: i64::MAX,
    };
}

/// Versions of one entity (the newest `page.limit` before `page.before`), oldest first, each
/// state read with `select` (as in [`as_of`]).
pub(crate) async fn versions<R>(
    client: &Client,
    entity: &Entity,
    select: &str,
    id: Uuid,
    page: Page,
    from_row: fn(&Row) -> R,
) -> Result<Vec<Version<R>>, tokio_postgres::Error> {
    let Entity {
        live,
        history,
        aggregate_type,
    } = entity;
    let sql = format!(
        "SELECT v_sequence, v_valid_from, v_valid_to, v_event_type, v_actor_kind, v_actor_name,
                v_summary, v_present, {select} FROM (
            SELECT h.sequence AS v_sequence, h.valid_from AS v_valid_from,
                   h.valid_to AS v_valid_to, h.event_type AS v_event_type,
                   h.actor_kind AS v_actor_kind, h.actor_name AS v_actor_name,
                   a.summary AS v_summary, h.state IS NOT NULL AS v_present,
                   h.state AS history_state, t.*
              FROM {history} h
              LEFT JOIN rm_audit_log a ON a.aggregate_type = $2
                   AND a.aggregate_id = h.id::text AND a.sequence = h.sequence
             CROSS JOIN LATERAL jsonb_populate_record(NULL::{live}, h.state) t
             WHERE h.id = $1 AND ($3::bigint IS NULL OR h.sequence < $3)
             ORDER BY h.sequence DESC LIMIT $4) x
          ORDER BY v_sequence"
    );
    let rows = client
        .query(&sql, &[&id, aggregate_type, &page.before, &page.limit])
        .await?;
    Ok(rows
        .iter()
        .map(|row| Version {
            meta: VersionMeta {
                sequence: row.get("v_sequence"),
                valid_from: row.get("v_valid_from"),
                valid_to: row.get("v_valid_to"),
                event_type: row.get("v_event_type"),
                actor_kind: row.get("v_actor_kind"),
                actor_name: row.get("v_actor_name"),
                summary: row.get("v_summary"),
            },
            state: row.get::<_, bool>("v_present").then(|| from_row(row)),
        })
        .collect())
}
