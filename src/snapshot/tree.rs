//! An org's canonical objects as the files of an org repository: every resource and singleton
//! at the path the layout gives it (parents first, so children nest under their parent's
//! final path; colliding names get `~<id>`), and every relationship as one file per parent
//! holding its members sorted.
//!
//! Pure: objects in, `(path, text)` out. It does not canonicalise (bodies must already be
//! canonical) and never touches the disk.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::canonical;
use super::layout::{self, LayoutError};
use crate::catalogue::{Kind, Shape, Variant};

/// One canonical object to place.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    pub kind: &'a Kind,
    pub id: &'a str,
    /// What identifies it among the entries of its kind: its id, or a path of ids where ids
    /// repeat under different parents (an email template's name under each brand).
    pub key: &'a str,
    /// The parent's kind and key, for nested kinds.
    pub parent: Option<(&'a str, &'a str)>,
    pub body: &'a Value,
}

/// Objects that cannot be placed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error("{kind} {id}: its parent {parent_kind} {parent_id} is not among the objects")]
    MissingParent {
        kind: String,
        id: String,
        parent_kind: String,
        parent_id: String,
    },
}

/// The files of an org repository holding `entries`: relative path (`okta/…/name.json`) to
/// canonical text, sorted by path.
pub fn files(entries: &[Entry<'_>]) -> Result<BTreeMap<String, String>, TreeError> {
    let mut assembly = Assembly::default();
    let mut groups: BTreeMap<(&str, (&str, &str)), Vec<&Entry<'_>>> = BTreeMap::new();
    for entry in entries {
        if matches!(entry.kind.shape, Shape::Relationship { .. }) {
            let Some(parent) = entry.parent else {
                return Err(LayoutError::NoParent {
                    kind: entry.kind.name.clone(),
                    id: entry.id.to_string(),
                }
                .into());
            };
            groups
                .entry((entry.kind.name.as_str(), parent))
                .or_default()
                .push(entry);
            continue;
        }
        let variant = entry
            .kind
            .variant_for(entry.body, entry.parent.map(|(kind, _)| kind));
        assembly.add(
            entry.kind,
            variant,
            Identity {
                id: entry.id,
                key: entry.key,
                parent: entry.parent,
            },
            entry.body,
            canonical::to_text(entry.body),
        )?;
    }
    for ((_, parent), members) in groups {
        let first = members[0];
        let variant = first.kind.variant_for(first.body, Some(parent.0));
        let mut bodies: Vec<Value> = members.iter().map(|m| m.body.clone()).collect();
        canonical::sort_members(first.kind, &mut bodies);
        assembly.add_relationship(
            first.kind,
            variant,
            parent,
            first.id,
            first.body,
            canonical::to_text(&Value::Array(bodies)),
        )?;
    }
    Ok(assembly.finish()?.into_iter().collect())
}

/// Where an object sits among the others: its id, its key among its kind's objects, and its
/// parent's kind and key.
#[derive(Clone, Copy, Debug)]
pub struct Identity<'a> {
    pub id: &'a str,
    pub key: &'a str,
    pub parent: Option<(&'a str, &'a str)>,
}

/// Stands for the parent's final stem in a child's stem until the parent is placed; control
/// characters never survive escaping, so no name holds it.
const PARENT_MARK: &str = "\u{0}";

#[derive(Debug)]
struct Placed<C> {
    kind: String,
    id: String,
    key: String,
    parent: Option<(String, String)>,
    /// The stem, with [`PARENT_MARK`] for the parent's.
    stem: String,
    content: C,
}

/// Files assembled one object at a time, placed when all are in: for a backup that streams
/// objects to storage and keeps only their names and content handles (`C`: the text, or a
/// git blob id).
#[derive(Debug)]
pub struct Assembly<C> {
    objects: Vec<Placed<C>>,
    relationships: Vec<Placed<C>>,
}

impl<C> Default for Assembly<C> {
    fn default() -> Self {
        Assembly {
            objects: Vec::new(),
            relationships: Vec::new(),
        }
    }
}

fn relative_stem(
    kind: &Kind,
    variant: &Variant,
    body: &Value,
    nested: bool,
) -> Result<String, LayoutError> {
    layout::stem(kind, variant, body, nested.then_some(PARENT_MARK))
}

impl<C> Assembly<C> {
    /// Adds a resource or singleton (`body` canonical, `content` its file).
    pub fn add(
        &mut self,
        kind: &Kind,
        variant: &Variant,
        identity: Identity<'_>,
        body: &Value,
        content: C,
    ) -> Result<(), LayoutError> {
        let stem = relative_stem(kind, variant, body, identity.parent.is_some())?;
        self.objects.push(Placed {
            kind: kind.name.clone(),
            id: identity.id.to_string(),
            key: identity.key.to_string(),
            parent: identity.parent.map(|(k, p)| (k.to_string(), p.to_string())),
            stem,
            content,
        });
        Ok(())
    }

