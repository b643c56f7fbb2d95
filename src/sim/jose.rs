//! JOSE primitives the simulator's authorization server needs: a client's registered public
//! keys (a JWKS), RFC 7638 JWK thumbprints, compact JWS parsing, and signature checks with the
//! asymmetric algorithms Okta accepts.
//!
//! Must not: decide what a claim means or which error Okta answers (`assertion.rs` and
//! `dpop.rs` do), and must never accept a symmetric or `none` algorithm or a private key.

use std::path::Path;

use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Members of a JWK that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The signature algorithms Okta lists for client assertions and DPoP proofs
/// (`algs="RS256 RS384 RS512 ES256 ES384 ES512"`) that the simulator can verify.
/// ES512 is Okta's too, but the verifier (jsonwebtoken 10) has no P-521: it is refused.
pub fn asymmetric_algorithm(alg: &str) -> Option<Algorithm> {
    Some(match alg {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        _ => return None,
    })
}

/// The algorithms Okta advertises in a DPoP `WWW-Authenticate` challenge.
pub const OKTA_DPOP_ALGS: &str = "RS256 RS384 RS512 ES256 ES384 ES512";

/// base64url without padding, as JOSE writes it.
pub fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact JWS split into its parts; nothing in it is trusted until `verify` says so.
#[derive(Debug)]
pub struct Jws<'t> {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    signing_input: &'t str,
    signature: &'t str,
}

impl<'t> Jws<'t> {
    /// Splits `header.payload.signature`; `None` unless both JSON parts are base64url objects.
    /// An empty signature (an unsecured `alg: none` JWT) parses; it never verifies.
    pub fn parse(token: &'t str) -> Option<Jws<'t>> {
        let (signing_input, signature) = token.trim().rsplit_once('.')?;
        let (header, claims) = signing_input.split_once('.')?;
        if claims.contains('.') {
            return None;
        }
        let object = |part: &str| -> Option<Map<String, Value>> {
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .ok()?;
            match serde_json::from_slice(&bytes).ok()? {
                Value::Object(map) => Some(map),
                _ => None,
            }
        };
        Some(Jws {
            header: object(header)?,
            claims: object(claims)?,
            signing_input,
            signature,
        })
    }

    /// The header's `alg`, if it is a string.
    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }

    /// A string claim.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A numeric-date claim in whole seconds (RFC 7519 allows fractions; they are cut).
    pub fn claim_time(&self, name: &str) -> Option<i64> {
        let value = self.claims.get(name)?;
        value
            .as_i64()
            .or_else(|| value.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
    }

    /// True when the signature verifies under `key` with `alg`.
    pub fn verify(&self, key: &DecodingKey, alg: Algorithm) -> bool {
        jsonwebtoken::crypto::verify(self.signature, self.signing_input.as_bytes(), key, alg)
            .unwrap_or(false)
    }
}

/// Why a JWK cannot be used as a public verification key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkProblem {
    #[error("holds private key material (`{0}`); only public keys may be registered or sent")]
    Private(&'static str),
    #[error("has kty {0:?}; only RSA and EC (P-256, P-384) public keys are supported")]
    Type(String),
    #[error("is missing `{0}` or it is not a string")]
    Missing(&'static str),
    #[error("is not a valid {0} public key")]
    Invalid(&'static str),
}

/// A public key a signature may be checked against.
#[derive(Clone, Debug)]
pub struct PublicKey {
    pub kid: Option<String>,
    pub thumbprint: String,
    pub key: DecodingKey,
}

impl PublicKey {
    /// Reads one public JWK (a JSON object).
    pub fn from_jwk(jwk: &Map<String, Value>) -> Result<PublicKey, JwkProblem> {
        if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
            return Err(JwkProblem::Private(member));
        }
        let text = |name: &'static str| {
            jwk.get(name)
                .and_then(Value::as_str)
                .ok_or(JwkProblem::Missing(name))
        };
        let kty = text("kty")?;
        match kty {
            "RSA" => {
                text("n")?;
                text("e")?;
            }
            "EC" => {
                let crv = text("crv")?;
                if crv != "P-256" && crv != "P-384" {
                    return Err(JwkProblem::Type(format!("EC on curve {crv}")));
                }
                text("x")?;
                text("y")?;
            }
            other => return Err(JwkProblem::Type(other.to_string())),
        }
        let parsed: Jwk = serde_json::from_value(Value::Object(jwk.clone()))
            .map_err(|_| JwkProblem::Invalid(if kty == "RSA" { "RSA" } else { "EC" }))?;
        let key = DecodingKey::from_jwk(&parsed)
            .map_err(|_| JwkProblem::Invalid(if kty == "RSA" { "RSA" } else { "EC" }))?;
        Ok(PublicKey {
            kid: jwk.get("kid").and_then(Value::as_str).map(str::to_string),
            thumbprint: thumbprint(jwk)?,
            key,
        })
    }
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK, base64url: the hash of the required
/// members only, in lexicographic order, without whitespace.
pub fn thumbprint(jwk: &Map<String, Value>) -> Result<String, JwkProblem> {
    let kty = jwk
        .get("kty")
        .and_then(Value::as_str)
        .ok_or(JwkProblem::Missing("kty"))?;
    let members: &[&'static str] = match kty {
        "RSA" => &["e", "kty", "n"],
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        other => return Err(JwkProblem::Type(other.to_string())),
    };
    let mut canonical = String::from("{");
    for (i, member) in members.iter().enumerate() {
        let value = jwk
            .get(*member)
            .and_then(Value::as_str)
            .ok_or(JwkProblem::Missing(member))?;
        if i > 0 {
            canonical.push(',');
        }
        // serde_json writes a JSON string with exactly the escaping RFC 7638 §3.3 asks for.
        canonical.push_str(&format!("{}:{}", Value::from(*member), Value::from(value)));
    }
    canonical.push('}');
    Ok(b64url(&Sha256::digest(canonical.as_bytes())))
}

/// A client's registered public keys, in the order of its JWKS.
#[derive(Clone, Debug)]
pub struct KeySet {
    keys: Vec<PublicKey>,
}

/// Why a JWKS cannot be registered; each names the source and the key.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("{source_name}: cannot read: {error}")]
    Read {
        source_name: String,
        error: std::io::Error,
    },
    #[error("{source_name}: not JSON: {error}")]
    Json {
        source_name: String,
        error: serde_json::Error,
    },
    #[error("{source_name}: expected {{\"keys\": [<public JWK>, ...]}} with at least one key")]
    Shape { source_name: String },
    #[error("{source_name}: keys[{index}]{kid}: {problem}")]
    Key {
        source_name: String,
        index: usize,
        kid: String,
        problem: JwkProblem,
    },
    #[error(
        "{source_name}: keys[{index}] and an earlier key share kid {kid:?}; Okta requires a unique kid per key"
    )]
    DuplicateKid {
        source_name: String,
        index: usize,
        kid: String,
    },
}

