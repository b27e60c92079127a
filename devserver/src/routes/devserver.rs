//! `/__devserver/...`: test controls for clients that run the server out of process (the C
//! tests, benchmarks). No auth: the server only ever listens on loopback for tests.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::faults::Faults;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/__devserver/faults", post(set_faults).get(get_faults))
        .route("/__devserver/sessions/{session}/in", get(in_records))
        .route("/__devserver/sessions/{session}/out", get(out_records))
        .route("/__devserver/sessions/{session}/runs", get(runs))
        .route("/__devserver/sessions/{session}/kill-run", post(kill_run))
        .route("/__devserver/tokens", post(mint_token))
}

async fn set_faults(State(app): State<Arc<App>>, body: axum::body::Bytes) -> ApiResult<Json<Faults>> {
    let faults: Faults = if body.iter().all(u8::is_ascii_whitespace) {
        Faults::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::msg(400, format!("Invalid faults: {e}")))?
    };
    app.set_faults(faults.clone());
    Ok(Json(faults))
}

async fn get_faults(State(app): State<Arc<App>>) -> Json<Faults> {
    Json(app.faults().current())
}

async fn in_records(State(app): State<Arc<App>>, Path(session): Path<String>) -> Json<Vec<Value>> {
    Json(app.in_records(&session))
}

async fn out_records(State(app): State<Arc<App>>, Path(session): Path<String>) -> Json<Vec<Value>> {
    Json(app.out_records(&session))
}

async fn runs(State(app): State<Arc<App>>, Path(session): Path<String>) -> Json<Vec<String>> {
    Json(app.run_ids(&session))
}

async fn kill_run(State(app): State<Arc<App>>, Path(session): Path<String>) -> Json<Value> {
    Json(json!({ "ok": app.kill_run(&session) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenRequest {
    scopes: Vec<String>,
    ttl_secs: Option<u64>,
}

async fn mint_token(State(app): State<Arc<App>>, Json(req): Json<TokenRequest>) -> Json<Value> {
    let ttl = Duration::from_secs(req.ttl_secs.unwrap_or(3600));
    Json(json!({ "token": app.tokens.mint(req.scopes, ttl) }))
}
