//! The compact encoding of a batch on `PGA_METRICS`: what the HTTP bridge publishes, and what a
//! collector speaking NATS may publish instead of JSON.
//!
//! A batch's series are listed once and its points refer to them by index, so a projector
//! reads a 2,000-point batch with three allocations (series, points, statements) instead of a
//! `String` and a `BTreeMap` per point. A series is stored as its *key*, the bytes
//! `metric \0 (name \1 value \0)*` with the labels in byte order: the exact bytes a series id
//! is hashed from ([`series_key_id`]), so ids come from one SHA-256 over a slice, never from a
//! label map. Every rule of [`super::check_sample`] and of the batch's bounds is checked again
//! when decoding, since a collector on NATS may send these bytes too.
//!
//! ```text
//! "PGAB" 0x01
//! str batch_id, str collector_id, u8 has_instance [str instance], i64 collected_at (µs)
//! u32 n, n × (str queryid, str text)               statements
//! u32 n, n × (u8 counter, str key)                 series
//! u32 n, n × (u32 series, i64 ts (µs), f64 value)  points
//! ```
//! Integers are little-endian; `str` is a `u32` length and UTF-8 bytes. Timestamps are
//! microseconds since 1970, the precision PostgreSQL keeps.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use super::bounds::check_header;
use super::{
    parse_payload, redact_statements, valid_metric_name, MetricBatch, PayloadError, LABELS_MAX,
    LABEL_KEY_MAX, LABEL_VALUE_MAX, MAX_ABS_VALUE,
};

/// The first bytes of a compactly encoded batch (a JSON payload starts with `{` or space).
pub const MAGIC: &[u8; 5] = b"PGAB\x01";

/// Bytes of one encoded point.
const POINT_LEN: usize = 4 + 8 + 8;

/// A series' key: `metric \0 (name \1 value \0)*`, labels in the map's (byte) order.
pub fn series_key(metric: &str, labels: &BTreeMap<String, String>) -> Vec<u8> {
    let mut key = Vec::with_capacity(metric.len() + 1 + labels.len() * 24);
    key.extend_from_slice(metric.as_bytes());
    key.push(0);
    for (k, v) in labels {
        key.extend_from_slice(k.as_bytes());
        key.push(1);
        key.extend_from_slice(v.as_bytes());
        key.push(0);
    }
    key
}

/// A series' id: 64 bits of SHA-256 over `collector \0 instance \0 key`.
pub fn series_key_id(collector: &str, instance: &str, key: &[u8]) -> i64 {
    let mut h = Sha256::new();
    h.update(collector.as_bytes());
    h.update([0]);
    h.update(instance.as_bytes());
    h.update([0]);
    h.update(key);
    let d = h.finalize();
    i64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    // Every string of a batch is bounded far below 4 GiB (the bus takes a few MiB).
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(s);
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

/// Encodes a batch whose samples were checked (the bridge's, after [`parse_payload`]).
pub fn encode(batch: &MetricBatch) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + batch.samples.len() * (POINT_LEN + 48));
    out.extend_from_slice(MAGIC);
    put_str(&mut out, batch.batch_id.as_bytes());
    put_str(&mut out, batch.collector_id.as_bytes());
    match &batch.instance {
        Some(i) => {
            out.push(1);
            put_str(&mut out, i.as_bytes());
        }
        None => out.push(0),
    }
    out.extend_from_slice(&batch.collected_at.timestamp_micros().to_le_bytes());
    put_u32(&mut out, batch.statements.len());
    for (q, t) in &batch.statements {
        put_str(&mut out, q.as_bytes());
        put_str(&mut out, t.as_bytes());
    }
    let mut index: HashMap<(&str, &BTreeMap<String, String>, bool), u32> = HashMap::new();
    let mut keys: Vec<(bool, Vec<u8>)> = Vec::new();
    let refs: Vec<u32> = batch
        .samples
        .iter()
        .map(|s| {
            *index
                .entry((&s.metric, &s.labels, s.counter))
                .or_insert_with(|| {
                    keys.push((s.counter, series_key(&s.metric, &s.labels)));
                    u32::try_from(keys.len() - 1).unwrap_or(u32::MAX)
                })
        })
        .collect();
    put_u32(&mut out, keys.len());
    for (counter, key) in &keys {
        out.push(u8::from(*counter));
        put_str(&mut out, key);
    }
    put_u32(&mut out, batch.samples.len());
    for (s, series) in batch.samples.iter().zip(refs) {
        out.extend_from_slice(&series.to_le_bytes());
        out.extend_from_slice(&s.ts.timestamp_micros().to_le_bytes());
        out.extend_from_slice(&s.value.to_le_bytes());
    }
    out
}

