use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{ManagedInstanceCommand, ManagedInstanceError, ManagedInstanceEvent};
use crate::envelope::AggregateKind;
use crate::values::Name;

/// The state a ManagedInstance needs to decide.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ManagedInstance {
    name: Option<Name>,
    removed: bool,
}

impl Aggregate for ManagedInstance {
    const TYPE: &'static str = AggregateKind::ManagedInstance.type_name();
    type Command = ManagedInstanceCommand;
    type Event = ManagedInstanceEvent;
    type Error = ManagedInstanceError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        if self.removed {
            return Err(ManagedInstanceError::AlreadyRemoved);
        }
        match command {
            ManagedInstanceCommand::RegisterInstance {
                name,
                connection,
                credential,
                tags,
                at,
            } => {
                if self.name.is_some() {
                    return Err(ManagedInstanceError::AlreadyRegistered);
                }
                let event = ManagedInstanceEvent::InstanceRegistered {
                    name,
                    connection,
                    credential,
                    tags,
                    at,
                };
                sink.write(event, self).await;
            }
            ManagedInstanceCommand::RemoveInstance { at } => {
                let name = self.name.clone().ok_or(ManagedInstanceError::NotFound)?;
                sink.write(ManagedInstanceEvent::InstanceRemoved { name, at }, self)
                    .await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ManagedInstanceEvent::InstanceRegistered { name, .. } => self.name = Some(name),
            ManagedInstanceEvent::InstanceRemoved { .. } => self.removed = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use cqrs_es::test::TestFramework;

    use super::*;
    use crate::managed_instance::ConnectionSpec;

    fn registered() -> ManagedInstanceEvent {
        ManagedInstanceEvent::InstanceRegistered {
            name: Name::parse("prod").expect("valid"),
            connection: ConnectionSpec::parse("db", 5432, "app", "u", "require", 5).expect("valid"),
            credential: None,
            tags: vec!["eu".into()],
            at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn registering_twice_is_refused() {
        let ManagedInstanceEvent::InstanceRegistered {
            name,
            connection,
            credential,
            tags,
            at,
        } = registered()
        else {
            unreachable!()
        };
        let command = ManagedInstanceCommand::RegisterInstance {
            name,
            connection,
            credential,
            tags,
            at,
        };
        TestFramework::<ManagedInstance>::with(())
            .given_no_previous_events()
            .when(command.clone())
            .then_expect_events(vec![registered()]);
        TestFramework::<ManagedInstance>::with(())
            .given(vec![registered()])
            .when(command)
            .then_expect_error(ManagedInstanceError::AlreadyRegistered);
    }

    #[test]
    fn removal_is_recorded_once() {
        let at = Utc.timestamp_opt(1_700_000_100, 0).unwrap();
        let removed = ManagedInstanceEvent::InstanceRemoved {
            name: Name::parse("prod").expect("valid"),
            at,
        };
        TestFramework::<ManagedInstance>::with(())
            .given(vec![registered()])
            .when(ManagedInstanceCommand::RemoveInstance { at })
            .then_expect_events(vec![removed.clone()]);
        TestFramework::<ManagedInstance>::with(())
            .given(vec![registered(), removed])
            .when(ManagedInstanceCommand::RemoveInstance { at })
            .then_expect_error(ManagedInstanceError::AlreadyRemoved);
        TestFramework::<ManagedInstance>::with(())
            .given_no_previous_events()
            .when(ManagedInstanceCommand::RemoveInstance { at })
            .then_expect_error(ManagedInstanceError::NotFound);
    }
}
