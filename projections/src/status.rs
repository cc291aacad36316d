//! How far each projection got, for `GET /api/v1/health`.

use async_nats::jetstream;
use deadpool_postgres::Pool;
use domain::bus::BusNames;
use serde::Serialize;

use std::collections::HashMap;

use crate::runtime::partition_key;
use std::time::Duration;

use crate::workers::{legacy_stream_exists, Plan};

/// One projection's progress.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProjectionStatus {
    /// Projection name, with `.p<NN>` for one metric partition.
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

/// What one runner reads and where its checkpoint is: a projection on one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// Checkpoint key: the projection's name, or `<name>.p<NN>` for a metric partition.
    pub key: String,
    /// The stream.
    pub stream: String,
}

/// Every feed of `plan`: the domain-event projections on the events stream, each metrics
/// projection on each partition, and on the stream of earlier versions when `legacy`.
pub fn feeds(plan: &Plan, names: &BusNames, legacy: bool) -> Vec<Feed> {
    let metrics = (plan.metrics)();
    let mut out: Vec<Feed> = plan
        .events
        .iter()
        .map(|p| Feed {
            key: p.name().to_owned(),
            stream: p.source().stream_name(names),
        })
        .collect();
    for partition in 0..names.partitions() {
        out.extend(metrics.iter().map(|p| Feed {
            key: partition_key(p.name(), partition),
            stream: names.metrics_partition_stream(partition),
        }));
    }
    if legacy {
        out.extend(metrics.iter().map(|p| Feed {
            key: p.name().to_owned(),
            stream: names.metrics_stream(),
        }));
    }
    out
}

/// Reads checkpoints from PostgreSQL and stream heads from JetStream, for every feed of `plan`
/// (the unpartitioned metrics stream of earlier versions only while it exists).
///
/// # Errors
/// The PostgreSQL error; JetStream failures only leave `stream_head` empty.
pub async fn projection_status(
    pool: &Pool,
    jetstream: &jetstream::Context,
    names: &BusNames,
    plan: &Plan,
) -> Result<Vec<ProjectionStatus>, anyhow::Error> {
    let legacy = legacy_stream_exists(jetstream, names, Duration::from_millis(500))
        .await
        .unwrap_or(false);
    let feeds = feeds(plan, names, legacy);
    let mut streams: Vec<String> = feeds.iter().map(|f| f.stream.clone()).collect();
    streams.sort();
    streams.dedup();
    // One request per stream (`get_stream` answers with the stream's info), all at once.
    let heads: HashMap<String, Option<u64>> =
        futures::future::join_all(streams.into_iter().map(|name| async move {
            let head = match jetstream.get_stream(&name).await {
                Ok(stream) => Some(stream.cached_info().state.last_sequence),
                Err(_) => None,
            };
            (name, head)
        }))
        .await
        .into_iter()
        .collect();
    let client = pool.get().await?;
    let checkpoints: HashMap<String, i64> = client
        .query(
            "SELECT projection, stream_sequence FROM projection_checkpoints",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let rejected: HashMap<String, i64> = client
        .query(
            "SELECT projection, count(*) FROM projection_rejected GROUP BY projection",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let parked: HashMap<String, (i64, Option<i64>)> = client
        .query(
            "SELECT projection, count(*), extract(epoch FROM now() - min(parked_at))::int8
               FROM projection_parked GROUP BY projection",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    Ok(feeds
        .into_iter()
        .map(|feed| {
            let checkpoint =
                u64::try_from(checkpoints.get(&feed.key).copied().unwrap_or(0)).unwrap_or(0);
            let head = heads.get(&feed.stream).copied().flatten();
            let (parked, oldest_parked_s) = parked.get(&feed.key).copied().unwrap_or((0, None));
            ProjectionStatus {
                checkpoint,
                stream_head: head,
                lag: head.map(|h| h.saturating_sub(checkpoint)),
                rejected: rejected.get(&feed.key).copied().unwrap_or(0),
                parked,
                oldest_parked_s,
                name: feed.key,
            }
        })
        .collect())
}
