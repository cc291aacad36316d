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
    /// The event's type (`InstanceUpdated` …).
    pub event_type: Option<String>,
    /// Only entries after this one in the listing order (the previous page's last).
    pub before: Option<Cursor>,
}

/// A place in the listing (newest first): the entry's time and key. As text,
/// `<µs since epoch>:<sequence>:<aggregate type>:<aggregate id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Recorded at.
    pub recorded_at: DateTime<Utc>,
    /// Aggregate type.
    pub aggregate_type: String,
    /// Aggregate id.
    pub aggregate_id: String,
    /// Sequence.
    pub sequence: i64,
}

impl Cursor {
    /// The cursor of `row`.
    pub fn of(row: &AuditRow) -> Self {
        Self {
            recorded_at: row.recorded_at,
            aggregate_type: row.aggregate_type.clone(),
            aggregate_id: row.aggregate_id.clone(),
            sequence: row.sequence,
        }
    }

    /// Reads a cursor written by [`Cursor::to_string`]; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.splitn(4, ':');
        let micros: i64 = parts.next()?.parse().ok()?;
        let sequence: i64 = parts.next()?.parse().ok()?;
        let aggregate_type = parts.next()?.to_owned();
        let aggregate_id = parts.next()?.to_owned();
        Some(Self {
            recorded_at: DateTime::from_timestamp_micros(micros)?,
            aggregate_type,
            aggregate_id,
            sequence,
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}",
            self.recorded_at.timestamp_micros(),
            self.sequence,
            self.aggregate_type,
            self.aggregate_id
        )
    }
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

/// The entries matching `filter`, newest first (ties by key, descending), at most `limit`.
///
/// # Errors
/// PostgreSQL's.
pub async fn list(
    client: &Client,
    filter: &AuditFilter,
    limit: i64,
) -> Result<Vec<AuditRow>, tokio_postgres::Error> {
    let before = filter.before.as_ref();
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
                AND ($7::text IS NULL OR event_type = $7)
                AND ($8::timestamptz IS NULL
                     OR (recorded_at, aggregate_type, aggregate_id, sequence) < ($8, $9, $10, $11))
              ORDER BY recorded_at DESC, aggregate_type DESC, aggregate_id DESC, sequence DESC
              LIMIT $6",
            &[
                &filter.aggregate_type,
                &filter.aggregate_id,
                &filter.actor_name,
                &filter.from,
                &filter.to,
                &limit,
                &filter.event_type,
                &before.map(|c| c.recorded_at),
                &before.map(|c| c.aggregate_type.as_str()),
                &before.map(|c| c.aggregate_id.as_str()),
                &before.map(|c| c.sequence),
            ],
        )
        .await?;
    Ok(rows.iter().map(AuditRow::from_row).collect())
}

/// The header of the CSV export.
pub const CSV_HEADER: &str =
    "recorded_at,actor_kind,actor_name,aggregate_type,aggregate_id,sequence,event_type,summary\n";

impl AuditRow {
    /// The entry as one JSON object (no cursor), as the export's JSON lines hold it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "recorded_at": self.recorded_at,
            "actor_kind": self.actor_kind,
            "actor_id": self.actor_id,
            "actor_name": self.actor_name,
            "aggregate_type": self.aggregate_type,
            "aggregate_id": self.aggregate_id,
            "sequence": self.sequence,
            "event_type": self.event_type,
            "summary": self.summary,
        })
    }

    /// The entry as one line of the JSON-lines export, newline included.
    pub fn to_json_line(&self) -> String {
        let mut line = self.to_json().to_string();
        line.push('\n');
        line
    }

    /// The entry as one CSV record (RFC 4180), newline included. A field a spreadsheet would
    /// run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR: a user can name an
    /// instance `=HYPERLINK(…)`) is prefixed with `'`.
    pub fn to_csv_line(&self) -> String {
        let fields = [
            self.recorded_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            self.actor_kind.clone().unwrap_or_default(),
            self.actor_name.clone().unwrap_or_default(),
            self.aggregate_type.clone(),
            self.aggregate_id.clone(),
            self.sequence.to_string(),
            self.event_type.clone(),
            self.summary.clone(),
        ];
        let mut line = fields
            .iter()
            .map(|f| csv_field(f))
            .collect::<Vec<_>>()
            .join(",");
        line.push('\n');
        line
    }
}

fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(summary: &str) -> AuditRow {
        AuditRow {
            aggregate_type: "managed_instance".into(),
            aggregate_id: "a:b".into(),
            sequence: 3,
            event_type: "InstanceUpdated".into(),
            summary: summary.into(),
            actor_kind: Some("user".into()),
            actor_id: None,
            actor_name: Some("ann".into()),
            recorded_at: "2026-12-03T14:02:00.123456Z".parse().expect("instant"),
        }
    }

    #[test]
    fn cursor_round_trips_with_colons_in_the_id() {
        let c = Cursor::of(&row("x"));
        assert_eq!(Cursor::parse(&c.to_string()), Some(c));
        assert_eq!(Cursor::parse("nope"), None);
        assert_eq!(Cursor::parse("1:x:a:b"), None);
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(
            row("said \"hi\", then\nleft").to_csv_line(),
            "2026-12-03T14:02:00.123456Z,user,ann,managed_instance,a:b,3,InstanceUpdated,\"said \"\"hi\"\", then\nleft\"\n"
        );
        assert!(row("=HYPERLINK(\"x\")")
            .to_csv_line()
            .ends_with(",\"'=HYPERLINK(\"\"x\"\")\"\n"));
        assert!(row("-1").to_csv_line().ends_with(",'-1\n"));
        let back: serde_json::Value =
            serde_json::from_str(row("a\nb").to_json_line().trim_end()).expect("json");
        assert_eq!(back["summary"], "a\nb");
    }
}
