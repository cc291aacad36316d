use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{
    ConnectionSpec, ConnectionStatus, CredentialChange, ManagedInstanceCommand,
    ManagedInstanceError, ManagedInstanceEvent, SealedCredential, SharedInstanceServices,
    TestTrigger,
};
use crate::envelope::AggregateKind;
use crate::values::Name;

/// An unchanged background result is still recorded this often, so the list's "last
/// heartbeat" stays meaningful without an event per check.
pub const BACKGROUND_HEARTBEAT: Duration = Duration::minutes(15);

/// The state a ManagedInstance needs to decide.
#[derive(Debug, Default, Serialize, Deserialize)]
pub enum ManagedInstance {
    /// Not registered yet.
    #[default]
    New,
    /// Registered and not removed.
    Active(Registered),
    /// Removed: every command is refused.
    Removed,
}

/// A registered instance.
#[derive(Debug, Serialize, Deserialize)]
pub struct Registered {
    name: Name,
    connection: ConnectionSpec,
    credential: Option<SealedCredential>,
    last_status: Option<ConnectionStatus>,
    last_recorded: Option<DateTime<Utc>>,
}

impl Aggregate for ManagedInstance {
    const TYPE: &'static str = AggregateKind::ManagedInstance.type_name();
    type Command = ManagedInstanceCommand;
    type Event = ManagedInstanceEvent;
    type Error = ManagedInstanceError;
    type Services = SharedInstanceServices;

