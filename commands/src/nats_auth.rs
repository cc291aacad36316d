//! NATS credentials: least privilege enforced by nats-server itself.
//!
//! NATS runs in operator mode (decentralized JWT auth). [`NatsSetup::generate`] makes the trust
//! chain once: an operator, a system account, the **app** account whose JetStream holds
//! pgAnalytics' streams (only the server's own user lives there), and the **collectors**
//! account, which has no JetStream at all. The app account exports `*.metrics.*` as a service
//! and the collectors account imports it: a collector's publish to
//! `<prefix>-p<partition>.metrics.<collector id>` crosses into the app account, where its
//! partition's stream stores it and JetStream's ack travels back to the collector's inbox.
//!
//! Why two accounts: nats-server never checks a publish's *reply* subject against the sender's
//! permissions, and JetStream sends its ack there as the account itself. A collector in the
//! app account could name `$JS.API.STREAM.PURGE.<stream>` as the reply of its own publish and
//! purge the streams. Across a service import the reply is rewritten to a subject of the
//! server's choosing, so nothing a collector sends reaches the app account's JetStream API.
//!
//! The collectors account has a signing key, which the server holds
//! (`PGA_NATS_COLLECTOR_SIGNING_KEY`); with it [`NatsIssuer`] issues each collector a user
//! credential that may publish only to its own subject and receive only on its own inbox
//! (`_INBOX.<collector id>.>`, where the acks arrive). The credential expires with the
//! collector's token and is renewed with it, so it dies with the collector: once the collector
//! is deleted its refresh secret is refused and no new credential is issued.
//!
//! Issuing needs no change to nats-server's configuration (no reload per collector), works with
//! nats-server 2.9 (Debian's; auth callout needs 2.10) and a cluster alike, and neither the
//! operator's key nor an account's identity key reaches the running server.

use chrono::{DateTime, Utc};
use domain::bus::BusNames;
use nats_jwt_rs::account::{Account, JetStreamLimits, OperatorLimits};
use nats_jwt_rs::operator::Operator;
use nats_jwt_rs::types::{
    Export, ExportType, Import, NatsLimits, Permission, Permissions, SigningKey,
};
use nats_jwt_rs::user::User;
use nkeys::{KeyPair, KeyPairType};
use uuid::Uuid;

