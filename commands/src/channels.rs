//! Notification channels' secrets across key rotations.

use chrono::Utc;
use domain::alerting::channel::secret_binding;
use domain::alerting::{ChannelCommand, ChannelError, ChannelEvent, SecretChange};
use domain::values::Actor;

use crate::service::{CommandError, CommandService};

/// Re-seals every channel secret under the current key (`pganalytics rotate-key`, after the
/// instance passwords). Returns how many were re-sealed.
///
/// # Errors
/// A secret no configured key opens (named), or the event store's error; channels done before
/// stay done (re-running is safe).
pub async fn reseal_all(service: &CommandService, actor: &Actor) -> anyhow::Result<usize> {
    let Some(cipher) = service.tester().cipher() else {
        anyhow::bail!("no PGA_ENCRYPTION_KEY: nothing can be re-sealed");
    };
    let rows: Vec<(String, serde_json::Value)> = sqlx::query_as(
        "SELECT DISTINCT ON (aggregate_id) aggregate_id, payload::jsonb FROM events
          WHERE aggregate_type = 'notification_channel' ORDER BY aggregate_id, sequence DESC",
    )
    .fetch_all(service.pool())
    .await?;
    let mut resealed = 0;
    for (id, payload) in rows {
        let event: ChannelEvent = serde_json::from_value(payload)?;
        let (spec, Some(sealed)) = (match event {
            ChannelEvent::NotificationChannelCreated { spec, secret, .. }
            | ChannelEvent::NotificationChannelUpdated { spec, secret, .. } => (spec, secret),
            ChannelEvent::NotificationChannelDeleted { .. } => continue,
        }) else {
            continue;
        };
        if sealed.key_id == cipher.current_key_id() {
            continue;
        }
        let binding = secret_binding(&id);
        let plain = cipher.open(&sealed, &binding).map_err(|e| {
            anyhow::anyhow!("notification channel {id}: its secret does not open: {e}")
        })?;
        let command = ChannelCommand::Update {
            spec,
            secret: SecretChange::Replace(Some(cipher.seal(&plain, &binding))),
            at: Utc::now(),
        };
        match service.notification_channel(&id, command, actor).await {
            Ok(_) => resealed += 1,
            Err(CommandError::Rejected(ChannelError::Deleted)) => {}
            Err(e) => anyhow::bail!("notification channel {id}: {e}"),
        }
    }
    Ok(resealed)
}
