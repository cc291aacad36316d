use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{PasswordHash, Role, UserCommand, UserError, UserEvent, Username};
use crate::envelope::AggregateKind;

/// The state a User needs to decide.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct User {
    account: Option<Account>,
    deleted: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct Account {
    username: Username,
    role: Role,
    password_hash: PasswordHash,
}

impl Aggregate for User {
    const TYPE: &'static str = AggregateKind::User.type_name();
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = UserError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        if self.deleted {
            return Err(UserError::Deleted);
        }
        match command {
            UserCommand::CreateUser {
                username,
                role,
                password_hash,
                at,
            } => {
                if self.account.is_some() {
                    return Err(UserError::AlreadyExists);
                }
                let event = UserEvent::UserCreated {
                    username,
                    role,
                    password_hash,
                    at,
                };
                sink.write(event, self).await;
            }
            UserCommand::DeleteUser { at } => {
                let account = self.account.as_ref().ok_or(UserError::NotFound)?;
                let event = UserEvent::UserDeleted {
                    username: account.username.clone(),
                    at,
                };
                sink.write(event, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            UserEvent::UserCreated {
                username,
                role,
                password_hash,
                ..
            } => {
                self.account = Some(Account {
                    username,
                    role,
                    password_hash,
                });
            }
            UserEvent::UserDeleted { .. } => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use cqrs_es::test::TestFramework;

    use super::*;

    fn created() -> UserEvent {
        UserEvent::UserCreated {
            username: Username::parse("alice").expect("valid"),
            role: Role::Editor,
            password_hash: PasswordHash::from_phc("$argon2id$v=19$stub".into()),
            at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn creating_a_user_records_it() {
        let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        TestFramework::<User>::with(())
            .given_no_previous_events()
            .when(UserCommand::CreateUser {
                username: Username::parse("alice").expect("valid"),
                role: Role::Editor,
                password_hash: PasswordHash::from_phc("$argon2id$v=19$stub".into()),
                at,
            })
            .then_expect_events(vec![created()]);
    }

    #[test]
    fn a_user_cannot_be_created_twice() {
        let at = Utc.timestamp_opt(1_700_000_001, 0).unwrap();
        TestFramework::<User>::with(())
            .given(vec![created()])
            .when(UserCommand::CreateUser {
                username: Username::parse("bob").expect("valid"),
                role: Role::Viewer,
                password_hash: PasswordHash::from_phc("x".into()),
                at,
            })
            .then_expect_error(UserError::AlreadyExists);
    }

    #[test]
    fn deleting_names_the_user_and_is_final() {
        let at = Utc.timestamp_opt(1_700_000_002, 0).unwrap();
        let deleted = UserEvent::UserDeleted {
            username: Username::parse("alice").expect("valid"),
            at,
        };
        TestFramework::<User>::with(())
            .given(vec![created()])
            .when(UserCommand::DeleteUser { at })
            .then_expect_events(vec![deleted.clone()]);
        TestFramework::<User>::with(())
            .given(vec![created(), deleted])
            .when(UserCommand::DeleteUser { at })
            .then_expect_error(UserError::Deleted);
    }

    #[test]
    fn deleting_nobody_is_not_found() {
        let at = Utc.timestamp_opt(1_700_000_002, 0).unwrap();
        TestFramework::<User>::with(())
            .given_no_previous_events()
            .when(UserCommand::DeleteUser { at })
            .then_expect_error(UserError::NotFound);
    }
}
