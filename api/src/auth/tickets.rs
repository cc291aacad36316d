//! One-use tickets for the live event stream. A browser's `EventSource` cannot send an
//! `Authorization` header, so the dashboard trades its bearer token for a ticket
//! (`POST /events/ticket`) and puts that in the stream's URL instead: random, stored as SHA-256
//! only, valid [`TICKET_TTL`], consumed by the first `GET /events?ticket=…`.
//!
//! Kept in PostgreSQL (`auth_live_tickets`), not in process memory: `pganalytics api` may run as
//! several processes, and the ticket request and the stream may reach different ones. The
//! database clock decides validity, so the processes' clocks need not agree.

use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// How long a ticket may wait for its stream.
pub const TICKET_TTL: Duration = Duration::from_secs(30);

/// What a redeemed ticket grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redeemed {
    /// The user who asked for it.
    pub user: Uuid,
    /// When the access token it was asked with expires; the stream ends then.
    pub access_expires_at: DateTime<Utc>,
}

/// Why a ticket was refused.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    /// Never issued, or already used.
    #[error("this live-updates ticket is not valid or was already used; ask for a new one")]
    Unknown,
    /// Issued, but not used in time.
    #[error("this live-updates ticket has expired; ask for a new one")]
    Expired,
    /// The store failed.
    #[error("ticket store unavailable: {0}")]
    Store(#[from] tokio_postgres::Error),
}

fn new_ticket() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "pgt_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

fn digest(ticket: &str) -> Vec<u8> {
    Sha256::digest(ticket.as_bytes()).to_vec()
}

/// Issues a ticket for `user`, whose access token expires at `access_expires_at`; returns the
/// ticket and its lifetime. Sweeps expired tickets on the way, so the table stays small.
///
/// # Errors
/// The database error.
pub async fn issue(
    client: &tokio_postgres::Client,
    user: Uuid,
    access_expires_at: DateTime<Utc>,
) -> Result<(String, Duration), tokio_postgres::Error> {
    let ticket = new_ticket();
    let ttl = f64::from(u32::try_from(TICKET_TTL.as_secs()).unwrap_or(30));
    client
        .execute(
            "DELETE FROM auth_live_tickets WHERE expires_at < now()",
            &[],
        )
        .await?;
    client
        .execute(
            "INSERT INTO auth_live_tickets (ticket_hash, user_id, access_expires_at, expires_at)
             VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
            &[&digest(&ticket), &user, &access_expires_at, &ttl],
        )
        .await?;
    Ok((ticket, TICKET_TTL))
}

/// Consumes a ticket: it is deleted whether or not it was still valid, so it works once.
///
/// # Errors
/// [`TicketError`].
pub async fn redeem(
    client: &tokio_postgres::Client,
    ticket: &str,
) -> Result<Redeemed, TicketError> {
    let row = client
        .query_opt(
            "DELETE FROM auth_live_tickets WHERE ticket_hash = $1
             RETURNING user_id, access_expires_at, expires_at > now() AS valid",
            &[&digest(ticket)],
        )
        .await?;
    let Some(row) = row else {
        return Err(TicketError::Unknown);
    };
    if !row.get::<_, bool>("valid") {
        return Err(TicketError::Expired);
    }
    Ok(Redeemed {
        user: row.get("user_id"),
        access_expires_at: row.get("access_expires_at"),
    })
}
