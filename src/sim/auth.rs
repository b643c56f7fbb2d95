//! Authentication as Okta's org authorization server does it for a service: the
//! client-credentials grant at `POST /oauth2/v1/token` with the client's one token endpoint
//! auth method (`client_secret_basic`, an OIN API service integration, or `private_key_jwt`,
//! a customer's API Services app), optional DPoP binding, access tokens that carry exactly the
//! granted scopes asked for and expire, and SSWS API tokens, which act with an admin's full
//! rights. This module orchestrates: `assertion.rs` checks client assertions, `dpop.rs` DPoP
//! proofs, `jose.rs` keys and signatures.
//!
//! Must not accept what Okta refuses: `client_secret_post`, the other auth method than the
//! client's, an empty or ungranted scope, a DPoP-bound token without its proof.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;

use super::assertion::{ASSERTION_TYPE, Assertions};
use super::dpop::{self, Dpop, Refusal};
use super::error::{OktaError, oauth_error};
use super::jose::{KeySet, OKTA_DPOP_ALGS};

/// What the caller may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grant {
    /// An SSWS API token: the creating admin's rights, no scope checks.
    ApiToken,
    /// An OAuth access token with these scopes.
    Scopes(BTreeSet<String>),
}

impl Grant {
    /// True when the grant covers every scope in `required` (a `.manage` scope covers its
    /// `.read`).
    pub fn covers(&self, required: &[String]) -> bool {
        match self {
            Grant::ApiToken => true,
            Grant::Scopes(scopes) => required.iter().all(|scope| {
                scopes.contains(scope)
                    || scope
                        .strip_suffix(".read")
                        .is_some_and(|area| scopes.contains(&format!("{area}.manage")))
            }),
        }
    }
}

/// The token endpoint auth method of the simulated client (an Okta app has exactly one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuth {
    ClientSecretBasic,
    PrivateKeyJwt,
}

impl TokenAuth {
    /// `client_secret_basic` or `private_key_jwt`.
    pub fn parse(text: &str) -> Option<TokenAuth> {
        match text {
            "client_secret_basic" => Some(TokenAuth::ClientSecretBasic),
            "private_key_jwt" => Some(TokenAuth::PrivateKeyJwt),
            _ => None,
        }
    }
}

/// How the simulated org's one service client is registered.
#[derive(Debug)]
pub struct Client {
    pub client_id: String,
    pub client_secret: String,
    pub api_token: String,
    pub granted: BTreeSet<String>,
    pub token_ttl: Duration,
    pub token_auth: TokenAuth,
    /// The registered public keys (`private_key_jwt` only).
    pub keys: Option<KeySet>,
    /// "Require DPoP header in token requests" (`dpop_bound_access_tokens`).
    pub require_dpop: bool,
}

#[derive(Debug)]
struct Issued {
    scopes: BTreeSet<String>,
    expires: Instant,
    /// The RFC 7638 thumbprint of the DPoP key the token is bound to.
    jkt: Option<String>,
}

/// The simulated org's one service client and API token, and the tokens issued.
#[derive(Debug)]
pub struct Auth {
    pub client_id: String,
    client: Client,
    tokens: Mutex<HashMap<String, Issued>>,
    next_token: Mutex<u64>,
    assertions: Assertions,
    dpop: Dpop,
}

/// A `POST /oauth2/v1/token` as it arrives.
pub struct TokenRequest<'r> {
    pub headers: &'r HeaderMap,
    pub form: &'r HashMap<String, String>,
    /// `http://<Host header>`: the org URL the client used.
    pub base_url: &'r str,
}

/// An API request as authentication sees it.
pub struct ApiRequest<'r> {
    pub method: &'r str,
    /// `http://<Host header>`.
    pub base_url: &'r str,
    /// The request path, without the query.
    pub path: &'r str,
    pub headers: &'r HeaderMap,
    /// The scopes the endpoint needs (named in a DPoP challenge).
    pub required: &'r [String],
}

/// Why an API request is not let in.
#[derive(Debug)]
pub enum Denied {
    /// An Okta error body (401 E0000011).
    Okta(OktaError),
    /// A DPoP refusal: no body, a `WWW-Authenticate: DPoP ...` challenge, as Okta answers.
    Dpop {
        refusal: Refusal,
        realm: String,
        scope: String,
        resource: String,
    },
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::Okta(error) => error.into_response(),
            Denied::Dpop {
                refusal,
                realm,
                scope,
                resource,
            } => {
                let challenge = format!(
                    "DPoP algs=\"{OKTA_DPOP_ALGS}\", authorization_uri=\"{realm}/oauth2/v1/authorize\", realm=\"{realm}\", scope=\"{scope}\", error=\"{}\", error_description=\"{}\", resource=\"{}\"",
                    refusal.error,
                    refusal.description,
                    resource.replace('"', "%22"),
                );
                let mut response = refusal.status.into_response();
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    response.headers_mut().insert("www-authenticate", value);
                }
                response
            }
        }
    }
}

