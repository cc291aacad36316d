use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{CollectorCommand, CollectorError, CollectorEvent};
use crate::envelope::AggregateKind;
use crate::values::Name;

/// The state a Collector needs to decide.
#[derive(Debug, Default, Serialize, Deserialize)]
pub enum Collector {
    /// Not registered yet.
    #[default]
    New,
    /// Registered and not deleted.
    Active(Registered),
    /// Deleted: every command is refused.
    Removed,
}

/// A registered collector.
#[derive(Debug, Serialize, Deserialize)]
pub struct Registered {
    name: Name,
    /// Sorted, so that setting the same set again is a no-op.
    instance_ids: Vec<String>,
}

impl Aggregate for Collector {
    const TYPE: &'static str = AggregateKind::Collector.type_name();
    type Command = CollectorCommand;
    type Event = CollectorEvent;
    type Error = CollectorError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match (&*self, command) {
            (Self::Removed, _) => return Err(CollectorError::Deleted),
            (
                Self::New,
                CollectorCommand::RegisterCollector {
                    name,
                    hostname,
                    version,
                    registration_secret_id,
                    refresh_secret_hash,
                    instance_ids,
                    at,
                },
            ) => {
                let event = CollectorEvent::CollectorRegistered {
                    name,
                    hostname: hostname.into(),
                    version: version.into(),
                    registration_secret_id,
                    refresh_secret_hash,
                    at,
                };
                sink.write(event, self).await;
                let instance_ids = normalized(instance_ids);
                if instance_ids.is_empty() {
                    return Ok(());
                }
                CollectorEvent::CollectorInstancesBound { instance_ids, at }
            }
            (Self::Active(_), CollectorCommand::RegisterCollector { .. }) => {
                return Err(CollectorError::AlreadyRegistered)
            }
            (Self::New, _) => return Err(CollectorError::NotFound),
            (Self::Active(c), CollectorCommand::BindInstances { instance_ids, at }) => {
                let instance_ids = normalized(instance_ids);
                if instance_ids == c.instance_ids {
                    return Ok(());
                }
                CollectorEvent::CollectorInstancesBound { instance_ids, at }
            }
            (Self::Active(c), CollectorCommand::DeleteCollector { at }) => {
                CollectorEvent::CollectorDeleted {
                    name: c.name.clone(),
                    at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match (&mut *self, event) {
            (_, CollectorEvent::CollectorRegistered { name, .. }) => {
                *self = Self::Active(Registered {
                    name,
                    instance_ids: Vec::new(),
                });
            }
            (_, CollectorEvent::CollectorDeleted { .. }) => *self = Self::Removed,
            (Self::Active(c), CollectorEvent::CollectorInstancesBound { instance_ids, .. }) => {
                c.instance_ids = instance_ids;
            }
            // A binding of a collector in another state changes nothing.
            _ => {}
        }
    }
}

fn normalized(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use cqrs_es::test::TestFramework;

    use super::*;

    fn registered(at: chrono::DateTime<Utc>) -> CollectorEvent {
        CollectorEvent::CollectorRegistered {
            name: Name::parse("c1").expect("valid"),
            hostname: "db-1".into(),
            version: "0.1.0".into(),
            registration_secret_id: "s1".into(),
            refresh_secret_hash: "h".into(),
            at,
        }
    }

    #[test]
    fn a_deleted_collector_refuses_everything() {
        let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let registered = registered(at);
        let deleted = CollectorEvent::CollectorDeleted {
            name: Name::parse("c1").expect("valid"),
            at,
        };
        TestFramework::<Collector>::with(())
            .given(vec![registered.clone()])
            .when(CollectorCommand::DeleteCollector { at })
            .then_expect_events(vec![deleted.clone()]);
        TestFramework::<Collector>::with(())
            .given(vec![registered, deleted])
            .when(CollectorCommand::DeleteCollector { at })
            .then_expect_error(CollectorError::Deleted);
        TestFramework::<Collector>::with(())
            .given_no_previous_events()
            .when(CollectorCommand::DeleteCollector { at })
            .then_expect_error(CollectorError::NotFound);
    }

    #[test]
    fn bindings_are_a_set_and_setting_the_same_one_again_is_a_no_op() {
        let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let registered = registered(at);
        let bound = CollectorEvent::CollectorInstancesBound {
            instance_ids: vec!["a".into(), "b".into()],
            at,
        };
        TestFramework::<Collector>::with(())
            .given(vec![registered.clone()])
            .when(CollectorCommand::BindInstances {
                instance_ids: vec!["b".into(), "a".into(), "b".into()],
                at,
            })
            .then_expect_events(vec![bound.clone()]);
        TestFramework::<Collector>::with(())
            .given(vec![registered, bound])
            .when(CollectorCommand::BindInstances {
                instance_ids: vec!["a".into(), "b".into()],
                at,
            })
            .then_expect_events(vec![]);
        TestFramework::<Collector>::with(())
            .given_no_previous_events()
            .when(CollectorCommand::BindInstances {
                instance_ids: vec![],
                at,
            })
            .then_expect_error(CollectorError::NotFound);
    }
}