/// A key or JWT that cannot be used, in words.
#[derive(Debug, thiserror::Error)]
pub enum NatsAuthError {
    /// The signing key is not an account seed (`SA…`).
    #[error("PGA_NATS_COLLECTOR_SIGNING_KEY is not an account nkey seed (it starts with SA): {0}")]
    SigningKey(String),
    /// The account is not an account public key (`A…`).
    #[error("PGA_NATS_COLLECTOR_ACCOUNT is not an account public key (it starts with A): {0}")]
    Account(String),
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

/// A collector's NATS credential, as handed to the collector. Its `Debug` hides the seed.
#[derive(Clone, serde::Serialize)]
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

impl std::fmt::Debug for CollectorNatsCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectorNatsCredential")
            .field("credentials", &"<secret>")
            .field("subject", &self.subject)
            .field("inbox_prefix", &self.inbox_prefix)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Issues collector credentials with the collectors account's signing key.
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
    /// An issuer for the collectors `account` (its public key) signing with `signing_seed`.
    ///
    /// # Errors
    /// [`NatsAuthError::SigningKey`] or [`NatsAuthError::Account`] for keys of the wrong kind.
    pub fn new(signing_seed: &str, account: &str) -> Result<Self, NatsAuthError> {
        let signing_key = KeyPair::from_seed(signing_seed.trim())
            .map_err(|e| NatsAuthError::SigningKey(e.to_string()))?;
        if !matches!(signing_key.key_pair_type(), KeyPairType::Account) {
            return Err(NatsAuthError::SigningKey("not an account key".into()));
        }
        let account = account.trim();
        let public =
            KeyPair::from_public_key(account).map_err(|e| NatsAuthError::Account(e.to_string()))?;
        if !matches!(public.key_pair_type(), KeyPairType::Account) {
            return Err(NatsAuthError::Account("not an account key".into()));
        }
        Ok(Self {
            signing_key,
            account: account.to_owned(),
        })
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
        let subject = names.metrics_subject(&collector_id.to_string());
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
        let mut claims = User::new_claims(format!("collector {collector_id}"), user.public_key());
        claims.nats.issuer_account = Some(self.account.clone());
        claims.nats.permissions.permissions = permissions;
        // One inbox subscription is all the agent needs; plain client connections only (no
        // websocket, leaf node or MQTT).
        if let Some(limits) = claims.nats.permissions.limits.as_mut() {
            limits.nats_limits = Some(NatsLimits {
                subs: Some(16),
                ..NatsLimits::default()
            });
        }
        claims.nats.permissions.allowed_connection_types = Some(vec!["STANDARD".into()]);
        claims.exp = Some(expires_at.timestamp());
        let jwt = claims
            .encode(&self.signing_key)
            .map_err(|e| NatsAuthError::Sign(e.to_string()))?;
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
}

/// The trust chain of a pgAnalytics NATS deployment, generated once by `pganalytics nats-init`.
pub struct NatsSetup {
    /// The operator's seed: keep it offline; only re-issuing accounts needs it.
    pub operator_seed: String,
    /// The operator's JWT (nats-server's `operator`).
    pub operator_jwt: String,
    /// The system account's public key and JWT.
    pub system_account: (String, String),
    /// The app account's public key and JWT (JetStream enabled; the server's user).
    pub app_account: (String, String),
    /// The app account's identity seed: keep it offline; only a new server credential needs it.
    pub app_account_seed: String,
    /// The collectors account's public key and JWT (no JetStream; imports the metrics subjects).
    pub collector_account: (String, String),
    /// The collectors account signing key's seed, held by the server
    /// (`PGA_NATS_COLLECTOR_SIGNING_KEY`).
    pub collector_signing_seed: String,
    /// The server's own creds file (`PGA_NATS_CREDS`).
    pub server_creds: String,
}

/// The subjects the app account serves to the collectors account: every prefix's metrics.
const METRICS_SERVICE: &str = "*.metrics.*";

impl NatsSetup {
    /// Generates fresh keys for an operator named `name`.
    ///
    /// # Errors
    /// [`NatsAuthError::Sign`].
    // Over 60 lines on purpose: the trust chain in the order nats-server reads it: operator, system account, app account, collectors account, the server's user.
    pub fn generate(name: &str) -> Result<Self, NatsAuthError> {
        let sign = |e: nkeys::error::Error| NatsAuthError::Sign(e.to_string());
        let encode = |e: anyhow::Error| NatsAuthError::Sign(e.to_string());
        let operator = KeyPair::new_operator();
        let system = KeyPair::new_account();
        let app = KeyPair::new_account();
        let collectors = KeyPair::new_account();
        let collector_signing = KeyPair::new_account();

        let mut op = Operator::new_claims(name.to_owned(), operator.public_key());
        op.nats.system_account = Some(system.public_key());
        let operator_jwt = op.encode(&operator).map_err(encode)?;

        let sys = Account::new_claims("SYS".into(), system.public_key());
        let system_jwt = sys.encode(&operator).map_err(encode)?;

        let mut app_claims = Account::new_claims(format!("{name} app"), app.public_key());
        app_claims.nats.limits = Some(OperatorLimits {
            jetstream: Some(JetStreamLimits {
                memory_storage: Some(-1),
                disk_storage: Some(-1),
                streams: Some(-1),
                consumer: Some(-1),
                ..Default::default()
            }),
            ..OperatorLimits::default()
        });
        app_claims.nats.exports = Some(vec![Export {
            name: "metric batches".into(),
            subject: METRICS_SERVICE.into(),
            export_type: Some(ExportType::Service),
            ..Export::default()
        }]);
        let app_jwt = app_claims.encode(&operator).map_err(encode)?;

        let mut col = Account::new_claims(format!("{name} collectors"), collectors.public_key());
        if let Some(limits) = col.nats.limits.as_mut() {
            // No leaf nodes, no exports, no bearer tokens; no JetStream (left unset).
            if let Some(account) = limits.account.as_mut() {
                account.leaf = Some(0);
                account.exports = Some(0);
                account.disallow_bearer = Some(true);
            }
        }
        col.nats.imports = Some(vec![Import {
            name: "metric batches".into(),
            subject: METRICS_SERVICE.into(),
            account: app.public_key(),
            export_type: Some(ExportType::Service),
            ..Import::default()
        }]);
        col.nats.signing_keys = Some(
            [SigningKey {
                key: collector_signing.public_key(),
                scope: None,
            }]
            .into_iter()
            .collect(),
        );
        let collectors_jwt = col.encode(&operator).map_err(encode)?;

        let server = KeyPair::new_user();
        let mut server_claims = User::new_claims("pganalytics server".into(), server.public_key());
        server_claims.nats.permissions.permissions = Permissions::default();
        let server_jwt = server_claims.encode(&app).map_err(encode)?;
        Ok(Self {
            operator_seed: operator.seed().map_err(sign)?,
            operator_jwt,
            system_account: (system.public_key(), system_jwt),
            app_account: (app.public_key(), app_jwt),
            app_account_seed: app.seed().map_err(sign)?,
            collector_account: (collectors.public_key(), collectors_jwt),
            collector_signing_seed: collector_signing.seed().map_err(sign)?,
            server_creds: creds_file(&server_jwt, &server.seed().map_err(sign)?),
        })
    }

