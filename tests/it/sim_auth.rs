//! `butterfly sim` authentication as Okta's org authorization server does it (issue #3):
//! `private_key_jwt` client assertions and DPoP (RFC 9449), one test per rule, with assertions
//! and proofs signed by the test keys of `fixtures/keys/`.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::support::root;
use crate::support::sim::{Sim, status_and_body};

const JWT: &[&str] = &["--token-auth", "private_key_jwt"];
const JWT_DPOP: &[&str] = &["--token-auth", "private_key_jwt", "--require-dpop"];
const SCOPE: &str = "okta.groups.read";

/// A test signing key from fixtures/keys.
struct Key {
    encoding: EncodingKey,
    alg: Algorithm,
}

impl Key {
    fn rsa(file: &str) -> Key {
        let pem = std::fs::read(root().join("fixtures/keys").join(file)).unwrap();
        Key {
            encoding: EncodingKey::from_rsa_pem(&pem).unwrap(),
            alg: Algorithm::RS256,
        }
    }

    /// The simulator's built-in client key.
    fn client() -> Key {
        Key::rsa("rsa-private.pem")
    }

    fn ec() -> Key {
        let pem = std::fs::read(root().join("fixtures/keys/ec-private.pem")).unwrap();
        Key {
            encoding: EncodingKey::from_ec_pem(&pem).unwrap(),
            alg: Algorithm::ES256,
        }
    }

    fn unregistered() -> Key {
        Key::rsa("unregistered-rsa-private.pem")
    }

