//! The field-level diff of two JSON values: what was added, removed or changed, each at a JSON
//! pointer with its old and new value.
//!
//! Arrays are compared as people read them, not line by line:
//! - arrays of objects are matched by identity, so a reordered list is no change and one
//!   edited element is one change: by the member the catalogue declares for a set array
//!   (`sets = [{ path, key }]`), else by the first of `id`, `key`, `name`, `type` and `value`
//!   that every element on both sides holds as a scalar, unique on each side;
//! - other arrays are aligned by a Myers diff of their elements; elements replaced one for one
//!   are compared member by member; an array whose elements are the same in another order is
//!   one `reordered` change.
//!
//! Pointers address the new value, except for removals, which address the old one.
//!
//! Pure: values in, changes out.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::catalogue::{FieldPath, Kind, Segment, SetArray, pointer_token};

/// What happened at a pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Added,
    Removed,
    Changed,
    /// The same elements in another order (arrays without an identity).
    Reordered,
}

/// One change inside a resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// JSON pointer (RFC 6901) into the new value (the old one for removals).
    pub pointer: String,
    pub op: Op,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
    /// Where the change is, as a catalogue path (`[*]` for every array element), to find the
    /// references its values hold.
    #[serde(skip)]
    pub at: Vec<Segment>,
}

/// Members tried, in order, as the identity of an array's object elements.
const IDENTITIES: [&str; 5] = ["id", "key", "name", "type", "value"];

/// The field changes from `old` to `new`. `kind` supplies the identity of declared set arrays.
pub fn diff(old: &Value, new: &Value, kind: Option<&Kind>) -> Vec<FieldChange> {
    let sets: &[SetArray] = kind.map_or(&[], |k| &k.sets);
    let mut walker = Walker {
        sets,
        changes: Vec::new(),
        path: Vec::new(),
    };
    walker.value(String::new(), String::new(), old, new);
    walker.changes
}

struct Walker<'s> {
    sets: &'s [SetArray],
    changes: Vec<FieldChange>,
    /// The generic path of the current position (`Each` for array elements), for set lookups.
    path: Vec<Segment>,
}

