//! References shown by name: the catalogue says which paths of a kind hold another object's
//! id (as the whole value, inside an Okta expression, or inside a URL); each id is named
//! through the index of the side it belongs to (`group 00g1a2… (Engineering)`), so only the
//! files that changed are parsed.

use serde::Serialize;
use serde_json::Value;

use super::value::FieldChange;
use super::{Field, Side};
use crate::catalogue::{Embedding, FieldPath, Kind, Reference as Declared, Segment};

/// An object of the org, by kind, id and (when the side has it) name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Named {
    pub kind: String,
    pub id: String,
    /// `None` when the snapshot has no object with this id.
    pub name: Option<String>,
}

impl Named {
    /// `group 00g1a2… (Engineering)`, or `group 00g1a2… (not in this snapshot)`.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("{} {} ({name})", self.kind, self.id),
            None => format!("{} {} (not in this snapshot)", self.kind, self.id),
        }
    }

    /// The name, else the id.
    pub fn short(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// Which side of the diff a value is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Which {
    Old,
    New,
}

/// A reference found in a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reference {
    /// Where the id is (into the value of its side).
    pub pointer: String,
    pub side: Which,
    pub target: Named,
}

/// Names `id` as an object of `kind` on `side`.
pub fn named(kind: Option<&str>, id: &str, side: &dyn Side) -> Named {
    let entry = side.entry(id);
    Named {
        kind: kind
            .map(str::to_string)
            .or_else(|| entry.as_ref().map(|e| e.kind.clone()))
            .unwrap_or_else(|| "object".to_string()),
        id: id.to_string(),
        name: entry.map(|e| e.name),
    }
}

/// Every reference in a whole resource body.
pub fn in_body(kind: &Kind, body: &Value, side: &dyn Side, which: Which) -> Vec<Reference> {
    let mut out: Vec<Reference> = Vec::new();
    for declared in &kind.references {
        for (pointer, value) in declared.path.select_with_pointers(body) {
            for id in ids(declared, value, side) {
                push(
                    &mut out,
                    Reference {
                        pointer: pointer.clone(),
                        side: which,
                        target: named(Some(&declared.kind), &id, side),
                    },
                );
            }
        }
    }
    out
}

/// Field changes with the references in their old and new values named.
pub fn fields(
    kind: &Kind,
    changes: Vec<FieldChange>,
    from: &dyn Side,
    to: &dyn Side,
) -> Vec<Field> {
    changes
        .into_iter()
        .map(|change| {
            let mut references = Vec::new();
            for declared in &kind.references {
                let Some(rest) = remainder(declared.path.segments(), &change.at) else {
                    continue;
                };
                let rest = FieldPath::from_segments(rest.to_vec());
                for (which, value, side) in [
                    (Which::Old, change.old.as_ref(), from),
                    (Which::New, change.new.as_ref(), to),
                ] {
                    let Some(value) = value else { continue };
                    let found = if rest.segments().is_empty() {
                        vec![(String::new(), value)]
                    } else {
                        rest.select_with_pointers(value)
                    };
                    for (pointer, value) in found {
                        for id in ids(declared, value, side) {
                            push(
                                &mut references,
                                Reference {
                                    pointer: format!("{}{pointer}", change.pointer),
                                    side: which,
                                    target: named(Some(&declared.kind), &id, side),
                                },
                            );
                        }
                    }
                }
            }
            Field { change, references }
        })
        .collect()
}

/// Adds a reference unless the same id at the same place is there already (an id no side
/// knows, under a path several kinds are declared at).
fn push(references: &mut Vec<Reference>, reference: Reference) {
    if !references.iter().any(|r| {
        r.pointer == reference.pointer
            && r.side == reference.side
            && r.target.id == reference.target.id
    }) {
        references.push(reference);
    }
}

/// What is left of a reference's path below `at`, when the reference lies at or below it.
fn remainder<'p>(path: &'p [Segment], at: &[Segment]) -> Option<&'p [Segment]> {
    if at.len() > path.len() {
        return None;
    }
    let matches = path
        .iter()
        .zip(at)
        .all(|(pattern, here)| match (pattern, here) {
            (Segment::AnyKey, Segment::Key(_)) => true,
            (pattern, here) => pattern == here,
        });
    matches.then(|| &path[at.len()..])
}

