//! Signing keys for the JWTs the client sends: the `private_key_jwt` client assertion (a key
//! the customer registered with their service app, given as PEM or JWK) and DPoP proofs (an
//! ephemeral P-256 key made per run). JWS compact serialisation, RS256 / ES256 / ES384.
//!
//! Keys never appear in `Debug` output or errors; only their source (a file name) does.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPairComponents, PublicKeyComponents};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair,
    EcdsaSigningAlgorithm, KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

use super::error::ClientError;

/// A private key that signs JWTs.
pub struct SigningKey {
    inner: Inner,
    /// The JWK `kid` to put in the JWT header, when known.
    pub key_id: Option<String>,
    source: String,
}

enum Inner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair, &'static str),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg())
            .field("key_id", &self.key_id)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl SigningKey {
    /// Reads a key from PEM (`PRIVATE KEY`, `RSA PRIVATE KEY`, `EC PRIVATE KEY`) or a private
    /// JWK (an object, or a JWKS holding one private key). `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<SigningKey, ClientError> {
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') {
            Self::from_jwk(trimmed, source)
        } else if trimmed.starts_with("-----BEGIN") {
            Self::from_pem(trimmed, source)
        } else {
            Err(key_error(
                source,
                "is neither PEM (-----BEGIN PRIVATE KEY-----) nor a JWK (a JSON object)",
            ))
        }
    }

    /// A new P-256 key for DPoP proofs.
    pub fn ephemeral_p256() -> Result<SigningKey, ClientError> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| key_error("DPoP key", "could not be generated"))?;
        Ok(SigningKey {
            inner: Inner::Ec(pair, "ES256"),
            key_id: None,
            source: "DPoP key".into(),
        })
    }

    fn from_pem(text: &str, source: &str) -> Result<SigningKey, ClientError> {
        let (label, der) = pem_block(text).ok_or_else(|| {
            key_error(
                source,
                "has no complete PEM block (-----BEGIN …----- to -----END …-----)",
            )
        })?;
        let inner = match label.as_str() {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der)
                .map(Inner::Rsa)
                .or_else(|_| ec_from_der(&der))
                .map_err(|_| {
                    key_error(
                        source,
                        "is not an RSA (2048 to 8192 bits), P-256 or P-384 PKCS#8 private key",
                    )
                })?,
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der).map(Inner::Rsa).map_err(|_| {
                key_error(
                    source,
                    "is not a valid PKCS#1 RSA private key (2048 to 8192 bits)",
                )
            })?,
            "EC PRIVATE KEY" => ec_from_der(&der)
                .map_err(|_| key_error(source, "is not a P-256 or P-384 EC private key"))?,
            "ENCRYPTED PRIVATE KEY" => {
                return Err(key_error(
                    source,
                    "is encrypted; give the key unencrypted (openssl pkcs8 -topk8 -nocrypt -in key.pem) and protect the file instead",
                ));
            }
            other => {
                return Err(key_error(
                    source,
                    &format!("holds a {other:?} PEM block, not a private key"),
                ));
            }
        };
        Ok(SigningKey {
            inner,
            key_id: None,
            source: source.to_string(),
        })
    }

    fn from_jwk(text: &str, source: &str) -> Result<SigningKey, ClientError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| key_error(source, &format!("is not valid JSON: {e}")))?;
        let jwk = match value.get("keys") {
            Some(Value::Array(keys)) => {
                let private: Vec<&Value> = keys.iter().filter(|k| k.get("d").is_some()).collect();
                match private.as_slice() {
                    [one] => (*one).clone(),
                    [] => return Err(key_error(source, "is a JWKS without a private key")),
                    _ => {
                        return Err(key_error(
                            source,
                            "is a JWKS with several private keys; give the one registered with the app",
                        ));
                    }
                }
            }
            _ => value,
        };
        let Value::Object(jwk) = jwk else {
            return Err(key_error(source, "is not a JWK object"));
        };
        let field = |name: &str| -> Result<Vec<u8>, ClientError> {
            let text = jwk
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| key_error(source, &format!("has no \"{name}\"")))?;
            URL_SAFE_NO_PAD
                .decode(text.trim_end_matches('='))
                .map_err(|_| key_error(source, &format!("\"{name}\" is not base64url")))
        };
        if jwk.get("d").is_none() {
            return Err(key_error(
                source,
                "is a public key (no \"d\"); give the private JWK",
            ));
        }
        let inner = match jwk.get("kty").and_then(Value::as_str) {
            Some("RSA") => {
                let strip = |b: Vec<u8>| -> Vec<u8> {
                    let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
                    b[start..].to_vec()
                };
                let components = KeyPairComponents {
                    public_key: PublicKeyComponents {
                        n: strip(field("n")?),
                        e: strip(field("e")?),
                    },
                    d: field("d")?,
                    p: field("p")?,
                    q: field("q")?,
                    dP: field("dp")?,
                    dQ: field("dq")?,
                    qInv: field("qi")?,
                };
                RsaKeyPair::from_components(&components)
                    .map(Inner::Rsa)
                    .map_err(|_| key_error(source, "is not a consistent RSA private key"))?
            }
            Some("EC") => {
                let (alg, name): (&'static EcdsaSigningAlgorithm, &'static str) =
                    match jwk.get("crv").and_then(Value::as_str) {
                        Some("P-256") => (&ECDSA_P256_SHA256_FIXED_SIGNING, "ES256"),
                        Some("P-384") => (&ECDSA_P384_SHA384_FIXED_SIGNING, "ES384"),
                        other => {
                            return Err(key_error(
                                source,
                                &format!("has curve {other:?}; P-256 and P-384 are supported"),
                            ));
                        }
                    };
                let mut point = vec![4u8];
                point.extend(field("x")?);
                point.extend(field("y")?);
                EcdsaKeyPair::from_private_key_and_public_key(alg, &field("d")?, &point)
                    .map(|pair| Inner::Ec(pair, name))
                    .map_err(|_| key_error(source, "is not a consistent EC private key"))?
            }
            other => {
                return Err(key_error(
                    source,
                    &format!("has kty {other:?}; RSA and EC are supported"),
                ));
            }
        };
        Ok(SigningKey {
            inner,
            key_id: jwk.get("kid").and_then(Value::as_str).map(str::to_string),
            source: source.to_string(),
        })
    }

    /// The JWS algorithm this key signs with.
    pub fn alg(&self) -> &'static str {
        match &self.inner {
            Inner::Rsa(_) => "RS256",
            Inner::Ec(_, alg) => alg,
        }
    }

    /// The public key as a JWK (for a DPoP proof's header).
    pub fn public_jwk(&self) -> Map<String, Value> {
        let value = match &self.inner {
            Inner::Rsa(pair) => {
                let public = pair.public_key();
                let n = public_component(public.as_ref(), 0);
                let e = public_component(public.as_ref(), 1);
                json!({"kty": "RSA", "n": b64(&n), "e": b64(&e)})
            }
            Inner::Ec(pair, alg) => {
                let point = pair.public_key().as_ref();
                let half = (point.len() - 1) / 2;
                let crv = if *alg == "ES384" { "P-384" } else { "P-256" };
                json!({
                    "kty": "EC",
                    "crv": crv,
                    "x": b64(&point[1..1 + half]),
                    "y": b64(&point[1 + half..]),
                })
            }
        };
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    /// A compact JWS of `claims` with `header` (to which `alg` is added).
    pub fn sign(
        &self,
        mut header: Map<String, Value>,
        claims: &Value,
    ) -> Result<String, ClientError> {
        header.insert("alg".into(), Value::String(self.alg().into()));
        let input = format!(
            "{}.{}",
            b64(Value::Object(header).to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let rng = SystemRandom::new();
        let signature = match &self.inner {
            Inner::Rsa(pair) => {
                let mut out = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut out)
                    .map_err(|_| key_error(&self.source, "could not sign"))?;
                out
            }
            Inner::Ec(pair, _) => pair
                .sign(&rng, input.as_bytes())
                .map_err(|_| key_error(&self.source, "could not sign"))?
                .as_ref()
                .to_vec(),
        };
        Ok(format!("{input}.{}", b64(&signature)))
    }
}

fn key_error(source: &str, problem: &str) -> ClientError {
    ClientError::Key {
        source_name: source.to_string(),
        problem: problem.to_string(),
    }
}

fn ec_from_der(der: &[u8]) -> Result<Inner, ()> {
    EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
        .map(|pair| Inner::Ec(pair, "ES256"))
        .or_else(|_| {
            EcdsaKeyPair::from_private_key_der(&ECDSA_P384_SHA384_FIXED_SIGNING, der)
                .map(|pair| Inner::Ec(pair, "ES384"))
        })
        .map_err(|_| ())
}

/// The first PEM block: its label and decoded body.
fn pem_block(text: &str) -> Option<(String, Vec<u8>)> {
    let begin = text.find("-----BEGIN ")?;
    let rest = &text[begin + "-----BEGIN ".len()..];
    let label_end = rest.find("-----")?;
    let label = rest[..label_end].to_string();
    let body_start = label_end + 5;
    let end_marker = format!("-----END {label}-----");
    let body_end = rest.find(&end_marker)?;
    if body_end < body_start {
        return None;
    }
    let body: String = rest[body_start..body_end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(body).ok().map(|der| (label, der))
}

/// The `index`th INTEGER of an RSAPublicKey (`SEQUENCE { n, e }`), without leading zeros.
fn public_component(der: &[u8], index: usize) -> Vec<u8> {
    fn length(der: &[u8], at: usize) -> Option<(usize, usize)> {
        let first = *der.get(at)?;
        if first < 0x80 {
            return Some((first as usize, at + 1));
        }
        let count = (first & 0x7f) as usize;
        let mut len = 0usize;
        for i in 0..count {
            len = (len << 8) | *der.get(at + 1 + i)? as usize;
        }
        Some((len, at + 1 + count))
    }
    let parse = || -> Option<Vec<u8>> {
        // SEQUENCE
        let (_, mut at) = length(der, 1)?;
        for i in 0..=index {
            if *der.get(at)? != 0x02 {
                return None;
            }
            let (len, start) = length(der, at + 1)?;
            if i == index {
                let bytes = der.get(start..start + len)?;
                let skip = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
                return Some(bytes[skip..].to_vec());
            }
            at = start + len;
        }
        None
    };
    parse().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::jose::{Jws, PublicKey, asymmetric_algorithm};

    const RSA: &str = include_str!("../../../fixtures/keys/rsa-private.pem");
    const EC: &str = include_str!("../../../fixtures/keys/ec-private.pem");
    const JWKS: &str = include_str!("../../../fixtures/keys/jwks.json");

    /// Verifies `token` against `jwk` with the simulator's verifier.
    fn verifies(token: &str, jwk: &Map<String, Value>) -> bool {
        let jws = Jws::parse(token).unwrap();
        let key = PublicKey::from_jwk(jwk).unwrap();
        jws.verify(&key.key, asymmetric_algorithm(jws.alg().unwrap()).unwrap())
    }

    fn registered(index: usize) -> Map<String, Value> {
        let jwks: Value = serde_json::from_str(JWKS).unwrap();
        jwks["keys"][index].as_object().unwrap().clone()
    }

    #[test]
    fn pem_keys_sign_what_their_registered_public_keys_verify() {
        let rsa = SigningKey::parse(RSA, "rsa.pem").unwrap();
        assert_eq!(rsa.alg(), "RS256");
        let token = rsa.sign(Map::new(), &json!({"sub": "x"})).unwrap();
        assert!(verifies(&token, &registered(0)));
        assert_eq!(rsa.public_jwk()["n"], registered(0)["n"]);
        assert_eq!(rsa.public_jwk()["e"], registered(0)["e"]);

        let ec = SigningKey::parse(EC, "ec.pem").unwrap();
        assert_eq!(ec.alg(), "ES256");
        let token = ec.sign(Map::new(), &json!({"sub": "x"})).unwrap();
        assert!(verifies(&token, &registered(1)));
        assert_eq!(ec.public_jwk()["x"], registered(1)["x"]);
    }

    #[test]
    fn a_private_ec_jwk_signs_like_its_pem() {
        use aws_lc_rs::encoding::AsBigEndian as _;
        let pem = SigningKey::parse(EC, "ec.pem").unwrap();
        let Inner::Ec(pair, _) = &pem.inner else {
            panic!("not EC")
        };
        let d = pair.private_key().as_be_bytes().unwrap();
        let mut jwk = pem.public_jwk();
        jwk.insert("d".into(), json!(b64(d.as_ref())));
        jwk.insert("kid".into(), json!("k1"));
        let text = json!({"keys": [registered(0), Value::Object(jwk)]}).to_string();
        let key = SigningKey::parse(&text, "key.json").unwrap();
        assert_eq!(key.key_id.as_deref(), Some("k1"));
        let token = key.sign(Map::new(), &json!({"sub": "x"})).unwrap();
        assert!(verifies(&token, &registered(1)));
    }

    #[test]
    fn an_ephemeral_key_verifies_with_its_own_jwk() {
        let key = SigningKey::ephemeral_p256().unwrap();
        let token = key.sign(Map::new(), &json!({"htm": "GET"})).unwrap();
        assert!(verifies(&token, &key.public_jwk()));
        let other = SigningKey::ephemeral_p256().unwrap();
        assert!(!verifies(&token, &other.public_jwk()));
    }

    #[test]
    fn bad_keys_are_refused_naming_the_source_never_the_key() {
        for (text, expect) in [
            ("hello", "neither PEM"),
            (
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
                "PKCS#8",
            ),
            (
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----",
                "encrypted",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
                "CERTIFICATE",
            ),
            ("-----BEGIN PRIVATE KEY-----\nAAAA", "no complete PEM block"),
            (r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#, "public key"),
            (r#"{"kty":"OKP","d":"AA"}"#, "kty"),
            (
                r#"{"kty":"EC","crv":"P-521","d":"AA","x":"AA","y":"AA"}"#,
                "P-521",
            ),
            (r#"{"keys":[]}"#, "without a private key"),
            ("{", "not valid JSON"),
        ] {
            let error = SigningKey::parse(text, "key.pem").unwrap_err().to_string();
            assert!(error.starts_with("private key key.pem: "), "{error}");
            assert!(error.contains(expect), "{text}: {error}");
        }
    }

    #[test]
    fn debug_output_shows_no_key_material() {
        let key = SigningKey::parse(RSA, "rsa.pem").unwrap();
        let shown = format!("{key:?}");
        assert!(
            shown.contains("rsa.pem") && shown.contains("RS256"),
            "{shown}"
        );
        assert!(!shown.contains("MII"), "{shown}");
    }
}
