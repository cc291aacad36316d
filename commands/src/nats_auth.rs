//! NATS credentials: least privilege enforced by nats-server itself.
//!
//! NATS runs in operator mode (decentralized JWT auth). [`NatsSetup::generate`] makes the trust
//! chain once: an operator, a system account, and the application account whose JetStream holds
//! pgAnalytics' streams. The account has a separate signing key, which the server holds
//! (`PGA_NATS_ACCOUNT_SIGNING_KEY`); with it [`NatsIssuer`] issues each collector a user
//! credential that may publish only to its own `<prefix>.metrics.<collector id>` and receive
//! only on its own inbox (`_INBOX.<collector id>.>`, where JetStream's acks arrive). The
//! credential expires with the collector's token and is renewed with it, so it dies with the
//! collector: once the collector is deleted its refresh secret is refused and no new credential
//! is issued. Only the server's own user (unrestricted inside the account) may publish domain
//! events, use the JetStream API and read the streams.
//!
//! Why this scheme: NATS checks every publish and subscription against the JWT's permissions,
//! so a stolen or hostile collector credential cannot reach another collector's subject, the
//! events, or the streams, whatever the server's own code does. Issuing needs no change to
//! nats-server's configuration (no reload per collector), works with nats-server 2.9 (Debian's;
//! auth callout needs 2.10) and a cluster alike, and the account's identity key and the
//! operator key never reach the running server.

use chrono::{DateTime, Utc};
use domain::bus::BusNames;
use nats_jwt_rs::account::{Account, JetStreamLimits, OperatorLimits};
use nats_jwt_rs::operator::Operator;
use nats_jwt_rs::types::{Permission, Permissions, SigningKey};
use nats_jwt_rs::user::User;
use nats_jwt_rs::Claims;
use nkeys::{KeyPair, KeyPairType};
use uuid::Uuid;

/// A key or JWT that cannot be used, in words.
#[derive(Debug, thiserror::Error)]
pub enum NatsAuthError {
    /// The account signing key is not an account seed (`SA…`).
    #[error("PGA_NATS_ACCOUNT_SIGNING_KEY is not an account nkey seed (it starts with SA): {0}")]
    SigningKey(String),
    /// A creds file without a user JWT and seed, or with a JWT that does not decode.
    #[error("the NATS credentials are not a creds file with a user JWT and seed: {0}")]
    Creds(String),
    /// Signing a JWT failed.
    #[error("could not sign a NATS JWT: {0}")]
    Sign(String),
}

/// The inbox prefix a collector's NATS connection must use: its credential may subscribe only
/// below it.
pub fn collector_inbox_prefix(collector_id: Uuid) -> String {
    format!("_INBOX.{collector_id}")
}

/// A creds file: a user JWT and the seed that proves it, in the format nats-server's clients
/// read (`nats --creds`, `ConnectOptions::credentials`).
pub fn creds_file(jwt: &str, seed: &str) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n"
    )
}

/// The JWT of a creds file.
fn jwt_of_creds(creds: &str) -> Option<&str> {
    let mut lines = creds.lines().map(str::trim);
    lines.find(|l| l.starts_with("-----BEGIN NATS USER JWT"))?;
    lines.find(|l| !l.is_empty())
}

/// A collector's NATS credential, as handed to the collector.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CollectorNatsCredential {
    /// The creds file text (user JWT and seed).
    pub credentials: String,
    /// The one subject it may publish to.
    pub subject: String,
    /// The inbox prefix its connection must use (acks arrive there).
    pub inbox_prefix: String,
    /// When NATS stops accepting it; renewed with the collector's token.
    pub expires_at: DateTime<Utc>,
}

/// Issues collector credentials with the account signing key.
pub struct NatsIssuer {
    signing_key: KeyPair,
    account: String,
}

impl std::fmt::Debug for NatsIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsIssuer")
            .field("signing_key", &self.signing_key.public_key())
            .field("account", &self.account)
            .finish()
    }
}