    fn sign(&self, header: Header, claims: &Value) -> String {
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    fn jwk(&self) -> Jwk {
        Jwk::from_encoding_key(&self.encoding, self.alg).unwrap()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn unique() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("jti-{}-{}", now(), NEXT.fetch_add(1, Ordering::Relaxed))
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Claims of a valid client assertion for `sim`, with `changes` applied (`null` removes).
fn assertion_claims(sim: &Sim, changes: Value) -> Value {
    let mut claims = json!({
        "iss": sim.client_id,
        "sub": sim.client_id,
        "aud": sim.at("/oauth2/v1/token"),
        "iat": now(),
        "exp": now() + 300,
        "jti": unique(),
    });
    merge(&mut claims, changes);
    claims
}

fn merge(target: &mut Value, changes: Value) {
    let (Value::Object(target), Value::Object(changes)) = (target, changes) else {
        panic!("objects expected");
    };
    for (name, value) in changes {
        if value.is_null() {
            target.remove(&name);
        } else {
            target.insert(name, value);
        }
    }
}

/// A client assertion signed with the built-in RSA key under its `kid`.
fn assertion(sim: &Sim, changes: Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(sim.start["key_id"].as_str().unwrap().to_string());
    Key::client().sign(header, &assertion_claims(sim, changes))
}

/// A client-credentials request authenticated by `assertion`, with an optional DPoP proof.
async fn token_with(sim: &Sim, assertion: &str, dpop: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(sim.at("/oauth2/v1/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", SCOPE),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ]);
    if let Some(proof) = dpop {
        request = request.header("DPoP", proof);
    }
    request.send().await.unwrap()
}

/// Asserts a token-endpoint refusal: status, OAuth `error` and Okta's description.
async fn assert_refused(response: reqwest::Response, status: u16, error: &str, description: &str) {
    let (got, body) = status_and_body(response).await;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_description"], description, "{body}");
}

async fn assert_invalid_client(response: reqwest::Response, description: &str) {
    assert_refused(response, 401, "invalid_client", description).await;
}

/// A DPoP proof signed by `key` with its public `jwk` in the header.
fn proof(key: &Key, claims: Value) -> String {
    let mut header = Header::new(key.alg);
    header.typ = Some("dpop+jwt".to_string());
    header.jwk = Some(key.jwk());
    key.sign(header, &claims)
}

/// Claims of a valid proof for `htm` and `htu`, with `changes` applied.
fn proof_claims(htm: &str, htu: &str, changes: Value) -> Value {
    let mut claims = json!({"htm": htm, "htu": htu, "iat": now(), "jti": unique()});
    merge(&mut claims, changes);
    claims
}

fn ath(token: &str) -> String {
    b64url(&Sha256::digest(token.as_bytes()))
}

/// Runs the nonce exchange and returns (DPoP-bound access token, nonce).
async fn dpop_token(sim: &Sim, key: &Key) -> (String, String) {
    let url = sim.at("/oauth2/v1/token");
    let first = token_with(
        sim,
        &assertion(sim, json!({})),
        Some(&proof(key, proof_claims("POST", &url, json!({})))),
    )
    .await;
    let nonce = first.headers()["dpop-nonce"].to_str().unwrap().to_string();
    assert_eq!(first.status(), 400);
    let second = token_with(
        sim,
        &assertion(sim, json!({})),
        Some(&proof(
            key,
            proof_claims("POST", &url, json!({"nonce": nonce})),
        )),
    )
    .await;
    let (status, body) = status_and_body(second).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    (body["access_token"].as_str().unwrap().to_string(), nonce)
}

/// `GET /api/v1/groups` with `Authorization: <scheme> <token>` and an optional proof.
async fn groups(sim: &Sim, scheme: &str, token: &str, dpop: Option<String>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .get(sim.at("/api/v1/groups"))
        .header("authorization", format!("{scheme} {token}"));
    if let Some(proof) = dpop {
        request = request.header("DPoP", proof);
    }
    request.send().await.unwrap()
}

/// Asserts Okta's answer to a refused DPoP resource request: the status, no body, and a
/// `WWW-Authenticate: DPoP` challenge with the error, description, scope and resource.
async fn assert_challenge(
    response: reqwest::Response,
    status: u16,
    error: &str,
    description: &str,
) {
    assert_eq!(response.status(), status);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.starts_with("DPoP algs=\"RS256 RS384 RS512 ES256 ES384 ES512\""),
        "{challenge}"
    );
    for part in [
        format!("error=\"{error}\""),
        format!("error_description=\"{description}\""),
        format!("scope=\"{SCOPE}\""),
        "resource=\"/api/v1/groups\"".to_string(),
    ] {
        assert!(challenge.contains(&part), "{part} in {challenge}");
    }
    assert!(response.bytes().await.unwrap().is_empty(), "no body");
}

/// A resource proof for `GET /api/v1/groups` bound to `token`, with `changes` applied.
fn groups_proof(sim: &Sim, key: &Key, token: &str, changes: Value) -> String {
    let mut claims = proof_claims("GET", &sim.at("/api/v1/groups"), json!({"ath": ath(token)}));
    merge(&mut claims, changes);
    proof(key, claims)
}

// ---- private_key_jwt ----

#[tokio::test]
async fn a_good_assertion_gets_a_bearer_token_and_the_start_line_names_the_key() {
    let sim = Sim::start("tiny", JWT);
    assert_eq!(sim.start["token_auth"], "private_key_jwt");
    // The printed key file is the built-in key: sign with what the simulator handed out.
    let path = sim.start["private_key_path"].as_str().unwrap();
    let pem = std::fs::read(path).unwrap();
    let mut header = Header::new(Algorithm::RS384);
    header.kid = Some(sim.start["key_id"].as_str().unwrap().to_string());
    let token = jsonwebtoken::encode(
        &header,
        &assertion_claims(&sim, json!({})),
        &EncodingKey::from_rsa_pem(&pem).unwrap(),
    )
    .unwrap();
    let (status, body) = status_and_body(token_with(&sim, &token, None).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], SCOPE);
    let listed = groups(&sim, "Bearer", body["access_token"].as_str().unwrap(), None).await;
    assert_eq!(listed.status(), 200);

