//! The bounds of a metric batch, derived from what storage and the bus can take, and the
//! check of what belongs to a batch as a whole.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{MetricBatch, PayloadError};

/// Most bytes of a batch id. It travels as the `Nats-Msg-Id` header and is the primary key of
/// the projectors' applied-batches tables.
pub const BATCH_ID_MAX: usize = 128;

/// Most bytes of the collector id a batch names (a UUID is 36).
pub const COLLECTOR_ID_MAX: usize = 64;

/// Most bytes of `instance`. It is a key of the B-tree index `metric_series (instance, metric)`,
/// whose entries must stay under ~2704 bytes (a third of an 8 KiB page): 512 bytes plus a
/// 200-byte metric name leaves ample room, and holds a 128-character instance name in any
/// script.
pub const INSTANCE_MAX: usize = 512;

/// Most bytes of a metric name (ASCII only).
pub const METRIC_NAME_MAX: usize = 200;

/// Most labels on one sample, most bytes of a label name, and of a label value. Labels are
/// stored as `jsonb` (not indexed), so these bound the size of a series row, not an index
/// entry.
pub const LABELS_MAX: usize = 32;
/// See [`LABELS_MAX`].
pub const LABEL_KEY_MAX: usize = 128;
/// See [`LABELS_MAX`].
pub const LABEL_VALUE_MAX: usize = 1024;

/// Most bytes of a statement's query id: the primary key of `metric_statements` is
/// `(collector_id, queryid)`, a B-tree entry; a PostgreSQL queryid is a 64-bit integer (at most
/// 20 characters as text), and 128 leaves room for other collectors' hashes.
pub const QUERYID_MAX: usize = 128;

/// Most bytes of a statement's text. It is stored in a `text` column (not indexed) and shown in
/// the query views; pgAnalytics' collector sends at most 4000 characters (16000 bytes) and
/// PostgreSQL's `track_activity_query_size` defaults to 1024, so 64 KiB keeps every real text
/// while a batch of statements stays far below the bus's message size.
pub const STATEMENT_TEXT_MAX: usize = 64 * 1024;

/// Largest magnitude of a sample value. Rollups add values up in `double precision`
/// (`metric_rollup_1m.sum`, then the 1-hour rollup sums those sums); a float8 overflows past
/// ~1.8e308, which used to stop the samples projection for good. With |value| ≤ 1e200 a sum
/// overflows only after 1e108 samples in one bucket — never — and differences and rates over
/// such values stay finite too. No real metric comes within a hundred orders of magnitude.
pub const MAX_ABS_VALUE: f64 = 1e200;

fn field_error(field: &str, message: impl Into<String>) -> PayloadError {
    PayloadError::Field {
        field: field.into(),
        message: message.into(),
    }
}

/// Checks what belongs to the batch as a whole. `instance_field` is the name the sender gave
/// `instance` (`hostname` in the v3 format).
pub(super) fn check_batch(batch: &MetricBatch, instance_field: &str) -> Result<(), PayloadError> {
    check_header(
        &batch.batch_id,
        &batch.collector_id,
        batch.instance.as_deref(),
        batch.collected_at,
        &batch.statements,
        instance_field,
    )
}

/// [`check_batch`] on the parts of a batch, however it was encoded.
pub(super) fn check_header(
    id: &str,
    c: &str,
    instance: Option<&str>,
    collected_at: DateTime<Utc>,
    statements: &BTreeMap<String, String>,
    instance_field: &str,
) -> Result<(), PayloadError> {
    // Printable ASCII without spaces: it travels as a NATS header value, where CR/LF would
    // break the header block (async-nats asserts on it) and spaces at its ends are trimmed.
    if id.is_empty() || id.len() > BATCH_ID_MAX || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(field_error(
            "batch_id",
            format!("must be 1-{BATCH_ID_MAX} printable ASCII characters without spaces"),
        ));
    }
    if c.is_empty() || c.len() > COLLECTOR_ID_MAX || !c.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(field_error(
            "collector_id",
            format!("must be 1-{COLLECTOR_ID_MAX} printable ASCII characters"),
        ));
    }
    if let Some(instance) = instance {
        crate::values::optional_text(instance, INSTANCE_MAX)
            .map_err(|e| field_error(instance_field, e.to_string()))?;
    }
    // `collected_at` is stored (`timestamptz` starts at 4713 BC; chrono goes further back).
    if collected_at.timestamp() < 0 {
        return Err(field_error("collected_at", "must not be before 1970"));
    }
    for (queryid, text) in statements {
        crate::values::optional_text(queryid, QUERYID_MAX)
            .map_err(|e| field_error("statements", format!("each query id {e}")))?;
        if text.len() > STATEMENT_TEXT_MAX {
            return Err(field_error(
                "statements",
                format!("each statement text must be at most {STATEMENT_TEXT_MAX} bytes"),
            ));
        }
        if text.contains('\0') {
            return Err(field_error(
                "statements",
                "a statement text must not contain NUL",
            ));
        }
    }
    Ok(())
}
