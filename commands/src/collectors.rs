//! Registration secrets and collector registration: the parts that span aggregates (the secret
//! is found by its hash, used, and then the collector is created).

use base64::Engine;
use chrono::{DateTime, Utc};
use domain::collector::{CollectorCommand, CollectorError};
use domain::registration_secret::{RegistrationSecretCommand, RegistrationSecretError};
use domain::values::{Actor, AgentVersion, Hostname, Name};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::service::{CommandError, CommandService, Committed};

/// A random secret with a readable kind prefix: `pgas_…` for registration secrets, `pgcr_…`
/// for collector refresh secrets.
pub fn random_secret(kind: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{kind}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// SHA-256, hex. The secrets hashed here are 256-bit random values, so a fast hash is safe.
pub fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why a secret or collector command did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CollectorCommandError {
    /// No registration secret has that value.
    #[error("unknown registration secret")]
    UnknownSecret,
    /// The secret refused (inactive, expired, exhausted) or is gone.
    #[error(transparent)]
    Secret(#[from] CommandError<RegistrationSecretError>),
    /// The collector aggregate refused or the store failed.
    #[error(transparent)]
    Collector(#[from] CommandError<CollectorError>),
    /// The lookup table failed.
    #[error("event store unavailable: {0}")]
    Store(#[from] sqlx::Error),
}

/// A secret as created: the plaintext is returned this once.
pub struct CreatedSecret {
    /// Its id.
    pub id: Uuid,
    /// The secret itself, shown once.
    pub secret: String,
    /// Its first characters, which lists show.
    pub prefix: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// What was committed.
    pub committed: Committed,
}

/// Creates a registration secret; only its hash and a short prefix are stored. Collectors
/// registered with it are bound to `instance_ids` (the caller checked they exist).
///
/// # Errors
/// [`CollectorCommandError`]; nothing is stored then.
pub async fn create_secret(
    service: &CommandService,
    name: Name,
    expires_at: Option<DateTime<Utc>>,
    max_registrations: Option<u32>,
    instance_ids: Vec<Uuid>,
    actor: &Actor,
) -> Result<CreatedSecret, CollectorCommandError> {
    let id = Uuid::new_v4();
    let secret = random_secret("pgas");
    let hash = digest(&secret);
    let prefix: String = secret.chars().take(12).collect();
    let at = Utc::now();
    // The lookup also keeps the instances, for registration to read (an aggregate returns no
    // state); the secret's events carry them for history.
    sqlx::query(
        "INSERT INTO registration_secret_lookup (secret_hash, secret_id, instance_ids)
         VALUES ($1, $2, $3)",
    )
    .bind(&hash)
    .bind(id)
    .bind(&instance_ids)
    .execute(service.pool())
    .await?;
    let command = RegistrationSecretCommand::CreateSecret {
        name,
        secret_hash: hash,
        prefix: prefix.clone(),
        expires_at,
        max_registrations,
        instance_ids: instance_ids.iter().map(Uuid::to_string).collect(),
        at,
    };
    match service
        .registration_secret(&id.to_string(), command, actor)
        .await
    {
        Ok(committed) => Ok(CreatedSecret {
            id,
            secret,
            prefix,
            created_at: at,
            committed,
        }),
        Err(e) => {
            forget_secret(service, id).await?;
            Err(e.into())
        }
    }
}

async fn forget_secret(service: &CommandService, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM registration_secret_lookup WHERE secret_id = $1")
        .bind(id)
        .execute(service.pool())
        .await?;
    Ok(())
}

/// Deletes a registration secret; it stops registering at once.
///
/// # Errors
/// [`CollectorCommandError`].
pub async fn delete_secret(
    service: &CommandService,
    id: Uuid,
    actor: &Actor,
) -> Result<Committed, CollectorCommandError> {
    let command = RegistrationSecretCommand::DeleteSecret { at: Utc::now() };
    let committed = service
        .registration_secret(&id.to_string(), command, actor)
        .await?;
    forget_secret(service, id).await?;
    Ok(committed)
}

/// A registered collector: its id and refresh secret (shown once).
pub struct Registered {
    /// The new collector's id.
    pub collector_id: Uuid,
    /// Exchanged for fresh tokens at `POST /collectors/{id}/token`.
    pub refresh_secret: String,
    /// What was committed.
    pub committed: Committed,
}

/// Registers a collector that presented `secret`.
///
/// # Errors
/// [`CollectorCommandError::UnknownSecret`] for a wrong secret; the secret aggregate's refusal
/// (inactive, expired, exhausted, deleted). No collector is created then.
// Over 60 lines on purpose: the secret's use and the collector's registration, with the retry on a concurrent use, in one place.
pub async fn register_collector(
    service: &CommandService,
    secret: &str,
    name: Name,
    hostname: Hostname,
    version: AgentVersion,
) -> Result<Registered, CollectorCommandError> {
    let (secret_id, instance_ids): (Uuid, Vec<Uuid>) = sqlx::query_as(
        "SELECT secret_id, instance_ids FROM registration_secret_lookup WHERE secret_hash = $1",
    )
    .bind(digest(secret))
    .fetch_optional(service.pool())
    .await?
    .ok_or(CollectorCommandError::UnknownSecret)?;
    let collector_id = Uuid::new_v4();
    let actor = Actor {
        kind: "collector".into(),
        id: collector_id.to_string(),
        name: name.as_str().to_owned(),
    };
    // A fleet starting at once registers many collectors with one secret: concurrent uses of
    // the same aggregate conflict optimistically, so retry (each attempt reloads the secret).
    let mut attempt = 0u32;
    loop {
        let use_it = RegistrationSecretCommand::UseForRegistration {
            collector_id: collector_id.to_string(),
            at: Utc::now(),
        };
        match service
            .registration_secret(&secret_id.to_string(), use_it, &actor)
            .await
        {
            Ok(_) => break,
            Err(CommandError::Conflict(_)) if attempt < 20 => {
                attempt += 1;
                let jitter = u64::from(rand::random::<u8>() % 20);
                tokio::time::sleep(std::time::Duration::from_millis(
                    5 + jitter * u64::from(attempt),
                ))
                .await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let refresh_secret = random_secret("pgcr");
    let command = CollectorCommand::RegisterCollector {
        name,
        hostname,
        version,
        registration_secret_id: secret_id.to_string(),
        refresh_secret_hash: digest(&refresh_secret),
        instance_ids: instance_ids.iter().map(Uuid::to_string).collect(),
        at: Utc::now(),
    };
    let committed = service
        .collector(&collector_id.to_string(), command, &actor)
        .await?;
    Ok(Registered {
        collector_id,
        refresh_secret,
        committed,
    })
}
