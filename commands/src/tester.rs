//! The connection tester: connects to a managed instance the way the user configured it and
//! says, in words a person understands, what happened.
//!
//! - The connection is built with tokio-postgres's config builder: nothing is escaped or
//!   concatenated by hand, so a password with quotes, spaces or `=` is just a password.
//! - `sslmode` is honoured as libpq does: `disable` never uses TLS; `prefer` tries TLS and
//!   falls back; `require` insists on TLS without verifying the certificate; `verify-ca` verifies
//!   the chain against the system's trusted roots; `verify-full` verifies chain and host name.
//! - Each attempt is bounded by the instance's `connect_timeout_s` (connect and first query),
//!   itself at most [`CONNECT_TIMEOUT_MAX_S`].
//! - A host that is a Unix-socket directory is refused unless the admin setting allows them.
//! - A stored password opens only for the instance and target it was sealed for.
//! - Failures are classified: authentication → `invalid_credentials`; refused, DNS, timeout, TLS,
//!   anything else → `error`. The password never appears in a message.

use std::time::{Duration, Instant};

use domain::managed_instance::{
    ConnectionOutcome, ConnectionSpec, ConnectionStatus, InstanceServices, ManagedInstanceError,
    SealedCredential, CONNECT_TIMEOUT_MAX_S,
};
use pgconn::{ConnectError, PgConnector};
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use crate::credentials::CredentialCipher;

/// Tests connections; also the ManagedInstance aggregate's services.
#[derive(Clone)]
pub struct ConnectionTester {
    cipher: Option<CredentialCipher>,
    connector: PgConnector,
    unix_sockets: bool,
}

impl ConnectionTester {
    /// A tester opening credentials with `cipher` and trusting the system's root certificates.
    pub fn new(cipher: Option<CredentialCipher>) -> Self {
        Self {
            cipher,
            connector: PgConnector::new(),
            unix_sockets: false,
        }
    }

    /// Allows (or not: the default) hosts that are Unix-socket directories
    /// (`PGA_ALLOW_UNIX_SOCKET_HOSTS`).
    #[must_use]
    pub fn with_unix_sockets(mut self, allowed: bool) -> Self {
        self.unix_sockets = allowed;
        self
    }

    /// Refuses a spec this server may not connect to.
    ///
    /// # Errors
    /// [`ManagedInstanceError::UnixSocketHostNotAllowed`].
    pub fn check_target(&self, spec: &ConnectionSpec) -> Result<(), ManagedInstanceError> {
        if spec.is_unix_socket() && !self.unix_sockets {
            return Err(ManagedInstanceError::UnixSocketHostNotAllowed(
                spec.host.clone(),
            ));
        }
        Ok(())
    }

    /// The cipher, when a key is configured.
    pub fn cipher(&self) -> Option<&CredentialCipher> {
        self.cipher.as_ref()
    }

    /// Connects with a plaintext password (or none) and classifies the result.
    // Over 60 lines on purpose: the connection attempt and the classification of every way it can fail.
    pub async fn test_plain(
        &self,
        spec: &ConnectionSpec,
        password: Option<&str>,
    ) -> ConnectionOutcome {
        if let Err(e) = self.check_target(spec) {
            return not_attempted(e.to_string());
        }
        let started = Instant::now();
        // Parsing bounds it already; this keeps any other path (a hand-built spec) bounded too.
        let timeout_s = spec.connect_timeout_s.clamp(1, CONNECT_TIMEOUT_MAX_S);
        let timeout = Duration::from_secs(u64::from(timeout_s));
        let mut config = tokio_postgres::Config::new();
        config
            .host(&spec.host)
            .port(spec.port)
            .dbname(&spec.database)
            .user(&spec.username)
            .application_name("pganalytics-connection-test")
            .connect_timeout(timeout);
        if let Some(password) = password {
            config.password(password);
        }
        let attempt = async {
            let client = match self.connector.connect(config, spec.sslmode).await {
                Ok(client) => client,
                Err(ConnectError::Tls(message)) => return Ok(Err(message)),
                Err(ConnectError::Postgres(e)) => return Err(e),
            };
            let row = client
                .query_one(
                    "SELECT current_setting('server_version'),
                            (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())",
                    &[],
                )
                .await?;
            Ok::<_, tokio_postgres::Error>(Ok((
                row.get::<_, String>(0),
                row.get::<_, Option<bool>>(1),
            )))
        };
        let result = tokio::time::timeout(timeout, attempt).await;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let (status, (server_version, tls), error) = match result {
            Ok(Ok(Ok((version, tls)))) => (ConnectionStatus::Connected, (Some(version), tls), None),
            Ok(Ok(Err(message))) => (ConnectionStatus::Error, (None, None), Some(message)),
            Ok(Err(e)) => {
                let (status, message) = classify(&e, spec);
                (status, (None, None), Some(message))
            }
            Err(_) => (
                ConnectionStatus::Error,
                (None, None),
                Some(format!(
                    "no answer from {}:{} within {timeout_s} s (connect_timeout_s)",
                    spec.host, spec.port
                )),
            ),
        };
        let error = error.map(|m| redact(&m, password));
        ConnectionOutcome {
            status,
            latency_ms,
            server_version,
            error,
            tls,
        }
    }
}

