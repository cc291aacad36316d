use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{CollectorCommand, CollectorError, CollectorEvent};
use crate::envelope::AggregateKind;
use crate::values::Name;

/// The state a Collector needs to decide.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Collector {
    name: Option<Name>,
    deleted: bool,
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
        if self.deleted {
            return Err(CollectorError::Deleted);
        }
        match command {
            CollectorCommand::RegisterCollector {
                name,
                hostname,
                version,
                registration_secret_id,
                refresh_secret_hash,
                at,
            } => {
                if self.name.is_some() {
                    return Err(CollectorError::AlreadyRegistered);
                }
                let event = CollectorEvent::CollectorRegistered {
                    name,
                    hostname: hostname.into(),
                    version: version.into(),
                    registration_secret_id,
                    refresh_secret_hash,
                    at,
                };
                sink.write(event, self).await;
            }
            CollectorCommand::DeleteCollector { at } => {
                let name = self.name.clone().ok_or(CollectorError::NotFound)?;
                sink.write(CollectorEvent::CollectorDeleted { name, at }, self)
                    .await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            CollectorEvent::CollectorRegistered { name, .. } => self.name = Some(name),
            CollectorEvent::CollectorDeleted { .. } => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use cqrs_es::test::TestFramework;

    use super::*;

    #[test]
    fn a_deleted_collector_refuses_everything() {
        let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let registered = CollectorEvent::CollectorRegistered {
            name: Name::parse("c1").expect("valid"),
            hostname: "db-1".into(),
            version: "0.1.0".into(),
            registration_secret_id: "s1".into(),
            refresh_secret_hash: "h".into(),
            at,
        };
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
}
