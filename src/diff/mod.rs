//! The semantic diff of two snapshots (DESIGN.md `diff`): which resources were added, removed,
//! renamed or changed, each changed field with its old and new value, the references named,
//! the System Log events behind each change, and who gains or loses access.
//!
//! Pure: `build` takes the changed files (parsed) and reads anything else it needs (index
//! entries, unchanged files such as a group's members) through [`Side`], which `ops::diff`
//! implements over git. It never touches git, the disk or the network itself.

pub mod impact;
pub mod names;
pub mod render;
pub mod value;
pub mod who;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::catalogue::{Catalogue, FieldPath, Kind, Shape};
use crate::snapshot::layout;

pub use impact::Impact;
pub use names::{Named, Reference};
pub use value::{FieldChange, Op};
pub use who::Event;

/// What a side knows of a resource (from its `.butterfly/index.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: String,
    pub name: String,
    pub path: String,
}

/// A side's file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path} at {side}: {problem}")]
pub struct ReadError {
    pub side: String,
    pub path: String,
    pub problem: String,
}

/// One side of a diff, read on demand.
pub trait Side {
    /// How messages name the side (the revision as given).
    fn label(&self) -> &str;
    /// The resource with this id, from the side's index.
    fn entry(&self, id: &str) -> Option<Entry>;
    /// A file of the side, parsed; `None` when it is absent.
    fn file(&self, path: &str) -> Result<Option<Value>, ReadError>;
    /// The ids of every resource of `kind` on this side.
    fn ids_of_kind(&self, kind: &str) -> Vec<String>;
}

/// A file that differs between the two sides: its bytes on each (`None`: absent).
#[derive(Debug, Clone)]
pub struct FileDelta {
    pub path: String,
    pub old: Option<Vec<u8>>,
    pub new: Option<Vec<u8>>,
}

/// A changed file, parsed as far as its kind needs: resources whole, relationship files as
/// the text of each member (canonical, so equal text is an equal member), so the members that
/// did not change are never parsed.
struct Parsed {
    path: String,
    old: Option<Value>,
    new: Option<Value>,
}

/// Parses a side's file.
pub(crate) fn parse(bytes: &[u8], path: &str, side: &dyn Side) -> Result<Value, ReadError> {
    serde_json::from_slice(bytes).map_err(|e| ReadError {
        side: side.label().to_string(),
        path: path.to_string(),
        problem: format!("not JSON: {e}"),
    })
}

/// The members of a relationship file that are not on the other side, parsed: each side's
/// members as text, those in both dropped.
fn changed_members(
    delta: &FileDelta,
    from: &dyn Side,
    to: &dyn Side,
) -> Result<(Option<Value>, Option<Value>), ReadError> {
    fn texts<'b>(
        bytes: Option<&'b [u8]>,
        path: &str,
        side: &dyn Side,
    ) -> Result<Option<Vec<&'b RawValue>>, ReadError> {
        bytes
            .map(|b| {
                serde_json::from_slice(b).map_err(|e| ReadError {
                    side: side.label().to_string(),
                    path: path.to_string(),
                    problem: format!("not a JSON array of members: {e}"),
                })
            })
            .transpose()
    }
    let old = texts(delta.old.as_deref(), &delta.path, from)?;
    let new = texts(delta.new.as_deref(), &delta.path, to)?;
    fn set<'b>(side: &Option<Vec<&'b RawValue>>) -> HashSet<&'b str> {
        side.iter().flatten().map(|m| m.get()).collect()
    }
    let (in_old, in_new) = (set(&old), set(&new));
    let only = |side: Option<Vec<&RawValue>>,
                other: &HashSet<&str>,
                which: &dyn Side|
     -> Result<Option<Value>, ReadError> {
        side.map(|members| {
            members
                .into_iter()
                .filter(|m| !other.contains(m.get()))
                .map(|m| parse(m.get().as_bytes(), &delta.path, which))
                .collect::<Result<Vec<Value>, ReadError>>()
                .map(Value::Array)
        })
        .transpose()
    };
    Ok((only(old, &in_new, from)?, only(new, &in_old, to)?))
}

/// What happened to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added,
    Removed,
    /// Same id, new natural key (and so a new file); may also have field changes.
    Renamed,
    Changed,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Renamed => "renamed",
            Change::Changed => "changed",
        }
    }
}

