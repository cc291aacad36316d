//! The pgAnalytics collector agent: reads PostgreSQL's statistics views (12–17) and the host's
//! `/proc`, and pushes the samples to pgAnalytics over HTTP or NATS, through a durable spool.

pub mod agent;
pub mod config;
pub mod families;
pub mod host;
pub mod measure;
pub mod spool;
pub mod state;
pub mod transport;