/// One series of a decoded batch.
#[derive(Debug, Clone, Copy)]
struct SeriesEntry {
    key: (u32, u32),
    metric_len: u32,
    counter: bool,
    ok: bool,
}

/// A point: its series (an index into the batch's series), time and value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Index into [`StreamBatch::series`].
    pub series: u32,
    /// When it was measured.
    pub ts: DateTime<Utc>,
    /// Its value (finite, checked).
    pub value: f64,
}

/// A series as the batch holds it.
#[derive(Debug, Clone, Copy)]
pub struct SeriesRef<'a> {
    /// Its key (see [`series_key`]).
    pub key: &'a [u8],
    /// Its metric name.
    pub metric: &'a str,
    /// A cumulative counter.
    pub counter: bool,
}

impl<'a> SeriesRef<'a> {
    /// Its labels, in byte order.
    pub fn labels(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        let rest = self.key.get(self.metric.len() + 1..).unwrap_or_default();
        // Decoding checked the key: UTF-8, each name ends at a \1, each value at a \0.
        let text = std::str::from_utf8(rest).unwrap_or_default();
        text.split_terminator('\0')
            .filter_map(|pair| pair.split_once('\u{1}'))
    }

    /// Its labels as a JSON object (how `metric_series` stores them).
    pub fn labels_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.labels()
                .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v.to_owned())))
                .collect(),
        )
    }
}

/// A batch as the projectors read it from the stream: checked, with its points in one vector
/// and its strings borrowed from the message.
#[derive(Debug, Clone)]
pub struct StreamBatch {
    bytes: Bytes,
    batch_id: (u32, u32),
    collector_id: (u32, u32),
    instance: Option<(u32, u32)>,
    /// When the collector gathered it.
    pub collected_at: DateTime<Utc>,
    /// Statement texts by query id (redacted).
    pub statements: BTreeMap<String, String>,
    series: Vec<SeriesEntry>,
    /// The accepted points, in the order sent.
    pub points: Vec<Point>,
}

impl StreamBatch {
    fn text(&self, (from, to): (u32, u32)) -> &str {
        // Decoding checked every string's range and UTF-8.
        self.bytes
            .get(from as usize..to as usize)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }

    /// Its idempotency key.
    pub fn batch_id(&self) -> &str {
        self.text(self.batch_id)
    }

    /// The collector it names.
    pub fn collector_id(&self) -> &str {
        self.text(self.collector_id)
    }

    /// The instance it describes, when the collector says.
    pub fn instance(&self) -> Option<&str> {
        self.instance.map(|r| self.text(r))
    }

    /// Series `i` (an index from a [`Point`]).
    pub fn series(&self, i: u32) -> Option<SeriesRef<'_>> {
        let e = self.series.get(i as usize).filter(|e| e.ok)?;
        let key = self.bytes.get(e.key.0 as usize..e.key.1 as usize)?;
        let metric = std::str::from_utf8(key.get(..e.metric_len as usize)?).ok()?;
        Some(SeriesRef {
            key,
            metric,
            counter: e.counter,
        })
    }

    /// How many series it lists (points refer to them by index).
    pub fn series_len(&self) -> usize {
        self.series.len()
    }

    /// The batch in the model the other parts of the system use (tests, tools).
    pub fn to_batch(&self) -> MetricBatch {
        MetricBatch {
            batch_id: self.batch_id().to_owned(),
            collector_id: self.collector_id().to_owned(),
            instance: self.instance().map(str::to_owned),
            collected_at: self.collected_at,
            statements: self.statements.clone(),
            samples: self
                .points
                .iter()
                .filter_map(|p| {
                    let s = self.series(p.series)?;
                    Some(super::Sample {
                        metric: s.metric.to_owned(),
                        labels: s
                            .labels()
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .collect(),
                        value: p.value,
                        ts: p.ts,
                        counter: s.counter,
                    })
                })
                .collect(),
        }
    }
}

