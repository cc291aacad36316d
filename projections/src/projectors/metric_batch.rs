//! What every metrics projector does first with a message from `PGA_METRICS`: verify who sent
//! it, parse it (once for all of them), and claim its batch id against the collector still being
//! registered.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use domain::collector::CollectorTokenVerifier;
use domain::metrics::compact::{read_payload, StreamBatch};
use domain::metrics::TOKEN_HEADER;
use tokio_postgres::Transaction;

use crate::runtime::{ApplyError, Delivered};

/// Parsed batches shared by the metrics projectors: each of them reads every message, and
/// parsing a 2,000-point batch costs more than everything else they do with it in Rust.
/// An entry is dropped once every projector took it, or when newer ones push it out (a
/// projector far behind, or a replay of one projection alone, parses for itself).
pub struct ParsedBatches {
    readers: u8,
    kept: usize,
    entries: Mutex<VecDeque<Entry>>,
}

struct Entry {
    key: Key,
    batch: Arc<StreamBatch>,
    taken: u8,
}

/// A message's identity on the stream it came from.
type Key = (u64, i64, usize);

/// Entries kept at most by one cache.
const KEPT: usize = 32;

impl ParsedBatches {
    /// A cache for `readers` projectors, keeping at most [`KEPT`] batches.
    pub fn new(readers: u8) -> Arc<Self> {
        Self::with_room(readers, KEPT)
    }

    /// A cache for `readers` projectors keeping at most `kept` batches (each over 1 MB parsed:
    /// with one cache per metric partition, this bounds the memory).
    pub fn with_room(readers: u8, kept: usize) -> Arc<Self> {
        let kept = kept.clamp(1, KEPT);
        Arc::new(Self {
            readers: readers.max(1),
            kept,
            entries: Mutex::new(VecDeque::with_capacity(kept)),
        })
    }

    fn take(&self, key: Key) -> Option<Arc<StreamBatch>> {
        let mut entries = self.entries.lock().ok()?;
        let at = entries.iter().position(|e| e.key == key)?;
        let entry = &mut entries[at];
        entry.taken += 1;
        let batch = entry.batch.clone();
        if entry.taken >= self.readers {
            entries.remove(at);
        }
        Some(batch)
    }

    fn put(&self, key: Key, batch: Arc<StreamBatch>) {
        if self.readers <= 1 {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.kept {
                entries.pop_front();
            }
            entries.push_back(Entry {
                key,
                batch,
                taken: 1,
            });
        }
    }

    /// The message's batch, parsed here or by another reader.
    fn parse(&self, message: &Delivered) -> Result<Arc<StreamBatch>, String> {
        let key = (
            message.stream_sequence,
            message.published.timestamp_micros(),
            message.payload.len(),
        );
        if let Some(batch) = self.take(key) {
            return Ok(batch);
        }
        // The bridge publishes the compact encoding; a collector on NATS may publish it or
        // either JSON format (a v3 payload gets the same content id the bridge derives). All
        // are checked the same way, samples against the time JetStream stored the message,
        // whichever path it came by.
        let batch = Arc::new(
            read_payload(&message.payload, message.published)
                .map_err(|e| format!("not a metric batch: {e}"))?,
        );
        self.put(key, batch.clone());
        Ok(batch)
    }
}

/// What a projector gathered over the current batch of messages, taken out for `flush` (or
/// dropped after a rollback), leaving it empty.
pub(crate) fn take_pending<T: Default>(pending: &Mutex<T>) -> T {
    pending
        .lock()
        .map(|mut p| std::mem::take(&mut *p))
        .unwrap_or_default()
}

/// A message's batch and its collector, verified: token signature and validity when it reached
/// JetStream, subject matching the token's collector, batch naming the same collector.
///
/// # Errors
/// [`ApplyError::Reject`] with the reason.
pub(crate) fn verified_batch(
    verifier: &dyn CollectorTokenVerifier,
    parsed: &ParsedBatches,
    message: &Delivered,
) -> Result<(Arc<StreamBatch>, uuid::Uuid), ApplyError> {
    let reject = |m: String| ApplyError::Reject(m);
    // `<prefix>-p<NN>.metrics.<collector_id>` on a partition's stream, or
    // `<prefix>.metrics.<collector_id>` on the unpartitioned stream of earlier versions.
    let subject_id = domain::bus::parse_metrics_subject(&message.subject)
        .map(|(_, id)| id)
        .or_else(|| {
            message
                .subject
                .rsplit_once(".metrics.")
                .map(|(_, id)| id)
                .filter(|id| !id.is_empty() && !id.contains('.'))
        })
        .ok_or_else(|| {
            reject(format!(
                "subject {} is not <prefix>-p<partition>.metrics.<collector_id>",
                message.subject
            ))
        })?;
    let token = message
        .headers
        .as_ref()
        .and_then(|h| h.get(TOKEN_HEADER))
        .map(|v| v.as_str())
        .ok_or_else(|| reject(format!("no {TOKEN_HEADER} header")))?;
    let token_id = verifier
        .verify(token, message.published)
        .map_err(|e| reject(format!("collector token refused: {e}")))?;
    if token_id != subject_id {
        return Err(reject(format!(
            "subject names collector {subject_id} but the token belongs to {token_id}"
        )));
    }
    let batch = parsed.parse(message).map_err(reject)?;
    if batch.collector_id() != subject_id {
        return Err(reject(format!(
            "batch says collector {} but was sent by {subject_id}",
            batch.collector_id()
        )));
    }
    let id = uuid::Uuid::parse_str(subject_id)
        .map_err(|_| reject(format!("collector id {subject_id:?} is not a UUID")))?;
    Ok((batch, id))
}

