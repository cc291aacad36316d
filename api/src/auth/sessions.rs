//! Refresh tokens: opaque, random, stored as SHA-256, rotated on every use.

use std::time::Duration;

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

/// Why a refresh token was refused.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown token.
    #[error("the refresh token is not valid; log in again")]
    Invalid,
    /// Past its expiry.
    #[error("the refresh token has expired; log in again")]
    Expired,
    /// Already rotated or revoked: presenting it again revoked its whole family.
    #[error("the refresh token was already used or revoked; log in again")]
    Revoked,
    /// The store failed.
    #[error("session store unavailable: {0}")]
    Store(#[from] sqlx::Error),
}

/// The refresh-token store.
#[derive(Clone)]
pub struct Sessions {
    pool: PgPool,
    /// Lifetime of a refresh token.
    pub ttl: Duration,
}

/// id, family, user, expires_at, revoked_at
type SessionRow = (
    Uuid,
    Uuid,
    Uuid,
    chrono::DateTime<chrono::Utc>,
    Option<chrono::DateTime<chrono::Utc>>,
);

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "pgr_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

impl Sessions {
    /// A store on the command-side pool.
    pub fn new(pool: PgPool, ttl: Duration) -> Self {
        Self { pool, ttl }
    }

    fn expires(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
            + chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::days(30))
    }

    /// Starts a session (a new token family) for a user who just logged in.
    ///
    /// # Errors
    /// The sqlx error.
    pub async fn open(&self, user: Uuid) -> Result<String, sqlx::Error> {
        let token = new_token();
        sqlx::query(
            "INSERT INTO auth_sessions (id, family_id, user_id, token_hash, expires_at)
             VALUES ($1, $1, $2, $3, $4)",
        )
        .bind(Uuid::new_v4())
        .bind(user)
        .bind(digest(&token))
        .bind(self.expires())
        .execute(&self.pool)
        .await?;
        Ok(token)
    }

    /// Exchanges a refresh token for a new one of the same family; the old one stops working.
    ///
    /// # Errors
    /// [`RefreshError`]; a reused token also revokes its family.
    pub async fn rotate(&self, token: &str) -> Result<(Uuid, String), RefreshError> {
        let mut tx = self.pool.begin().await?;
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT id, family_id, user_id, expires_at, revoked_at FROM auth_sessions
                  WHERE token_hash = $1 FOR UPDATE",
        )
        .bind(digest(token))
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id, family, user, expires_at, revoked_at)) = row else {
            return Err(RefreshError::Invalid);
        };
        if revoked_at.is_some() {
            sqlx::query(
                "UPDATE auth_sessions SET revoked_at = now(), revoked_why = 'reuse detected'
                  WHERE family_id = $1 AND revoked_at IS NULL",
            )
            .bind(family)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Err(RefreshError::Revoked);
        }
        if expires_at <= chrono::Utc::now() {
            return Err(RefreshError::Expired);
        }
        sqlx::query(
            "UPDATE auth_sessions SET revoked_at = now(), revoked_why = 'rotated' WHERE id = $1",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let fresh = new_token();
        sqlx::query(
            "INSERT INTO auth_sessions (id, family_id, user_id, token_hash, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(Uuid::new_v4())
        .bind(family)
        .bind(user)
        .bind(digest(&fresh))
        .bind(self.expires())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((user, fresh))
    }

    /// Revokes one token of `user` (logout). Returns whether it was active.
    ///
    /// # Errors
    /// The sqlx error.
    pub async fn revoke(&self, user: Uuid, token: &str) -> Result<bool, sqlx::Error> {
        let n = sqlx::query(
            "UPDATE auth_sessions SET revoked_at = now(), revoked_why = 'logout'
              WHERE token_hash = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(digest(token))
        .bind(user)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// Revokes every session of a user (logout everywhere, deactivation, deletion, password
    /// change).
    ///
    /// # Errors
    /// The sqlx error.
    pub async fn revoke_all(&self, user: Uuid, why: &str) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query(
            "UPDATE auth_sessions SET revoked_at = now(), revoked_why = $2
              WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user)
        .bind(why)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}
