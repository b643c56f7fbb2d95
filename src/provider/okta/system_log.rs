//! The System Log events behind configuration changes (NOTES.md §5): a bounded query
//! (`since` and `until`, so the list ends) filtered to the event types that change what a
//! backup holds, every page followed. Each event is kept with what "who changed what" needs:
//! when, what, who (actor), from where (client IP, user agent), on what (targets, with
//! Okta's `changeDetails`), its outcome and transaction.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::client::Client;
use super::error::ClientError;
use super::walk::encode;

/// The rate-limit bucket of the System Log.
pub const BUCKET: &str = "/api/v1/logs";

/// Event types that change configuration (NOTES.md §5), as `sw` prefixes, plus every
/// lifecycle and rule event.
const PREFIXES: [&str; 33] = [
    "application.",
    "app.oauth2.client.lifecycle.",
    "app.oauth2.client.privilege.",
    "app.oauth2.trusted_server.",
    "oauth2.as.",
    "oauth2.scope.",
    "oauth2.claim.",
    "group.",
    "policy.lifecycle.",
    "policy.rule.",
    "zone.",
    "system.idp.",
    "security.trusted_origin.",
    "security.authenticator.",
    "security.behavior.",
    "device.assurance.",
    "user.lifecycle.",
    "user.account.privilege.",
    "user.account.update_profile",
    "user.mfa.factor.",
    "iam.",
    "event_hook.",
    "inline_hook.",
    "system.feature.",
    "system.api_token.",
    "system.log_stream.",
    "system.brand.",
    "system.theme.",
    "system.email.",
    "system.custom_url_domain.",
    "directory.",
    "system.captcha.",
    "system.org.",
];

/// The `filter` of the query.
pub fn filter() -> String {
    let mut clauses: Vec<String> = PREFIXES
        .iter()
        .map(|p| format!("eventType sw \"{p}\""))
        .collect();
    clauses.push("eventType co \".lifecycle.\"".into());
    clauses.push("eventType co \".rule.\"".into());
    clauses.join(" or ")
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The configuration-change events published in `[since, until]`, oldest first.
pub async fn changes(
    client: &Client,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<Value>, ClientError> {
    let mut url = Some(client.org().join(&format!(
        "/api/v1/logs?since={}&until={}&sortOrder=ASCENDING&limit=1000&filter={}",
        encode(&time(since)),
        encode(&time(until)),
        encode(&filter())
    )));
    let mut events = Vec::new();
    while let Some(current) = url.take() {
        let answer = client.get(&current, BUCKET).await?;
        let page = answer.body.as_array().cloned().unwrap_or_default();
        let empty = page.is_empty();
        events.extend(page.iter().map(trim));
        // A bounded query ends; an empty page ends it too, whatever the links say.
        url = answer
            .next
            .filter(|next| !empty && client.org().owns(next) && *next != current);
    }
    events.sort_by(|a, b| {
        (a["published"].as_str(), a["uuid"].as_str())
            .cmp(&(b["published"].as_str(), b["uuid"].as_str()))
    });
    events.dedup_by(|a, b| a["uuid"] == b["uuid"] && !a["uuid"].is_null());
    Ok(events)
}

/// The parts of an event kept in a snapshot.
fn trim(event: &Value) -> Value {
    let mut out = Map::new();
    for key in [
        "uuid",
        "published",
        "eventType",
        "displayMessage",
        "severity",
        "actor",
        "outcome",
        "target",
        "transaction",
    ] {
        if let Some(value) = event.get(key).filter(|v| !v.is_null()) {
            out.insert(key.to_string(), value.clone());
        }
    }
    if let Some(client) = event.get("client") {
        let mut kept = Map::new();
        for (key, path) in [
            ("ipAddress", "/ipAddress"),
            ("userAgent", "/userAgent/rawUserAgent"),
            ("zone", "/zone"),
        ] {
            if let Some(value) = client.pointer(path).filter(|v| !v.is_null()) {
                kept.insert(key.to_string(), value.clone());
            }
        }
        out.insert("client".into(), Value::Object(kept));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_names_every_prefix() {
        let filter = filter();
        assert!(filter.starts_with("eventType sw \"application.\" or "));
        assert!(filter.contains("eventType co \".lifecycle.\""));
        assert_eq!(filter.matches(" or ").count(), PREFIXES.len() + 1);
    }

    #[test]
    fn events_keep_who_what_when_and_where() {
        let event = serde_json::json!({
            "uuid": "u1", "published": "2026-11-23T10:00:00.000Z", "eventType": "policy.rule.update",
            "actor": {"id": "00u1", "displayName": "Ada"}, "legacyEventType": null,
            "client": {"ipAddress": "10.0.0.1", "userAgent": {"rawUserAgent": "curl", "os": "x"}, "device": "Computer"},
            "debugContext": {"debugData": {"requestUri": "/api/v1/policies"}},
            "target": [{"id": "0pr1", "type": "PolicyRule"}]
        });
        let kept = trim(&event);
        assert_eq!(
            kept["client"],
            serde_json::json!({"ipAddress": "10.0.0.1", "userAgent": "curl"})
        );
        assert_eq!(kept["actor"]["displayName"], "Ada");
        assert!(kept.get("debugContext").is_none() && kept.get("legacyEventType").is_none());
    }
}