/// Reads a payload from the stream in either encoding: compact (see the module) or JSON (a
/// collector on NATS, or a message of an earlier version). Samples are checked against `now`
/// (the time JetStream stored the message); one that breaks a rule is left out, as when
/// parsing JSON.
///
/// # Errors
/// [`PayloadError`] when the payload as a whole is unusable.
pub fn read_payload(payload: &Bytes, now: DateTime<Utc>) -> Result<StreamBatch, PayloadError> {
    if payload.starts_with(MAGIC) {
        return decode(payload.clone(), now);
    }
    let parsed = parse_payload(payload, now)?;
    decode(Bytes::from(encode(&parsed.batch)), now)
}

/// The batch id a compact payload names, read without checking the rest: for a person
/// reading why a message was rejected.
pub fn claimed_batch_id(payload: &[u8]) -> Option<String> {
    let mut r = Reader {
        buf: payload.strip_prefix(MAGIC.as_slice())?,
        at: 0,
    };
    let (from, to) = r.str().ok()?;
    Some(String::from_utf8_lossy(&r.buf[from as usize..to as usize]).into_owned())
}

/// Most bytes of [`readable`]'s text.
const READABLE_MAX: usize = 64 * 1024;

/// A compact payload as JSON, for a person reading a rejected message: the batch's fields, its
/// series once each and its points by series index, cut at 64 KiB (a point may name a series
/// with 32 KiB of labels, so the points are never expanded into samples). Decoded without the
/// rule on future times; `None` when it does not decode.
pub fn readable(payload: &[u8]) -> Option<String> {
    use std::fmt::Write as _;
    if !payload.starts_with(MAGIC) {
        return None;
    }
    let far = DateTime::from_timestamp(253_402_300_799 - 7_200, 0)?;
    let b = decode(Bytes::copy_from_slice(payload), far).ok()?;
    let json = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut out = format!(
        r#"{{"encoding":"compact","batch_id":{},"collector_id":{},"instance":{},"collected_at":"{}","statements":{},"series":["#,
        json(b.batch_id()),
        json(b.collector_id()),
        b.instance().map_or("null".to_owned(), json),
        b.collected_at.to_rfc3339(),
        serde_json::to_string(&b.statements).unwrap_or_default(),
    );
    for i in 0..b.series.len() {
        if out.len() > READABLE_MAX {
            break;
        }
        let i = u32::try_from(i).unwrap_or(u32::MAX);
        if i > 0 {
            out.push(',');
        }
        match b.series(i) {
            Some(s) => {
                let _ = write!(
                    out,
                    r#"{{"metric":{},"labels":{},"counter":{}}}"#,
                    json(s.metric),
                    s.labels_json(),
                    s.counter
                );
            }
            None => out.push_str("null"),
        }
    }
    out.push_str(r#"],"points":["#);
    for (n, p) in b.points.iter().enumerate() {
        if out.len() > READABLE_MAX {
            break;
        }
        if n > 0 {
            out.push(',');
        }
        let _ = write!(out, r#"[{},"{}",{}]"#, p.series, p.ts.to_rfc3339(), p.value);
    }
    out.push_str("]}");
    Some(out)
}

fn malformed(what: impl std::fmt::Display) -> PayloadError {
    PayloadError::Malformed(format!("compact batch: {what}"))
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<(usize, usize), PayloadError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.buf.len())
            .ok_or_else(|| malformed(format!("truncated at byte {}", self.at)))?;
        let from = self.at;
        self.at = end;
        Ok((from, end))
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PayloadError> {
        let (from, to) = self.take(N)?;
        let mut out = [0; N];
        out.copy_from_slice(&self.buf[from..to]);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, PayloadError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, PayloadError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, PayloadError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    fn f64(&mut self) -> Result<f64, PayloadError> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// A count of entries of at least `min_len` bytes each, checked against what is left so
    /// that a lying count cannot make a large allocation.
    fn count(&mut self, min_len: usize, what: &str) -> Result<usize, PayloadError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_len) > self.buf.len() - self.at {
            return Err(malformed(format!("{n} {what} do not fit in the message")));
        }
        Ok(n)
    }

    /// A string's range in the buffer, checked as UTF-8.
    fn str(&mut self) -> Result<(u32, u32), PayloadError> {
        let len = self.u32()? as usize;
        let (from, to) = self.take(len)?;
        std::str::from_utf8(&self.buf[from..to]).map_err(|_| malformed("a string is not UTF-8"))?;
        // The bus takes messages far below 4 GiB.
        let narrow = |n: usize| u32::try_from(n).map_err(|_| malformed("message too large"));
        Ok((narrow(from)?, narrow(to)?))
    }

    fn string(&mut self) -> Result<String, PayloadError> {
        let (from, to) = self.str()?;
        Ok(String::from_utf8_lossy(&self.buf[from as usize..to as usize]).into_owned())
    }
}

