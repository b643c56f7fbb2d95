//! Desired tree × live tree × catalogue → plan.
//!
//! 1. Every desired resource is matched to a live one: by id, else by its file (the natural
//!    key: a deleted and re-created group has a new id but the same name). Relationship files
//!    follow their parent's match.
//! 2. References in desired bodies are rewritten: to the live id of what they point to (matched
//!    either way), or to `${id:PATH}` when the plan creates it. A reference to something in
//!    neither tree is an error naming the file and the JSON path.
//! 3. Each pair gives actions: create (then activate to the desired status), update (with the
//!    changes; deactivated first where Okta updates only inactive objects, re-created where an
//!    immutable field changed), lifecycle, member adds; with `prune`, deletes (deactivated first
//!    where Okta deletes only inactive objects) and member removals. System objects are never
//!    created or deleted, only updated.
//! 4. Kinds in restore order (the reference graph), deletes in reverse.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::Value;

use super::{Action, Desired, Manual, Op, PLAN_VERSION, Plan, placeholder, safety};
use crate::catalogue::{Catalogue, DERIVED_MEMBER, Embedding, Kind, Shape};
use crate::diff::value::diff;
use crate::snapshot::{canonical, fingerprint, layout};

/// What the plan may do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Delete live objects (and members) the desired tree does not have, within the selection.
    pub prune: bool,
    pub allow_mass_delete: bool,
    pub allow_admin_changes: bool,
    /// Running in CI (`CI` set): admin changes are refused even with the flag.
    pub ci: bool,
    /// Apps never touched: ids or OAuth client ids (the token's own client, `protected_apps`).
    pub protected_apps: Vec<String>,
    /// The scopes the token was granted (`None`: an API token, which has its admin's rights).
    pub granted: Option<Vec<String>>,
    /// `--secrets FILE`: `PATH#POINTER` → `env:VAR` or `file:PATH`, the secrets a snapshot
    /// holds only as fingerprints supplied at apply time.
    pub secrets: BTreeMap<String, String>,
}

/// A plan's inputs.
pub struct Input<'a> {
    pub org: String,
    pub desired: Desired,
    /// The selected desired files (path → canonical JSON).
    pub desired_files: &'a BTreeMap<String, Value>,
    /// Every id of the whole desired tree (its index): id → path, to tell a reference to an
    /// object outside the selection from one to nothing.
    pub desired_index: &'a BTreeMap<String, String>,
    /// The live org's files of the selected kinds and their ancestors, canonical.
    pub live_files: &'a BTreeMap<String, Value>,
    /// When the live files were read (RFC 3339).
    pub read_at: String,
    pub options: Options,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "{path}: `{pointer}` refers to {kind} {id}, which is neither in the desired tree nor in the live org; select it too (its kind or path) or remove the reference"
    )]
    Dangling {
        path: String,
        pointer: String,
        kind: String,
        id: String,
    },
    #[error(
        "{path}: refers to {kind} {id}, which the desired tree has at {target} but the selection leaves out and the live org lacks; add `{target}` to the paths (or its kind)"
    )]
    OutsideSelection {
        path: String,
        kind: String,
        id: String,
        target: String,
    },
    #[error("{0}")]
    Catalogue(String),
}

/// Fields a request never carries: read-only, volatile, derived.
fn writable(kind: &Kind, body: &Value) -> Value {
    let mut out = body.clone();
    if let Value::Object(map) = &mut out {
        map.remove(DERIVED_MEMBER);
    }
    for path in kind.read_only.iter().chain(&kind.volatile) {
        remove_path(&mut out, path.segments());
    }
    out
}

fn remove_path(value: &mut Value, segments: &[crate::catalogue::Segment]) {
    use crate::catalogue::Segment;
    match segments {
        [] => {}
        [Segment::Key(key)] => {
            if let Value::Object(map) = value {
                map.remove(key);
            }
        }
        [Segment::Key(key), rest @ ..] => {
            if let Some(child) = value.as_object_mut().and_then(|m| m.get_mut(key)) {
                remove_path(child, rest);
            }
        }
        [Segment::Each | Segment::AnyKey, rest @ ..] => match value {
            Value::Array(items) => items.iter_mut().for_each(|v| remove_path(v, rest)),
            Value::Object(map) => map.values_mut().for_each(|v| remove_path(v, rest)),
            _ => {}
        },
    }
}

/// The body of a create: the writable fields, plus the fields the kind cannot change later
/// that a create sets (a user type's `name`: read-only for an update, required by the create's
/// request schema).
fn create_body(catalogue: &Catalogue, kind: &Kind, desired: &Value) -> Value {
    let mut body = writable(kind, desired);
    let Some(index) = catalogue.fields(&kind.name) else {
        return body;
    };
    // The status is brought about by lifecycle calls, never sent.
    for path in kind
        .read_only
        .iter()
        .filter(|p| p.is_single() && p.to_string() != "status")
    {
        let settable = index
            .request
            .get(&path.to_string())
            .is_some_and(|info| !info.read_only);
        if let (true, Some(value), Value::Object(_)) = (settable, path.get(desired), &body) {
            let value = value.clone();
            let mut target = &mut body;
            let segments = path.segments();
            for (i, segment) in segments.iter().enumerate() {
                let crate::catalogue::Segment::Key(key) = segment else {
                    break;
                };
                let Value::Object(map) = target else { break };
                if i + 1 == segments.len() {
                    map.insert(key.clone(), value);
                    break;
                }
                target = map
                    .entry(key.clone())
                    .or_insert_with(|| Value::Object(serde_json::Map::new()));
            }
        }
    }
    body
}

/// A resource's id, as text.
fn id_of(kind: &Kind, body: &Value) -> Option<String> {
    kind.id
        .as_ref()
        .and_then(|p| p.get(body))
        .and_then(crate::diff::text)
}

/// Live objects by (kind, id), and which live object each desired file matches.
struct Matching {
    /// desired path → live path.
    live_of: HashMap<String, String>,
    /// (kind, desired id) → what references to it become: a live id or a placeholder.
    ids: HashMap<(String, String), String>,
    /// Every live (kind, id).
    live: HashSet<(String, String)>,
}

fn sha256(value: &Value) -> String {
    super::sha256_hex(canonical::to_text(value).as_bytes())
}

/// The stem of a relationship file's parent and its file name (`okta/groups/Eng`, `members`).
fn split_relationship(path: &str) -> Option<(&str, &str)> {
    let stem = path.strip_suffix(".json")?;
    stem.rsplit_once('/')
}

fn matching(catalogue: &Catalogue, input: &Input<'_>) -> Matching {
    let mut live_by_id: HashMap<(String, String), String> = HashMap::new();
    for (path, body) in input.live_files {
        if let Some(resolved) = layout::resolve(catalogue, path)
            && let Some(id) = id_of(resolved.kind, body)
        {
            live_by_id.insert((resolved.kind.name.clone(), id), path.clone());
        }
    }
    let mut live_of = HashMap::new();
    let mut ids = HashMap::new();
    // Resources first, parents before children (shorter paths first), so relationship files
    // can follow their parent's match.
    let mut paths: Vec<&String> = input.desired_files.keys().collect();
    paths.sort_by_key(|p| (p.matches('/').count(), p.as_str()));
    for path in paths {
        let Some(resolved) = layout::resolve(catalogue, path) else {
            continue;
        };
        let kind = resolved.kind;
        let body = &input.desired_files[path];
        if matches!(kind.shape, Shape::Relationship { .. }) {
            let Some((parent_stem, file)) = split_relationship(path) else {
                continue;
            };
            let parent_path = layout::file_path(parent_stem);
            let live_parent = live_of.get(&parent_path).cloned().unwrap_or(parent_path);
            if let Some(live_stem) = live_parent.strip_suffix(".json") {
                let live_path = layout::file_path(&format!("{live_stem}/{file}"));
                if input.live_files.contains_key(&live_path) {
                    live_of.insert(path.clone(), live_path);
                }
            }
            continue;
        }
        let desired_id = id_of(kind, body);
        let by_id = desired_id
            .as_ref()
            .and_then(|id| live_by_id.get(&(kind.name.clone(), id.clone())));
        let by_key = input
            .live_files
            .get(path)
            .filter(|live| id_of(kind, live).is_some() || kind.id.is_none())
            .map(|_| path);
        let matched = by_id.or(by_key).cloned();
        if let Some(id) = desired_id {
            let target = match &matched {
                Some(live_path) => input.live_files.get(live_path).and_then(|l| id_of(kind, l)),
                None => None,
            }
            .unwrap_or_else(|| placeholder(path));
            ids.insert((kind.name.clone(), id), target);
        }
        if let Some(live_path) = matched {
            live_of.insert(path.clone(), live_path);
        }
    }
    let live = live_by_id.into_keys().collect();
    Matching { live_of, ids, live }
}

