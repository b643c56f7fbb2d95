//! `FieldPath`: the one notation the catalogue uses to point into a resource's JSON
//! (`actions.assignUserToGroups.groupIds[*]`, `profile.login`, `settings.*`).
//!
//! Owns parsing, display and evaluation of such paths against `serde_json::Value`.
//! Must not know about kinds or Okta: it is plain JSON navigation.

use std::fmt;

use serde_json::Value;

/// One step of a [`FieldPath`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    /// An object member, by name.
    Key(String),
    /// Every element of an array (`[*]`).
    Each,
    /// Every member of an object whose members are not named in advance (`*`), as in a
    /// user profile's custom attributes. Only the field index uses it.
    AnyKey,
}

/// A parsed path such as `conditions.people.groups.include[*]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath {
    segments: Vec<Segment>,
}

/// Why a path could not be parsed; the caller adds the file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid field path `{path}`: {reason}")]
pub struct FieldPathError {
    pub path: String,
    pub reason: &'static str,
}

impl FieldPath {
    /// Parses `a.b[*].c`. Keys may hold any character but `.`, `[`, `]` and whitespace;
    /// `$schema` and `resource-sets` are valid keys.
    pub fn parse(text: &str) -> Result<Self, FieldPathError> {
        let error = |reason| FieldPathError {
            path: text.to_string(),
            reason,
        };
        if text.is_empty() {
            return Err(error("empty path"));
        }
        let mut segments = Vec::new();
        for part in text.split('.') {
            if part.is_empty() {
                return Err(error(
                    "empty segment (two dots, or a leading or trailing dot)",
                ));
            }
            let (key, mut rest) = match part.find('[') {
                Some(at) => (&part[..at], &part[at..]),
                None => (part, ""),
            };
            if key.is_empty() && segments.is_empty() {
                return Err(error("a path must start with a key"));
            }
            if key.chars().any(|c| c.is_whitespace() || c == ']') {
                return Err(error("keys cannot contain whitespace or `]`"));
            }
            if !key.is_empty() {
                segments.push(if key == "*" {
                    Segment::AnyKey
                } else {
                    Segment::Key(key.to_string())
                });
            }
            while !rest.is_empty() {
                match rest.strip_prefix("[*]") {
                    Some(after) => {
                        segments.push(Segment::Each);
                        rest = after;
                    }
                    None => return Err(error("only `[*]` may follow a key")),
                }
            }
        }
        Ok(FieldPath { segments })
    }

