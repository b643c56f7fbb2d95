//! Okta's error responses: `{errorCode, errorSummary, errorLink, errorId, errorCauses}` with
//! the HTTP status and code Okta uses for each failure (NOTES.md §3.3), and the OAuth error
//! shape of the token endpoint.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An Okta API error.
#[derive(Debug, Clone)]
pub struct OktaError {
    pub status: StatusCode,
    pub code: &'static str,
    pub summary: String,
    pub causes: Vec<String>,
}

impl OktaError {
    pub fn new(status: StatusCode, code: &'static str, summary: impl Into<String>) -> Self {
        OktaError {
            status,
            code,
            summary: summary.into(),
            causes: Vec::new(),
        }
    }

    pub fn with_cause(mut self, cause: impl Into<String>) -> Self {
        self.causes.push(cause.into());
        self
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "E0000007",
            format!("Not found: Resource not found: {what}"),
        )
    }

    pub fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "E0000011",
            "Invalid token provided",
        )
    }

    pub fn access_denied() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "E0000006",
            "You do not have permission to perform the requested action",
        )
    }

    pub fn validation(cause: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "E0000001", "Api validation failed").with_cause(cause)
    }

    pub fn body_not_well_formed() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "E0000003",
            "The request body was not well-formed.",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "E0000022",
            "The endpoint does not support the provided HTTP method",
        )
    }

    pub fn path_not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "E0000008",
            format!("The requested path was not found: {path}"),
        )
    }

    pub fn rate_limited() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
        )
    }

    pub fn length_required() -> Self {
        Self::new(
            StatusCode::LENGTH_REQUIRED,
            "E0000019",
            "A POST or PUT request without a body must carry Content-Length: 0",
        )
    }
}

impl IntoResponse for OktaError {
    fn into_response(self) -> Response {
        let error_id = format!("oae{:021}", next_error_id());
        let body = json!({
            "errorCode": self.code,
            "errorSummary": self.summary,
            "errorLink": self.code,
            "errorId": error_id,
            "errorCauses": self.causes.iter().map(|c| json!({"errorSummary": c})).collect::<Vec<_>>(),
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::FORBIDDEN && self.code == "E0000006" {
            response.headers_mut().insert(
                "www-authenticate",
                HeaderValue::from_static(
                    "Bearer realm=\"IdpMyAccountAPI\", error=\"insufficient_scope\"",
                ),
            );
        }
        response
    }
}

fn next_error_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// An OAuth 2.0 error of the token endpoint (`{"error", "error_description"}`).
pub fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}
