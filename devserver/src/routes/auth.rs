//! `/api/v1/auth/jwt/claims`: what `auth.createPublicToken()` asks before signing a public token
//! itself with the secret key (the SDK's `generateJWT`: HS256, issuer and audience of
//! Trigger.dev, no `jti`), which this server then accepts like its own tokens.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use crate::app::App;
use crate::auth::{Caller, ENV_ID};
use crate::error::{ApiError, ApiResult};

/// Only an API key may ask (the real route authenticates with `authenticateApiRequest`, which
/// takes no JWT); the answer is the environment's claims, `{"sub": <env id>, "pub": true}`.
pub async fn jwt_claims(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    match app.authenticate(&headers) {
        Ok(Caller::SecretKey) => Ok(Json(json!({ "sub": ENV_ID, "pub": true }))),
        _ => Err(ApiError::unauthenticated()),
    }
}
