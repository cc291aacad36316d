//! The state file: the collector's id and refresh secret, written once at registration,
//! readable only by the collector's user (mode 0600), replaced atomically.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// What survives a restart.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    /// The collector's id.
    pub collector_id: String,
    /// Exchanged for tokens; never logged.
    pub refresh_secret: String,
    /// The server it registered with.
    pub server_url: String,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("collector_id", &self.collector_id)
            .field("server_url", &self.server_url)
            .finish_non_exhaustive()
    }
}

impl State {
    /// Reads the file; `None` when it does not exist. A file others can read is tightened to
    /// 0600 (with a warning) before it is used.
    ///
    /// # Errors
    /// When the file exists but cannot be read or parsed.
    pub fn load(path: &Path) -> anyhow::Result<Option<Self>> {
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => anyhow::bail!("cannot read the state file {}: {e}", path.display()),
        };
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                "the state file was readable by others; restricting it to its owner"
            );
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
        let text = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("cannot read the state file {}: {e}", path.display()))?;
        let state = serde_json::from_slice(&text).map_err(|e| {
            anyhow::anyhow!(
                "the state file {} is damaged ({e}); move it away to register again",
                path.display()
            )
        })?;
        Ok(Some(state))
    }

    /// Writes the file atomically with mode 0600, creating its folder (0700).
    ///
    /// # Errors
    /// When the folder or file cannot be written.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::create_dir_all(dir)?;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            }
        }
        let tmp = path.with_extension("tmp");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
        file.write_all(&serde_json::to_vec_pretty(self)?)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_owner_only_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/state.json");
        assert_eq!(State::load(&path).expect("load"), None);
        let state = State {
            collector_id: "c1".into(),
            refresh_secret: "pgcr_secret".into(),
            server_url: "http://x".into(),
        };
        state.save(&path).expect("save");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(State::load(&path).expect("load"), Some(state.clone()));
        assert!(!format!("{state:?}").contains("pgcr_secret"));

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        State::load(&path).expect("load");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "tightened");

        std::fs::write(&path, "{").expect("write");
        let e = State::load(&path).expect_err("damaged");
        assert!(e.to_string().contains("damaged"));
    }
}
