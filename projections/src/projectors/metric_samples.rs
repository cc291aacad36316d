use std::collections::{BTreeMap, HashMap, HashSet};

use domain::metrics::compact::{series_key_id, SeriesRef, StreamBatch};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, DurationRound, NaiveDate, Utc};
use domain::collector::CollectorTokenVerifier;
use futures::pin_mut;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use tokio_postgres::Transaction;

use super::metric_batch::{claim, take_pending, verified_batch, ParsedBatches};
use crate::runtime::{ApplyError, Delivered, Keep, Projector, Source};

/// `metric_series`, `metric_samples` (daily partitions), `metric_statements`: every accepted
/// data point, written with binary `COPY` once per fetched batch of messages, by `flush`.
/// Rollups are not written here: minutes and open hours are read from the samples
/// (indexed by series and time), `metric_rollup_1h` is built by storage upkeep once each hour
/// has closed ([`crate::maintenance::build_hours`]), and `metric_rollup_1m` from a day's
/// samples before retention drops them. This projector marks closed hours that late batches
/// touch, so that upkeep builds them again.
pub struct MetricSamples {
    verifier: Arc<dyn CollectorTokenVerifier>,
    parsed: Arc<ParsedBatches>,
    /// Series ids known to exist, per collector; forgotten on rollback.
    known: Mutex<HashMap<uuid::Uuid, HashSet<i64>>>,
    /// Days whose partition exists.
    days: Mutex<HashSet<NaiveDate>>,
    /// Raw samples older than this are not stored (their partitions are dropped anyway).
    retention: Duration,
    /// Most series one collector may have.
    max_series: usize,
    /// Samples of the messages applied in the current batch, written by `flush`.
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    rows: Vec<(DateTime<Utc>, i64, f64)>,
    /// Hours the rows fall in.
    hours: HashSet<DateTime<Utc>>,
    /// The overview's totals of each applied batch, in order.
    fleet: Vec<(String, uuid::Uuid, super::fleet::FleetPoint)>,
}

/// Storage upkeep builds an hour's rollups once this long has passed after its end.
pub const HOUR_BUILD_GRACE: Duration = Duration::minutes(5);

/// Writes into an hour this long before [`HOUR_BUILD_GRACE`] runs out already mark it for a
/// rebuild: a batch transaction that saw the hour as still open commits well within a minute,
/// so no write can land in an hour after it was built without marking it.
const DIRTY_MARGIN: Duration = Duration::minutes(1);

impl MetricSamples {
    /// A samples projection keeping `retention_days` of raw data and at most
    /// `max_series_per_collector` series per collector.
    pub fn new(
        verifier: Arc<dyn CollectorTokenVerifier>,
        parsed: Arc<ParsedBatches>,
        retention_days: u32,
        max_series_per_collector: usize,
    ) -> Self {
        Self {
            verifier,
            parsed,
            known: Mutex::new(HashMap::new()),
            days: Mutex::new(HashSet::new()),
            retention: Duration::days(i64::from(retention_days)),
            max_series: max_series_per_collector,
            pending: Mutex::new(Pending::default()),
        }
    }
}

/// The start of the first day whose samples are written at `now`: retention drops a day's
/// partition once the whole day is older than `retention`, and writes into a day stop an hour
/// before that, so that no write can land in a partition retention is building rollups from,
/// and none recreates one it dropped (a late batch, a replay).
pub(crate) fn first_day_kept(now: DateTime<Utc>, retention: Duration) -> DateTime<Utc> {
    (now + Duration::hours(1) - retention)
        .date_naive()
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
}

/// The name of a day's partition.
pub fn partition_name(day: NaiveDate) -> String {
    format!("metric_samples_{}", day.format("%Y%m%d"))
}

/// DDL creating a day's partition (unqualified: lands in the first schema of `search_path`).
///
/// Transactions of several metric partitions may create the same day at once. `IF NOT EXISTS`
/// does not see a table another open transaction created: the second would wait for the first
/// and then fail with a duplicate (42P07), rejecting a good batch. An advisory lock, held to the
/// end of the transaction, makes the second wait and then see the table.
pub fn partition_ddl(day: NaiveDate) -> String {
    let next = day + Duration::days(1);
    let name = partition_name(day);
    format!(
        "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.{name}'));
         CREATE TABLE IF NOT EXISTS {name} PARTITION OF metric_samples FOR VALUES FROM ('{day}') TO ('{next}')"
    )
}

