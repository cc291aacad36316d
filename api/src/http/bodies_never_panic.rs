//! Property tests of every JSON body the API takes: reading it never panics and every refusal
//! is a 4xx; the domain parsers the handlers then apply never panic either, and what they accept
//! is bounded.

use domain::managed_instance::{
    check_password, parse_tags, ConnectionSpec, CONNECT_TIMEOUT_MAX_S, HOST_MAX, IDENTIFIER_MAX,
    PASSWORD_MAX, TAGS_MAX, TAG_MAX,
};
use domain::user::{NewPassword, Username, PASSWORD_MAX_CHARS, USERNAME_MAX};
use domain::values::{AgentVersion, Hostname, Name, HOSTNAME_MAX, VERSION_MAX};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::{alerts, auth, collectors, instances, secrets, users};
use crate::error::ApiError;

/// Reads `body` as `T` the way `ApiJson` does: it must answer, and any refusal must be a 4xx.
fn read<T: DeserializeOwned>(body: &[u8]) {
    if let Err(e) = crate::json::parse::<T>(body) {
        assert!(
            e.status_code().is_client_error(),
            "{e:?} for {:?}",
            String::from_utf8_lossy(body)
        );
        assert!(
            matches!(e, ApiError::BadRequest(_) | ApiError::Invalid { .. }),
            "{e:?}"
        );
    }
}

/// Every body type the API reads with `ApiJson` (or `json::parse`).
fn read_every_body(body: &[u8]) {
    read::<auth::LoginBody>(body);
    read::<auth::RefreshBody>(body);
    read::<auth::LogoutBody>(body);
    read::<auth::ChangePasswordBody>(body);
    read::<collectors::RegisterBody>(body);
    read::<collectors::TokenBody>(body);
    read::<instances::CreateBody>(body);
    read::<instances::UpdateBody>(body);
    read::<instances::DirectBody>(body);
    read::<secrets::CreateBody>(body);
    read::<secrets::UpdateBody>(body);
    read::<users::CreateBody>(body);
    read::<users::UpdateBody>(body);
    read::<users::ResetBody>(body);
    read::<alerts::SilenceBody>(body);
    read::<alerts::AckBody>(body);
    // Rules and channels are read as JSON values, then by these parsers.
    if let Ok(value) = crate::json::parse::<Value>(body) {
        for refused in [
            alerts::rule_spec(value.clone()).err(),
            alerts::channel_body(value).err(),
        ]
        .into_iter()
        .flatten()
        {
            assert!(matches!(refused, ApiError::Invalid { .. }), "{refused:?}");
        }
    }
}

fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9._@-]{0,70}",
        (1usize..3000).prop_map(|n| "h".repeat(n)),
        "\\PC{0,80}",
        "[\\x00-\\x1f\\x7f\"\\\\ ]{0,8}",
        (1usize..3000, any::<char>()).prop_map(|(n, c)| c.to_string().repeat(n)),
    ]
}

