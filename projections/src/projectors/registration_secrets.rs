use async_trait::async_trait;
use domain::registration_secret::RegistrationSecretEvent;
use domain::{AggregateKind, StoredEvent};
use tokio_postgres::Transaction;

use super::{decode, uuid_of, EventProjector, HistorySpec};
use crate::runtime::ApplyError;

/// `rm_registration_secrets`: name, prefix, state and use; never the secret or its hash.
pub struct RegistrationSecrets;

#[async_trait]
impl EventProjector for RegistrationSecrets {
    const NAME: &'static str = "registration_secrets";
    const TABLES: &'static [&'static str] = &["rm_registration_secrets", "rm_secret_history"];
    const HISTORY: Option<HistorySpec> = Some(HistorySpec {
        kind: AggregateKind::RegistrationSecret,
        table: "rm_secret_history",
        state: "SELECT to_jsonb(x) FROM (SELECT id, name, prefix, active, expires_at, max_registrations,
                registrations_used, last_used_at, created_at, instance_ids
                FROM rm_registration_secrets WHERE id = $1) x",
    });

    // Over 60 lines on purpose: one arm per event, each event's row change beside its kind.
    async fn apply_event(
        &self,
        tx: &Transaction<'_>,
        event: &StoredEvent,
    ) -> Result<(), ApplyError> {
        if event.kind() != Some(AggregateKind::RegistrationSecret) {
            return Ok(());
        }
        let id = uuid_of(event)?;
        match decode::<RegistrationSecretEvent>(event)? {
            RegistrationSecretEvent::RegistrationSecretCreated {
                name,
                prefix,
                expires_at,
                max_registrations,
                at,
                ..
            } => {
                let max = max_registrations.map(|m| i32::try_from(m).unwrap_or(i32::MAX));
                tx.execute(
                    "INSERT INTO rm_registration_secrets
                        (id, name, prefix, active, expires_at, max_registrations, created_at,
                         last_sequence)
                     VALUES ($1, $2, $3, true, $4, $5, $6, $7)",
                    &[
                        &id,
                        &name.as_str(),
                        &prefix,
                        &expires_at,
                        &max,
                        &at,
                        &event.sequence,
                    ],
                )
                .await?;
            }
            RegistrationSecretEvent::RegistrationSecretRenamed { to, .. } => {
                let sql = "UPDATE rm_registration_secrets SET name = $2, last_sequence = $3 WHERE id = $1";
                tx.execute(sql, &[&id, &to.as_str(), &event.sequence])
                    .await?;
            }
            e @ (RegistrationSecretEvent::RegistrationSecretDeactivated { .. }
            | RegistrationSecretEvent::RegistrationSecretReactivated { .. }) => {
                let active = matches!(
                    e,
                    RegistrationSecretEvent::RegistrationSecretReactivated { .. }
                );
                let sql = "UPDATE rm_registration_secrets SET active = $2, last_sequence = $3 WHERE id = $1";
                tx.execute(sql, &[&id, &active, &event.sequence]).await?;
            }
            RegistrationSecretEvent::RegistrationSecretUsed { at, .. } => {
                let sql = "UPDATE rm_registration_secrets
                              SET registrations_used = registrations_used + 1, last_used_at = $2,
                                  last_sequence = $3
                            WHERE id = $1";
                tx.execute(sql, &[&id, &at, &event.sequence]).await?;
            }
            RegistrationSecretEvent::RegistrationSecretInstancesSet { instance_ids, .. } => {
                let ids = super::collectors::uuids(&instance_ids)?;
                let sql = "UPDATE rm_registration_secrets SET instance_ids = $2, last_sequence = $3 WHERE id = $1";
                tx.execute(sql, &[&id, &ids, &event.sequence]).await?;
            }
            RegistrationSecretEvent::RegistrationSecretDeleted { .. } => {
                tx.execute("DELETE FROM rm_registration_secrets WHERE id = $1", &[&id])
                    .await?;
            }
        }
        Ok(())
    }
}
