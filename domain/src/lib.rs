//! The pgAnalytics domain: aggregates, commands, events and value types.
//!
//! This crate decides; it never performs I/O. An aggregate receives a command, checks it
//! against its own state and answers with past-tense events (or a typed error). Anything that
//! needs the outside world — the clock, hashing a secret, sealing a credential — arrives already
//! computed inside the command, so every rule here is testable with plain values.
//!
//! Tour:
//! - [`user`], [`managed_instance`], [`collector`], [`registration_secret`]: one module per
//!   aggregate, each with `commands.rs`, `events.rs` and `aggregate.rs`.
//! - [`envelope`]: the wire form of a stored event as the relay publishes it to JetStream and
//!   the projectors read it back.
//! - [`bus`]: subject, stream and consumer names derived from the deployment prefix.
//! - [`signature`]: the relay's signature on every event it publishes, which projectors check.
//! - [`metrics`]: metric batches and the parsers of the native and v3 push formats.
//! - [`values`]: small parsed value types shared by several aggregates.
//!
//! Event type names and versions are frozen strings: stored events outlive the code that wrote
//! them, so renaming a Rust variant must never change what `event_type()` returns.

pub mod alerting;
pub mod bus;
pub mod collector;
pub mod envelope;
pub mod managed_instance;
pub mod metrics;
pub mod registration_secret;
pub mod signature;
pub mod user;
pub mod values;

pub use envelope::{AggregateKind, StoredEvent};
