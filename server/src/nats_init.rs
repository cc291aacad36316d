//! `pganalytics nats-init`: the files of an operator-mode NATS deployment, written once.
//!
//! Three folders, so that each party gets only what it needs:
//! - `--dir` (for nats-server): `nats-server.conf` (listen address, JetStream store,
//!   `include auth.conf`) and `auth.conf` (the operator and the accounts: public JWTs only);
//! - `--server-dir` (for pgAnalytics, default `<dir>/server`): `pganalytics.creds`, the server's
//!   own NATS credential, and `pganalytics.env` (`PGA_NATS_URL`, `PGA_NATS_CREDS`,
//!   `PGA_NATS_COLLECTOR_ACCOUNT`, `PGA_NATS_COLLECTOR_SIGNING_KEY`);
//! - `--offline-dir` (default `<dir>/offline`): the operator's and the app account's seeds, to
//!   keep offline: only re-issuing accounts or the server's credential needs them.
//!
//! Secrets are written with mode 0600, each file through a temporary name and a rename, and
//! `auth.conf` last: it marks a complete set, which is never overwritten (every collector's NATS
//! credential is signed under it). A run that stopped half-way can simply be run again.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use commands::nats_auth::NatsSetup;

/// Where and how to write the files.
pub struct NatsInit {
    /// nats-server's folder (created if missing).
    pub dir: PathBuf,
    /// The server's folder (default `<dir>/server`).
    pub server_dir: Option<PathBuf>,
    /// The seeds to keep offline (default `<dir>/offline`).
    pub offline_dir: Option<PathBuf>,
    /// The address nats-server listens on.
    pub listen: SocketAddr,
    /// JetStream's store (default: `<dir>/jetstream`).
    pub store_dir: Option<PathBuf>,
}

/// What [`NatsInit::run`] wrote.
#[derive(Debug)]
pub struct Written {
    /// nats-server's configuration.
    pub nats_config: PathBuf,
    /// The variables the server needs.
    pub server_env: PathBuf,
}

fn write(path: &Path, contents: &str, secret: bool) -> anyhow::Result<()> {
    let temporary = path.with_extension("partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options
        .open(&temporary)
        .with_context(|| format!("writing {}", temporary.display()))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("writing {}", path.display()))
}

/// Creates `path` (owner-only when it holds `secret`s) and resolves it.
fn folder(path: &Path, secret: bool) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    path.canonicalize()
        .with_context(|| format!("resolving {}", path.display()))
}

impl NatsInit {
    /// Generates the keys and writes the files.
    ///
    /// # Errors
    /// When the folder already holds a complete set, or a file cannot be written.
    // Over 60 lines on purpose: the files in the order they must be written: secrets first, the marker (auth.conf) last.
    pub fn run(&self) -> anyhow::Result<Written> {
        let dir = folder(&self.dir, false)?;
        let marker = dir.join("auth.conf");
        if marker.exists() {
            anyhow::bail!(
                "{} already holds a NATS set-up; every collector's NATS credential is signed \
                 under it. Remove the folders to start over (collectors then register again)",
                dir.display()
            );
        }
        let server_dir = folder(
            &self
                .server_dir
                .clone()
                .unwrap_or_else(|| dir.join("server")),
            true,
        )?;
        let offline_dir = folder(
            &self
                .offline_dir
                .clone()
                .unwrap_or_else(|| dir.join("offline")),
            true,
        )?;
        let setup = NatsSetup::generate("pganalytics")?;
        let store = self
            .store_dir
            .clone()
            .unwrap_or_else(|| dir.join("jetstream"));

        write(&offline_dir.join("operator.nk"), &setup.operator_seed, true)?;
        write(
            &offline_dir.join("app-account.nk"),
            &setup.app_account_seed,
            true,
        )?;
        let creds = server_dir.join("pganalytics.creds");
        write(&creds, &setup.server_creds, true)?;
        let server_env = server_dir.join("pganalytics.env");
        write(
            &server_env,
            &format!(
                "PGA_NATS_URL=nats://{}\nPGA_NATS_CREDS={}\nPGA_NATS_COLLECTOR_ACCOUNT={}\n\
                 PGA_NATS_COLLECTOR_SIGNING_KEY={}\n",
                self.listen,
                creds.display(),
                setup.collector_account.0,
                setup.collector_signing_seed
            ),
            true,
        )?;
        let nats_config = dir.join("nats-server.conf");
        write(
            &nats_config,
            &format!(
                "# nats-server for pgAnalytics, generated by `pganalytics nats-init`.\n\
                 listen: \"{}\"\n\
                 jetstream {{\n  store_dir: \"{}\"\n}}\n\
                 include auth.conf\n",
                self.listen,
                store.display(),
            ),
            false,
        )?;
        write(&marker, &setup.server_config(), false)?;
        Ok(Written {
            nats_config,
            server_env,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_each_part_for_its_reader_once_and_never_over_a_complete_set() {
        let root = tempfile::tempdir().expect("temp dir");
        let init = NatsInit {
            dir: root.path().join("nats"),
            server_dir: None,
            offline_dir: None,
            listen: "127.0.0.1:4222".parse().expect("addr"),
            store_dir: None,
        };
        let written = init.run().expect("first run");
        let env = std::fs::read_to_string(&written.server_env).expect("env");
        assert!(env.contains("PGA_NATS_COLLECTOR_SIGNING_KEY=SA"));
        let public = std::fs::read_to_string(root.path().join("nats/auth.conf")).expect("auth");
        let seeds = [
            std::fs::read_to_string(root.path().join("nats/offline/operator.nk")).expect("seed"),
            std::fs::read_to_string(root.path().join("nats/offline/app-account.nk")).expect("seed"),
            env.lines()
                .find_map(|l| l.strip_prefix("PGA_NATS_COLLECTOR_SIGNING_KEY="))
                .expect("key")
                .to_owned(),
        ];
        assert!(seeds.iter().all(|seed| !public.contains(seed.trim())));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &str| {
                std::fs::metadata(root.path().join(p))
                    .expect("file")
                    .permissions()
                    .mode()
                    & 0o777
            };
            assert_eq!(mode("nats/server/pganalytics.creds"), 0o600);
            assert_eq!(mode("nats/offline/operator.nk"), 0o600);
            assert_eq!(mode("nats/server"), 0o700);
        }
        let again = init.run().expect_err("a second run");
        assert!(again.to_string().contains("already holds"), "{again}");
    }
}
