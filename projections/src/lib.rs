//! The read side of pgAnalytics: where an event becomes a row.
//!
//! - [`runtime`]: a projector is a durable JetStream pull consumer with explicit acks. Each
//!   batch is applied and its checkpoint (the last stream sequence applied) stored in one
//!   PostgreSQL transaction, so a redelivered message changes nothing.
//! - [`projectors`]: one projector per read model (`rm_*` tables).
//! - [`replay`]: rebuilds a projection from history into fresh tables and switches over while
//!   the live service keeps answering.
//! - [`freshness`]: lets a command endpoint wait until its events are visible (read-your-writes).
//! - [`maintenance`]: partitions ahead, retention (whole partitions, old rows), dedup pruning,
//!   the 1-hour rollups.
//! - [`pg_error`]: data errors told from infrastructure errors, and named in logs.
//! - [`status`]: checkpoint and lag per projection, for the health endpoint.
//! - [`workers`]: processes sharing the projections through leases, and taking over a dead
//!   one's share; metric batches arrive on a fixed number of partition streams.
//! - [`queries`]: each read model's reads, beside the projector that writes it; the query API
//!   calls them.
//!
//! Projectors never load an aggregate or read the event store: what they know arrives on the
//! stream. The query API reads the tables written here and nothing else.

pub mod db;
pub mod freshness;
pub mod maintenance;
pub mod pg_error;
pub mod projectors;
pub mod queries;
pub mod replay;
pub mod runtime;
pub mod status;
pub mod workers;

pub use runtime::{ApplyError, Delivered, Projector, RunError, Runner, Source};
