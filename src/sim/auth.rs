//! Authentication as Okta's org authorization server does it for a service: the
//! client-credentials grant at `POST /oauth2/v1/token` with `client_secret_basic` (an OIN API
//! service integration), access tokens that carry exactly the granted scopes asked for and
//! expire, and SSWS API tokens, which act with an admin's full rights.
//!
//! Must not accept what Okta refuses: `client_secret_post`, an empty or ungranted scope.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;

use super::error::{OktaError, oauth_error};

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

/// The simulated org's one service client and API token.
#[derive(Debug)]
pub struct Auth {
    pub client_id: String,
    client_secret: String,
    api_token: String,
    granted: BTreeSet<String>,
    token_ttl: Duration,
    tokens: Mutex<HashMap<String, (BTreeSet<String>, Instant)>>,
    next_token: Mutex<u64>,
}

impl Auth {
    pub fn new(
        client_id: String,
        client_secret: String,
        api_token: String,
        granted: BTreeSet<String>,
        token_ttl: Duration,
    ) -> Self {
        Auth {
            client_id,
            client_secret,
            api_token,
            granted,
            token_ttl,
            tokens: Mutex::new(HashMap::new()),
            next_token: Mutex::new(0),
        }
    }

    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    pub fn api_token(&self) -> &str {
        &self.api_token
    }

    /// `POST /oauth2/v1/token` with a form body.
    pub fn token(&self, headers: &HeaderMap, form: &HashMap<String, String>) -> Response {
        if form.contains_key("client_secret") {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "OAuth Integration Client Credentials requests to the Org Authorization Server must use either private_key_jwt or client_secret_basic",
            );
        }
        let Some((id, secret)) = basic_credentials(headers) else {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed. Either the client or the client credentials are invalid.",
            );
        };
        if id != self.client_id || secret != self.client_secret {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "The client secret supplied for a confidential client is invalid.",
            );
        }
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
            .filter(|s| !self.granted.contains(*s))
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
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.clone(), (requested, Instant::now() + self.token_ttl));
        (
            StatusCode::OK,
            axum::Json(json!({
                "token_type": "Bearer",
                "expires_in": self.token_ttl.as_secs(),
                "access_token": token,
                "scope": scope,
            })),
        )
            .into_response()
    }

    /// Checks the `Authorization` header of an API request.
    pub fn authorize(&self, headers: &HeaderMap) -> Result<Grant, OktaError> {
        let header = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(OktaError::invalid_token)?;
        if let Some(token) = header.strip_prefix("SSWS ") {
            return if token.trim() == self.api_token {
                Ok(Grant::ApiToken)
            } else {
                Err(OktaError::invalid_token())
            };
        }
        if let Some(token) = header.strip_prefix("Bearer ") {
            let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
            return match tokens.get(token.trim()) {
                Some((scopes, expires)) if *expires > Instant::now() => {
                    Ok(Grant::Scopes(scopes.clone()))
                }
                _ => Err(OktaError::invalid_token()),
            };
        }
        Err(OktaError::invalid_token())
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
