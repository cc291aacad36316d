//! Read-your-writes: wait until the projections have applied a command's events.
//!
//! The old UI showed "Unknown" right after a successful connection test because it read before
//! the write landed. A command endpoint here calls [`wait_applied`] with the sequence its command
//! produced and answers only when every domain projection has applied it (bounded, so a stalled
//! projector delays an answer by at most the timeout, never forever).

use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use domain::AggregateKind;

/// Waits until each projection in `projections` has applied `sequence` of the aggregate.
/// Returns whether it did within `timeout`.
pub async fn wait_applied(
    pool: &Pool,
    projections: &[&str],
    kind: AggregateKind,
    aggregate_id: &str,
    sequence: i64,
    timeout: Duration,
) -> bool {
    let deadline = Instant::now() + timeout;
    let names: Vec<String> = projections.iter().map(|p| (*p).to_owned()).collect();
    let wanted = i64::try_from(names.len()).unwrap_or(i64::MAX);
    let mut delay = Duration::from_millis(5);
    loop {
        if let Ok(client) = pool.get().await {
            let done = client
                .query_one(
                    "SELECT count(*) FROM projection_positions
                      WHERE projection = ANY($1) AND aggregate_type = $2 AND aggregate_id = $3
                        AND sequence >= $4",
                    &[&names, &kind.type_name(), &aggregate_id, &sequence],
                )
                .await
                .map(|row| row.get::<_, i64>(0) >= wanted)
                .unwrap_or(false);
            if done {
                return true;
            }
        }
        if Instant::now() + delay > deadline {
            return false;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(50));
    }
}
