//! History: `?as_of=` on the read endpoints, and `/{resource}/{id}/history` and `/diff` for
//! managed instances, collectors, users, registration secrets and alert rules. Every answer
//! comes from the history tables written beside the live read models, in the live answer's
//! shape.

use std::collections::BTreeSet;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use projections::queries::history::Version;
use projections::queries::{alerting, collectors, managed_instances, registration_secrets, users};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::collectors::{historical, CollectorView};
use super::instances::InstanceView;
use super::parse_id;
use super::secrets::SecretView;
use super::users::UserView;
use crate::error::ApiError;
use crate::state::AppState;

/// `?as_of=<RFC 3339>` of a read endpoint.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AsOf {
    as_of: Option<DateTime<Utc>>,
}

/// The instant asked for, if any: a 422 naming `as_of` for one that does not parse or that
/// PostgreSQL cannot hold.
pub(crate) fn as_of(
    query: Result<Query<AsOf>, QueryRejection>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::Invalid {
        field: "as_of".into(),
        message: format!(
            "must be an RFC 3339 instant, e.g. 2026-12-03T14:02:00Z ({})",
            e.body_text()
        ),
    })?;
    if let Some(at) = q.as_of {
        instant("as_of", at)?;
    }
    Ok(q.as_of)
}

/// PostgreSQL refuses instants chrono holds (years past 294276 or before 4713 BC): outside
/// 1970..=9999 is a 422, not a failed query.
pub(crate) fn instant(field: &str, at: DateTime<Utc>) -> Result<(), ApiError> {
    if (0..=253_402_300_799).contains(&at.timestamp()) {
        Ok(())
    } else {
        Err(ApiError::Invalid {
            field: field.into(),
            message: "must be between 1970-01-01 and 9999-12-31".into(),
        })
    }
}

/// One version as the history page answers it.
#[derive(Serialize, Clone, JsonSchema)]
#[schemars(rename = "Version")]
pub(crate) struct VersionView {
    sequence: i64,
    event_type: String,
    summary: Option<String>,
    actor_kind: Option<String>,
    actor_name: Option<String>,
    valid_from: DateTime<Utc>,
    valid_to: Option<DateTime<Utc>>,
    /// The entity after the event, as its live endpoint shows it; null once removed.
    state: Value,
    /// Fields whose value differs from the previous version (every field for the first).
    changed: Vec<String>,
}

/// Fields whose values differ between two states (a missing state has none).
fn changed(before: &Value, after: &Value) -> Vec<String> {
    let empty = Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    keys.into_iter()
        .filter(|k| b.get(*k) != a.get(*k))
        .cloned()
        .collect()
}

fn views<R, V: Serialize>(
    versions: Vec<Version<R>>,
    view: impl Fn(R) -> V,
) -> Result<Vec<VersionView>, ApiError> {
    let mut out: Vec<VersionView> = Vec::with_capacity(versions.len());
    let mut previous = Value::Null;
    for v in versions {
        let state = match v.state {
            Some(r) => {
                serde_json::to_value(view(r)).map_err(|e| ApiError::Internal(e.to_string()))?
            }
            None => Value::Null,
        };
        out.push(VersionView {
            sequence: v.meta.sequence,
            event_type: v.meta.event_type,
            summary: v.meta.summary,
            actor_kind: v.meta.actor_kind,
            actor_name: v.meta.actor_name,
            valid_from: v.meta.valid_from,
            valid_to: v.meta.valid_to,
            changed: changed(&previous, &state),
            state: state.clone(),
        });
        previous = state;
    }
    Ok(out)
}

/// `GET /{resource}/{id}/history`: every version, oldest first.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "History")]
pub(crate) struct HistoryPage {
    versions: Vec<VersionView>,
}

/// One field that differs between two instants.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Change {
    field: String,
    from: Value,
    to: Value,
}

/// An event between two instants.
#[derive(Serialize, JsonSchema)]
pub(crate) struct DiffEvent {
    sequence: i64,
    event_type: String,
    summary: Option<String>,
    actor_kind: Option<String>,
    actor_name: Option<String>,
    recorded_at: DateTime<Utc>,
    changed: Vec<String>,
}

