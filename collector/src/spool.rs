//! The durable spool: every batch is written here before it is sent and removed once the server
//! (or JetStream) acknowledged it, so a batch survives an outage and a restart of the
//! collector alike.
//!
//! One file per batch, `<seq>-<created unix ms>.json.gz`, written to a temporary name, synced and
//! renamed. Caps on total bytes and on age: past them the oldest batches are dropped and counted
//! (the count is kept in `dropped` and reported as `pga_collector_spool_dropped_total`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One spooled batch.
#[derive(Debug, Clone, Copy)]
struct Entry {
    size: u64,
    created_ms: u64,
}

/// The spool folder and what it holds.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    max_age: Duration,
    entries: BTreeMap<u64, Entry>,
    bytes: u64,
    next_seq: u64,
    dropped_total: u64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Spool {
    /// Opens (or creates, mode 0700) the folder and indexes what an earlier run left.
    ///
    /// # Errors
    /// When the folder cannot be created or read.
    pub fn open(dir: &Path, max_bytes: u64, max_age: Duration) -> anyhow::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        if !dir.exists() {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("cannot create the spool {}: {e}", dir.display()))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let mut entries = BTreeMap::new();
        let mut bytes = 0;
        for item in std::fs::read_dir(dir)
            .map_err(|e| anyhow::anyhow!("cannot read the spool {}: {e}", dir.display()))?
        {
            let item = item?;
            let name = item.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") {
                // A write that a crash interrupted: never acknowledged to anyone.
                let _ = std::fs::remove_file(item.path());
                continue;
            }
            let Some((seq, created_ms)) = parse_name(&name) else {
                continue;
            };
            let size = item.metadata()?.len();
            bytes += size;
            entries.insert(seq, Entry { size, created_ms });
        }
        let next_seq = entries.keys().next_back().map_or(1, |s| s + 1);
        let dropped_total = std::fs::read_to_string(dir.join("dropped"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        Ok(Self {
            dir: dir.to_owned(),
            max_bytes,
            max_age,
            entries,
            bytes,
            next_seq,
            dropped_total,
        })
    }

    fn path(&self, seq: u64, entry: Entry) -> PathBuf {
        self.dir
            .join(format!("{seq:020}-{}.json.gz", entry.created_ms))
    }

    /// Stores a (compressed) batch and applies the caps; returns its sequence number.
    ///
    /// # Errors
    /// When the file cannot be written (disk full, say): the caller still has the batch.
    pub fn push(&mut self, body: &[u8]) -> anyhow::Result<u64> {
        let seq = self.next_seq;
        let entry = Entry {
            size: body.len() as u64,
            created_ms: now_ms(),
        };
        let path = self.path(seq, entry);
        let tmp = path.with_extension("tmp");
        let mut file = std::fs::File::create(&tmp)
            .map_err(|e| anyhow::anyhow!("cannot write to the spool: {e}"))?;
        file.write_all(body)?;
        file.sync_data()?;
        std::fs::rename(&tmp, &path)?;
        self.next_seq += 1;
        self.entries.insert(seq, entry);
        self.bytes += entry.size;
        self.enforce_caps();
        Ok(seq)
    }

    /// Drops the oldest batches while the spool is over its byte cap or holds batches older
    /// than its age cap (the newest batch always stays); returns how many it dropped.
    pub fn enforce_caps(&mut self) -> u64 {
        let oldest_allowed =
            now_ms().saturating_sub(u64::try_from(self.max_age.as_millis()).unwrap_or(u64::MAX));
        let mut dropped = 0;
        while self.entries.len() > 1 {
            let Some((&seq, &entry)) = self.entries.iter().next() else {
                break;
            };
            if self.bytes <= self.max_bytes && entry.created_ms >= oldest_allowed {
                break;
            }
            self.remove(seq);
            dropped += 1;
        }
        if dropped > 0 {
            self.dropped_total += dropped;
            let _ = std::fs::write(self.dir.join("dropped"), self.dropped_total.to_string());
            tracing::warn!(
                dropped,
                dropped_total = self.dropped_total,
                "spool over its cap: the oldest batches were dropped"
            );
        }
        dropped
    }

    /// The oldest batch's sequence number.
    pub fn oldest(&self) -> Option<u64> {
        self.entries.keys().next().copied()
    }

    /// Whether `seq` is still spooled.
    pub fn contains(&self, seq: u64) -> bool {
        self.entries.contains_key(&seq)
    }

    /// A spooled batch's bytes; `None` when it is gone (sent or dropped meanwhile).
    ///
    /// # Errors
    /// When the file exists but cannot be read.
    pub fn read(&self, seq: u64) -> anyhow::Result<Option<Vec<u8>>> {
        let Some(&entry) = self.entries.get(&seq) else {
            return Ok(None);
        };
        match std::fs::read(self.path(seq, entry)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Forgets a batch (sent, or dropped).
    pub fn remove(&mut self, seq: u64) {
        if let Some(entry) = self.entries.remove(&seq) {
            let _ = std::fs::remove_file(self.path(seq, entry));
            self.bytes -= entry.size;
        }
    }

    /// Batches held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Batches dropped by the caps since the spool was created.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_total
    }
}

fn parse_name(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(".json.gz")?;
    let (seq, created) = stem.split_once('-')?;
    Some((seq.parse().ok()?, created.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_cap_drops_the_oldest_and_counts_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Room for three 100-byte batches.
        let mut spool = Spool::open(dir.path(), 300, Duration::from_secs(3600)).expect("open");
        for i in 0..10u8 {
            spool.push(&[i; 100]).expect("push");
        }
        assert_eq!(spool.len(), 3);
        assert_eq!(spool.bytes(), 300);
        assert_eq!(spool.dropped_total(), 7);
        // The newest three remain, oldest first.
        let first = spool.oldest().expect("oldest");
        assert_eq!(spool.read(first).expect("read").expect("there")[0], 7);

        // The count and the batches survive a restart; new numbers continue after the old.
        drop(spool);
        std::fs::write(dir.path().join("00000000000000000099-1.json.tmp"), b"half").expect("tmp");
        let mut spool = Spool::open(dir.path(), 300, Duration::from_secs(3600)).expect("reopen");
        assert_eq!(spool.len(), 3);
        assert_eq!(spool.dropped_total(), 7);
        assert!(!dir.path().join("00000000000000000099-1.json.tmp").exists());
        let seq = spool.push(&[42; 100]).expect("push");
        assert_eq!(seq, 11);
        assert_eq!(spool.dropped_total(), 8);
        let oldest = spool.oldest().expect("oldest");
        spool.remove(oldest);
        assert_eq!(spool.len(), 2);
        assert_eq!(spool.read(oldest).expect("read"), None);
    }

    #[test]
    fn age_cap_drops_old_batches() {
        let dir = tempfile::tempdir().expect("tempdir");
        let old = now_ms() - 10_000;
        std::fs::write(dir.path().join(format!("{:020}-{old}.json.gz", 1)), b"old").expect("w");
        let mut spool = Spool::open(dir.path(), 1 << 20, Duration::from_secs(5)).expect("open");
        assert_eq!(spool.len(), 1);
        spool.push(b"new").expect("push");
        assert_eq!(spool.len(), 1, "the old batch went");
        assert_eq!(spool.dropped_total(), 1);
        assert_eq!(spool.read(2).expect("read").as_deref(), Some(&b"new"[..]));
    }
}
