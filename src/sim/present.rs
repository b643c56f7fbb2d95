//! Presenting an object as Okta would: the opposite of canonicalisation. A fixture holds
//! canonical files; Okta's responses carry `_links`, volatile timestamps, nulls, sets in no
//! particular order, plaintext secrets, and omit fields at their default. The simulator
//! answers like Okta so that a backup's canonicalisation is really exercised.
//!
//! Pure apart from reading the clock for `lastLogin`.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use serde_json::{Map, Value, json};

use crate::catalogue::{Catalogue, DERIVED_MEMBER, FieldPath, Kind, Segment, Transform};
use crate::snapshot::fingerprint;

/// Plaintext secrets of a fixture, keyed `<kind>/<id>/<field path>`.
pub type Secrets = BTreeMap<String, String>;

/// The time Okta's volatile timestamps are set to when the fixture has none.
const STAMP: &str = "2026-01-02T03:04:05.000Z";

/// `body` (canonical) as Okta would send it; `links` are the object's own `_links`.
pub fn okta_like(
    catalogue: &Catalogue,
    kind: &Kind,
    id: &str,
    body: Value,
    base: &str,
    secrets: &Secrets,
    mut links: Map<String, Value>,
) -> Value {
    let mut value = body;
    let Value::Object(map) = &mut value else {
        return value;
    };
    // Derived fields go back where Okta keeps them.
    let derived = map.remove(DERIVED_MEMBER);
    for field in &kind.derived {
        let Some(derived_value) = derived.as_ref().and_then(|d| d.get(&field.name)) else {
            continue;
        };
        match field.transform {
            Transform::ActivityBucket => {
                let days = match derived_value.as_str() {
                    Some("<35d") => Some(3),
                    Some("<45d") => Some(40),
                    Some("<90d") => Some(60),
                    Some(">=90d") => Some(200),
                    _ => None,
                };
                let last = days.map(|d| {
                    json!(
                        (Utc::now() - Duration::days(d))
                            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                            .to_string()
                    )
                });
                set_path(map, &field.from, last.unwrap_or(Value::Null));
            }
            Transform::LastSegment => {
                let target = kind
                    .references
                    .iter()
                    .find(|r| {
                        r.path.first_key() == Some(DERIVED_MEMBER)
                            && r.path.segments().get(1) == Some(&Segment::Key(field.name.clone()))
                    })
                    .and_then(|r| catalogue.kind(&r.kind));
                let value_text = derived_value.as_str().unwrap_or_default();
                let url =
                    match target.and_then(|t| t.primary().endpoints.get.as_ref().map(|g| (t, g))) {
                        Some((target, get)) => {
                            let mut path = get.path.clone();
                            let placeholders = path.matches('{').count();
                            for (name, source) in &target.primary().params {
                                // The target's own id, or its only parameter (a user schema's
                                // `schemaId`, which comes from its parent's link).
                                if source.depth == 0 || placeholders == 1 {
                                    path = path.replace(&format!("{{{name}}}"), value_text);
                                }
                            }
                            format!("{base}{path}")
                        }
                        None => format!("{base}/api/v1/{}/{value_text}", field.name),
                    };
                if field.from.first_key() == Some("_links")
                    && let Some(Segment::Key(relation)) = field.from.segments().get(1)
                {
                    links.insert(relation.clone(), json!({"href": url}));
                } else {
                    set_path(map, &field.from, json!(url));
                }
            }
            Transform::Copy => match each_split(&field.from) {
                // `_embedded.brands[*].id`: one embedded object per value.
                Some((outer, inner)) => {
                    let items: Vec<Value> = derived_value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|item| {
                            let mut element = Map::new();
                            set_path(&mut element, &inner, item.clone());
                            Value::Object(element)
                        })
                        .collect();
                    set_path(map, &outer, Value::Array(items));
                }
                None => set_path(map, &field.from, derived_value.clone()),
            },
        }
    }
    // Plaintext secrets where Okta returns them.
    // (One plaintext per field path: every `[*]` element of it gets the same one.)
    for secret in &kind.secret {
        let plaintext = secrets
            .get(&format!("{}/{id}/{secret}", kind.name))
            .cloned()
            .unwrap_or_else(|| "sim-secret-not-in-the-fixture".to_string());
        let mut object = Value::Object(std::mem::take(map));
        secret.for_each_mut(&mut object, &mut |found: &mut Value| {
            if fingerprint::is_fingerprint(found) {
                *found = json!(plaintext);
            }
        });
        if let Value::Object(back) = object {
            *map = back;
        }
    }
    // Okta may leave out a field at its default, unless its answer schema requires it.
    let index = catalogue.fields(&kind.name);
    for (path, default) in &kind.effective_defaults {
        let required = index
            .and_then(|i| i.response.get(&path.to_string()))
            .is_some_and(|info| info.required);
        if !required && get(map, path) == Some(default) {
            remove_path(map, path);
        }
    }
    // Sets in another order than the file's.
    for set in &kind.sets {
        if set.path.is_single()
            && let Some(Value::Array(items)) = get_mut(map, &set.path)
        {
            items.reverse();
        }
    }
    // Volatile timestamps the file does not keep.
    for path in &kind.volatile {
        let Some(Segment::Key(last)) = path.segments().last() else {
            continue;
        };
        let looks_like_time = [
            "Updated", "Changed", "Rotated", "Rotation", "Date", "Update", "Sync", "Push",
        ]
        .iter()
        .any(|suffix| last.ends_with(suffix));
        if path.is_single() && looks_like_time && get(map, path).is_none() {
            set_path(map, path, json!(STAMP));
        }
    }
    // Okta sends nulls for some absent optional fields (only where its spec allows a null).
    if let Some(index) = catalogue.fields(&kind.name) {
        let absent = index.response.iter().find(|(path, info)| {
            info.nullable
                && !path.contains('.')
                && !path.contains('[')
                && !path.starts_with('_')
                && path.as_str() != "*"
                && !info.read_only
                && !map.contains_key(path.as_str())
        });
        if let Some((path, _)) = absent {
            map.insert(path.clone(), Value::Null);
        }
    }
    map.insert("_links".to_string(), Value::Object(links));
    value
}

