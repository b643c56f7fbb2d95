//! What a handler answers when something goes wrong: a status and a message that names the
//! thing, as a JSON body for the API (`{"error": {"status": 403, "message": "…"}}`) or a small
//! page for a browser. Internal errors are logged with their cause and answered without it.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::ops::connections::ConnectionsError;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ServerError {
    pub status: StatusCode,
    pub message: String,
    pub json: bool,
}

impl ServerError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ServerError {
        ServerError {
            status,
            message: message.into(),
            json: false,
        }
    }

    pub fn forbidden(message: impl Into<String>) -> ServerError {
        ServerError::new(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found(message: impl Into<String>) -> ServerError {
        ServerError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn bad_request(message: impl Into<String>) -> ServerError {
        ServerError::new(StatusCode::BAD_REQUEST, message)
    }

    /// A server fault: logged whole, answered without its detail.
    pub fn internal(detail: impl std::fmt::Display) -> ServerError {
        tracing::error!(error = %detail, "internal error");
        ServerError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the server failed; the operator's log has the cause",
        )
    }

    pub fn with_json(mut self, json: bool) -> ServerError {
        self.json = json;
        self
    }
}

impl From<StoreError> for ServerError {
    fn from(error: StoreError) -> ServerError {
        match error {
            StoreError::Conflict { what } => ServerError::new(StatusCode::CONFLICT, what),
            StoreError::EmailTaken { email, .. } => ServerError::new(
                StatusCode::CONFLICT,
                format!("{email} already has an account"),
            ),
            StoreError::Password(e) => ServerError::bad_request(e.to_string()),
            other => ServerError::internal(other),
        }
    }
}

impl From<ConnectionsError> for ServerError {
    fn from(error: ConnectionsError) -> ServerError {
        match error {
            ConnectionsError::Invalid { .. } | ConnectionsError::Upstream(_) => {
                ServerError::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string())
            }
            ConnectionsError::NotFound(_) => ServerError::not_found(error.to_string()),
            ConnectionsError::PlanLimit { .. } => {
                ServerError::new(StatusCode::PAYMENT_REQUIRED, error.to_string())
            }
            ConnectionsError::Client(_) => {
                ServerError::new(StatusCode::BAD_GATEWAY, error.to_string())
            }
            ConnectionsError::Store(e) => e.into(),
            ConnectionsError::Repository { .. } => ServerError::internal(error),
        }
    }
}

impl From<crate::ops::schedules::SchedulesError> for ServerError {
    fn from(error: crate::ops::schedules::SchedulesError) -> ServerError {
        use crate::ops::schedules::SchedulesError;
        match error {
            SchedulesError::Invalid(_) | SchedulesError::TooFrequent { .. } => {
                ServerError::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string())
            }
            SchedulesError::Connection(e) => e.into(),
            SchedulesError::Store(e) => e.into(),
        }
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        if self.json {
            let body = serde_json::json!({
                "error": { "status": self.status.as_u16(), "message": self.message }
            });
            return (self.status, Json(body)).into_response();
        }
        let reason = self.status.canonical_reason().unwrap_or("Error");
        let page = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{reason} · Butterfly</title><link rel=\"stylesheet\" href=\"/static/style.css\"></head>\
             <body><header class=\"top\"><nav aria-label=\"Main\"><a class=\"brand\" href=\"/\">Butterfly</a></nav></header>\
             <main><h1>{reason}</h1><p class=\"error\" role=\"alert\">{}</p><p><a href=\"/\">Back to your connections</a></p></main></body></html>\n",
            escape(&self.message)
        );
        (self.status, Html(page)).into_response()
    }
}
