//! Background connection checks, each instance on its own schedule.
//!
//! Every round starts a check of each instance whose previous check has finished, and does not
//! wait for any of them: an instance that never answers holds up only its own next check, for
//! at most [`CHECK_DEADLINE`], never the checks of the others. (Before, rounds ran four checks
//! at a time and the next round waited for the slowest, so a few silent hosts with long
//! timeouts starved every other instance's status.) At most one check per instance runs at a
//! time, so the work in flight is bounded by the number of instances.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use domain::managed_instance::{TestTrigger, CONNECT_TIMEOUT_MAX_S};
use domain::values::Actor;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::instances;
use crate::service::{CommandError, CommandService};

/// Longest one background check may take, event store included: the connection attempt is
/// bounded by `connect_timeout_s` (at most [`CONNECT_TIMEOUT_MAX_S`]); the rest is margin.
pub const CHECK_DEADLINE: Duration = Duration::from_secs(CONNECT_TIMEOUT_MAX_S as u64 + 15);

/// The checks in flight. Dropping it cancels them (shutdown).
pub struct BackgroundChecks {
    service: Arc<CommandService>,
    running: JoinSet<()>,
    in_flight: Arc<Mutex<HashSet<String>>>,
}

/// Marks an instance as being checked, until dropped (also when its task panics or is cancelled).
struct InFlight {
    set: Arc<Mutex<HashSet<String>>>,
    id: String,
}

impl InFlight {
    fn claim(set: &Arc<Mutex<HashSet<String>>>, id: &str) -> Option<Self> {
        let fresh = set
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_owned());
        fresh.then(|| Self {
            set: set.clone(),
            id: id.to_owned(),
        })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

impl BackgroundChecks {
    /// No checks yet.
    pub fn new(service: Arc<CommandService>) -> Self {
        Self {
            service,
            running: JoinSet::new(),
            in_flight: Arc::default(),
        }
    }

    /// Starts a check of every registered instance that is not still being checked, and
    /// returns at once with how many were started. The aggregate records only changes of
    /// status (and a sparse heartbeat).
    ///
    /// # Errors
    /// The event store's error when the instance list cannot be read; a failed check of one
    /// instance is logged and touches no other.
    pub async fn start_round(&mut self) -> Result<usize, sqlx::Error> {
        while self.running.try_join_next().is_some() {}
        let mut started = 0;
        for id in instances::live_ids(&self.service).await? {
            let Some(guard) = InFlight::claim(&self.in_flight, &id) else {
                continue;
            };
            let service = self.service.clone();
            self.running.spawn(async move {
                let _in_flight = guard;
                check(&service, &id).await;
            });
            started += 1;
        }
        Ok(started)
    }
}

async fn check(service: &CommandService, id: &str) {
    let Ok(instance) = Uuid::parse_str(id) else {
        tracing::warn!(instance = %id, "not a managed-instance id; not checked");
        return;
    };
    let actor = Actor::system("background-check");
    let run = instances::test(service, instance, TestTrigger::Background, &actor);
    match tokio::time::timeout(CHECK_DEADLINE, run).await {
        // Removed meanwhile, or a person tested it at the same moment: fine.
        Ok(Ok(_) | Err(CommandError::Rejected(_) | CommandError::Conflict(_))) => {}
        Ok(Err(e)) => tracing::warn!(instance = %id, error = %e, "background check failed"),
        Err(_) => {
            tracing::warn!(instance = %id, "background check gave up after {CHECK_DEADLINE:?}")
        }
    }
}
