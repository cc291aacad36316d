//! Running commands through the aggregates.

use std::collections::HashMap;
use std::sync::Arc;

use cqrs_es::{Aggregate, AggregateError};
use domain::alerting::{Alert, AlertRule, NotificationChannel, Silence};
use domain::collector::Collector;
use domain::managed_instance::{ManagedInstance, SharedInstanceServices};
use domain::registration_secret::RegistrationSecret;
use domain::user::User;
use domain::values::Actor;
use domain::AggregateKind;
use postgres_es::{postgres_cqrs, PostgresCqrs};
use sqlx::PgPool;

use crate::tester::ConnectionTester;

/// Events between two snapshots of an Alert aggregate.
pub const ALERT_SNAPSHOT_EVERY: usize = 50;

/// What a successful command left in the event store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// Which aggregate.
    pub kind: AggregateKind,
    /// Its id.
    pub aggregate_id: String,
    /// The aggregate's sequence after the command (at least that of its last new event).
    pub sequence: i64,
}

/// Why a command did not produce events.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error> {
    /// The aggregate refused it (a domain rule).
    #[error(transparent)]
    Rejected(E),
    /// Another command changed the same aggregate at the same time; retrying may succeed.
    #[error("the {0} was changed concurrently; try again")]
    Conflict(&'static str),
    /// The event store could not be reached or failed.
    #[error("event store unavailable: {0}")]
    Unavailable(String),
}

/// The cqrs-es frameworks over the one PostgreSQL event store.
pub struct CommandService {
    pool: PgPool,
    users: PostgresCqrs<User>,
    instances: PostgresCqrs<ManagedInstance>,
    collectors: PostgresCqrs<Collector>,
    secrets: PostgresCqrs<RegistrationSecret>,
    rules: PostgresCqrs<AlertRule>,
    alerts: PostgresCqrs<Alert>,
    silences: PostgresCqrs<Silence>,
    channels: PostgresCqrs<NotificationChannel>,
    tester: ConnectionTester,
}

impl CommandService {
    /// Builds the frameworks on a pool whose database has been migrated. `tester` tests
    /// connections and opens sealed credentials for the ManagedInstance aggregate.
    pub fn new(pool: PgPool, tester: ConnectionTester) -> Self {
        let instance_services: SharedInstanceServices = Arc::new(tester.clone());
        Self {
            users: postgres_cqrs(pool.clone(), vec![], ()),
            instances: postgres_cqrs(pool.clone(), vec![], instance_services),
            collectors: postgres_cqrs(pool.clone(), vec![], ()),
            secrets: postgres_cqrs(pool.clone(), vec![], ()),
            rules: postgres_cqrs(pool.clone(), vec![], ()),
            // An alert that flaps for months gathers thousands of events; every observation
            // would load them all. A snapshot every 50 events bounds that.
            alerts: postgres_es::postgres_snapshot_cqrs(
                pool.clone(),
                vec![],
                ALERT_SNAPSHOT_EVERY,
                (),
            ),
            silences: postgres_cqrs(pool.clone(), vec![], ()),
            channels: postgres_cqrs(pool.clone(), vec![], ()),
            pool,
            tester,
        }
    }

    /// The connection tester (and credential cipher) this service was built with.
    pub fn tester(&self) -> &ConnectionTester {
        &self.tester
    }

    /// The event-store pool, for services that check uniqueness or read the clock of the store.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs a command on a User.
    ///
    /// # Errors
    /// See [`CommandError`].
    pub async fn user(
        &self,
        id: &str,
        command: <User as Aggregate>::Command,
        actor: &Actor,
    ) -> Result<Committed, CommandError<<User as Aggregate>::Error>> {
        self.run(&self.users, AggregateKind::User, id, command, actor)
            .await
    }

    /// Runs a command on a ManagedInstance.
    ///
    /// # Errors
    /// See [`CommandError`].
    pub async fn managed_instance(
        &self,
        id: &str,
        command: <ManagedInstance as Aggregate>::Command,
        actor: &Actor,
    ) -> Result<Committed, CommandError<<ManagedInstance as Aggregate>::Error>> {
        let kind = AggregateKind::ManagedInstance;
        self.run(&self.instances, kind, id, command, actor).await
    }

