//! The fleet overview: every managed instance with the latest totals its bound collectors sent
//! (`rm_fleet`, written by [`crate::projectors::fleet`]) and what fires about it, in one query.

use chrono::{DateTime, Utc};
use tokio_postgres::{Client, Row};
use uuid::Uuid;

/// One instance's row of the overview.
#[derive(Debug, Clone)]
pub struct FleetRow {
    pub id: Uuid,
    pub name: String,
    pub tags: Vec<String>,
    /// The last connection test's status.
    pub status: String,
    pub last_error: Option<String>,
    pub last_heartbeat: Option<DateTime<Utc>>,
    /// Collection time of the latest batch about it.
    pub sampled_at: Option<DateTime<Utc>>,
    pub tps: Option<f64>,
    pub connections: Option<f64>,
    pub max_connections: Option<f64>,
    pub cache_hit_ratio: Option<f64>,
    pub replication_lag_s: Option<f64>,
    pub database_size: Option<f64>,
    /// The minute of the sparklines' last point.
    pub spark_minute: Option<DateTime<Utc>>,
    pub spark_tps: Vec<Option<f64>>,
    pub spark_connections: Vec<Option<f64>>,
    /// Alerts firing about it.
    pub firing: i64,
    /// The worst of their severities.
    pub firing_severity: Option<String>,
}

impl FleetRow {
    fn from_row(r: &Row) -> Self {
        Self {
            id: r.get("id"),
            name: r.get("name"),
            tags: r.get("tags"),
            status: r.get("status"),
            last_error: r.get("last_error"),
            last_heartbeat: r.get("last_heartbeat"),
            sampled_at: r.get("sampled_at"),
            tps: r.get("tps"),
            connections: r.get("connections"),
            max_connections: r.get("max_connections"),
            cache_hit_ratio: r.get("cache_hit_ratio"),
            replication_lag_s: r.get("replication_lag_s"),
            database_size: r.get("database_size"),
            spark_minute: r.get("spark_minute"),
            spark_tps: r
                .get::<_, Option<Vec<Option<f64>>>>("spark_tps")
                .unwrap_or_default(),
            spark_connections: r
                .get::<_, Option<Vec<Option<f64>>>>("spark_connections")
                .unwrap_or_default(),
            firing: r.get("firing"),
            firing_severity: r.get("firing_severity"),
        }
    }
}

/// Every managed instance, by name. Only collectors bound to an instance speak for it (as in
/// the instance's charts): a collector sending another's name changes nothing here.
///
/// # Errors
/// PostgreSQL's.
pub async fn overview(client: &Client) -> Result<Vec<FleetRow>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT i.id, i.name, i.tags, i.last_connection_status AS status, i.last_error,
                    i.last_heartbeat, f.sampled_at, f.tps, f.connections, f.max_connections,
                    f.cache_hit_ratio, f.replication_lag_s, f.database_size, f.spark_minute,
                    f.spark_tps, f.spark_connections, coalesce(a.firing, 0) AS firing,
                    CASE a.worst WHEN 0 THEN 'critical' WHEN 1 THEN 'warning' WHEN 2 THEN 'info'
                    END AS firing_severity
               FROM rm_managed_instances i
               LEFT JOIN LATERAL (
                    SELECT f.sampled_at, f.tps, f.connections, f.max_connections,
                           f.cache_hit_ratio, f.replication_lag_s, f.database_size,
                           f.spark_minute, f.spark_tps, f.spark_connections
                      FROM rm_fleet f
                     WHERE f.instance = i.name
                       AND EXISTS (SELECT 1 FROM rm_collector_instances ci
                                    WHERE ci.collector_id = f.collector_id AND ci.instance_id = i.id)
                     ORDER BY f.sampled_at DESC LIMIT 1) f ON true
               LEFT JOIN (
                    SELECT labels ->> 'instance_id' AS instance_id, count(*) AS firing,
                           min(CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END)
                             AS worst
                      FROM rm_alerts WHERE state = 'firing' GROUP BY 1) a
                 ON a.instance_id = i.id::text
              ORDER BY i.name",
            &[],
        )
        .await?;
    Ok(rows.iter().map(FleetRow::from_row).collect())
}
