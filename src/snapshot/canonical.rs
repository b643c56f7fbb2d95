//! Canonical JSON: what an Okta object becomes in an org repository. Derived fields are
//! extracted (an id inside `_links`, the user activity bucket); volatile fields, and `_links`,
//! `_embedded` and nulls at every depth, are dropped; absent fields that have a default get it
//! (where their parent object exists); set-like arrays are sorted; secrets are replaced by keyed
//! fingerprints. The text has sorted keys, two-space indentation and a
//! trailing newline.
//!
//! Pure: data in, data out. Invariant: canonicalising a canonical object changes nothing.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::fingerprint::{self, FingerprintKey, UNKEYED};
use crate::catalogue::{DERIVED_MEMBER, FieldPath, Kind, Segment, Shape, Transform};

/// What canonicalisation needs besides the object.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The org's fingerprint key; without it secrets become `$fingerprint:unkeyed`.
    pub key: Option<&'a FingerprintKey>,
    /// The backup's time, which the user activity bucket is relative to.
    pub now: DateTime<Utc>,
}

/// The canonical form of one object of `kind` as Okta returned it.
pub fn canonicalize(kind: &Kind, raw: &Value, context: &Context<'_>) -> Value {
    let mut value = raw.clone();
    derive(kind, raw, &mut value, context);
    for path in &kind.volatile {
        remove_path(&mut value, path.segments());
    }
    remove_hypermedia_and_nulls(&mut value);
    fill_defaults(&mut value, &kind.effective_defaults);
    for secret in &kind.secret {
        let field = secret.to_string();
        secret.for_each_mut(&mut value, &mut |found: &mut Value| {
            if fingerprint::is_fingerprint(found) {
                return;
            }
            *found = Value::String(match context.key {
                Some(key) => key.fingerprint(&kind.name, &field, found),
                None => UNKEYED.to_string(),
            });
        });
    }
    for set in &kind.sets {
        set.path.for_each_mut(&mut value, &mut |found: &mut Value| {
            if let Value::Array(items) = found {
                sort_set(items, set.key.as_ref());
            }
        });
    }
    if let Shape::Relationship { keep, .. } = &kind.shape
        && !keep.is_empty()
    {
        value = FieldPath::project(&value, keep);
    }
    value
}

/// The canonical form of a relationship file: every member canonicalised, sorted by member id.
pub fn canonicalize_members(kind: &Kind, members: &[Value], context: &Context<'_>) -> Value {
    let mut items: Vec<Value> = members
        .iter()
        .map(|m| canonicalize(kind, m, context))
        .collect();
    sort_members(kind, &mut items);
    Value::Array(items)
}

/// Sorts the canonical members of a relationship file as [`canonicalize_members`] does.
pub fn sort_members(kind: &Kind, members: &mut [Value]) {
    let member = match &kind.shape {
        Shape::Relationship { member, .. } => Some(member),
        _ => None,
    };
    sort_set(members, member);
}

/// The text of a canonical file: sorted keys, two-space indentation, trailing newline.
pub fn to_text(value: &Value) -> String {
    // serde_json's map is ordered by key (no `preserve_order` feature), and its pretty printer
    // indents by two spaces and writes UTF-8 as it is.
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_string());
    text.push('\n');
    text
}

/// The activity bucket of a last sign-in time relative to `now`.
pub fn activity_bucket(last: Option<&str>, now: DateTime<Utc>) -> &'static str {
    let Some(last) = last.and_then(|t| DateTime::parse_from_rfc3339(t).ok()) else {
        return "never";
    };
    let days = (now - last.with_timezone(&Utc)).num_days();
    match days {
        d if d < 35 => "<35d",
        d if d < 45 => "<45d",
        d if d < 90 => "<90d",
        _ => ">=90d",
    }
}

fn derive(kind: &Kind, raw: &Value, value: &mut Value, context: &Context<'_>) {
    if kind.derived.is_empty() {
        return;
    }
    let mut derived = value
        .get(DERIVED_MEMBER)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for field in &kind.derived {
        let sources = field.from.select(raw);
        let computed = match field.transform {
            Transform::ActivityBucket => {
                // An absent source on an already canonical object keeps the bucket it has.
                if sources.is_empty() && derived.contains_key(&field.name) {
                    continue;
                }
                Some(Value::String(
                    activity_bucket(sources.first().and_then(|v| v.as_str()), context.now)
                        .to_string(),
                ))
            }
            Transform::LastSegment | Transform::Copy => {
                let mapped: Vec<Value> = sources
                    .iter()
                    .filter_map(|v| match field.transform {
                        Transform::LastSegment => v
                            .as_str()
                            .and_then(|s| s.trim_end_matches('/').rsplit('/').next())
                            .filter(|s| !s.is_empty())
                            .map(|s| Value::String(s.to_string())),
                        _ => Some((*v).clone()),
                    })
                    .collect();
                if field.from.is_single() {
                    mapped.into_iter().next()
                } else if mapped.is_empty() {
                    None
                } else {
                    Some(Value::Array(mapped))
                }
            }
        };
        if let Some(computed) = computed {
            derived.insert(field.name.clone(), computed);
        }
    }
    if let Value::Object(map) = value
        && !derived.is_empty()
    {
        map.insert(DERIVED_MEMBER.to_string(), Value::Object(derived));
    }
}