    /// Runs a command on a Collector.
    ///
    /// # Errors
    /// See [`CommandError`].
    pub async fn collector(
        &self,
        id: &str,
        command: <Collector as Aggregate>::Command,
        actor: &Actor,
    ) -> Result<Committed, CommandError<<Collector as Aggregate>::Error>> {
        let kind = AggregateKind::Collector;
        self.run(&self.collectors, kind, id, command, actor).await
    }

    /// Runs a command on a RegistrationSecret.
    ///
    /// # Errors
    /// See [`CommandError`].
    pub async fn registration_secret(
        &self,
        id: &str,
        command: <RegistrationSecret as Aggregate>::Command,
        actor: &Actor,
    ) -> Result<Committed, CommandError<<RegistrationSecret as Aggregate>::Error>> {
        let kind = AggregateKind::RegistrationSecret;
        self.run(&self.secrets, kind, id, command, actor).await
    }

    /// Runs a command on an AlertRule.
    ///
    /// # Errors
    /// See [`CommandError`].
    pub async fn alert_rule(
        &self,
        id: &str,
        command: <AlertRule as Aggregate>::Command,
        actor: &Actor,
    ) -> Result<Committed, CommandError<<AlertRule as Aggregate>::Error>> {
        let kind = AggregateKind::AlertRule;
        self.run(&self.rules, kind, id, command, actor).await
    }

    /// Runs a command on an Alert.
    ///
    /// # Errors
    /// See [`CommandError`].
    pub async fn alert(
        &self,
        id: &str,
        command: <Alert as Aggregate>::Command,
        actor: &Actor,
    ) -> Result<Committed, CommandError<<Alert as Aggregate>::Error>> {
        let kind = AggregateKind::Alert;
        self.run(&self.alerts, kind, id, command, actor).await
    }

    /// Runs a command on a Silence.
    ///
    /// # Errors
    /// See [`CommandError`].
    pub async fn silence(
        &self,
        id: &str,
        command: <Silence as Aggregate>::Command,
        actor: &Actor,
    ) -> Result<Committed, CommandError<<Silence as Aggregate>::Error>> {
        let kind = AggregateKind::Silence;
        self.run(&self.silences, kind, id, command, actor).await
    }

    /// Runs a command on a NotificationChannel.
    ///
    /// # Errors
    /// See [`CommandError`].
    pub async fn notification_channel(
        &self,
        id: &str,
        command: <NotificationChannel as Aggregate>::Command,
        actor: &Actor,
    ) -> Result<Committed, CommandError<<NotificationChannel as Aggregate>::Error>> {
        let kind = AggregateKind::NotificationChannel;
        self.run(&self.channels, kind, id, command, actor).await
    }

    async fn run<A: Aggregate>(
        &self,
        framework: &PostgresCqrs<A>,
        kind: AggregateKind,
        id: &str,
        command: A::Command,
        actor: &Actor,
    ) -> Result<Committed, CommandError<A::Error>> {
        let metadata: HashMap<String, String> = actor.to_metadata();
        framework
            .execute_with_metadata(id, command, metadata)
            .await
            .map_err(|e| match e {
                AggregateError::UserError(e) => CommandError::Rejected(e),
                AggregateError::AggregateConflict => CommandError::Conflict(kind.type_name()),
                other => CommandError::Unavailable(other.to_string()),
            })?;
        // cqrs-es does not return the sequence it wrote; read it back. A concurrent command
        // can only make it higher, which is still a correct point to wait for.
        let sequence: Option<i64> = sqlx::query_scalar(
            "SELECT max(sequence) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2",
        )
        .bind(kind.type_name())
        .bind(id)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| CommandError::Unavailable(e.to_string()))?;
        Ok(Committed {
            kind,
            aggregate_id: id.to_owned(),
            sequence: sequence.unwrap_or(0),
        })
    }
}
