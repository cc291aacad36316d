//! User commands that need more than one aggregate can see: unique usernames, the first admin.

use chrono::Utc;
use domain::user::{NewPassword, Role, UserCommand, UserError, Username};
use domain::values::Actor;
use uuid::Uuid;

use crate::names::{self, Claim, NameKind};
use crate::passwords;
use crate::service::{CommandError, CommandService, Committed};

/// Why a user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// Another user has that name.
    #[error("username {0:?} is already taken")]
    UsernameTaken(String),
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] passwords::HashError),
    /// The aggregate refused, or the store failed.
    #[error(transparent)]
    Command(#[from] CommandError<UserError>),
    /// The claim table failed.
    #[error("event store unavailable: {0}")]
    Store(#[from] sqlx::Error),
}

/// Claims the username, hashes the password on `hashes` and creates the user. On failure the
/// claim is released, so nothing is half-applied.
///
/// # Errors
/// [`CreateUserError`].
pub async fn create_user(
    service: &CommandService,
    hashes: &passwords::HashPool,
    username: &Username,
    password: &NewPassword,
    role: Role,
    actor: &Actor,
) -> Result<(Uuid, Committed), CreateUserError> {
    let id = Uuid::new_v4();
    let claimed = names::claim(service.pool(), NameKind::User, username.as_str(), id).await?;
    if claimed != Claim::Made {
        return Err(CreateUserError::UsernameTaken(username.as_str().to_owned()));
    }
    let result = async {
        let password_hash = hashes.hash(password).await?;
        let command = UserCommand::CreateUser {
            username: username.clone(),
            role,
            password_hash,
            at: Utc::now(),
        };
        Ok::<_, CreateUserError>(service.user(&id.to_string(), command, actor).await?)
    }
    .await;
    match result {
        Ok(committed) => Ok((id, committed)),
        Err(e) => {
            release_username(service, id).await?;
            Err(e)
        }
    }
}

/// Frees a deleted user's name for reuse.
///
/// # Errors
/// The sqlx error.
pub async fn release_username(service: &CommandService, user_id: Uuid) -> Result<(), sqlx::Error> {
    names::release_except(service.pool(), NameKind::User, user_id, None).await
}

/// Creates the first admin when the event store holds no user at all. Returns what it
/// committed, if it did.
///
/// # Errors
/// [`CreateUserError`].
pub async fn bootstrap_admin(
    service: &CommandService,
    hashes: &passwords::HashPool,
    username: &Username,
    password: &NewPassword,
) -> Result<Option<Committed>, CreateUserError> {
    let any: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM events WHERE aggregate_type = 'user')")
            .fetch_one(service.pool())
            .await?;
    if any {
        return Ok(None);
    }
    match create_user(
        service,
        hashes,
        username,
        password,
        Role::Admin,
        &Actor::system("bootstrap"),
    )
    .await
    {
        Ok((_, committed)) => Ok(Some(committed)),
        // Another process starting at the same moment created it.
        Err(CreateUserError::UsernameTaken(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