/// A field change with the references its values hold, named on each side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    #[serde(flatten)]
    pub change: FieldChange,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
}

/// A member of a relationship file (a group's member, an app's assigned group).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Member {
    pub member: Named,
    pub change: Change,
    /// For changed members (an assignment's priority or profile).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
}

/// One resource that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceChange {
    pub kind: String,
    /// Okta's id (`None` for singletons without one and relationship files).
    pub id: Option<String>,
    /// The natural key as people read it (the new one for renames).
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_name: Option<String>,
    pub change: Change,
    /// The file on the new side (the old side for removals).
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_path: Option<String>,
    /// The parent of a nested resource (a rule's policy, a members file's group).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<Named>,
    /// Field changes (changed and renamed resources).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
    /// The whole resource as it was (removed) or is (added).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// The references of `body`, named.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    /// Members added, removed or changed (relationship kinds).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<Member>,
    /// System Log events between the two snapshots whose target is this resource.
    pub events: Vec<Event>,
    /// Who gains or loses access through this change.
    #[serde(skip_serializing_if = "Impact::is_empty")]
    pub impact: Impact,
}

/// Counts of resource changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub added: u64,
    pub removed: u64,
    pub renamed: u64,
    pub changed: u64,
}

impl Counts {
    fn count(&mut self, change: Change) {
        match change {
            Change::Added => self.added += 1,
            Change::Removed => self.removed += 1,
            Change::Renamed => self.renamed += 1,
            Change::Changed => self.changed += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.added + self.removed + self.renamed + self.changed
    }
}

/// The diff of two snapshots.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diff {
    pub counts: Counts,
    /// Counts per kind.
    pub kinds: BTreeMap<String, Counts>,
    /// Sorted by kind, then path.
    pub resources: Vec<ResourceChange>,
    /// Files that belong to no kind of the catalogue, by path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_files: Vec<String>,
}

/// What went wrong building a diff.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// Builds the diff of the changed `files`, reading the rest through `from` and `to`; `events`
/// are the System Log events saved between the two snapshots.
pub fn build(
    catalogue: &Catalogue,
    files: Vec<FileDelta>,
    events: &[Value],
    from: &dyn Side,
    to: &dyn Side,
) -> Result<Diff, DiffError> {
    let events = who::Events::new(events);
    let mut other_files = Vec::new();
    // Files that exist on one side only are paired into one resource that moved: resources by
    // (kind, id) (a rename, or a parent's rename), relationship files by (kind, parent id).
    let mut removed: HashMap<(String, String), usize> = HashMap::new();
    let mut added: HashMap<(String, String), usize> = HashMap::new();
    let mut pending: Vec<(Parsed, &Kind)> = Vec::new();
    for delta in files {
        let Some(resolved) = layout::resolve(catalogue, &delta.path) else {
            other_files.push(delta.path);
            continue;
        };
        let kind = resolved.kind;
        let (old, new) = match kind.shape {
            Shape::Relationship { .. } => changed_members(&delta, from, to)?,
            Shape::Resource | Shape::Singleton => (
                delta
                    .old
                    .as_deref()
                    .map(|b| parse(b, &delta.path, from))
                    .transpose()?,
                delta
                    .new
                    .as_deref()
                    .map(|b| parse(b, &delta.path, to))
                    .transpose()?,
            ),
        };
        let delta = Parsed {
            path: delta.path,
            old,
            new,
        };
        let slot = pending.len();
        let identity = |value: &Value, side: &dyn Side| -> Result<Option<String>, ReadError> {
            Ok(match (&kind.shape, &kind.id) {
                (Shape::Relationship { .. }, _) => {
                    parent_of(catalogue, kind, &delta.path, side)?.map(|p| p.id)
                }
                (_, Some(id)) => id.get(value).and_then(text),
                (_, None) => None,
            })
        };
        match (&delta.old, &delta.new) {
            (Some(old), None) => {
                if let Some(id) = identity(old, from)? {
                    removed.insert((kind.name.clone(), id), slot);
                }
            }
            (None, Some(new)) => {
                if let Some(id) = identity(new, to)? {
                    added.insert((kind.name.clone(), id), slot);
                }
            }
            _ => {}
        }
        pending.push((delta, kind));
    }
    // The removed file's old value moves into the added one's delta.
    let mut taken = vec![false; pending.len()];
    let mut moved_from: HashMap<usize, String> = HashMap::new();
    for (key, &old_slot) in &removed {
        if let Some(&new_slot) = added.get(key) {
            let old_path = pending[old_slot].0.path.clone();
            let old_value = pending[old_slot].0.old.take();
            pending[new_slot].0.old = old_value;
            moved_from.insert(new_slot, old_path);
            taken[old_slot] = true;
        }
    }
    let mut resources = Vec::new();
    for (slot, (delta, kind)) in pending.into_iter().enumerate() {
        if taken[slot] {
            continue;
        }
        let old_path = moved_from.remove(&slot);
        let change = match &kind.shape {
            Shape::Relationship { .. } => relationship(catalogue, kind, delta, old_path, from, to)?,
            Shape::Resource | Shape::Singleton => {
                resource(catalogue, kind, delta, old_path, from, to)?
            }
        };
        if let Some(mut change) = change {
            change.events = events.for_change(&change);
            resources.push(change);
        }
    }
    tracing::debug!(resources = resources.len(), "resources compared");
    impact::assess(catalogue, &mut resources, from, to)?;
    tracing::debug!("access impact assessed");
    resources.sort_by(|a, b| (&a.kind, &a.path).cmp(&(&b.kind, &b.path)));
    let mut counts = Counts::default();
    let mut kinds: BTreeMap<String, Counts> = BTreeMap::new();
    for resource in &resources {
        counts.count(resource.change);
        kinds
            .entry(resource.kind.clone())
            .or_default()
            .count(resource.change);
    }
    other_files.sort();
    Ok(Diff {
        counts,
        kinds,
        resources,
        other_files,
    })
}

