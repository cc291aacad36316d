//! Rebuilding a projection from history, while the live one keeps answering.
//!
//! 1. Fresh tables are made in a schema of their own (`pga_replay_<name>`), shaped like the
//!    live ones (`LIKE … INCLUDING ALL`), with their own checkpoint and positions.
//! 2. The projector's own code runs over the whole stream into them (`search_path` points at the
//!    schema), with progress reported after each batch.
//! 3. Switch-over, in one transaction: lock the live checkpoint row and tables (the live runner
//!    waits on the same row lock), apply what arrived since, swap the tables, copy the checkpoint
//!    and positions. Readers pause for that one short transaction only. The live runner then
//!    finds a checkpoint ahead of it and skips what the rebuild already applied.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use deadpool_postgres::Pool;
use domain::bus::BusNames;

use chrono::{DateTime, Utc};

use crate::runtime::{to_delivered, Projector, RunError, Runner, Source};
use crate::workers::legacy_stream_exists;

/// The runtime's own per-projection tables, rebuilt alongside the read model.
const RUNTIME_TABLES: [&str; 4] = [
    "projection_checkpoints",
    "projection_positions",
    "projection_rejected",
    "projection_parked",
];

/// Progress of a replay, reported after every batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayProgress {
    /// Projection name.
    pub projection: &'static str,
    /// Stream sequence applied so far.
    pub applied: u64,
    /// Stream head when the replay started.
    pub target: u64,
}

/// What a finished replay did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    /// Projection name.
    pub projection: &'static str,
    /// Checkpoint of the rebuilt (now live) tables.
    pub checkpoint: u64,
}

/// One stream a replay reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPlan {
    /// The stream's name.
    pub stream: String,
    /// Its first held sequence (past 1: earlier messages are gone, by age or by purge).
    pub first: u64,
    /// Its last sequence.
    pub last: u64,
    /// When its first held message was published (none: it holds none).
    pub first_published: Option<DateTime<Utc>>,
    /// When its last message was published (none: it never had one).
    pub last_published: Option<DateTime<Utc>>,
}

impl StreamPlan {
    /// Whether messages it once held are gone.
    fn lost_some(&self) -> bool {
        self.first > 1
    }
}

/// What a replay will do, said before it starts.
#[derive(Debug, Clone)]
pub struct ReplayPlan {
    /// Projection name.
    pub projection: &'static str,
    /// The tables it rebuilds.
    pub tables: Vec<&'static str>,
    /// The streams it reads.
    pub streams: Vec<StreamPlan>,
    /// What it keeps of the live tables, from before `cutoff` (none: the streams hold all of
    /// their history, and everything is rebuilt).
    pub keeps: Option<(DateTime<Utc>, String)>,
    /// Why it will not run (it would lose history), if so.
    pub refused: Option<String>,
}

impl std::fmt::Display for ReplayPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "replay {}: rebuilds {}",
            self.projection,
            self.tables.join(", ")
        )?;
        for s in &self.streams {
            match s.first_published {
                Some(at) => writeln!(
                    f,
                    "  from {} sequences {}..={} (first held message published {at})",
                    s.stream, s.first, s.last
                )?,
                None => writeln!(
                    f,
                    "  from {} (no message held; last sequence {})",
                    s.stream, s.last
                )?,
            }
        }
        match (&self.refused, &self.keeps) {
            (Some(why), _) => write!(f, "  refused: {why}"),
            (None, Some((cutoff, what))) => write!(f, "  keeps from the live tables, the streams no longer holding it (before {cutoff}): {what}"),
            (None, None) => write!(f, "  keeps nothing: the streams hold every message since the first"),
        }
    }
}

