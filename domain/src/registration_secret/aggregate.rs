use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{RegistrationSecretCommand, RegistrationSecretError, RegistrationSecretEvent};
use crate::envelope::AggregateKind;
use crate::values::Name;

/// The state a RegistrationSecret needs to decide.
#[derive(Debug, Default, Serialize, Deserialize)]
pub enum RegistrationSecret {
    /// Not created yet.
    #[default]
    New,
    /// Created and not deleted.
    Active(Created),
    /// Deleted: every command is refused.
    Removed,
}

/// A created secret.
#[derive(Debug, Serialize, Deserialize)]
pub struct Created {
    name: Name,
    active: bool,
    expires_at: Option<DateTime<Utc>>,
    max_registrations: Option<u32>,
    used: u32,
}

impl Aggregate for RegistrationSecret {
    const TYPE: &'static str = AggregateKind::RegistrationSecret.type_name();
    type Command = RegistrationSecretCommand;
    type Event = RegistrationSecretEvent;
    type Error = RegistrationSecretError;
    type Services = ();

    // Over 60 lines on purpose: one arm per (state, command); creating writes one or two events.
    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match (&*self, command) {
            (Self::Removed, _) => return Err(RegistrationSecretError::Deleted),
            (
                Self::New,
                RegistrationSecretCommand::CreateSecret {
                    name,
                    secret_hash,
                    prefix,
                    expires_at,
                    max_registrations,
                    instance_ids,
                    at,
                },
            ) => {
                let event = RegistrationSecretEvent::RegistrationSecretCreated {
                    name,
                    secret_hash,
                    prefix,
                    expires_at,
                    max_registrations,
                    at,
                };
                sink.write(event, self).await;
                if instance_ids.is_empty() {
                    return Ok(());
                }
                RegistrationSecretEvent::RegistrationSecretInstancesSet { instance_ids, at }
            }
            (Self::New, _) => return Err(RegistrationSecretError::NotFound),
            (Self::Active(created), command) => match created.decide(command)? {
                Some(event) => event,
                None => return Ok(()),
            },
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match (&mut *self, event) {
            (
                _,
                RegistrationSecretEvent::RegistrationSecretCreated {
                    name,
                    expires_at,
                    max_registrations,
                    ..
                },
            ) => {
                *self = Self::Active(Created {
                    name,
                    active: true,
                    expires_at,
                    max_registrations,
                    used: 0,
                });
            }
            (_, RegistrationSecretEvent::RegistrationSecretDeleted { .. }) => *self = Self::Removed,
            (Self::Active(s), RegistrationSecretEvent::RegistrationSecretRenamed { to, .. }) => {
                s.name = to;
            }
            (Self::Active(s), RegistrationSecretEvent::RegistrationSecretDeactivated { .. }) => {
                s.active = false;
            }
            (Self::Active(s), RegistrationSecretEvent::RegistrationSecretReactivated { .. }) => {
                s.active = true;
            }
            (Self::Active(s), RegistrationSecretEvent::RegistrationSecretUsed { .. }) => {
                s.used += 1;
            }
            // The instance set is read by the command side from its lookup table at
            // registration; other events on a secret in another state change nothing.
            _ => {}
        }
    }
}