impl KeySet {
    /// Reads a JWKS file (`--jwks FILE`).
    pub fn read(path: &Path) -> Result<KeySet, JwksError> {
        let source_name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| JwksError::Read {
            source_name: source_name.clone(),
            error,
        })?;
        KeySet::parse(&text, &source_name)
    }

    /// Parses JWKS text; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<KeySet, JwksError> {
        let value: Value = serde_json::from_str(text).map_err(|error| JwksError::Json {
            source_name: source_name.to_string(),
            error,
        })?;
        let shape = || JwksError::Shape {
            source_name: source_name.to_string(),
        };
        let list = value
            .get("keys")
            .and_then(Value::as_array)
            .filter(|keys| !keys.is_empty())
            .ok_or_else(shape)?;
        let mut keys: Vec<PublicKey> = Vec::new();
        for (index, entry) in list.iter().enumerate() {
            let object = entry.as_object().ok_or_else(shape)?;
            let kid_note = object
                .get("kid")
                .and_then(Value::as_str)
                .map(|kid| format!(" (kid {kid:?})"))
                .unwrap_or_default();
            let key = PublicKey::from_jwk(object).map_err(|problem| JwksError::Key {
                source_name: source_name.to_string(),
                index,
                kid: kid_note,
                problem,
            })?;
            if let Some(kid) = &key.kid
                && keys.iter().any(|k| k.kid.as_ref() == Some(kid))
            {
                return Err(JwksError::DuplicateKid {
                    source_name: source_name.to_string(),
                    index,
                    kid: kid.clone(),
                });
            }
            keys.push(key);
        }
        Ok(KeySet { keys })
    }

    /// The key with this `kid`.
    pub fn by_kid(&self, kid: &str) -> Option<&PublicKey> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }

    /// Every key, in JWKS order.
    pub fn iter(&self) -> impl Iterator<Item = &PublicKey> {
        self.keys.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // RFC 7638 §3.1.
        let jwk = object(json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }));
        assert_eq!(
            thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn private_and_symmetric_keys_are_refused() {
        let private = object(json!({"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "c"}));
        assert_eq!(
            PublicKey::from_jwk(&private).unwrap_err(),
            JwkProblem::Private("d")
        );
        let secret = object(json!({"kty": "oct", "k": "c2VjcmV0"}));
        assert_eq!(
            PublicKey::from_jwk(&secret).unwrap_err(),
            JwkProblem::Private("k")
        );
        let okp = object(json!({"kty": "OKP", "crv": "Ed25519", "x": "a"}));
        assert!(matches!(
            PublicKey::from_jwk(&okp).unwrap_err(),
            JwkProblem::Type(_)
        ));
    }

    #[test]
    fn a_jwks_error_names_the_source_and_the_key() {
        let error = KeySet::parse(
            r#"{"keys": [{"kty": "RSA", "kid": "one", "e": "AQAB"}]}"#,
            "client.jwks",
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "client.jwks: keys[0] (kid \"one\"): is missing `n` or it is not a string"
        );
        let empty = KeySet::parse(r#"{"keys": []}"#, "client.jwks").unwrap_err();
        assert!(empty.to_string().starts_with("client.jwks: expected"));
    }

    #[test]
    fn jws_parts_must_be_base64url_json_objects() {
        assert!(Jws::parse("a.b").is_none());
        assert!(Jws::parse("e30.e30").is_none());
        assert!(
            Jws::parse("e30.e30.").is_some(),
            "alg none parses, to be refused by alg"
        );
        assert!(Jws::parse("e30.e30.c2ln.x").is_none());
        let jws = Jws::parse("eyJhbGciOiJub25lIn0.eyJleHAiOjEuNX0.c2ln").unwrap();
        assert_eq!(jws.alg(), Some("none"));
        assert_eq!(jws.claim_time("exp"), Some(1));
    }
}
