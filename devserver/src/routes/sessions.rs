//! `/api/v1/sessions`: create (idempotent on externalId), retrieve, update, list, close.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{parse_json, read_body};
use crate::app::App;
use crate::auth::{Caller, Need};
use crate::clock;
use crate::config::RunMode;
use crate::error::{ApiError, ApiResult};
use crate::store::{Session, CONTROL};

const CREATE_LIMIT: usize = 32 * 1024;
const CLOSE_REASON_MAX: usize = 256;

fn need<'a>(action: &'a str, ids: Vec<&'a str>) -> Need<'a> {
    Need { action, resource: "sessions", ids, unscoped_ok: true }
}

/// The real schema rejects these with 422: a `session_` externalId would be ambiguous in URLs.
fn check_external_id(ext: &str) -> ApiResult<()> {
    if ext.is_empty() || ext.chars().count() > 256 {
        return Err(ApiError::msg(422, "externalId must be between 1 and 256 characters"));
    }
    if ext.starts_with("session_") {
        return Err(ApiError::msg(422, "externalId must not start with \"session_\""));
    }
    Ok(())
}

fn schema_error(issue: &str) -> ApiError {
    ApiError::msg(400, format!("Invalid request body: {issue}"))
}

fn tags_of(v: Option<&Value>) -> ApiResult<Option<Value>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(json!([s]))),
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => Ok(Some(Value::Array(a.clone()))),
        Some(_) => Err(schema_error("tags must be a string or an array of strings")),
    }
}

pub async fn create(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    let caller = app.authenticate(&headers)?;
    let body = parse_json(&read_body(body, CREATE_LIMIT).await?)?;
    let obj = body.as_object().ok_or_else(|| schema_error("expected an object"))?;
    let kind = obj.get("type").and_then(Value::as_str).ok_or_else(|| schema_error("type is required"))?;
    let task = obj
        .get("taskIdentifier")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| schema_error("taskIdentifier is required"))?;
    let trigger_config = obj
        .get("triggerConfig")
        .filter(|c| c.get("basePayload").is_some_and(Value::is_object))
        .ok_or_else(|| schema_error("triggerConfig.basePayload is required"))?;
    let external_id = match obj.get("externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(schema_error("externalId must be a string")),
    };
    let tags = tags_of(obj.get("tags"))?;
    let expires_at = match obj.get("expiresAt") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(clock::parse_iso(s).ok_or_else(|| schema_error("expiresAt must be an ISO 8601 date"))?),
        Some(_) => return Err(schema_error("expiresAt must be an ISO 8601 date")),
    };
    if let Some(ext) = &external_id {
        check_external_id(ext)?;
    }
    let write_tasks = Need { action: "write", resource: "tasks", ids: vec![task], unscoped_ok: true };
    if !caller.allows(&need("write", vec![])) && !caller.allows(&write_tasks) {
        return Err(ApiError::forbidden());
    }

    let mut store = app.store();
    if let Some(existing) = external_id.as_ref().and_then(|e| store.by_external.get(e)).cloned() {
        let s = store.session(&existing).expect("indexed session exists");
        if s.closed_at.is_some() {
            return Err(ApiError::msg(409, "Session is closed; use a different externalId to create a new session"));
        }
        if s.is_expired() {
            return Err(ApiError::msg(409, "Session is expired; use a different externalId to create a new session"));
        }
        let mut v = s.to_json();
        let token = app.mint(App::session_scopes(s.key()));
        if app.config.runs == RunMode::Server {
            v["runId"] = json!(s.current_run_id);
        }
        v["publicAccessToken"] = json!(token);
        v["isCached"] = json!(true);
        return Ok((StatusCode::OK, Json(v)).into_response());
    }

    let id = App::random_id("session");
    let mut s = Session::new(id.clone(), external_id.clone(), kind.to_string(), task.to_string(), trigger_config.clone());
    if let Some(t) = tags {
        s.tags = t;
    }
    s.metadata = obj.get("metadata").cloned().unwrap_or(Value::Null);
    s.expires_at = expires_at;
    let key = s.key().to_string();
    store.sessions.insert(id.clone(), s);
    store.order.push(id.clone());
    if let Some(e) = &external_id {
        store.by_external.insert(e.clone(), id.clone());
    }
    let run_id = if app.config.runs == RunMode::Server {
        let mut payload = trigger_config["basePayload"].clone();
        payload["sessionId"] = json!(id);
        App::carry_idle_timeout(trigger_config, &mut payload);
        app.start_run(&mut store, &id, payload)
    } else {
        None
    };
    let mut v = store.session(&id).expect("just inserted").to_json();
    drop(store);
    if let Some(r) = run_id {
        v["runId"] = json!(r);
    }
    v["publicAccessToken"] = json!(app.mint(App::session_scopes(&key)));
    v["isCached"] = json!(false);
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