impl NatsIssuer {
    /// An issuer for `account` (its public key) signing with `signing_seed`.
    ///
    /// # Errors
    /// [`NatsAuthError::SigningKey`] when the seed is not an account seed.
    pub fn new(signing_seed: &str, account: &str) -> Result<Self, NatsAuthError> {
        let signing_key = KeyPair::from_seed(signing_seed.trim())
            .map_err(|e| NatsAuthError::SigningKey(e.to_string()))?;
        if !matches!(signing_key.key_pair_type(), KeyPairType::Account) {
            return Err(NatsAuthError::SigningKey("not an account key".into()));
        }
        Ok(Self {
            signing_key,
            account: account.to_owned(),
        })
    }

    /// An issuer for the account the server's own credential belongs to (its `issuer_account`,
    /// or its issuer when the account key signed it directly).
    ///
    /// # Errors
    /// [`NatsAuthError`] for a bad seed or creds file.
    pub fn for_server_creds(signing_seed: &str, server_creds: &str) -> Result<Self, NatsAuthError> {
        let jwt = jwt_of_creds(server_creds)
            .ok_or_else(|| NatsAuthError::Creds("no user JWT found".into()))?;
        let claims =
            Claims::<User>::decode(jwt).map_err(|e| NatsAuthError::Creds(e.to_string()))?;
        let account = claims.nats.issuer_account.clone().unwrap_or(claims.iss);
        Self::new(signing_seed, &account)
    }

    /// The account's public key.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// A credential for `collector_id`, valid until `expires_at`: publish to its own metrics
    /// subject, subscribe to its own inbox, nothing else.
    ///
    /// # Errors
    /// [`NatsAuthError::Sign`].
    pub fn collector(
        &self,
        collector_id: Uuid,
        names: &BusNames,
        expires_at: DateTime<Utc>,
    ) -> Result<CollectorNatsCredential, NatsAuthError> {
        let subject = names.subject(&format!("metrics.{collector_id}"));
        let inbox_prefix = collector_inbox_prefix(collector_id);
        let permissions = Permissions {
            publish: Permission {
                allow: vec![subject.clone()],
                deny: Vec::new(),
            },
            subscribe: Permission {
                allow: vec![format!("{inbox_prefix}.>")],
                deny: Vec::new(),
            },
            resp: None,
        };
        let user = KeyPair::new_user();
        let jwt = self.user_jwt(
            &format!("collector {collector_id}"),
            &user,
            permissions,
            Some(expires_at),
        )?;
        let seed = user
            .seed()
            .map_err(|e| NatsAuthError::Sign(e.to_string()))?;
        Ok(CollectorNatsCredential {
            credentials: creds_file(&jwt, &seed),
            subject,
            inbox_prefix,
            expires_at,
        })
    }

