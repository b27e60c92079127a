//! `/api/v1/auth/jwt/claims`: what `auth.createPublicToken()` asks before signing a public token
//! itself with the secret key (the SDK's `generateJWT`: HS256, issuer and audience of
//! Trigger.dev, no `jti`), which this server then accepts like its own tokens.

use axum::Json;
use serde_json::{json, Value};

use super::extract::Authed;
use crate::auth::{Caller, ENV_ID};
use crate::error::{ApiError, ApiResult};

/// Only an API key may ask (the real route authenticates with `authenticateApiRequest`, which
/// takes no JWT); the answer is the environment's claims, `{"sub": <env id>, "pub": true}`.
/// Any failure, an expired token's included, is the plain 401.
pub async fn jwt_claims(caller: Result<Authed, ApiError>) -> ApiResult<Json<Value>> {
    match caller {
        Ok(Authed(Caller::SecretKey)) => Ok(Json(json!({ "sub": ENV_ID, "pub": true }))),
        _ => Err(ApiError::unauthenticated()),
    }
}
