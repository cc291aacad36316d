//! Authentication and authorization: who is calling, and may they.
//!
//! - [`tokens`]: short-lived JWT access tokens (HS256).
//! - [`sessions`]: rotating, revocable refresh tokens, stored as SHA-256 only.
//! - [`limiter`]: login attempt limits per (username, address), per address and per username.
//! - [`client`]: the client's address, from a trusted proxy's header only.
//! - [`tickets`]: one-use tickets that open the live event stream without a token in the URL.
//! - [`access`]: the one guard every route passes through, with the role the route declared.

pub mod access;
pub mod client;
pub mod limiter;
pub mod sessions;
pub mod tickets;
pub mod tokens;

use std::time::Duration;

use domain::user::PasswordHash;

/// What the auth routes and the guard share.
pub struct AuthState {
    /// Signs and checks access and collector tokens.
    pub tokens: std::sync::Arc<tokens::TokenKeys>,
    /// Refresh tokens.
    pub sessions: sessions::Sessions,
    /// Login attempts, counted before the hash.
    pub logins: limiter::LoginLimits,
    /// Where the client's address comes from.
    pub client_address: client::ClientAddress,
    /// The bounded pool every argon2 job runs on.
    pub hashes: commands::passwords::HashPool,
    /// Verified against when a username is unknown, so both failures take the same time.
    pub decoy_hash: PasswordHash,
    /// How long a command endpoint waits for its events to be visible.
    pub command_wait: Duration,
    /// Issues each collector a NATS credential for its own subject (operator-mode NATS); none
    /// when the server holds no account signing key.
    pub nats_issuer: Option<std::sync::Arc<commands::nats_auth::NatsIssuer>>,
}