pub async fn retrieve(
    State(app): State<Arc<App>>,
    Path(session): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let caller = app.authenticate(&headers)?;
    let store = app.store();
    let s = store.resolve(&session).and_then(|id| store.session(&id)).ok_or_else(ApiError::session_not_found_get)?;
    caller.require(&need("read", s.ids()))?;
    Ok(Json(s.to_json()))
}

pub async fn update(
    State(app): State<Arc<App>>,
    Path(session): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let caller = app.authenticate(&headers)?;
    let body = parse_json(&read_body(body, CREATE_LIMIT).await?)?;
    let obj = body.as_object().ok_or_else(|| schema_error("expected an object"))?;
    let tags = tags_of(obj.get("tags"))?;
    let new_external = match obj.get("externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            check_external_id(s)?;
            Some(s.clone())
        }
        Some(_) => return Err(schema_error("externalId must be a string")),
    };
    let mut store = app.store();
    let id = store.resolve(&session).ok_or_else(ApiError::session_not_found)?;
    caller.require(&need("admin", store.session(&id).expect("resolved").ids()))?;
    if let Some(ext) = &new_external {
        if store.by_external.get(ext).is_some_and(|other| *other != id) {
            return Err(ApiError::msg(409, "A session with this externalId already exists"));
        }
    }
    let old_external = store.session(&id).and_then(|s| s.external_id.clone());
    if let Some(ext) = &new_external {
        if let Some(old) = &old_external {
            store.by_external.remove(old);
        }
        store.by_external.insert(ext.clone(), id.clone());
    }
    let s = store.session_mut(&id).expect("resolved");
    if let Some(t) = tags {
        s.tags = t;
    }
    if let Some(m) = obj.get("metadata") {
        s.metadata = m.clone();
    }
    if new_external.is_some() {
        s.external_id = new_external;
    }
    s.updated_at = clock::now_ms();
    Ok(Json(s.to_json()))
}

pub async fn list(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let caller = app.authenticate(&headers)?;
    caller.require(&need("read", vec![]))?;
    let size = match q.get("page[size]") {
        None => 20,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ApiError::msg(400, "page[size] must be an integer between 1 and 100"))?,
    };
    let statuses: Option<Vec<String>> =
        q.get("filter[status]").map(|s| s.split(',').map(|x| x.trim().to_ascii_uppercase()).collect());
    let external = q.get("filter[externalId]");
    let store = app.store();
    // Newest first, like the real list endpoint.
    let mut matching = store.order.iter().rev().filter_map(|id| store.session(id)).filter(|s| {
        statuses.as_ref().is_none_or(|st| st.iter().any(|x| x == s.status()))
            && external.is_none_or(|e| s.external_id.as_deref() == Some(e.as_str()))
    });
    if let Some(after) = q.get("page[after]") {
        for s in matching.by_ref() {
            if s.id == *after {
                break;
            }
        }
    }
    let page: Vec<&Session> = matching.by_ref().take(size).collect();
    let more = matching.next().is_some();
    let mut pagination = json!({});
    if more {
        if let Some(last) = page.last() {
            pagination["next"] = json!(last.id);
        }
    }
    Ok(Json(json!({ "data": page.iter().map(|s| s.to_json()).collect::<Vec<_>>(), "pagination": pagination })))
}

pub async fn close(
    State(app): State<Arc<App>>,
    Path(session): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let caller = app.authenticate(&headers)?;
    let bytes = read_body(body, CREATE_LIMIT).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::msg(400, "Invalid request body: a JSON object is required"));
    }
    let body = parse_json(&bytes)?;
    let obj = body.as_object().ok_or_else(|| schema_error("expected an object"))?;
    let reason = match obj.get("reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) if r.chars().count() <= CLOSE_REASON_MAX => Some(r.clone()),
        Some(_) => return Err(schema_error("reason must be a string of at most 256 characters")),
    };
    let mut store = app.store();
    let id = store.resolve(&session).ok_or_else(ApiError::session_not_found)?;
    require_admin(&caller, store.session(&id).expect("resolved"))?;
    let live = store.live_run(&id).map(|r| r.id.clone());
    let s = store.session_mut(&id).expect("resolved");
    if s.closed_at.is_none() {
        let now = clock::now_ms();
        s.closed_at = Some(now);
        s.updated_at = now;
        s.closed_reason = reason.clone();
        let mut headers = vec![(CONTROL.to_string(), "session-closed".to_string())];
        if let Some(r) = reason {
            headers.push(("session-closed-reason".to_string(), r));
        }
        s.push_out(headers, String::new());
        if let Some(run) = live {
            store.end_run(&run, crate::store::RunStatus::Completed);
        }
    }
    Ok(Json(store.session(&id).expect("resolved").to_json()))
}

fn require_admin(caller: &Caller, s: &Session) -> ApiResult<()> {
    caller.require(&need("admin", s.ids()))
}
