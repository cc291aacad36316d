//! Property tests of the metric batch parsers (native and v3): whatever bytes arrive, parsing
//! never panics, and whatever it accepts satisfies every bound the storage and the bus rely on.

use chrono::{DateTime, Utc};
use domain::metrics::{
    parse_payload, valid_metric_name, Parsed, BATCH_ID_MAX, COLLECTOR_ID_MAX, INSTANCE_MAX,
    LABELS_MAX, LABEL_KEY_MAX, LABEL_VALUE_MAX, MAX_ABS_VALUE, QUERYID_MAX, STATEMENT_TEXT_MAX,
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn now() -> DateTime<Utc> {
    "2026-02-27T15:20:00Z".parse().expect("time")
}

fn parse(body: &[u8]) -> Option<Parsed> {
    parse_payload(body, now()).ok()
}

/// Every bound a batch that was accepted must satisfy.
fn assert_bounded(p: &Parsed) {
    let b = &p.batch;
    assert!(!b.batch_id.is_empty() && b.batch_id.len() <= BATCH_ID_MAX);
    assert!(
        b.batch_id.bytes().all(|c| c.is_ascii_graphic()),
        "{:?}",
        b.batch_id
    );
    assert!(!b.collector_id.is_empty() && b.collector_id.len() <= COLLECTOR_ID_MAX);
    assert!(b.collector_id.bytes().all(|c| c.is_ascii_graphic()));
    if let Some(i) = &b.instance {
        assert!(
            i.len() <= INSTANCE_MAX && !i.chars().any(char::is_control),
            "{i:?}"
        );
    }
    assert!(b.collected_at.timestamp() >= 0);
    for (id, text) in &b.statements {
        assert!(id.len() <= QUERYID_MAX && !id.chars().any(char::is_control));
        assert!(text.len() <= STATEMENT_TEXT_MAX && !text.contains('\0'));
    }
    for s in &b.samples {
        assert!(valid_metric_name(&s.metric), "{:?}", s.metric);
        assert!(
            s.value.is_finite() && s.value.abs() <= MAX_ABS_VALUE,
            "{}",
            s.value
        );
        assert!(s.ts <= now() + chrono::Duration::hours(1));
        assert!(s.labels.len() <= LABELS_MAX);
        for (k, v) in &s.labels {
            assert!(!k.is_empty() && k.len() <= LABEL_KEY_MAX && !k.chars().any(char::is_control));
            assert!(v.len() <= LABEL_VALUE_MAX && !v.contains('\0'));
        }
    }
}

/// Text that is hostile in the ways that matter: long, with control characters, NUL, CR/LF,
/// quotes, non-ASCII, or ordinary.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z_:][a-z0-9_:]{0,12}",
        1 => "\\PC{0,40}",
        1 => "[\\x00-\\x1f\\x7f\"\\\\ ]{0,8}",
        1 => Just("b\r\nNats-Msg-Id: x".to_owned()),
        1 => (1usize..4000, any::<char>()).prop_map(|(n, c)| c.to_string().repeat(n)),
        1 => Just("x".repeat(INSTANCE_MAX + 1)),
        1 => Just("q".repeat(3000)),
    ]
}

/// Numbers at and past every edge f64 and the bound have.
fn hostile_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<f64>().prop_map(|f| json!(f)),
        any::<i64>().prop_map(|i| json!(i)),
        any::<u64>().prop_map(|u| json!(u)),
        Just(json!(1e308)),
        Just(json!(-1.7976931348623157e308)),
        Just(json!(MAX_ABS_VALUE)),
        Just(json!(1.0000000000000001e200)),
        Just(json!(5e-324)),
    ]
}

/// Any JSON value, nested a few levels, built from hostile leaves.
fn hostile_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        hostile_number(),
        hostile_text().prop_map(Value::String),
        timestamp(),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(hostile_text(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn timestamp() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("2026-02-27T15:13:20Z")),
        Just(json!("2026-02-27T17:30:00Z")),
        Just(json!("1969-12-31T23:59:59Z")),
        Just(json!("+262142-12-31T23:59:59Z")),
        Just(json!("-262143-01-01T00:00:00Z")),
    ]
}

/// A native batch of the right shape whose every text and number may be hostile.
fn native_batch() -> impl Strategy<Value = Value> {
    let sample = (
        hostile_text(),
        prop::collection::btree_map(hostile_text(), hostile_text(), 0..40),
        prop_oneof![hostile_number(), Just(Value::Null)],
        prop_oneof![Just(Value::Null), timestamp()],
        any::<bool>(),
    )
        .prop_map(|(metric, labels, value, ts, counter)| {
            json!({"metric": metric, "labels": labels, "value": value, "ts": ts,
                   "counter": counter})
        });
    (
        hostile_text(),
        prop_oneof![Just("c-1".to_owned()), hostile_text()],
        prop_oneof![Just(Value::Null), hostile_text().prop_map(Value::String)],
        timestamp(),
        prop::collection::vec(sample, 0..8),
        prop::collection::btree_map(hostile_text(), hostile_text(), 0..4),
    )
        .prop_map(|(batch_id, collector, instance, at, samples, statements)| {
            json!({"batch_id": batch_id, "collector_id": collector, "instance": instance,
                   "collected_at": at, "samples": samples, "statements": statements})
        })
}

