//! HTTP routing and the cross-cutting request rules (injected failures, slow answers; the
//! authentication and body rules are the extractors of `extract.rs`).

mod auth;
mod devserver;
mod extract;
mod realtime;
mod sessions;
mod tasks;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::app::App;
use crate::clock;
use crate::error::ApiError;
use extract::DRAIN_LIMIT;

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
