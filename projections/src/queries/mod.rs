//! The read side's queries: each read model's SQL beside the projector that writes it, rows
//! read by column name. The query API calls these and writes no SQL against a read model.
//!
//! - [`alerting`]: rules, alerts and their history, silences, channels and deliveries.
//! - [`audit`]: the audit log, filtered (written by [`crate::projectors::audit`]).
//! - [`collectors`]: collectors with their activity, bindings and refusals (written by
//!   [`crate::projectors::collectors`], [`crate::projectors::collector_activity`] and
//!   [`crate::projectors::metric_samples`]).
//! - [`fleet`]: the fleet overview, one row per instance (written by
//!   [`crate::projectors::fleet`] with each metric batch).
//! - [`history`]: every version of instances, collectors, users, secrets and rules, for
//!   `as_of` and diffs (written beside each live table).
//! - [`managed_instances`]: the watched servers and their last connection test (written by
//!   [`crate::projectors::managed_instances`]).
//! - [`metrics`]: series, their points at a resolution, statement samples and texts (written
//!   by [`crate::projectors::metric_samples`]).
//! - [`registration_secrets`]: secrets by prefix, never the secret (written by
//!   [`crate::projectors::registration_secrets`]).
//! - [`users`]: users, for lists, the guard and logins (written by
//!   [`crate::projectors::users`]).

pub mod alerting;
pub mod audit;
pub mod collectors;
pub mod fleet;
pub mod history;
pub mod managed_instances;
pub mod metrics;
pub mod registration_secrets;
pub mod users;
