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
use crate::catalogue::{Kind, Shape};

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
    let mut stems: HashMap<(&str, &str), String> = HashMap::new();
    let mut pending: Vec<&Entry<'_>> = entries
        .iter()
        .filter(|e| !matches!(e.kind.shape, Shape::Relationship { .. }))
        .collect();
    let mut out = BTreeMap::new();
    // Parents first: each round places the objects whose parent already has its final stem.
    while !pending.is_empty() {
        let (ready, waiting): (Vec<&Entry<'_>>, Vec<&Entry<'_>>) = pending
            .into_iter()
            .partition(|e| e.parent.is_none_or(|p| stems.contains_key(&p)));
        if ready.is_empty() {
            let orphan = waiting[0];
            let (parent_kind, parent_id) = orphan.parent.unwrap_or_default();
            return Err(TreeError::MissingParent {
                kind: orphan.kind.name.clone(),
                id: orphan.id.to_string(),
                parent_kind: parent_kind.to_string(),
                parent_id: parent_id.to_string(),
            });
        }
        let mut raw = Vec::with_capacity(ready.len());
        for entry in &ready {
            let parent_stem = entry.parent.and_then(|p| stems.get(&p)).map(String::as_str);
            let variant = entry
                .kind
                .variant_for(entry.body, entry.parent.map(|(kind, _)| kind));
            let stem = layout::stem(entry.kind, variant, entry.body, parent_stem)?;
            raw.push((stem, entry.id.to_string()));
        }
        for (entry, stem) in ready.iter().zip(layout::disambiguate(&raw)) {
            out.insert(layout::file_path(&stem), canonical::to_text(entry.body));
            stems.insert((entry.kind.name.as_str(), entry.key), stem);
        }
        pending = waiting;
    }
    // Relationships: one file per (kind, parent).
    let mut groups: BTreeMap<(&str, (&str, &str)), Vec<&Entry<'_>>> = BTreeMap::new();
    for entry in entries {
        if !matches!(entry.kind.shape, Shape::Relationship { .. }) {
            continue;
        }
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
    }
    for ((_, parent), members) in groups {
        let first = members[0];
        let Some(parent_stem) = stems.get(&parent) else {
            return Err(TreeError::MissingParent {
                kind: first.kind.name.clone(),
                id: first.id.to_string(),
                parent_kind: parent.0.to_string(),
                parent_id: parent.1.to_string(),
            });
        };
        let variant = first.kind.variant_for(first.body, Some(parent.0));
        let stem = layout::stem(first.kind, variant, first.body, Some(parent_stem))?;
        let mut bodies: Vec<Value> = members.iter().map(|m| m.body.clone()).collect();
        canonical::sort_members(first.kind, &mut bodies);
        out.insert(
            layout::file_path(&stem),
            canonical::to_text(&Value::Array(bodies)),
        );
    }
    Ok(out)
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