/// A scalar as text.
pub(crate) fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A resource's natural key as people read it (the index's `name`), or its kind's title.
pub(crate) fn display_name(kind: &Kind, body: &Value) -> String {
    let parts: Vec<String> = kind
        .natural_key()
        .iter()
        .filter_map(|path| path.get(body).and_then(text))
        .collect();
    if parts.is_empty() {
        kind.title.clone()
    } else {
        parts.join(" ")
    }
}

/// The parent of the resource at `path`, read from `side`.
fn parent_of(
    catalogue: &Catalogue,
    kind: &Kind,
    path: &str,
    side: &dyn Side,
) -> Result<Option<Named>, ReadError> {
    let Some(resolved) = layout::resolve(catalogue, path) else {
        return Ok(None);
    };
    let (Some(stem), Some(parent_kind)) = (
        resolved.parent.as_deref(),
        kind.variants
            .get(resolved.variant)
            .and_then(|v| v.parent.as_deref())
            .and_then(|p| catalogue.kind(p)),
    ) else {
        return Ok(None);
    };
    let parent_path = layout::file_path(stem);
    let Some(body) = side.file(&parent_path)? else {
        return Ok(None);
    };
    let id = parent_kind
        .id
        .as_ref()
        .and_then(|p| p.get(&body))
        .and_then(text)
        .unwrap_or_default();
    Ok(Some(Named {
        kind: parent_kind.name.clone(),
        id,
        name: Some(display_name(parent_kind, &body)),
    }))
}