/// `GET /{resource}/{id}/diff`: the entity at two instants, the fields that differ, and the
/// events in between (after `from`, up to `to`).
#[derive(Serialize, JsonSchema)]
pub(crate) struct Diff {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    /// Null: it did not exist then (not yet, or removed).
    from_state: Value,
    to_state: Value,
    changes: Vec<Change>,
    events: Vec<DiffEvent>,
}

fn page(versions: Vec<VersionView>, what: &str) -> Result<Json<HistoryPage>, ApiError> {
    if versions.is_empty() {
        return Err(ApiError::NotFound(format!("no history of this {what}")));
    }
    Ok(Json(HistoryPage { versions }))
}

/// `from`/`to` of a diff.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Between {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

/// The state valid at `at` among `versions` (oldest first).
fn state_at(versions: &[VersionView], at: DateTime<Utc>) -> Value {
    versions
        .iter()
        .rev()
        .find(|v| v.valid_from <= at)
        .map_or(Value::Null, |v| v.state.clone())
}

fn diff(
    versions: Vec<VersionView>,
    query: Result<Query<Between>, QueryRejection>,
    what: &str,
) -> Result<Json<Diff>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::Invalid {
        field: "from".into(),
        message: format!("from and to must be RFC 3339 instants ({})", e.body_text()),
    })?;
    instant("from", q.from)?;
    instant("to", q.to)?;
    if q.from > q.to {
        return Err(ApiError::Invalid {
            field: "from".into(),
            message: "must not be after to".into(),
        });
    }
    if versions.is_empty() {
        return Err(ApiError::NotFound(format!("no history of this {what}")));
    }
    let before = state_at(&versions, q.from);
    let after = state_at(&versions, q.to);
    let changes = changed(&before, &after)
        .into_iter()
        .map(|field| Change {
            from: before.get(&field).cloned().unwrap_or(Value::Null),
            to: after.get(&field).cloned().unwrap_or(Value::Null),
            field,
        })
        .collect();
    let events = versions
        .iter()
        .filter(|v| v.valid_from > q.from && v.valid_from <= q.to)
        .map(|v| DiffEvent {
            sequence: v.sequence,
            event_type: v.event_type.clone(),
            summary: v.summary.clone(),
            actor_kind: v.actor_kind.clone(),
            actor_name: v.actor_name.clone(),
            recorded_at: v.valid_from,
            changed: v.changed.clone(),
        })
        .collect();
    Ok(Json(Diff {
        from: q.from,
        to: q.to,
        from_state: before,
        to_state: after,
        changes,
        events,
    }))
}

async fn instance_versions(state: &AppState, id: &str) -> Result<Vec<VersionView>, ApiError> {
    let id = parse_id(id, "managed instance")?;
    let client = state.read().await?;
    views(
        managed_instances::versions(&client, id).await?,
        InstanceView::from,
    )
}

async fn collector_versions(state: &AppState, id: &str) -> Result<Vec<VersionView>, ApiError> {
    let id = parse_id(id, "collector")?;
    let client = state.read().await?;
    views(collectors::versions(&client, id).await?, |r| {
        historical(CollectorView::from(r))
    })
}

async fn user_versions(state: &AppState, id: &str) -> Result<Vec<VersionView>, ApiError> {
    let id = parse_id(id, "user")?;
    let client = state.read().await?;
    views(users::versions(&client, id).await?, UserView::from)
}

async fn secret_versions(state: &AppState, id: &str) -> Result<Vec<VersionView>, ApiError> {
    let id = parse_id(id, "registration secret")?;
    let client = state.read().await?;
    views(
        registration_secrets::versions(&client, id).await?,
        SecretView::from,
    )
}

async fn rule_versions(state: &AppState, id: &str) -> Result<Vec<VersionView>, ApiError> {
    let id = parse_id(id, "alert rule")?;
    let client = state.read().await?;
    views(alerting::rule_versions(&client, id).await?, |v| v)
}