/// Rewrites the references of a desired body to live ids or placeholders.
fn rewrite(
    kind: &Kind,
    path: &str,
    body: &mut Value,
    matching: &Matching,
    input: &Input<'_>,
) -> Result<(), PlanError> {
    // References under `_derived` are Butterfly's reading of `_links`: never sent.
    for reference in kind
        .references
        .iter()
        .filter(|r| r.path.first_key() != Some(DERIVED_MEMBER))
    {
        let mut problem: Option<PlanError> = None;
        let found: Vec<(String, Value)> = reference
            .path
            .select_with_pointers(body)
            .into_iter()
            .map(|(p, v)| (p, v.clone()))
            .collect();
        for (pointer, value) in found {
            let Some(text) = crate::diff::text(&value) else {
                continue;
            };
            if reference.literals.contains(&text) || reference.target.is_some() {
                continue;
            }
            let ids: Vec<String> = match reference.embedding {
                Embedding::Whole => vec![text.clone()],
                Embedding::Expression => text
                    .split('"')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_string)
                    .filter(|s| {
                        matching
                            .ids
                            .contains_key(&(reference.kind.clone(), s.clone()))
                            || input.desired_index.contains_key(s)
                    })
                    .collect(),
                Embedding::Url => text
                    .split(['/', ':'])
                    .map(str::to_string)
                    .filter(|s| {
                        matching
                            .ids
                            .contains_key(&(reference.kind.clone(), s.clone()))
                    })
                    .collect(),
            };
            let mut new_text = text.clone();
            for id in ids {
                // Outside the selection, the live object at the same file (natural key): the
                // same group in another org, or re-created with a new id.
                let by_file = input
                    .desired_index
                    .get(&id)
                    .and_then(|file| input.live_files.get(file))
                    .and_then(|live| live.get("id"))
                    .and_then(crate::diff::text);
                let target = match matching.ids.get(&(reference.kind.clone(), id.clone())) {
                    Some(target) => target.clone(),
                    None if matching
                        .live
                        .contains(&(reference.kind.clone(), id.clone())) =>
                    {
                        id.clone()
                    }
                    None if by_file.is_some() => by_file.clone().unwrap_or_default(),
                    None => {
                        // Several kinds may be declared at one path (a mapping's source): only
                        // the one that has the id counts.
                        if kind
                            .references
                            .iter()
                            .filter(|r| r.path == reference.path && r.kind != reference.kind)
                            .any(|r| {
                                matching.ids.contains_key(&(r.kind.clone(), id.clone()))
                                    || matching.live.contains(&(r.kind.clone(), id.clone()))
                            })
                        {
                            continue;
                        }
                        problem.get_or_insert(match input.desired_index.get(&id) {
                            Some(target) => PlanError::OutsideSelection {
                                path: path.to_string(),
                                kind: reference.kind.clone(),
                                id: id.clone(),
                                target: target.clone(),
                            },
                            None => PlanError::Dangling {
                                path: path.to_string(),
                                pointer: pointer.clone(),
                                kind: reference.kind.clone(),
                                id: id.clone(),
                            },
                        });
                        continue;
                    }
                };
                if target != id {
                    new_text = match reference.embedding {
                        Embedding::Whole => target,
                        Embedding::Expression => {
                            new_text.replace(&format!("\"{id}\""), &format!("\"{target}\""))
                        }
                        Embedding::Url => new_text.replace(&id, &target),
                    };
                }
            }
            if new_text != text
                && let Some(slot) = body.pointer_mut(&pointer)
            {
                *slot = Value::String(new_text);
            }
        }
        if let Some(problem) = problem {
            return Err(problem);
        }
    }
    Ok(())
}

/// The note of an action some fields of which are not sent.
fn unsent_note(unsent: &[String]) -> Option<String> {
    (!unsent.is_empty()).then(|| {
        format!(
            "not sent, Okta's request schema has no such field: {}",
            unsent.join(", ")
        )
    })
}

/// Removes from a request body the members Okta's request schema for the kind does not have
/// (fields Okta returns but does not take, such as a JWK's `alg` under an app's settings);
/// returns where they were, for the plan to say so. A kind without a request schema is left
/// as it is.
fn requestable(catalogue: &Catalogue, kind: &Kind, body: &mut Value) -> Vec<String> {
    use crate::catalogue::{FieldPath, Segment};
    fn walk(
        index: &crate::catalogue::FieldIndex,
        value: &mut Value,
        path: &mut Vec<Segment>,
        dropped: &mut Vec<String>,
    ) {
        match value {
            Value::Object(map) => {
                let keys: Vec<String> = map.keys().cloned().collect();
                for key in keys {
                    path.push(Segment::Key(key.clone()));
                    let here = FieldPath::from_segments(path.clone());
                    if index.has_request_field(&here) {
                        if let Some(child) = map.get_mut(&key) {
                            walk(index, child, path, dropped);
                        }
                    } else {
                        map.remove(&key);
                        dropped.push(here.to_string());
                    }
                    path.pop();
                }
            }
            Value::Array(items) => {
                path.push(Segment::Each);
                for item in items {
                    walk(index, item, path, dropped);
                }
                path.pop();
            }
            _ => {}
        }
    }
    let Some(index) = catalogue.fields(&kind.name) else {
        return Vec::new();
    };
    if index.request.is_empty() {
        return Vec::new();
    }
    let mut dropped = Vec::new();
    walk(index, body, &mut Vec::new(), &mut dropped);
    dropped.sort();
    dropped.dedup();
    dropped
}

