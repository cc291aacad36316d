//! The `pganalytics` binary's library: configuration and the wiring of server roles.
//!
//! `main.rs` only parses arguments and calls [`app::start`] or a one-shot command
//! (`migrate`, `replay`, `nats-init`). Tests start the same [`app::start`] on port 0.

pub mod app;
pub mod config;
pub mod nats_init;