#[async_trait]
impl Projector for MetricSamples {
    fn name(&self) -> &'static str {
        "metric_samples"
    }

    fn source(&self) -> Source {
        Source::Metrics
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "metric_series",
            "metric_samples",
            "metric_rollup_dirty_hours",
            "metric_statements",
            "metric_applied_batches",
            "metric_series_refused",
            "rm_fleet",
        ]
    }

    fn keep(&self, schema: &str, planned: DateTime<Utc>, cutoff: DateTime<Utc>) -> Option<Keep> {
        Some(keep_samples(schema, planned, cutoff))
    }

    fn replay_ddl(&self, schema: &str) -> Option<String> {
        let mut ddl = String::new();
        for table in self.tables() {
            if *table == "metric_samples" {
                ddl.push_str(&format!(
                    "CREATE TABLE {schema}.metric_samples (LIKE public.metric_samples INCLUDING ALL) PARTITION BY RANGE (ts);"
                ));
            } else {
                ddl.push_str(&format!(
                    "CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL);"
                ));
            }
        }
        Some(ddl)
    }

    fn rolled_back(&self) {
        drop(take_pending(&self.pending));
        if let Ok(mut k) = self.known.lock() {
            k.clear();
        }
        if let Ok(mut d) = self.days.lock() {
            d.clear();
        }
    }

    async fn flush(&self, tx: &Transaction<'_>) -> Result<(), tokio_postgres::Error> {
        let pending = take_pending(&self.pending);
        if !pending.rows.is_empty() {
            let sink = tx
                .copy_in("COPY metric_samples (ts, series_id, value) FROM STDIN BINARY")
                .await?;
            let writer =
                BinaryCopyInWriter::new(sink, &[Type::TIMESTAMPTZ, Type::INT8, Type::FLOAT8]);
            pin_mut!(writer);
            for (ts, id, value) in &pending.rows {
                writer.as_mut().write(&[ts, id, value]).await?;
            }
            writer.finish().await?;
        }
        super::fleet::write(tx, pending.fleet).await?;
        // Hours that may already be built get rebuilt by the next upkeep.
        let now = Utc::now();
        let closed: HashSet<DateTime<Utc>> = pending
            .hours
            .into_iter()
            .filter(|h| *h + Duration::hours(1) + HOUR_BUILD_GRACE - DIRTY_MARGIN <= now)
            .collect();
        if !closed.is_empty() {
            let hours: Vec<DateTime<Utc>> = closed.into_iter().collect();
            tx.execute(
                "INSERT INTO metric_rollup_dirty_hours (hour) SELECT unnest($1::timestamptz[])
                 ON CONFLICT DO NOTHING",
                &[&hours],
            )
            .await?;
        }
        Ok(())
    }

    async fn apply(&self, tx: &Transaction<'_>, message: &Delivered) -> Result<(), ApplyError> {
        let (batch, collector) = verified_batch(self.verifier.as_ref(), &self.parsed, message)?;
        let applied = "INSERT INTO metric_applied_batches (batch_id, collector_id) SELECT $1, $2 FROM c WHERE c.ok";
        let instance = batch.instance().unwrap_or_default();
        if !claim(tx, applied, batch.batch_id(), collector, instance).await? {
            return Ok(());
        }
        let oldest =
            (message.published - self.retention).max(first_day_kept(Utc::now(), self.retention));
        let (mut rows, new_series) = self.sample_rows(&batch, collector, instance, oldest);
        let known_now = self
            .admit_series(tx, collector, instance, &new_series, &mut rows)
            .await?;
        let missing_days = self.create_partitions(tx, &rows).await?;
        store_statements(tx, collector, &batch).await?;
        // Only now (the statements above may still fail) remember what exists and add this
        // message's samples to the batch's; a rollback of the batch clears them through
        // `rolled_back`, and `flush` writes them once per batch (one COPY).
        self.remember(collector, rows, known_now, missing_days);
        if let Some(point) = (!instance.is_empty())
            .then(|| super::fleet::FleetPoint::of(&batch, message.published))
            .flatten()
        {
            if let Ok(mut p) = self.pending.lock() {
                p.fleet.push((instance.to_owned(), collector, point));
            }
        }
        Ok(())
    }
}