fn remove_path(value: &mut Value, segments: &[Segment]) {
    match segments {
        [] => {}
        [Segment::Key(key)] => {
            if let Value::Object(map) = value {
                map.remove(key);
            }
        }
        [first, rest @ ..] => match (first, value) {
            (Segment::Key(key), Value::Object(map)) => {
                if let Some(child) = map.get_mut(key) {
                    let was_empty = child.as_object().is_some_and(Map::is_empty);
                    remove_path(child, rest);
                    // An object that held only volatile fields goes with them (an app's
                    // `credentials.signing` of rotation times): it said nothing stable.
                    if !was_empty && child.as_object().is_some_and(Map::is_empty) {
                        map.remove(key);
                    }
                }
            }
            (Segment::Each, Value::Array(items)) => {
                for item in items {
                    remove_path(item, rest);
                }
            }
            (Segment::AnyKey, Value::Object(map)) => {
                for child in map.values_mut() {
                    remove_path(child, rest);
                }
            }
            _ => {}
        },
    }
}

/// Fills in what Okta assumes for an absent field, where the field's parent object exists, so
/// a file does not change when Okta starts or stops sending a default.
pub fn fill_defaults(value: &mut Value, defaults: &[(FieldPath, Value)]) {
    for (path, default) in defaults {
        if let Some((Segment::Key(last), parents)) = path.segments().split_last() {
            fill_at(value, parents, last, default);
        }
    }
}

fn fill_at(value: &mut Value, parents: &[Segment], last: &str, default: &Value) {
    match parents.split_first() {
        None => {
            if let Value::Object(map) = value
                && !map.contains_key(last)
            {
                map.insert(last.to_string(), default.clone());
            }
        }
        Some((Segment::Key(key), rest)) => {
            if let Some(child) = value.get_mut(key.as_str())
                && child.is_object()
            {
                fill_at(child, rest, last, default);
            }
        }
        Some(_) => {}
    }
}

/// Drops HAL members (`_links`, `_link`, `_embedded`) and null members at every depth: Okta
/// nests hypermedia (a profile mapping's `source._links`) and may omit or send nulls at will.
fn remove_hypermedia_and_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, v| {
                !v.is_null() && !matches!(key.as_str(), "_links" | "_link" | "_embedded")
            });
            for child in map.values_mut() {
                remove_hypermedia_and_nulls(child);
            }
        }
        Value::Array(items) => {
            for item in items {
                remove_hypermedia_and_nulls(item);
            }
        }
        _ => {}
    }
}

