//! Who made a change: the System Log events saved with the snapshots between the two sides
//! (`.butterfly/changes/*.json`, written by backups) whose target is the changed resource, or
//! for a relationship file (a group's members, an app's assignments) the parent, for the
//! membership and assignment events of the members that changed.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::ResourceChange;

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub alternate_id: String,
    pub display_name: String,
}

/// One System Log event, as a diff shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub published: String,
    pub event_type: String,
    pub actor: Actor,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub uuid: String,
}

impl Event {
    fn from_log(event: &Value) -> Event {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let optional = |v: &Value| v.as_str().map(str::to_string);
        let actor = &event["actor"];
        Event {
            published: text(&event["published"]),
            event_type: text(&event["eventType"]),
            actor: Actor {
                id: text(&actor["id"]),
                kind: text(&actor["type"]),
                alternate_id: text(&actor["alternateId"]),
                display_name: text(&actor["displayName"]),
            },
            client_ip: optional(&event["client"]["ipAddress"]),
            outcome: optional(&event["outcome"]["result"]),
            message: optional(&event["displayMessage"]),
            uuid: text(&event["uuid"]),
        }
    }

    /// `jane@acme.com` (or the actor's name or id).
    pub fn who(&self) -> &str {
        [
            &self.actor.alternate_id,
            &self.actor.display_name,
            &self.actor.id,
        ]
        .into_iter()
        .find(|s| !s.is_empty())
        .map_or("unknown actor", String::as_str)
    }
}

/// The events of a diff, by target id.
pub struct Events {
    events: Vec<(Event, Vec<String>)>,
    by_target: HashMap<String, Vec<usize>>,
}

impl Events {
    /// Indexes `events` (the System Log's JSON), oldest first.
    pub fn new(events: &[Value]) -> Events {
        let mut sorted: Vec<&Value> = events.iter().collect();
        sorted.sort_by(|a, b| {
            (a["published"].as_str(), a["uuid"].as_str())
                .cmp(&(b["published"].as_str(), b["uuid"].as_str()))
        });
        sorted.dedup_by(|a, b| a["uuid"] == b["uuid"] && !a["uuid"].is_null());
        let mut out = Events {
            events: Vec::new(),
            by_target: HashMap::new(),
        };
        for (index, event) in sorted.into_iter().enumerate() {
            let targets: Vec<String> = event["target"]
                .as_array()
                .map(|targets| {
                    targets
                        .iter()
                        .filter_map(|t| t["id"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            for target in &targets {
                out.by_target.entry(target.clone()).or_default().push(index);
            }
            out.events.push((Event::from_log(event), targets));
        }
        out
    }

    /// The events behind one resource change.
    pub fn for_change(&self, change: &ResourceChange) -> Vec<Event> {
        if let Some(id) = &change.id {
            return self.targeting(id, |_| true);
        }
        // A relationship file: events on the parent that name a member that changed.
        let Some(parent) = &change.parent else {
            return Vec::new();
        };
        let members: std::collections::HashSet<&str> = change
            .members
            .iter()
            .map(|m| m.member.id.as_str())
            .collect();
        self.targeting(&parent.id, |targets| {
            targets.iter().any(|t| members.contains(t.as_str()))
        })
    }

    fn targeting(&self, id: &str, also: impl Fn(&[String]) -> bool) -> Vec<Event> {
        self.by_target
            .get(id)
            .into_iter()
            .flatten()
            .filter(|&&i| also(&self.events[i].1))
            .map(|&i| self.events[i].0.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_are_found_by_target_oldest_first_without_repeats() {
        let raw = vec![
            json!({"uuid": "2", "published": "2026-11-23T10:00:02.000Z", "eventType": "policy.rule.update",
                "actor": {"id": "00u1", "type": "User", "alternateId": "jane@acme.com", "displayName": "Jane"},
                "client": {"ipAddress": "203.0.113.9"}, "outcome": {"result": "SUCCESS"},
                "target": [{"id": "0pr1"}, {"id": "00p1"}]}),
            json!({"uuid": "1", "published": "2026-11-23T10:00:01.000Z", "eventType": "policy.rule.add",
                "actor": {"id": "0oa1", "type": "PublicClientApp"}, "target": [{"id": "0pr1"}]}),
            json!({"uuid": "2", "published": "2026-11-23T10:00:02.000Z", "target": [{"id": "0pr1"}]}),
        ];
        let events = Events::new(&raw);
        let found = events.targeting("0pr1", |_| true);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].event_type, "policy.rule.add");
        assert_eq!(found[0].who(), "0oa1");
        assert_eq!(found[1].who(), "jane@acme.com");
        assert_eq!(found[1].client_ip.as_deref(), Some("203.0.113.9"));
        assert!(events.targeting("nobody", |_| true).is_empty());
    }
}