/// The runners that read a projection's streams: the events stream; or every metric
/// partition, and the unpartitioned stream of earlier versions while it exists.
async fn runners(
    pool: &Pool,
    jetstream: &jetstream::Context,
    names: &BusNames,
    projector: &Arc<dyn Projector>,
) -> Result<Vec<Runner>, RunError> {
    Ok(match projector.source() {
        Source::Events => vec![Runner::new(
            pool.clone(),
            jetstream.clone(),
            names.clone(),
            projector.clone(),
        )],
        Source::Metrics => {
            let mut runners: Vec<Runner> = (0..names.partitions())
                .map(|p| {
                    let (pool, js) = (pool.clone(), jetstream.clone());
                    Runner::partition(pool, js, names.clone(), projector.clone(), p)
                })
                .collect();
            if legacy_stream_exists(jetstream, names, Duration::from_secs(10))
                .await
                .map_err(RunError::Bus)?
            {
                let (pool, js) = (pool.clone(), jetstream.clone());
                runners.push(Runner::new(pool, js, names.clone(), projector.clone()));
            }
            runners
        }
    })
}

async fn stream_plans(runners: &[Runner]) -> Result<Vec<StreamPlan>, RunError> {
    let mut plans = Vec::with_capacity(runners.len());
    for runner in runners {
        let mut stream = runner.stream().await?;
        let info = stream
            .info()
            .await
            .map_err(|e| RunError::Bus(e.to_string()))?;
        let state = &info.state;
        plans.push(StreamPlan {
            stream: info.config.name.clone(),
            first: state.first_sequence,
            last: state.last_sequence,
            first_published: (state.messages > 0)
                .then(|| {
                    DateTime::from_timestamp(
                        state.first_timestamp.unix_timestamp(),
                        state.first_timestamp.nanosecond(),
                    )
                })
                .flatten(),
            last_published: (state.last_sequence > 0)
                .then(|| {
                    DateTime::from_timestamp(
                        state.last_timestamp.unix_timestamp(),
                        state.last_timestamp.nanosecond(),
                    )
                })
                .flatten(),
        });
    }
    Ok(plans)
}

/// What replaying `projector` would rebuild, from where, and what it would keep; or why it
/// would be refused. A stream that no longer holds its first messages (PGA_METRICS keeps
/// `max_age`) cannot rebuild what they made: a projection that can keep it
/// ([`Projector::keep`]) keeps the live rows from before the newest such stream's first held
/// message (or all of them, when such a stream is empty); any other is refused.
///
/// # Errors
/// [`RunError`] when JetStream fails.
pub async fn plan(
    pool: &Pool,
    jetstream: &jetstream::Context,
    names: &BusNames,
    projector: Arc<dyn Projector>,
) -> Result<ReplayPlan, RunError> {
    let runners = runners(pool, jetstream, names, &projector).await?;
    let streams = stream_plans(&runners).await?;
    Ok(plan_of(projector.as_ref(), streams, Utc::now()))
}

fn plan_of(projector: &dyn Projector, streams: Vec<StreamPlan>, now: DateTime<Utc>) -> ReplayPlan {
    let name = projector.name();
    let lost: Vec<&StreamPlan> = streams.iter().filter(|s| s.lost_some()).collect();
    // A stream that lost everything it held made nothing after its last message.
    let cutoff = lost
        .iter()
        .map(|s| s.first_published.or(s.last_published).unwrap_or(now))
        .max();
    let (keeps, refused) = match cutoff {
        None => (None, None),
        Some(cutoff) => match projector.keep(&format!("pga_replay_{name}"), cutoff, cutoff) {
            Some(keep) => (Some((cutoff, keep.what)), None),
            None => {
                let gone: Vec<String> = lost
                    .iter()
                    .map(|s| format!("{} (sequences before {})", s.stream, s.first))
                    .collect();
                (
                    None,
                    Some(format!(
                        "messages that built the live {name} tables are gone from {}: a replay could not rebuild what they made, and this projection cannot keep it apart from the rebuilt rows, so nothing was changed",
                        gone.join(", ")
                    )),
                )
            }
        },
    };
    ReplayPlan {
        projection: name,
        tables: projector.tables().to_vec(),
        streams,
        keeps,
        refused,
    }
}

