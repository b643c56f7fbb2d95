//! `private_key_jwt` client authentication (RFC 7523 client assertions) as Okta's org
//! authorization server checks it: the assertion's signature against the client's registered
//! public keys, `iss`, `sub`, `aud`, `exp` (present, in the future, at most an hour ahead),
//! `iat` (not in the future) and `jti` (single use). Each refusal is one of Okta's
//! `invalid_client` descriptions (`oauth2-error-codes.json`, `client_assertion_*`).
//!
//! Okta documents `jti` as optional ("used to prevent the JWT from being replayed"); an
//! assertion without one is accepted, as Okta accepts it, and one with a used `jti` is refused.
//!
//! Must not: look at DPoP, grant types or scopes (`auth.rs` orchestrates).

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use super::jose::{Jws, KeySet, asymmetric_algorithm};

/// `client_assertion_type` of a JWT client assertion.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How far in the future Okta lets an assertion expire.
const MAX_LIFETIME_SECS: i64 = 3600;

/// Clock skew allowed on `iat`.
const SKEW_SECS: i64 = 60;

/// Okta's `error_description`s for a refused client assertion (all `401 invalid_client`).
pub mod refused {
    pub const PARSE: &str = "The parsing of the client_assertion failed.";
    pub const ISSUER: &str = "The issuer claim for client_assertion is not a valid client_id.";
    pub const SUBJECT: &str = "The subject claim for client_assertion is not a valid client_id.";
    pub const KID: &str = "The client_assertion JWT kid is invalid.";
    pub const ALGORITHM: &str = "The client_assertion JWT signature algorithm is invalid.";
    pub const SIGNATURE: &str = "The client_assertion signature is invalid.";
    pub const AUDIENCE: &str =
        "The audience claim for client_assertion must be the endpoint invoked for the request.";
    pub const EXP_REQUIRED: &str =
        "The client_assertion must contain the 'exp' claim as seconds since epoch.";
    pub const EXPIRED: &str = "The client_assertion token is expired.";
    pub const TOO_FAR: &str =
        "The client_assertion token has an expiration too far into the future.";
    pub const ISSUED_IN_FUTURE: &str =
        "The client_assertion token must be issued before the current time.";
    pub const REPLAYED: &str = "The client_assertion token has already been used.";
}

/// The `jti`s of accepted assertions, kept until the assertion would have expired.
#[derive(Debug, Default)]
pub struct Assertions {
    used: Mutex<HashMap<String, i64>>,
}

impl Assertions {
    /// Checks `token` as a client assertion of `client_id` for the token endpoint at
    /// `token_url` at time `now` (Unix seconds). `Err` is Okta's `error_description`.
    pub fn verify(
        &self,
        token: &str,
        client_id: &str,
        keys: &KeySet,
        token_url: &str,
        now: i64,
    ) -> Result<(), &'static str> {
        let jws = Jws::parse(token).ok_or(refused::PARSE)?;
        if jws.claim_str("iss") != Some(client_id) {
            return Err(refused::ISSUER);
        }
        if jws.claim_str("sub") != Some(client_id) {
            return Err(refused::SUBJECT);
        }
        let kid = match jws.header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.as_str()),
            Some(_) => return Err(refused::KID),
        };
        let candidates: Vec<_> = match kid {
            Some(kid) => vec![keys.by_kid(kid).ok_or(refused::KID)?],
            None => keys.iter().collect(),
        };
        let alg = jws
            .alg()
            .and_then(asymmetric_algorithm)
            .ok_or(refused::ALGORITHM)?;
        if !candidates.iter().any(|key| jws.verify(&key.key, alg)) {
            return Err(refused::SIGNATURE);
        }
        let audience_ok = match jws.claims.get("aud") {
            Some(Value::String(aud)) => aud == token_url,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(token_url)),
            _ => false,
        };
        if !audience_ok {
            return Err(refused::AUDIENCE);
        }
        let exp = jws.claim_time("exp").ok_or(refused::EXP_REQUIRED)?;
        if exp <= now {
            return Err(refused::EXPIRED);
        }
        if exp > now + MAX_LIFETIME_SECS {
            return Err(refused::TOO_FAR);
        }
        if jws
            .claim_time("iat")
            .is_some_and(|iat| iat > now + SKEW_SECS)
        {
            return Err(refused::ISSUED_IN_FUTURE);
        }
        if let Some(jti) = jws.claims.get("jti") {
            let jti = jti.as_str().ok_or(refused::PARSE)?;
            let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
            used.retain(|_, until| *until >= now);
            if used.contains_key(jti) {
                return Err(refused::REPLAYED);
            }
            used.insert(jti.to_string(), exp);
        }
        Ok(())
    }
}
