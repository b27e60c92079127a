//! Bearer authentication and per-route scopes (PROTOCOL section 6).
//!
//! Tokens are real HS256 JWTs signed with the secret key, so a client that decodes or forwards
//! them sees what Trigger.dev would send; the scope rules mirror the real server's so that a
//! client holding the wrong token fails here the same way it would in production.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::HeaderMap;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::error::ApiError;

pub const ISSUER: &str = "https://id.trigger.dev";
pub const AUDIENCE: &str = "https://api.trigger.dev";
/// The single environment this server hosts.
pub const ENV_ID: &str = "env_tchat_devserver";
/// Lifetime of every minted token unless a fault shortens it.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(rename = "pub")]
    pub public: bool,
    pub scopes: Vec<String>,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    /// Optional, as `generateJWT` sets it unless told `omitIssuedAt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// A per-server serial on the tokens this server mints, so `expire_all_tokens` can tell old
    /// tokens from new ones. Tokens signed by the SDK's own `generateJWT` carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// The claims a token may carry beyond the registered ones; `scopes` is absent on a
/// `createPublicToken()` without scopes (which grants nothing).
#[derive(Debug, Deserialize)]
struct TokenClaims {
    sub: String,
    #[serde(rename = "pub", default)]
    public: bool,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    jti: Option<String>,
}

/// The `expire_all_tokens` cut-off: the serial the next minted token gets, and the second of
/// the call (for tokens this server did not mint).
#[derive(Debug, Clone, Copy)]
pub struct Cutoff {
    pub serial: u64,
    pub secs: u64,
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Caller {
    SecretKey,
    Token(Vec<String>),
}

pub struct Tokens {
    secret: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    serial: AtomicU64,
}

impl Tokens {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        Tokens {
            secret: secret.to_string(),
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            serial: AtomicU64::new(0),
        }
    }

    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The serial the next minted token will carry.
    pub fn next_serial(&self) -> u64 {
        self.serial.load(Ordering::SeqCst)
    }

    pub fn mint(&self, scopes: Vec<String>, ttl: Duration) -> String {
        let now = clock::now_secs();
        let serial = self.serial.fetch_add(1, Ordering::SeqCst);
        let claims = Claims {
            sub: ENV_ID.to_string(),
            public: true,
            scopes,
            iss: ISSUER.to_string(),
            aud: AUDIENCE.to_string(),
            exp: now + ttl.as_secs(),
            iat: Some(now),
            jti: Some(format!("tok_{serial}")),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }

    /// Authenticates the `Authorization` header. `expire_before` is the `expire_all_tokens`
    /// cut-off: tokens of this server by serial, foreign ones (no `jti`) by `iat` second.
    pub fn authenticate(&self, headers: &HeaderMap, expire_before: Option<Cutoff>) -> Result<Caller, ApiError> {
        let value = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthenticated)?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(ApiError::unauthenticated)?;
        if token == self.secret {
            return Ok(Caller::SecretKey);
        }
        match jsonwebtoken::decode::<TokenClaims>(token, &self.decoding, &self.validation) {
            Ok(data) => {
                let c = data.claims;
                if c.sub != ENV_ID || !c.public {
                    return Err(ApiError::unauthenticated());
                }
                if let Some(cutoff) = expire_before {
                    let serial =
                        c.jti.as_deref().and_then(|j| j.strip_prefix("tok_")).and_then(|s| s.parse::<u64>().ok());
                    let expired = match serial {
                        Some(s) => s < cutoff.serial,
                        // A token signed elsewhere: expired when issued before the cut-off's second.
                        None => c.iat.is_none_or(|iat| iat < cutoff.secs),
                    };
                    if expired {
                        return Err(ApiError::expired());
                    }
                }
                Ok(Caller::Token(c.scopes.unwrap_or_default()))
            }
            Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => Err(ApiError::expired()),
            Err(_) => Err(ApiError::unauthenticated()),
        }
    }
}

/// The scopes a session PAT carries.
pub fn session_scopes(key: &str) -> Vec<String> {
    vec![format!("read:sessions:{key}"), format!("write:sessions:{key}")]
}

/// What an operation needs: `action:resource` with the resource's ids, e.g. `read:sessions`
/// with both the friendly id and the externalId, since one PAT authorizes both URL forms.
pub struct Need<'a> {
    pub action: &'a str,
    pub resource: &'a str,
    pub ids: Vec<&'a str>,
    /// Whether the unscoped `action:resource` (no id) is enough.
    pub unscoped_ok: bool,
}

impl Caller {
    pub fn allows(&self, need: &Need<'_>) -> bool {
        let scopes = match self {
            Caller::SecretKey => return true,
            Caller::Token(s) => s,
        };
        scopes.iter().any(|s| {
            if s == "admin" || *s == format!("{}:all", need.action) {
                return true;
            }
            let prefix = format!("{}:{}", need.action, need.resource);
            if *s == prefix {
                return need.unscoped_ok;
            }
            match s.strip_prefix(&prefix).and_then(|r| r.strip_prefix(':')) {
                Some(id) => need.ids.contains(&id),
                None => false,
            }
        })
    }

    pub fn require(&self, need: &Need<'_>) -> Result<(), ApiError> {
        if self.allows(need) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }
}
