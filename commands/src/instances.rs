//! Managed-instance commands that need more than the aggregate: unique names and sealing the
//! password before it reaches the command.

use chrono::Utc;
use domain::managed_instance::{
    ConnectionSpec, CredentialChange, ManagedInstanceCommand, ManagedInstanceError,
    SealedCredential, TestTrigger,
};
use domain::values::{Actor, Name};
use uuid::Uuid;

use crate::names::{self, Claim, NameKind};
use crate::service::{CommandError, CommandService, Committed};

const KIND: NameKind = NameKind::ManagedInstance;

/// Why an instance command did not happen.
#[derive(Debug, thiserror::Error)]
pub enum InstanceCommandError {
    /// Another instance has that name.
    #[error("an instance named {0:?} already exists")]
    NameTaken(String),
    /// A password was given but no key is configured.
    #[error("this server has no PGA_ENCRYPTION_KEY, so it refuses to store passwords; set one (openssl rand -base64 32) and restart")]
    NoEncryptionKey,
    /// The aggregate refused, or the store failed.
    #[error(transparent)]
    Command(#[from] CommandError<ManagedInstanceError>),
    /// The claim table failed.
    #[error("event store unavailable: {0}")]
    Store(#[from] sqlx::Error),
}

/// Claims `name` for `owner`; returns whether this call made the claim (false: already held).
async fn claim(
    service: &CommandService,
    name: &Name,
    owner: Uuid,
) -> Result<bool, InstanceCommandError> {
    match names::claim(service.pool(), KIND, name.as_str(), owner).await? {
        Claim::Made => Ok(true),
        Claim::AlreadyOurs => Ok(false),
        Claim::Taken => Err(InstanceCommandError::NameTaken(name.as_str().to_owned())),
    }
}

async fn unclaim(service: &CommandService, name: &Name, owner: Uuid) -> Result<(), sqlx::Error> {
    names::unclaim(service.pool(), KIND, name.as_str(), owner).await
}

/// Releases every name `owner` holds except `keep`.
async fn release_except(
    service: &CommandService,
    owner: Uuid,
    keep: Option<&Name>,
) -> Result<(), sqlx::Error> {
    names::release_except(service.pool(), KIND, owner, keep.map(Name::as_str)).await
}

/// Seals `password` for instance `id` at `connection`'s target: it opens for nothing else.
fn seal(
    service: &CommandService,
    password: Option<&str>,
    id: Uuid,
    connection: &ConnectionSpec,
) -> Result<Option<SealedCredential>, InstanceCommandError> {
    match password {
        None => Ok(None),
        Some(p) => service
            .tester()
            .cipher()
            .map(|c| Some(c.seal(p, &connection.credential_binding(id))))
            .ok_or(InstanceCommandError::NoEncryptionKey),
    }
}

/// Registers an instance under a unique name, its password sealed.
///
/// # Errors
/// [`InstanceCommandError`]; nothing is stored then.
pub async fn register(
    service: &CommandService,
    name: &Name,
    connection: ConnectionSpec,
    password: Option<&str>,
    tags: Vec<String>,
    actor: &Actor,
) -> Result<(Uuid, Committed), InstanceCommandError> {
    let id = Uuid::new_v4();
    let credential = seal(service, password, id, &connection)?;
    claim(service, name, id).await?;
    let command = ManagedInstanceCommand::RegisterInstance {
        name: name.clone(),
        connection,
        credential,
        tags,
        at: Utc::now(),
    };
    match service
        .managed_instance(&id.to_string(), command, actor)
        .await
    {
        Ok(committed) => Ok((id, committed)),
        Err(e) => {
            release_except(service, id, None).await?;
            Err(e.into())
        }
    }
}

/// Changes name, connection settings and tags; with `password: Some(..)` also replaces the
/// stored password (`Some(None)` clears it), in the same command. A new target (host, port,
/// database, username, sslmode) with a stored password and `password: None` is refused by the
/// aggregate. Returns the commit.
///
/// # Errors
/// [`InstanceCommandError`]; nothing is stored then.
pub async fn update(
    service: &CommandService,
    id: Uuid,
    name: &Name,
    connection: ConnectionSpec,
    tags: Vec<String>,
    password: Option<Option<&str>>,
    actor: &Actor,
) -> Result<Committed, InstanceCommandError> {
    let credential = match password {
        None => CredentialChange::Keep,
        Some(p) => CredentialChange::Replace(seal(service, p, id, &connection)?),
    };
    let new_claim = claim(service, name, id).await?;
    let command = ManagedInstanceCommand::UpdateInstance {
        name: name.clone(),
        connection,
        credential,
        tags,
        at: Utc::now(),
    };
    let aggregate = id.to_string();
    let committed = match service.managed_instance(&aggregate, command, actor).await {
        Ok(c) => c,
        Err(e) => {
            if new_claim {
                unclaim(service, name, id).await?;
            }
            return Err(e.into());
        }
    };
    release_except(service, id, Some(name)).await?;
    Ok(committed)
}

/// Removes an instance and frees its name.
///
/// # Errors
/// [`InstanceCommandError`].
pub async fn remove(
    service: &CommandService,
    id: Uuid,
    actor: &Actor,
) -> Result<Committed, InstanceCommandError> {
    let command = ManagedInstanceCommand::RemoveInstance { at: Utc::now() };
    let committed = service
        .managed_instance(&id.to_string(), command, actor)
        .await?;
    release_except(service, id, None).await?;
    Ok(committed)
}

/// Re-seals every stored password under the current key and bound to its instance and target
/// (`pganalytics rotate-key`; also binds passwords sealed before binding existed). Returns how
/// many instances were re-sealed.
///
/// # Errors
/// The first failure; instances done before it stay done (re-running is safe).
pub async fn reseal_all(
    service: &CommandService,
    actor: &Actor,
) -> Result<usize, InstanceCommandError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = $1 ORDER BY 1",
    )
    .bind(domain::envelope::AggregateKind::ManagedInstance.type_name())
    .fetch_all(service.pool())
    .await?;
    let mut resealed = 0;
    for id in ids {
        let before: Option<i64> = sqlx::query_scalar(
            "SELECT max(sequence) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2",
        )
        .bind(domain::envelope::AggregateKind::ManagedInstance.type_name())
        .bind(&id)
        .fetch_one(service.pool())
        .await?;
        let Ok(instance) = Uuid::parse_str(&id) else {
            tracing::warn!(instance = %id, "not a managed-instance id; skipped");
            continue;
        };
        let command = ManagedInstanceCommand::ResealCredential {
            instance,
            at: Utc::now(),
        };
        match service.managed_instance(&id, command, actor).await {
            Ok(c) if Some(c.sequence) != before => resealed += 1,
            Ok(_) | Err(CommandError::Rejected(ManagedInstanceError::AlreadyRemoved)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(resealed)
}

/// The ids of every instance not removed.
///
/// # Errors
/// The event store's.
pub async fn live_ids(service: &CommandService) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT aggregate_id FROM events WHERE aggregate_type = $1
          GROUP BY aggregate_id HAVING bool_and(event_type <> 'InstanceRemoved')",
    )
    .bind(domain::envelope::AggregateKind::ManagedInstance.type_name())
    .fetch_all(service.pool())
    .await
}

/// Tests instance `id` now and records the result (a person's test or a background check).
///
/// # Errors
/// [`CommandError`]: not found, removed, conflict, store.
pub async fn test(
    service: &CommandService,
    id: Uuid,
    trigger: TestTrigger,
    actor: &Actor,
) -> Result<Committed, CommandError<ManagedInstanceError>> {
    let command = ManagedInstanceCommand::TestConnection {
        instance: id,
        trigger,
        at: Utc::now(),
    };
    service
        .managed_instance(&id.to_string(), command, actor)
        .await
}