/// Okta's `invalid_client` descriptions used here.
mod client_refused {
    pub const NO_CREDENTIALS: &str = "No client credentials found.";
    pub const BAD_BASIC: &str = "Found Authentication header but was not valid client credentials.";
    pub const UNKNOWN_CLIENT: &str =
        "Client authentication failed. Either the client or the client credentials are invalid.";
    pub const BAD_SECRET: &str = "The client secret supplied for a confidential client is invalid.";
    pub const ONLY_PRIVATE_KEY_JWT: &str = "Client Credentials requests to the Org Authorization Server must use the private_key_jwt token_endpoint_auth_method.";
    pub const INTEGRATION_METHODS: &str = "OAuth Integration Client Credentials requests to the Org Authorization Server must use either private_key_jwt or client_secret_basic as the token_endpoint_auth_method.";
    pub const NO_JWKS: &str =
        "The client does not have a JWKSet configured, but the client_assertion requires one.";
    pub const MULTIPLE: &str = "Cannot supply multiple client credentials. Use one of the following: credentials in the Authorization header, credentials in the post body, or a client_assertion in the post body.";
}

/// Seconds since the Unix epoch.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A refused client authentication: status, OAuth `error`, Okta's description.
type ClientRefusal = (StatusCode, &'static str, &'static str);

fn invalid_client(description: &'static str) -> ClientRefusal {
    (StatusCode::UNAUTHORIZED, "invalid_client", description)
}

impl Auth {
    pub fn new(client: Client) -> Self {
        Auth {
            client_id: client.client_id.clone(),
            client,
            tokens: Mutex::new(HashMap::new()),
            next_token: Mutex::new(0),
            assertions: Assertions::default(),
            dpop: Dpop::default(),
        }
    }

    pub fn client_secret(&self) -> &str {
        &self.client.client_secret
    }

    pub fn api_token(&self) -> &str {
        &self.client.api_token
    }

    pub fn token_auth(&self) -> TokenAuth {
        self.client.token_auth
    }

