//! The RegistrationSecret aggregate: a shared secret admins hand to collectors so they can
//! register. Only its hash and a short prefix are ever stored.

mod aggregate;
mod commands;
mod events;

pub use aggregate::RegistrationSecret;
pub use commands::RegistrationSecretCommand;
pub use events::RegistrationSecretEvent;

use thiserror::Error;

/// One variant per rule of the RegistrationSecret aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegistrationSecretError {
    /// Create on an id that already holds a secret.
    #[error("registration secret already exists")]
    AlreadyExists,
    /// Any command but create on an id that holds nothing.
    #[error("registration secret not found")]
    NotFound,
    /// Any command on a deleted secret.
    #[error("registration secret has been deleted")]
    Deleted,
    /// Registration with a deactivated secret.
    #[error("registration secret is deactivated")]
    Inactive,
    /// Registration after `expires_at`.
    #[error("registration secret has expired")]
    Expired,
    /// Registration beyond `max_registrations`.
    #[error("registration secret has been used its maximum number of times")]
    Exhausted,
}
