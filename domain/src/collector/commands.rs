use chrono::{DateTime, Utc};

use crate::values::{AgentVersion, Hostname, Name};

/// What can be asked of a Collector.
#[derive(Debug, Clone)]
pub enum CollectorCommand {
    /// Record a collector that presented a valid registration secret.
    RegisterCollector {
        /// Display name.
        name: Name,
        /// Host the agent runs on.
        hostname: Hostname,
        /// Agent version.
        version: AgentVersion,
        /// The registration secret it used.
        registration_secret_id: String,
        /// Hash of the refresh secret handed to the collector (never the secret).
        refresh_secret_hash: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Delete the collector; its credentials stop working at once.
    DeleteCollector {
        /// When.
        at: DateTime<Utc>,
    },
}