/// Checks a series key; returns the length of its metric name.
fn check_key(key: &[u8]) -> Result<usize, String> {
    let text = std::str::from_utf8(key).map_err(|_| "a series key is not UTF-8".to_owned())?;
    let (metric, mut rest) = text
        .split_once('\0')
        .ok_or_else(|| "a series key has no end to its metric name".to_owned())?;
    if !valid_metric_name(metric) {
        return Err(format!("invalid metric name {metric:?}"));
    }
    let mut previous: Option<&str> = None;
    let mut n = 0;
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once('\u{1}')
            .ok_or_else(|| "a label has no value".to_owned())?;
        let (value, after) = after
            .split_once('\0')
            .ok_or_else(|| "a label value has no end".to_owned())?;
        rest = after;
        n += 1;
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(
                "a label name must be non-empty without control characters, a label value without NUL"
                    .into(),
            );
        }
        if n > LABELS_MAX || name.len() > LABEL_KEY_MAX || value.len() > LABEL_VALUE_MAX {
            return Err("too many or too long labels".into());
        }
        if previous.is_some_and(|p| p >= name) {
            return Err("labels must be in byte order, each name once".into());
        }
        previous = Some(name);
    }
    Ok(metric.len())
}

/// Decodes and checks a compact batch. A series that breaks a rule, and a point with a value
/// out of range or a time more than an hour after `now`, are left out; anything else wrong
/// refuses the whole message.
///
/// # Errors
/// [`PayloadError`].
pub fn decode(bytes: Bytes, now: DateTime<Utc>) -> Result<StreamBatch, PayloadError> {
    let mut r = Reader { buf: &bytes, at: 0 };
    if r.array::<5>()? != *MAGIC {
        return Err(malformed("wrong magic bytes or version"));
    }
    let batch_id = r.str()?;
    let collector_id = r.str()?;
    let instance = match r.u8()? {
        0 => None,
        1 => Some(r.str()?),
        _ => return Err(malformed("instance flag must be 0 or 1")),
    };
    let collected_at = DateTime::from_timestamp_micros(r.i64()?)
        .ok_or_else(|| malformed("collected_at out of range"))?;
    let mut statements = BTreeMap::new();
    for _ in 0..r.count(8, "statements")? {
        statements.insert(r.string()?, r.string()?);
    }
    let n_series = r.count(5, "series")?;
    let mut series = Vec::with_capacity(n_series);
    for _ in 0..n_series {
        let counter = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(malformed("counter flag must be 0 or 1")),
        };
        let key = r.str()?;
        let (metric_len, ok) = match check_key(&bytes[key.0 as usize..key.1 as usize]) {
            Ok(len) => (len, true),
            Err(_) => (0, false),
        };
        series.push(SeriesEntry {
            key,
            metric_len: u32::try_from(metric_len).unwrap_or(0),
            counter,
            ok,
        });
    }
    let n_points = r.count(POINT_LEN, "points")?;
    let latest = now + Duration::hours(1);
    let mut points = Vec::with_capacity(n_points);
    for _ in 0..n_points {
        let index = r.u32()?;
        let ts = r.i64()?;
        let value = r.f64()?;
        let entry = series
            .get(index as usize)
            .ok_or_else(|| malformed(format!("a point names series {index} of {n_series}")))?;
        let ts = DateTime::from_timestamp_micros(ts)
            .ok_or_else(|| malformed("a point's time is out of range"))?;
        if entry.ok && value.is_finite() && value.abs() <= MAX_ABS_VALUE && ts <= latest {
            points.push(Point {
                series: index,
                ts,
                value,
            });
        }
    }
    if r.at != bytes.len() {
        return Err(malformed(format!(
            "{} bytes after the last point",
            bytes.len() - r.at
        )));
    }
    let text = |(from, to): (u32, u32)| {
        std::str::from_utf8(&bytes[from as usize..to as usize]).unwrap_or_default()
    };
    check_header(
        text(batch_id),
        text(collector_id),
        instance.map(text),
        collected_at,
        &statements,
        "instance",
    )?;
    // Secrets in utility statements never reach storage, whoever encoded the batch.
    redact_statements(&mut statements);
    Ok(StreamBatch {
        bytes: bytes.clone(),
        batch_id,
        collector_id,
        instance,
        collected_at,
        statements,
        series,
        points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Sample;

    fn now() -> DateTime<Utc> {
        "2026-02-27T15:20:00Z".parse().expect("time")
    }

    fn sample(metric: &str, labels: &[(&str, &str)], value: f64, counter: bool) -> Sample {
        Sample {
            metric: metric.into(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            value,
            ts: "2026-02-27T15:13:20.123456Z".parse().expect("ts"),
            counter,
        }
    }

    fn batch(samples: Vec<Sample>) -> MetricBatch {
        MetricBatch {
            batch_id: "b-1".into(),
            collector_id: "c-1".into(),
            instance: Some("db-1".into()),
            collected_at: "2026-02-27T15:13:20Z".parse().expect("ts"),
            samples,
            statements: BTreeMap::from([("42".to_owned(), "select 1".to_owned())]),
        }
    }

    #[test]
    fn a_batch_comes_back_as_it_went_with_each_series_once() {
        let b = batch(vec![
            sample("pg_up", &[], 1.0, false),
            sample(
                "pg_xact_commit",
                &[("database", "app"), ("a\u{e9}", "x\u{1}y")],
                5.0,
                true,
            ),
            sample("pg_up", &[], 2.0, false),
        ]);
        let bytes = Bytes::from(encode(&b));
        let decoded = decode(bytes, now()).expect("decodes");
        assert_eq!(decoded.series_len(), 2, "pg_up is listed once");
        assert_eq!(decoded.to_batch(), b);
        let s = decoded.series(1).expect("series");
        assert_eq!(s.metric, "pg_xact_commit");
        let labels: Vec<_> = s.labels().collect();
        assert_eq!(labels, [("a\u{e9}", "x\u{1}y"), ("database", "app")]);
        assert_eq!(
            s.labels_json(),
            serde_json::json!({"database": "app", "a\u{e9}": "x\u{1}y"})
        );
    }

    #[test]
    fn a_series_id_is_one_hash_of_the_key_and_tells_series_apart() {
        let l1 = BTreeMap::from([("database".to_owned(), "app".to_owned())]);
        let l2 = BTreeMap::from([("database".to_owned(), "other".to_owned())]);
        let id = |c: &str, i: &str, l: &BTreeMap<String, String>| {
            series_key_id(c, i, &series_key("m", l))
        };
        assert_eq!(id("c", "i", &l1), id("c", "i", &l1));
        assert_ne!(id("c", "i", &l1), id("c", "i", &l2));
        assert_ne!(id("c", "i", &l1), id("c", "", &l1));
        assert_ne!(id("c", "i", &l1), id("d", "i", &l1));
    }

    #[test]
    fn json_and_compact_payloads_read_the_same() {
        let body = serde_json::json!({
            "batch_id": "b-1", "collector_id": "c-1", "collected_at": "2026-02-27T15:13:20Z",
            "instance": "db-1", "statements": {"1": "ALTER ROLE a PASSWORD 'xyz'"},
            "samples": [
                {"metric": "pg_up", "value": 1},
                {"metric": "bad name", "value": 1},
                {"metric": "pg_c", "labels": {"b": "2", "a": "1"}, "value": 5, "counter": true}
            ]
        })
        .to_string();
        let from_json = read_payload(&Bytes::from(body.clone()), now()).expect("json");
        let parsed = parse_payload(body.as_bytes(), now()).expect("parsed").batch;
        let from_compact = read_payload(&Bytes::from(encode(&parsed)), now()).expect("compact");
        assert_eq!(from_json.to_batch(), parsed);
        assert_eq!(from_compact.to_batch(), parsed);
        assert_eq!(from_json.statements["1"], "ALTER ROLE a PASSWORD '***'");
    }

    /// Encodes by hand, for batches `encode` would never write.
    fn raw(
        series: &[(u8, &[u8])],
        points: &[(u32, i64, f64)],
        statements: &[(&str, &str)],
    ) -> Bytes {
        let mut out = MAGIC.to_vec();
        put_str(&mut out, b"b-9");
        put_str(&mut out, b"c-1");
        out.push(0);
        out.extend_from_slice(&1_772_205_200_000_000_i64.to_le_bytes());
        put_u32(&mut out, statements.len());
        for (q, t) in statements {
            put_str(&mut out, q.as_bytes());
            put_str(&mut out, t.as_bytes());
        }
        put_u32(&mut out, series.len());
        for (c, key) in series {
            out.push(*c);
            put_str(&mut out, key);
        }
        put_u32(&mut out, points.len());
        for (s, ts, v) in points {
            out.extend_from_slice(&s.to_le_bytes());
            out.extend_from_slice(&ts.to_le_bytes());
            out.extend_from_slice(&v.to_le_bytes());
        }
        Bytes::from(out)
    }

    #[test]
    fn hostile_compact_batches_lose_their_bad_points_or_are_refused_whole() {
        let ts = 1_772_205_200_000_000_i64;
        let future = ts + 3 * 3_600_000_000;
        // Bad series and bad points are left out, the others kept, as with JSON.
        let b = raw(
            &[
                (0, b"pg_ok\0"),
                (0, b"bad name\0"),
                (0, b"pg_l\0b\x01x\0a\x01y\0"), // labels out of order
                (0, b"pg_l\0a\x01x\0a\x01y\0"), // a name twice
                (0, b"pg_l\0\x01x\0"),          // empty name
                (0, b"pg_l\0a\x02\x01x\0"),     // control character in a name
                (0, b"pg_l\0a\x01x"),           // value without end
                (1, b"pg_c\0a\x01\x01\x01\0"),  // a value may hold \1
            ],
            &[
                (0, ts, 1.0),
                (0, ts, f64::NAN),
                (0, ts, f64::INFINITY),
                (0, ts, 1e300),
                (0, future, 1.0),
                (1, ts, 1.0),
                (2, ts, 1.0),
                (3, ts, 1.0),
                (4, ts, 1.0),
                (5, ts, 1.0),
                (6, ts, 1.0),
                (7, ts, 7.0),
            ],
            &[("1", "GRANT x TO y PASSWORD 'p'")],
        );
        let d = decode(b, now()).expect("decodes");
        let kept: Vec<_> = d.points.iter().map(|p| (p.series, p.value)).collect();
        assert_eq!(kept, [(0, 1.0), (7, 7.0)]);
        assert_eq!(
            d.series(7).expect("ok").labels().collect::<Vec<_>>(),
            [("a", "\u{1}\u{1}")]
        );
        assert!(d.series(1).is_none());
        assert!(!d.statements["1"].contains("'p'"), "{:?}", d.statements);

        // Structural damage refuses the whole message, naming it.
        let refused = |b: Bytes| decode(b, now()).expect_err("refused").to_string();
        assert!(refused(raw(&[(0, b"pg\0")], &[(1, ts, 1.0)], &[])).contains("series 1 of 1"));
        let good = raw(&[(0, b"pg\0")], &[(0, ts, 1.0)], &[]);
        assert!(refused(good.slice(..7)).contains("truncated"));
        let mut longer = good.to_vec();
        longer.push(0);
        assert!(refused(Bytes::from(longer)).contains("after the last point"));
        let mut lying = raw(&[], &[], &[]).to_vec();
        let at = lying.len() - 4;
        lying[at..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(refused(Bytes::from(lying)).contains("do not fit"));
        assert!(refused(raw(&[(2, b"pg\0")], &[], &[])).contains("counter flag"));
        assert!(refused(Bytes::from_static(b"PGAB\x02")).contains("version"));
        // The batch's own bounds hold as for JSON.
        let mut bad_id = MAGIC.to_vec();
        put_str(&mut bad_id, b"has space");
        bad_id.extend_from_slice(&raw(&[], &[], &[])[MAGIC.len() + 4 + 3..]);
        assert!(refused(Bytes::from(bad_id)).contains("batch_id"));
    }

    #[test]
    fn a_rejected_compact_payload_can_be_read_by_a_person() {
        let b = batch(vec![sample("pg_up", &[("a", "b")], 1.0, false)]);
        let bytes = encode(&b);
        assert_eq!(claimed_batch_id(&bytes).as_deref(), Some("b-1"));
        let json = readable(&bytes).expect("readable");
        let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        assert_eq!(value["series"][0]["labels"]["a"], "b", "{json}");
        assert_eq!(value["points"][0][0], 0, "{json}");
        // A point may name a series of 32 KiB of labels: the points are never expanded.
        let big: Vec<(String, String)> = (0..32)
            .map(|i| (format!("l{i:02}"), "\u{1}".repeat(1000)))
            .collect();
        let labels: Vec<(&str, &str)> = big.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let heavy = batch(
            (0..20_000)
                .map(|i| sample("pg_up", &labels, f64::from(i), false))
                .collect(),
        );
        let text = readable(&encode(&heavy)).expect("readable");
        // At most 64 KiB and one more series (its labels JSON-escaped) or point.
        assert!(text.len() < 4 * READABLE_MAX, "{}", text.len());
        assert_eq!(readable(b"{}"), None);
        assert_eq!(claimed_batch_id(&bytes[..8]), None);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_give_an_answer_not_a_panic(
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)
        ) {
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(&tail);
            if let Ok(d) = decode(Bytes::from(bytes), now()) {
                for p in &d.points {
                    proptest::prop_assert!(d.series(p.series).is_some());
                }
                let _ = d.to_batch();
            }
        }

        #[test]
        fn every_checked_batch_comes_back_whole(
            values in proptest::collection::vec(-1e9f64..1e9, 0..40),
            names in proptest::collection::vec("[a-z_]{1,8}", 1..5),
            label in "\\PC{0,12}",
        ) {
            let samples: Vec<Sample> = values
                .iter()
                .enumerate()
                .map(|(i, v)| sample(&names[i % names.len()], &[("l", label.as_str())], *v, i % 2 == 0))
                .collect();
            let b = batch(samples);
            let d = decode(Bytes::from(encode(&b)), now()).expect("decodes");
            proptest::prop_assert_eq!(d.to_batch(), b);
        }
    }
}