impl Walker<'_> {
    /// Compares `old` (at `old_pointer`) with `new` (at `new_pointer`).
    fn value(&mut self, old_pointer: String, new_pointer: String, old: &Value, new: &Value) {
        if old == new {
            return;
        }
        match (old, new) {
            (Value::Object(a), Value::Object(b)) => self.object(&old_pointer, &new_pointer, a, b),
            (Value::Array(a), Value::Array(b)) => self.array(&old_pointer, &new_pointer, a, b),
            _ => self.changes.push(FieldChange {
                pointer: new_pointer,
                op: Op::Changed,
                old: Some(old.clone()),
                new: Some(new.clone()),
                at: self.path.clone(),
            }),
        }
    }

    fn object(
        &mut self,
        old_pointer: &str,
        new_pointer: &str,
        a: &Map<String, Value>,
        b: &Map<String, Value>,
    ) {
        // Both maps iterate in key order: merge them.
        let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let token = pointer_token(key);
            match (a.get(key), b.get(key)) {
                (Some(old), Some(new)) => {
                    self.path.push(Segment::Key(key.clone()));
                    self.value(
                        format!("{old_pointer}/{token}"),
                        format!("{new_pointer}/{token}"),
                        old,
                        new,
                    );
                    self.path.pop();
                }
                (Some(old), None) => self.changes.push(FieldChange {
                    pointer: format!("{old_pointer}/{token}"),
                    op: Op::Removed,
                    old: Some(old.clone()),
                    new: None,
                    at: self.child(key),
                }),
                (None, Some(new)) => self.changes.push(FieldChange {
                    pointer: format!("{new_pointer}/{token}"),
                    op: Op::Added,
                    old: None,
                    new: Some(new.clone()),
                    at: self.child(key),
                }),
                (None, None) => {}
            }
        }
    }

    fn child(&self, key: &str) -> Vec<Segment> {
        let mut path = self.path.clone();
        path.push(Segment::Key(key.to_string()));
        path
    }

    fn array(&mut self, old_pointer: &str, new_pointer: &str, a: &[Value], b: &[Value]) {
        self.path.push(Segment::Each);
        match self.identity(a, b) {
            Some(identity) => self.matched(old_pointer, new_pointer, a, b, &identity),
            None => self.aligned(old_pointer, new_pointer, a, b),
        }
        self.path.pop();
    }

    /// The path (relative to an element) that identifies the elements of both arrays, if any.
    /// Called with `self.path` ending in `Each`.
    fn identity(&self, a: &[Value], b: &[Value]) -> Option<FieldPath> {
        if !a.iter().chain(b).all(Value::is_object) {
            return None;
        }
        let here = FieldPath::from_segments(self.path[..self.path.len() - 1].to_vec());
        let declared = self
            .sets
            .iter()
            .find(|set| set.path.matches_concrete(&here) || set.path == here)
            .and_then(|set| set.key.clone());
        let candidates: Vec<FieldPath> = match declared {
            Some(key) => vec![key],
            None => IDENTITIES
                .iter()
                .map(|k| FieldPath::from_segments(vec![Segment::Key((*k).to_string())]))
                .collect(),
        };
        candidates
            .into_iter()
            .find(|key| unique_scalars(a, key) && unique_scalars(b, key))
    }

    /// Elements matched by identity: unmatched ones are removed or added, matched ones
    /// compared, their order ignored.
    fn matched(
        &mut self,
        old_pointer: &str,
        new_pointer: &str,
        a: &[Value],
        b: &[Value],
        identity: &FieldPath,
    ) {
        let old_by_key: HashMap<String, usize> = a
            .iter()
            .enumerate()
            .filter_map(|(i, v)| Some((scalar_text(identity.get(v)?)?, i)))
            .collect();
        let mut seen = vec![false; a.len()];
        let mut added = Vec::new();
        for (j, new) in b.iter().enumerate() {
            let key = identity.get(new).and_then(scalar_text);
            match key.and_then(|k| old_by_key.get(&k)) {
                Some(&i) => {
                    seen[i] = true;
                    self.value(
                        format!("{old_pointer}/{i}"),
                        format!("{new_pointer}/{j}"),
                        &a[i],
                        new,
                    );
                }
                None => added.push(FieldChange {
                    pointer: format!("{new_pointer}/{j}"),
                    op: Op::Added,
                    old: None,
                    new: Some(new.clone()),
                    at: self.path.clone(),
                }),
            }
        }
        for (i, old) in a.iter().enumerate() {
            if !seen[i] {
                self.changes.push(FieldChange {
                    pointer: format!("{old_pointer}/{i}"),
                    op: Op::Removed,
                    old: Some(old.clone()),
                    new: None,
                    at: self.path.clone(),
                });
            }
        }
        self.changes.extend(added);
    }

    /// Elements aligned by a Myers diff of their texts.
    fn aligned(&mut self, old_pointer: &str, new_pointer: &str, a: &[Value], b: &[Value]) {
        let a_text: Vec<String> = a.iter().map(Value::to_string).collect();
        let b_text: Vec<String> = b.iter().map(Value::to_string).collect();
        let mut a_sorted = a_text.clone();
        let mut b_sorted = b_text.clone();
        a_sorted.sort();
        b_sorted.sort();
        if a_sorted == b_sorted {
            self.changes.push(FieldChange {
                pointer: new_pointer.to_string(),
                op: Op::Reordered,
                old: Some(Value::Array(a.to_vec())),
                new: Some(Value::Array(b.to_vec())),
                at: self.path[..self.path.len() - 1].to_vec(),
            });
            return;
        }
        for op in similar::capture_diff_slices(similar::Algorithm::Myers, &a_text, &b_text) {
            match op {
                similar::DiffOp::Equal { .. } => {}
                similar::DiffOp::Delete {
                    old_index, old_len, ..
                } => self.removed(old_pointer, a, old_index, old_len),
                similar::DiffOp::Insert {
                    new_index, new_len, ..
                } => self.added(new_pointer, b, new_index, new_len),
                similar::DiffOp::Replace {
                    old_index,
                    old_len,
                    new_index,
                    new_len,
                } => {
                    // Compared one for one where both sides have an element.
                    let common = old_len.min(new_len);
                    for k in 0..common {
                        let (i, j) = (old_index + k, new_index + k);
                        self.value(
                            format!("{old_pointer}/{i}"),
                            format!("{new_pointer}/{j}"),
                            &a[i],
                            &b[j],
                        );
                    }
                    self.removed(old_pointer, a, old_index + common, old_len - common);
                    self.added(new_pointer, b, new_index + common, new_len - common);
                }
            }
        }
    }

    fn removed(&mut self, pointer: &str, a: &[Value], from: usize, len: usize) {
        for (i, old) in a.iter().enumerate().skip(from).take(len) {
            self.changes.push(FieldChange {
                pointer: format!("{pointer}/{i}"),
                op: Op::Removed,
                old: Some(old.clone()),
                new: None,
                at: self.path.clone(),
            });
        }
    }

    fn added(&mut self, pointer: &str, b: &[Value], from: usize, len: usize) {
        for (j, new) in b.iter().enumerate().skip(from).take(len) {
            self.changes.push(FieldChange {
                pointer: format!("{pointer}/{j}"),
                op: Op::Added,
                old: None,
                new: Some(new.clone()),
                at: self.path.clone(),
            });
        }
    }
}

