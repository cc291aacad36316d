//! What an alert rule says: the condition, its scope, severity and message. Parsed and bounded
//! here, so that an event never carries a rule the evaluator cannot run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::metrics::{valid_metric_name, LABEL_KEY_MAX, LABEL_VALUE_MAX};

/// How loud an alert is; channels take alerts from a minimum severity up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For the record.
    Info,
    /// Someone should look today.
    Warning,
    /// Someone should look now.
    Critical,
}

impl Severity {
    /// The lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// What is computed from a series' points in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Function {
    /// The last point.
    Value,
    /// Per second over the window, counter resets handled.
    Rate,
    /// Total increase over the window, counter resets handled.
    Increase,
}

/// Series of one instance folded into one value (or kept apart with `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fold {
    /// One alert per series.
    #[default]
    None,
    /// Sum per instance.
    Sum,
    /// Largest per instance.
    Max,
    /// Smallest per instance.
    Min,
}

/// A comparison of the computed value with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `==`
    #[serde(rename = "==")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
}

impl Comparison {
    /// Whether `value <op> threshold` holds.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::Gt => value > threshold,
            Self::Ge => value >= threshold,
            Self::Lt => value < threshold,
            Self::Le => value <= threshold,
            // Exact on purpose: gauges such as pg_up are 0 or 1.
            #[allow(clippy::float_cmp)]
            Self::Eq => value == threshold,
            #[allow(clippy::float_cmp)]
            Self::Ne => value != threshold,
        }
    }

    /// The operator as written.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Eq => "==",
            Self::Ne => "!=",
        }
    }
}

/// Series of one metric, filtered by labels, and what is computed from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operand {
    /// Metric name.
    pub metric: String,
    /// More metrics whose values are added to `metric`'s, series by series with the same
    /// labels (`blks_hit + blks_read`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<String>,
    /// Equality filters on the series' labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// What is computed per series.
    #[serde(default = "value_function")]
    pub function: Function,
    /// Folding per instance.
    #[serde(default)]
    pub aggregate: Fold,
}

fn value_function() -> Function {
    Function::Value
}

/// When an alert's condition holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Condition {
    /// A function of a metric compared with a threshold.
    Metric {
        /// The series and what is computed from them.
        #[serde(flatten)]
        operand: Operand,
        /// The window the function looks at, in seconds.
        window_secs: u32,
        /// An optional divisor (ratios: connections over max_connections, used over size).
        #[serde(default)]
        divide_by: Option<Operand>,
        /// Comparison.
        op: Comparison,
        /// Threshold.
        threshold: f64,
    },
    /// Nothing heard from a collector, or no samples of a monitored instance, for `after_secs`:
    /// the target is down. Absence fires; it never resolves an alert.
    Silent {
        /// What falls silent.
        target: SilentTarget,
        /// Seconds without data.
        after_secs: u32,
    },
    /// A managed instance's connection status is `error` or `invalid_credentials`.
    ConnectionStatus,
}

/// What a [`Condition::Silent`] watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SilentTarget {
    /// A collector's heartbeats and batches.
    Collector,
    /// Samples of a monitored instance (its collector may still be alive).
    Instance,
}

/// Which instances or collectors a rule looks at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// Every one.
    All,
    /// Managed instances with this tag.
    Tag {
        /// The tag.
        tag: String,
    },
    /// One managed instance.
    Instance {
        /// Its id.
        id: uuid::Uuid,
    },
    /// One collector.
    Collector {
        /// Its id.
        id: uuid::Uuid,
    },
}

/// A rule as a user writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSpec {
    /// Display name; also the `alertname` label.
    pub name: String,
    /// Severity.
    pub severity: Severity,
    /// When it holds.
    pub condition: Condition,
    /// How long it must hold before the alert fires.
    #[serde(default)]
    pub for_secs: u32,
    /// Where it looks.
    pub scope: Scope,
    /// Message template (`{{rule}}`, `{{value}}`, `{{threshold}}`, `{{instance}}`,
    /// `{{collector}}`, `{{labels}}`); empty: a default sentence.
    #[serde(default)]
    pub message: String,
}

/// Why a rule was refused; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SpecError(pub String);

const MAX_NAME: usize = 100;
const MAX_MESSAGE: usize = 1000;
const MAX_FILTERS: usize = 16;
const MAX_FOR_SECS: u32 = 7 * 86_400;

