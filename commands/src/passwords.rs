//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes, 1 lane — OWASP's
//! minimum), run on the blocking pool so a login never stalls the async workers.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash as Phc, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use domain::user::{NewPassword, PasswordHash};

/// Why hashing failed (never a wrong password: that is `Ok(false)` from [`verify`]).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes a password that passed the policy.
///
/// # Errors
/// [`HashError`] if argon2 fails (it does not for valid parameters) or the task panicked.
pub async fn hash(password: &NewPassword) -> Result<PasswordHash, HashError> {
    let password = password.expose().to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| PasswordHash::from_phc(h.to_string()))
            .map_err(|e| HashError(e.to_string()))
    })
    .await
    .map_err(|e| HashError(e.to_string()))?
}

/// Checks `password` against a stored hash. A malformed hash verifies nothing.
pub async fn verify(password: &str, hash: &str) -> bool {
    let password = password.to_owned();
    let hash = hash.to_owned();
    tokio::task::spawn_blocking(move || {
        Phc::new(&hash)
            .map(|phc| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &phc)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A hash of a random password, verified against when a username is unknown so that an unknown
/// user and a wrong password take the same time.
///
/// # Errors
/// [`HashError`].
pub async fn decoy() -> Result<PasswordHash, HashError> {
    let random = uuid::Uuid::new_v4().to_string();
    let password = NewPassword::parse(&random).map_err(|e| HashError(e.to_string()))?;
    hash(&password).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let pw = NewPassword::parse("correct horse battery").expect("policy");
        let h = hash(&pw).await.expect("hash");
        assert!(h.as_phc().starts_with("$argon2id$"));
        assert!(verify("correct horse battery", h.as_phc()).await);
        assert!(!verify("correct horse battery!", h.as_phc()).await);
        assert!(!verify("anything", "not a phc string").await);
    }
}
