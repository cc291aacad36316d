//! `GET /audit` (admin): the audit log, one readable row per domain event, newest first, a
//! page at a time; `GET /audit/export` (admin): all of it that matches, as CSV or JSON lines.

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use projections::queries::audit::{self, AuditFilter, AuditRow, Cursor};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Filter {
    aggregate_type: Option<String>,
    aggregate_id: Option<String>,
    /// Username (or collector / task name) of who did it.
    actor: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    /// The event's type.
    event_type: Option<String>,
    /// At most 1000; default 100.
    limit: Option<i64>,
    /// The previous page's last `cursor`.
    before: Option<String>,
    /// Export only: `csv` or `jsonl`.
    format: Option<String>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "AuditEntry")]
pub(crate) struct Entry {
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    summary: String,
    actor_kind: Option<String>,
    actor_id: Option<String>,
    actor_name: Option<String>,
    recorded_at: DateTime<Utc>,
    /// Pass as `before` for the next page.
    cursor: String,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    filter: Result<Query<Filter>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Entry>>, ApiError> {
    let Query(f) = filter.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = f.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::Invalid {
            field: "limit".into(),
            message: "must be 1-1000".into(),
        });
    }
    if f.format.is_some() {
        return Err(ApiError::Invalid {
            field: "format".into(),
            message: "belongs to /audit/export".into(),
        });
    }
    let filter = audit_filter(f)?;
    let client = state.read().await?;
    let rows = audit::list(&client, &filter, limit).await?;
    Ok(Json(rows.into_iter().map(Entry::from).collect()))
}

/// The query's filter, checked: instants PostgreSQL holds, `from` not after `to`, a cursor
/// this server wrote.
fn audit_filter(f: Filter) -> Result<AuditFilter, ApiError> {
    for (field, value) in [("from", f.from), ("to", f.to)] {
        if let Some(at) = value {
            super::history::instant(field, at)?;
        }
    }
    if let (Some(from), Some(to)) = (f.from, f.to) {
        if from > to {
            return Err(ApiError::Invalid {
                field: "from".into(),
                message: "must not be after to".into(),
            });
        }
    }
    let before = match f.before {
        Some(text) => Some(Cursor::parse(&text).ok_or_else(|| ApiError::Invalid {
            field: "before".into(),
            message: "must be the cursor of an entry of a previous page".into(),
        })?),
        None => None,
    };
    Ok(AuditFilter {
        aggregate_type: f.aggregate_type,
        aggregate_id: f.aggregate_id,
        actor_name: f.actor,
        from: f.from,
        to: f.to,
        event_type: f.event_type,
        before,
    })
}

/// Entries read per query while exporting: the export streams, holding neither the whole
/// answer in memory nor a connection between pages.
const EXPORT_PAGE: i64 = 2_000;

/// `GET /audit/export?format=csv|jsonl&…filters` (admin): every matching entry, newest first,
/// streamed as an attachment.
pub(crate) async fn export(
    State(state): State<AppState>,
    filter: Result<Query<Filter>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(f) = filter.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let format = match f.format.as_deref() {
        Some("csv") | None => Format::Csv,
        Some("jsonl") => Format::JsonLines,
        Some(_) => {
            return Err(ApiError::Invalid {
                field: "format".into(),
                message: "must be csv or jsonl".into(),
            })
        }
    };
    if f.limit.is_some() || f.before.is_some() {
        return Err(ApiError::Invalid {
            field: if f.limit.is_some() { "limit" } else { "before" }.into(),
            message: "the export holds every matching entry; filter by time instead".into(),
        });
    }
    let name = export_name(&f, format);
    let filter = audit_filter(f)?;
    // The first page is read before answering, so a failing database is a 503, not a
    // truncated file.
    let first = audit::list(&*state.read().await?, &filter, EXPORT_PAGE).await?;
    let head = match format {
        Format::Csv => Some(Ok::<_, std::io::Error>(Bytes::from_static(
            audit::CSV_HEADER.as_bytes(),
        ))),
        Format::JsonLines => None,
    };
    let pages = stream::unfold(Some((filter, first)), move |next| {
        let state = state.clone();
        async move {
            let (mut filter, rows) = next?;
            let text: String = rows
                .iter()
                .map(|r| match format {
                    Format::Csv => r.to_csv_line(),
                    Format::JsonLines => r.to_json_line(),
                })
                .collect();
            let more = i64::try_from(rows.len()).unwrap_or(0) == EXPORT_PAGE;
            let following = match rows.last() {
                Some(last) if more => {
                    filter.before = Some(Cursor::of(last));
                    let read = async {
                        audit::list(&*state.read().await?, &filter, EXPORT_PAGE)
                            .await
                            .map_err(ApiError::from)
                    };
                    match read.await {
                        Ok(rows) => Some((filter, rows)),
                        Err(e) => {
                            // Cut short: the client sees a broken transfer, never a silently
                            // shorter file.
                            tracing::warn!(error = %e, "audit export stopped");
                            return Some((Err(std::io::Error::other(e.to_string())), None));
                        }
                    }
                }
                _ => None,
            };
            Some((Ok(Bytes::from(text)), following))
        }
    });
    let body = Body::from_stream(stream::iter(head).chain(pages));
    let content_type = match format {
        Format::Csv => "text/csv; charset=utf-8",
        Format::JsonLines => "application/x-ndjson",
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}

#[derive(Clone, Copy)]
enum Format {
    Csv,
    JsonLines,
}

/// `audit-<from>-<to>.<ext>`, dates only, ASCII only.
fn export_name(f: &Filter, format: Format) -> String {
    let day = |t: Option<DateTime<Utc>>, none: &str| {
        t.map_or_else(
            || none.to_owned(),
            |t| t.format("%Y%m%dT%H%M%SZ").to_string(),
        )
    };
    let ext = match format {
        Format::Csv => "csv",
        Format::JsonLines => "jsonl",
    };
    format!("audit-{}-{}.{ext}", day(f.from, "start"), day(f.to, "now"))
}

impl From<AuditRow> for Entry {
    fn from(r: AuditRow) -> Self {
        let cursor = Cursor::of(&r).to_string();
        Self {
            cursor,
            aggregate_type: r.aggregate_type,
            aggregate_id: r.aggregate_id,
            sequence: r.sequence,
            event_type: r.event_type,
            summary: r.summary,
            actor_kind: r.actor_kind,
            actor_id: r.actor_id,
            actor_name: r.actor_name,
            recorded_at: r.recorded_at,
        }
    }
}
