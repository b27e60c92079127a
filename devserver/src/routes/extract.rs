//! The route builder's first rules as axum extractors: authentication, then (action routes)
//! the body's `maxContentLength` and JSON rules, in that order on every route:
//! 401 → 413 → 400 `Request body is empty` / `Invalid JSON`. A handler names the route's limit
//! in the type (`AuthedJson<CREATE_LIMIT>`); what comes after (schema, scopes, lookups) stays
//! in the handler, since its order differs between action and loader routes.
//!
//! Extractors run in argument order, so each one goes after the handler's `Path` and `Query`
//! (which axum may refuse first, as it did before any handler code ran).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use bytes::Bytes;
use serde_json::Value;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

/// Oversized bodies are still read up to this size before the 413 goes out: a client that is
/// still writing when the server closes would see a broken pipe instead of the answer.
pub const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// The authenticated caller, for routes that read no body (401 otherwise).
pub struct Authed(pub Caller);

impl FromRequestParts<Arc<App>> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> ApiResult<Self> {
        app.authenticate(&parts.headers).map(Authed)
    }
}

/// An authenticated caller and the raw body, at most `LIMIT` bytes with a `Content-Length`.
pub struct AuthedBytes<const LIMIT: usize> {
    pub caller: Caller,
    pub body: Bytes,
}

impl<const LIMIT: usize> FromRequest<Arc<App>> for AuthedBytes<LIMIT> {
    type Rejection = ApiError;

    async fn from_request(req: Request, app: &Arc<App>) -> ApiResult<Self> {
        let (parts, body) = req.into_parts();
        let caller = app.authenticate(&parts.headers)?;
        let body = read_limited(&parts.headers, body, LIMIT).await?;
        Ok(AuthedBytes { caller, body })
    }
}

/// An authenticated caller and the JSON body, read under the `LIMIT` rule as
/// [`AuthedBytes`] reads it, then refused when empty or not (truthy) JSON.
pub struct AuthedJson<const LIMIT: usize> {
    pub caller: Caller,
    pub body: Value,
}

impl<const LIMIT: usize> FromRequest<Arc<App>> for AuthedJson<LIMIT> {
    type Rejection = ApiError;

    async fn from_request(req: Request, app: &Arc<App>) -> ApiResult<Self> {
        let AuthedBytes { caller, body } = AuthedBytes::<LIMIT>::from_request(req, app).await?;
        Ok(AuthedJson { caller, body: json_value(&body)? })
    }
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

/// An action route's JSON body, parsed as the real route builder parses it: `Request body is
/// empty`, then `Invalid JSON` (also for `null`, `false`, `0` and `""`, which its
/// `if (!parsed)` treats as a failed parse), all 400.
fn json_value(bytes: &[u8]) -> ApiResult<Value> {
    if bytes.is_empty() {
        return Err(ApiError::msg(400, "Request body is empty"));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|_| ApiError::msg(400, "Invalid JSON"))?;
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
