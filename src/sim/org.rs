//! The simulated org: every object of every kind in memory, with its parent, loaded from a
//! fixture tree in the canonical org-repo layout (so the same tree is what a backup of it must
//! produce).
//!
//! Must not know HTTP: handlers in `sim::api` read and change it through these methods.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use serde_json::Value;

use super::fixture::FixtureTree;
use crate::catalogue::{Catalogue, Kind, Shape};
use crate::snapshot::layout;

/// A reference to an object as a parent: its kind and its key ([`Object::key`], the id for
/// top-level objects).
pub type ObjectRef = (String, String);

impl Object {
    /// Where the org keeps the object: its id at the top level, `<parent key>/<id>` when
    /// nested, since nested ids are unique only under their parent (an email template's name
    /// under each brand). Equal to the id for every object nested in a top-level one.
    pub fn key(&self) -> String {
        match &self.parent {
            Some((_, parent)) => format!("{parent}/{}", self.id),
            None => self.id.clone(),
        }
    }

    /// The reference its children hold: its kind and [`Object::key`].
    pub fn as_parent(&self) -> ObjectRef {
        (self.kind.clone(), self.key())
    }
}

/// One object of the org.
#[derive(Clone, Debug)]
pub struct Object {
    pub kind: String,
    pub id: String,
    pub parent: Option<ObjectRef>,
    pub body: Value,
}

/// A fixture that cannot be loaded, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not valid JSON: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: no catalogue kind has files at this path")]
    UnknownPath { path: PathBuf },
    #[error("{path}: its parent `{parent}.json` is not in the fixture")]
    MissingParent { path: PathBuf, parent: String },
    #[error("{path}: expected {expected}")]
    Shape {
        path: PathBuf,
        expected: &'static str,
    },
    #[error("{path}: the fixture has no `okta/` folder")]
    NoTree { path: PathBuf },
    #[error(
        "--fixture {name}: no such folder, and no embedded fixture has that name (embedded: {embedded})"
    )]
    NotFound { name: String, embedded: String },
    #[error("{path}: {kind} {id} is already in the fixture at another path")]
    DuplicateId {
        path: PathBuf,
        kind: String,
        id: String,
    },
    #[error("{path}: group rule `{rule}`: conditions.expression.value: {error}")]
    RuleExpression {
        path: PathBuf,
        rule: String,
        error: super::expression::ParseError,
    },
    #[error(
        "{path}: the ACTIVE group rule `{rule}` assigns user {user} to this group, but the file does not list them"
    )]
    RuleMembership {
        path: PathBuf,
        rule: String,
        user: String,
    },
}

/// Where an object is stored: its kind, its parent's id (empty at the top level) and its id.
/// Nested ids need only be unique under their parent: relationship members are member ids
/// that repeat under every parent, and some kinds are named per parent (an app's features).
type Key = (String, String, String);

/// Every object, by kind, in creation order.
#[derive(Clone, Debug, Default)]
pub struct Org {
    objects: HashMap<Key, Object>,
    /// Ids per `(kind, parent id)` (empty parent id at the top level), in creation order.
    order: BTreeMap<(String, String), Vec<String>>,
    /// The kinds with objects under each parent id.
    children: HashMap<String, BTreeSet<String>>,
    /// The parents of each nested object that is not a relationship member, by (kind, id), so
    /// [`Org::get`] finds a policy rule by its id alone.
    located: HashMap<(String, String), Vec<String>>,
    /// Relationship kinds (not in `located`: a member's id is another object's id).
    relationships: BTreeSet<String>,
    next_id: u64,
    /// Which memberships group rules made and which an admin made.
    pub rule_memberships: super::rule_memberships::RuleMemberships,
}

/// The characters of Okta ids after their prefix.
pub(super) const ID_ALPHABET: &[u8] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Id prefixes Okta uses, per kind (an observation, NOTES.md §1.1); others get `0sm`.
fn id_prefix(kind: &str) -> &'static str {
    match kind {
        "user" => "00u",
        "group" => "00g",
        "group_rule" | "policy_rule" => "0pr",
        "app" | "identity_provider" => "0oa",
        "authorization_server" => "aus",
        "network_zone" => "nzo",
        "trusted_origin" => "tos",
        "event_hook" => "who",
        "inline_hook" => "cal",
        "user_type" => "oty",
        "profile_mapping" => "prm",
        "custom_role" => "cr0",
        "authenticator" => "aut",
        "brand" => "bnd",
        "policy" => "00p",
        "authorization_server_scope" => "scp",
        "authorization_server_claim" => "ocl",
        "app_client_secret" => "ocs",
        "resource_set" => "iam",
        "api_token" => "00T",
        _ => "0sm",
    }
}