    /// The trust part of a nats-server configuration (operator mode with the accounts
    /// preloaded), to `include` from a file that sets the listen address and JetStream.
    pub fn server_config(&self) -> String {
        format!(
            "# Generated by `pganalytics nats-init`: operator-mode authentication for pgAnalytics.\n\
             # Every client needs a user JWT signed for one of the accounts below; there is no\n\
             # anonymous user. Public keys and JWTs only: nothing here is secret.\n\
             operator: {}\n\
             system_account: {}\n\
             resolver: MEMORY\n\
             resolver_preload: {{\n  {}: {}\n  {}: {}\n  {}: {}\n}}\n",
            self.operator_jwt,
            self.system_account.0,
            self.system_account.0,
            self.system_account.1,
            self.app_account.0,
            self.app_account.1,
            self.collector_account.0,
            self.collector_account.1,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nats_jwt_rs::Claims;

    fn jwt_of_creds(creds: &str) -> &str {
        let mut lines = creds.lines().map(str::trim);
        lines.find(|l| l.starts_with("-----BEGIN NATS USER JWT"));
        lines.find(|l| !l.is_empty()).expect("jwt")
    }

    #[test]
    fn a_collector_credential_allows_only_its_subject_and_inbox_and_expires() {
        let setup = NatsSetup::generate("test").expect("setup");
        let issuer = NatsIssuer::new(&setup.collector_signing_seed, &setup.collector_account.0)
            .expect("issuer");
        let id = Uuid::new_v4();
        let names = BusNames::new("pga").expect("names");
        let expires = Utc::now() + chrono::Duration::minutes(5);
        let cred = issuer.collector(id, &names, expires).expect("issue");
        assert_eq!(cred.subject, names.metrics_subject(&id.to_string()));
        assert!(cred.subject.starts_with("pga-p"), "{}", cred.subject);
        let claims = Claims::<User>::decode(jwt_of_creds(&cred.credentials)).expect("decode");
        assert_eq!(claims.exp, Some(expires.timestamp()));
        assert_eq!(
            claims.nats.issuer_account.as_deref(),
            Some(setup.collector_account.0.as_str())
        );
        let perms = &claims.nats.permissions.permissions;
        assert_eq!(perms.publish.allow, vec![cred.subject.clone()]);
        assert_eq!(perms.subscribe.allow, vec![format!("_INBOX.{id}.>")]);
        assert!(cred
            .credentials
            .contains("-----BEGIN USER NKEY SEED-----\nSU"));
        assert!(!format!("{cred:?}").contains("SU"), "Debug shows the seed");
    }

    #[test]
    fn the_server_lives_in_the_app_account_and_collectors_in_their_own() {
        let setup = NatsSetup::generate("test").expect("setup");
        let server = Claims::<User>::decode(jwt_of_creds(&setup.server_creds)).expect("decode");
        assert_eq!(server.iss, setup.app_account.0);
        assert_ne!(setup.app_account.0, setup.collector_account.0);
        // (nats-jwt-rs cannot decode an import without a token: read the claims as JSON.)
        use base64::Engine;
        let payload = setup.collector_account.1.split('.').nth(1).expect("claims");
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .expect("base64"),
        )
        .expect("json");
        let limits = &claims["nats"]["limits"];
        assert!(limits.get("disk_storage").is_none() && limits.get("mem_storage").is_none());
        assert_eq!(limits["leaf"], 0);
        assert_eq!(claims["nats"]["imports"][0]["type"], "service");
        assert_eq!(
            claims["nats"]["imports"][0]["account"],
            setup.app_account.0.as_str()
        );
    }

    #[test]
    fn keys_of_the_wrong_kind_are_refused() {
        let user = KeyPair::new_user().seed().expect("seed");
        let account = KeyPair::new_account();
        assert!(matches!(
            NatsIssuer::new(&user, &account.public_key()),
            Err(NatsAuthError::SigningKey(_))
        ));
        assert!(matches!(
            NatsIssuer::new("not a seed", &account.public_key()),
            Err(NatsAuthError::SigningKey(_))
        ));
        let seed = account.seed().expect("seed");
        assert!(matches!(
            NatsIssuer::new(&seed, &KeyPair::new_user().public_key()),
            Err(NatsAuthError::Account(_))
        ));
    }
}