/// Records `batch_id` in the projection's `applied` table if its collector is still registered
/// and may report `instance`, in one round trip. `Ok(true)`: first time, apply it; `Ok(false)`:
/// applied before, skip.
///
/// Who may report what: a collector bound to instances (`rm_collector_instances`) only those,
/// named as their managed instance is; a collector bound to none may not report a managed
/// instance, only names no managed instance has (what collectors did before bindings existed;
/// such data is never shown on a managed instance's page).
///
/// # Errors
/// [`ApplyError::Reject`] when the collector is deleted or unknown, or may not report the
/// instance; the database error.
pub(crate) async fn claim(
    tx: &Transaction<'_>,
    insert_applied: &str,
    batch_id: &str,
    collector: uuid::Uuid,
    instance: &str,
) -> Result<bool, ApplyError> {
    let sql = format!(
        "WITH b AS (SELECT
                  EXISTS (SELECT 1 FROM rm_collectors WHERE id = $2) AS known,
                  EXISTS (SELECT 1 FROM rm_collector_instances ci
                            JOIN rm_managed_instances m ON m.id = ci.instance_id
                           WHERE ci.collector_id = $2 AND m.name = $3::text) AS bound,
                  EXISTS (SELECT 1 FROM rm_collector_instances WHERE collector_id = $2) AS scoped,
                  EXISTS (SELECT 1 FROM rm_managed_instances WHERE name = $3::text) AS managed),
              c AS (SELECT known AND (bound OR NOT (scoped OR managed)) AS ok FROM b),
              i AS ({insert_applied} ON CONFLICT DO NOTHING RETURNING 1)
         SELECT b.known, c.ok, EXISTS (SELECT 1 FROM i), b.scoped FROM b, c"
    );
    let row = tx
        .query_one(&sql, &[&batch_id, &collector, &instance])
        .await?;
    if !row.get::<_, bool>(0) {
        return Err(ApplyError::Reject(format!(
            "collector {collector} is deleted or unknown"
        )));
    }
    if !row.get::<_, bool>(1) {
        return Err(ApplyError::Reject(
            refusal(tx, collector, instance, row.get(3)).await?,
        ));
    }
    Ok(row.get(2))
}

/// Why `collector` may not report `instance`, in words for the collector's page.
async fn refusal(
    tx: &Transaction<'_>,
    collector: uuid::Uuid,
    instance: &str,
    scoped: bool,
) -> Result<String, tokio_postgres::Error> {
    let how = format!(
        "an admin binds it with PUT /api/v1/collectors/{collector}/instances, or registers it \
         with a registration secret for that instance"
    );
    if !scoped {
        return Ok(format!(
            "instance {instance:?} is a managed instance and collector {collector} is not bound \
             to it; {how}"
        ));
    }
    let names: Vec<String> = tx
        .query(
            "SELECT m.name FROM rm_collector_instances ci
               JOIN rm_managed_instances m ON m.id = ci.instance_id
              WHERE ci.collector_id = $1 ORDER BY m.name",
            &[&collector],
        )
        .await?
        .iter()
        .map(|r| format!("{:?}", r.get::<_, String>(0)))
        .collect();
    let what = if instance.is_empty() {
        "a batch that names no instance".to_owned()
    } else {
        format!("instance {instance:?}")
    };
    Ok(format!(
        "collector {collector} is not bound to {what}; it may report {}; {how}",
        if names.is_empty() {
            "none (its instances were removed)".to_owned()
        } else {
            names.join(", ")
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn message(seq: u64, body: &str) -> Delivered {
        Delivered {
            stream_sequence: seq,
            subject: "p.metrics.c".into(),
            headers: None,
            payload: bytes::Bytes::from(body.to_owned()),
            published: Utc::now(),
        }
    }

    #[test]
    fn both_readers_share_one_parse_and_then_it_is_gone() {
        let cache = ParsedBatches::new(2);
        let m = message(
            7,
            r#"{"batch_id":"b","collector_id":"c","collected_at":"2026-01-01T00:00:00Z","samples":[{"metric":"m","value":1}]}"#,
        );
        let first = cache.parse(&m).expect("parses");
        let second = cache.parse(&m).expect("parses");
        assert!(
            Arc::ptr_eq(&first, &second),
            "the second reader got the first parse"
        );
        assert_eq!(cache.entries.lock().expect("lock").len(), 0);
        // A third read (a replay, say) parses again.
        let third = cache.parse(&m).expect("parses");
        assert!(!Arc::ptr_eq(&first, &third));
        assert_eq!(third.points.len(), 1);
        assert!(cache.parse(&message(8, "not json")).is_err());
    }

    #[test]
    fn the_cache_keeps_a_bounded_number_of_batches() {
        let cache = ParsedBatches::new(2);
        for seq in 0..(KEPT as u64 + 10) {
            let body = format!(
                r#"{{"batch_id":"b{seq}","collector_id":"c","collected_at":"2026-01-01T00:00:00Z","samples":[]}}"#
            );
            cache.parse(&message(seq, &body)).expect("parses");
        }
        assert_eq!(cache.entries.lock().expect("lock").len(), KEPT);
        // One cache per metric partition keeps less.
        let small = ParsedBatches::with_room(2, 8);
        for seq in 0..20 {
            let body = format!(
                r#"{{"batch_id":"b{seq}","collector_id":"c","collected_at":"2026-01-01T00:00:00Z","samples":[]}}"#
            );
            small.parse(&message(seq, &body)).expect("parses");
        }
        assert_eq!(small.entries.lock().expect("lock").len(), 8);
    }
}