    // Without a kid every registered key is tried: the EC key signs ES256.
    let ec = Key::ec().sign(
        Header::new(Algorithm::ES256),
        &assertion_claims(&sim, json!({})),
    );
    let (status, body) = status_and_body(token_with(&sim, &ec, None).await).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn an_assertion_with_another_issuer_is_refused() {
    let sim = Sim::start("tiny", JWT);
    let token = assertion(&sim, json!({"iss": "0oaSomeoneElse"}));
    assert_invalid_client(
        token_with(&sim, &token, None).await,
        "The issuer claim for client_assertion is not a valid client_id.",
    )
    .await;
}

#[tokio::test]
async fn an_assertion_with_another_subject_is_refused() {
    let sim = Sim::start("tiny", JWT);
    let token = assertion(&sim, json!({"sub": "0oaSomeoneElse"}));
    assert_invalid_client(
        token_with(&sim, &token, None).await,
        "The subject claim for client_assertion is not a valid client_id.",
    )
    .await;
}

#[tokio::test]
async fn an_assertion_for_another_audience_is_refused() {
    let sim = Sim::start("tiny", JWT);
    let token = assertion(&sim, json!({"aud": sim.at("/oauth2/default/v1/token")}));
    assert_invalid_client(
        token_with(&sim, &token, None).await,
        "The audience claim for client_assertion must be the endpoint invoked for the request.",
    )
    .await;
}

#[tokio::test]
async fn an_expired_assertion_is_refused() {
    let sim = Sim::start("tiny", JWT);
    let token = assertion(&sim, json!({"exp": now() - 5, "iat": now() - 100}));
    assert_invalid_client(
        token_with(&sim, &token, None).await,
        "The client_assertion token is expired.",
    )
    .await;
    let token = assertion(&sim, json!({"exp": null}));
    assert_invalid_client(
        token_with(&sim, &token, None).await,
        "The client_assertion must contain the 'exp' claim as seconds since epoch.",
    )
    .await;
}

#[tokio::test]
async fn an_assertion_expiring_more_than_an_hour_ahead_is_refused() {
    let sim = Sim::start("tiny", JWT);
    let token = assertion(&sim, json!({"exp": now() + 3700}));
    assert_invalid_client(
        token_with(&sim, &token, None).await,
        "The client_assertion token has an expiration too far into the future.",
    )
    .await;
}

#[tokio::test]
async fn a_replayed_assertion_is_refused() {
    let sim = Sim::start("tiny", JWT);
    let token = assertion(&sim, json!({}));
    assert_eq!(token_with(&sim, &token, None).await.status(), 200);
    assert_invalid_client(
        token_with(&sim, &token, None).await,
        "The client_assertion token has already been used.",
    )
    .await;
}

#[tokio::test]
async fn an_assertion_signed_with_an_unregistered_key_is_refused() {
    let sim = Sim::start("tiny", JWT);
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(sim.start["key_id"].as_str().unwrap().to_string());
    let forged = Key::unregistered().sign(header, &assertion_claims(&sim, json!({})));
    assert_invalid_client(
        token_with(&sim, &forged, None).await,
        "The client_assertion signature is invalid.",
    )
    .await;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("not-registered".to_string());
    let unknown = Key::unregistered().sign(header, &assertion_claims(&sim, json!({})));
    assert_invalid_client(
        token_with(&sim, &unknown, None).await,
        "The client_assertion JWT kid is invalid.",
    )
    .await;
}

#[tokio::test]
async fn an_unsigned_or_hmac_assertion_is_refused() {
    let sim = Sim::start("tiny", JWT);
    let claims = assertion_claims(&sim, json!({}));
    let unsigned = format!(
        "{}.{}.",
        b64url(br#"{"alg":"none"}"#),
        b64url(claims.to_string().as_bytes())
    );
    assert_invalid_client(
        token_with(&sim, &unsigned, None).await,
        "The client_assertion JWT signature algorithm is invalid.",
    )
    .await;
    let hmac = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &assertion_claims(&sim, json!({})),
        &EncodingKey::from_secret(b"sim-client-secret-do-not-use-in-production"),
    )
    .unwrap();
    assert_invalid_client(
        token_with(&sim, &hmac, None).await,
        "The client_assertion JWT signature algorithm is invalid.",
    )
    .await;
}

#[tokio::test]
async fn the_client_uses_its_one_auth_method_only() {
    // A private_key_jwt client refuses client_secret_basic and client_secret_post.
    let sim = Sim::start("tiny", JWT);
    assert_invalid_client(
        sim.token(SCOPE).await,
        "Client Credentials requests to the Org Authorization Server must use the private_key_jwt token_endpoint_auth_method.",
    )
    .await;
    // A client_secret_basic client has no keys for an assertion.
    let basic = Sim::start("tiny", &[]);
    assert_eq!(basic.start["token_auth"], "client_secret_basic");
    assert!(basic.start.get("private_key_path").is_none());
    let token = Key::client().sign(
        Header::new(Algorithm::RS256),
        &assertion_claims(&basic, json!({})),
    );
    assert_invalid_client(
        token_with(&basic, &token, None).await,
        "The client does not have a JWKSet configured, but the client_assertion requires one.",
    )
    .await;
}

#[tokio::test]
async fn a_jwks_file_registers_exactly_its_keys() {
    let dir = std::env::temp_dir().join(format!("butterfly-sim-auth-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let jwks: Value =
        serde_json::from_slice(&std::fs::read(root().join("fixtures/keys/jwks.json")).unwrap())
            .unwrap();
    let ec_only: Vec<Value> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["kty"] == "EC")
        .cloned()
        .collect();
    let file = dir.join("client.jwks");
    std::fs::write(&file, json!({"keys": ec_only}).to_string()).unwrap();
    let sim = Sim::start("tiny", &["--jwks", file.to_str().unwrap()]);
    assert_eq!(sim.start["token_auth"], "private_key_jwt");
    assert!(sim.start.get("private_key_path").is_none());
    let rsa = Key::client().sign(
        Header::new(Algorithm::RS256),
        &assertion_claims(&sim, json!({})),
    );
    assert_invalid_client(
        token_with(&sim, &rsa, None).await,
        "The client_assertion signature is invalid.",
    )
    .await;
    let ec = Key::ec().sign(
        Header::new(Algorithm::ES256),
        &assertion_claims(&sim, json!({})),
    );
    assert_eq!(token_with(&sim, &ec, None).await.status(), 200);

    // A private key in the file is a usage error naming the file and the key.
    let mut private: Map<String, Value> = ec_only[0].as_object().unwrap().clone();
    private.insert("d".to_string(), json!("c2VjcmV0"));
    let bad = dir.join("private.jwks");
    std::fs::write(&bad, json!({"keys": [private]}).to_string()).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_butterfly"))
        .args(["sim", "--fixture"])
        .arg(root().join("fixtures/orgs/tiny"))
        .arg("--jwks")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("private.jwks: keys[0]") && stderr.contains("private key material (`d`)"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

// ---- DPoP ----

#[tokio::test]
async fn dpop_tokens_need_a_proof_with_the_server_nonce() {
    let sim = Sim::start("tiny", JWT_DPOP);
    let url = sim.at("/oauth2/v1/token");
    assert_refused(
        token_with(&sim, &assertion(&sim, json!({})), None).await,
        400,
        "invalid_dpop_proof",
        "The DPoP proof JWT header is missing.",
    )
    .await;
    let key = Key::ec();
    let first = token_with(
        &sim,
        &assertion(&sim, json!({})),
        Some(&proof(&key, proof_claims("POST", &url, json!({})))),
    )
    .await;
    let nonce = first.headers()["dpop-nonce"].to_str().unwrap().to_string();
    assert_refused(
        first,
        400,
        "use_dpop_nonce",
        "Authorization server requires nonce in DPoP proof.",
    )
    .await;
    let second = token_with(
        &sim,
        &assertion(&sim, json!({})),
        Some(&proof(
            &key,
            proof_claims("POST", &url, json!({"nonce": nonce})),
        )),
    )
    .await;
    let (status, body) = status_and_body(second).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(body["expires_in"], 3600);
}

#[tokio::test]
async fn a_wrong_nonce_is_answered_with_use_dpop_nonce() {
    let sim = Sim::start("tiny", JWT_DPOP);
    let url = sim.at("/oauth2/v1/token");
    let response = token_with(
        &sim,
        &assertion(&sim, json!({})),
        Some(&proof(
            &Key::ec(),
            proof_claims("POST", &url, json!({"nonce": "not-the-nonce"})),
        )),
    )
    .await;
    assert!(response.headers().contains_key("dpop-nonce"));
    assert_refused(
        response,
        400,
        "use_dpop_nonce",
        "Authorization server requires nonce in DPoP proof.",
    )
    .await;
}

#[tokio::test]
async fn a_token_proof_for_another_method_is_refused() {
    let sim = Sim::start("tiny", JWT_DPOP);
    let response = token_with(
        &sim,
        &assertion(&sim, json!({})),
        Some(&proof(
            &Key::ec(),
            proof_claims("GET", &sim.at("/oauth2/v1/token"), json!({})),
        )),
    )
    .await;
    assert_refused(
        response,
        400,
        "invalid_dpop_proof",
        "'htm' claim in the DPoP proof JWT is invalid.",
    )
    .await;
}

#[tokio::test]
async fn a_good_dpop_api_call_succeeds() {
    let sim = Sim::start("tiny", JWT_DPOP);
    let key = Key::ec();
    let (token, nonce) = dpop_token(&sim, &key).await;
    // Okta does not require a nonce on resource requests; the Go SDK sends one anyway.
    let listed = groups(
        &sim,
        "DPoP",
        &token,
        Some(groups_proof(&sim, &key, &token, json!({}))),
    )
    .await;
    assert_eq!(listed.status(), 200);
    let with_nonce = groups(
        &sim,
        "DPoP",
        &token,
        Some(groups_proof(&sim, &key, &token, json!({"nonce": nonce}))),
    )
    .await;
    assert_eq!(with_nonce.status(), 200);
    // The query is not part of htu.
    let claims = proof_claims(
        "GET",
        &sim.at("/api/v1/groups"),
        json!({"ath": ath(&token)}),
    );
    let paged = reqwest::Client::new()
        .get(sim.at("/api/v1/groups?limit=1"))
        .header("authorization", format!("DPoP {token}"))
        .header("DPoP", proof(&key, claims))
        .send()
        .await
        .unwrap();
    assert_eq!(paged.status(), 200);
}

#[tokio::test]
async fn a_resource_proof_for_another_method_is_refused() {
    let sim = Sim::start("tiny", JWT_DPOP);
    let key = Key::ec();
    let (token, _) = dpop_token(&sim, &key).await;
    let response = groups(
        &sim,
        "DPoP",
        &token,
        Some(groups_proof(&sim, &key, &token, json!({"htm": "POST"}))),
    )
    .await;
    assert_challenge(
        response,
        400,
        "invalid_dpop_proof",
        "'htm' claim in the DPoP proof JWT is invalid.",
    )
    .await;
}

#[tokio::test]
async fn a_resource_proof_for_another_url_is_refused() {
    let sim = Sim::start("tiny", JWT_DPOP);
    let key = Key::ec();
    let (token, _) = dpop_token(&sim, &key).await;
    let response = groups(
        &sim,
        "DPoP",
        &token,
        Some(groups_proof(
            &sim,
            &key,
            &token,
            json!({"htu": sim.at("/api/v1/users")}),
        )),
    )
    .await;
    assert_challenge(
        response,
        400,
        "invalid_dpop_proof",
        "'htu' claim in the DPoP proof JWT is invalid.",
    )
    .await;
}

#[tokio::test]
async fn a_resource_proof_with_a_wrong_ath_is_refused() {
    let sim = Sim::start("tiny", JWT_DPOP);
    let key = Key::ec();
    let (token, _) = dpop_token(&sim, &key).await;
    let response = groups(
        &sim,
        "DPoP",
        &token,
        Some(groups_proof(
            &sim,
            &key,
            &token,
            json!({"ath": ath("another token")}),
        )),
    )
    .await;
    assert_challenge(
        response,
        400,
        "invalid_dpop_proof",
        "'ath' claim in the DPoP proof does not match the presented access_token.",
    )
    .await;
}

#[tokio::test]
async fn a_proof_issued_more_than_five_minutes_ago_is_refused() {
    let sim = Sim::start("tiny", JWT_DPOP);
    let key = Key::ec();
    let (token, _) = dpop_token(&sim, &key).await;
    let response = groups(
        &sim,
        "DPoP",
        &token,
        Some(groups_proof(
            &sim,
            &key,
            &token,
            json!({"iat": now() - 400}),
        )),
    )
    .await;
    assert_challenge(
        response,
        400,
        "invalid_dpop_proof",
        "The DPoP proof JWT is issued more than five minutes in the past.",
    )
    .await;
}

#[tokio::test]
async fn a_replayed_proof_is_refused() {
    let sim = Sim::start("tiny", JWT_DPOP);
    let key = Key::ec();
    let (token, _) = dpop_token(&sim, &key).await;
    let once = groups_proof(&sim, &key, &token, json!({}));
    let first = groups(&sim, "DPoP", &token, Some(once.clone())).await;
    assert_eq!(first.status(), 200);
    let again = groups(&sim, "DPoP", &token, Some(once)).await;
    assert_challenge(
        again,
        400,
        "invalid_dpop_proof",
        "The DPoP proof JWT has already been used.",
    )
    .await;
}

#[tokio::test]
async fn a_proof_by_another_key_than_the_tokens_is_refused() {
    let sim = Sim::start("tiny", JWT_DPOP);
    let (token, _) = dpop_token(&sim, &Key::ec()).await;
    let response = groups(
        &sim,
        "DPoP",
        &token,
        Some(groups_proof(&sim, &Key::unregistered(), &token, json!({}))),
    )
    .await;
    assert_challenge(
        response,
        400,
        "invalid_dpop_proof",
        "The access_token is not bound to the provided DPoP proof.",
    )
    .await;
}

#[tokio::test]
async fn a_dpop_token_used_as_bearer_or_without_a_proof_is_refused() {
    let sim = Sim::start("tiny", JWT_DPOP);
    let key = Key::ec();
    let (token, _) = dpop_token(&sim, &key).await;
    assert_challenge(
        groups(&sim, "Bearer", &token, None).await,
        400,
        "invalid_request",
        "The resource request must use the DPoP authentication scheme when using a DPoP bound token.",
    )
    .await;
    assert_challenge(
        groups(&sim, "DPoP", &token, None).await,
        400,
        "invalid_request",
        "The resource request requires a DPoP proof.",
    )
    .await;
}

#[tokio::test]
async fn a_client_that_does_not_require_dpop_gets_bearer_tokens_despite_a_proof() {
    // Okta ignores the proof of a client without "Require DPoP" (the Go SDK relies on it).
    let sim = Sim::start("tiny", &[]);
    let proof = proof(
        &Key::ec(),
        proof_claims("POST", &sim.at("/oauth2/v1/token"), json!({})),
    );
    let response = reqwest::Client::new()
        .post(sim.at("/oauth2/v1/token"))
        .basic_auth(&sim.client_id, Some(&sim.client_secret))
        .header("DPoP", proof)
        .form(&[("grant_type", "client_credentials"), ("scope", SCOPE)])
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_body(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(groups(&sim, "Bearer", token, None).await.status(), 200);
    // And such a token is not DPoP-bound.
    assert_challenge(
        groups(&sim, "DPoP", token, None).await,
        401,
        "invalid_token",
        "The presented access_token is not DPoP bound.",
    )
    .await;
}