/// A scalar as text (strings bare, numbers and booleans as written).
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// True when every element holds a scalar at `key`, each different.
fn unique_scalars(items: &[Value], key: &FieldPath) -> bool {
    let mut seen = std::collections::HashSet::new();
    items.iter().all(|item| {
        key.get(item)
            .and_then(scalar_text)
            .is_some_and(|k| seen.insert(k))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn ops(changes: &[FieldChange]) -> Vec<(&str, Op)> {
        changes.iter().map(|c| (c.pointer.as_str(), c.op)).collect()
    }

    #[test]
    fn equal_values_have_no_changes() {
        let v = json!({"a": [1, {"b": null}], "c": "x"});
        assert!(diff(&v, &v, None).is_empty());
    }

    #[test]
    fn members_added_removed_and_changed_each_at_their_pointer() {
        let old = json!({"name": "Rule", "a/b": 1, "conditions": {"x": 1, "gone": true}});
        let new = json!({"name": "Rule 2", "a/b": 2, "conditions": {"x": 1, "new~": [1]}});
        let changes = diff(&old, &new, None);
        assert_eq!(
            ops(&changes),
            vec![
                ("/a~1b", Op::Changed),
                ("/conditions/gone", Op::Removed),
                ("/conditions/new~0", Op::Added),
                ("/name", Op::Changed),
            ]
        );
        assert_eq!(changes[0].old, Some(json!(1)));
        assert_eq!(changes[0].new, Some(json!(2)));
        assert_eq!(changes[2].new, Some(json!([1])));
    }

    #[test]
    fn a_reordered_list_of_objects_is_no_change_and_one_edit_is_one_change() {
        let old = json!({"rules": [
            {"id": "r1", "name": "One", "priority": 1},
            {"id": "r2", "name": "Two", "priority": 2},
            {"id": "r3", "name": "Three", "priority": 3},
        ]});
        let reordered = json!({"rules": [
            {"id": "r3", "name": "Three", "priority": 3},
            {"id": "r1", "name": "One", "priority": 1},
            {"id": "r2", "name": "Two", "priority": 2},
        ]});
        assert!(diff(&old, &reordered, None).is_empty());
        let edited = json!({"rules": [
            {"id": "r3", "name": "Three", "priority": 3},
            {"id": "r1", "name": "One", "priority": 1},
            {"id": "r2", "name": "Two", "priority": 7},
        ]});
        let changes = diff(&old, &edited, None);
        assert_eq!(ops(&changes), vec![("/rules/2/priority", Op::Changed)]);
        assert_eq!(changes[0].old, Some(json!(2)));
    }

    #[test]
    fn objects_without_ids_are_matched_by_name_then_type() {
        let old = json!([{"name": "a", "v": 1}, {"name": "b", "v": 2}]);
        let new = json!([{"name": "b", "v": 3}, {"name": "c", "v": 1}]);
        let changes = diff(&old, &new, None);
        assert_eq!(
            ops(&changes),
            vec![
                ("/0/v", Op::Changed),
                ("/0", Op::Removed),
                ("/1", Op::Added)
            ]
        );
        // Names repeat: `type` is unique, so it identifies.
        let old = json!([{"name": "x", "type": "push"}, {"name": "x", "type": "totp", "on": true}]);
        let new =
            json!([{"name": "x", "type": "totp", "on": false}, {"name": "x", "type": "push"}]);
        assert_eq!(ops(&diff(&old, &new, None)), vec![("/0/on", Op::Changed)]);
    }

    #[test]
    fn scalar_arrays_are_aligned_and_a_reorder_is_named() {
        let old = json!({"l": ["a", "b", "c"]});
        let new = json!({"l": ["a", "c", "d"]});
        let changes = diff(&old, &new, None);
        assert_eq!(
            ops(&changes),
            vec![("/l/1", Op::Removed), ("/l/2", Op::Added)]
        );
        assert_eq!(changes[0].old, Some(json!("b")));
        let changes = diff(&json!(["a", "b"]), &json!(["b", "a"]), None);
        assert_eq!(ops(&changes), vec![("", Op::Reordered)]);
    }

    #[test]
    fn replaced_elements_without_identity_are_compared_member_by_member() {
        let old = json!([{"x": 1, "y": 1}, {"x": 2}]);
        let new = json!([{"x": 1, "y": 5}, {"x": 2}]);
        assert_eq!(ops(&diff(&old, &new, None)), vec![("/0/y", Op::Changed)]);
    }

    #[test]
    fn a_declared_set_key_wins() {
        let catalogue = crate::catalogue::Catalogue::okta().unwrap();
        let kind = catalogue
            .kinds()
            .iter()
            .find(|k| k.sets.iter().any(|s| s.key.is_some()))
            .expect("a kind with a keyed set");
        let set = kind.sets.iter().find(|s| s.key.is_some()).unwrap();
        let key = set.key.as_ref().unwrap().to_string();
        // Build a value holding the set at its path with two elements, then swap them.
        let mut segments: Vec<String> = Vec::new();
        for segment in set.path.segments() {
            match segment {
                Segment::Key(k) => segments.push(k.clone()),
                _ => return, // nested sets: covered by the generic tests
            }
        }
        let element = |k: &str, v: i32| {
            let mut e = json!({"extra": v});
            e[&key] = json!(k);
            e
        };
        let wrap = |items: Value| {
            let mut value = items;
            for k in segments.iter().rev() {
                value = json!({ k.as_str(): value });
            }
            value
        };
        let old = wrap(json!([element("a", 1), element("b", 2)]));
        let new = wrap(json!([element("b", 2), element("a", 1)]));
        assert!(diff(&old, &new, Some(kind)).is_empty());
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (0i64..5).prop_map(|n| json!(n)),
            "[a-c]{0,2}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-d]", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// A value compared with itself has no change; a different value has at least one.
        #[test]
        fn no_change_exactly_when_equal(a in arbitrary_json(), b in arbitrary_json()) {
            prop_assert!(diff(&a, &a, None).is_empty());
            if a != b {
                prop_assert!(!diff(&a, &b, None).is_empty());
            }
        }
    }
}