impl RuleSpec {
    /// Checks every bound; trims the name.
    ///
    /// # Errors
    /// The first rule broken, naming the field.
    pub fn validated(mut self) -> Result<Self, SpecError> {
        let err = |m: String| Err(SpecError(m));
        self.name = self.name.trim().to_owned();
        if self.name.is_empty() || self.name.len() > MAX_NAME {
            return err(format!("name: 1 to {MAX_NAME} bytes"));
        }
        if self.name.chars().any(char::is_control) {
            return err("name: no control characters".into());
        }
        if self.message.len() > MAX_MESSAGE {
            return err(format!("message: at most {MAX_MESSAGE} bytes"));
        }
        if self.message.chars().any(|c| c.is_control() && c != '\n') {
            return err("message: no control characters but newlines".into());
        }
        if self.for_secs > MAX_FOR_SECS {
            return err(format!("for_secs: at most {MAX_FOR_SECS} (7 days)"));
        }
        if let Scope::Tag { tag } = &self.scope {
            if tag.trim().is_empty() || tag.len() > 64 || tag.chars().any(char::is_control) {
                return err("scope.tag: 1 to 64 bytes".into());
            }
        }
        match &self.condition {
            Condition::Metric {
                operand,
                window_secs,
                divide_by,
                threshold,
                ..
            } => {
                check_operand("condition", operand)?;
                if let Some(d) = divide_by {
                    check_operand("condition.divide_by", d)?;
                }
                if !(60..=86_400).contains(window_secs) {
                    return err("condition.window_secs: 60 to 86400".into());
                }
                if !threshold.is_finite() {
                    return err("condition.threshold: a finite number".into());
                }
            }
            Condition::Silent { after_secs, .. } => {
                if !(30..=7 * 86_400).contains(after_secs) {
                    return err("condition.after_secs: 30 to 604800".into());
                }
            }
            Condition::ConnectionStatus => {}
        }
        Ok(self)
    }
}

fn check_operand(at: &str, operand: &Operand) -> Result<(), SpecError> {
    if operand.add.len() > 4 {
        return Err(SpecError(format!("{at}.add: at most 4 metrics")));
    }
    for metric in std::iter::once(&operand.metric).chain(&operand.add) {
        if !valid_metric_name(metric) {
            return Err(SpecError(format!(
                "{at}.metric: {metric:?} is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"
            )));
        }
    }
    if operand.labels.len() > MAX_FILTERS {
        return Err(SpecError(format!(
            "{at}.labels: at most {MAX_FILTERS} filters"
        )));
    }
    for (k, v) in &operand.labels {
        if k.is_empty() || k.len() > LABEL_KEY_MAX || v.len() > LABEL_VALUE_MAX {
            return Err(SpecError(format!(
                "{at}.labels: names 1 to {LABEL_KEY_MAX} bytes, values at most {LABEL_VALUE_MAX}"
            )));
        }
        if k.chars().chain(v.chars()).any(char::is_control) {
            return Err(SpecError(format!("{at}.labels: no control characters")));
        }
    }
    Ok(())
}

/// A sentence for people: `rate(pg_database_deadlocks_total[5m]) > 0`.
pub fn describe(condition: &Condition) -> String {
    fn operand(o: &Operand, window: u32) -> String {
        let filters: Vec<String> = o
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        let names = std::iter::once(&o.metric)
            .chain(&o.add)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" + ");
        let series = if filters.is_empty() {
            names
        } else {
            format!("{names}{{{}}}", filters.join(","))
        };
        let f = match o.function {
            Function::Value => series,
            Function::Rate => format!("rate({series}[{window}s])"),
            Function::Increase => format!("increase({series}[{window}s])"),
        };
        match o.aggregate {
            Fold::None => f,
            Fold::Sum => format!("sum({f})"),
            Fold::Max => format!("max({f})"),
            Fold::Min => format!("min({f})"),
        }
    }
    match condition {
        Condition::Metric {
            operand: o,
            window_secs,
            divide_by,
            op,
            threshold,
        } => {
            let left = match divide_by {
                Some(d) => format!(
                    "{} / {}",
                    operand(o, *window_secs),
                    operand(d, *window_secs)
                ),
                None => operand(o, *window_secs),
            };
            format!("{left} {} {threshold}", op.as_str())
        }
        Condition::Silent { target, after_secs } => match target {
            SilentTarget::Collector => format!("collector silent for {after_secs}s"),
            SilentTarget::Instance => format!("no samples from the instance for {after_secs}s"),
        },
        Condition::ConnectionStatus => {
            "connection status is error or invalid_credentials".to_owned()
        }
    }
}