    /// Adds a relationship file: the members of `kind` under `parent` (`content` holds them
    /// all, sorted; `first` is one of them, for the file name).
    pub fn add_relationship(
        &mut self,
        kind: &Kind,
        variant: &Variant,
        parent: (&str, &str),
        first_id: &str,
        first: &Value,
        content: C,
    ) -> Result<(), LayoutError> {
        let stem = relative_stem(kind, variant, first, true)?;
        self.relationships.push(Placed {
            kind: kind.name.clone(),
            id: first_id.to_string(),
            key: String::new(),
            parent: Some((parent.0.to_string(), parent.1.to_string())),
            stem,
            content,
        });
        Ok(())
    }

    /// Drops the objects whose content `keep` refuses (the kinds a backup could not read).
    pub fn retain(&mut self, mut keep: impl FnMut(&C) -> bool) {
        self.objects.retain(|p| keep(&p.content));
        self.relationships.retain(|p| keep(&p.content));
    }

    /// Every object's final path (parents first, so children nest under their parent's final
    /// path; colliding names get `~<id>`), with its content, sorted by path.
    pub fn finish(self) -> Result<Vec<(String, C)>, TreeError> {
        let mut stems: HashMap<(String, String), String> = HashMap::new();
        let mut out = Vec::with_capacity(self.objects.len() + self.relationships.len());
        let mut pending = self.objects;
        while !pending.is_empty() {
            let (ready, waiting): (Vec<Placed<C>>, Vec<Placed<C>>) =
                pending.into_iter().partition(|p| {
                    p.parent
                        .as_ref()
                        .is_none_or(|parent| stems.contains_key(parent))
                });
            if ready.is_empty() {
                let orphan = &waiting[0];
                let (parent_kind, parent_id) = orphan.parent.clone().unwrap_or_default();
                return Err(TreeError::MissingParent {
                    kind: orphan.kind.clone(),
                    id: orphan.id.clone(),
                    parent_kind,
                    parent_id,
                });
            }
            let raw: Vec<(String, String)> = ready
                .iter()
                .map(|p| {
                    let stem = match p.parent.as_ref().and_then(|parent| stems.get(parent)) {
                        Some(parent) => p.stem.replacen(PARENT_MARK, parent, 1),
                        None => p.stem.clone(),
                    };
                    (stem, p.id.clone())
                })
                .collect();
            for (placed, stem) in ready.into_iter().zip(layout::disambiguate(&raw)) {
                out.push((layout::file_path(&stem), placed.content));
                stems.insert((placed.kind, placed.key), stem);
            }
            pending = waiting;
        }
        for placed in self.relationships {
            let parent = placed.parent.clone().unwrap_or_default();
            let Some(parent_stem) = stems.get(&parent) else {
                return Err(TreeError::MissingParent {
                    kind: placed.kind,
                    id: placed.id,
                    parent_kind: parent.0,
                    parent_id: parent.1,
                });
            };
            let stem = placed.stem.replacen(PARENT_MARK, parent_stem, 1);
            out.push((layout::file_path(&stem), placed.content));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;
    use serde_json::json;

    fn entry<'a>(
        catalogue: &'a Catalogue,
        kind: &str,
        id: &'a str,
        parent: Option<(&'a str, &'a str)>,
        body: &'a Value,
    ) -> Entry<'a> {
        Entry {
            kind: catalogue.kind(kind).expect("kind exists"),
            id,
            key: id,
            parent,
            body,
        }
    }

    #[test]
    fn places_children_under_their_parents_final_path_and_sorts_members() {
        let catalogue = Catalogue::okta().expect("catalogue loads");
        let a = json!({"id": "00gA", "type": "OKTA_GROUP", "profile": {"name": "Sales"}});
        let b = json!({"id": "00gB", "type": "OKTA_GROUP", "profile": {"name": "sales"}});
        let m1 = json!({"id": "00u2"});
        let m2 = json!({"id": "00u1"});
        let entries = [
            entry(
                catalogue,
                "group_membership",
                "00u2",
                Some(("group", "00gA")),
                &m1,
            ),
            entry(
                catalogue,
                "group_membership",
                "00u1",
                Some(("group", "00gA")),
                &m2,
            ),
            entry(catalogue, "group", "00gA", None, &a),
            entry(catalogue, "group", "00gB", None, &b),
        ];
        let files = files(&entries).expect("placed");
        let paths: Vec<&str> = files.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "okta/groups/Sales~00gA.json",
                "okta/groups/Sales~00gA/members.json",
                "okta/groups/sales~00gB.json",
            ]
        );
        let members: Value =
            serde_json::from_str(&files["okta/groups/Sales~00gA/members.json"]).expect("json");
        assert_eq!(members, json!([{"id": "00u1"}, {"id": "00u2"}]));
    }

    #[test]
    fn an_orphan_names_its_missing_parent() {
        let catalogue = Catalogue::okta().expect("catalogue loads");
        let m = json!({"id": "00u1"});
        let entries = [entry(
            catalogue,
            "group_membership",
            "00u1",
            Some(("group", "00gGone")),
            &m,
        )];
        let error = files(&entries).unwrap_err().to_string();
        assert!(error.contains("00gGone"), "{error}");
    }
}
