//! The System Log (`GET /api/v1/logs`): every write the simulator accepts appends an event
//! (actor, eventType, target, outcome, client IP, published), queried with `since`, `until`,
//! `filter`, `q`, `sortOrder`, `limit` and `after` as in Okta. A query without `until` in
//! ascending order is a polling query: it always answers with a `next` link, even when empty.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::error::OktaError;

/// One event to append.
pub struct Event {
    pub event_type: String,
    pub actor: Value,
    pub targets: Vec<Value>,
    pub message: String,
    /// `transaction.detail` (e.g. the group rule behind a membership change).
    pub transaction_detail: Value,
}

/// The events of the simulated org, oldest first.
#[derive(Debug, Default)]
pub struct SystemLog {
    events: Mutex<Vec<Value>>,
}

/// Okta's event type for a write of `kind` (NOTES.md §5), or a `<kind>.lifecycle.<action>`.
pub fn event_type(kind: &str, action: &str) -> String {
    let verb = |create: &str, update: &str, delete: &str| match action {
        "create" => create.to_string(),
        "update" => update.to_string(),
        "delete" => delete.to_string(),
        other => other.to_string(),
    };
    match kind {
        "user" => match action {
            "update" => "user.account.update_profile".into(),
            "delete" => "user.lifecycle.delete.completed".into(),
            other => format!("user.lifecycle.{other}"),
        },
        "group" => match action {
            "update" => "group.profile.update".into(),
            other => format!("group.lifecycle.{other}"),
        },
        "group_membership" => format!("group.user_membership.{}", verb("add", "add", "remove")),
        "app" => format!("application.lifecycle.{action}"),
        "app_user_assignment" => format!(
            "application.user_membership.{}",
            verb("add", "update", "remove")
        ),
        "policy" => format!("policy.lifecycle.{action}"),
        "policy_rule" => format!("policy.rule.{}", verb("add", "update", "delete")),
        "network_zone" => format!("zone.{action}"),
        "event_hook" | "inline_hook" => format!("{kind}.{}d", action.trim_end_matches('e')),
        "authorization_server" => format!("oauth2.as.{}d", action.trim_end_matches('e')),
        other => format!("{other}.lifecycle.{action}"),
    }
}

impl SystemLog {
    /// Appends one successful event.
    pub fn record(&self, event_type: String, actor: Value, target: Value, message: String) {
        self.record_event(Event {
            event_type,
            actor,
            targets: vec![target],
            message,
            transaction_detail: json!({}),
        });
    }

    /// Appends one successful event with several targets and a transaction detail.
    pub fn record_event(&self, event: Event) {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let number = events.len() as u64 + 1;
        let published = Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        events.push(json!({
            "uuid": format!("{:08x}-sim0-4000-8000-{:012x}", number.wrapping_mul(2654435761) as u32, number),
            "published": published,
            "eventType": event.event_type,
            "version": "0",
            "severity": "INFO",
            "displayMessage": event.message,
            "actor": event.actor,
            "client": {"ipAddress": "127.0.0.1", "userAgent": {"rawUserAgent": "butterfly-sim"}},
            "outcome": {"result": "SUCCESS"},
            "target": event.targets,
            "transaction": {"type": "WEB", "id": format!("sim{number:017}"), "detail": event.transaction_detail},
        }));
    }

    /// Answers a query: the events and, when there is one, the `next` URL.
    pub fn query(
        &self,
        query: &HashMap<String, String>,
        base: &str,
    ) -> Result<(Vec<Value>, Option<String>), OktaError> {
        let time = |name: &str| -> Result<Option<DateTime<Utc>>, OktaError> {
            match query.get(name) {
                None => Ok(None),
                Some(text) => DateTime::parse_from_rfc3339(text)
                    .map(|t| Some(t.with_timezone(&Utc)))
                    .map_err(|_| {
                        OktaError::new(
                            axum::http::StatusCode::BAD_REQUEST,
                            "E0000053",
                            "Invalid value for parameter",
                        )
                        .with_cause(format!("{name}: not an ISO 8601 time: {text}"))
                    }),
            }
        };
        let until = time("until")?;
        let since =
            time("since")?.unwrap_or_else(|| until.unwrap_or_else(Utc::now) - Duration::days(7));
        let descending = query.get("sortOrder").is_some_and(|s| s == "DESCENDING");
        let limit = match query.get("limit") {
            Some(text) => text
                .parse::<usize>()
                .map_err(|_| {
                    OktaError::new(
                        axum::http::StatusCode::BAD_REQUEST,
                        "E0000053",
                        "Invalid value for parameter",
                    )
                    .with_cause("limit")
                })?
                .min(1000),
            None => 100,
        };
        let keywords: Vec<String> = query
            .get("q")
            .map(|q| q.split_whitespace().map(str::to_lowercase).collect())
            .unwrap_or_default();
        let filter = match query.get("filter") {
            None => None,
            Some(text) => Some(
                super::filter::parse(text, super::filter::Dialect::SystemLog).map_err(|e| {
                    OktaError::new(
                        axum::http::StatusCode::BAD_REQUEST,
                        "E0000053",
                        "Invalid value for parameter",
                    )
                    .with_cause(format!("filter: {e}"))
                })?,
            ),
        };
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let mut matching: Vec<&Value> = events
            .iter()
            .filter(|event| {
                let published = event["published"]
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc));
                published.is_some_and(|p| p >= since && until.is_none_or(|u| p <= u))
            })
            .filter(|event| filter.as_ref().is_none_or(|f| f.matches(event)))
            .filter(|event| {
                let text = event.to_string().to_lowercase();
                keywords.iter().all(|k| text.contains(k))
            })
            .collect();
        if descending {
            matching.reverse();
        }
        let start = match query.get("after") {
            Some(after) => matching
                .iter()
                .position(|e| e["uuid"].as_str() == Some(after.as_str()))
                .map_or(matching.len(), |at| at + 1),
            None => 0,
        };
        let page: Vec<Value> = matching
            .iter()
            .skip(start)
            .take(limit)
            .map(|e| (*e).clone())
            .collect();
        let polling = until.is_none() && !descending;
        let more = start + page.len() < matching.len();
        let next = if polling || more {
            let cursor = page
                .last()
                .and_then(|e| e["uuid"].as_str().map(str::to_string))
                .or_else(|| query.get("after").cloned());
            let mut params: Vec<(String, String)> = query
                .iter()
                .filter(|(k, _)| k.as_str() != "after")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if let Some(cursor) = cursor {
                params.push(("after".into(), cursor));
            }
            params.sort();
            let encoded: Vec<String> = params
                .iter()
                .map(|(k, v)| format!("{}={}", super::route::encode(k), super::route::encode(v)))
                .collect();
            Some(format!("{base}/api/v1/logs?{}", encoded.join("&")))
        } else {
            None
        };
        Ok((page, next))
    }
}