    /// `POST /oauth2/v1/token` with a form body.
    pub fn token(&self, request: &TokenRequest<'_>) -> Response {
        if let Err((status, error, description)) = self.authenticate_client(request) {
            tracing::debug!(
                error,
                description,
                "token request refused: client authentication"
            );
            return oauth_error(status, error, description);
        }
        let now = unix_now();
        let token_url = format!("{}/oauth2/v1/token", request.base_url);
        // A client that does not require DPoP gets a Bearer token; Okta ignores a proof it
        // sends (the Go SDK relies on this: "Okta ignores the proof and returns a Bearer token").
        let jkt = if self.client.require_dpop {
            match self.dpop.token_request(request.headers, &token_url, now) {
                Ok(jkt) => Some(jkt),
                Err(refusal) => {
                    tracing::debug!(
                        error = refusal.error,
                        description = refusal.description,
                        "token request refused: DPoP"
                    );
                    let mut response =
                        oauth_error(refusal.status, refusal.error, refusal.description);
                    if refusal == dpop::refused::NONCE
                        && let Ok(value) = HeaderValue::from_str(&self.dpop.nonce(now))
                    {
                        response.headers_mut().insert("dpop-nonce", value);
                    }
                    return response;
                }
            }
        } else {
            None
        };
        let form = request.form;
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.",
            );
        }
        let requested: BTreeSet<String> = form
            .get("scope")
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        if requested.is_empty() {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "The 'scope' parameter can't be empty.",
            );
        }
        let ungranted: Vec<&String> = requested
            .iter()
            .filter(|s| !self.client.granted.contains(*s))
            .collect();
        if !ungranted.is_empty() {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                &format!(
                    "The requested scope is invalid, unknown, or malformed. Not granted: {}",
                    ungranted
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            );
        }
        let token = {
            let mut next = self.next_token.lock().unwrap_or_else(|e| e.into_inner());
            *next += 1;
            format!(
                "sim.{}.{:016x}",
                self.client_id,
                next.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            )
        };
        let scope = requested.iter().cloned().collect::<Vec<_>>().join(" ");
        let token_type = if jkt.is_some() { "DPoP" } else { "Bearer" };
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                token.clone(),
                Issued {
                    scopes: requested,
                    expires: Instant::now() + self.client.token_ttl,
                    jkt,
                },
            );
        (
            StatusCode::OK,
            axum::Json(json!({
                "token_type": token_type,
                "expires_in": self.client.token_ttl.as_secs(),
                "access_token": token,
                "scope": scope,
            })),
        )
            .into_response()
    }

    /// Client authentication with the client's one method, as Okta refuses the others.
    fn authenticate_client(&self, request: &TokenRequest<'_>) -> Result<(), ClientRefusal> {
        let form = request.form;
        let jwt_client = self.client.token_auth == TokenAuth::PrivateKeyJwt;
        if form.contains_key("client_secret") {
            return Err(invalid_client(if jwt_client {
                client_refused::ONLY_PRIVATE_KEY_JWT
            } else {
                client_refused::INTEGRATION_METHODS
            }));
        }
        let authorization = request.headers.get("authorization");
        let assertion = form.get("client_assertion");
        if authorization.is_some() && assertion.is_some() {
            return Err((
                StatusCode::UNAUTHORIZED,
                "invalid_request",
                client_refused::MULTIPLE,
            ));
        }
        if let Some(assertion) = assertion {
            if form.get("client_assertion_type").map(String::as_str) != Some(ASSERTION_TYPE) {
                return Err((
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "The client_assertion_type is invalid.",
                ));
            }
            if form
                .get("client_id")
                .is_some_and(|id| *id != self.client_id)
            {
                return Err(invalid_client("Invalid value for 'client_id' parameter."));
            }
            let Some(keys) = self.client.keys.as_ref().filter(|_| jwt_client) else {
                return Err(invalid_client(client_refused::NO_JWKS));
            };
            let token_url = format!("{}/oauth2/v1/token", request.base_url);
            return self
                .assertions
                .verify(assertion, &self.client_id, keys, &token_url, unix_now())
                .map_err(invalid_client);
        }
        if authorization.is_none() {
            return Err(invalid_client(client_refused::NO_CREDENTIALS));
        }
        let Some((id, secret)) = basic_credentials(request.headers) else {
            return Err(invalid_client(client_refused::BAD_BASIC));
        };
        if id != self.client_id {
            return Err(invalid_client(client_refused::UNKNOWN_CLIENT));
        }
        if jwt_client {
            return Err(invalid_client(client_refused::ONLY_PRIVATE_KEY_JWT));
        }
        if secret != self.client.client_secret {
            return Err(invalid_client(client_refused::BAD_SECRET));
        }
        Ok(())
    }

    /// Checks the `Authorization` (and, for a DPoP-bound token, `DPoP`) header of an API
    /// request.
    pub fn authorize(&self, request: &ApiRequest<'_>) -> Result<Grant, Denied> {
        let invalid = || Denied::Okta(OktaError::invalid_token());
        let header = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(invalid)?;
        if let Some(token) = header.strip_prefix("SSWS ") {
            return if token.trim() == self.client.api_token {
                Ok(Grant::ApiToken)
            } else {
                Err(invalid())
            };
        }
        let (scheme, token) = header.split_once(' ').ok_or_else(invalid)?;
        let token = token.trim();
        let dpop_scheme = scheme.eq_ignore_ascii_case("DPoP");
        if !dpop_scheme && !scheme.eq_ignore_ascii_case("Bearer") {
            return Err(invalid());
        }
        let (scopes, jkt) = {
            let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
            match tokens.get(token) {
                Some(issued) if issued.expires > Instant::now() => {
                    (issued.scopes.clone(), issued.jkt.clone())
                }
                _ => return Err(invalid()),
            }
        };
        let deny = |refusal: Refusal| {
            tracing::debug!(
                error = refusal.error,
                description = refusal.description,
                path = request.path,
                "API request refused: DPoP"
            );
            Denied::Dpop {
                refusal,
                realm: request.base_url.to_string(),
                scope: request.required.join(" "),
                resource: request.path.to_string(),
            }
        };
        match (dpop_scheme, jkt) {
            (false, None) => Ok(Grant::Scopes(scopes)),
            (false, Some(_)) => Err(deny(dpop::refused::SCHEME_REQUIRED)),
            (true, None) => Err(deny(dpop::refused::NOT_BOUND)),
            (true, Some(jkt)) => {
                // Okta compares htu with the percent-decoded path (okta-sdk-python#541).
                let url = format!(
                    "{}{}",
                    request.base_url,
                    super::route::percent_decode(request.path)
                );
                self.dpop
                    .resource_request(
                        request.headers,
                        request.method,
                        &url,
                        token,
                        &jkt,
                        unix_now(),
                    )
                    .map_err(deny)?;
                Ok(Grant::Scopes(scopes))
            }
        }
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let header = headers.get("authorization")?.to_str().ok()?;
    let encoded = header.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manage_covers_read_but_not_the_reverse() {
        let grant = Grant::Scopes(
            [
                "okta.groups.manage".to_string(),
                "okta.users.read".to_string(),
            ]
            .into(),
        );
        assert!(grant.covers(&["okta.groups.read".to_string()]));
        assert!(grant.covers(&["okta.users.read".to_string()]));
        assert!(!grant.covers(&["okta.users.manage".to_string()]));
        assert!(!grant.covers(&["okta.apps.read".to_string()]));
        assert!(Grant::ApiToken.covers(&["okta.apps.manage".to_string()]));
    }
}
