//! What can go wrong talking to Okta, as typed errors: Okta's error body (`errorCode`,
//! `errorSummary`, `errorId`, `errorCauses`) with the status and URL, OAuth errors of the token
//! endpoint, transport failures, and what the client was given (domain, credentials, keys).
//!
//! Also the one place that decides what an Okta answer means for a caller: retry it, wait for
//! the rate-limit reset, renew the token, or give up on that kind with a cause a user can act on.

use reqwest::StatusCode;
use serde::Deserialize;

/// Okta's error body; every field optional, as some endpoints omit some (NOTES.md §3.3).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct RawApiError {
    error_code: Option<String>,
    error_summary: Option<String>,
    error_id: Option<String>,
    #[serde(default)]
    error_causes: Vec<RawCause>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct RawCause {
    error_summary: Option<String>,
}

/// An error answer of Okta's management API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub method: String,
    /// The URL asked for (it never carries a secret: credentials travel in headers).
    pub url: String,
    pub status: StatusCode,
    pub code: Option<String>,
    pub summary: Option<String>,
    pub error_id: Option<String>,
    pub causes: Vec<String>,
    /// `X-Okta-Request-Id`, for Okta support.
    pub request_id: Option<String>,
    /// The `error` of a `WWW-Authenticate` challenge (`insufficient_scope`, `invalid_token`,
    /// `use_dpop_nonce`).
    pub challenge: Option<String>,
}

impl ApiError {
    /// Reads Okta's error body; a body that is not Okta's JSON keeps its first 200 characters
    /// as the summary.
    pub fn from_body(
        method: &str,
        url: &str,
        status: StatusCode,
        body: &[u8],
        request_id: Option<String>,
        challenge: Option<String>,
    ) -> ApiError {
        let raw: RawApiError = serde_json::from_slice(body).unwrap_or_else(|_| RawApiError {
            error_summary: Some(String::from_utf8_lossy(body).chars().take(200).collect())
                .filter(|s: &String| !s.trim().is_empty()),
            ..RawApiError::default()
        });
        ApiError {
            method: method.to_string(),
            url: url.to_string(),
            status,
            code: raw.error_code,
            summary: raw.error_summary,
            error_id: raw.error_id,
            causes: raw
                .error_causes
                .into_iter()
                .filter_map(|c| c.error_summary)
                .collect(),
            request_id,
            challenge,
        }
    }

    fn code_is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// What the answer means for the caller.
    pub fn cause(&self) -> Cause {
        match self.status.as_u16() {
            429 if self.code.is_none() || self.code_is("E0000047") => Cause::RateLimited,
            // Resend windows and telephony roadblocks are 429s that waiting a minute won't clear.
            429 => Cause::Refused,
            401 if self.code_is("E0000015") => Cause::FeatureNotEnabled,
            401 => Cause::Unauthenticated,
            403 if self.challenge.as_deref() == Some("insufficient_scope") => {
                Cause::ScopeNotGranted
            }
            403 if self.code_is("E0000006") => Cause::NotPermitted,
            404 => Cause::NotFound,
            // Okta's reconciliation of policy and group-rule priorities, and its "still being
            // set up" conflicts, clear by themselves.
            423 => Cause::Transient,
            409 if self.code_is("E0000249")
                || self.code_is("E0000253")
                || self.code_is("E0000268") =>
            {
                Cause::Transient
            }
            500..=599 => Cause::Transient,
            _ => Cause::Refused,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: HTTP {}",
            self.method,
            self.url,
            self.status.as_u16()
        )?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if let Some(summary) = &self.summary {
            write!(f, " {summary}")?;
        }
        if !self.causes.is_empty() {
            write!(f, " ({})", self.causes.join("; "))?;
        }
        if let Some(id) = &self.error_id {
            write!(f, " [errorId {id}]")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request {id}]")?;
        }
        Ok(())
    }
}

/// What an error answer means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// 429 E0000047: wait for the bucket's reset.
    RateLimited,
    /// 5xx, 423, and Okta's "still being set up" conflicts: retry with backoff.
    Transient,
    /// 401 other than E0000015: the credentials or token are not accepted.
    Unauthenticated,
    /// 401 E0000015: the org does not have the feature (not an authentication failure).
    FeatureNotEnabled,
    /// 403 with an `insufficient_scope` challenge: the token lacks the scope.
    ScopeNotGranted,
    /// 403 E0000006 without a scope challenge: the app's admin role does not allow it.
    NotPermitted,
    /// 404.
    NotFound,
    /// Anything else: the request was refused for a reason retrying will not change.
    Refused,
}

