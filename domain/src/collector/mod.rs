//! The Collector aggregate: an agent next to a database that registers and pushes metrics.

mod aggregate;
mod commands;
mod events;

pub use aggregate::Collector;
pub use commands::CollectorCommand;
pub use events::CollectorEvent;

use chrono::{DateTime, Utc};
use thiserror::Error;

/// Checks a collector token as carried by a metric batch (HTTP bridge or NATS header).
/// Implemented where the signing key lives; handed to the metrics projectors.
pub trait CollectorTokenVerifier: Send + Sync {
    /// The collector id the token was issued to, when it was valid at `at` (the time the batch
    /// reached JetStream).
    ///
    /// # Errors
    /// Why the token is refused, worded for the rejected-batches list.
    fn verify(&self, token: &str, at: DateTime<Utc>) -> Result<String, String>;
}

/// One variant per rule of the Collector aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CollectorError {
    /// Register on an id that already holds a collector.
    #[error("collector already registered")]
    AlreadyRegistered,
    /// Any command but register on an id that holds nothing.
    #[error("collector not found")]
    NotFound,
    /// Any command on a deleted collector.
    #[error("collector has been deleted")]
    Deleted,
}