/// Rebuilds one projection from its streams (see [`runners`]) and switches the live tables
/// over, keeping what the streams no longer hold ([`plan`]). Progress and the report count
/// messages over all of its streams.
///
/// # Errors
/// [`RunError::Refused`] when it would lose history; [`RunError`] when PostgreSQL or
/// JetStream fails. The live tables are then untouched and the half-built schema is left for
/// the next replay to drop.
pub async fn replay(
    pool: &Pool,
    jetstream: &jetstream::Context,
    names: &BusNames,
    projector: Arc<dyn Projector>,
    progress: &(dyn Fn(&ReplayProgress) + Send + Sync),
) -> Result<ReplayReport, RunError> {
    let name = projector.name();
    let schema = format!("pga_replay_{name}");
    let mut runners = runners(pool, jetstream, names, &projector).await?;
    covers_every_checkpoint(pool, name, &runners).await?;
    let streams = stream_plans(&runners).await?;
    let plan = plan_of(projector.as_ref(), streams, Utc::now());
    if let Some(why) = plan.refused {
        return Err(RunError::Refused(why));
    }
    let planned = plan.keeps.as_ref().map(|(cutoff, _)| *cutoff);
    let prepare = planned
        .and_then(|cutoff| projector.keep(&schema, cutoff, cutoff))
        .map(|k| k.prepare)
        .unwrap_or_default();
    for runner in &mut runners {
        runner.consumer_name = names.consumer(&format!("replay_{}", runner.key));
        runner.schema = Some(schema.clone());
    }
    prepare_schema(pool, &schema, projector.as_ref()).await?;
    let targets: Vec<u64> = plan.streams.iter().map(|s| s.last).collect();
    let target = targets.iter().sum();
    progress(&ReplayProgress {
        projection: name,
        applied: 0,
        target,
    });
    let mut done = 0;
    for (runner, stream_target) in runners.iter().zip(&targets) {
        done += bulk(runner, *stream_target, &|applied| {
            progress(&ReplayProgress {
                projection: name,
                applied: done + applied,
                target,
            });
        })
        .await?;
    }
    // One statement at a time, each its own transaction (or several, committing inside).
    let client = pool.get().await?;
    for sql in &prepare {
        client.batch_execute(sql).await?;
    }
    drop(client);
    let checkpoint = switch_over(pool, &schema, &runners, planned).await?;
    progress(&ReplayProgress {
        projection: name,
        applied: checkpoint,
        target,
    });
    Ok(ReplayReport {
        projection: name,
        checkpoint,
    })
}