fn hostile_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>().prop_map(|f| json!(f)),
        any::<i64>().prop_map(|i| json!(i)),
        any::<u64>().prop_map(|u| json!(u)),
        hostile_text().prop_map(Value::String),
        Just(json!("2999-01-01T00:00:00Z")),
        Just(json!("admin")),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(hostile_text(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object with the keys the bodies know (and some they do not), hostile values.
fn hostile_body() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("username"),
        Just("password"),
        Just("role"),
        Just("active"),
        Just("name"),
        Just("host"),
        Just("port"),
        Just("database"),
        Just("sslmode"),
        Just("connect_timeout_s"),
        Just("tags"),
        Just("hostname"),
        Just("version"),
        Just("refresh_token"),
        Just("refresh_secret"),
        Just("current_password"),
        Just("new_password"),
        Just("expires_at"),
        Just("max_registrations"),
        Just("unknown"),
    ];
    prop::collection::btree_map(key, hostile_value(), 0..10)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic_any_body(body in prop::collection::vec(any::<u8>(), 0..256)) {
        read_every_body(&body);
    }

    #[test]
    fn hostile_json_never_panics_any_body(body in prop_oneof![hostile_body(), hostile_value()]) {
        read_every_body(&serde_json::to_vec(&body).expect("json"));
    }

    #[test]
    fn hostile_rules_and_channels_are_refused_with_a_field_or_bounded(
        name in hostile_text(),
        metric in hostile_text(),
        label in hostile_text(),
        url in hostile_text(),
        threshold in any::<f64>(),
        window in any::<i64>(),
    ) {
        let rule = json!({"name": name, "severity": "warning", "scope": {"kind": "all"},
            "condition": {"kind": "metric", "metric": metric, "labels": {label.clone(): label},
                          "window_secs": window, "op": ">", "threshold": threshold}});
        if let Ok(spec) = alerts::rule_spec(rule) {
            prop_assert!(!spec.name.is_empty() && spec.name.len() <= 100);
            prop_assert!(!spec.name.chars().any(char::is_control));
        }
        let channel = json!({"name": "c", "min_severity": "info", "enabled": true,
            "kind": "webhook", "url": url, "secret": "k"});
        if let Ok((spec, _)) = alerts::channel_body(channel) {
            let domain::alerting::ChannelTarget::Webhook { url } = spec.target else {
                panic!("a webhook");
            };
            prop_assert!(url.starts_with("http") && url.len() <= 2048);
        }
    }

    #[test]
    fn the_parsers_behind_the_handlers_never_panic_and_accept_only_bounded_values(
        a in hostile_text(),
        b in hostile_text(),
        c in hostile_text(),
        port in prop_oneof![3 => 1i64..=65535, 1 => any::<i64>()],
        timeout in prop_oneof![3 => 1i64..=300, 1 => any::<i64>()],
        tags in prop::collection::vec(hostile_text(), 0..40),
    ) {
        let no_control = |s: &str| !s.chars().any(char::is_control);
        if let Ok(n) = Name::parse(&a) {
            prop_assert!(n.as_str().chars().count() <= 128 && no_control(n.as_str()));
        }
        if let Ok(u) = Username::parse(&a) {
            prop_assert!(u.as_str().len() <= USERNAME_MAX);
        }
        if let Ok(p) = NewPassword::parse(&a) {
            prop_assert!(p.expose().chars().count() <= PASSWORD_MAX_CHARS);
        }
        if let Ok(h) = Hostname::parse(&a) {
            prop_assert!(h.as_str().len() <= HOSTNAME_MAX && no_control(h.as_str()));
        }
        if let Ok(v) = AgentVersion::parse(&a) {
            prop_assert!(v.as_str().len() <= VERSION_MAX && no_control(v.as_str()));
        }
        if let Ok(p) = check_password(&a) {
            prop_assert!(p.len() <= PASSWORD_MAX);
        }
        let (a, b, c) = (a.as_str(), b.as_str(), c.as_str());
        for (host, database, username) in [(a, "app", "u"), ("db", a, "u"), ("db", "app", a), (a, b, c)] {
            if let Ok(spec) = ConnectionSpec::parse(host, port, database, username, "prefer", timeout) {
                prop_assert!(spec.host.len() <= HOST_MAX && no_control(&spec.host));
                prop_assert!(spec.database.len() <= IDENTIFIER_MAX && no_control(&spec.database));
                prop_assert!(spec.username.len() <= IDENTIFIER_MAX && no_control(&spec.username));
                prop_assert!((1..=CONNECT_TIMEOUT_MAX_S).contains(&spec.connect_timeout_s));
            }
        }
        if let Ok(tags) = parse_tags(tags) {
            prop_assert!(tags.len() <= TAGS_MAX);
            prop_assert!(tags.iter().all(|t| t.len() <= TAG_MAX && no_control(t)));
        }
    }
}