/// The ids a reference's value holds.
fn ids(declared: &Declared, value: &Value, side: &dyn Side) -> Vec<String> {
    let Some(text) = super::text(value) else {
        return Vec::new();
    };
    if declared.literals.contains(&text) {
        return Vec::new();
    }
    match declared.embedding {
        // Where several kinds may be meant (a mapping's source: a user type, an app or an
        // identity provider), the one the index knows the id as.
        Embedding::Whole => match side.entry(&text) {
            Some(entry) if entry.kind != declared.kind => Vec::new(),
            _ => vec![text],
        },
        Embedding::Expression => text
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|quoted| looks_like_id(quoted) || side.entry(quoted).is_some())
            .map(str::to_string)
            .collect(),
        Embedding::Url => text
            .split(['/', ':', '?', '#'])
            .filter(|part| {
                side.entry(part)
                    .is_some_and(|entry| entry.kind == declared.kind)
            })
            .map(str::to_string)
            .take(1)
            .collect(),
    }
}

/// Okta ids are 20 letters and digits (`00g1a2b3c4d5e6f7g8h9`).
fn looks_like_id(text: &str) -> bool {
    text.len() == 20 && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;
    use crate::diff::value::diff;
    use crate::diff::{Entry, ReadError};
    use serde_json::json;

    struct Index;

    impl Side for Index {
        fn label(&self) -> &str {
            "test"
        }
        fn entry(&self, id: &str) -> Option<Entry> {
            (id == "00g1aaaaaaaaaaaaaaaa").then(|| Entry {
                kind: "group".into(),
                name: "Engineering".into(),
                path: "okta/groups/Engineering.json".into(),
            })
        }
        fn file(&self, _: &str) -> Result<Option<Value>, ReadError> {
            Ok(None)
        }
        fn ids_of_kind(&self, _: &str) -> Vec<String> {
            Vec::new()
        }
    }

    #[test]
    fn group_rule_targets_and_expression_groups_are_named() {
        let catalogue = Catalogue::okta().unwrap();
        let kind = catalogue.kind("group_rule").unwrap();
        let old = json!({"actions": {"assignUserToGroups": {"groupIds": ["00g1bbbbbbbbbbbbbbbb"]}},
            "conditions": {"expression": {"value": "isMemberOfAnyGroup(\"00g1bbbbbbbbbbbbbbbb\")"}}});
        let new = json!({"actions": {"assignUserToGroups": {"groupIds": ["00g1aaaaaaaaaaaaaaaa"]}},
            "conditions": {"expression": {"value": "isMemberOfAnyGroup(\"00g1aaaaaaaaaaaaaaaa\")"}}});
        let fields = fields(kind, diff(&old, &new, Some(kind)), &Index, &Index);
        let labels: Vec<(String, Which, String)> = fields
            .iter()
            .flat_map(|f| f.references.iter())
            .map(|r| (r.pointer.clone(), r.side, r.target.label()))
            .collect();
        assert!(
            labels.contains(&(
                "/actions/assignUserToGroups/groupIds/0".into(),
                Which::New,
                "group 00g1aaaaaaaaaaaaaaaa (Engineering)".into()
            )),
            "{labels:?}"
        );
        assert!(
            labels.contains(&(
                "/actions/assignUserToGroups/groupIds/0".into(),
                Which::Old,
                "group 00g1bbbbbbbbbbbbbbbb (not in this snapshot)".into()
            )),
            "{labels:?}"
        );
        assert!(
            labels.contains(&(
                "/conditions/expression/value".into(),
                Which::New,
                "group 00g1aaaaaaaaaaaaaaaa (Engineering)".into()
            )),
            "{labels:?}"
        );
        let body = in_body(kind, &new, &Index, Which::New);
        assert_eq!(body.len(), 2, "{body:?}");
    }
}