/// Bulk phase on one stream: batch transactions until the stream head seen at start. Returns
/// the checkpoint reached.
async fn bulk(
    runner: &Runner,
    target: u64,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<u64, RunError> {
    let mut consumer = runner.open_consumer().await?;
    let mut applied = 0;
    while applied < target {
        let messages = runner.fetch(&consumer, Duration::from_millis(300)).await?;
        if messages.is_empty() {
            break; // the rest of the range was deleted from the stream
        }
        match runner.apply_and_ack(messages).await {
            Ok(()) => {}
            Err(RunError::Gap(_)) => consumer = runner.open_consumer().await?,
            Err(e) => return Err(e),
        }
        applied = runner.checkpoint().await?;
        progress(applied);
    }
    Ok(applied)
}

/// Refuses a replay that would not rebuild every stream the live tables were built from: a
/// checkpoint of this projection on a stream the replay does not read (another partition count
/// in this shell's configuration, say) means the switch-over would drop that stream's rows.
async fn covers_every_checkpoint(
    pool: &Pool,
    name: &str,
    runners: &[Runner],
) -> Result<(), RunError> {
    let client = pool.get().await?;
    let live: Vec<String> = client
        .query(
            "SELECT projection FROM public.projection_checkpoints
              WHERE (projection = $1 OR projection LIKE $1 || '.p%') AND stream_sequence > 0",
            &[&name],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let missing: Vec<&String> = live
        .iter()
        .filter(|key| !runners.iter().any(|r| &r.key == *key))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(RunError::Bus(format!(
            "the live {name} tables were also built from {missing:?}, which this replay would not read (is PGA_METRIC_PARTITIONS the deployment's?); nothing was changed"
        )))
    }
}

/// Switch-over, in one transaction: lock the live checkpoint rows (in key order; each live
/// runner locks one) and tables, apply what arrived since on every stream, swap the tables,
/// copy the checkpoints and positions. Returns the checkpoints' sum.
// Over 60 lines on purpose: one transaction, read top to bottom: lock, catch up, swap tables, move the runtime rows, then the acks after commit.
async fn switch_over(
    pool: &Pool,
    schema: &str,
    runners: &[Runner],
    planned: Option<DateTime<Utc>>,
) -> Result<u64, RunError> {
    let Some(first) = runners.first() else {
        return Ok(0);
    };
    let mut keys: Vec<String> = runners.iter().map(|r| r.key.clone()).collect();
    keys.sort();
    let mut client = pool.get().await?;
    let mut tx = client.transaction().await?;
    for key in &keys {
        tx.execute(
            "INSERT INTO public.projection_checkpoints (projection) VALUES ($1) ON CONFLICT DO NOTHING",
            &[key],
        )
        .await?;
        tx.execute(
            "SELECT 1 FROM public.projection_checkpoints WHERE projection = $1 FOR UPDATE",
            &[key],
        )
        .await?;
    }
    for table in first.projector.tables() {
        tx.batch_execute(&format!(
            "LOCK TABLE public.{table} IN ACCESS EXCLUSIVE MODE"
        ))
        .await?;
    }
    let mut tail = Vec::new();
    let mut checkpoint = 0;
    for runner in runners {
        // A fresh consumer from the rebuilt checkpoint (the bulk phase's may have been removed
        // for inactivity while other streams were rebuilt), read up to the head as it stands
        // now that the live runners wait: with steady ingest, "until a fetch comes back empty"
        // might never come.
        let consumer = runner.open_consumer().await?;
        let mut stream = runner.stream().await?;
        let head = stream
            .info()
            .await
            .map_err(|e| RunError::Bus(e.to_string()))?
            .state
            .last_sequence;
        let mut reached = runner.checkpoint().await?;
        while reached < head {
            let messages = runner.fetch(&consumer, Duration::from_millis(200)).await?;
            if messages.is_empty() {
                break;
            }
            let delivered = messages
                .iter()
                .map(to_delivered)
                .collect::<Result<Vec<_>, _>>()?;
            reached = runner.apply_batch(&mut tx, &delivered).await?;
            tail.extend(messages);
        }
        checkpoint += reached;
    }
    // What the streams no longer hold joins the rebuilt tables before they go live. Messages
    // went on ageing out while the replay ran: the cutoff is taken again now.
    let projector = first.projector.as_ref();
    let now = plan_of(projector, stream_plans(runners).await?, Utc::now());
    if let Some(why) = now.refused {
        return Err(RunError::Refused(why));
    }
    if let Some((cutoff, _)) = now.keeps {
        let Some(planned) = planned else {
            return Err(RunError::Refused(format!(
                "the streams began losing messages while the {} replay ran (their first messages aged out); nothing was changed: run it again, and it will keep what they no longer hold",
                projector.name()
            )));
        };
        let keep = projector.keep(schema, planned, cutoff.max(planned));
        for sql in keep.map(|k| k.merge).unwrap_or_default() {
            tx.batch_execute(&sql).await?;
        }
    }
    for table in first.projector.tables() {
        tx.batch_execute(&format!(
            "DROP TABLE public.{table}; ALTER TABLE {schema}.{table} SET SCHEMA public;"
        ))
        .await?;
    }
    // Partitions follow their parent (their own names, so a SELECT finds them); their
    // indexes, partitions of the parent's, move with them.
    let partitions = tx
        .query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = $1 AND c.relispartition AND c.relkind = 'r'",
            &[&schema],
        )
        .await?;
    for row in partitions {
        let name: String = row.get(0);
        tx.batch_execute(&format!("ALTER TABLE {schema}.{name} SET SCHEMA public"))
            .await?;
    }
    for table in RUNTIME_TABLES {
        tx.execute(
            &format!("DELETE FROM public.{table} WHERE projection = ANY($1)"),
            &[&keys],
        )
        .await?;
        tx.execute(
            &format!(
                "INSERT INTO public.{table} SELECT * FROM {schema}.{table} WHERE projection = ANY($1)"
            ),
            &[&keys],
        )
        .await?;
    }
    tx.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await?;
    tx.commit().await?;
    for message in &tail {
        let _ = message.ack().await;
    }
    for runner in runners {
        if let Ok(stream) = runner.stream().await {
            let _ = stream.delete_consumer(&runner.consumer_name).await;
        }
    }
    Ok(checkpoint)
}