    /// A user JWT signed by the account signing key.
    fn user_jwt(
        &self,
        name: &str,
        user: &KeyPair,
        permissions: Permissions,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<String, NatsAuthError> {
        let mut claims = User::new_claims(name.to_owned(), user.public_key());
        claims.nats.issuer_account = Some(self.account.clone());
        claims.nats.permissions.permissions = permissions;
        claims.exp = expires_at.map(|t| t.timestamp());
        claims
            .encode(&self.signing_key)
            .map_err(|e| NatsAuthError::Sign(e.to_string()))
    }
}

/// The trust chain of a pgAnalytics NATS deployment, generated once by `pganalytics nats-init`.
pub struct NatsSetup {
    /// The operator's seed: keep it offline; only re-issuing accounts needs it.
    pub operator_seed: String,
    /// The operator's JWT (nats-server's `operator`).
    pub operator_jwt: String,
    /// The system account's public key and JWT.
    pub system_account: (String, String),
    /// The application account's public key and JWT (JetStream enabled).
    pub account: (String, String),
    /// The account signing key's seed, held by the server (`PGA_NATS_ACCOUNT_SIGNING_KEY`).
    pub signing_seed: String,
    /// The server's own creds file (`PGA_NATS_CREDS`).
    pub server_creds: String,
}

impl NatsSetup {
    /// Generates fresh keys for an operator named `name`.
    ///
    /// # Errors
    /// [`NatsAuthError::Sign`].
    pub fn generate(name: &str) -> Result<Self, NatsAuthError> {
        let sign = |e: nkeys::error::Error| NatsAuthError::Sign(e.to_string());
        let encode = |e: anyhow::Error| NatsAuthError::Sign(e.to_string());
        let operator = KeyPair::new_operator();
        let system = KeyPair::new_account();
        let account = KeyPair::new_account();
        let signing = KeyPair::new_account();

        let mut op = Operator::new_claims(name.to_owned(), operator.public_key());
        op.nats.system_account = Some(system.public_key());
        let operator_jwt = op.encode(&operator).map_err(encode)?;

        let sys = Account::new_claims("SYS".into(), system.public_key());
        let system_jwt = sys.encode(&operator).map_err(encode)?;

        let mut app = Account::new_claims(format!("{name} app"), account.public_key());
        app.nats.limits = Some(OperatorLimits {
            jetstream: Some(JetStreamLimits {
                memory_storage: Some(-1),
                disk_storage: Some(-1),
                streams: Some(-1),
                consumer: Some(-1),
                ..Default::default()
            }),
            ..OperatorLimits::default()
        });
        app.nats.signing_keys = Some(
            [SigningKey {
                key: signing.public_key(),
                scope: None,
            }]
            .into_iter()
            .collect(),
        );
        let account_jwt = app.encode(&operator).map_err(encode)?;

        let signing_seed = signing.seed().map_err(sign)?;
        let issuer = NatsIssuer::new(&signing_seed, &account.public_key())?;
        let server = KeyPair::new_user();
        let server_jwt =
            issuer.user_jwt("pganalytics server", &server, Permissions::default(), None)?;
        Ok(Self {
            operator_seed: operator.seed().map_err(sign)?,
            operator_jwt,
            system_account: (system.public_key(), system_jwt),
            account: (account.public_key(), account_jwt),
            signing_seed,
            server_creds: creds_file(&server_jwt, &server.seed().map_err(sign)?),
        })
    }

    /// The trust part of a nats-server configuration (operator mode with the accounts preloaded),
    /// to `include` from a file that sets the listen address and JetStream.
    pub fn server_config(&self) -> String {
        format!(
            "# Generated by `pganalytics nats-init`: operator-mode authentication for pgAnalytics.\n\
             # Every client needs a user JWT signed for the account below; there is no anonymous user.\n\
             operator: {}\n\
             system_account: {}\n\
             resolver: MEMORY\n\
             resolver_preload: {{\n  {}: {}\n  {}: {}\n}}\n",
            self.operator_jwt,
            self.system_account.0,
            self.system_account.0,
            self.system_account.1,
            self.account.0,
            self.account.1,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collector_credential_allows_only_its_subject_and_inbox_and_expires() {
        let setup = NatsSetup::generate("test").expect("setup");
        let issuer =
            NatsIssuer::for_server_creds(&setup.signing_seed, &setup.server_creds).expect("issuer");
        assert_eq!(issuer.account(), setup.account.0);
        let id = Uuid::new_v4();
        let names = BusNames::new("pga").expect("names");
        let expires = Utc::now() + chrono::Duration::minutes(5);
        let cred = issuer.collector(id, &names, expires).expect("issue");
        assert_eq!(cred.subject, format!("pga.metrics.{id}"));
        let jwt = jwt_of_creds(&cred.credentials).expect("jwt");
        let claims = Claims::<User>::decode(jwt).expect("decode");
        assert_eq!(claims.exp, Some(expires.timestamp()));
        assert_eq!(
            claims.nats.issuer_account.as_deref(),
            Some(setup.account.0.as_str())
        );
        let perms = &claims.nats.permissions.permissions;
        assert_eq!(perms.publish.allow, vec![format!("pga.metrics.{id}")]);
        assert_eq!(perms.subscribe.allow, vec![format!("_INBOX.{id}.>")]);
        assert!(cred
            .credentials
            .contains("-----BEGIN USER NKEY SEED-----\nSU"));
    }

    #[test]
    fn a_seed_that_is_not_an_account_seed_is_refused() {
        let user = KeyPair::new_user().seed().expect("seed");
        assert!(matches!(
            NatsIssuer::new(&user, "A"),
            Err(NatsAuthError::SigningKey(_))
        ));
        assert!(matches!(
            NatsIssuer::new("not a seed", "A"),
            Err(NatsAuthError::SigningKey(_))
        ));
    }
}