/// A native batch whose fields may be of the wrong type altogether.
fn mistyped_native_batch() -> impl Strategy<Value = Value> {
    (
        prop_oneof![hostile_text().prop_map(Value::String), hostile_value()],
        prop_oneof![Just(json!("c-1")), hostile_value()],
        prop_oneof![hostile_text().prop_map(Value::String), hostile_value()],
        prop_oneof![timestamp(), hostile_value()],
        prop::collection::vec(hostile_value(), 0..4),
        hostile_value(),
    )
        .prop_map(|(batch_id, collector, instance, at, samples, statements)| {
            json!({"batch_id": batch_id, "collector_id": collector, "instance": instance,
                   "collected_at": at, "samples": samples, "statements": statements})
        })
}

/// A v3 payload with hostile families.
fn v3_payload() -> impl Strategy<Value = Value> {
    let family = (
        prop_oneof![
            Just("pg_stats"),
            Just("pg_query_stats"),
            Just("sysstat"),
            Just("pg_replication"),
            Just("disk_usage"),
            Just("unknown"),
        ],
        prop::collection::btree_map(
            prop_oneof![
                Just("databases".to_owned()),
                Just("queries".to_owned()),
                Just("cpu".to_owned()),
                Just("memory".to_owned()),
                Just("replicas".to_owned()),
                Just("filesystems".to_owned()),
                Just("database".to_owned()),
                hostile_text(),
            ],
            hostile_value(),
            0..6,
        ),
    )
        .prop_map(|(kind, mut fields)| {
            fields.insert("type".into(), json!(kind));
            Value::Object(fields.into_iter().collect())
        });
    (
        prop_oneof![Just(json!("c-1")), hostile_value()],
        prop_oneof![hostile_text().prop_map(Value::String), hostile_value()],
        prop_oneof![Just(json!("2026-02-27T15:13:20Z")), hostile_value()],
        prop::collection::vec(family, 0..6),
    )
        .prop_map(|(collector, hostname, at, metrics)| {
            json!({"collector_id": collector, "hostname": hostname, "timestamp": at,
                   "metrics": metrics})
        })
}

/// v3 families whose entries are objects with hostile fields, to reach every converter.
fn v3_deep() -> impl Strategy<Value = Value> {
    let entry = prop::collection::btree_map(
        prop_oneof![
            Just("database".to_owned()),
            Just("hash".to_owned()),
            Just("text".to_owned()),
            Just("calls".to_owned()),
            Just("size_bytes".to_owned()),
            Just("tablename".to_owned()),
            Just("mount".to_owned()),
            Just("write_lag_ms".to_owned()),
            Just("active".to_owned()),
        ],
        prop_oneof![
            hostile_number(),
            hostile_text().prop_map(Value::String),
            hostile_value()
        ],
        0..9,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect()));
    (prop::collection::vec(entry, 0..4), hostile_text()).prop_map(|(entries, db)| {
        json!({"collector_id": "c-1", "hostname": "db-1", "timestamp": "2026-02-27T15:13:20Z",
        "metrics": [
            {"type": "pg_stats", "databases": [{"database": db, "size_bytes": 1,
                "tables": entries, "indexes": entries}]},
            {"type": "pg_query_stats", "database": db, "queries": entries},
            {"type": "pg_replication", "replicas": entries, "slots": entries},
            {"type": "disk_usage", "filesystems": entries},
            {"type": "sysstat", "cpu": {"user": 1}, "memory": entries.first(),
             "load": entries.first()}
        ]})
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Some(p) = parse(&body) {
            assert_bounded(&p);
        }
    }

    #[test]
    fn hostile_native_batches_never_panic_and_what_passes_is_bounded(
        batch in prop_oneof![native_batch(), mistyped_native_batch()]
    ) {
        let body = serde_json::to_vec(&batch).expect("json");
        if let Some(p) = parse(&body) {
            assert_bounded(&p);
        }
    }

    #[test]
    fn hostile_v3_payloads_never_panic_and_what_passes_is_bounded(
        payload in prop_oneof![v3_payload(), v3_deep()]
    ) {
        let body = serde_json::to_vec(&payload).expect("json");
        if let Some(p) = parse(&body) {
            assert_bounded(&p);
        }
    }

    #[test]
    fn any_json_value_never_panics(value in hostile_value()) {
        let body = serde_json::to_vec(&value).expect("json");
        if let Some(p) = parse(&body) {
            assert_bounded(&p);
        }
    }
}

#[test]
fn numbers_past_f64_and_deep_nesting_are_refused_not_a_crash() {
    let huge = br#"{"batch_id":"b","collector_id":"c","collected_at":"2026-02-27T15:13:20Z",
        "samples":[{"metric":"m","value":1e400}]}"#;
    assert!(parse(huge).is_none_or(|p| {
        assert_bounded(&p);
        true
    }));
    for depth in [100, 1_000, 100_000] {
        let nested = format!(
            r#"{{"batch_id":"b","collector_id":"c","collected_at":"2026-02-27T15:13:20Z","samples":[],"statements":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert!(parse(nested.as_bytes()).is_none(), "depth {depth}");
        let v3 = format!(
            r#"{{"collector_id":"c","timestamp":"2026-02-27T15:13:20Z","metrics":[{{"type":"pg_stats","databases":{}{}}}]}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let _ = parse(v3.as_bytes());
    }
}