/// Sorts an unordered array: by `key` for objects (ties by the whole value), by value otherwise.
fn sort_set(items: &mut [Value], key: Option<&FieldPath>) {
    let sort_key = |item: &Value| -> (String, String) {
        let by_key = key
            .and_then(|k| k.get(item))
            .map(scalar_text)
            .unwrap_or_default();
        (by_key, item.to_string())
    };
    items.sort_by_cached_key(sort_key);
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;
    use proptest::prelude::*;
    use serde_json::json;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn kind(name: &str) -> &'static Kind {
        Catalogue::okta().unwrap().kind(name).unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn an_object_of_only_volatile_fields_goes_but_an_empty_one_stays() {
        let context = Context {
            key: None,
            now: now(),
        };
        let app = json!({
            "id": "0oa1", "label": "A", "name": "bookmark", "signOnMode": "BOOKMARK",
            "credentials": {"signing": {"lastRotated": "2026-01-02T03:04:05.000Z", "nextRotation": "2026-01-02T03:04:05.000Z"}},
            "settings": {"app": {}}
        });
        let out = canonicalize(kind("app"), &app, &context);
        assert_eq!(out.get("credentials"), None, "{out}");
        assert_eq!(out.pointer("/settings/app"), Some(&json!({})), "{out}");
        assert_eq!(canonicalize(kind("app"), &out, &context), out);
    }

    #[test]
    fn a_group_rule_loses_noise_and_sorts_its_sets() {
        let raw = json!({
            "id": "0pr1", "name": "Engineering - auto", "status": "ACTIVE", "type": "group_rule",
            "created": "2024-01-01T00:00:00.000Z", "lastUpdated": "2026-11-01T00:00:00.000Z",
            "conditions": {"expression": {"type": "urn:okta:expression:1.0", "value": "user.department==\"Eng\""},
                           "people": {"users": {"exclude": []}, "groups": null}},
            "actions": {"assignUserToGroups": {"groupIds": ["00g2", "00g1"]}},
            "_links": {"self": {"href": "https://x/api/v1/groups/rules/0pr1"}}
        });
        let canonical = canonicalize(
            kind("group_rule"),
            &raw,
            &Context {
                key: None,
                now: now(),
            },
        );
        assert_eq!(
            canonical,
            json!({
                "id": "0pr1", "name": "Engineering - auto", "status": "ACTIVE", "type": "group_rule",
                "created": "2024-01-01T00:00:00.000Z",
                "conditions": {"expression": {"type": "urn:okta:expression:1.0", "value": "user.department==\"Eng\""},
                               "people": {"users": {"exclude": []}}},
                "actions": {"assignUserToGroups": {"groupIds": ["00g1", "00g2"]}}
            })
        );
        let text = to_text(&canonical);
        assert!(
            text.starts_with("{\n  \"actions\": {\n    \"assignUserToGroups\""),
            "{text}"
        );
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn an_app_keeps_its_access_policy_and_fingerprints_its_secret() {
        let raw = json!({
            "id": "0oa1", "label": "Portal", "signOnMode": "OPENID_CONNECT",
            "credentials": {"oauthClient": {"client_id": "0oa1", "client_secret": "very-secret"}},
            "_links": {"accessPolicy": {"href": "https://x/api/v1/policies/rst9"}}
        });
        let key = FingerprintKey::from_hex(KEY).unwrap();
        let keyed = canonicalize(
            kind("app"),
            &raw,
            &Context {
                key: Some(&key),
                now: now(),
            },
        );
        assert_eq!(keyed["_derived"]["accessPolicy"], "rst9");
        assert!(keyed.get("_links").is_none());
        let secret = keyed["credentials"]["oauthClient"]["client_secret"]
            .as_str()
            .unwrap();
        assert!(secret.starts_with("$fingerprint:hmac-sha256:"));
        assert!(!to_text(&keyed).contains("very-secret"));
        let unkeyed = canonicalize(
            kind("app"),
            &raw,
            &Context {
                key: None,
                now: now(),
            },
        );
        assert_eq!(
            unkeyed["credentials"]["oauthClient"]["client_secret"],
            UNKEYED
        );
    }

    #[test]
    fn a_users_last_sign_in_becomes_an_activity_bucket() {
        let user = kind("user");
        let context = Context {
            key: None,
            now: now(),
        };
        for (last, bucket) in [
            (json!("2026-11-20T08:00:00.000Z"), "<35d"),
            (json!("2026-10-10T08:00:00.000Z"), "<45d"),
            (json!("2026-09-01T08:00:00.000Z"), "<90d"),
            (json!("2025-01-01T08:00:00.000Z"), ">=90d"),
            (Value::Null, "never"),
        ] {
            let raw = json!({"id": "00u1", "profile": {"login": "a@example.com"}, "lastLogin": last,
                             "activated": "2024-01-01T00:00:00.000Z", "statusChanged": "2024-01-01T00:00:00.000Z"});
            let canonical = canonicalize(user, &raw, &context);
            assert_eq!(canonical["_derived"]["activity"], bucket);
            assert!(canonical.get("lastLogin").is_none());
            // Stable timestamps are kept (issue #2's fixed choice).
            assert!(
                canonical.get("activated").is_some() && canonical.get("statusChanged").is_some()
            );
        }
    }

    #[test]
    fn relationship_members_are_projected_and_sorted() {
        let members = vec![
            json!({"id": "00u2", "profile": {"login": "b@x"}, "_links": {}}),
            json!({"id": "00u1", "profile": {"login": "a@x"}}),
        ];
        let canonical = canonicalize_members(
            kind("group_membership"),
            &members,
            &Context {
                key: None,
                now: now(),
            },
        );
        assert_eq!(canonical, json!([{"id": "00u1"}, {"id": "00u2"}]));
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let keys = prop::sample::select(vec![
            "id",
            "name",
            "label",
            "status",
            "lastUpdated",
            "lastLogin",
            "created",
            "_links",
            "_embedded",
            "href",
            "accessPolicy",
            "credentials",
            "oauthClient",
            "client_secret",
            "settings",
            "features",
            "actions",
            "assignUserToGroups",
            "groupIds",
            "conditions",
            "people",
            "groups",
            "include",
            "exclude",
            "profile",
            "login",
            "type",
            "priority",
            "value",
            "_derived",
            "activity",
        ]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            "[a-z0-9/:.]{0,12}".prop_map(Value::String),
            Just(json!("https://x/api/v1/policies/rst1")),
            Just(json!("2026-01-01T00:00:00.000Z")),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map(keys.clone(), inner, 0..6).prop_map(|m| Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
                )),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn canonicalising_twice_is_canonicalising_once(raw in json_value()) {
            let key = FingerprintKey::from_hex(KEY).unwrap();
            let context = Context { key: Some(&key), now: now() };
            for kind in Catalogue::okta().unwrap().kinds() {
                let once = canonicalize(kind, &raw, &context);
                let twice = canonicalize(kind, &once, &context);
                prop_assert_eq!(&once, &twice, "kind {}", kind.name);
            }
        }
    }
}
