use async_trait::async_trait;
use domain::user::UserEvent;
use domain::{AggregateKind, StoredEvent};
use tokio_postgres::Transaction;

use super::{decode, uuid_of, EventProjector, HistorySpec};
use crate::runtime::ApplyError;

/// `rm_users`: username, role, active, last login, and the password hash login verifies.
pub struct Users;

#[async_trait]
impl EventProjector for Users {
    const NAME: &'static str = "users";
    const TABLES: &'static [&'static str] = &["rm_users", "rm_user_history"];
    const HISTORY: Option<HistorySpec> = Some(HistorySpec {
        kind: AggregateKind::User,
        table: "rm_user_history",
        state:
            "SELECT to_jsonb(x) FROM (SELECT id, username, role, active, created_at, last_login_at
                FROM rm_users WHERE id = $1) x",
    });

    async fn apply_event(
        &self,
        tx: &Transaction<'_>,
        event: &StoredEvent,
    ) -> Result<(), ApplyError> {
        if event.kind() != Some(AggregateKind::User) {
            return Ok(());
        }
        let id = uuid_of(event)?;
        let seq = event.sequence;
        match decode::<UserEvent>(event)? {
            UserEvent::UserCreated {
                username,
                role,
                password_hash,
                at,
            } => {
                tx.execute(
                    "INSERT INTO rm_users
                        (id, username, role, active, created_at, password_hash, last_sequence)
                     VALUES ($1, $2, $3, true, $4, $5, $6)",
                    &[
                        &id,
                        &username.as_str(),
                        &role.as_str(),
                        &at,
                        &password_hash.as_phc(),
                        &seq,
                    ],
                )
                .await?;
            }
            UserEvent::PasswordChanged { password_hash, .. } => {
                let sql =
                    "UPDATE rm_users SET password_hash = $2, last_sequence = $3 WHERE id = $1";
                tx.execute(sql, &[&id, &password_hash.as_phc(), &seq])
                    .await?;
            }
            UserEvent::RoleChanged { to, .. } => {
                let sql = "UPDATE rm_users SET role = $2, last_sequence = $3 WHERE id = $1";
                tx.execute(sql, &[&id, &to.as_str(), &seq]).await?;
            }
            e @ (UserEvent::UserDeactivated { .. } | UserEvent::UserReactivated { .. }) => {
                let active = matches!(e, UserEvent::UserReactivated { .. });
                let sql = "UPDATE rm_users SET active = $2, last_sequence = $3 WHERE id = $1";
                tx.execute(sql, &[&id, &active, &seq]).await?;
            }
            UserEvent::UserLoggedIn { at } => {
                let sql =
                    "UPDATE rm_users SET last_login_at = $2, last_sequence = $3 WHERE id = $1";
                tx.execute(sql, &[&id, &at, &seq]).await?;
            }
            UserEvent::UserDeleted { .. } => {
                tx.execute("DELETE FROM rm_users WHERE id = $1", &[&id])
                    .await?;
            }
        }
        Ok(())
    }
}
