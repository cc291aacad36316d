//! History: `?as_of=` on the read endpoints, and `/{resource}/{id}/history` and `/diff` for
//! managed instances, collectors, users, registration secrets and alert rules. Every answer
//! comes from the history tables written beside the live read models, in the live answer's
//! shape.

use std::collections::BTreeSet;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use domain::user::Role;
use projections::queries::history::{Page, Version};
use projections::queries::{alerting, collectors, managed_instances, registration_secrets, users};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::collectors::{historical, CollectorView};
use super::instances::{observed_out, InstanceView};
use super::parse_id;
use super::secrets::SecretView;
use super::users::UserView;
use crate::auth::access::CurrentUser;
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
    /// Older versions exist: ask again with `before` = the first version's sequence.
    more: bool,
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

async fn instance_versions(
    s: &AppState,
    id: &str,
    page: Page,
) -> Result<Vec<VersionView>, ApiError> {
    let id = parse_id(id, "managed instance")?;
    let client = s.read().await?;
    views(managed_instances::versions(&client, id, page).await?, |r| {
        observed_out(InstanceView::from(r))
    })
}

async fn collector_versions(
    s: &AppState,
    id: &str,
    page: Page,
) -> Result<Vec<VersionView>, ApiError> {
    let id = parse_id(id, "collector")?;
    let client = s.read().await?;
    views(collectors::versions(&client, id, page).await?, |r| {
        historical(CollectorView::from(r))
    })
}

async fn user_versions(s: &AppState, id: &str, page: Page) -> Result<Vec<VersionView>, ApiError> {
    let id = parse_id(id, "user")?;
    let client = s.read().await?;
    views(users::versions(&client, id, page).await?, UserView::from)
}

async fn secret_versions(s: &AppState, id: &str, page: Page) -> Result<Vec<VersionView>, ApiError> {
    let id = parse_id(id, "registration secret")?;
    let client = s.read().await?;
    views(
        registration_secrets::versions(&client, id, page).await?,
        SecretView::from,
    )
}

async fn rule_versions(s: &AppState, id: &str, page: Page) -> Result<Vec<VersionView>, ApiError> {
    let id = parse_id(id, "alert rule")?;
    let client = s.read().await?;
    views(alerting::rule_versions(&client, id, page).await?, |v| v)
}

/// `?before=&limit=` of a history page.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    /// Only versions made by events before this sequence (the previous page's first).
    before: Option<i64>,
    /// 1–1000; default 200.
    limit: Option<i64>,
}

/// Which resource a history or diff is of.
#[derive(Clone, Copy)]
enum Resource {
    Instance,
    Collector,
    User,
    Secret,
    Rule,
}

impl Resource {
    fn what(self) -> &'static str {
        match self {
            Self::Instance => "managed instance",
            Self::Collector => "collector",
            Self::User => "user",
            Self::Secret => "registration secret",
            Self::Rule => "alert rule",
        }
    }

    async fn versions(
        self,
        s: &AppState,
        id: &str,
        page: Page,
    ) -> Result<Vec<VersionView>, ApiError> {
        match self {
            Self::Instance => instance_versions(s, id, page).await,
            Self::Collector => collector_versions(s, id, page).await,
            Self::User => user_versions(s, id, page).await,
            Self::Secret => secret_versions(s, id, page).await,
            Self::Rule => rule_versions(s, id, page).await,
        }
    }
}

/// Who did what is the audit trail's, which is the admins': others see the versions and
/// their events, not the names.
fn for_reader(mut versions: Vec<VersionView>, user: &CurrentUser) -> Vec<VersionView> {
    if user.role != Role::Admin {
        for v in &mut versions {
            v.actor_name = None;
        }
    }
    versions
}