    pub fn from_segments(segments: Vec<Segment>) -> Self {
        FieldPath { segments }
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The first key, e.g. `_links` for `_links.accessPolicy.href`.
    pub fn first_key(&self) -> Option<&str> {
        match self.segments.first() {
            Some(Segment::Key(key)) => Some(key),
            _ => None,
        }
    }

    /// A new path with `segment` appended.
    pub fn child(&self, segment: Segment) -> FieldPath {
        let mut segments = self.segments.clone();
        segments.push(segment);
        FieldPath { segments }
    }

    /// True when `self` is `other` or lies inside it (`a.b` starts with `a`).
    pub fn starts_with(&self, other: &FieldPath) -> bool {
        self.segments.starts_with(&other.segments)
    }

    /// Every value this path reaches in `value` (none when a step is missing).
    pub fn select<'v>(&self, value: &'v Value) -> Vec<&'v Value> {
        let mut current = vec![value];
        for segment in &self.segments {
            let mut next = Vec::new();
            for value in current {
                match (segment, value) {
                    (Segment::Key(key), Value::Object(map)) => next.extend(map.get(key)),
                    (Segment::Each, Value::Array(items)) => next.extend(items.iter()),
                    (Segment::AnyKey, Value::Object(map)) => next.extend(map.values()),
                    _ => {}
                }
            }
            current = next;
        }
        current
    }

    /// Every value this path reaches in `value`, each with its JSON pointer (RFC 6901:
    /// `/conditions/people/groups/include/0`).
    pub fn select_with_pointers<'v>(&self, value: &'v Value) -> Vec<(String, &'v Value)> {
        let mut current = vec![(String::new(), value)];
        for segment in &self.segments {
            let mut next = Vec::new();
            for (pointer, value) in current {
                match (segment, value) {
                    (Segment::Key(key), Value::Object(map)) => {
                        if let Some(child) = map.get(key) {
                            next.push((format!("{pointer}/{}", pointer_token(key)), child));
                        }
                    }
                    (Segment::Each, Value::Array(items)) => next.extend(
                        items
                            .iter()
                            .enumerate()
                            .map(|(i, item)| (format!("{pointer}/{i}"), item)),
                    ),
                    (Segment::AnyKey, Value::Object(map)) => next.extend(
                        map.iter()
                            .map(|(k, v)| (format!("{pointer}/{}", pointer_token(k)), v)),
                    ),
                    _ => {}
                }
            }
            current = next;
        }
        current
    }

    /// Calls `apply` on every value this path reaches in `value`, to change it in place.
    pub fn for_each_mut(&self, value: &mut Value, apply: &mut dyn FnMut(&mut Value)) {
        fn visit(value: &mut Value, segments: &[Segment], apply: &mut dyn FnMut(&mut Value)) {
            match segments.split_first() {
                None => apply(value),
                Some((segment, rest)) => match (segment, value) {
                    (Segment::Key(key), Value::Object(map)) => {
                        if let Some(child) = map.get_mut(key) {
                            visit(child, rest, apply);
                        }
                    }
                    (Segment::Each, Value::Array(items)) => {
                        for item in items {
                            visit(item, rest, apply);
                        }
                    }
                    (Segment::AnyKey, Value::Object(map)) => {
                        for child in map.values_mut() {
                            visit(child, rest, apply);
                        }
                    }
                    _ => {}
                },
            }
        }
        visit(value, &self.segments, apply);
    }

    /// True when this path (which may hold `*` and `[*]`) describes the concrete `path`: same
    /// length, `*` standing for any key and `[*]` for any element.
    pub fn matches_concrete(&self, path: &FieldPath) -> bool {
        self.segments.len() == path.segments.len()
            && self
                .segments
                .iter()
                .zip(&path.segments)
                .all(|(pattern, segment)| match (pattern, segment) {
                    (Segment::AnyKey, Segment::Key(_)) => true,
                    (pattern, segment) => pattern == segment,
                })
    }

    /// A copy of `value` holding only what `keep` selects (paths of object keys; wildcard
    /// segments are skipped).
    pub fn project(value: &Value, keep: &[FieldPath]) -> Value {
        fn insert_at(target: &mut Value, segments: &[Segment], value: Value) {
            let Some((Segment::Key(key), rest)) = segments.split_first() else {
                return;
            };
            let Value::Object(map) = target else { return };
            if rest.is_empty() {
                map.insert(key.clone(), value);
            } else {
                let child = map
                    .entry(key.clone())
                    .or_insert_with(|| Value::Object(serde_json::Map::new()));
                insert_at(child, rest, value);
            }
        }
        let mut out = Value::Object(serde_json::Map::new());
        for path in keep {
            if let Some(found) = path.get(value) {
                insert_at(&mut out, path.segments(), found.clone());
            }
        }
        out
    }

    /// The single value at a path without `[*]` or `*`, if present.
    pub fn get<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        let mut current = value;
        for segment in &self.segments {
            current = match (segment, current) {
                (Segment::Key(key), Value::Object(map)) => map.get(key)?,
                _ => return None,
            };
        }
        Some(current)
    }

    /// True when the path has no `[*]` or `*` step, so it names at most one value.
    pub fn is_single(&self) -> bool {
        self.segments.iter().all(|s| matches!(s, Segment::Key(_)))
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for segment in &self.segments {
            match segment {
                Segment::Key(key) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(key)?;
                }
                Segment::AnyKey => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str("*")?;
                }
                Segment::Each => f.write_str("[*]")?,
            }
            first = false;
        }
        Ok(())
    }
}

/// One reference token of a JSON pointer (RFC 6901): `~` as `~0`, `/` as `~1`.
pub fn pointer_token(key: &str) -> std::borrow::Cow<'_, str> {
    if key.contains(['~', '/']) {
        std::borrow::Cow::Owned(key.replace('~', "~0").replace('/', "~1"))
    } else {
        std::borrow::Cow::Borrowed(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_and_displays_round_trip() {
        for text in [
            "id",
            "profile.login",
            "actions.assignUserToGroups.groupIds[*]",
            "settings.authenticators[*].key",
            "profile.*",
            "$schema",
            "resource-sets[*].id",
            "a[*][*].b",
        ] {
            assert_eq!(FieldPath::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn rejects_malformed_paths() {
        for text in ["", ".a", "a.", "a..b", "a[0]", "a[*", "[*].a", "a b"] {
            assert!(FieldPath::parse(text).is_err(), "{text} should be rejected");
        }
    }

    #[test]
    fn selects_with_json_pointers() {
        let value = json!({"a": [{"b": 1}, {"c": 3}, {"b": 2}], "m/x": {"~k": 1}});
        let found = FieldPath::parse("a[*].b")
            .unwrap()
            .select_with_pointers(&value);
        assert_eq!(
            found,
            vec![
                ("/a/0/b".to_string(), &json!(1)),
                ("/a/2/b".to_string(), &json!(2))
            ]
        );
        let found = FieldPath::parse("m/x.*")
            .unwrap()
            .select_with_pointers(&value);
        assert_eq!(found, vec![("/m~1x/~0k".to_string(), &json!(1))]);
    }

    #[test]
    fn selects_every_element() {
        let value = json!({"a": [{"b": 1}, {"b": 2}, {"c": 3}], "m": {"x": 1, "y": 2}});
        let path = FieldPath::parse("a[*].b").unwrap();
        assert_eq!(path.select(&value), vec![&json!(1), &json!(2)]);
        assert_eq!(FieldPath::parse("m.*").unwrap().select(&value).len(), 2);
        assert!(FieldPath::parse("a.b").unwrap().select(&value).is_empty());
        assert_eq!(
            FieldPath::parse("m.x").unwrap().get(&value),
            Some(&json!(1))
        );
    }
}
