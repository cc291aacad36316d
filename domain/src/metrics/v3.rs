//! pgAnalytics v3's collector payload (`shared/compat/v3-push-example.json`), converted into
//! samples. Every family of that payload is kept: database, table and index statistics, query
//! statistics, host statistics and replication. Cumulative counters are marked as such.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{MetricBatch, PayloadError, Sample};

fn field_err(field: &str, message: &str) -> PayloadError {
    PayloadError::Field {
        field: field.into(),
        message: message.into(),
    }
}

fn timestamp(v: Option<&Value>) -> Option<DateTime<Utc>> {
    v.and_then(Value::as_str).and_then(|s| s.parse().ok())
}

/// Builds samples for one family.
struct Family<'a> {
    ts: DateTime<Utc>,
    out: &'a mut Vec<Sample>,
}

impl Family<'_> {
    fn push(&mut self, metric: &str, labels: &[(&str, String)], value: Option<f64>, counter: bool) {
        // A value that is absent or null is not a data point; a non-finite one is kept so
        // that validation rejects and counts it.
        if let Some(value) = value {
            self.out.push(Sample {
                metric: metric.to_owned(),
                labels: labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
                value,
                ts: self.ts,
                counter,
            });
        }
    }
}

fn num(o: &Map<String, Value>, key: &str) -> Option<f64> {
    o.get(key).and_then(Value::as_f64)
}