    // Over 60 lines on purpose: one arm per command, each deciding from the current state; the target-change rule needs the services and writes two events.
    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let (current, command) = match (&*self, command) {
            (Self::Removed, _) => return Err(ManagedInstanceError::AlreadyRemoved),
            (
                Self::New,
                ManagedInstanceCommand::RegisterInstance {
                    name,
                    connection,
                    credential,
                    tags,
                    at,
                },
            ) => {
                reachable(&connection, services)?;
                let event = ManagedInstanceEvent::InstanceRegistered {
                    name,
                    connection,
                    credential,
                    tags,
                    at,
                };
                sink.write(event, self).await;
                return Ok(());
            }
            (Self::New, _) => return Err(ManagedInstanceError::NotFound),
            (Self::Active(current), command) => (current, command),
        };
        let event = match command {
            ManagedInstanceCommand::RegisterInstance { .. } => {
                return Err(ManagedInstanceError::AlreadyRegistered)
            }
            ManagedInstanceCommand::UpdateInstance {
                name,
                connection,
                credential,
                tags,
                at,
            } => {
                reachable(&connection, services)?;
                let moved = !connection.same_target(&current.connection);
                if moved && current.credential.is_some() && credential == CredentialChange::Keep {
                    return Err(ManagedInstanceError::PasswordRequiredForNewTarget);
                }
                let updated = ManagedInstanceEvent::InstanceUpdated {
                    name,
                    connection,
                    tags,
                    at,
                };
                // One command, so the new target is never stored with the old password.
                sink.write(updated, self).await;
                if let CredentialChange::Replace(credential) = credential {
                    let rotated = ManagedInstanceEvent::CredentialsRotated {
                        credential,
                        key_rotation: false,
                        at,
                    };
                    sink.write(rotated, self).await;
                }
                return Ok(());
            }
            ManagedInstanceCommand::RotateCredentials { credential, at } => {
                ManagedInstanceEvent::CredentialsRotated {
                    credential,
                    key_rotation: false,
                    at,
                }
            }
            ManagedInstanceCommand::ResealCredential { instance, at } => {
                let Some(sealed) = current.credential.as_ref() else {
                    return Ok(());
                };
                match services.reseal(sealed, instance, &current.connection) {
                    Ok(Some(credential)) => ManagedInstanceEvent::CredentialsRotated {
                        credential: Some(credential),
                        key_rotation: true,
                        at,
                    },
                    Ok(None) => return Ok(()),
                    Err(e) => return Err(ManagedInstanceError::CredentialUnreadable(e)),
                }
            }
            ManagedInstanceCommand::TestConnection {
                instance,
                trigger,
                at,
            } => {
                let outcome = services
                    .test_connection(instance, &current.connection, current.credential.as_ref())
                    .await
                    .bounded();
                let changed = current.last_status != Some(outcome.status);
                let heartbeat_due = current
                    .last_recorded
                    .is_none_or(|last| at - last >= BACKGROUND_HEARTBEAT);
                if trigger == TestTrigger::Background && !changed && !heartbeat_due {
                    return Ok(());
                }
                ManagedInstanceEvent::ConnectionTested {
                    success: outcome.status == ConnectionStatus::Connected,
                    status: outcome.status,
                    latency_ms: outcome.latency_ms,
                    server_version: outcome.server_version,
                    error: outcome.error,
                    tls: outcome.tls,
                    trigger,
                    at,
                }
            }
            ManagedInstanceCommand::RemoveInstance { at } => {
                ManagedInstanceEvent::InstanceRemoved {
                    name: current.name.clone(),
                    at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match (&mut *self, event) {
            (
                _,
                ManagedInstanceEvent::InstanceRegistered {
                    name,
                    connection,
                    credential,
                    ..
                },
            ) => {
                *self = Self::Active(Registered {
                    name,
                    connection,
                    credential,
                    last_status: None,
                    last_recorded: None,
                });
            }
            (_, ManagedInstanceEvent::InstanceRemoved { .. }) => *self = Self::Removed,
            (
                Self::Active(r),
                ManagedInstanceEvent::InstanceUpdated {
                    name, connection, ..
                },
            ) => {
                r.name = name;
                r.connection = connection;
            }
            (Self::Active(r), ManagedInstanceEvent::CredentialsRotated { credential, .. }) => {
                r.credential = credential;
            }
            (Self::Active(r), ManagedInstanceEvent::ConnectionTested { status, at, .. }) => {
                r.last_status = Some(status);
                r.last_recorded = Some(at);
            }
            // Events on an instance in another state change nothing.
            _ => {}
        }
    }
}

/// Refuses a Unix-socket host unless the admin setting allows them.
fn reachable(
    connection: &ConnectionSpec,
    services: &SharedInstanceServices,
) -> Result<(), ManagedInstanceError> {
    if connection.is_unix_socket() && !services.unix_sockets_allowed() {
        return Err(ManagedInstanceError::UnixSocketHostNotAllowed(
            connection.host.clone(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use chrono::TimeZone;
    use cqrs_es::test::TestFramework;

    use super::*;
    use crate::managed_instance::{ConnectionOutcome, InstanceServices};

    /// Answers every test with the next queued outcome.
    struct FakeServices(Mutex<Vec<ConnectionOutcome>>, bool);

    #[async_trait::async_trait]
    impl InstanceServices for FakeServices {
        async fn test_connection(
            &self,
            _: uuid::Uuid,
            _: &ConnectionSpec,
            _: Option<&SealedCredential>,
        ) -> ConnectionOutcome {
            self.0.lock().expect("lock").remove(0)
        }

        fn reseal(
            &self,
            c: &SealedCredential,
            _: uuid::Uuid,
            _: &ConnectionSpec,
        ) -> Result<Option<SealedCredential>, String> {
            if c.key_id == "new" {
                return Ok(None);
            }
            Ok(Some(SealedCredential {
                key_id: "new".into(),
                ..c.clone()
            }))
        }

        fn unix_sockets_allowed(&self) -> bool {
            self.1
        }
    }

    fn services(outcomes: Vec<ConnectionOutcome>) -> SharedInstanceServices {
        Arc::new(FakeServices(Mutex::new(outcomes), false))
    }

    const ID: uuid::Uuid = uuid::Uuid::from_u128(1);

    fn outcome(status: ConnectionStatus) -> ConnectionOutcome {
        ConnectionOutcome {
            status,
            latency_ms: 3.5,
            server_version: (status == ConnectionStatus::Connected).then(|| "16.4".into()),
            error: (status != ConnectionStatus::Connected).then(|| "refused".into()),
            tls: (status == ConnectionStatus::Connected).then_some(true),
        }
    }

    fn t(minutes: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000, 0).unwrap() + Duration::minutes(minutes)
    }

    fn registered() -> ManagedInstanceEvent {
        ManagedInstanceEvent::InstanceRegistered {
            name: Name::parse("prod").expect("valid"),
            connection: ConnectionSpec::parse("db", 5432, "app", "u", "require", 5).expect("valid"),
            credential: Some(SealedCredential {
                key_id: "old".into(),
                nonce: "n".into(),
                ciphertext: "c".into(),
                version: SealedCredential::BOUND,
            }),
            tags: vec!["eu".into()],
            at: t(0),
        }
    }

    fn tested(
        status: ConnectionStatus,
        trigger: TestTrigger,
        at: DateTime<Utc>,
    ) -> ManagedInstanceEvent {
        let o = outcome(status);
        ManagedInstanceEvent::ConnectionTested {
            success: status == ConnectionStatus::Connected,
            status,
            latency_ms: o.latency_ms,
            server_version: o.server_version,
            error: o.error,
            tls: o.tls,
            trigger,
            at,
        }
    }

    #[test]
    fn registering_twice_is_refused() {
        TestFramework::<ManagedInstance>::with(services(vec![]))
            .given(vec![registered()])
            .when(ManagedInstanceCommand::RegisterInstance {
                name: Name::parse("again").expect("valid"),
                connection: ConnectionSpec::parse("db", 5432, "app", "u", "require", 5)
                    .expect("valid"),
                credential: None,
                tags: vec![],
                at: t(1),
            })
            .then_expect_error(ManagedInstanceError::AlreadyRegistered);
    }

    #[test]
    fn a_manual_test_is_always_recorded() {
        let ok = ConnectionStatus::Connected;
        TestFramework::<ManagedInstance>::with(services(vec![outcome(ok)]))
            .given(vec![registered(), tested(ok, TestTrigger::Manual, t(1))])
            .when(ManagedInstanceCommand::TestConnection {
                instance: ID,
                trigger: TestTrigger::Manual,
                at: t(2),
            })
            .then_expect_events(vec![tested(ok, TestTrigger::Manual, t(2))]);
    }

    #[test]
    fn a_background_check_records_changes_and_a_sparse_heartbeat_only() {
        let ok = ConnectionStatus::Connected;
        let down = ConnectionStatus::Error;
        let background = |at| ManagedInstanceCommand::TestConnection {
            instance: ID,
            trigger: TestTrigger::Background,
            at,
        };
        // Unchanged, recent: nothing recorded.
        TestFramework::<ManagedInstance>::with(services(vec![outcome(ok)]))
            .given(vec![registered(), tested(ok, TestTrigger::Manual, t(1))])
            .when(background(t(2)))
            .then_expect_events(vec![]);
        // Changed: recorded.
        TestFramework::<ManagedInstance>::with(services(vec![outcome(down)]))
            .given(vec![registered(), tested(ok, TestTrigger::Manual, t(1))])
            .when(background(t(2)))
            .then_expect_events(vec![tested(down, TestTrigger::Background, t(2))]);
        // Unchanged but the heartbeat is due: recorded.
        TestFramework::<ManagedInstance>::with(services(vec![outcome(ok)]))
            .given(vec![registered(), tested(ok, TestTrigger::Manual, t(1))])
            .when(background(t(16)))
            .then_expect_events(vec![tested(ok, TestTrigger::Background, t(16))]);
    }

    #[test]
    fn resealing_changes_the_key_once() {
        let resealed = ManagedInstanceEvent::CredentialsRotated {
            credential: Some(SealedCredential {
                key_id: "new".into(),
                nonce: "n".into(),
                ciphertext: "c".into(),
                version: SealedCredential::BOUND,
            }),
            key_rotation: true,
            at: t(3),
        };
        TestFramework::<ManagedInstance>::with(services(vec![]))
            .given(vec![registered()])
            .when(ManagedInstanceCommand::ResealCredential {
                instance: ID,
                at: t(3),
            })
            .then_expect_events(vec![resealed.clone()]);
        TestFramework::<ManagedInstance>::with(services(vec![]))
            .given(vec![registered(), resealed])
            .when(ManagedInstanceCommand::ResealCredential {
                instance: ID,
                at: t(4),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_removed_instance_refuses_tests_and_removal() {
        let removed = ManagedInstanceEvent::InstanceRemoved {
            name: Name::parse("prod").expect("valid"),
            at: t(5),
        };
        TestFramework::<ManagedInstance>::with(services(vec![]))
            .given(vec![registered()])
            .when(ManagedInstanceCommand::RemoveInstance { at: t(5) })
            .then_expect_events(vec![removed.clone()]);
        TestFramework::<ManagedInstance>::with(services(vec![]))
            .given(vec![registered(), removed])
            .when(ManagedInstanceCommand::TestConnection {
                instance: ID,
                trigger: TestTrigger::Manual,
                at: t(6),
            })
            .then_expect_error(ManagedInstanceError::AlreadyRemoved);
        TestFramework::<ManagedInstance>::with(services(vec![]))
            .given_no_previous_events()
            .when(ManagedInstanceCommand::RemoveInstance { at: t(6) })
            .then_expect_error(ManagedInstanceError::NotFound);
    }

    fn update(host: &str, credential: CredentialChange) -> ManagedInstanceCommand {
        ManagedInstanceCommand::UpdateInstance {
            name: Name::parse("prod").expect("valid"),
            connection: ConnectionSpec::parse(host, 5432, "app", "u", "require", 5).expect("valid"),
            credential,
            tags: vec![],
            at: t(2),
        }
    }

    fn updated(host: &str) -> ManagedInstanceEvent {
        ManagedInstanceEvent::InstanceUpdated {
            name: Name::parse("prod").expect("valid"),
            connection: ConnectionSpec::parse(host, 5432, "app", "u", "require", 5).expect("valid"),
            tags: vec![],
            at: t(2),
        }
    }

    fn sealed(ciphertext: &str) -> SealedCredential {
        SealedCredential {
            key_id: "old".into(),
            nonce: "n".into(),
            ciphertext: ciphertext.into(),
            version: SealedCredential::BOUND,
        }
    }

    #[test]
    fn a_new_target_without_the_password_is_refused_while_one_is_stored() {
        TestFramework::<ManagedInstance>::with(services(vec![]))
            .given(vec![registered()])
            .when(update("elsewhere", CredentialChange::Keep))
            .then_expect_error(ManagedInstanceError::PasswordRequiredForNewTarget);
        // The same target (only the timeout may differ): the password stays.
        TestFramework::<ManagedInstance>::with(services(vec![]))
            .given(vec![registered()])
            .when(update("db", CredentialChange::Keep))
            .then_expect_events(vec![updated("db")]);
        // No password stored: nothing to follow the instance.
        let cleared = ManagedInstanceEvent::CredentialsRotated {
            credential: None,
            key_rotation: false,
            at: t(1),
        };
        TestFramework::<ManagedInstance>::with(services(vec![]))
            .given(vec![registered(), cleared])
            .when(update("elsewhere", CredentialChange::Keep))
            .then_expect_events(vec![updated("elsewhere")]);
    }

    #[test]
    fn a_new_target_with_a_new_password_is_one_step() {
        let rotated = |credential| ManagedInstanceEvent::CredentialsRotated {
            credential,
            key_rotation: false,
            at: t(2),
        };
        TestFramework::<ManagedInstance>::with(services(vec![]))
            .given(vec![registered()])
            .when(update(
                "elsewhere",
                CredentialChange::Replace(Some(sealed("fresh"))),
            ))
            .then_expect_events(vec![updated("elsewhere"), rotated(Some(sealed("fresh")))]);
        TestFramework::<ManagedInstance>::with(services(vec![]))
            .given(vec![registered()])
            .when(update("elsewhere", CredentialChange::Replace(None)))
            .then_expect_events(vec![updated("elsewhere"), rotated(None)]);
    }

    #[test]
    fn a_unix_socket_host_needs_the_admin_setting() {
        let register = |host: &str| ManagedInstanceCommand::RegisterInstance {
            name: Name::parse("local").expect("valid"),
            connection: ConnectionSpec::parse(host, 5432, "app", "u", "disable", 5).expect("valid"),
            credential: None,
            tags: vec![],
            at: t(0),
        };
        let refused = ManagedInstanceError::UnixSocketHostNotAllowed("/tmp".into());
        TestFramework::<ManagedInstance>::with(services(vec![]))
            .given_no_previous_events()
            .when(register("/tmp"))
            .then_expect_error(refused.clone());
        TestFramework::<ManagedInstance>::with(services(vec![]))
            .given(vec![registered()])
            .when(update("/tmp", CredentialChange::Replace(None)))
            .then_expect_error(refused);
        let allowing: SharedInstanceServices = Arc::new(FakeServices(Mutex::new(vec![]), true));
        let result = TestFramework::<ManagedInstance>::with(allowing)
            .given_no_previous_events()
            .when(register("/tmp"))
            .inspect_result();
        assert!(result.is_ok(), "{result:?}");
    }
}
