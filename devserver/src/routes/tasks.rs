//! The seed flow's run endpoints: trigger the demo task, read a run's status.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::extract::{Authed, AuthedJson};
use crate::app::App;
use crate::auth::{Need, ENV_ID};
use crate::error::{ApiError, ApiResult};
use crate::schema;

/// The only task this server can run.
pub const DEMO_TASK: &str = "demo";
/// `maxContentLength` of the trigger route: the default `TASK_PAYLOAD_MAXIMUM_SIZE` (3 MiB).
const TRIGGER_LIMIT: usize = 3 * 1024 * 1024;
/// `MAX_TAGS_PER_RUN` of the real trigger validator.
const MAX_TAGS_PER_RUN: usize = 10;

pub async fn trigger(
    State(app): State<Arc<App>>,
    Path(task): Path<String>,
    AuthedJson { caller, body }: AuthedJson<TRIGGER_LIMIT>,
) -> ApiResult<Response> {
    let tags = schema::trigger_task(&body)?;
    caller.require(&Need { action: "write", resource: "tasks", ids: vec![task.as_str()], unscoped_ok: true })?;
    if task != DEMO_TASK {
        return Err(ApiError::msg(404, "Task not found"));
    }
    if tags.len() > MAX_TAGS_PER_RUN {
        return Err(ApiError::msg(
            422,
            format!("Runs can only have {MAX_TAGS_PER_RUN} tags, you're trying to set {}.", tags.len()),
        ));
    }
    let mut payload = run_payload(&body)?;
    let idempotency_key = body.pointer("/options/idempotencyKey").and_then(Value::as_str).map(str::to_string);

    let mut store = app.store();
    if let Some(run_id) = idempotency_key.as_ref().and_then(|k| store.idempotency.get(k)).cloned() {
        let session_key = store
            .runs
            .get(&run_id)
            .and_then(|r| r.payload.get("sessionId"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        drop(store);
        return Ok(respond(&app, &run_id, &session_key, true));
    }
    let named = payload
        .get("sessionId")
        .and_then(Value::as_str)
        .or_else(|| payload.get("chatId").and_then(Value::as_str))
        .map(str::to_string);
    let session_id = named
        .as_deref()
        .and_then(|k| store.resolve(k))
        .ok_or_else(|| ApiError::msg(422, "The demo task needs payload.sessionId naming an existing session"))?;
    let s = store.session(&session_id).expect("resolved");
    if s.closed_at.is_some() {
        return Err(ApiError::msg(422, "Session is closed"));
    }
    let session_key = payload.get("sessionId").and_then(Value::as_str).unwrap_or(&s.id).to_string();
    if payload.get("sessionId").is_none() {
        payload["sessionId"] = json!(s.id);
    }
    let run_id =
        app.start_run(&mut store, &session_id, payload).ok_or_else(|| ApiError::msg(500, "Could not start the run"))?;
    if let Some(k) = idempotency_key {
        store.idempotency.insert(k, run_id.clone());
    }
    drop(store);
    Ok(respond(&app, &run_id, &session_key, false))
}

/// The run's payload from a trigger body. The payload is either the JSON object itself, or (what
/// the SDK's `tasks.trigger` sends) a serialized packet named by `options.payloadType`:
/// `application/json` text, or `application/super+json` text whose `json` member is the value
/// (its `meta` only restores Dates and the like, which a chat payload does not hold).
fn run_payload(body: &Value) -> ApiResult<Value> {
    let invalid = |why: &str| ApiError::msg(400, format!("Invalid request body: {why}"));
    let payload = match body.get("payload") {
        Some(Value::String(text)) => {
            let kind = body.pointer("/options/payloadType").and_then(Value::as_str).unwrap_or("application/json");
            let parsed: Value =
                serde_json::from_str(text).map_err(|_| invalid("payload is not valid JSON for its payloadType"))?;
            match kind {
                "application/json" => parsed,
                "application/super+json" => parsed.get("json").cloned().unwrap_or(Value::Null),
                other => return Err(invalid(&format!("the demo task cannot read a {other} payload"))),
            }
        }
        Some(v) => v.clone(),
        None => Value::Null,
    };
    if !payload.is_object() {
        return Err(invalid("payload must be an object"));
    }
    Ok(payload)
}

/// 200 with the run id, and the run's token in `x-trigger-jwt` as the real API returns it.
fn respond(app: &App, run_id: &str, session_key: &str, cached: bool) -> Response {
    let scopes = vec![
        format!("read:runs:{run_id}"),
        format!("read:sessions:{session_key}"),
        format!("write:sessions:{session_key}"),
    ];
    let claims = json!({ "sub": ENV_ID, "pub": true, "scopes": scopes });
    let token = app.mint(scopes);
    let mut resp = Json(json!({ "id": run_id, "isCached": cached })).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = token.parse() {
        h.insert("x-trigger-jwt", v);
    }
    if let Ok(v) = claims.to_string().parse() {
        h.insert("x-trigger-jwt-claims", v);
    }
    resp
}

pub async fn retrieve_run(
    State(app): State<Arc<App>>,
    Path(run): Path<String>,
    Authed(caller): Authed,
) -> ApiResult<Json<Value>> {
    let store = app.store();
    // Run misses are retryable on the real server (`shouldRetryNotFound`: a replica may lag).
    let r = store
        .runs
        .get(&run)
        .ok_or_else(|| ApiError::msg(404, "Not found").with_header("x-should-retry", "true".to_string()))?;
    caller.require(&Need { action: "read", resource: "runs", ids: vec![run.as_str()], unscoped_ok: true })?;
    Ok(Json(r.to_json()))
}
