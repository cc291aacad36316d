use async_trait::async_trait;
use domain::managed_instance::ManagedInstanceEvent;
use domain::{AggregateKind, StoredEvent};
use tokio_postgres::Transaction;

use super::{decode, uuid_of, EventProjector};
use crate::runtime::ApplyError;

/// `rm_managed_instances`: everything the instance list shows, never a password.
pub struct ManagedInstances;

#[async_trait]
impl EventProjector for ManagedInstances {
    const NAME: &'static str = "managed_instances";
    const TABLES: &'static [&'static str] = &["rm_managed_instances"];

    async fn apply_event(
        &self,
        tx: &Transaction<'_>,
        event: &StoredEvent,
    ) -> Result<(), ApplyError> {
        if event.kind() != Some(AggregateKind::ManagedInstance) {
            return Ok(());
        }
        let id = uuid_of(event)?;
        match decode::<ManagedInstanceEvent>(event)? {
            ManagedInstanceEvent::InstanceRegistered {
                name,
                connection: c,
                credential,
                tags,
                at,
            } => {
                tx.execute(
                    "INSERT INTO rm_managed_instances
                        (id, name, host, port, database, username, sslmode, connect_timeout_s,
                         tags, has_credential, created_at, updated_at, last_sequence)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)",
                    &[
                        &id,
                        &name.as_str(),
                        &c.host,
                        &i32::from(c.port),
                        &c.database,
                        &c.username,
                        &c.sslmode.as_str(),
                        &i32::try_from(c.connect_timeout_s).unwrap_or(i32::MAX),
                        &tags,
                        &credential.is_some(),
                        &at,
                        &event.sequence,
                    ],
                )
                .await?;
            }
            ManagedInstanceEvent::InstanceRemoved { .. } => {
                tx.execute("DELETE FROM rm_managed_instances WHERE id = $1", &[&id])
                    .await?;
            }
        }
        Ok(())
    }
}
