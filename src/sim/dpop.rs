//! DPoP (RFC 9449) as Okta's org authorization server and management API do it: proofs on
//! token requests (with the `use_dpop_nonce` exchange) and on resource requests (`ath` and
//! the token's key binding), server nonces, and single-use proof `jti`s.
//!
//! What Okta does, and so this module: a proof's header carries `typ: dpop+jwt`, an
//! asymmetric `alg` and the public `jwk`; its claims `htm`, `htu` (no query or fragment;
//! compared with the percent-decoded request path, as Okta does), `iat` (at most five minutes
//! old), a `jti` never seen before (recorded once the proof is otherwise valid, even if the
//! request then fails, as Okta does). Token requests must carry a current nonce, which rotates
//! daily and stays valid three days; resource requests need none ("The `nonce` parameter
//! isn't currently required") and a nonce there is not checked. Error descriptions are
//! Okta's (`oauth2-error-codes.json`).
//!
//! Must not: authenticate clients, decide scopes or issue tokens (`auth.rs` does).

use std::collections::HashMap;
use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::Mutex;

use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::jose::{Jws, PublicKey, asymmetric_algorithm, b64url};

/// How old a proof's `iat` may be (Okta: "more than five minutes in the past" is refused).
const MAX_AGE_SECS: i64 = 300;

/// Clock skew allowed on a proof's `iat`.
const SKEW_SECS: i64 = 60;

/// A nonce is renewed every day and accepted for three days after it was issued.
const NONCE_PERIOD_SECS: i64 = 86_400;
const NONCE_PERIODS_VALID: i64 = 3;

/// A refused DPoP request: the HTTP status, the OAuth `error` and Okta's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: &'static str,
}

const fn proof(description: &'static str) -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        error: "invalid_dpop_proof",
        description,
    }
}

/// Okta's refusals, by its internal error code.
pub mod refused {
    use super::{Refusal, proof};
    use axum::http::StatusCode;

    pub const MISSING: Refusal = proof("The DPoP proof JWT header is missing.");
    pub const MULTIPLE: Refusal = proof("Multiple DPoP proof JWT headers are not allowed.");
    pub const INVALID: Refusal = proof("The DPoP proof JWT is invalid.");
    pub const PARSE: Refusal = proof("The DPoP proof JWT cannot be parsed.");
    pub const TYPE: Refusal = proof("'typ' must be 'dpop+jwt' in the DPoP proof JWT.");
    pub const ALGORITHM: Refusal = proof("The DPoP proof JWT signature algorithm is invalid.");
    pub const SIGNATURE: Refusal = proof("The DPoP proof JWT signature is invalid.");
    pub const HTM: Refusal = proof("'htm' claim in the DPoP proof JWT is invalid.");
    pub const HTU: Refusal = proof("'htu' claim in the DPoP proof JWT is invalid.");
    pub const IAT: Refusal = proof("'iat' claim in the DPoP proof JWT is invalid.");
    pub const IN_FUTURE: Refusal = proof("The DPoP proof JWT is issued in the future.");
    pub const TOO_OLD: Refusal =
        proof("The DPoP proof JWT is issued more than five minutes in the past.");
    pub const JTI: Refusal = proof("'jti' claim in the DPoP proof JWT is invalid.");
    pub const REPLAYED: Refusal = proof("The DPoP proof JWT has already been used.");
    pub const ATH: Refusal =
        proof("'ath' claim in the DPoP proof does not match the presented access_token.");
    pub const BINDING: Refusal = proof("The access_token is not bound to the provided DPoP proof.");
    /// `use_dpop_nonce`: answered with a `DPoP-Nonce` header.
    pub const NONCE: Refusal = Refusal {
        status: StatusCode::BAD_REQUEST,
        error: "use_dpop_nonce",
        description: "Authorization server requires nonce in DPoP proof.",
    };
    /// `dpop_proof_required_for_token`: a DPoP-bound token without a proof.
    pub const PROOF_REQUIRED: Refusal = Refusal {
        status: StatusCode::BAD_REQUEST,
        error: "invalid_request",
        description: "The resource request requires a DPoP proof.",
    };
    /// `dpop_authentication_scheme_required`: a DPoP-bound token sent as `Bearer`.
    pub const SCHEME_REQUIRED: Refusal = Refusal {
        status: StatusCode::BAD_REQUEST,
        error: "invalid_request",
        description: "The resource request must use the DPoP authentication scheme when using a DPoP bound token.",
    };
    /// `access_token_not_dpop_bound`: a Bearer token sent with the DPoP scheme.
    pub const NOT_BOUND: Refusal = Refusal {
        status: StatusCode::UNAUTHORIZED,
        error: "invalid_token",
        description: "The presented access_token is not DPoP bound.",
    };
}

/// The simulator's DPoP state: the nonce secret and the proof `jti`s seen.
#[derive(Debug)]
pub struct Dpop {
    secret: u64,
    seen: Mutex<HashMap<String, i64>>,
}

impl Default for Dpop {
    fn default() -> Self {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        Dpop {
            secret: hasher.finish(),
            seen: Mutex::new(HashMap::new()),
        }
    }
}

impl Dpop {
    /// The nonce a token request should carry now.
    pub fn nonce(&self, now: i64) -> String {
        self.nonce_of_period(now.div_euclid(NONCE_PERIOD_SECS))
    }

