//! How far each projection got, for `GET /api/v1/health`.

use async_nats::jetstream;
use deadpool_postgres::Pool;
use domain::bus::BusNames;
use serde::Serialize;

use crate::runtime::Projector;

/// One projection's progress.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProjectionStatus {
    /// Projection name.
    pub name: String,
    /// Last stream sequence applied.
    pub checkpoint: u64,
    /// Last sequence in its stream, when the stream could be read.
    pub stream_head: Option<u64>,
    /// `stream_head - checkpoint`: messages not yet applied.
    pub lag: Option<u64>,
    /// Messages this projection rejected (kept with their reason).
    pub rejected: i64,
    /// Events waiting for an earlier event of their aggregate (normally for a moment only).
    pub parked: i64,
    /// How long the oldest of them has waited, in seconds: a gap that does not close.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_parked_s: Option<i64>,
}

/// Reads checkpoints from PostgreSQL and stream heads from JetStream.
///
/// # Errors
/// The PostgreSQL error; JetStream failures only leave `stream_head` empty.
pub async fn projection_status(
    pool: &Pool,
    jetstream: &jetstream::Context,
    names: &BusNames,
    projectors: &[std::sync::Arc<dyn Projector>],
) -> Result<Vec<ProjectionStatus>, anyhow::Error> {
    let client = pool.get().await?;
    let mut out = Vec::with_capacity(projectors.len());
    for projector in projectors {
        let name = projector.name();
        let checkpoint: i64 = client
            .query_opt(
                "SELECT stream_sequence FROM projection_checkpoints WHERE projection = $1",
                &[&name],
            )
            .await?
            .map_or(0, |r| r.get(0));
        let rejected: i64 = client
            .query_one(
                "SELECT count(*) FROM projection_rejected WHERE projection = $1",
                &[&name],
            )
            .await?
            .get(0);
        let parked = client
            .query_one(
                "SELECT count(*), extract(epoch FROM now() - min(parked_at))::int8
                   FROM projection_parked WHERE projection = $1",
                &[&name],
            )
            .await?;
        let stream_name = projector.source().stream_name(names);
        let head = match jetstream.get_stream(&stream_name).await {
            Ok(mut stream) => stream.info().await.ok().map(|i| i.state.last_sequence),
            Err(_) => None,
        };
        let checkpoint = u64::try_from(checkpoint).unwrap_or(0);
        out.push(ProjectionStatus {
            name: name.to_owned(),
            checkpoint,
            stream_head: head,
            lag: head.map(|h| h.saturating_sub(checkpoint)),
            rejected,
            parked: parked.get(0),
            oldest_parked_s: parked.get(1),
        });
    }
    Ok(out)
}