fn resource(
    catalogue: &Catalogue,
    kind: &Kind,
    delta: Parsed,
    old_path: Option<String>,
    from: &dyn Side,
    to: &dyn Side,
) -> Result<Option<ResourceChange>, ReadError> {
    let id_of = |v: &Value| kind.id.as_ref().and_then(|p| p.get(v)).and_then(text);
    let (change, id, name, old_name, fields, body, references, parent) =
        match (delta.old, delta.new) {
            (None, None) => return Ok(None),
            (Some(old), None) => {
                let references = names::in_body(kind, &old, from, names::Which::Old);
                let parent = parent_of(catalogue, kind, &delta.path, from)?;
                (
                    Change::Removed,
                    id_of(&old),
                    display_name(kind, &old),
                    None,
                    Vec::new(),
                    Some(old),
                    references,
                    parent,
                )
            }
            (None, Some(new)) => {
                let references = names::in_body(kind, &new, to, names::Which::New);
                let parent = parent_of(catalogue, kind, &delta.path, to)?;
                (
                    Change::Added,
                    id_of(&new),
                    display_name(kind, &new),
                    None,
                    Vec::new(),
                    Some(new),
                    references,
                    parent,
                )
            }
            (Some(old), Some(new)) => {
                let fields = names::fields(kind, value::diff(&old, &new, Some(kind)), from, to);
                let (name, old_name) = (display_name(kind, &new), display_name(kind, &old));
                let renamed = old_path.is_some();
                if fields.is_empty() && !renamed {
                    return Ok(None);
                }
                let parent = parent_of(catalogue, kind, &delta.path, to)?;
                (
                    if renamed {
                        Change::Renamed
                    } else {
                        Change::Changed
                    },
                    id_of(&new),
                    name.clone(),
                    (renamed && old_name != name).then_some(old_name),
                    fields,
                    None,
                    Vec::new(),
                    parent,
                )
            }
        };
    Ok(Some(ResourceChange {
        kind: kind.name.clone(),
        id,
        name,
        old_name,
        change,
        path: delta.path,
        old_path,
        parent,
        fields,
        body,
        references,
        members: Vec::new(),
        events: Vec::new(),
        impact: Impact::default(),
    }))
}

/// A relationship file: its members matched by the member id.
fn relationship(
    catalogue: &Catalogue,
    kind: &Kind,
    delta: Parsed,
    old_path: Option<String>,
    from: &dyn Side,
    to: &dyn Side,
) -> Result<Option<ResourceChange>, ReadError> {
    let Shape::Relationship { member, .. } = &kind.shape else {
        return Ok(None);
    };
    fn members_of<'v>(member: &FieldPath, v: &'v Option<Value>) -> Vec<(String, &'v Value)> {
        match v {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|item| Some((member.get(item).and_then(text)?, item)))
                .collect(),
            _ => Vec::new(),
        }
    }
    let old = members_of(member, &delta.old);
    let new = members_of(member, &delta.new);
    let old_by_id: HashMap<&str, &Value> = old.iter().map(|(id, v)| (id.as_str(), *v)).collect();
    let new_by_id: HashMap<&str, &Value> = new.iter().map(|(id, v)| (id.as_str(), *v)).collect();
    let member_kind = kind
        .references
        .iter()
        .find(|r| &r.path == member)
        .map(|r| r.kind.clone());
    let named = |id: &str, side: &dyn Side| names::named(member_kind.as_deref(), id, side);
    let mut members = Vec::new();
    for (id, value) in &old {
        match new_by_id.get(id.as_str()) {
            None => members.push(Member {
                member: named(id, from),
                change: Change::Removed,
                fields: Vec::new(),
            }),
            Some(now) if now != value => {
                let fields = names::fields(kind, value::diff(value, now, Some(kind)), from, to);
                members.push(Member {
                    member: named(id, to),
                    change: Change::Changed,
                    fields,
                });
            }
            Some(_) => {}
        }
    }
    for (id, _) in &new {
        if !old_by_id.contains_key(id.as_str()) {
            members.push(Member {
                member: named(id, to),
                change: Change::Added,
                fields: Vec::new(),
            });
        }
    }
    if members.is_empty() {
        return Ok(None);
    }
    let change = match (&delta.old, &delta.new) {
        (None, _) => Change::Added,
        (_, None) => Change::Removed,
        _ => Change::Changed,
    };
    let side: &dyn Side = if change == Change::Removed { from } else { to };
    let parent = parent_of(catalogue, kind, &delta.path, side)?;
    let name = match &parent {
        Some(parent) => format!(
            "{} of {}",
            kind.title,
            parent.name.as_deref().unwrap_or(&parent.id)
        ),
        None => kind.title.clone(),
    };
    Ok(Some(ResourceChange {
        kind: kind.name.clone(),
        id: None,
        name,
        old_name: None,
        change,
        path: delta.path,
        old_path,
        parent,
        fields: Vec::new(),
        body: None,
        references: Vec::new(),
        members,
        events: Vec::new(),
        impact: Impact::default(),
    }))
}