/// An OAuth 2.0 error answer of `/oauth2/v1/token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: String,
    pub description: Option<String>,
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {} {}", self.status.as_u16(), self.error)?;
        if let Some(description) = &self.description {
            write!(f, ": {description}")?;
        }
        Ok(())
    }
}

/// Why the client could not be built or a request could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("Okta domain {given:?}: {problem}")]
    Domain { given: String, problem: String },
    #[error("credentials: {0}")]
    Credentials(String),
    #[error("private key {source_name}: {problem}")]
    Key {
        source_name: String,
        problem: String,
    },
    #[error(
        "Okta refused the scopes {requested}: {error}. Grant them to the app in the Admin Console (Applications > the app > Okta API Scopes), or set `scopes` in butterfly.toml to what it is granted"
    )]
    ScopeRefused {
        requested: String,
        error: OAuthError,
    },
    #[error("getting an access token from {url}: {error}")]
    Token { url: String, error: OAuthError },
    #[error("{0}")]
    Api(Box<ApiError>),
    #[error("{method} {url}: {problem}")]
    Transport {
        method: String,
        url: String,
        problem: String,
    },
    #[error("{method} {url}: the answer is not the JSON expected: {problem}")]
    Body {
        method: String,
        url: String,
        problem: String,
    },
    #[error("{method} {url}: gave up after {attempts} attempts; the last: {last}")]
    GaveUp {
        method: String,
        url: String,
        attempts: u32,
        last: Box<ClientError>,
    },
    #[error("{url}: the next link {next:?} {problem}")]
    Link {
        url: String,
        next: String,
        problem: String,
    },
}

impl ClientError {
    /// The Okta answer behind this error, if it came from one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            ClientError::Api(error) => Some(error),
            ClientError::GaveUp { last, .. } => last.api(),
            _ => None,
        }
    }
}

impl From<ApiError> for ClientError {
    fn from(error: ApiError) -> Self {
        ClientError::Api(Box::new(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(status: u16, body: &str, challenge: Option<&str>) -> ApiError {
        ApiError::from_body(
            "GET",
            "https://acme.okta.com/api/v1/groups",
            StatusCode::from_u16(status).unwrap(),
            body.as_bytes(),
            Some("req-1".into()),
            challenge.map(str::to_string),
        )
    }

    #[test]
    fn okta_bodies_are_read_and_shown_with_every_identifier() {
        let e = error(
            400,
            r#"{"errorCode":"E0000001","errorSummary":"Api validation failed","errorLink":"E0000001","errorId":"oae1","errorCauses":[{"errorSummary":"name: required"}]}"#,
            None,
        );
        assert_eq!(e.code.as_deref(), Some("E0000001"));
        assert_eq!(
            e.to_string(),
            "GET https://acme.okta.com/api/v1/groups: HTTP 400 E0000001 Api validation failed (name: required) [errorId oae1] [request req-1]"
        );
        assert_eq!(e.cause(), Cause::Refused);
    }

    #[test]
    fn a_body_that_is_not_okta_json_keeps_its_start() {
        let e = error(502, "<html>Bad gateway</html>", None);
        assert_eq!(e.summary.as_deref(), Some("<html>Bad gateway</html>"));
        assert_eq!(e.cause(), Cause::Transient);
        assert_eq!(error(500, "", None).summary, None);
    }

    #[test]
    fn causes_follow_okta_codes_not_just_statuses() {
        let body = |code: &str| format!(r#"{{"errorCode":"{code}","errorSummary":"x"}}"#);
        assert_eq!(
            error(429, &body("E0000047"), None).cause(),
            Cause::RateLimited
        );
        assert_eq!(error(429, &body("E0000109"), None).cause(), Cause::Refused);
        assert_eq!(
            error(401, &body("E0000015"), None).cause(),
            Cause::FeatureNotEnabled
        );
        assert_eq!(
            error(401, &body("E0000011"), None).cause(),
            Cause::Unauthenticated
        );
        assert_eq!(
            error(403, &body("E0000006"), Some("insufficient_scope")).cause(),
            Cause::ScopeNotGranted
        );
        assert_eq!(
            error(403, &body("E0000006"), None).cause(),
            Cause::NotPermitted
        );
        assert_eq!(
            error(423, &body("E0000239"), None).cause(),
            Cause::Transient
        );
        assert_eq!(
            error(409, &body("E0000249"), None).cause(),
            Cause::Transient
        );
        assert_eq!(error(409, &body("E0000062"), None).cause(), Cause::Refused);
        assert_eq!(error(404, &body("E0000007"), None).cause(), Cause::NotFound);
    }
}
