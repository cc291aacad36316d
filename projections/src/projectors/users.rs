use async_trait::async_trait;
use domain::user::UserEvent;
use domain::{AggregateKind, StoredEvent};
use tokio_postgres::Transaction;

use super::{decode, uuid_of, EventProjector};
use crate::runtime::ApplyError;

/// `rm_users`: username, role, active, last login.
pub struct Users;

#[async_trait]
impl EventProjector for Users {
    const NAME: &'static str = "users";
    const TABLES: &'static [&'static str] = &["rm_users"];

    async fn apply_event(
        &self,
        tx: &Transaction<'_>,
        event: &StoredEvent,
    ) -> Result<(), ApplyError> {
        if event.kind() != Some(AggregateKind::User) {
            return Ok(());
        }
        let id = uuid_of(event)?;
        match decode::<UserEvent>(event)? {
            UserEvent::UserCreated {
                username, role, at, ..
            } => {
                tx.execute(
                    "INSERT INTO rm_users (id, username, role, active, created_at, last_sequence)
                     VALUES ($1, $2, $3, true, $4, $5)",
                    &[
                        &id,
                        &username.as_str(),
                        &role.as_str(),
                        &at,
                        &event.sequence,
                    ],
                )
                .await?;
            }
            UserEvent::UserDeleted { .. } => {
                tx.execute("DELETE FROM rm_users WHERE id = $1", &[&id])
                    .await?;
            }
        }
        Ok(())
    }
}