/// Defence in depth: no driver message should contain the password, but none ever will.
fn redact(message: &str, password: Option<&str>) -> String {
    match password {
        Some(p) if p.len() >= 3 => message.replace(p, "<password>"),
        _ => message.to_owned(),
    }
}

fn classify(e: &tokio_postgres::Error, spec: &ConnectionSpec) -> (ConnectionStatus, String) {
    let target = format!("{}:{}", spec.host, spec.port);
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        {
            return (
                ConnectionStatus::InvalidCredentials,
                format!("{target} refused the credentials: {}", db.message()),
            );
        }
        return (
            ConnectionStatus::Error,
            format!("{target} answered: {}", db.message()),
        );
    }
    let mut chain = String::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if !chain.is_empty() {
            chain.push_str(": ");
        }
        chain.push_str(&err.to_string());
        source = err.source();
    }
    let lower = chain.to_lowercase();
    let message = if lower.contains("connection refused") {
        format!("connection refused by {target}: nothing listens there, or a firewall said no")
    } else if lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
    {
        format!("host {:?} could not be resolved (DNS)", spec.host)
    } else if lower.contains("timed out") || lower.contains("timeout") {
        format!(
            "no answer from {target} within {} s (connect_timeout_s)",
            spec.connect_timeout_s
        )
    } else if lower.contains("server does not support tls") {
        format!(
            "{target} does not offer TLS, and sslmode={} requires it",
            spec.sslmode.as_str()
        )
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
        format!(
            "TLS with {target} failed (sslmode={}): {chain}",
            spec.sslmode.as_str()
        )
    } else {
        format!("could not connect to {target}: {chain}")
    };
    (ConnectionStatus::Error, message)
}

#[async_trait::async_trait]
impl InstanceServices for ConnectionTester {
    async fn test_connection(
        &self,
        instance: Uuid,
        spec: &ConnectionSpec,
        credential: Option<&SealedCredential>,
    ) -> ConnectionOutcome {
        let password = match (credential, &self.cipher) {
            (None, _) => None,
            (Some(sealed), Some(cipher)) => {
                match cipher.open(sealed, &spec.credential_binding(instance)) {
                    Ok(p) => Some(p),
                    Err(e) => return not_attempted(e.to_string()),
                }
            }
            (Some(_), None) => {
                return not_attempted(
                    "PGA_ENCRYPTION_KEY is not set, so the stored password cannot be read".into(),
                )
            }
        };
        self.test_plain(spec, password.as_deref()).await
    }

    fn reseal(
        &self,
        credential: &SealedCredential,
        instance: Uuid,
        spec: &ConnectionSpec,
    ) -> Result<Option<SealedCredential>, String> {
        let cipher = self
            .cipher
            .as_ref()
            .ok_or_else(|| "PGA_ENCRYPTION_KEY is not set".to_owned())?;
        cipher
            .reseal(credential, &spec.credential_binding(instance))
            .map_err(|e| e.to_string())
    }

    fn unix_sockets_allowed(&self) -> bool {
        self.unix_sockets
    }
}

fn not_attempted(message: String) -> ConnectionOutcome {
    ConnectionOutcome {
        status: ConnectionStatus::Error,
        latency_ms: 0.0,
        server_version: None,
        error: Some(message),
        tls: None,
    }
}
