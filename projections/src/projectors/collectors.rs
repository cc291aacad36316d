use async_trait::async_trait;
use domain::collector::CollectorEvent;
use domain::{AggregateKind, StoredEvent};
use tokio_postgres::Transaction;

use super::{decode, uuid_of, EventProjector, HistorySpec};
use crate::runtime::ApplyError;

/// `rm_collectors`: registration facts; activity is added by the metrics side.
/// `rm_collector_instances`: the managed instances each collector may report.
pub struct Collectors;

/// Instance ids as carried by events, parsed.
///
/// # Errors
/// [`ApplyError::Reject`] for one that is not a UUID.
pub(crate) fn uuids(ids: &[String]) -> Result<Vec<uuid::Uuid>, ApplyError> {
    ids.iter()
        .map(|i| {
            uuid::Uuid::parse_str(i)
                .map_err(|_| ApplyError::Reject(format!("instance id {i:?} is not a UUID")))
        })
        .collect()
}

#[async_trait]
impl EventProjector for Collectors {
    const NAME: &'static str = "collectors";
    const TABLES: &'static [&'static str] = &[
        "rm_collectors",
        "rm_collector_instances",
        "rm_collector_history",
    ];
    const HISTORY: Option<HistorySpec> = Some(HistorySpec {
        kind: AggregateKind::Collector,
        table: "rm_collector_history",
        state: "SELECT to_jsonb(x) FROM (SELECT c.id, c.name, c.hostname, c.version, c.status, c.registered_at,
                coalesce((SELECT jsonb_agg(ci.instance_id ORDER BY ci.instance_id)
                            FROM rm_collector_instances ci WHERE ci.collector_id = c.id),
                         '[]'::jsonb) AS instance_ids
                FROM rm_collectors c WHERE c.id = $1) x",
    });

    // Over 60 lines on purpose: one arm per event, each event's row change beside its kind.
    async fn apply_event(
        &self,
        tx: &Transaction<'_>,
        event: &StoredEvent,
    ) -> Result<(), ApplyError> {
        if event.kind() != Some(AggregateKind::Collector) {
            return Ok(());
        }
        let id = uuid_of(event)?;
        match decode::<CollectorEvent>(event)? {
            CollectorEvent::CollectorRegistered {
                name,
                hostname,
                version,
                refresh_secret_hash,
                at,
                ..
            } => {
                tx.execute(
                    "INSERT INTO rm_collectors
                        (id, name, hostname, version, status, registered_at, refresh_secret_hash,
                         last_sequence)
                     VALUES ($1, $2, $3, $4, 'registered', $5, $6, $7)",
                    &[
                        &id,
                        &name.as_str(),
                        &hostname,
                        &version,
                        &at,
                        &refresh_secret_hash,
                        &event.sequence,
                    ],
                )
                .await?;
            }
            CollectorEvent::CollectorInstancesBound { instance_ids, .. } => {
                let ids = uuids(&instance_ids)?;
                tx.execute(
                    "DELETE FROM rm_collector_instances WHERE collector_id = $1",
                    &[&id],
                )
                .await?;
                tx.execute(
                    "INSERT INTO rm_collector_instances (collector_id, instance_id)
                     SELECT $1, unnest($2::uuid[])",
                    &[&id, &ids],
                )
                .await?;
                tx.execute(
                    "UPDATE rm_collectors SET last_sequence = $2 WHERE id = $1",
                    &[&id, &event.sequence],
                )
                .await?;
            }
            CollectorEvent::CollectorDeleted { .. } => {
                tx.execute("DELETE FROM rm_collectors WHERE id = $1", &[&id])
                    .await?;
                tx.execute(
                    "DELETE FROM rm_collector_instances WHERE collector_id = $1",
                    &[&id],
                )
                .await?;
            }
        }
        Ok(())
    }
}
