//! HTTP routing and the cross-cutting request rules (injected failures, Content-Length).

mod devserver;
mod realtime;
mod sessions;
mod tasks;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::{from_fn, from_fn_with_state, Next};
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
        .layer(from_fn(require_content_length))
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

/// The real server refuses a POST whose length it cannot know in advance.
async fn require_content_length(req: Request, next: Next) -> Response {
    if req.method() == Method::POST && !req.headers().contains_key(header::CONTENT_LENGTH) {
        return ApiError::too_large().into_response();
    }
    next.run(req).await
}

/// Oversized bodies are still read up to this size before the 413 goes out: a client that is
/// still writing when the server closes would see a broken pipe instead of the answer.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// Reads the whole body and refuses it (413) when it exceeds `limit`.
async fn read_body(body: Body, limit: usize) -> ApiResult<Bytes> {
    let bytes = axum::body::to_bytes(body, DRAIN_LIMIT.max(limit)).await.map_err(|_| ApiError::too_large())?;
    if bytes.len() > limit {
        return Err(ApiError::too_large());
    }
    Ok(bytes)
}

/// Reads the body whole, up to [`DRAIN_LIMIT`], for callers that judge its size themselves.
async fn read_all(body: Body) -> Option<Bytes> {
    axum::body::to_bytes(body, DRAIN_LIMIT).await.ok()
}

fn parse_json(bytes: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::msg(400, format!("Invalid JSON body: {e}")))
}
