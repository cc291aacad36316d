//! The Collector aggregate: an agent next to a database that registers and pushes metrics.

mod aggregate;
mod commands;
mod events;

pub use aggregate::Collector;
pub use commands::CollectorCommand;
pub use events::CollectorEvent;

use thiserror::Error;

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
