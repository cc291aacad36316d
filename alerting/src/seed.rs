//! Creates the built-in rules that do not exist yet (once each: an admin's changes, and a
//! disabled built-in rule, survive restarts).

use chrono::Utc;
use commands::service::{CommandError, CommandService};
use domain::alerting::builtin::builtins;
use domain::alerting::{AlertRuleCommand, AlertRuleError};
use domain::values::Actor;

/// Creates the missing built-in rules; returns how many were created.
///
/// # Errors
/// The event store failed.
pub async fn seed_builtin_rules(commands: &CommandService) -> anyhow::Result<usize> {
    let actor = Actor::system("built-in rules");
    let mut created = 0;
    for b in builtins() {
        let command = AlertRuleCommand::Create {
            spec: b.spec.clone(),
            builtin: Some(b.key.to_owned()),
            enabled: true,
            at: Utc::now(),
        };
        match commands
            .alert_rule(&b.rule_id().to_string(), command, &actor)
            .await
        {
            Ok(_) => created += 1,
            // Created before (perhaps since edited or deleted): left as it is.
            Err(CommandError::Rejected(
                AlertRuleError::AlreadyExists | AlertRuleError::Deleted,
            )) => {}
            Err(CommandError::Conflict(_)) => {}
            Err(e) => return Err(anyhow::anyhow!("seeding built-in rule {}: {e}", b.key)),
        }
    }
    Ok(created)
}
