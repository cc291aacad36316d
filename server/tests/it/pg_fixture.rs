//! A second, private PostgreSQL server for connection tests: password authentication
//! (scram-sha-256) and TLS with a self-signed certificate, on a free port.

#![allow(unreachable_pub)]

use std::path::PathBuf;
use std::process::Command;

pub struct PrivatePostgres {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
}

pub const ROLE: &str = "pga_tester";
/// Quotes, spaces, `=` and a backslash: a password a hand-built connection string breaks on.
pub const PASSWORD: &str = "it's a \"p w\"=x;\\ y";

fn find_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries in /usr/lib/postgresql")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().expect("an initdb")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

impl PrivatePostgres {
    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let status = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(args)
                .status()
        } else {
            Command::new(&exe).args(args).status()
        }
        .expect("run postgres tool");
        assert!(status.success(), "{program} {args:?} failed");
    }

    pub fn start() -> Self {
        let port = super::faults::free_port();
        let dir = std::env::temp_dir().join(format!("pga-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        let me = Self {
            port,
            dir: dir.clone(),
            bin: find_bin(),
            as_postgres: is_root(),
        };
        let data = dir.join("data");
        let pwfile = dir.join("pw");
        std::fs::write(&pwfile, "superpass\n").expect("pwfile");
        if me.as_postgres {
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .expect("chown");
        }
        let d = data.to_str().expect("utf8");
        me.run(
            "initdb",
            &[
                "-D",
                d,
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                &format!("--pwfile={}", pwfile.display()),
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let cert = data.join("server.crt");
        let key = data.join("server.key");
        let status = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl");
        assert!(status.success());
        if me.as_postgres {
            Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&cert)
                .arg(&key)
                .status()
                .expect("chown");
        }
        Command::new("chmod")
            .arg("600")
            .arg(&key)
            .status()
            .expect("chmod");
        let conf = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nfsync = off\nshared_preload_libraries = 'pg_stat_statements'\n",
            dir.display()
        );
        let mut existing = std::fs::read_to_string(data.join("postgresql.conf")).expect("conf");
        existing.push_str(&conf);
        std::fs::write(data.join("postgresql.conf"), existing).expect("write conf");
        me.run(
            "pg_ctl",
            &[
                "-D",
                d,
                "-l",
                dir.join("log").to_str().expect("utf8"),
                "-w",
                "start",
            ],
        );
        me.psql(&format!(
            "CREATE ROLE {ROLE} LOGIN PASSWORD '{}'",
            PASSWORD.replace('\'', "''")
        ));
        me
    }

    /// A superuser URL for `db` over TCP, without TLS.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres:superpass@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    pub fn psql(&self, sql: &str) {
        let psql = self.bin.join("psql");
        let host = self.dir.to_str().expect("utf8").to_owned();
        let port = self.port.to_string();
        let args = [
            "-h",
            host.as_str(),
            "-p",
            port.as_str(),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-qAtc",
            sql,
        ];
        let status = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&psql)
                .args(args)
                .status()
        } else {
            Command::new(&psql).args(args).status()
        }
        .expect("psql");
        assert!(status.success(), "psql {sql}");
    }

    /// Turns TLS off (a reload suffices since PostgreSQL 10).
    pub fn disable_tls(&self) {
        self.psql("ALTER SYSTEM SET ssl = off");
        self.psql("SELECT pg_reload_conf()");
    }

    pub fn stop(&self) {
        let data = self.dir.join("data");
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().expect("utf8"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    pub fn restart(&self) {
        let data = self.dir.join("data");
        let log = self.dir.join("log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().expect("utf8"),
                "-l",
                log.to_str().expect("utf8"),
                "-w",
                "start",
            ],
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let exe = self.bin.join("pg_ctl");
        let args = [
            "-D",
            data.to_str().unwrap_or_default(),
            "-m",
            "immediate",
            "stop",
        ];
        let _ = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(args)
                .output()
        } else {
            Command::new(&exe).args(args).output()
        };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
