//! HTTP routing and the cross-cutting request rules (injected failures, Content-Length).

mod auth;
mod devserver;
mod realtime;
mod sessions;
mod tasks;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use serde_json::Value;

use crate::app::App;
use crate::clock;
use crate::error::{ApiError, ApiResult};

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/api/v1/auth/jwt/claims", post(auth::jwt_claims))
        .route("/api/v1/sessions", post(sessions::create).get(sessions::list))
        .route("/api/v1/sessions/{session}", get(sessions::retrieve).patch(sessions::update))
        .route("/api/v1/sessions/{session}/close", post(sessions::close))
        .route("/api/v1/tasks/{task}/trigger", post(tasks::trigger))
        .route("/api/v3/runs/{run}", get(tasks::retrieve_run))
        .route("/realtime/v1/sessions/{session}/in/append", post(realtime::append))
        .route("/realtime/v1/sessions/{session}/out", get(realtime::subscribe))
        .route("/realtime/v1/sessions/{session}/out/records", get(realtime::out_records))
        .route("/realtime/v1/sessions/{session}/in/records", get(realtime::in_records))
        .fallback(not_found)
        .layer(from_fn_with_state(app.clone(), slow_bodies))
        .layer(from_fn_with_state(app.clone(), inject_failures))
        .merge(devserver::router())
        .with_state(app)
}

async fn not_found() -> ApiError {
    ApiError::msg(404, "Not found")
}

/// `fail_next_requests`: answer an error before anything else looks at the request.
async fn inject_failures(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let failure = app.faults().take_failure();
    match failure {
        Some(status) => {
            let reason = axum::http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Injected failure");
            let mut err = ApiError::msg(status, format!("{reason} (injected by tchat-devserver)"));
            if status == 429 {
                err = err.with_header("x-ratelimit-reset", (clock::now_ms() + 200).to_string());
            }
            err.into_response()
        }
        None => next.run(req).await,
    }
}

/// Oversized bodies are still read up to this size before the 413 goes out: a client that is
/// still writing when the server closes would see a broken pipe instead of the answer.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// `slow_body_next_requests`: the route runs as usual; its answer's body then trickles out one
/// byte at a time (`.out` streams have faults of their own and are left alone).
async fn slow_bodies(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let is_stream = req.uri().path().ends_with("/out") && req.method() == axum::http::Method::GET;
    let gap = if is_stream { None } else { app.faults().take_slow_body() };
    let response = next.run(req).await;
    let Some(gap) = gap else { return response };
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, DRAIN_LIMIT).await.unwrap_or_default();
    let length = bytes.len();
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        for i in 0..bytes.len() {
            tokio::time::sleep(gap).await;
            if tx.send(Ok(bytes.slice(i..i + 1))).await.is_err() {
                return;
            }
        }
    });
    let mut response = Response::from_parts(parts, Body::from_stream(crate::sse::BodyStream::new(rx)));
    // The length stays announced, so the client waits for every byte.
    if let Ok(v) = length.to_string().parse() {
        response.headers_mut().insert(header::CONTENT_LENGTH, v);
    }
    response
}

/// The route builder's `maxContentLength` rule: a body must come with a `Content-Length`, and
/// that length must not exceed `limit`; otherwise 413 `{"error":"Request body too large"}`.
/// Checked after authentication and before anything reads the body.
fn check_content_length(headers: &HeaderMap, limit: usize) -> ApiResult<()> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(n) if n <= limit as u64 => Ok(()),
        _ => Err(ApiError::too_large()),
    }
}

/// Reads a body whose length [`check_content_length`] accepted; a body that runs past its
/// declared length is refused the same way. Oversized bodies are drained first.
async fn read_limited(headers: &HeaderMap, body: Body, limit: usize) -> ApiResult<Bytes> {
    if let Err(e) = check_content_length(headers, limit) {
        let _ = axum::body::to_bytes(body, DRAIN_LIMIT).await;
        return Err(e);
    }
    let bytes = axum::body::to_bytes(body, DRAIN_LIMIT.max(limit)).await.map_err(|_| ApiError::too_large())?;
    if bytes.len() > limit {
        return Err(ApiError::too_large());
    }
    Ok(bytes)
}

/// An action route's JSON body, read as the real route builder reads it: the Content-Length
/// rule, then `Request body is empty`, then `Invalid JSON` (also for `null`, `false` and `0`,
/// which its `if (!parsed)` treats as a failed parse), all 400.
async fn json_body(headers: &HeaderMap, body: Body, limit: usize) -> ApiResult<Value> {
    let bytes = read_limited(headers, body, limit).await?;
    if bytes.is_empty() {
        return Err(ApiError::msg(400, "Request body is empty"));
    }
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| ApiError::msg(400, "Invalid JSON"))?;
    let falsy = match &value {
        Value::Null | Value::Bool(false) => true,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        _ => false,
    };
    if falsy {
        return Err(ApiError::msg(400, "Invalid JSON"));
    }
    Ok(value)
}
