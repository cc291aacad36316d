//! The rules a DBA expects on day one, created enabled when the server starts (each once: an
//! admin may tune or disable it, never loses it to a restart). docs/alerting.md lists them.

use std::collections::BTreeMap;

use super::{
    Comparison, Condition, Fold, Function, Operand, RuleSpec, Scope, Severity, SilentTarget,
};

/// A built-in rule: its stable name and its default spec.
#[derive(Debug, Clone)]
pub struct BuiltIn {
    /// Stable name (`pg_down`), the rule's `builtin` field.
    pub key: &'static str,
    /// Default spec.
    pub spec: RuleSpec,
}

impl BuiltIn {
    /// The rule's id: the same on every deployment, so seeding is idempotent.
    pub fn rule_id(&self) -> uuid::Uuid {
        super::alert::alert_id("builtin-rule", self.key)
    }
}

fn operand(metric: &str, function: Function, aggregate: Fold) -> Operand {
    Operand {
        metric: metric.into(),
        add: Vec::new(),
        labels: BTreeMap::new(),
        function,
        aggregate,
    }
}

#[allow(clippy::too_many_arguments)]
fn metric(
    key: &'static str,
    name: &str,
    severity: Severity,
    o: Operand,
    window_secs: u32,
    divide_by: Option<Operand>,
    op: Comparison,
    threshold: f64,
    for_secs: u32,
    message: &str,
) -> BuiltIn {
    BuiltIn {
        key,
        spec: RuleSpec {
            name: name.into(),
            severity,
            condition: Condition::Metric {
                operand: o,
                window_secs,
                divide_by,
                op,
                threshold,
            },
            for_secs,
            scope: Scope::All,
            message: message.into(),
        },
    }
}

/// Every built-in rule with its default thresholds.
// Over 60 lines on purpose: the table of built-in rules, one entry each.
pub fn builtins() -> Vec<BuiltIn> {
    use Comparison::{Eq, Gt, Lt};
    use Fold::{Max, None as Each};
    use Function::{Increase, Rate, Value};
    use Severity::{Critical, Warning};
    let silent = |key, name: &str, target, message: &str| BuiltIn {
        key,
        spec: RuleSpec {
            name: name.into(),
            severity: Critical,
            condition: Condition::Silent {
                target,
                after_secs: 300,
            },
            for_secs: 0,
            scope: Scope::All,
            message: message.into(),
        },
    };
    let mut cache_read = operand("pg_database_blks_hit_total", Rate, Each);
    cache_read.add.push("pg_database_blks_read_total".into());
    vec![
        silent(
            "collector_silent",
            "Collector down",
            SilentTarget::Collector,
            "collector {{collector}} has sent nothing for 5 minutes",
        ),
        silent(
            "instance_silent",
            "Instance not reporting",
            SilentTarget::Instance,
            "no samples from {{instance}} for 5 minutes",
        ),
        metric(
            "pg_down",
            "PostgreSQL down",
            Critical,
            operand("pg_up", Value, Each),
            120,
            None,
            Eq,
            0.0,
            0,
            "the collector cannot reach {{instance}} (pg_up 0)",
        ),
        BuiltIn {
            key: "connection_failing",
            spec: RuleSpec {
                name: "Connection test failing".into(),
                severity: Critical,
                condition: Condition::ConnectionStatus,
                for_secs: 0,
                scope: Scope::All,
                message: "connection tests of {{instance}} fail: {{labels}}".into(),
            },
        },
        metric(
            "replication_lag",
            "Replication lag",
            Warning,
            operand("pg_replication_lag_seconds", Value, Max),
            120,
            None,
            Gt,
            300.0,
            120,
            "a replica of {{instance}} is {{value}} s behind",
        ),
        metric(
            "connections_near_max",
            "Connections near max_connections",
            Warning,
            operand("pg_activity_total", Value, Max),
            120,
            Some(operand("pg_settings_max_connections", Value, Max)),
            Gt,
            0.9,
            120,
            "{{instance}} uses {{value}} of max_connections",
        ),
        metric(
            "xid_wraparound",
            "Transaction ID wraparound approaching",
            Critical,
            operand("pg_database_xid_age", Value, Each),
            900,
            None,
            Gt,
            1_000_000_000.0,
            0,
            "database {{labels}} on {{instance}} has xid age {{value}} (wraparound at 2.1 billion)",
        ),
        metric(
            "long_transaction",
            "Long-running transaction",
            Warning,
            operand("pg_activity_max_xact_age_seconds", Value, Max),
            120,
            None,
            Gt,
            3600.0,
            60,
            "a transaction on {{instance}} has run for {{value}} s",
        ),
        metric(
            "idle_in_transaction",
            "Sessions idle in transaction",
            Warning,
            operand("pg_activity_idle_in_transaction", Value, Max),
            120,
            None,
            Gt,
            0.0,
            900,
            "{{value}} sessions on {{instance}} have been idle in transaction for 15 minutes",
        ),
        metric(
            "deadlocks",
            "Deadlocks",
            Warning,
            operand("pg_database_deadlocks_total", Increase, Each),
            300,
            None,
            Gt,
            0.0,
            0,
            "{{value}} deadlocks in 5 minutes on {{instance}} ({{labels}})",
        ),
        metric(
            "cache_hit_ratio",
            "Low cache hit ratio",
            Warning,
            operand("pg_database_blks_hit_total", Rate, Each),
            900,
            Some(cache_read),
            Lt,
            0.9,
            900,
            "cache hit ratio {{value}} on {{instance}} ({{labels}})",
        ),
        metric(
            "disk_almost_full",
            "Disk almost full",
            Warning,
            operand("node_filesystem_used_bytes", Value, Each),
            300,
            Some(operand("node_filesystem_size_bytes", Value, Each)),
            Gt,
            0.9,
            300,
            "{{labels}} on {{collector}} is {{value}} full",
        ),
        metric(
            "spool_dropping",
            "Collector dropping spooled batches",
            Warning,
            operand("pga_collector_spool_dropped_total", Increase, Each),
            900,
            None,
            Gt,
            0.0,
            0,
            "collector {{collector}} dropped {{value}} spooled batches: its spool is full",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_a_valid_rule_with_its_own_id() {
        let all = builtins();
        let mut ids = std::collections::BTreeSet::new();
        for b in &all {
            b.spec
                .clone()
                .validated()
                .unwrap_or_else(|e| panic!("{}: {e}", b.key));
            assert!(ids.insert(b.rule_id()), "{} shares an id", b.key);
        }
        assert_eq!(all.len(), 13);
    }
}