/// The new series of a batch, by id.
type NewSeries<'a> = BTreeMap<i64, SeriesRef<'a>>;

impl MetricSamples {
    /// The batch's samples as rows (those older than the retention left out), and the series
    /// among them this process does not know to exist. Reading the batch already checked
    /// every sample against the time JetStream stored the message. A series' id is hashed
    /// once per batch, from its key's bytes.
    fn sample_rows<'b>(
        &self,
        batch: &'b StreamBatch,
        collector: uuid::Uuid,
        instance: &str,
        oldest: DateTime<Utc>,
    ) -> (Vec<(DateTime<Utc>, i64, f64)>, NewSeries<'b>) {
        let mut rows = Vec::with_capacity(batch.points.len());
        let mut new_series = NewSeries::new();
        let mut ids: Vec<Option<(i64, bool)>> = vec![None; batch.series_len()];
        let known = self.known.lock().ok();
        let known_ids = known.as_ref().and_then(|k| k.get(&collector));
        for p in &batch.points {
            if p.ts < oldest {
                continue;
            }
            let Some(slot) = ids.get_mut(p.series as usize) else {
                continue;
            };
            let id = match *slot {
                Some((id, new)) => {
                    if new {
                        // A new series takes the counter flag of its last point.
                        if let Some(series) = batch.series(p.series) {
                            new_series.insert(id, series);
                        }
                    }
                    id
                }
                None => {
                    let Some(series) = batch.series(p.series) else {
                        continue;
                    };
                    let id = series_key_id(batch.collector_id(), instance, series.key);
                    let new = !known_ids.is_some_and(|k| k.contains(&id));
                    *slot = Some((id, new));
                    if new {
                        new_series.insert(id, series);
                    }
                    id
                }
            };
            rows.push((p.ts, id, p.value));
        }
        (rows, new_series)
    }

    /// Inserts the new series that fit under the collector's cardinality cap and drops the
    /// rows of those that do not (counting them on the collector). Returns the ids now known
    /// to exist.
    // Over 60 lines on purpose: the cardinality cap's decision and its two writes share the sets it computes.
    async fn admit_series(
        &self,
        tx: &Transaction<'_>,
        collector: uuid::Uuid,
        instance: &str,
        new_series: &NewSeries<'_>,
        rows: &mut Vec<(DateTime<Utc>, i64, f64)>,
    ) -> Result<Vec<i64>, ApplyError> {
        let mut known_now: Vec<i64> = Vec::new();
        if new_series.is_empty() {
            return Ok(known_now);
        }
        let existing: i64 = tx
            .query_one(
                "SELECT count(*) FROM metric_series WHERE collector_id = $1",
                &[&collector],
            )
            .await?
            .get(0);
        let room = self
            .max_series
            .saturating_sub(usize::try_from(existing).unwrap_or(usize::MAX));
        // Which of them exist already (the cache starts empty after a restart) matters only
        // when they might not all fit under the cap; otherwise the insert's conflict handling
        // sorts them out and one round trip is saved per new-series batch.
        let present: HashSet<i64> = if new_series.len() > room {
            let ids: Vec<i64> = new_series.keys().copied().collect();
            tx.query("SELECT id FROM metric_series WHERE id = ANY($1)", &[&ids])
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect()
        } else {
            HashSet::new()
        };
        let mut refused: HashSet<i64> = HashSet::new();
        let mut last_refused = String::new();
        let (mut ids, mut metrics, mut label_sets, mut counters) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (id, series) in new_series {
            if present.contains(id) {
                known_now.push(*id);
                continue;
            }
            if ids.len() >= room {
                refused.insert(*id);
                last_refused = series.metric.to_owned();
                continue;
            }
            ids.push(*id);
            metrics.push(series.metric);
            label_sets.push(series.labels_json());
            counters.push(series.counter);
            known_now.push(*id);
        }
        if !ids.is_empty() {
            // One statement for all new series of the batch (a new collector brings thousands).
            tx.execute(
                "INSERT INTO metric_series (id, collector_id, instance, metric, labels, counter)
                 SELECT id, $2, $3, metric, labels, counter
                   FROM unnest($1::int8[], $4::text[], $5::jsonb[], $6::bool[]) AS u(id, metric, labels, counter)
                 ON CONFLICT (id) DO NOTHING",
                &[&ids, &collector, &instance, &metrics, &label_sets, &counters],
            )
            .await?;
        }
        if !refused.is_empty() {
            let before = rows.len();
            rows.retain(|(_, id, _)| !refused.contains(id));
            let n = i64::try_from(before - rows.len()).unwrap_or(i64::MAX);
            tx.execute(
                "INSERT INTO metric_series_refused (collector_id, refused, last_metric, updated_at)
                 VALUES ($1, $2, $3, now())
                 ON CONFLICT (collector_id) DO UPDATE
                    SET refused = metric_series_refused.refused + excluded.refused,
                        last_metric = excluded.last_metric, updated_at = now()",
                &[&collector, &n, &last_refused],
            )
            .await?;
        }
        Ok(known_now)
    }

    /// Creates the daily partitions the rows need and this process has not seen; returns them.
    async fn create_partitions(
        &self,
        tx: &Transaction<'_>,
        rows: &[(DateTime<Utc>, i64, f64)],
    ) -> Result<Vec<NaiveDate>, tokio_postgres::Error> {
        let days: HashSet<NaiveDate> = rows.iter().map(|(ts, _, _)| ts.date_naive()).collect();
        let missing: Vec<NaiveDate> = {
            let known_days = self.days.lock().map(|d| d.clone()).unwrap_or_default();
            days.into_iter()
                .filter(|d| !known_days.contains(d))
                .collect()
        };
        for day in &missing {
            tx.batch_execute(&partition_ddl(*day)).await?;
        }
        Ok(missing)
    }

    /// Adds a message's rows to the batch's pending writes, and what now exists to the caches.
    fn remember(
        &self,
        collector: uuid::Uuid,
        mut rows: Vec<(DateTime<Utc>, i64, f64)>,
        known_now: Vec<i64>,
        missing_days: Vec<NaiveDate>,
    ) {
        if let Ok(mut p) = self.pending.lock() {
            let mut last = None;
            for (ts, _, _) in &rows {
                let hour = ts.duration_trunc(Duration::hours(1)).unwrap_or(*ts);
                if last != Some(hour) {
                    p.hours.insert(hour);
                    last = Some(hour);
                }
            }
            p.rows.append(&mut rows);
        }
        if let Ok(mut k) = self.known.lock() {
            k.entry(collector).or_default().extend(known_now);
        }
        if let Ok(mut d) = self.days.lock() {
            d.extend(missing_days);
        }
    }
}

