//! The `Authorization` (and `DPoP`) headers of every API request: an SSWS token as given, or
//! an access token from the org authorization server's client-credentials grant, cached and
//! renewed before it expires.
//!
//! Token requests authenticate with `client_secret_basic` or a `private_key_jwt` assertion
//! (`iss` = `sub` = client id, `aud` = the token URL, five-minute `exp`, random `jti`). An app
//! that requires DPoP answers a plain request with `invalid_dpop_proof`; the client then makes
//! a P-256 key, does the `use_dpop_nonce` exchange, and signs a proof for every request after
//! (`htm`, `htu` without query, `iat`, `jti`, `ath`, and the latest nonce), as Okta's SDKs do.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::credentials::{Credentials, Secret};
use super::error::{ClientError, OAuthError};
use super::org_url::OrgUrl;
use super::signing::SigningKey;

/// How long before its expiry a token is renewed (at most; a tenth of its lifetime if shorter).
const RENEW_MARGIN: Duration = Duration::from_secs(120);

/// Token requests tried this many times on a transport error or 5xx.
const TOKEN_ATTEMPTS: u32 = 3;

#[derive(Debug)]
struct Token {
    value: Secret,
    dpop: bool,
    renew_at: Instant,
    scopes: Vec<String>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    token_type: String,
    expires_in: Option<u64>,
    scope: Option<String>,
}

#[derive(Deserialize)]
struct OAuthBody {
    error: String,
    error_description: Option<String>,
}

/// The headers that authenticate requests to one org.
pub struct Auth {
    credentials: Credentials,
    org: OrgUrl,
    scopes: Vec<String>,
    http: reqwest::Client,
    token: Mutex<Option<Token>>,
    dpop: Mutex<Option<DpopState>>,
}

struct DpopState {
    key: SigningKey,
    nonce: Option<String>,
}

impl Auth {
    pub fn new(
        credentials: Credentials,
        org: OrgUrl,
        scopes: Vec<String>,
        http: reqwest::Client,
    ) -> Auth {
        Auth {
            credentials,
            org,
            scopes,
            http,
            token: Mutex::new(None),
            dpop: Mutex::new(None),
        }
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The headers for `method url`, getting or renewing the access token first if needed.
    pub async fn headers(&self, method: &str, url: &str) -> Result<HeaderMap, ClientError> {
        let mut headers = HeaderMap::new();
        if let Credentials::ApiToken(token) = &self.credentials {
            headers.insert(AUTHORIZATION, header(&format!("SSWS {}", token.expose()))?);
            return Ok(headers);
        }
        let (value, dpop) = {
            let mut slot = self.token.lock().await;
            let fresh = slot.as_ref().is_some_and(|t| Instant::now() < t.renew_at);
            if !fresh {
                *slot = Some(self.request_token().await?);
            }
            let token = slot.as_ref().ok_or_else(|| {
                ClientError::Credentials("no access token after a token request".into())
            })?;
            (token.value.clone(), token.dpop)
        };
        if dpop {
            headers.insert(AUTHORIZATION, header(&format!("DPoP {}", value.expose()))?);
            let proof = self.proof(method, url, Some(value.expose())).await?;
            headers.insert("dpop", header(&proof)?);
        } else {
            headers.insert(
                AUTHORIZATION,
                header(&format!("Bearer {}", value.expose()))?,
            );
        }
        Ok(headers)
    }

    /// Forgets the access token (after Okta called it invalid or expired), so the next request
    /// gets a new one.
    pub async fn invalidate(&self) {
        *self.token.lock().await = None;
    }

    /// Records a `DPoP-Nonce` a server sent.
    pub async fn set_nonce(&self, nonce: &str) {
        if let Some(state) = self.dpop.lock().await.as_mut() {
            state.nonce = Some(nonce.to_string());
        }
    }

    /// The scopes of the current access token (None for an API token, which has none).
    pub async fn granted_scopes(&self) -> Result<Option<Vec<String>>, ClientError> {
        if matches!(self.credentials, Credentials::ApiToken(_)) {
            return Ok(None);
        }
        let mut slot = self.token.lock().await;
        if slot.is_none() {
            *slot = Some(self.request_token().await?);
        }
        Ok(slot.as_ref().map(|t| t.scopes.clone()))
    }

    /// One client-credentials grant, with the DPoP exchange when the app requires it.
    async fn request_token(&self) -> Result<Token, ClientError> {
        let url = self.org.token_url();
        let mut nonce_rounds = 0;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let use_dpop = self.dpop.lock().await.is_some();
            let mut request = self.http.post(&url).header("accept", "application/json");
            let mut form = vec![
                ("grant_type", "client_credentials".to_string()),
                ("scope", self.scopes.join(" ")),
            ];
            match &self.credentials {
                Credentials::ClientSecret { client_id, secret } => {
                    let pair = format!(
                        "{}:{}",
                        form_encode(client_id),
                        form_encode(secret.expose())
                    );
                    request = request.header(
                        AUTHORIZATION,
                        header(&format!("Basic {}", STANDARD.encode(pair)))?,
                    );
                }
                Credentials::PrivateKey { client_id, key } => {
                    form.push((
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                    ));
                    form.push(("client_assertion", assertion(key, client_id, &url)?));
                }
                Credentials::ApiToken(_) => {
                    return Err(ClientError::Credentials(
                        "an API token needs no access token".into(),
                    ));
                }
            }
            if use_dpop {
                request = request.header("dpop", header(&self.proof("POST", &url, None).await?)?);
            }
            let response = match request.form(&form).send().await {
                Ok(response) => response,
                Err(e) if attempt < TOKEN_ATTEMPTS => {
                    tracing::warn!(url, error = %e, "token request failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                    continue;
                }
                Err(e) => {
                    return Err(ClientError::Transport {
                        method: "POST".into(),
                        url,
                        problem: e.to_string(),
                    });
                }
            };
            let status = response.status();
            let nonce = response
                .headers()
                .get("dpop-nonce")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = response.bytes().await.map_err(|e| ClientError::Transport {
                method: "POST".into(),
                url: url.clone(),
                problem: e.to_string(),
            })?;
            if status.is_success() {
                let answer: TokenAnswer =
                    serde_json::from_slice(&body).map_err(|e| ClientError::Body {
                        method: "POST".into(),
                        url: url.clone(),
                        problem: e.to_string(),
                    })?;
                let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
                let margin = RENEW_MARGIN.min(lifetime / 10);
                let dpop = answer.token_type.eq_ignore_ascii_case("dpop");
                tracing::debug!(
                    url,
                    token_type = answer.token_type,
                    expires_in = lifetime.as_secs(),
                    "got an access token"
                );
                return Ok(Token {
                    value: Secret::new(answer.access_token),
                    dpop,
                    renew_at: Instant::now() + lifetime - margin,
                    scopes: answer
                        .scope
                        .unwrap_or_default()
                        .split_whitespace()
                        .map(str::to_string)
                        .collect(),
                });
            }
            if status.is_server_error() && attempt < TOKEN_ATTEMPTS {
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                continue;
            }
            let error = oauth_error(status, &body);
            match error.error.as_str() {
                "invalid_dpop_proof" if !use_dpop => {
                    tracing::info!("the app requires DPoP; making a DPoP key");
                    *self.dpop.lock().await = Some(DpopState {
                        key: SigningKey::ephemeral_p256()?,
                        nonce: None,
                    });
                    attempt = 0;
                }
                "use_dpop_nonce" if nonce.is_some() && nonce_rounds < 2 => {
                    nonce_rounds += 1;
                    if let Some(nonce) = &nonce {
                        self.set_nonce(nonce).await;
                    }
                    attempt = 0;
                }
                "invalid_scope" => {
                    return Err(ClientError::ScopeRefused {
                        requested: self.scopes.join(" "),
                        error,
                    });
                }
                _ => return Err(ClientError::Token { url, error }),
            }
        }
    }

    /// A DPoP proof for `method url` (and the access token, on resource requests).
    async fn proof(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
    ) -> Result<String, ClientError> {
        let dpop = self.dpop.lock().await;
        let Some(state) = dpop.as_ref() else {
            return Err(ClientError::Credentials(
                "a DPoP token without a DPoP key".into(),
            ));
        };
        let htu = url.split(['?', '#']).next().unwrap_or(url);
        let mut claims = json!({
            "htm": method,
            "htu": htu,
            "iat": unix_now(),
            "jti": random_id(),
        });
        if let Some(token) = token {
            claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())));
        }
        if let Some(nonce) = &state.nonce {
            claims["nonce"] = json!(nonce);
        }
        let mut header = Map::new();
        header.insert("typ".into(), json!("dpop+jwt"));
        header.insert("jwk".into(), Value::Object(state.key.public_jwk()));
        state.key.sign(header, &claims)
    }
}

