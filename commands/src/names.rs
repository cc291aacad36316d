//! Unique names across the aggregates of one kind (usernames, instance names). An aggregate
//! only sees itself, so a name is claimed in `name_claims` before the command that uses it runs,
//! and released when its owner renames or goes away. The one mechanism for every kind.

use sqlx::PgPool;
use uuid::Uuid;

/// Which names a claim is unique among.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// Usernames.
    User,
    /// Managed-instance names.
    ManagedInstance,
}

impl NameKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ManagedInstance => "managed_instance",
        }
    }
}

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This call claimed the name.
    Made,
    /// The owner held it already.
    AlreadyOurs,
    /// Someone else holds it.
    Taken,
}

/// Claims `name` of `kind` for `owner`.
///
/// # Errors
/// The sqlx error.
pub async fn claim(
    pool: &PgPool,
    kind: NameKind,
    name: &str,
    owner: Uuid,
) -> Result<Claim, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO name_claims (kind, name, owner_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(kind.as_str())
    .bind(name)
    .bind(owner)
    .execute(pool)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::Made);
    }
    let holder: Option<Uuid> =
        sqlx::query_scalar("SELECT owner_id FROM name_claims WHERE kind = $1 AND name = $2")
            .bind(kind.as_str())
            .bind(name)
            .fetch_optional(pool)
            .await?;
    Ok(match holder {
        Some(h) if h == owner => Claim::AlreadyOurs,
        _ => Claim::Taken,
    })
}

/// Releases `name` if `owner` holds it.
///
/// # Errors
/// The sqlx error.
pub async fn unclaim(
    pool: &PgPool,
    kind: NameKind,
    name: &str,
    owner: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM name_claims WHERE kind = $1 AND name = $2 AND owner_id = $3")
        .bind(kind.as_str())
        .bind(name)
        .bind(owner)
        .execute(pool)
        .await?;
    Ok(())
}

/// Releases every name of `kind` that `owner` holds, except `keep`.
///
/// # Errors
/// The sqlx error.
pub async fn release_except(
    pool: &PgPool,
    kind: NameKind,
    owner: Uuid,
    keep: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM name_claims WHERE kind = $1 AND owner_id = $2 AND name IS DISTINCT FROM $3",
    )
    .bind(kind.as_str())
    .bind(owner)
    .bind(keep)
    .execute(pool)
    .await?;
    Ok(())
}
