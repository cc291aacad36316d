use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{Role, UserCommand, UserError, UserEvent, Username};
use crate::envelope::AggregateKind;

/// The state a User needs to decide.
#[derive(Debug, Default, Serialize, Deserialize)]
pub enum User {
    /// Not created yet.
    #[default]
    New,
    /// Created and not deleted.
    Active(Account),
    /// Deleted: every command is refused.
    Removed,
}

/// A created user.
#[derive(Debug, Serialize, Deserialize)]
pub struct Account {
    username: Username,
    role: Role,
    active: bool,
}

impl Aggregate for User {
    const TYPE: &'static str = AggregateKind::User.type_name();
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = UserError;
    type Services = ();

    // Over 60 lines on purpose: one arm per (state, command).
    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match (&*self, command) {
            (Self::Removed, _) => return Err(UserError::Deleted),
            (
                Self::New,
                UserCommand::CreateUser {
                    username,
                    role,
                    password_hash,
                    at,
                },
            ) => UserEvent::UserCreated {
                username,
                role,
                password_hash,
                at,
            },
            (Self::Active(_), UserCommand::CreateUser { .. }) => {
                return Err(UserError::AlreadyExists)
            }
            (Self::New, _) => return Err(UserError::NotFound),
            (Self::Active(account), command) => match account.decide(command)? {
                Some(event) => event,
                None => return Ok(()),
            },
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match (&mut *self, event) {
            (_, UserEvent::UserCreated { username, role, .. }) => {
                *self = Self::Active(Account {
                    username,
                    role,
                    active: true,
                });
            }
            (_, UserEvent::UserDeleted { .. }) => *self = Self::Removed,
            (Self::Active(a), UserEvent::RoleChanged { to, .. }) => a.role = to,
            (Self::Active(a), UserEvent::UserDeactivated { .. }) => a.active = false,
            (Self::Active(a), UserEvent::UserReactivated { .. }) => a.active = true,
            _ => {}
        }
    }
}

impl Account {
    /// The event a command on an existing user yields; `None` when it changes nothing.
    fn decide(&self, command: UserCommand) -> Result<Option<UserEvent>, UserError> {
        Ok(Some(match command {
            UserCommand::CreateUser { .. } => return Err(UserError::AlreadyExists),
            UserCommand::ChangePassword { password_hash, at } => {
                if !self.active {
                    return Err(UserError::Inactive);
                }
                UserEvent::PasswordChanged {
                    password_hash,
                    reset: false,
                    at,
                }
            }
            UserCommand::ResetPassword { password_hash, at } => UserEvent::PasswordChanged {
                password_hash,
                reset: true,
                at,
            },
            UserCommand::ChangeRole { role, at } => {
                if role == self.role {
                    return Ok(None);
                }
                UserEvent::RoleChanged {
                    from: self.role,
                    to: role,
                    at,
                }
            }
            UserCommand::SetActive { active, at } => match (self.active, active) {
                (true, false) => UserEvent::UserDeactivated { at },
                (false, true) => UserEvent::UserReactivated { at },
                _ => return Ok(None),
            },
            UserCommand::RecordLogin { at } => {
                if !self.active {
                    return Err(UserError::Inactive);
                }
                UserEvent::UserLoggedIn { at }
            }
            UserCommand::DeleteUser { at } => UserEvent::UserDeleted {
                username: self.username.clone(),
                at,
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use cqrs_es::test::TestFramework;

    use super::*;
    use crate::user::PasswordHash;

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

    fn at() -> chrono::DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_010, 0).unwrap()
    }

    #[test]
    fn a_role_change_records_both_roles_and_a_no_op_records_nothing() {
        TestFramework::<User>::with(())
            .given(vec![created()])
            .when(UserCommand::ChangeRole {
                role: Role::Admin,
                at: at(),
            })
            .then_expect_events(vec![UserEvent::RoleChanged {
                from: Role::Editor,
                to: Role::Admin,
                at: at(),
            }]);
        TestFramework::<User>::with(())
            .given(vec![created()])
            .when(UserCommand::ChangeRole {
                role: Role::Editor,
                at: at(),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_deactivated_user_cannot_log_in_or_change_their_password() {
        let deactivated = UserEvent::UserDeactivated { at: at() };
        TestFramework::<User>::with(())
            .given(vec![created()])
            .when(UserCommand::SetActive {
                active: false,
                at: at(),
            })
            .then_expect_events(vec![deactivated.clone()]);
        TestFramework::<User>::with(())
            .given(vec![created(), deactivated.clone()])
            .when(UserCommand::RecordLogin { at: at() })
            .then_expect_error(UserError::Inactive);
        TestFramework::<User>::with(())
            .given(vec![created(), deactivated.clone()])
            .when(UserCommand::ChangePassword {
                password_hash: PasswordHash::from_phc("new".into()),
                at: at(),
            })
            .then_expect_error(UserError::Inactive);
        // An admin may still reset it, and reactivate the account.
        TestFramework::<User>::with(())
            .given(vec![created(), deactivated.clone()])
            .when(UserCommand::ResetPassword {
                password_hash: PasswordHash::from_phc("new".into()),
                at: at(),
            })
            .then_expect_events(vec![UserEvent::PasswordChanged {
                password_hash: PasswordHash::from_phc("new".into()),
                reset: true,
                at: at(),
            }]);
        TestFramework::<User>::with(())
            .given(vec![created(), deactivated])
            .when(UserCommand::SetActive {
                active: true,
                at: at(),
            })
            .then_expect_events(vec![UserEvent::UserReactivated { at: at() }]);
    }
}
