//! The command side of pgAnalytics: where a request to change something becomes events.
//!
//! - [`store`]: the PostgreSQL event store (postgres-es) and the migrations.
//! - [`service`]: [`service::CommandService`] runs a command through its cqrs-es aggregate and
//!   tells the caller which event sequence it produced, so the caller can wait for projections.
//! - [`collectors`]: registration secrets and collector registration.
//! - [`credentials`]: AES-256-GCM sealing of instance passwords, with key ids for rotation.
//! - [`tester`]: real connection tests (sslmode honoured, bounded, classified).
//! - [`instances`]: instance commands that span aggregates (unique names, sealing bound to the
//!   target).
//! - [`channels`]: notification channel secrets re-sealed on key rotation.
//! - [`checks`]: background connection checks, each instance on its own schedule.
//! - [`nats_auth`]: the NATS trust chain (operator mode) and collectors' NATS credentials, each
//!   allowed only its own subject.
//! - [`names`]: unique names across aggregates of one kind (usernames, instance names).
//! - [`passwords`]: argon2id hashing and verification.
//! - [`relay`]: publishes every stored event to JetStream in commit order, exactly once on the
//!   stream, healing on restart whatever was committed but not yet published.
//!
//! - [`users`]: user commands that span aggregates (unique usernames, the first admin).
//!
//! This crate never answers queries: reading state for a user is the projections' job. It never
//! writes a read model, and it never puts a secret (a password, a token) into an event: what
//! reaches an event is a hash or a ciphertext.

pub mod channels;
pub mod checks;
pub mod collectors;
pub mod credentials;
pub mod instances;
pub mod names;
pub mod nats_auth;
pub mod passwords;
pub mod relay;
pub mod service;
pub mod store;
pub mod tester;
pub mod users;
