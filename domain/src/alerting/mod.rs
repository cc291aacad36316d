//! Alerting: rules, alerts, silences and notification channels, each an aggregate.
//!
//! - [`spec`]: what a rule says ([`RuleSpec`]), parsed and bounded.
//! - [`rule`]: the AlertRule aggregate (its edits are versions).
//! - [`alert`]: the Alert aggregate, one per rule and target; its events are the alert's
//!   history and its transitions a pure function of observations.
//! - [`silence`]: matchers that hold notifications back.
//! - [`channel`]: where notifications go; secrets only sealed.
//! - [`builtin`]: the rules every deployment starts with.

pub mod alert;
pub mod builtin;
pub mod channel;
pub mod rule;
pub mod silence;
pub mod spec;

pub use alert::{alert_id, Alert, AlertCommand, AlertError, AlertEvent, Observation, Seen};
pub use channel::{
    ChannelCommand, ChannelError, ChannelEvent, ChannelSpec, ChannelTarget, MailTls,
    NotificationChannel, SecretChange,
};
pub use rule::{AlertRule, AlertRuleCommand, AlertRuleError, AlertRuleEvent};
pub use silence::{MatchOp, Matcher, Silence, SilenceCommand, SilenceError, SilenceEvent};
pub use spec::{
    describe, Comparison, Condition, Fold, Function, Operand, RuleSpec, Scope, Severity,
    SilentTarget, SpecError,
};
