//! The read side's queries: each read model's SQL beside the projector that writes it, rows
//! read by column name. The query API calls these and writes no SQL of its own.
//!
//! - [`metrics`]: series, their points at a resolution, statement samples and texts (written
//!   by [`crate::projectors::metric_samples`]).

pub mod metrics;