async fn history(
    resource: Resource,
    s: &AppState,
    user: &CurrentUser,
    id: &str,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<HistoryPage>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = q.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::Invalid {
            field: "limit".into(),
            message: "must be 1-1000".into(),
        });
    }
    // One more than asked: the oldest says what the first shown version changed.
    let page = Page {
        before: q.before,
        limit: limit + 1,
    };
    let mut versions = resource.versions(s, id, page).await?;
    if versions.is_empty() && q.before.is_none() {
        return Err(ApiError::NotFound(format!(
            "no history of this {}",
            resource.what()
        )));
    }
    let more = versions.len() as i64 > limit;
    if more {
        versions.remove(0);
    }
    Ok(Json(HistoryPage {
        versions: for_reader(versions, user),
        more,
    }))
}

async fn diff_of(
    resource: Resource,
    s: &AppState,
    user: &CurrentUser,
    id: &str,
    query: Result<Query<Between>, QueryRejection>,
) -> Result<Json<Diff>, ApiError> {
    let versions = for_reader(resource.versions(s, id, Page::ALL).await?, user);
    diff(versions, query, resource.what())
}

/// `GET /managed-instances/{id}/history?before=&limit=`
pub(crate) async fn instance_history(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<HistoryPage>, ApiError> {
    history(Resource::Instance, &s, &user, &id, q).await
}

/// `GET /managed-instances/{id}/diff?from=&to=`
pub(crate) async fn instance_diff(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    q: Result<Query<Between>, QueryRejection>,
) -> Result<Json<Diff>, ApiError> {
    diff_of(Resource::Instance, &s, &user, &id, q).await
}

/// `GET /collectors/{id}/history?before=&limit=`
pub(crate) async fn collector_history(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<HistoryPage>, ApiError> {
    history(Resource::Collector, &s, &user, &id, q).await
}

/// `GET /collectors/{id}/diff?from=&to=`
pub(crate) async fn collector_diff(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    q: Result<Query<Between>, QueryRejection>,
) -> Result<Json<Diff>, ApiError> {
    diff_of(Resource::Collector, &s, &user, &id, q).await
}

/// `GET /users/{id}/history?before=&limit=`
pub(crate) async fn user_history(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<HistoryPage>, ApiError> {
    history(Resource::User, &s, &user, &id, q).await
}

/// `GET /users/{id}/diff?from=&to=`
pub(crate) async fn user_diff(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    q: Result<Query<Between>, QueryRejection>,
) -> Result<Json<Diff>, ApiError> {
    diff_of(Resource::User, &s, &user, &id, q).await
}

/// `GET /registration-secrets/{id}/history?before=&limit=`
pub(crate) async fn secret_history(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<HistoryPage>, ApiError> {
    history(Resource::Secret, &s, &user, &id, q).await
}

/// `GET /registration-secrets/{id}/diff?from=&to=`
pub(crate) async fn secret_diff(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    q: Result<Query<Between>, QueryRejection>,
) -> Result<Json<Diff>, ApiError> {
    diff_of(Resource::Secret, &s, &user, &id, q).await
}

/// `GET /alert-rules/{id}/history?before=&limit=`
pub(crate) async fn rule_history(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<HistoryPage>, ApiError> {
    history(Resource::Rule, &s, &user, &id, q).await
}

/// `GET /alert-rules/{id}/diff?from=&to=`
pub(crate) async fn rule_diff(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    q: Result<Query<Between>, QueryRejection>,
) -> Result<Json<Diff>, ApiError> {
    diff_of(Resource::Rule, &s, &user, &id, q).await
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
            valid_from: from.parse().expect("instant"),
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
            state_at(&v, "2026-12-03T09:59:59Z".parse().expect("instant")),
            Value::Null
        );
        assert_eq!(
            state_at(&v, "2026-12-03T10:00:00Z".parse().expect("instant")),
            json!({"n": 1})
        );
        assert_eq!(
            state_at(&v, "2026-12-03T11:30:00Z".parse().expect("instant")),
            json!({"n": 2})
        );
        assert_eq!(
            state_at(&v, "2026-12-03T12:00:00Z".parse().expect("instant")),
            Value::Null
        );
    }
}
