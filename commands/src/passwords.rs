//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes, 1 lane — OWASP's
//! minimum), run on the blocking pool so a login never stalls the async workers, and at most
//! [`HashPool`]'s bound at a time: each job holds 19 MiB, so an unbounded number of parallel
//! logins would be an unbounded amount of memory.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash as Phc, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use domain::user::{NewPassword, PasswordHash};
use tokio::sync::Semaphore;

/// Why hashing failed (never a wrong password: that is `Ok(false)` from [`HashPool::verify`]).
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every slot of the pool is taken; nothing was hashed. Retry shortly.
    #[error("password hashing is at capacity ({0} at a time)")]
    Busy(usize),
    /// argon2 failed (it does not for valid parameters) or the task panicked.
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// The bounded pool every argon2 job of a server runs on. Past the bound a job is refused at
/// once ([`HashError::Busy`]) rather than queued: a queue would only move the memory from
/// argon2 to waiting requests and make every login slow under attack.
#[derive(Clone, Debug)]
pub struct HashPool {
    slots: Arc<Semaphore>,
    max: usize,
}

impl HashPool {
    /// A pool running at most `max` (at least 1) argon2 jobs at a time.
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            slots: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    /// The bound.
    pub fn max(&self) -> usize {
        self.max
    }

    fn slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, HashError> {
        self.slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| HashError::Busy(self.max))
    }

    /// Hashes a password that passed the policy.
    ///
    /// # Errors
    /// [`HashError::Busy`] when the pool is full, [`HashError::Failed`] if argon2 fails.
    pub async fn hash(&self, password: &NewPassword) -> Result<PasswordHash, HashError> {
        let slot = self.slot()?;
        let password = password.expose().to_owned();
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| PasswordHash::from_phc(h.to_string()))
                .map_err(|e| HashError::Failed(e.to_string()))
        })
        .await
        .map_err(|e| HashError::Failed(e.to_string()))?
    }

    /// Checks `password` against a stored hash. A malformed hash verifies nothing.
    ///
    /// # Errors
    /// [`HashError::Busy`] when the pool is full (nothing was checked).
    pub async fn verify(&self, password: &str, hash: &str) -> Result<bool, HashError> {
        let slot = self.slot()?;
        let password = password.to_owned();
        let hash = hash.to_owned();
        let verified = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            Phc::new(&hash)
                .map(|phc| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &phc)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        Ok(verified)
    }

    /// A hash of a random password, verified against when a username is unknown so that an
    /// unknown user and a wrong password take the same time.
    ///
    /// # Errors
    /// [`HashError`].
    pub async fn decoy(&self) -> Result<PasswordHash, HashError> {
        let random = uuid::Uuid::new_v4().to_string();
        let password = NewPassword::parse(&random).map_err(|e| HashError::Failed(e.to_string()))?;
        self.hash(&password).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let pool = HashPool::new(2);
        let pw = NewPassword::parse("correct horse battery").expect("policy");
        let h = pool.hash(&pw).await.expect("hash");
        assert!(h.as_phc().starts_with("$argon2id$"));
        assert!(pool
            .verify("correct horse battery", h.as_phc())
            .await
            .expect("slot"));
        assert!(!pool
            .verify("correct horse battery!", h.as_phc())
            .await
            .expect("slot"));
        assert!(!pool
            .verify("anything", "not a phc string")
            .await
            .expect("slot"));
    }

    #[tokio::test]
    async fn past_the_bound_a_job_is_refused_not_queued() {
        let pool = HashPool::new(1);
        let h = pool.decoy().await.expect("decoy");
        let (first, second) = tokio::join!(pool.verify("a", h.as_phc()), async {
            // Let the first take its slot.
            tokio::task::yield_now().await;
            pool.verify("b", h.as_phc()).await
        });
        assert!(matches!(first, Ok(false)));
        assert!(matches!(second, Err(HashError::Busy(1))), "{second:?}");
        // The slot comes back once the job is done.
        assert!(matches!(pool.verify("c", h.as_phc()).await, Ok(false)));
    }
}
