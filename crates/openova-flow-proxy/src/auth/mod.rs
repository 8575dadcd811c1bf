//! Authentication and authorisation (proxy.md §5).
//!
//! * [`token`] — where the token comes from.
//! * [`jwks`] — the asymmetric key set and its cache.
//! * [`Authenticator`] — verifies a token (signature, `exp`/`nbf` with
//!   leeway, `iss`/`aud`) into [`Claims`].
//! * [`may_read`] / [`may_write`] — the per-deployment decisions.

pub mod jwks;
pub mod token;

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::metrics::AuthFailure;
use jwks::{Jwks, Selection};

/// The scope word / role that allows POST events.
pub const WRITE_PERMISSION: &str = "flow:write";

/// A verified token's claims.
#[derive(Debug, Clone)]
pub struct Claims(pub Map<String, Value>);

impl Claims {
    /// The `sub` claim, for logs.
    pub fn sub(&self) -> Option<&str> {
        self.0.get("sub").and_then(Value::as_str)
    }
}

/// Why a token was not accepted (→ 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unauthenticated {
    /// `missing`, `invalid` or `expired`.
    pub reason: AuthFailure,
    /// Whether a credential was presented (adds `error="invalid_token"`).
    pub presented: bool,
}

impl Unauthenticated {
    fn invalid() -> Self {
        Self {
            reason: AuthFailure::Invalid,
            presented: true,
        }
    }
}

/// Claim checks shared by every algorithm.
#[derive(Debug, Clone)]
pub struct ClaimRules {
    /// Leeway on `exp` and `nbf`.
    pub leeway: Duration,
    /// Required `iss`.
    pub issuer: Option<String>,
    /// Required member of `aud`.
    pub audience: Option<String>,
}

/// Verifies tokens: HS256 with the secret, RS256/ES256/EdDSA with the JWKS,
/// never one against the other's key.
#[derive(Debug, Clone)]
pub struct Authenticator {
    secret: Option<Arc<DecodingKey>>,
    jwks: Option<Arc<Jwks>>,
    rules: ClaimRules,
}

impl Authenticator {
    /// An authenticator over the configured key sources.
    pub fn new(secret: Option<&[u8]>, jwks: Option<Arc<Jwks>>, rules: ClaimRules) -> Self {
        Self {
            secret: secret.map(|s| Arc::new(DecodingKey::from_secret(s))),
            jwks,
            rules,
        }
    }

    /// The JWKS cache, if one is configured.
    pub fn jwks(&self) -> Option<&Arc<Jwks>> {
        self.jwks.as_ref()
    }

    /// Verifies a compact JWT.
    pub async fn verify(&self, token: &str) -> Result<Claims, Unauthenticated> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Unauthenticated::invalid())?;
        match header.alg {
            Algorithm::HS256 => {
                let key = self
                    .secret
                    .as_deref()
                    .ok_or_else(Unauthenticated::invalid)?;
                self.decode(token, key, Algorithm::HS256)
            }
            alg @ (Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA) => {
                let jwks = self.jwks.as_deref().ok_or_else(Unauthenticated::invalid)?;
                let kid = header.kid.as_deref();
                let generation = jwks.generation();
                let set = jwks.current().unwrap_or_default();
                match set.select(kid, alg) {
                    Selection::Key(key) => return self.decode(token, key, alg),
                    Selection::NoFit => return Err(Unauthenticated::invalid()),
                    Selection::UnknownKid => {}
                }
                jwks.reload_for_unknown_kid(generation).await;
                let set = jwks.current().unwrap_or_default();
                match set.select(kid, alg) {
                    Selection::Key(key) => self.decode(token, key, alg),
                    Selection::NoFit | Selection::UnknownKid => Err(Unauthenticated::invalid()),
                }
            }
            _ => Err(Unauthenticated::invalid()),
        }
    }

    fn decode(
        &self,
        token: &str,
        key: &DecodingKey,
        alg: Algorithm,
    ) -> Result<Claims, Unauthenticated> {
        let validation = self.validation(alg);
        match jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation) {
            Ok(data) => Ok(Claims(data.claims)),
            Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => Err(Unauthenticated {
                reason: AuthFailure::Expired,
                presented: true,
            }),
            Err(_) => Err(Unauthenticated::invalid()),
        }
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut v = Validation::new(alg);
        v.leeway = self.rules.leeway.as_secs();
        v.validate_exp = true;
        v.validate_nbf = true;
        let mut required = vec!["exp"];
        if let Some(iss) = &self.rules.issuer {
            v.set_issuer(&[iss]);
            required.push("iss");
        }
        match &self.rules.audience {
            Some(aud) => {
                v.set_audience(&[aud]);
                required.push("aud");
            }
            None => v.validate_aud = false,
        }
        v.set_required_spec_claims(&required);
        v
    }
}

/// Whether `claims[claim_name]` (an array of strings or one string) contains
/// `deployment_id` or `"*"`.
pub fn may_read(claims: &Claims, claim_name: &str, deployment_id: &str) -> bool {
    let fits = |v: &Value| v.as_str().is_some_and(|s| s == deployment_id || s == "*");
    match claims.0.get(claim_name) {
        Some(Value::Array(items)) => items.iter().any(fits),
        Some(v @ Value::String(_)) => fits(v),
        _ => false,
    }
}

/// Whether `flow:write` is a space-separated word of `scope` or an element of
/// `roles`.
pub fn may_write(claims: &Claims) -> bool {
    let in_scope = claims
        .0
        .get("scope")
        .and_then(Value::as_str)
        .is_some_and(|s| s.split_whitespace().any(|w| w == WRITE_PERMISSION));
    let in_roles = claims
        .0
        .get("roles")
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|v| v.as_str() == Some(WRITE_PERMISSION)));
    in_scope || in_roles
}

#[cfg(test)]
mod tests;