/// Upserts the batch's statement texts.
async fn store_statements(
    tx: &Transaction<'_>,
    collector: uuid::Uuid,
    batch: &StreamBatch,
) -> Result<(), tokio_postgres::Error> {
    for (queryid, text) in &batch.statements {
        tx.execute(
            "INSERT INTO metric_statements (collector_id, queryid, query, updated_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (collector_id, queryid) DO UPDATE SET query = excluded.query, updated_at = excluded.updated_at",
            &[&collector, queryid, text, &batch.collected_at],
        )
        .await?;
    }
    Ok(())
}

/// What a replay of the samples keeps that its stream no longer holds (see
/// [`Projector::keep`]).
///
/// - Every day wholly before `cutoff`'s day moves across as it is: its partition is detached
///   from the live table and attached to the rebuilt one, and a sample the stream still carried
///   for that day joins it. Before the switch-over, each such day gets a validated CHECK of its
///   range, one day per transaction, so attaching it scans nothing under the lock.
/// - Samples of the days from `cutoff`'s day and before `cutoff` are copied: those before
///   `planned` ahead of the switch-over, the rest (messages that aged out of the stream while
///   the replay ran) under its lock.
/// - Series, statement texts and dedup records the rebuild lacks are copied ahead; the
///   newest overview rows and refusal counts (the larger of live and rebuilt) under the lock.
fn keep_samples(schema: &str, planned: DateTime<Utc>, cutoff: DateTime<Utc>) -> Keep {
    let sql_time = |t: DateTime<Utc>| format!("'{}'::timestamptz", t.to_rfc3339());
    let (planned_at, cutoff_at) = (sql_time(planned), sql_time(cutoff));
    let old_days = |before: NaiveDate| {
        format!(
            "SELECT c.relname AS name, to_date(substr(c.relname, 16), 'YYYYMMDD') AS day
               FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
               JOIN pg_class pc ON pc.oid = i.inhparent
               JOIN pg_namespace ns ON ns.oid = pc.relnamespace
              WHERE ns.nspname = 'public' AND pc.relname = 'metric_samples'
                AND c.relname ~ '^metric_samples_[0-9]{{8}}$' AND c.relname < '{}'",
            partition_name(before)
        )
    };
    let check_days = format!(
        "DO $$ DECLARE p record; BEGIN
           FOR p IN {} LOOP
             IF NOT EXISTS (SELECT 1 FROM pg_constraint
                             WHERE conrelid = ('public.' || p.name)::regclass
                               AND conname = p.name || '_day') THEN
               EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I CHECK (ts >= %L AND ts < %L) NOT VALID',
                              p.name, p.name || '_day', p.day, p.day + 1);
               COMMIT;
             END IF;
             EXECUTE format('ALTER TABLE public.%I VALIDATE CONSTRAINT %I', p.name, p.name || '_day');
             COMMIT;
           END LOOP;
         END $$",
        old_days(planned.date_naive())
    );
    // Samples from `day`'s start (or `from`, if later) to `to`, the rebuild lacks.
    let copy = |from: &str, to: &str, day: NaiveDate| {
        let (name, next) = (partition_name(day), day + Duration::days(1));
        format!(
            "DO $$ BEGIN
               IF to_regclass('public.{name}') IS NOT NULL THEN
                 CREATE TABLE IF NOT EXISTS {schema}.{name} PARTITION OF {schema}.metric_samples
                   FOR VALUES FROM ('{day}') TO ('{next}');
               END IF;
               INSERT INTO {schema}.metric_samples
                 SELECT * FROM public.metric_samples l
                  WHERE l.ts >= greatest({from}, '{day}'::timestamptz) AND l.ts < {to}
                    AND NOT EXISTS (SELECT 1 FROM {schema}.metric_samples n
                                     WHERE n.series_id = l.series_id AND n.ts = l.ts);
             END $$"
        )
    };
    let mut prepare = vec![
        check_days,
        copy("'-infinity'", &planned_at, planned.date_naive()),
    ];
    for table in [
        "metric_series",
        "metric_statements",
        "metric_applied_batches",
    ] {
        prepare.push(format!(
            "INSERT INTO {schema}.{table} SELECT * FROM public.{table} ON CONFLICT DO NOTHING"
        ));
    }
    let move_days = format!(
        "DO $$ DECLARE p record; BEGIN
           FOR p IN {} ORDER BY 1 LOOP
             IF to_regclass('{schema}.' || p.name) IS NOT NULL THEN
               EXECUTE format('INSERT INTO public.%I SELECT * FROM {schema}.%I n
                                WHERE NOT EXISTS (SELECT 1 FROM public.%I l
                                                   WHERE l.series_id = n.series_id AND l.ts = n.ts)',
                              p.name, p.name, p.name);
               EXECUTE format('DROP TABLE {schema}.%I', p.name);
             END IF;
             EXECUTE format('ALTER TABLE public.metric_samples DETACH PARTITION public.%I', p.name);
             EXECUTE format('ALTER TABLE public.%I SET SCHEMA {schema}', p.name);
             EXECUTE format('ALTER TABLE {schema}.metric_samples ATTACH PARTITION {schema}.%I FOR VALUES FROM (%L) TO (%L)',
                            p.name, p.day, p.day + 1);
           END LOOP;
         END $$",
        old_days(cutoff.date_naive())
    );
    let mut merge = vec![move_days];
    if cutoff > planned {
        merge.push(copy(&planned_at, &cutoff_at, cutoff.date_naive()));
    }
    for table in ["metric_rollup_dirty_hours", "rm_fleet"] {
        merge.push(format!(
            "INSERT INTO {schema}.{table} SELECT * FROM public.{table} ON CONFLICT DO NOTHING"
        ));
    }
    merge.push(format!(
        "INSERT INTO {schema}.metric_series_refused AS n SELECT * FROM public.metric_series_refused
           ON CONFLICT (collector_id) DO UPDATE SET refused = greatest(n.refused, excluded.refused),
             last_metric = CASE WHEN excluded.updated_at > n.updated_at THEN excluded.last_metric
                                ELSE n.last_metric END,
             updated_at = greatest(n.updated_at, excluded.updated_at)"
    ));
    let day = cutoff.date_naive();
    Keep {
        what: format!(
            "samples before {cutoff} (days before {day} move across whole, {day} is copied up to the cutoff), \
             every series, statement text, dedup record and overview row the rebuild lacks; \
             refusal counts take the larger of live and rebuilt"
        ),
        prepare,
        merge,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The series id as every version before the compact encoding computed it, from the
    /// label map: ids stored then must stay the ids of the same series now.
    fn series_id_from_map(
        collector: &str,
        instance: &str,
        metric: &str,
        labels: &BTreeMap<String, String>,
    ) -> i64 {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for part in [collector, instance, metric] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        for (k, v) in labels {
            h.update(k.as_bytes());
            h.update([1]);
            h.update(v.as_bytes());
            h.update([0]);
        }
        let d = h.finalize();
        i64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    }

    struct NoTokens;
    impl CollectorTokenVerifier for NoTokens {
        fn verify(&self, _: &str, _: DateTime<Utc>) -> Result<String, String> {
            Err("unused".into())
        }
    }

    #[test]
    fn a_new_series_takes_its_last_points_counter_flag_and_known_ones_are_not_new() {
        use domain::metrics::{compact, MetricBatch, Sample};
        let now = Utc::now();
        let sample = |counter: bool, value: f64| Sample {
            metric: "pg_a".into(),
            labels: BTreeMap::new(),
            value,
            ts: now,
            counter,
        };
        let batch = MetricBatch {
            batch_id: "b".into(),
            collector_id: "c".into(),
            instance: None,
            collected_at: now,
            samples: vec![sample(false, 1.0), sample(true, 2.0), sample(false, 3.0)],
            statements: BTreeMap::new(),
        };
        let decoded = compact::decode(compact::encode(&batch).into(), now).expect("decodes");
        let projector = MetricSamples::new(Arc::new(NoTokens), ParsedBatches::new(1), 14, 100);
        let collector = uuid::Uuid::nil();
        let old = now - Duration::days(14);
        let (rows, new) = projector.sample_rows(&decoded, collector, "", old);
        assert_eq!(rows.len(), 3);
        assert_eq!(new.len(), 1, "one series, whatever its flag");
        assert!(
            !new.values().next().expect("new").counter,
            "the last point's flag"
        );
        projector.remember(
            collector,
            Vec::new(),
            new.keys().copied().collect(),
            Vec::new(),
        );
        let (_, again) = projector.sample_rows(&decoded, collector, "", old);
        assert!(again.is_empty(), "known now");
    }

    #[test]
    fn writes_into_a_day_stop_an_hour_before_retention_drops_it() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().expect("time");
        let days = Duration::days(14);
        // Retention drops 2026-03-01 once 2026-03-16 has begun; writes into it stop at 23:00.
        assert_eq!(
            first_day_kept(at("2026-03-15T22:59:59Z"), days),
            at("2026-03-01T00:00:00Z")
        );
        assert_eq!(
            first_day_kept(at("2026-03-15T23:00:00Z"), days),
            at("2026-03-02T00:00:00Z")
        );
    }

    #[test]
    fn series_ids_are_those_of_earlier_versions() {
        use domain::metrics::compact::series_key;
        for labels in [
            BTreeMap::new(),
            BTreeMap::from([("database".to_owned(), "app".to_owned())]),
            BTreeMap::from([
                ("a".to_owned(), "x\u{1}y".to_owned()),
                ("b\u{e9}".to_owned(), String::new()),
            ]),
        ] {
            for instance in ["", "db-1"] {
                assert_eq!(
                    series_key_id("c", instance, &series_key("pg_m", &labels)),
                    series_id_from_map("c", instance, "pg_m", &labels),
                    "{labels:?} {instance:?}"
                );
            }
        }
        let ddl = partition_ddl(NaiveDate::from_ymd_opt(2026, 2, 28).expect("date"));
        assert!(ddl.starts_with("SELECT pg_advisory_xact_lock("), "{ddl}");
        assert!(
            ddl.ends_with("CREATE TABLE IF NOT EXISTS metric_samples_20260228 PARTITION OF metric_samples FOR VALUES FROM ('2026-02-28') TO ('2026-03-01')"),
            "{ddl}"
        );
    }
}