    fn nonce_of_period(&self, period: i64) -> String {
        let mut hash = Sha256::new();
        hash.update(self.secret.to_be_bytes());
        hash.update(period.to_be_bytes());
        b64url(&hash.finalize()[..24])
    }

    fn nonce_valid(&self, nonce: &str, now: i64) -> bool {
        let period = now.div_euclid(NONCE_PERIOD_SECS);
        (0..NONCE_PERIODS_VALID).any(|age| self.nonce_of_period(period - age) == nonce)
    }

    /// Checks the proof of a token request to `token_url`; `Ok` is the proof key's RFC 7638
    /// thumbprint the issued token is bound to. `refused::NONCE` asks for a (new) nonce.
    pub fn token_request(
        &self,
        headers: &HeaderMap,
        token_url: &str,
        now: i64,
    ) -> Result<String, Refusal> {
        let (jws, key) = self.check(headers, "POST", token_url, now)?;
        match jws.claim_str("nonce") {
            Some(nonce) if self.nonce_valid(nonce, now) => Ok(key.thumbprint),
            _ => Err(refused::NONCE),
        }
    }

    /// Checks the proof of a resource request made with the DPoP-bound `access_token` whose
    /// key thumbprint is `bound_to`.
    pub fn resource_request(
        &self,
        headers: &HeaderMap,
        method: &str,
        url: &str,
        access_token: &str,
        bound_to: &str,
        now: i64,
    ) -> Result<(), Refusal> {
        if headers.get_all("dpop").iter().next().is_none() {
            return Err(refused::PROOF_REQUIRED);
        }
        let (jws, key) = self.check(headers, method, url, now)?;
        if jws.claim_str("ath") != Some(b64url(&Sha256::digest(access_token.as_bytes())).as_str()) {
            return Err(refused::ATH);
        }
        if key.thumbprint != bound_to {
            return Err(refused::BINDING);
        }
        Ok(())
    }

    /// The checks every proof gets; records its `jti`.
    fn check<'h>(
        &self,
        headers: &'h HeaderMap,
        method: &str,
        url: &str,
        now: i64,
    ) -> Result<(Jws<'h>, PublicKey), Refusal> {
        let mut values = headers.get_all("dpop").iter();
        let value = values.next().ok_or(refused::MISSING)?;
        if values.next().is_some() {
            return Err(refused::MULTIPLE);
        }
        let jws = value
            .to_str()
            .ok()
            .and_then(Jws::parse)
            .ok_or(refused::PARSE)?;
        if jws.header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
            return Err(refused::TYPE);
        }
        let alg = jws
            .alg()
            .and_then(asymmetric_algorithm)
            .ok_or(refused::ALGORITHM)?;
        let key = jws
            .header
            .get("jwk")
            .and_then(Value::as_object)
            .and_then(|jwk| PublicKey::from_jwk(jwk).ok())
            .ok_or(refused::INVALID)?;
        if !jws.verify(&key.key, alg) {
            return Err(refused::SIGNATURE);
        }
        if jws.claim_str("htm") != Some(method) {
            return Err(refused::HTM);
        }
        let htu = jws.claim_str("htu").ok_or(refused::HTU)?;
        let htu = htu.split(['?', '#']).next().unwrap_or(htu);
        if htu != url {
            return Err(refused::HTU);
        }
        let iat = jws.claim_time("iat").ok_or(refused::IAT)?;
        if iat > now + SKEW_SECS {
            return Err(refused::IN_FUTURE);
        }
        if iat < now - MAX_AGE_SECS {
            return Err(refused::TOO_OLD);
        }
        let jti = jws
            .claim_str("jti")
            .filter(|jti| !jti.is_empty())
            .ok_or(refused::JTI)?;
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.retain(|_, until| *until >= now);
        if seen.contains_key(jti) {
            return Err(refused::REPLAYED);
        }
        // Kept as long as its iat could pass the age check.
        seen.insert(jti.to_string(), iat + MAX_AGE_SECS + SKEW_SECS);
        drop(seen);
        Ok((jws, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_stays_valid_for_three_days_then_expires() {
        let dpop = Dpop::default();
        let day = 20_000 * NONCE_PERIOD_SECS;
        let nonce = dpop.nonce(day + 10);
        assert!(dpop.nonce_valid(&nonce, day + 10));
        assert_ne!(dpop.nonce(day + NONCE_PERIOD_SECS), nonce, "renewed daily");
        assert!(dpop.nonce_valid(&nonce, day + 2 * NONCE_PERIOD_SECS + 5));
        assert!(!dpop.nonce_valid(&nonce, day + 3 * NONCE_PERIOD_SECS + 5));
        assert!(!dpop.nonce_valid("not-a-nonce", day));
    }

    #[test]
    fn a_missing_or_doubled_header_is_refused_with_okta_descriptions() {
        let dpop = Dpop::default();
        let mut headers = HeaderMap::new();
        assert_eq!(
            dpop.token_request(&headers, "http://h/oauth2/v1/token", 0),
            Err(refused::MISSING)
        );
        headers.append("dpop", "a.b.c".parse().unwrap());
        assert_eq!(
            dpop.token_request(&headers, "http://h/oauth2/v1/token", 0),
            Err(refused::PARSE)
        );
        headers.append("dpop", "a.b.c".parse().unwrap());
        assert_eq!(
            dpop.token_request(&headers, "http://h/oauth2/v1/token", 0),
            Err(refused::MULTIPLE)
        );
    }
}
