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
        /// Managed instances it may report, from its registration secret; empty: none.
        instance_ids: Vec<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Set the managed instances it may report (the whole set).
    BindInstances {
        /// Managed instance ids.
        instance_ids: Vec<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Delete the collector; its credentials stop working at once.
    DeleteCollector {
        /// When.
        at: DateTime<Utc>,
    },
}
