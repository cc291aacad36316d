use async_trait::async_trait;
use domain::managed_instance::ManagedInstanceEvent;
use domain::{AggregateKind, StoredEvent};
use tokio_postgres::Transaction;

use super::{decode, uuid_of, EventProjector, HistorySpec};
use crate::runtime::ApplyError;

/// `rm_managed_instances`: everything the instance list shows, never a password.
pub struct ManagedInstances;

#[async_trait]
impl EventProjector for ManagedInstances {
    const NAME: &'static str = "managed_instances";
    const TABLES: &'static [&'static str] = &["rm_managed_instances", "rm_instance_history"];
    const HISTORY: Option<HistorySpec> = Some(HistorySpec {
        kind: AggregateKind::ManagedInstance,
        table: "rm_instance_history",
        state: "SELECT to_jsonb(x) FROM (SELECT id, name, host, port, database, username, sslmode,
                connect_timeout_s, tags, has_credential, last_connection_status, last_error,
                server_version, last_tls, created_at, updated_at
                FROM rm_managed_instances WHERE id = $1) x",
    });

    // Over 60 lines on purpose: one arm per event, each event's row change beside its kind.
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
            ManagedInstanceEvent::InstanceUpdated {
                name,
                connection: c,
                tags,
                at,
            } => {
                tx.execute(
                    "UPDATE rm_managed_instances
                        SET name = $2, host = $3, port = $4, database = $5, username = $6,
                            sslmode = $7, connect_timeout_s = $8, tags = $9, updated_at = $10,
                            last_sequence = $11
                      WHERE id = $1",
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
                        &at,
                        &event.sequence,
                    ],
                )
                .await?;
            }
            ManagedInstanceEvent::CredentialsRotated { credential, at, .. } => {
                tx.execute(
                    "UPDATE rm_managed_instances
                        SET has_credential = $2, updated_at = $3, last_sequence = $4
                      WHERE id = $1",
                    &[&id, &credential.is_some(), &at, &event.sequence],
                )
                .await?;
            }
            ManagedInstanceEvent::ConnectionTested {
                success,
                status,
                latency_ms,
                server_version,
                error,
                tls,
                at,
                ..
            } => {
                // A failed test keeps the last known server version; the heartbeat is the last
                // time the instance answered.
                tx.execute(
                    "UPDATE rm_managed_instances
                        SET last_connection_status = $2, last_error = $3, last_tested_at = $4,
                            latency_ms = $5,
                            server_version = coalesce($6, server_version),
                            last_heartbeat = CASE WHEN $7 THEN $4 ELSE last_heartbeat END,
                            last_sequence = $8, last_tls = $9
                      WHERE id = $1",
                    &[
                        &id,
                        &status.as_str(),
                        &error,
                        &at,
                        &latency_ms,
                        &server_version,
                        &success,
                        &event.sequence,
                        &tls,
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