/// A path with one `[*]` split around it (`a.b[*].c` → `a.b`, `c`).
fn each_split(path: &FieldPath) -> Option<(FieldPath, FieldPath)> {
    let segments = path.segments();
    let at = segments.iter().position(|s| *s == Segment::Each)?;
    let inner = &segments[at + 1..];
    if inner.is_empty() || inner.contains(&Segment::Each) {
        return None;
    }
    Some((
        FieldPath::from_segments(segments[..at].to_vec()),
        FieldPath::from_segments(inner.to_vec()),
    ))
}

fn set_path(map: &mut Map<String, Value>, path: &FieldPath, value: Value) {
    let keys: Vec<&str> = path
        .segments()
        .iter()
        .filter_map(|s| match s {
            Segment::Key(k) => Some(k.as_str()),
            _ => None,
        })
        .collect();
    if keys.len() != path.segments().len() || keys.is_empty() {
        return;
    }
    let mut current = map;
    for key in &keys[..keys.len() - 1] {
        let entry = current
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(next) = entry else { return };
        current = next;
    }
    current.insert(keys[keys.len() - 1].to_string(), value);
}

/// The value at a `[*]`-free path of an object, without copying the object.
fn get<'m>(map: &'m Map<String, Value>, path: &FieldPath) -> Option<&'m Value> {
    let mut segments = path.segments().iter();
    let Some(Segment::Key(first)) = segments.next() else {
        return None;
    };
    let mut current = map.get(first)?;
    for segment in segments {
        let Segment::Key(key) = segment else {
            return None;
        };
        current = current.get(key.as_str())?;
    }
    Some(current)
}

fn get_mut<'m>(map: &'m mut Map<String, Value>, path: &FieldPath) -> Option<&'m mut Value> {
    let mut segments = path.segments().iter();
    let Some(Segment::Key(first)) = segments.next() else {
        return None;
    };
    let mut current = map.get_mut(first)?;
    for segment in segments {
        let Segment::Key(key) = segment else {
            return None;
        };
        current = current.get_mut(key.as_str())?;
    }
    Some(current)
}

fn remove_path(map: &mut Map<String, Value>, path: &FieldPath) {
    let segments = path.segments();
    let Some((Segment::Key(last), parents)) = segments.split_last() else {
        return;
    };
    if parents.is_empty() {
        map.remove(last);
        return;
    }
    let parent = FieldPath::from_segments(parents.to_vec());
    if let Some(Value::Object(parent)) = get_mut(map, &parent) {
        parent.remove(last);
    }
}