async fn prepare_schema(
    pool: &Pool,
    schema: &str,
    projector: &dyn Projector,
) -> Result<(), RunError> {
    let client = pool.get().await?;
    let mut sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};");
    let own = projector.replay_ddl(schema);
    let copied: &[&str] = if own.is_some() {
        &[]
    } else {
        projector.tables()
    };
    if let Some(ddl) = own {
        sql.push_str(&ddl);
    }
    for table in copied.iter().chain(RUNTIME_TABLES.iter()) {
        sql.push_str(&format!(
            "CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL);"
        ));
    }
    client.batch_execute(&sql).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use tokio_postgres::Transaction;

    use super::*;
    use crate::runtime::{ApplyError, Delivered, Keep};

    struct Stub {
        keeps: bool,
    }

    #[async_trait]
    impl Projector for Stub {
        fn name(&self) -> &'static str {
            "stub"
        }
        fn source(&self) -> Source {
            Source::Metrics
        }
        fn tables(&self) -> &'static [&'static str] {
            &["t"]
        }
        async fn apply(&self, _: &Transaction<'_>, _: &Delivered) -> Result<(), ApplyError> {
            Ok(())
        }
        fn keep(&self, _: &str, _: DateTime<Utc>, _: DateTime<Utc>) -> Option<Keep> {
            self.keeps.then(|| Keep {
                what: "rows".into(),
                ..Keep::default()
            })
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    fn stream(
        name: &str,
        first: u64,
        last: u64,
        first_at: Option<&str>,
        last_at: Option<&str>,
    ) -> StreamPlan {
        StreamPlan {
            stream: name.into(),
            first,
            last,
            first_published: first_at.map(at),
            last_published: last_at.map(at),
        }
    }

    #[test]
    fn the_cutoff_is_the_newest_loss_and_an_emptied_stream_counts_to_its_last_message() {
        let now = at("2026-12-03T12:00:00Z");
        let keeps = Stub { keeps: true };
        let whole = vec![stream(
            "P0",
            1,
            9,
            Some("2026-11-30T00:00:00Z"),
            Some("2026-12-03T11:00:00Z"),
        )];
        let plan = plan_of(&keeps, whole, now);
        assert!(
            plan.keeps.is_none() && plan.refused.is_none(),
            "nothing lost: {plan}"
        );
        let streams = vec![
            stream(
                "P0",
                5,
                9,
                Some("2026-11-30T00:00:00Z"),
                Some("2026-12-03T11:00:00Z"),
            ),
            stream("P1", 8, 7, None, Some("2026-11-28T00:00:00Z")),
            stream(
                "P2",
                1,
                3,
                Some("2026-12-01T00:00:00Z"),
                Some("2026-12-03T11:00:00Z"),
            ),
        ];
        let plan = plan_of(&keeps, streams.clone(), now);
        assert_eq!(
            plan.keeps.map(|k| k.0),
            Some(at("2026-11-30T00:00:00Z")),
            "not now"
        );
        let refused = plan_of(&Stub { keeps: false }, streams, now);
        let why = refused.refused.expect("refused");
        assert!(
            why.contains("P0 (sequences before 5)") && why.contains("P1 (sequences before 8)"),
            "{why}"
        );
        assert!(!why.contains("P2"), "{why}");
    }
}
