//! API errors with the exact status codes and JSON bodies of the real server, so a client's
//! error mapping can be tested here.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: u16, body: Value) -> Self {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
            headers: Vec::new(),
        }
    }

    /// The common `{"error": "..."}` shape.
    pub fn msg(status: u16, message: impl Into<String>) -> Self {
        Self::new(status, json!({ "error": message.into() }))
    }

    /// The append route's `{"ok": false, "error": "..."}` shape.
    pub fn not_ok(status: u16, message: impl Into<String>) -> Self {
        Self::new(status, json!({ "ok": false, "error": message.into() }))
    }

    pub fn unauthenticated() -> Self {
        Self::msg(401, "Invalid or Missing API key")
    }

    pub fn expired() -> Self {
        Self::msg(401, "Public Access Token has expired. Request a new token and try again.")
    }

    pub fn forbidden() -> Self {
        Self::new(
            403,
            json!({"error": "Unauthorized", "code": "unauthorized", "param": "access_token", "type": "authorization"}),
        )
    }

    pub fn session_not_found() -> Self {
        Self::msg(404, "Session not found")
    }

    /// A loader (GET) route's 404 for a resource that does not exist: the real route builder
    /// answers `{"error":"Not found"}` with `x-should-retry: false`, telling API clients the
    /// miss is definitive.
    pub fn loader_not_found() -> Self {
        Self::msg(404, "Not found").with_header("x-should-retry", "false".to_string())
    }

    /// An action route's 404 when its `findResource` found nothing (checked after authorization).
    pub fn resource_not_found() -> Self {
        Self::msg(404, "Resource not found")
    }

    /// A body that exceeds the route's `maxContentLength`, or comes without a Content-Length.
    pub fn too_large() -> Self {
        Self::msg(413, "Request body too large")
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        if let Ok(v) = HeaderValue::from_str(&value) {
            self.headers.push((HeaderName::from_static(name), v));
        }
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(self.body)).into_response();
        for (k, v) in self.headers {
            resp.headers_mut().insert(k, v);
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
