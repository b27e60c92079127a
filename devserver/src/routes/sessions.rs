//! `/api/v1/sessions`: create (idempotent on externalId), retrieve, update, list, close.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::extract::{Authed, AuthedJson};
use crate::app::App;
use crate::auth::{session_scopes, Need};
use crate::clock;
use crate::config::RunMode;
use crate::error::{ApiError, ApiResult};
use crate::ids::random_id;
use crate::payload::carry_idle_timeout;
use crate::schema;
use crate::store::Session;

/// `maxContentLength` of create and update (32 KiB) and of close (1 KiB).
const CREATE_LIMIT: usize = 32 * 1024;
const CLOSE_LIMIT: usize = 1024;

fn need<'a>(action: &'a str, ids: Vec<&'a str>) -> Need<'a> {
    Need { action, resource: "sessions", ids, unscoped_ok: true }
}

pub async fn create(
    State(app): State<Arc<App>>,
    AuthedJson { caller, body }: AuthedJson<CREATE_LIMIT>,
) -> ApiResult<Response> {
    let req = schema::create_session(&body)?;
    let trigger_config = body["triggerConfig"].clone();
    let task = req.task_identifier.as_str();
    let write_tasks = Need { action: "write", resource: "tasks", ids: vec![task], unscoped_ok: true };
    let write_sessions = Need { action: "write", resource: "sessions", ids: vec![], unscoped_ok: true };
    if !caller.allows(&write_sessions) && !caller.allows(&write_tasks) {
        return Err(ApiError::forbidden());
    }
    let external_id = req.external_id.clone();

    let mut store = app.store();
    if let Some(existing) = external_id.as_ref().and_then(|e| store.by_external.get(e)).cloned() {
        let s = store.session_mut(&existing).expect("indexed session exists");
        if s.closed_at.is_some() {
            return Err(ApiError::msg(409, "Session is closed; use a different externalId to create a new session"));
        }
        if s.is_expired() {
            return Err(ApiError::msg(409, "Session is expired; use a different externalId to create a new session"));
        }
        // The cached path refreshes triggerConfig, so a redeployed config reaches the next run.
        s.trigger_config = trigger_config;
        let mut v = s.to_json();
        let token = app.mint(session_scopes(s.key()));
        if app.config.runs == RunMode::Server {
            v["runId"] = json!(s.current_run_id);
        }
        v["publicAccessToken"] = json!(token);
        v["isCached"] = json!(true);
        app.add_pending_version(&mut v);
        return Ok((StatusCode::OK, Json(v)).into_response());
    }

    let id = random_id("session");
    let mut s = Session::new(id.clone(), external_id.clone(), req.kind, req.task_identifier, trigger_config.clone());
    if let Some(t) = req.tags {
        s.tags = json!(t);
    }
    s.metadata = req.metadata.unwrap_or(Value::Null);
    s.expires_at = req.expires_at;
    let key = s.key().to_string();
    store.sessions.insert(id.clone(), s);
    store.order.push(id.clone());
    if let Some(e) = &external_id {
        store.by_external.insert(e.clone(), id.clone());
    }
    let run_id = if app.config.runs == RunMode::Server {
        let mut payload = trigger_config["basePayload"].clone();
        payload["sessionId"] = json!(id);
        carry_idle_timeout(&trigger_config, &mut payload);
        app.start_run(&mut store, &id, payload)
    } else {
        None
    };
    let mut v = store.session(&id).expect("just inserted").to_json();
    drop(store);
    if let Some(r) = run_id {
        v["runId"] = json!(r);
    }
    v["publicAccessToken"] = json!(app.mint(session_scopes(&key)));
    v["isCached"] = json!(false);
    app.add_pending_version(&mut v);
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

pub async fn retrieve(
    State(app): State<Arc<App>>,
    Path(session): Path<String>,
    Authed(caller): Authed,
) -> ApiResult<Json<Value>> {
    let store = app.store();
    let s = store.resolve(&session).and_then(|id| store.session(&id)).ok_or_else(ApiError::loader_not_found)?;
    caller.require(&need("read", s.ids()))?;
    Ok(Json(s.to_json()))
}

pub async fn update(
    State(app): State<Arc<App>>,
    Path(session): Path<String>,
    AuthedJson { caller, body }: AuthedJson<CREATE_LIMIT>,
) -> ApiResult<Json<Value>> {
    let req = schema::update_session(&body)?;
    // The real route authorizes `admin` against the id written in the URL only.
    caller.require(&need("admin", vec![session.as_str()]))?;
    let mut store = app.store();
    let id = store.resolve(&session).ok_or_else(ApiError::session_not_found)?;
    let s = store.session_mut(&id).expect("resolved");
    // The externalId is the session's addressing key (stream names, PAT scopes): it never changes.
    if let Some(ext) = &req.external_id {
        if *ext != s.external_id {
            return Err(ApiError::msg(
                422,
                "externalId cannot be changed after creation; close this session and create a new one with the desired externalId",
            ));
        }
    }
    if let Some(t) = req.tags {
        s.tags = json!(t);
    }
    if let Some(m) = req.metadata {
        s.metadata = m;
    }
    s.updated_at = clock::now_ms();
    Ok(Json(s.to_json()))
}

pub async fn list(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
    Authed(caller): Authed,
) -> ApiResult<Json<Value>> {
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
    AuthedJson { caller, body }: AuthedJson<CLOSE_LIMIT>,
) -> ApiResult<Json<Value>> {
    let req = schema::close_session(&body)?;
    // `admin` on the id written in the URL: an `admin:sessions:<friendly id>` token cannot
    // close through the externalId form, nor the other way round.
    caller.require(&need("admin", vec![session.as_str()]))?;
    let mut store = app.store();
    let id = store.resolve(&session).ok_or_else(ApiError::session_not_found)?;
    store.close_session(&id, req.reason, req.calling_run_id.as_deref(), app.close_behaviour());
    Ok(Json(store.session(&id).expect("resolved").to_json()))
}
