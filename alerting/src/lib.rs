//! Alerting: the evaluator that turns read models into alert state commands, and the
//! dispatcher that delivers the notification outbox (Alertmanager, webhook, email).
//!
//! - [`evaluate`]: every interval, each enabled rule over the read models, observations to the
//!   Alert aggregates.
//! - [`seed`]: the built-in rules, created once.
//! - [`deliver`]: the notification outbox, delivered with retries.
//! - [`email`]: SMTP with STARTTLS.

pub mod deliver;
pub mod email;
pub mod evaluate;
pub mod seed;
