//! Reads of `rm_audit_log`, as written by [`crate::projectors::audit`].

use chrono::{DateTime, Utc};
use tokio_postgres::{Client, Row};

/// Which entries to read; every field that is set must match.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// The aggregate's type.
    pub aggregate_type: Option<String>,
    /// The aggregate's id.
    pub aggregate_id: Option<String>,
    /// Who did it (username, collector or task name).
    pub actor_name: Option<String>,
    /// Recorded at or after.
    pub from: Option<DateTime<Utc>>,
    /// Recorded at or before.
    pub to: Option<DateTime<Utc>>,
}

/// One domain event, readable.
#[derive(Debug, Clone)]
pub struct AuditRow {
    /// The aggregate's type.
    pub aggregate_type: String,
    /// The aggregate's id.
    pub aggregate_id: String,
    /// The event's sequence in its aggregate.
    pub sequence: i64,
    /// The event's type.
    pub event_type: String,
    /// What happened, in words.
    pub summary: String,
    /// `user`, `collector` or `system`.
    pub actor_kind: Option<String>,
    /// Who did it.
    pub actor_id: Option<String>,
    /// Their name.
    pub actor_name: Option<String>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

impl AuditRow {
    fn from_row(row: &Row) -> Self {
        Self {
            aggregate_type: row.get("aggregate_type"),
            aggregate_id: row.get("aggregate_id"),
            sequence: row.get("sequence"),
            event_type: row.get("event_type"),
            summary: row.get("summary"),
            actor_kind: row.get("actor_kind"),
            actor_id: row.get("actor_id"),
            actor_name: row.get("actor_name"),
            recorded_at: row.get("recorded_at"),
        }
    }
}

/// The entries matching `filter`, newest first, at most `limit`.
///
/// # Errors
/// PostgreSQL's.
pub async fn list(
    client: &Client,
    filter: &AuditFilter,
    limit: i64,
) -> Result<Vec<AuditRow>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT aggregate_type, aggregate_id, sequence, event_type, summary, actor_kind,
                    actor_id, actor_name, recorded_at
               FROM rm_audit_log
              WHERE ($1::text IS NULL OR aggregate_type = $1)
                AND ($2::text IS NULL OR aggregate_id = $2)
                AND ($3::text IS NULL OR actor_name = $3)
                AND ($4::timestamptz IS NULL OR recorded_at >= $4)
                AND ($5::timestamptz IS NULL OR recorded_at <= $5)
              ORDER BY recorded_at DESC, aggregate_type, aggregate_id, sequence DESC
              LIMIT $6",
            &[
                &filter.aggregate_type,
                &filter.aggregate_id,
                &filter.actor_name,
                &filter.from,
                &filter.to,
                &limit,
            ],
        )
        .await?;
    Ok(rows.iter().map(AuditRow::from_row).collect())
}