impl Created {
    /// The event a command on an existing secret yields; `None` when it changes nothing.
    fn decide(
        &self,
        command: RegistrationSecretCommand,
    ) -> Result<Option<RegistrationSecretEvent>, RegistrationSecretError> {
        Ok(Some(match command {
            RegistrationSecretCommand::CreateSecret { .. } => {
                return Err(RegistrationSecretError::AlreadyExists)
            }
            RegistrationSecretCommand::Rename { name, at } => {
                if name == self.name {
                    return Ok(None);
                }
                RegistrationSecretEvent::RegistrationSecretRenamed {
                    from: self.name.clone(),
                    to: name,
                    at,
                }
            }
            RegistrationSecretCommand::SetActive { active, at } => match (self.active, active) {
                (true, false) => RegistrationSecretEvent::RegistrationSecretDeactivated { at },
                (false, true) => RegistrationSecretEvent::RegistrationSecretReactivated { at },
                _ => return Ok(None),
            },
            RegistrationSecretCommand::UseForRegistration { collector_id, at } => {
                if !self.active {
                    return Err(RegistrationSecretError::Inactive);
                }
                if self.expires_at.is_some_and(|e| at >= e) {
                    return Err(RegistrationSecretError::Expired);
                }
                if self.max_registrations.is_some_and(|m| self.used >= m) {
                    return Err(RegistrationSecretError::Exhausted);
                }
                RegistrationSecretEvent::RegistrationSecretUsed { collector_id, at }
            }
            RegistrationSecretCommand::DeleteSecret { at } => {
                RegistrationSecretEvent::RegistrationSecretDeleted {
                    name: self.name.clone(),
                    at,
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};
    use cqrs_es::test::TestFramework;

    use super::*;

    fn t(m: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000, 0).unwrap() + Duration::minutes(m)
    }

    fn created(max: Option<u32>, expires_at: Option<DateTime<Utc>>) -> RegistrationSecretEvent {
        RegistrationSecretEvent::RegistrationSecretCreated {
            name: Name::parse("fleet").expect("valid"),
            secret_hash: "h".into(),
            prefix: "pgas_ab".into(),
            expires_at,
            max_registrations: max,
            at: t(0),
        }
    }

    fn used(c: &str, m: i64) -> RegistrationSecretEvent {
        RegistrationSecretEvent::RegistrationSecretUsed {
            collector_id: c.into(),
            at: t(m),
        }
    }

    fn register(c: &str, m: i64) -> RegistrationSecretCommand {
        RegistrationSecretCommand::UseForRegistration {
            collector_id: c.into(),
            at: t(m),
        }
    }

    #[test]
    fn a_secret_is_created_once_and_deleted_once() {
        let deleted = RegistrationSecretEvent::RegistrationSecretDeleted {
            name: Name::parse("fleet").expect("valid"),
            at: t(1),
        };
        TestFramework::<RegistrationSecret>::with(())
            .given(vec![created(None, None)])
            .when(RegistrationSecretCommand::DeleteSecret { at: t(1) })
            .then_expect_events(vec![deleted.clone()]);
        TestFramework::<RegistrationSecret>::with(())
            .given(vec![created(None, None), deleted])
            .when(register("c", 2))
            .then_expect_error(RegistrationSecretError::Deleted);
    }

    #[test]
    fn registrations_stop_at_the_cap() {
        TestFramework::<RegistrationSecret>::with(())
            .given(vec![created(Some(2), None), used("a", 1)])
            .when(register("b", 2))
            .then_expect_events(vec![used("b", 2)]);
        TestFramework::<RegistrationSecret>::with(())
            .given(vec![created(Some(2), None), used("a", 1), used("b", 2)])
            .when(register("c", 3))
            .then_expect_error(RegistrationSecretError::Exhausted);
    }

    #[test]
    fn expired_and_deactivated_secrets_register_nobody() {
        TestFramework::<RegistrationSecret>::with(())
            .given(vec![created(None, Some(t(10)))])
            .when(register("a", 10))
            .then_expect_error(RegistrationSecretError::Expired);
        let off = RegistrationSecretEvent::RegistrationSecretDeactivated { at: t(1) };
        TestFramework::<RegistrationSecret>::with(())
            .given(vec![created(None, None)])
            .when(RegistrationSecretCommand::SetActive {
                active: false,
                at: t(1),
            })
            .then_expect_events(vec![off.clone()]);
        TestFramework::<RegistrationSecret>::with(())
            .given(vec![created(None, None), off])
            .when(register("a", 2))
            .then_expect_error(RegistrationSecretError::Inactive);
    }
}