/// A `private_key_jwt` client assertion.
fn assertion(key: &SigningKey, client_id: &str, token_url: &str) -> Result<String, ClientError> {
    let now = unix_now();
    let claims = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": token_url,
        "iat": now,
        "exp": now + 300,
        "jti": random_id(),
    });
    let mut header = Map::new();
    header.insert("typ".into(), json!("JWT"));
    if let Some(kid) = &key.key_id {
        header.insert("kid".into(), json!(kid));
    }
    key.sign(header, &claims)
}

fn oauth_error(status: StatusCode, body: &[u8]) -> OAuthError {
    match serde_json::from_slice::<OAuthBody>(body) {
        Ok(body) => OAuthError {
            status,
            error: body.error,
            description: body.error_description,
        },
        Err(_) => OAuthError {
            status,
            error: "unexpected answer".into(),
            description: Some(String::from_utf8_lossy(body).chars().take(200).collect()),
        },
    }
}

fn header(value: &str) -> Result<HeaderValue, ClientError> {
    HeaderValue::from_str(value).map_err(|_| {
        ClientError::Credentials(
            "a credential holds characters that cannot be sent in an HTTP header".into(),
        )
    })
}

/// `application/x-www-form-urlencoded` of a client id or secret (RFC 6749 §2.3.1).
fn form_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// 128 random bits, base64url: a `jti`.
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 16];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // The system RNG failing is not recoverable in any useful way; a time-based id still
        // differs between calls, which is all a jti needs.
        bytes[..8].copy_from_slice(&unix_now().to_be_bytes());
        bytes[8..].copy_from_slice(
            &SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or_default()
                .to_be_bytes()
                .repeat(2),
        );
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_and_secrets_are_form_encoded() {
        assert_eq!(form_encode("0oa1-x_y.z"), "0oa1-x_y.z");
        assert_eq!(form_encode("a b:c/d%"), "a+b%3Ac%2Fd%25");
    }

    #[test]
    fn jtis_differ() {
        assert_ne!(random_id(), random_id());
        assert_eq!(random_id().len(), 22);
    }
}