impl Org {
    /// Loads a fixture folder (see [`Org::load`]).
    pub fn load_tree(catalogue: &Catalogue, dir: &std::path::Path) -> Result<Org, FixtureError> {
        Org::load(catalogue, &FixtureTree::read_dir(dir)?)
    }

    /// Loads a fixture tree: every `okta/**/*.json` file, parents before children.
    pub fn load(catalogue: &Catalogue, tree: &FixtureTree) -> Result<Org, FixtureError> {
        let mut files: Vec<&(String, String)> = tree.files.iter().collect();
        // Parents live at shorter paths than their children.
        files.sort_by_key(|(path, _)| (path.matches('/').count(), path.as_str()));
        let mut org = Org::default();
        let mut by_stem: BTreeMap<String, ObjectRef> = BTreeMap::new();
        for (relative, text) in files {
            let path = tree.path_of(relative);
            let Some(resolved) = layout::resolve(catalogue, relative) else {
                return Err(FixtureError::UnknownPath { path });
            };
            let value: Value = serde_json::from_str(text).map_err(|source| FixtureError::Json {
                path: path.clone(),
                source,
            })?;
            let parent = match &resolved.parent {
                Some(stem) => match by_stem.get(stem) {
                    Some(parent) => Some(parent.clone()),
                    None => {
                        return Err(FixtureError::MissingParent {
                            path,
                            parent: stem.clone(),
                        });
                    }
                },
                None => None,
            };
            let kind = resolved.kind;
            let stem = relative.trim_end_matches(".json").to_string();
            match &kind.shape {
                Shape::Relationship { member, .. } => {
                    let Value::Array(members) = value else {
                        return Err(FixtureError::Shape {
                            path,
                            expected: "an array of members",
                        });
                    };
                    for body in members {
                        let id = member
                            .get(&body)
                            .and_then(Value::as_str)
                            .map(str::to_string)
                            .unwrap_or_else(|| org.new_id(&kind.name));
                        org.insert_with_id(kind, id, parent.clone(), body);
                    }
                }
                Shape::Singleton | Shape::Resource => {
                    if !value.is_object() {
                        return Err(FixtureError::Shape {
                            path,
                            expected: "a JSON object",
                        });
                    }
                    let id = kind
                        .id
                        .as_ref()
                        .and_then(|id| id.get(&value))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| match kind.shape {
                            Shape::Singleton => format!("{}:{}", kind.name, stem),
                            _ => org.new_id(&kind.name),
                        });
                    if org.get_at(&kind.name, parent.as_ref(), &id).is_some() {
                        return Err(FixtureError::DuplicateId {
                            path,
                            kind: kind.name.clone(),
                            id,
                        });
                    }
                    let key = match &parent {
                        Some((_, parent_key)) => format!("{parent_key}/{id}"),
                        None => id.clone(),
                    };
                    org.insert_with_id(kind, id.clone(), parent, value);
                    by_stem.insert(stem, (kind.name.clone(), key));
                }
            }
        }
        let stems: BTreeMap<ObjectRef, String> =
            by_stem.into_iter().map(|(stem, at)| (at, stem)).collect();
        super::group_rules::settle_fixture(catalogue, &mut org, &tree.origin, &stems)?;
        Ok(org)
    }

    /// A new id in Okta's shape: a kind prefix and 17 more characters, unique in this org.
    pub fn new_id(&mut self, kind: &str) -> String {
        self.next_id += 1;
        // Spread consecutive numbers over the alphabet so ids do not look sequential.
        let mut n = self.next_id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut suffix = String::with_capacity(17);
        for _ in 0..17 {
            suffix.push(ID_ALPHABET[(n % 62) as usize] as char);
            n /= 62;
            if n == 0 {
                n = self.next_id.wrapping_mul(0xBF58_476D_1CE4_E5B9) | 1;
            }
        }
        format!("{}{suffix}", id_prefix(kind))
    }

    fn insert_with_id(&mut self, kind: &Kind, id: String, parent: Option<ObjectRef>, body: Value) {
        if matches!(kind.shape, Shape::Relationship { .. })
            && !self.relationships.contains(&kind.name)
        {
            self.relationships.insert(kind.name.clone());
        }
        self.place(&kind.name, id, parent, body);
    }

    /// A copy of the org with every id, parent id and body rewritten (in the same order).
    pub fn rewritten(&self, id: impl Fn(&str) -> String, body: impl Fn(&Value) -> Value) -> Org {
        let mut out = Org {
            relationships: self.relationships.clone(),
            next_id: self.next_id,
            ..Org::default()
        };
        for ((kind, parent_id), ids) in &self.order {
            for old in ids {
                let Some(object) =
                    self.objects
                        .get(&(kind.clone(), parent_id.clone(), old.clone()))
                else {
                    continue;
                };
                let parent = object
                    .parent
                    .as_ref()
                    .map(|(parent_kind, parent_id)| (parent_kind.clone(), id(parent_id)));
                out.place(kind, id(old), parent, body(&object.body));
            }
        }
        out
    }

    fn place(&mut self, kind: &str, id: String, parent: Option<ObjectRef>, body: Value) {
        let parent_id = parent
            .as_ref()
            .map(|(_, id)| id.clone())
            .unwrap_or_default();
        let key = Self::key(kind, parent.as_ref(), &id);
        if !self.objects.contains_key(&key) {
            self.order
                .entry((kind.to_string(), parent_id.clone()))
                .or_default()
                .push(id.clone());
            if !parent_id.is_empty() {
                if !self.relationships.contains(kind) {
                    self.located
                        .entry((kind.to_string(), id.clone()))
                        .or_default()
                        .push(parent_id.clone());
                }
                self.children
                    .entry(parent_id)
                    .or_default()
                    .insert(kind.to_string());
            }
        }
        self.objects.insert(
            key,
            Object {
                kind: kind.to_string(),
                id,
                parent,
                body,
            },
        );
    }

    fn key(kind: &str, parent: Option<&ObjectRef>, id: &str) -> Key {
        let scope = parent.map(|(_, id)| id.clone()).unwrap_or_default();
        (kind.to_string(), scope, id.to_string())
    }

    /// Adds an object (replacing one with the same id under the same parent) and returns its id.
    pub fn insert(
        &mut self,
        kind: &Kind,
        id: Option<String>,
        parent: Option<ObjectRef>,
        body: Value,
    ) -> String {
        let id = id.unwrap_or_else(|| self.new_id(&kind.name));
        self.insert_with_id(kind, id.clone(), parent, body);
        id
    }

    /// An object by kind and id, wherever it is nested (for an id repeated under several
    /// parents, such as an app feature's name, the first; use [`Org::get_at`] for those and
    /// for relationship members).
    pub fn get(&self, kind: &str, id: &str) -> Option<&Object> {
        if let Some(found) = self
            .objects
            .get(&(kind.to_string(), String::new(), id.to_string()))
        {
            return Some(found);
        }
        let parent = self
            .located
            .get(&(kind.to_string(), id.to_string()))?
            .first()?;
        self.objects
            .get(&(kind.to_string(), parent.clone(), id.to_string()))
    }

    /// The relationship member `id` of `kind` under the parent with id `parent_id`.
    pub fn get_member(&self, kind: &str, parent_id: &str, id: &str) -> Option<&Object> {
        self.objects
            .get(&(kind.to_string(), parent_id.to_string(), id.to_string()))
    }

    /// An object by id under `parent`.
    pub fn get_at(&self, kind: &str, parent: Option<&ObjectRef>, id: &str) -> Option<&Object> {
        self.objects.get(&Self::key(kind, parent, id))
    }

    /// See [`Org::get_at`].
    pub fn get_mut_at(
        &mut self,
        kind: &str,
        parent: Option<&ObjectRef>,
        id: &str,
    ) -> Option<&mut Object> {
        let key = Self::key(kind, parent, id);
        self.objects.get_mut(&key)
    }

    /// The stored copy of `object` (found by its kind, parent and id), to change it.
    pub fn stored_mut(&mut self, object: &Object) -> Option<&mut Object> {
        self.get_mut_at(&object.kind, object.parent.as_ref(), &object.id)
    }

    /// Removes an object (by id under `parent`; see [`Org::get_at`]).
    pub fn remove_at(
        &mut self,
        kind: &str,
        parent: Option<&ObjectRef>,
        id: &str,
    ) -> Option<Object> {
        let key = Self::key(kind, parent, id);
        let removed = self.objects.remove(&key)?;
        let parent_id = removed
            .parent
            .as_ref()
            .map(|(_, id)| id.clone())
            .unwrap_or_default();
        if let Some(parents) = self.located.get_mut(&(kind.to_string(), id.to_string())) {
            parents.retain(|p| *p != parent_id);
            if parents.is_empty() {
                self.located.remove(&(kind.to_string(), id.to_string()));
            }
        }
        if kind == super::rule_memberships::KIND {
            self.rule_memberships.forget(&parent_id, id);
        }
        if let Some(order) = self.order.get_mut(&(kind.to_string(), parent_id)) {
            order.retain(|i| i != id);
        }
        Some(removed)
    }

    /// Removes `object` and, depth first, every object under it.
    pub fn remove_with_children(&mut self, object: &Object) {
        let me = object.as_parent();
        self.remove_at(&object.kind, object.parent.as_ref(), &object.id);
        let children: Vec<Object> = self.children_of(&me).into_iter().cloned().collect();
        for child in children {
            self.remove_with_children(&child);
        }
    }

    /// The objects of `kind` (under `parent`, when given), in creation order (across parents:
    /// grouped by parent).
    pub fn list(&self, kind: &str, parent: Option<&ObjectRef>) -> Vec<&Object> {
        match parent {
            Some(parent) => self
                .order
                .get(&(kind.to_string(), parent.1.clone()))
                .into_iter()
                .flatten()
                .filter_map(|id| self.get_at(kind, Some(parent), id))
                .filter(|object| object.parent.as_ref() == Some(parent))
                .collect(),
            None => self
                .order
                .range((kind.to_string(), String::new())..)
                .take_while(|((k, _), _)| k == kind)
                .flat_map(|((_, parent_id), ids)| {
                    ids.iter().filter_map(move |id| {
                        self.objects
                            .get(&(kind.to_string(), parent_id.clone(), id.clone()))
                    })
                })
                .collect(),
        }
    }

    /// The (parent key, id) of every object of `kind` (under `parent`, when given), in the
    /// order of [`Org::list`], without looking the objects up.
    pub fn keys(&self, kind: &str, parent: Option<&ObjectRef>) -> Vec<(&str, &str)> {
        match parent {
            Some(parent) => self
                .order
                .get_key_value(&(kind.to_string(), parent.1.clone()))
                .into_iter()
                .flat_map(|((_, parent_key), ids)| {
                    ids.iter().map(move |id| (parent_key.as_str(), id.as_str()))
                })
                .collect(),
            None => self
                .order
                .range((kind.to_string(), String::new())..)
                .take_while(|((k, _), _)| k == kind)
                .flat_map(|((_, parent_key), ids)| {
                    ids.iter().map(move |id| (parent_key.as_str(), id.as_str()))
                })
                .collect(),
        }
    }

    /// The object of `kind` with this id under the parent with this key (empty at the top).
    pub fn get_keyed(&self, kind: &str, parent_key: &str, id: &str) -> Option<&Object> {
        self.objects
            .get(&(kind.to_string(), parent_key.to_string(), id.to_string()))
    }

    /// Every object whose parent is `parent`.
    pub fn children_of(&self, parent: &ObjectRef) -> Vec<&Object> {
        self.children
            .get(&parent.1)
            .into_iter()
            .flatten()
            .flat_map(|kind| self.list(kind, Some(parent)))
            .collect()
    }

    /// Every object of `kind`.
    pub fn all(&self, kind: &str) -> Vec<&Object> {
        self.list(kind, None)
    }

    /// Every object of every kind.
    pub fn objects(&self) -> impl Iterator<Item = &Object> {
        self.objects.values()
    }

    /// Makes room for `additional` more objects at once (a large generated org would
    /// otherwise rehash and move every object several times).
    pub fn reserve(&mut self, additional: usize) {
        self.objects.reserve(additional);
    }

    /// How many objects the org holds.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}
