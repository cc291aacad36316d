use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{RegistrationSecretCommand, RegistrationSecretError, RegistrationSecretEvent};
use crate::envelope::AggregateKind;
use crate::values::Name;

/// The state a RegistrationSecret needs to decide.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RegistrationSecret {
    name: Option<Name>,
    deleted: bool,
}

impl Aggregate for RegistrationSecret {
    const TYPE: &'static str = AggregateKind::RegistrationSecret.type_name();
    type Command = RegistrationSecretCommand;
    type Event = RegistrationSecretEvent;
    type Error = RegistrationSecretError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        if self.deleted {
            return Err(RegistrationSecretError::Deleted);
        }
        match command {
            RegistrationSecretCommand::CreateSecret {
                name,
                secret_hash,
                prefix,
                expires_at,
                max_registrations,
                at,
            } => {
                if self.name.is_some() {
                    return Err(RegistrationSecretError::AlreadyExists);
                }
                let event = RegistrationSecretEvent::RegistrationSecretCreated {
                    name,
                    secret_hash,
                    prefix,
                    expires_at,
                    max_registrations,
                    at,
                };
                sink.write(event, self).await;
            }
            RegistrationSecretCommand::DeleteSecret { at } => {
                let name = self.name.clone().ok_or(RegistrationSecretError::NotFound)?;
                let event = RegistrationSecretEvent::RegistrationSecretDeleted { name, at };
                sink.write(event, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            RegistrationSecretEvent::RegistrationSecretCreated { name, .. } => {
                self.name = Some(name);
            }
            RegistrationSecretEvent::RegistrationSecretDeleted { .. } => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use cqrs_es::test::TestFramework;

    use super::*;

    #[test]
    fn a_secret_is_created_once_and_deleted_once() {
        let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let command = RegistrationSecretCommand::CreateSecret {
            name: Name::parse("fleet").expect("valid"),
            secret_hash: "h".into(),
            prefix: "pgas_ab".into(),
            expires_at: None,
            max_registrations: Some(3),
            at,
        };
        let created = RegistrationSecretEvent::RegistrationSecretCreated {
            name: Name::parse("fleet").expect("valid"),
            secret_hash: "h".into(),
            prefix: "pgas_ab".into(),
            expires_at: None,
            max_registrations: Some(3),
            at,
        };
        TestFramework::<RegistrationSecret>::with(())
            .given_no_previous_events()
            .when(command.clone())
            .then_expect_events(vec![created.clone()]);
        TestFramework::<RegistrationSecret>::with(())
            .given(vec![created.clone()])
            .when(command)
            .then_expect_error(RegistrationSecretError::AlreadyExists);
        let deleted = RegistrationSecretEvent::RegistrationSecretDeleted {
            name: Name::parse("fleet").expect("valid"),
            at,
        };
        TestFramework::<RegistrationSecret>::with(())
            .given(vec![created.clone()])
            .when(RegistrationSecretCommand::DeleteSecret { at })
            .then_expect_events(vec![deleted.clone()]);
        TestFramework::<RegistrationSecret>::with(())
            .given(vec![created, deleted])
            .when(RegistrationSecretCommand::DeleteSecret { at })
            .then_expect_error(RegistrationSecretError::Deleted);
    }
}