/// The request that adds `member`, from the kind's template (`{member}` replaced).
fn member_request(template: &Value, member: &str) -> Value {
    match template {
        Value::String(s) => Value::String(s.replace("{member}", member)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| member_request(v, member)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), member_request(v, member)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Secrets a body holds only as fingerprints: they cannot be sent.
fn fingerprinted(value: &Value, pointer: String, out: &mut Vec<String>) {
    match value {
        Value::String(s) if s.starts_with(fingerprint::PREFIX) => out.push(pointer),
        Value::Object(map) => {
            for (k, v) in map {
                fingerprinted(
                    v,
                    format!("{pointer}/{}", crate::catalogue::pointer_token(k)),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                fingerprinted(v, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Removes the fingerprinted secrets from a request body, returning where they were.
fn strip_secrets(body: &mut Value) -> Vec<String> {
    let mut found = Vec::new();
    fingerprinted(body, String::new(), &mut found);
    for pointer in found.iter().rev() {
        if let Some((parent, key)) = pointer.rsplit_once('/')
            && let Some(Value::Object(map)) = body.pointer_mut(parent)
        {
            map.remove(key);
        }
    }
    found
}

fn status(body: &Value) -> Option<&str> {
    body.get("status").and_then(Value::as_str)
}

/// Kinds Okta always creates INACTIVE, whatever the request (a group rule is activated
/// separately); other kinds are created active unless their create asks `activate=false`.
const CREATED_INACTIVE: [&str; 1] = ["group_rule"];

/// The lifecycle operation that brings an object to `status`, if the kind has one.
fn lifecycle_to(kind: &Kind, status: &str) -> Option<Op> {
    let lifecycle = &kind.primary().endpoints.lifecycle;
    match status {
        "ACTIVE" if lifecycle.contains_key("activate") => Some(Op::Activate),
        "INACTIVE" | "DEPROVISIONED" if lifecycle.contains_key("deactivate") => {
            Some(Op::Deactivate)
        }
        _ => None,
    }
}

struct Builder<'a> {
    catalogue: &'a Catalogue,
    input: &'a Input<'a>,
    matching: Matching,
    actions: Vec<Action>,
    manual: Vec<Manual>,
    live_read: BTreeMap<String, String>,
}

impl Builder<'_> {
    fn action(&mut self, op: Op, kind: &Kind, path: &str, name: &str) -> &mut Action {
        self.actions.push(Action {
            op,
            kind: kind.name.clone(),
            path: path.to_string(),
            name: name.to_string(),
            id: None,
            parent: None,
            member: None,
            body: None,
            changes: Vec::new(),
            note: None,
            params: BTreeMap::new(),
            variant: layout::resolve(self.catalogue, path)
                .map(|r| r.variant)
                .unwrap_or(0),
            recreate: false,
            was: None,
        });
        let last = self.actions.len() - 1;
        &mut self.actions[last]
    }

    fn manual(&mut self, kind: &Kind, path: &str, name: &str, what: String) {
        self.manual_field(kind, path, name, None, what);
    }

    /// The fingerprinted secrets stripped from a body that `--secrets` supplies: their
    /// placeholders go back at their pointers; the others are returned, for the plan to list.
    fn supply(&self, path: &str, body: &mut Value, stripped: Vec<String>) -> Vec<String> {
        let mut missing = Vec::new();
        for pointer in stripped {
            match self.input.options.secrets.get(&format!("{path}#{pointer}")) {
                Some(source) => super::secrets::set(
                    body,
                    &pointer,
                    Value::String(super::secrets::placeholder(source)),
                ),
                None => missing.push(pointer),
            }
        }
        missing
    }

    /// A field of an object the restore leaves as it is, and what the operator must do.
    fn manual_field(
        &mut self,
        kind: &Kind,
        path: &str,
        name: &str,
        pointer: Option<String>,
        what: String,
    ) {
        self.manual.push(Manual {
            kind: kind.name.clone(),
            path: path.to_string(),
            name: name.to_string(),
            pointer,
            what,
        });
    }

    /// A file's body for parameters: desired, else the live object it matched.
    fn body_at(&self, path: &str) -> Option<Value> {
        self.input
            .desired_files
            .get(path)
            .or_else(|| {
                self.matching
                    .live_of
                    .get(path)
                    .and_then(|live| self.input.live_files.get(live))
            })
            .or_else(|| self.input.live_files.get(path))
            .cloned()
    }

    /// The endpoint placeholders of an action: `self.id` is the acted-on object (the member for
    /// relationship changes), `parent.*` its parent and `parent.parent.*` the grandparent
    /// (their live ids, or the placeholder of their create).
    fn params(&self, action: &Action) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(kind) = self.catalogue.kind(&action.kind) else {
            return out;
        };
        let mut ancestors: Vec<(String, String, Option<Value>)> = Vec::new(); // (path, id, body)
        let mut current = action.path.clone();
        for _ in 0..2 {
            let Some(resolved) = layout::resolve(self.catalogue, &current) else {
                break;
            };
            let Some(stem) = resolved.parent else { break };
            let parent_path = layout::file_path(&stem);
            let id = self.parent_ref(&current).unwrap_or_default();
            ancestors.push((parent_path.clone(), id, self.body_at(&parent_path)));
            current = parent_path;
        }
        let own_id = action
            .member
            .clone()
            .or_else(|| action.id.clone())
            .unwrap_or_else(|| placeholder(&action.path));
        let variant = kind
            .variants
            .get(action.variant)
            .unwrap_or_else(|| kind.primary());
        for (name, source) in &variant.params {
            let key = source.path.to_string();
            let value = match source.depth {
                0 if key == "id" => Some(own_id.clone()),
                0 => action
                    .body
                    .as_ref()
                    .or_else(|| self.input.desired_files.get(&action.path))
                    .and_then(|b| source.path.get(b))
                    .and_then(crate::diff::text),
                depth => ancestors.get(depth - 1).and_then(|(path, id, body)| {
                    let known = body
                        .as_ref()
                        .and_then(|b| source.path.get(b))
                        .and_then(crate::diff::text);
                    if key == "id" {
                        Some(id.clone())
                    } else if known.is_none() && id.starts_with("${id:") {
                        // A field only the answer to the parent's create has (its `_links`).
                        let mut field = key.clone();
                        if source.last_segment {
                            field.push_str("|last_segment");
                        }
                        out.insert(name.clone(), super::field_placeholder(path, &field));
                        None
                    } else {
                        known
                    }
                }),
            };
            if let Some(value) = value {
                let value = if source.last_segment {
                    value.rsplit('/').next().unwrap_or(&value).to_string()
                } else {
                    value
                };
                out.insert(name.clone(), value);
            }
        }
        out
    }

    /// The name of an active desired group rule that assigns the group `group` (a live id or
    /// the placeholder of its create).
    fn rule_assigning(&self, group: &str) -> Option<String> {
        self.input.desired_files.iter().find_map(|(path, body)| {
            let resolved = layout::resolve(self.catalogue, path)?;
            if resolved.kind.name != "group_rule" || status(body) != Some("ACTIVE") {
                return None;
            }
            let assigns = body
                .pointer("/actions/assignUserToGroups/groupIds")?
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .any(|id| {
                    id == group
                        || self
                            .matching
                            .ids
                            .get(&("group".to_string(), id.to_string()))
                            .is_some_and(|target| target == group)
                });
            assigns.then(|| crate::diff::display_name(resolved.kind, body))
        })
    }

    /// The live parent of a nested desired file: its live id, or the placeholder of its create.
    fn parent_ref(&self, path: &str) -> Option<String> {
        let resolved = layout::resolve(self.catalogue, path)?;
        let stem = resolved.parent?;
        let parent_path = layout::file_path(&stem);
        let parent_kind = self.catalogue.kind(
            resolved
                .kind
                .variants
                .get(resolved.variant)?
                .parent
                .as_deref()?,
        )?;
        // Matched; else created by this plan; else the live object at that path (a parent
        // outside the selection, or the parent of a live object to delete).
        match self.matching.live_of.get(&parent_path) {
            Some(live) => self
                .input
                .live_files
                .get(live)
                .and_then(|body| id_of(parent_kind, body)),
            None if self.input.desired_files.contains_key(&parent_path) => {
                Some(placeholder(&parent_path))
            }
            None => self
                .input
                .live_files
                .get(&parent_path)
                .and_then(|body| id_of(parent_kind, body)),
        }
    }

    fn resource(&mut self, kind: &Kind, path: &str) -> Result<(), PlanError> {
        let mut desired = self.input.desired_files[path].clone();
        rewrite(kind, path, &mut desired, &self.matching, self.input)?;
        let name = crate::diff::display_name(kind, &desired);
        let endpoints = &kind.primary().endpoints;
        let live_path = self.matching.live_of.get(path).cloned();
        let live = live_path
            .as_ref()
            .and_then(|p| self.input.live_files.get(p))
            .cloned();
        let parent = self.parent_ref(path);
        match live {
            None => {
                if kind.shape == Shape::Singleton
                    && (endpoints.replace.is_some() || endpoints.update.is_some())
                {
                    // One per org (or parent), reset rather than gone: set back as it was.
                    let mut body = writable(kind, &desired);
                    requestable(self.catalogue, kind, &mut body);
                    strip_secrets(&mut body);
                    // Under a parent this plan creates, Okta made it with the parent: its id is
                    // found when the parent exists.
                    let new_parent = parent.as_deref().is_some_and(|p| p.starts_with("${id:"));
                    let action = self.action(Op::Update, kind, path, &name);
                    action.id = if new_parent {
                        Some(super::DISCOVER.to_string())
                    } else {
                        id_of(kind, &desired)
                    };
                    action.parent = parent;
                    action.body = Some(body);
                    action.note = Some(if new_parent {
                        "set as backed up once its parent exists (Okta makes it with the parent)"
                            .into()
                    } else {
                        "set back as backed up (the org has one, reset)".into()
                    });
                    return Ok(());
                }
                if kind.is_system(&desired) {
                    self.manual(kind, path, &name, "an object Okta creates itself is missing from the live org; it cannot be created, only adopted".into());
                    return Ok(());
                }
                if endpoints.create.is_none() {
                    self.manual(
                        kind,
                        path,
                        &name,
                        "Okta's API cannot create this kind: re-create it in the Admin Console"
                            .into(),
                    );
                    return Ok(());
                }
                let mut body = create_body(self.catalogue, kind, &desired);
                let unsent = requestable(self.catalogue, kind, &mut body);
                let stripped = strip_secrets(&mut body);
                for pointer in self.supply(path, &mut body, stripped) {
                    let what = format!(
                        "the secret at `{pointer}` is kept only as a fingerprint: supply it with --secrets (the object is created without it)"
                    );
                    self.manual_field(kind, path, &name, Some(pointer), what);
                }
                if kind.name == "user" {
                    self.manual(kind, path, &name, "passwords, recovery answers and factors are never returned by Okta: the user is created without them and activates or resets".into());
                }
                let was = id_of(kind, &self.input.desired_files[path]);
                let action = self.action(Op::Create, kind, path, &name);
                action.parent = parent.clone();
                action.body = Some(body);
                action.note = unsent_note(&unsent);
                action.was = was;
                // Okta creates most kinds active: an inactive one is deactivated after its
                // create, unless the create asks for an inactive object (`activate=false`).
                let created_inactive = CREATED_INACTIVE.contains(&kind.name.as_str())
                    || kind.primary().endpoints.create.as_ref().is_some_and(|c| {
                        c.query.get("activate").map(String::as_str) == Some("false")
                    });
                if let Some(desired_status) = status(&desired)
                    && !(desired_status == "INACTIVE" && created_inactive)
                    && let Some(op) = lifecycle_to(kind, desired_status)
                {
                    let action = self.action(op, kind, path, &name);
                    action.id = Some(placeholder(path));
                    action.parent = parent;
                    action.note = Some(format!("to its backed-up status {desired_status}"));
                }
            }
            Some(live) => {
                let live_path = live_path.unwrap_or_default();
                self.live_read.insert(live_path.clone(), sha256(&live));
                let live_id = id_of(kind, &live);
                let changes = diff(
                    &writable(kind, &live),
                    &writable(kind, &desired),
                    Some(kind),
                );
                let changes: Vec<_> = changes
                    .into_iter()
                    .filter(|c| {
                        // A secret kept as a fingerprint that differs cannot be sent.
                        !c.new.as_ref().is_some_and(|v| {
                            v.as_str()
                                .is_some_and(|s| s.starts_with(fingerprint::PREFIX))
                        })
                    })
                    .collect();
                let status_change = match (status(&live), status(&desired)) {
                    (Some(l), Some(d)) if l != d => lifecycle_to(kind, d),
                    _ => None,
                };
                if changes.is_empty() && status_change.is_none() {
                    return Ok(());
                }
                let immutable = changes.iter().any(|c| {
                    kind.constraints.immutable.iter().any(|p| {
                        let pointer = format!("/{}", p.to_string().replace('.', "/"));
                        c.pointer == pointer || c.pointer.starts_with(&format!("{pointer}/"))
                    })
                });
                if !changes.is_empty() {
                    if endpoints.replace.is_none() && endpoints.update.is_none() {
                        self.manual(
                            kind,
                            path,
                            &name,
                            "Okta's API cannot update this kind: change it in the Admin Console"
                                .into(),
                        );
                    } else if immutable {
                        self.recreate(
                            kind,
                            path,
                            &name,
                            &desired,
                            &live,
                            live_id.clone(),
                            parent.clone(),
                        );
                        return Ok(());
                    } else {
                        let must_deactivate = kind
                            .constraints
                            .update_requires
                            .as_ref()
                            .is_some_and(|p| !p.matches(&live));
                        if must_deactivate {
                            let action = self.action(Op::Deactivate, kind, path, &name);
                            action.id = live_id.clone();
                            action.parent = parent.clone();
                            action.note = Some("Okta updates it only while inactive".into());
                        }
                        let mut body = writable(kind, &desired);
                        let unsent = requestable(self.catalogue, kind, &mut body);
                        let stripped = strip_secrets(&mut body);
                        for pointer in self.supply(path, &mut body, stripped) {
                            let what = format!(
                                "the secret at `{pointer}` is kept only as a fingerprint: the update is sent without it, and a replace without it may clear it; supply it with --secrets"
                            );
                            self.manual_field(kind, path, &name, Some(pointer), what);
                        }
                        let action = self.action(Op::Update, kind, path, &name);
                        action.id = live_id.clone();
                        action.parent = parent.clone();
                        action.body = Some(body);
                        action.changes = changes;
                        action.note = unsent_note(&unsent);
                        if must_deactivate && status(&desired) == Some("ACTIVE") {
                            let action = self.action(Op::Activate, kind, path, &name);
                            action.id = live_id;
                            action.parent = parent;
                            action.note = Some("active again, as backed up".into());
                            return Ok(());
                        }
                    }
                }
                if let Some(op) = status_change {
                    let action = self.action(op, kind, path, &name);
                    action.id = live_id;
                    action.parent = parent;
                }
            }
        }
        Ok(())
    }

    /// An immutable field changed: delete (deactivated first where needed) and create.
    #[allow(clippy::too_many_arguments)]
    fn recreate(
        &mut self,
        kind: &Kind,
        path: &str,
        name: &str,
        desired: &Value,
        live: &Value,
        live_id: Option<String>,
        parent: Option<String>,
    ) {
        if kind.is_system(live) {
            self.manual(kind, path, name, "a field Okta never changes differs on an object Okta created itself: it cannot be re-created".into());
            return;
        }
        if status(live) == Some("ACTIVE") && lifecycle_to(kind, "INACTIVE").is_some() {
            let action = self.action(Op::Deactivate, kind, path, name);
            action.id = live_id.clone();
            action.parent = parent.clone();
            action.recreate = true;
        }
        let action = self.action(Op::Delete, kind, path, name);
        action.id = live_id;
        action.parent = parent.clone();
        action.recreate = true;
        action.note = Some(
            "re-created: a field Okta never changes differs (the object gets a new id)".into(),
        );
        let mut body = create_body(self.catalogue, kind, desired);
        requestable(self.catalogue, kind, &mut body);
        let stripped = strip_secrets(&mut body);
        for pointer in self.supply(path, &mut body, stripped) {
            let what = format!(
                "the secret at `{pointer}` is kept only as a fingerprint: supply it with --secrets (the object is re-created without it)"
            );
            self.manual_field(kind, path, name, Some(pointer), what);
        }
        let was = id_of(kind, &self.input.desired_files[path]);
        let action = self.action(Op::Create, kind, path, name);
        action.parent = parent.clone();
        action.body = Some(body);
        action.was = was;
        if let Some(desired_status) = status(desired)
            && desired_status == "ACTIVE"
            && let Some(op) = lifecycle_to(kind, desired_status)
        {
            let action = self.action(op, kind, path, name);
            action.id = Some(placeholder(path));
            action.parent = parent;
        }
    }

    fn relationship(&mut self, kind: &Kind, path: &str) -> Result<(), PlanError> {
        let Shape::Relationship { member, add, .. } = &kind.shape else {
            return Ok(());
        };
        let mut desired = self.input.desired_files[path].clone();
        // Members reference their objects: rewrite each.
        if let Value::Array(items) = &mut desired {
            for item in items.iter_mut() {
                rewrite(kind, path, item, &self.matching, self.input)?;
            }
        }
        let live_path = self.matching.live_of.get(path).cloned();
        let live = live_path
            .as_ref()
            .and_then(|p| self.input.live_files.get(p))
            .cloned()
            .unwrap_or(Value::Array(Vec::new()));
        if let Some(live_path) = &live_path {
            self.live_read.insert(live_path.clone(), sha256(&live));
        }
        let parent = self.parent_ref(path);
        let name = match split_relationship(path) {
            Some((stem, _)) => format!(
                "{} of {}",
                kind.title,
                stem.rsplit('/').next().unwrap_or(stem)
            ),
            None => kind.title.clone(),
        };
        let ids = |v: &Value| -> BTreeMap<String, Value> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| Some((member.get(m).and_then(crate::diff::text)?, m.clone())))
                .collect()
        };
        let (want, have) = (ids(&desired), ids(&live));
        // A group an active group rule assigns gets its rule members back when the rule runs:
        // they are not added statically (they would never leave when the rule stops matching).
        let ruled = (kind.name == "group_membership")
            .then(|| parent.as_deref().and_then(|p| self.rule_assigning(p)))
            .flatten();
        if let Some(rule) = &ruled {
            let missing: Vec<&String> = want.keys().filter(|id| !have.contains_key(*id)).collect();
            if !missing.is_empty() {
                self.manual(
                    kind,
                    path,
                    &name,
                    format!(
                        "{} member(s) not added: the group rule \"{rule}\" assigns this group and adds its members when it runs; any added by hand must be added again afterwards: {}",
                        missing.len(),
                        missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }
        for (id, value) in &want {
            if have.get(id) == Some(value) || (ruled.is_some() && !have.contains_key(id)) {
                continue;
            }
            let mut unsent = Vec::new();
            let body = match add {
                Some(template) => member_request(template, id),
                None => {
                    let mut body = writable(kind, value);
                    unsent = requestable(self.catalogue, kind, &mut body);
                    // A fingerprint is never sent as a secret (an OIDC client secret): supplied
                    // with --secrets, else listed, and Okta makes a new one.
                    let stripped = strip_secrets(&mut body);
                    if !stripped.is_empty() {
                        let index = desired
                            .as_array()
                            .and_then(|all| {
                                all.iter().position(|m| {
                                    member.get(m).and_then(crate::diff::text).as_deref()
                                        == Some(id.as_str())
                                })
                            })
                            .unwrap_or(0);
                        let in_file: Vec<String> =
                            stripped.iter().map(|p| format!("/{index}{p}")).collect();
                        let mut supplied = Value::Array(vec![Value::Null; index + 1]);
                        supplied[index] = body.clone();
                        let missing = self.supply(path, &mut supplied, in_file);
                        body = supplied[index].take();
                        for pointer in missing {
                            let what = format!(
                                "the secret at `{pointer}` is kept only as a fingerprint: supply it with --secrets, else Okta makes a new one that every client must receive"
                            );
                            self.manual_field(kind, path, &name, Some(pointer), what);
                        }
                    }
                    body
                }
            };
            let action = self.action(Op::AddMember, kind, path, &name);
            action.parent = parent.clone();
            action.member = Some(id.clone());
            action.body = Some(body);
            action.note = unsent_note(&unsent);
            // The member's own fields the endpoint names (`self.label`), from the member.
            let variant = kind
                .variants
                .get(action.variant)
                .unwrap_or_else(|| kind.primary());
            for (name, source) in &variant.params {
                if source.depth == 0
                    && let Some(text) = source.path.get(value).and_then(crate::diff::text)
                {
                    action.params.insert(name.clone(), text);
                }
            }
            if have.contains_key(id) {
                action.note = Some(match &action.note {
                    Some(unsent) => format!("assigned again with the backed-up settings; {unsent}"),
                    None => "assigned again with the backed-up settings".into(),
                });
            }
        }
        if self.input.options.prune {
            for (id, value) in have.iter().filter(|(id, _)| !want.contains_key(*id)) {
                let action = self.action(Op::RemoveMember, kind, path, &name);
                action.parent = parent.clone();
                action.member = Some(id.clone());
                // The member's own fields the endpoint names (a group push mapping's own id,
                // not its source group), from the live member.
                let variant = kind
                    .variants
                    .get(action.variant)
                    .unwrap_or_else(|| kind.primary());
                for (name, source) in &variant.params {
                    if source.depth == 0
                        && let Some(text) = source.path.get(value).and_then(crate::diff::text)
                    {
                        action.params.insert(name.clone(), text);
                    }
                }
            }
        }
        Ok(())
    }

    /// Live objects of the selection the desired tree does not have.
    fn deletes(&mut self, selected: &dyn Fn(&str, &Kind) -> bool) {
        let matched: BTreeSet<&String> = self.matching.live_of.values().collect();
        let mut doomed = Vec::new();
        for (path, live) in self.input.live_files {
            if matched.contains(path) {
                continue;
            }
            let Some(resolved) = layout::resolve(self.catalogue, path) else {
                continue;
            };
            let kind = resolved.kind;
            if matches!(kind.shape, Shape::Relationship { .. }) || !selected(path, kind) {
                continue;
            }
            // Its parent is deleted too, or it stays with its parent: only whole objects here.
            if self.input.desired_files.contains_key(path) {
                continue;
            }
            doomed.push((path.clone(), kind, live.clone()));
        }
        for (path, kind, live) in doomed {
            let name = crate::diff::display_name(kind, &live);
            self.live_read.insert(path.clone(), sha256(&live));
            if kind.is_system(&live) {
                continue;
            }
            if kind.primary().endpoints.delete.is_none() {
                self.manual(
                    kind,
                    &path,
                    &name,
                    "not in the desired tree, but Okta's API cannot delete this kind".into(),
                );
                continue;
            }
            let live_id = id_of(kind, &live);
            let parent = layout::resolve(self.catalogue, &path)
                .and_then(|r| r.parent)
                .and_then(|stem| self.input.live_files.get(&layout::file_path(&stem)))
                .and_then(|p| p.get("id").and_then(Value::as_str).map(str::to_string));
            let must_deactivate = kind
                .constraints
                .delete_requires
                .as_ref()
                .is_some_and(|p| !p.matches(&live));
            if must_deactivate {
                let action = self.action(Op::Deactivate, kind, &path, &name);
                action.id = live_id.clone();
                action.parent = parent.clone();
                action.note = Some("Okta deletes it only while inactive".into());
            }
            let action = self.action(Op::Delete, kind, &path, &name);
            action.id = live_id;
            action.parent = parent;
        }
    }
}

/// The placeholders an action needs resolved: in its body, parameters, id and parent.
fn needs(action: &Action) -> BTreeSet<String> {
    fn walk(value: &Value, out: &mut BTreeSet<String>) {
        match value {
            Value::String(s) => {
                for prefix in ["${id:", "${field:"] {
                    let mut rest = s.as_str();
                    while let Some(start) = rest.find(prefix) {
                        let after = &rest[start + prefix.len()..];
                        let Some(end) = after.find('}') else { break };
                        let inner = &after[..end];
                        out.insert(inner.split('#').next().unwrap_or(inner).to_string());
                        rest = &after[end + 1..];
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            Value::Object(map) => map.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    if let Some(body) = &action.body {
        walk(body, &mut out);
    }
    for text in action
        .params
        .values()
        .chain(&action.id)
        .chain(&action.parent)
    {
        walk(&Value::String(text.clone()), &mut out);
    }
    // Its own create is not a dependency of the create itself.
    if action.op == Op::Create {
        out.remove(&action.path);
    }
    out
}

/// Moves each action after the creates whose ids it needs. The restore order already puts
/// most creates first; a weak reference (a brand's email domain, written after both exist)
/// can point forward. Stops when nothing moves or after as many rounds as actions (a cycle is
/// left for `apply` to name).
fn after_their_creates(mut actions: Vec<Action>) -> Vec<Action> {
    for _ in 0..actions.len() {
        let created_at: HashMap<String, usize> = actions
            .iter()
            .enumerate()
            .filter(|(_, a)| a.op == Op::Create)
            .map(|(i, a)| (a.path.clone(), i))
            .collect();
        let misplaced = actions.iter().enumerate().find_map(|(i, a)| {
            let last = needs(a)
                .iter()
                .filter_map(|p| created_at.get(p).copied())
                .max()?;
            (last > i).then_some((i, last))
        });
        let Some((at, after)) = misplaced else {
            break;
        };
        // The steps of one object (deactivate, update, activate) move together.
        let same = |a: &Action, b: &Action| a.kind == b.kind && a.path == b.path;
        let mut start = at;
        while start > 0 && same(&actions[start - 1], &actions[at]) {
            start -= 1;
        }
        let mut end = at + 1;
        while end < actions.len() && end <= after && same(&actions[end], &actions[at]) {
            end += 1;
        }
        if end > after {
            break; // the create it needs is its own block's: a cycle
        }
        let block: Vec<Action> = actions.drain(start..end).collect();
        let insert_at = after + 1 - block.len();
        for (offset, action) in block.into_iter().enumerate() {
            actions.insert(insert_at + offset, action);
        }
    }
    actions
}

/// Builds the plan.
pub fn build(
    catalogue: &Catalogue,
    input: &Input<'_>,
    selected: &dyn Fn(&str, &Kind) -> bool,
) -> Result<Plan, PlanError> {
    let order = catalogue
        .restore_order()
        .map_err(|e| PlanError::Catalogue(e.to_string()))?;
    let rank: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let mut builder = Builder {
        catalogue,
        input,
        matching: matching(catalogue, input),
        actions: Vec::new(),
        manual: Vec::new(),
        live_read: BTreeMap::new(),
    };
    let mut desired: Vec<(&String, &Kind)> = input
        .desired_files
        .keys()
        .filter_map(|p| Some((p, layout::resolve(catalogue, p)?.kind)))
        .collect();
    desired.sort_by_key(|(p, k)| {
        (
            rank.get(k.name.as_str()).copied(),
            p.matches('/').count(),
            p.as_str().to_string(),
        )
    });
    for (path, kind) in desired {
        match kind.shape {
            Shape::Relationship { .. } => builder.relationship(kind, path)?,
            Shape::Resource | Shape::Singleton => builder.resource(kind, path)?,
        }
    }
    if input.options.prune {
        builder.deletes(selected);
    }
    let params: Vec<_> = builder.actions.iter().map(|a| builder.params(a)).collect();
    for (action, params) in builder.actions.iter_mut().zip(params) {
        for (name, value) in params {
            action.params.entry(name).or_insert(value);
        }
    }
    // Deletes after everything else, in reverse restore order (children before parents).
    let (mut deletes, mut rest): (Vec<Action>, Vec<Action>) = builder
        .actions
        .into_iter()
        .partition(|a| a.op == Op::Delete && !a.recreate);
    // A deactivation that precedes a delete goes with it.
    let mut paired = Vec::new();
    rest.retain(|a| {
        let goes = a.op == Op::Deactivate
            && !a.recreate
            && deletes.iter().any(|d| d.path == a.path && d.kind == a.kind);
        if goes {
            paired.push(a.clone());
        }
        !goes
    });
    deletes.extend(paired);
    deletes.sort_by_key(|a| {
        (
            std::cmp::Reverse(rank.get(a.kind.as_str()).copied()),
            a.path.clone(),
            a.op != Op::Deactivate,
        )
    });
    let mut rest = after_their_creates(rest);
    rest.extend(deletes);
    let mut plan = Plan {
        version: PLAN_VERSION,
        org: input.org.clone(),
        desired: input.desired.clone(),
        read_at: input.read_at.clone(),
        actions: rest,
        refused: Vec::new(),
        manual: builder.manual,
        live: builder.live_read,
    };
    safety::check(catalogue, input, &mut plan);
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Op, Plan};
    use serde_json::json;

    fn tree(entries: Vec<(&str, Value)>) -> BTreeMap<String, Value> {
        entries
            .into_iter()
            .map(|(p, v)| (p.to_string(), v))
            .collect()
    }

    fn group(id: &str, name: &str) -> (String, Value) {
        (
            format!("okta/groups/{name}.json"),
            json!({"id": id, "profile": {"name": name}, "type": "OKTA_GROUP"}),
        )
    }

    fn rule(id: &str, name: &str, group: &str, expression: &str, status: &str) -> (String, Value) {
        (
            format!("okta/group-rules/{name}.json"),
            json!({"id": id, "name": name, "status": status, "type": "group_rule",
                "actions": {"assignUserToGroups": {"groupIds": [group]}},
                "conditions": {"expression": {"type": "urn:okta:expression:1.0", "value": expression}}}),
        )
    }

    fn files(entries: Vec<(String, Value)>) -> BTreeMap<String, Value> {
        entries.into_iter().collect()
    }

    fn plan_with(
        desired: &BTreeMap<String, Value>,
        live: &BTreeMap<String, Value>,
        options: Options,
        kinds: &[&str],
    ) -> Result<Plan, PlanError> {
        let catalogue = Catalogue::okta().unwrap();
        let index: BTreeMap<String, String> = desired
            .iter()
            .filter_map(|(p, v)| Some((v.get("id")?.as_str()?.to_string(), p.clone())))
            .collect();
        let input = Input {
            org: "acme.okta.com".into(),
            desired: Desired {
                rev: "main".into(),
                commit: None,
                kinds: Vec::new(),
                paths: Vec::new(),
                prune: options.prune,
            },
            desired_files: desired,
            desired_index: &index,
            live_files: live,
            read_at: "2026-11-23T10:00:00Z".into(),
            options,
        };
        let kinds: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
        build(catalogue, &input, &|_, kind: &Kind| {
            kinds.contains(&kind.name)
        })
    }

    fn plan(desired: &BTreeMap<String, Value>, live: &BTreeMap<String, Value>) -> Plan {
        plan_with(desired, live, Options::default(), &[]).unwrap()
    }

    fn ops(plan: &Plan) -> Vec<(Op, String)> {
        plan.actions
            .iter()
            .map(|a| (a.op, a.name.clone()))
            .collect()
    }

    #[test]
    fn the_same_trees_make_an_empty_plan() {
        let both = files(vec![
            group("00gS", "Support"),
            rule(
                "0prR",
                "Support - auto",
                "00gS",
                "user.department==\"Support\"",
                "ACTIVE",
            ),
        ]);
        let plan = plan(&both, &both);
        assert!(plan.actions.is_empty(), "{:?}", plan.actions);
        assert_eq!(
            plan.live.len(),
            2,
            "every live object read is fingerprinted"
        );
    }

    #[test]
    fn a_deleted_group_rule_is_created_then_activated_with_its_reference_kept() {
        let desired = files(vec![
            group("00gS", "Support"),
            rule("0prR", "Support - auto", "00gS", "x", "ACTIVE"),
        ]);
        let live = files(vec![group("00gS", "Support")]);
        let plan = plan(&desired, &live);
        assert_eq!(
            ops(&plan),
            vec![
                (Op::Create, "Support - auto".into()),
                (Op::Activate, "Support - auto".into())
            ]
        );
        let body = plan.actions[0].body.as_ref().unwrap();
        assert_eq!(
            body["actions"]["assignUserToGroups"]["groupIds"],
            json!(["00gS"])
        );
        assert!(
            body.get("id").is_none() && body.get("status").is_none(),
            "{body}"
        );
        assert_eq!(
            plan.actions[1].id.as_deref(),
            Some("${id:okta/group-rules/Support - auto.json}")
        );
    }

    #[test]
    fn a_recreated_group_is_matched_by_name_and_references_follow_its_new_id() {
        let desired = files(vec![
            group("00gOLD", "Support"),
            rule(
                "0prR",
                "Support - auto",
                "00gOLD",
                "isMemberOfAnyGroup(\"00gOLD\")",
                "INACTIVE",
            ),
        ]);
        let live = files(vec![group("00gNEW", "Support")]);
        let plan = plan(&desired, &live);
        assert_eq!(ops(&plan), vec![(Op::Create, "Support - auto".into())]);
        let body = plan.actions[0].body.as_ref().unwrap();
        assert_eq!(
            body["actions"]["assignUserToGroups"]["groupIds"],
            json!(["00gNEW"])
        );
        assert_eq!(
            body["conditions"]["expression"]["value"],
            "isMemberOfAnyGroup(\"00gNEW\")"
        );
    }

    #[test]
    fn a_group_and_its_rule_both_deleted_are_created_in_order() {
        let desired = files(vec![
            group("00gS", "Support"),
            rule("0prR", "Support - auto", "00gS", "x", "INACTIVE"),
        ]);
        let plan = plan(&desired, &BTreeMap::new());
        assert_eq!(
            ops(&plan),
            vec![
                (Op::Create, "Support".into()),
                (Op::Create, "Support - auto".into())
            ]
        );
        assert_eq!(
            plan.actions[1].body.as_ref().unwrap()["actions"]["assignUserToGroups"]["groupIds"],
            json!(["${id:okta/groups/Support.json}"])
        );
    }

    #[test]
    fn an_active_group_rule_is_deactivated_updated_and_activated_again() {
        let desired = files(vec![
            group("00gS", "Support"),
            rule(
                "0prR",
                "R",
                "00gS",
                "user.department==\"Support\"",
                "ACTIVE",
            ),
        ]);
        let live = files(vec![
            group("00gS", "Support"),
            rule("0prR", "R", "00gS", "user.department==\"Help\"", "ACTIVE"),
        ]);
        let plan = plan(&desired, &live);
        assert_eq!(
            ops(&plan),
            vec![
                (Op::Deactivate, "R".into()),
                (Op::Update, "R".into()),
                (Op::Activate, "R".into())
            ]
        );
        let update = &plan.actions[1];
        assert_eq!(update.id.as_deref(), Some("0prR"));
        assert_eq!(update.changes[0].pointer, "/conditions/expression/value");
        assert_eq!(
            update.changes[0].new,
            Some(json!("user.department==\"Support\""))
        );
    }

    #[test]
    fn a_changed_immutable_field_recreates_the_object() {
        let desired = files(vec![
            group("00gA", "A"),
            group("00gB", "B"),
            rule("0prR", "R", "00gA", "x", "ACTIVE"),
        ]);
        let live = files(vec![
            group("00gA", "A"),
            group("00gB", "B"),
            rule("0prR", "R", "00gB", "x", "ACTIVE"),
        ]);
        let plan = plan(&desired, &live);
        assert_eq!(
            plan.actions.iter().map(|a| a.op).collect::<Vec<_>>(),
            vec![Op::Deactivate, Op::Delete, Op::Create, Op::Activate]
        );
        assert!(
            plan.actions[1]
                .note
                .as_deref()
                .unwrap()
                .starts_with("re-created")
        );
    }

    #[test]
    fn deletes_need_prune_and_a_user_is_never_deleted() {
        let desired = files(vec![group("00gA", "A")]);
        let mut live = desired.clone();
        live.extend(files(vec![group("00gX", "Extra")]));
        live.insert(
            "okta/users/x@acme.com.json".into(),
            json!({"id": "00uX", "profile": {"login": "x@acme.com"}, "status": "ACTIVE"}),
        );
        assert!(
            plan_with(&desired, &live, Options::default(), &["group", "user"])
                .unwrap()
                .actions
                .is_empty()
        );
        let pruned = plan_with(
            &desired,
            &live,
            Options {
                prune: true,
                allow_mass_delete: true,
                ..Options::default()
            },
            &["group", "user"],
        )
        .unwrap();
        assert_eq!(ops(&pruned), vec![(Op::Delete, "Extra".into())]);
        assert_eq!(pruned.refused.len(), 1, "{:?}", pruned.refused);
        assert_eq!(pruned.refused[0].kind, "user");
        assert_eq!(pruned.refused[0].flag, None);
    }

    #[test]
    fn mass_deletes_are_refused_without_the_flag() {
        let mut live = BTreeMap::new();
        for n in 0..12 {
            let (path, body) = group(&format!("00g{n}"), &format!("G{n}"));
            live.insert(path, body);
        }
        let desired: BTreeMap<String, Value> = live
            .iter()
            .take(10)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let options = Options {
            prune: true,
            ..Options::default()
        };
        let refused = plan_with(&desired, &live, options.clone(), &["group"]).unwrap();
        assert!(refused.actions.is_empty());
        assert_eq!(refused.refused.len(), 2);
        assert_eq!(
            refused.refused[0].flag.as_deref(),
            Some("--allow-mass-delete")
        );
        assert!(
            refused.refused[0]
                .why
                .contains("2 of 12 live group objects"),
            "{}",
            refused.refused[0].why
        );
        let allowed = plan_with(
            &desired,
            &live,
            Options {
                allow_mass_delete: true,
                ..options
            },
            &["group"],
        )
        .unwrap();
        assert_eq!(allowed.actions.len(), 2);
    }

    #[test]
    fn admin_changes_are_refused_and_in_ci_even_with_the_flag() {
        let admins = group("00gADM", "Admins");
        let mut desired = files(vec![admins.clone()]);
        desired.insert(
            "okta/groups/Admins/members.json".into(),
            json!([{"id": "00uA"}]),
        );
        desired.insert(
            "okta/users/a@acme.com.json".into(),
            json!({"id": "00uA", "profile": {"login": "a@acme.com"}}),
        );
        let mut live = files(vec![admins]);
        live.insert(
            "okta/users/a@acme.com.json".into(),
            json!({"id": "00uA", "profile": {"login": "a@acme.com"}}),
        );
        live.insert(
            "okta/groups/Admins/admin-roles.json".into(),
            json!([{"id": "ra1", "type": "SUPER_ADMIN"}]),
        );
        let refused = plan_with(&desired, &live, Options::default(), &[]).unwrap();
        assert!(refused.actions.is_empty(), "{:?}", refused.actions);
        assert_eq!(
            refused.refused[0].flag.as_deref(),
            Some("--allow-admin-changes")
        );
        let allowed = plan_with(
            &desired,
            &live,
            Options {
                allow_admin_changes: true,
                ..Options::default()
            },
            &[],
        )
        .unwrap();
        assert_eq!(
            ops(&allowed),
            vec![(Op::AddMember, "Group members of Admins".into())]
        );
        assert_eq!(allowed.actions[0].member.as_deref(), Some("00uA"));
        let ci = plan_with(
            &desired,
            &live,
            Options {
                allow_admin_changes: true,
                ci: true,
                ..Options::default()
            },
            &[],
        )
        .unwrap();
        assert!(ci.actions.is_empty());
        assert!(ci.refused[0].why.contains("CI"), "{}", ci.refused[0].why);
    }

    #[test]
    fn butterflys_own_app_is_never_touched() {
        let app = |label: &str| {
            json!({"id": "0oaB", "label": label, "name": "oidc_client", "status": "ACTIVE",
            "credentials": {"oauthClient": {"client_id": "0oaCLIENT"}}})
        };
        let desired = tree(vec![("okta/apps/Butterfly.json", app("Butterfly"))]);
        let mut live_app = app("Butterfly");
        live_app["settings"] = json!({"x": 1});
        let live = tree(vec![("okta/apps/Butterfly.json", live_app)]);
        let plan = plan_with(
            &desired,
            &live,
            Options {
                protected_apps: vec!["0oaCLIENT".into()],
                ..Options::default()
            },
            &[],
        )
        .unwrap();
        assert!(plan.actions.is_empty(), "{:?}", plan.actions);
        assert_eq!(plan.refused.len(), 1);
        assert!(plan.refused[0].why.contains("Butterfly itself uses"));
    }

    #[test]
    fn a_dangling_reference_names_the_file_and_the_pointer() {
        let desired = files(vec![rule("0prR", "R", "00gGONE", "x", "ACTIVE")]);
        let error = plan_with(&desired, &BTreeMap::new(), Options::default(), &[]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "okta/group-rules/R.json: `/actions/assignUserToGroups/groupIds/0` refers to group 00gGONE, which is neither in the desired tree nor in the live org; select it too (its kind or path) or remove the reference"
        );
    }

    #[test]
    fn an_action_moves_after_the_create_whose_id_it_needs() {
        let action = |op: Op, path: &str, body: Value| Action {
            op,
            kind: "k".into(),
            path: path.into(),
            name: path.into(),
            id: None,
            parent: None,
            member: None,
            body: Some(body),
            changes: Vec::new(),
            note: None,
            params: BTreeMap::new(),
            variant: 0,
            recreate: false,
            was: None,
        };
        let ordered = after_their_creates(vec![
            action(
                Op::Update,
                "brand",
                json!({"emailDomainId": "${id:domain}"}),
            ),
            action(Op::Create, "domain", json!({"brandId": "b1"})),
            action(Op::Create, "other", json!({})),
        ]);
        let paths: Vec<&str> = ordered.iter().map(|a| a.path.as_str()).collect();
        assert_eq!(paths, vec!["domain", "brand", "other"]);
    }

    #[test]
    fn a_create_sends_what_only_a_create_may_set() {
        let catalogue = Catalogue::okta().unwrap();
        let kind = catalogue.kind("user_type").unwrap();
        let body = create_body(
            catalogue,
            kind,
            &json!({"id": "oty1", "name": "Contractor", "displayName": "Contractor", "created": "x"}),
        );
        assert_eq!(
            body,
            json!({"name": "Contractor", "displayName": "Contractor"})
        );
    }

    #[test]
    fn a_reset_singleton_is_set_back_by_an_update() {
        let desired = tree(vec![(
            "okta/org/threat-insight.json",
            json!({"action": "block", "excludeZones": []}),
        )]);
        let plan = plan(&desired, &BTreeMap::new());
        assert_eq!(plan.actions.len(), 1, "{:?}", plan.actions);
        assert_eq!(plan.actions[0].op, Op::Update);
        assert_eq!(plan.actions[0].body.as_ref().unwrap()["action"], "block");
    }

    #[test]
    fn an_action_the_token_may_not_write_is_refused_naming_the_scope() {
        let desired = files(vec![group("00gS", "Support")]);
        let granted = Some(vec!["okta.groups.read".to_string()]);
        let plan = plan_with(
            &desired,
            &BTreeMap::new(),
            Options {
                granted,
                ..Options::default()
            },
            &[],
        )
        .unwrap();
        assert!(plan.actions.is_empty());
        assert!(
            plan.refused[0]
                .why
                .starts_with("the token lacks the scope okta.groups.manage"),
            "{}",
            plan.refused[0].why
        );
    }

    #[test]
    fn an_inactive_object_okta_creates_active_is_deactivated_after_its_create() {
        let desired = tree(vec![(
            "okta/trusted-origins/Docs.json",
            json!({"id": "tosX", "name": "Docs", "origin": "https://docs.example", "scopes": [{"type": "CORS"}], "status": "INACTIVE"}),
        )]);
        let plan = plan_with(
            &desired,
            &BTreeMap::new(),
            Options::default(),
            &["trusted_origin"],
        )
        .unwrap();
        assert_eq!(
            ops(&plan),
            vec![(Op::Create, "Docs".into()), (Op::Deactivate, "Docs".into())]
        );
    }

    #[test]
    fn a_deprovisioned_user_is_created_then_deactivated_and_its_old_id_kept() {
        let desired = tree(vec![(
            "okta/users/x@acme.com.json",
            json!({"id": "00uX", "profile": {"login": "x@acme.com"}, "status": "DEPROVISIONED"}),
        )]);
        let plan = plan_with(&desired, &BTreeMap::new(), Options::default(), &["user"]).unwrap();
        assert!(plan.refused.is_empty(), "{:?}", plan.refused);
        assert_eq!(
            ops(&plan),
            vec![
                (Op::Create, "x@acme.com".into()),
                (Op::Deactivate, "x@acme.com".into())
            ]
        );
        assert_eq!(plan.actions[0].was.as_deref(), Some("00uX"));
        // A live user is still never deactivated.
        let live = tree(vec![(
            "okta/users/x@acme.com.json",
            json!({"id": "00uX", "profile": {"login": "x@acme.com"}, "status": "ACTIVE"}),
        )]);
        let plan = plan_with(&desired, &live, Options::default(), &["user"]).unwrap();
        assert_eq!(plan.refused.len(), 1, "{:?}", plan.refused);
    }

    #[test]
    fn system_objects_are_never_created_and_secrets_are_listed() {
        let desired = tree(vec![(
            "okta/groups/Everyone.json",
            json!({"id": "00gE", "profile": {"name": "Everyone"}, "type": "BUILT_IN"}),
        )]);
        let plan = plan(&desired, &BTreeMap::new());
        assert!(plan.actions.is_empty());
        assert!(
            plan.manual[0].what.contains("cannot be created"),
            "{:?}",
            plan.manual
        );
        let mut body = json!({"a": "$fingerprint:hmac-sha256:abc", "b": {"c": "$fingerprint:unkeyed"}, "d": 1});
        assert_eq!(
            strip_secrets(&mut body),
            vec!["/a".to_string(), "/b/c".to_string()]
        );
        assert_eq!(body, json!({"b": {}, "d": 1}));
    }
}