/// `GET /managed-instances/{id}/history`
pub(crate) async fn instance_history(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<HistoryPage>, ApiError> {
    page(instance_versions(&s, &id).await?, "managed instance")
}

/// `GET /managed-instances/{id}/diff?from=&to=`
pub(crate) async fn instance_diff(
    State(s): State<AppState>,
    Path(id): Path<String>,
    q: Result<Query<Between>, QueryRejection>,
) -> Result<Json<Diff>, ApiError> {
    diff(instance_versions(&s, &id).await?, q, "managed instance")
}

/// `GET /collectors/{id}/history`
pub(crate) async fn collector_history(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<HistoryPage>, ApiError> {
    page(collector_versions(&s, &id).await?, "collector")
}

/// `GET /collectors/{id}/diff?from=&to=`
pub(crate) async fn collector_diff(
    State(s): State<AppState>,
    Path(id): Path<String>,
    q: Result<Query<Between>, QueryRejection>,
) -> Result<Json<Diff>, ApiError> {
    diff(collector_versions(&s, &id).await?, q, "collector")
}

/// `GET /users/{id}/history`
pub(crate) async fn user_history(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<HistoryPage>, ApiError> {
    page(user_versions(&s, &id).await?, "user")
}

/// `GET /users/{id}/diff?from=&to=`
pub(crate) async fn user_diff(
    State(s): State<AppState>,
    Path(id): Path<String>,
    q: Result<Query<Between>, QueryRejection>,
) -> Result<Json<Diff>, ApiError> {
    diff(user_versions(&s, &id).await?, q, "user")
}

/// `GET /registration-secrets/{id}/history`
pub(crate) async fn secret_history(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<HistoryPage>, ApiError> {
    page(secret_versions(&s, &id).await?, "registration secret")
}

/// `GET /registration-secrets/{id}/diff?from=&to=`
pub(crate) async fn secret_diff(
    State(s): State<AppState>,
    Path(id): Path<String>,
    q: Result<Query<Between>, QueryRejection>,
) -> Result<Json<Diff>, ApiError> {
    diff(secret_versions(&s, &id).await?, q, "registration secret")
}

/// `GET /alert-rules/{id}/history`
pub(crate) async fn rule_history(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<HistoryPage>, ApiError> {
    page(rule_versions(&s, &id).await?, "alert rule")
}

/// `GET /alert-rules/{id}/diff?from=&to=`
pub(crate) async fn rule_diff(
    State(s): State<AppState>,
    Path(id): Path<String>,
    q: Result<Query<Between>, QueryRejection>,
) -> Result<Json<Diff>, ApiError> {
    diff(rule_versions(&s, &id).await?, q, "alert rule")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn changed_lists_differing_added_and_removed_fields() {
        let a = json!({"name": "a", "port": 5432, "tags": ["x"]});
        let b = json!({"name": "a", "port": 5433, "tags": ["x"], "extra": 1});
        assert_eq!(
            changed(&a, &b),
            vec!["extra".to_string(), "port".to_string()]
        );
        assert_eq!(
            changed(&Value::Null, &json!({"n": 1})),
            vec!["n".to_string()]
        );
        assert_eq!(changed(&a, &Value::Null).len(), 3);
        assert!(changed(&a, &a).is_empty());
    }

    fn version(seq: i64, from: &str, state: Value) -> VersionView {
        VersionView {
            sequence: seq,
            event_type: "E".into(),
            summary: None,
            actor_kind: None,
            actor_name: None,
            valid_from: from.parse().unwrap(),
            valid_to: None,
            state,
            changed: vec![],
        }
    }

    #[test]
    fn state_at_picks_the_version_valid_then() {
        let v = vec![
            version(1, "2026-12-03T10:00:00Z", json!({"n": 1})),
            version(2, "2026-12-03T11:00:00Z", json!({"n": 2})),
            version(3, "2026-12-03T12:00:00Z", Value::Null),
        ];
        assert_eq!(
            state_at(&v, "2026-12-03T09:59:59Z".parse().unwrap()),
            Value::Null
        );
        assert_eq!(
            state_at(&v, "2026-12-03T10:00:00Z".parse().unwrap()),
            json!({"n": 1})
        );
        assert_eq!(
            state_at(&v, "2026-12-03T11:30:00Z".parse().unwrap()),
            json!({"n": 2})
        );
        assert_eq!(
            state_at(&v, "2026-12-03T12:00:00Z".parse().unwrap()),
            Value::Null
        );
    }
}
