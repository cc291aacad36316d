//! Reads of `rm_collectors` and `rm_collector_instances` (written by
//! [`crate::projectors::collectors`]) with their activity: `rm_collector_activity` and
//! `rm_collector_minutes` ([`crate::projectors::collector_activity`]), the batches it refused
//! (`projection_rejected`), and `metric_series_refused` ([`crate::projectors::metric_samples`]).

use chrono::{DateTime, Utc};
use tokio_postgres::{Client, Row};
use uuid::Uuid;

use super::history;

/// A collector with its activity.
#[derive(Debug, Clone)]
pub struct CollectorRow {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// The host it runs on.
    pub hostname: String,
    /// Its agent version.
    pub version: String,
    /// When it registered.
    pub registered_at: DateTime<Utc>,
    /// Its last batch.
    pub last_seen: Option<DateTime<Utc>>,
    /// Seconds since its last batch (none: never sent one), by the database's clock.
    pub seen_ago_s: Option<f64>,
    /// Data points collected, ever.
    pub metrics_count_total: i64,
    /// Data points collected in the last 24 hours.
    pub metrics_count_24h: i64,
    /// Batches received, ever.
    pub batches_total: i64,
    /// Batches the activity projection refused.
    pub rejected_batches: i64,
    /// Why the latest refused batch was refused.
    pub last_rejected_reason: Option<String>,
    /// The instance its last batch was about.
    pub last_instance: Option<String>,
    /// Data points refused by the cardinality guard.
    pub series_refused: i64,
    /// The metric last refused by it.
    pub series_refused_last_metric: Option<String>,
    /// Managed instances it may report.
    pub instance_ids: Vec<Uuid>,
}

impl CollectorRow {
    fn from_row(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            name: row.get("name"),
            hostname: row.get("hostname"),
            version: row.get("version"),
            registered_at: row.get("registered_at"),
            last_seen: row.get("last_seen"),
            seen_ago_s: row.get("seen_ago_s"),
            metrics_count_total: row.get("metrics_count_total"),
            metrics_count_24h: row.get("metrics_count_24h"),
            batches_total: row.get("batches_total"),
            rejected_batches: row.get("rejected_batches"),
            last_rejected_reason: row.get("last_rejected_reason"),
            last_instance: row.get("last_instance"),
            series_refused: row.get("series_refused"),
            series_refused_last_metric: row.get("series_refused_last_metric"),
            instance_ids: row.get("instance_ids"),
        }
    }
}

const QUERY: &str = "
SELECT c.id, c.name, c.hostname, c.version, c.registered_at, a.last_seen,
       extract(epoch FROM now() - a.last_seen)::float8 AS seen_ago_s,
       coalesce(a.metrics_count_total, 0) AS metrics_count_total,
       coalesce(a.batches_total, 0) AS batches_total,
       (SELECT coalesce(sum(m.samples), 0)::bigint FROM rm_collector_minutes m
         WHERE m.collector_id = c.id AND m.minute > now() - interval '24 hours')
         AS metrics_count_24h,
       (SELECT count(*) FROM projection_rejected r
         WHERE (r.projection = 'collector_activity' OR r.projection LIKE 'collector\\_activity.p__')
           AND r.subject LIKE '%.' || c.id::text)
         AS rejected_batches,
       (SELECT r.reason FROM projection_rejected r
         WHERE (r.projection = 'collector_activity' OR r.projection LIKE 'collector\\_activity.p__')
           AND r.subject LIKE '%.' || c.id::text
         ORDER BY r.rejected_at DESC LIMIT 1) AS last_rejected_reason,
       a.last_instance,
       coalesce(r.refused, 0) AS series_refused, r.last_metric AS series_refused_last_metric,
       (SELECT coalesce(array_agg(ci.instance_id ORDER BY ci.instance_id), '{}')
          FROM rm_collector_instances ci WHERE ci.collector_id = c.id) AS instance_ids
  FROM rm_collectors c
  LEFT JOIN rm_collector_activity a ON a.collector_id = c.id
  LEFT JOIN metric_series_refused r ON r.collector_id = c.id";

/// One collector, by id.
///
/// # Errors
/// PostgreSQL's.
pub async fn get(client: &Client, id: Uuid) -> Result<Option<CollectorRow>, tokio_postgres::Error> {
    let row = client
        .query_opt(&format!("{QUERY} WHERE c.id = $1"), &[&id])
        .await?;
    Ok(row.as_ref().map(CollectorRow::from_row))
}

/// Every collector, by name.
///
/// # Errors
/// PostgreSQL's.
pub async fn list(client: &Client) -> Result<Vec<CollectorRow>, tokio_postgres::Error> {
    let rows = client
        .query(&format!("{QUERY} ORDER BY c.name"), &[])
        .await?;
    Ok(rows.iter().map(CollectorRow::from_row).collect())
}

/// Whether a collector is registered and not deleted.
///
/// # Errors
/// PostgreSQL's.
pub async fn exists(client: &Client, id: Uuid) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_opt("SELECT 1 FROM rm_collectors WHERE id = $1", &[&id])
        .await?
        .is_some())
}

/// The digest of a collector's refresh secret (none: no such collector).
///
/// # Errors
/// PostgreSQL's.
pub async fn refresh_secret_hash(
    client: &Client,
    id: Uuid,
) -> Result<Option<String>, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT refresh_secret_hash FROM rm_collectors WHERE id = $1",
            &[&id],
        )
        .await?
        .map(|r| r.get("refresh_secret_hash")))
}

/// A collector's registration facts and bindings from a history row; its activity is not
/// historical (it comes from metric batches), so it reads as none.
const AS_OF_COLUMNS: &str = "id, name, hostname, version, registered_at,
    NULL::timestamptz AS last_seen, NULL::float8 AS seen_ago_s,
    0::bigint AS metrics_count_total, 0::bigint AS metrics_count_24h, 0::bigint AS batches_total,
    0::bigint AS rejected_batches, NULL::text AS last_rejected_reason, NULL::text AS last_instance,
    0::bigint AS series_refused, NULL::text AS series_refused_last_metric,
    ARRAY(SELECT jsonb_array_elements_text(history_state -> 'instance_ids')::uuid) AS instance_ids";

/// Every collector as it was at `at` (or only `id`), by name; activity fields empty.
///
/// # Errors
/// PostgreSQL's.
pub async fn as_of(
    client: &Client,
    at: DateTime<Utc>,
    id: Option<Uuid>,
) -> Result<Vec<CollectorRow>, tokio_postgres::Error> {
    history::as_of(
        client,
        &history::COLLECTORS,
        AS_OF_COLUMNS,
        "name",
        at,
        id,
        CollectorRow::from_row,
    )
    .await
}

/// Every version of one collector, oldest first; activity fields empty.
///
/// # Errors
/// PostgreSQL's.
pub async fn versions(
    client: &Client,
    id: Uuid,
    page: history::Page,
) -> Result<Vec<history::Version<CollectorRow>>, tokio_postgres::Error> {
    history::versions(
        client,
        &history::COLLECTORS,
        AS_OF_COLUMNS,
        id,
        page,
        CollectorRow::from_row,
    )
    .await
}