fn text(o: &Map<String, Value>, key: &str) -> String {
    match o.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn objects<'a>(
    o: &'a Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a Map<String, Value>> {
    o.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

// Over 60 lines on purpose: one arm per v3 statistics family.
fn pg_stats(f: &mut Family<'_>, o: &Map<String, Value>) {
    for db in objects(o, "databases") {
        let d = text(db, "database");
        let l = [("database", d.clone())];
        f.push("pg_database_size_bytes", &l, num(db, "size_bytes"), false);
        f.push(
            "pg_database_xact_commit_total",
            &l,
            num(db, "transactions_committed"),
            true,
        );
        f.push(
            "pg_database_xact_rollback_total",
            &l,
            num(db, "transactions_rolledback"),
            true,
        );
        for t in objects(db, "tables") {
            let l = [
                ("database", d.clone()),
                ("schema", text(t, "schemaname")),
                ("table", text(t, "tablename")),
            ];
            f.push("pg_table_live_tuples", &l, num(t, "n_live_tup"), false);
            f.push("pg_table_dead_tuples", &l, num(t, "n_dead_tup"), false);
            f.push("pg_table_vacuum_total", &l, num(t, "vacuum_count"), true);
            f.push(
                "pg_table_autovacuum_total",
                &l,
                num(t, "autovacuum_count"),
                true,
            );
            let last = timestamp(t.get("last_autovacuum")).map(|ts| ts.timestamp() as f64);
            f.push(
                "pg_table_last_autovacuum_timestamp_seconds",
                &l,
                last,
                false,
            );
        }
        for i in objects(db, "indexes") {
            let l = [
                ("database", d.clone()),
                ("schema", text(i, "schemaname")),
                ("table", text(i, "tablename")),
                ("index", text(i, "indexname")),
            ];
            f.push("pg_index_scans_total", &l, num(i, "idx_scan"), true);
            f.push(
                "pg_index_tuples_read_total",
                &l,
                num(i, "idx_tup_read"),
                true,
            );
            f.push(
                "pg_index_tuples_fetched_total",
                &l,
                num(i, "idx_tup_fetch"),
                true,
            );
            f.push("pg_index_size_bytes", &l, num(i, "size_bytes"), false);
        }
    }
}

fn pg_query_stats(
    f: &mut Family<'_>,
    o: &Map<String, Value>,
    statements: &mut BTreeMap<String, String>,
) {
    let d = text(o, "database");
    for q in objects(o, "queries") {
        let id = text(q, "hash");
        if let Some(t) = q.get("text").and_then(Value::as_str) {
            statements.insert(id.clone(), t.to_owned());
        }
        let l = [("database", d.clone()), ("queryid", id)];
        f.push("pg_statement_calls_total", &l, num(q, "calls"), true);
        f.push(
            "pg_statement_exec_time_ms_total",
            &l,
            num(q, "total_time"),
            true,
        );
        f.push("pg_statement_mean_time_ms", &l, num(q, "mean_time"), false);
        f.push("pg_statement_min_time_ms", &l, num(q, "min_time"), false);
        f.push("pg_statement_max_time_ms", &l, num(q, "max_time"), false);
        f.push(
            "pg_statement_stddev_time_ms",
            &l,
            num(q, "stddev_time"),
            false,
        );
        f.push("pg_statement_rows_total", &l, num(q, "rows"), true);
        f.push(
            "pg_statement_shared_blks_hit_total",
            &l,
            num(q, "shared_blks_hit"),
            true,
        );
        f.push(
            "pg_statement_shared_blks_read_total",
            &l,
            num(q, "shared_blks_read"),
            true,
        );
        f.push(
            "pg_statement_wal_records_total",
            &l,
            num(q, "wal_records"),
            true,
        );
        f.push("pg_statement_wal_fpi_total", &l, num(q, "wal_fpi"), true);
        f.push(
            "pg_statement_wal_bytes_total",
            &l,
            num(q, "wal_bytes"),
            true,
        );
    }
}

fn sysstat(f: &mut Family<'_>, o: &Map<String, Value>) {
    if let Some(cpu) = o.get("cpu").and_then(Value::as_object) {
        for (mode, v) in cpu {
            f.push(
                "node_cpu_percent",
                &[("mode", mode.clone())],
                v.as_f64(),
                false,
            );
        }
    }
    if let Some(m) = o.get("memory").and_then(Value::as_object) {
        let kb = |k: &str| num(m, k).map(|v| v * 1024.0);
        f.push("node_memory_total_bytes", &[], kb("total_kb"), false);
        f.push("node_memory_free_bytes", &[], kb("free_kb"), false);
        f.push("node_memory_cached_bytes", &[], kb("cached_kb"), false);
    }
    if let Some(l) = o.get("load").and_then(Value::as_object) {
        f.push("node_load1", &[], num(l, "load1"), false);
        f.push("node_load5", &[], num(l, "load5"), false);
        f.push("node_load15", &[], num(l, "load15"), false);
    }
}

fn pg_replication(f: &mut Family<'_>, o: &Map<String, Value>) {
    for r in objects(o, "replicas") {
        let base = [
            ("application_name", text(r, "application_name")),
            ("client_addr", text(r, "client_addr")),
            ("state", text(r, "state")),
            ("sync_state", text(r, "sync_state")),
        ];
        for (key, kind) in [
            ("write_lag_ms", "write"),
            ("flush_lag_ms", "flush"),
            ("replay_lag_ms", "replay"),
        ] {
            let mut l = base.to_vec();
            l.push(("kind", kind.to_owned()));
            f.push(
                "pg_replication_lag_seconds",
                &l,
                num(r, key).map(|ms| ms / 1000.0),
                false,
            );
        }
        f.push(
            "pg_replication_lag_bytes",
            &base,
            num(r, "lag_bytes"),
            false,
        );
    }
    for s in objects(o, "slots") {
        let l = [
            ("slot_name", text(s, "slot_name")),
            ("slot_type", text(s, "slot_type")),
        ];
        f.push(
            "pg_replication_slot_retained_wal_bytes",
            &l,
            num(s, "retained_wal_bytes"),
            false,
        );
        let active = s
            .get("active")
            .and_then(Value::as_bool)
            .map(|a| if a { 1.0 } else { 0.0 });
        f.push("pg_replication_slot_active", &l, active, false);
    }
}

fn disk(f: &mut Family<'_>, o: &Map<String, Value>) {
    for d in objects(o, "filesystems").chain(objects(o, "disks")) {
        let l = [("mount", text(d, "mount")), ("device", text(d, "device"))];
        f.push(
            "node_filesystem_size_bytes",
            &l,
            num(d, "total_bytes"),
            false,
        );
        f.push(
            "node_filesystem_free_bytes",
            &l,
            num(d, "free_bytes"),
            false,
        );
        f.push(
            "node_filesystem_used_bytes",
            &l,
            num(d, "used_bytes"),
            false,
        );
    }
}

/// Converts a v3 payload; returns the batch and the names of unknown families.
pub(super) fn convert(
    value: &Value,
    content_id: &str,
) -> Result<(MetricBatch, Vec<String>), PayloadError> {
    let root = value
        .as_object()
        .ok_or_else(|| field_err("metrics", "expected an object"))?;
    let collector_id = root
        .get("collector_id")
        .and_then(Value::as_str)
        .ok_or_else(|| field_err("collector_id", "missing"))?
        .to_owned();
    let collected_at = timestamp(root.get("timestamp"))
        .ok_or_else(|| field_err("timestamp", "missing or not RFC 3339"))?;
    let metrics = root
        .get("metrics")
        .and_then(Value::as_array)
        .ok_or_else(|| field_err("metrics", "expected an array"))?;
    let mut samples = Vec::new();
    let mut statements = BTreeMap::new();
    let mut skipped = Vec::new();
    for (i, family) in metrics.iter().enumerate() {
        let o = family
            .as_object()
            .ok_or_else(|| field_err(&format!("metrics[{i}]"), "expected an object"))?;
        let kind = o.get("type").and_then(Value::as_str).unwrap_or_default();
        let ts = timestamp(o.get("timestamp")).unwrap_or(collected_at);
        let mut f = Family {
            ts,
            out: &mut samples,
        };
        match kind {
            "pg_stats" => pg_stats(&mut f, o),
            "pg_query_stats" => pg_query_stats(&mut f, o, &mut statements),
            "sysstat" => sysstat(&mut f, o),
            "pg_replication" => pg_replication(&mut f, o),
            "disk_usage" | "disk" => disk(&mut f, o),
            other => skipped.push(other.to_owned()),
        }
    }
    let instance = root
        .get("hostname")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok((
        MetricBatch {
            batch_id: format!("v3-{content_id}"),
            collector_id,
            instance,
            collected_at,
            samples,
            statements,
        },
        skipped,
    ))
}

#[cfg(test)]
mod tests {
    use super::super::parse_payload;

    const EXAMPLE: &str = include_str!("../../fixtures/v3-push-example.json");

    #[test]
    fn every_family_of_the_v3_example_becomes_samples() {
        let now = "2026-02-27T15:20:00Z".parse().expect("time");
        let parsed = parse_payload(EXAMPLE.as_bytes(), now).expect("parsed");
        let b = &parsed.batch;
        assert_eq!(
            b.batch_id,
            format!("v3-{}", super::super::content_id(EXAMPLE.as_bytes()))
        );
        assert_eq!(b.collector_id, "8d3f6a2e-4b1c-4f7e-9a55-2c1d0e9b7f10");
        assert!(parsed.rejected.is_empty() && parsed.skipped_families.is_empty());
        let find = |metric: &str, key: &str, val: &str| {
            b.samples
                .iter()
                .find(|s| s.metric == metric && s.labels.get(key).map(String::as_str) == Some(val))
                .unwrap_or_else(|| panic!("{metric} {key}={val}"))
        };
        assert_eq!(
            find("pg_database_size_bytes", "database", "app").value,
            734_003_200.0
        );
        assert!(find("pg_database_xact_commit_total", "database", "app").counter);
        assert_eq!(
            find("pg_table_dead_tuples", "table", "orders").value,
            3400.0
        );
        assert_eq!(
            find("pg_index_scans_total", "index", "orders_note_idx").value,
            0.0
        );
        assert_eq!(
            find(
                "pg_statement_calls_total",
                "queryid",
                "-3212789012345678901"
            )
            .value,
            10432.0
        );
        assert_eq!(find("node_cpu_percent", "mode", "iowait").value, 1.4);
        assert_eq!(
            find("pg_replication_lag_seconds", "kind", "replay").value,
            0.003
        );
        assert_eq!(
            find(
                "pg_replication_slot_retained_wal_bytes",
                "slot_name",
                "replica_1_slot"
            )
            .value,
            33_554_432.0
        );
        assert_eq!(
            b.statements.get("7712339900123456789").map(String::as_str),
            Some("UPDATE orders SET status = $1 WHERE id = $2")
        );
        // customers.last_autovacuum is null: no sample rather than a zero.
        assert!(!b
            .samples
            .iter()
            .any(|s| s.metric == "pg_table_last_autovacuum_timestamp_seconds"
                && s.labels["table"] == "customers"));
        let families: std::collections::BTreeSet<_> = b
            .samples
            .iter()
            .map(|s| s.metric.split('_').next().unwrap_or(""))
            .collect();
        assert_eq!(families.into_iter().collect::<Vec<_>>(), ["node", "pg"]);
        assert_eq!(b.samples.len(), 60);
    }
}
