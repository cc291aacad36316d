//! What every handler shares.

use std::sync::Arc;

use async_nats::jetstream;
use commands::service::CommandService;
use deadpool_postgres::Pool;
use domain::bus::BusNames;
use projections::Projector;

/// Shared handler state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Runs commands through the aggregates.
    pub commands: Arc<CommandService>,
    /// The read-model pool (projections' tables).
    pub read_pool: Pool,
    /// The NATS connection (health, ingest).
    pub nats: async_nats::Client,
    /// JetStream on that connection.
    pub jetstream: jetstream::Context,
    /// Subject and stream names.
    pub names: BusNames,
    /// Every projection served, for health and read-your-writes.
    pub projectors: Arc<Vec<Arc<dyn Projector>>>,
}
