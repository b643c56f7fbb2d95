//! The simulated org: every object of every kind in memory, with its parent, loaded from a
//! fixture tree in the canonical org-repo layout (so the same tree is what a backup of it must
//! produce). Built to hold a large generated org (600 000 objects) in a few hundred MiB: bodies
//! as compact JSON text (`sim::body`), names shared between the objects that hold them.
//!
//! Must not know HTTP: handlers in `sim::api` read and change it through these methods.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use super::body::{Body, Selection};
use super::fixture::FixtureTree;
use crate::catalogue::{Catalogue, Kind, Shape};
use crate::snapshot::layout;

/// A name the org shares between the objects that hold it (a kind name, a parent's key, an
/// id): cloning it copies no text.
pub type Name = Arc<str>;

/// A reference to an object as a parent: its kind and its key ([`Object::key`], the id for
/// top-level objects).
pub type ObjectRef = (Name, Name);

/// A reference to a parent from its kind and key.
pub fn object_ref(kind: &str, key: &str) -> ObjectRef {
    (Name::from(kind), Name::from(key))
}

/// One object of the org. Its body is kept as compact JSON text (see [`Body`]) and parsed
/// when read: read it with [`Object::body`] (or one member with [`Object::member`]), change
/// it with [`Object::set_body`] or [`Object::edit_body`].
#[derive(Clone, Debug)]
pub struct Object {
    pub kind: Name,
    pub id: Name,
    pub parent: Option<ObjectRef>,
    body: Body,
}

impl Object {
    /// Where the org keeps the object: its id at the top level, `<parent key>/<id>` when
    /// nested, since nested ids are unique only under their parent (an email template's name
    /// under each brand). Equal to the id for every object nested in a top-level one.
    pub fn key(&self) -> String {
        match &self.parent {
            Some((_, parent)) => format!("{parent}/{}", self.id),
            None => self.id.to_string(),
        }
    }

    /// The reference its children hold: its kind and [`Object::key`].
    pub fn as_parent(&self) -> ObjectRef {
        match &self.parent {
            Some(_) => (self.kind.clone(), Name::from(self.key())),
            None => (self.kind.clone(), self.id.clone()),
        }
    }

    /// The body (canonical), parsed from its text.
    pub fn body(&self) -> Value {
        self.body.parse()
    }

    /// The top-level member `name` of the body, without parsing the rest.
    pub fn member(&self, name: &str) -> Option<Value> {
        self.body.member(name)
    }

    /// The body with only the members `selection` names (see [`Body::select`]).
    pub fn select(&self, selection: &Selection) -> Value {
        self.body.select(selection)
    }

    /// A top-level string member of the body (a status, a type).
    pub fn member_str(&self, name: &str) -> Option<String> {
        match self.member(name) {
            Some(Value::String(text)) => Some(text),
            _ => None,
        }
    }

    /// The body's compact JSON text (equal texts are equal bodies).
    pub fn body_text(&self) -> &str {
        self.body.text()
    }

    /// Replaces the body.
    pub fn set_body(&mut self, body: &Value) {
        self.body = Body::new(body);
    }

    /// Changes the body in place.
    pub fn edit_body(&mut self, edit: impl FnOnce(&mut Value)) {
        let mut body = self.body();
        edit(&mut body);
        self.set_body(&body);
    }
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

/// The objects of one kind under one parent (or at the top level).
#[derive(Clone, Debug, Default)]
struct Scope {
    /// By id. Nested ids need only be unique under their parent: relationship members are
    /// member ids that repeat under every parent, and some kinds are named per parent (an
    /// app's features).
    objects: HashMap<Name, Object>,
    /// The ids in creation order.
    order: Vec<Name>,
}

/// Every object, by kind, in creation order.
///
/// Every name is held once and shared: a kind's name by all its objects, a parent's key by all
/// its children (a group's key by its hundreds of members), an object's id by its scope's map
/// and order. Lookups by `&str` allocate nothing.
#[derive(Clone, Debug, Default)]
pub struct Org {
    /// Objects by kind, then by parent key (empty at the top level). Listing across parents
    /// goes in the order of their keys.
    kinds: BTreeMap<Name, HashMap<Name, Scope>>,
    /// The kinds with objects under each parent key.
    children: HashMap<Name, BTreeSet<Name>>,
    /// The parents (keys) of each nested object that is not a relationship member, by kind and
    /// id, so [`Org::get`] finds a policy rule by its id alone.
    located: HashMap<Name, HashMap<Name, Vec<Name>>>,
    /// Relationship kinds (not in `located`: a member's id is another object's id).
    relationships: BTreeSet<Name>,
    /// How many objects there are.
    count: usize,
    /// The parent key of top-level objects (empty).
    top: Name,
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
                    by_stem.insert(stem, object_ref(&kind.name, &key));
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
        self.note_relationship(kind);
        self.place(&kind.name, &id, parent, Body::new(&body));
    }

    fn note_relationship(&mut self, kind: &Kind) {
        if matches!(kind.shape, Shape::Relationship { .. })
            && !self.relationships.contains(kind.name.as_str())
        {
            self.relationships.insert(Name::from(kind.name.as_str()));
        }
    }

    /// A copy of the org with every id, parent id and body rewritten (in the same order).
    pub fn rewritten(&self, id: impl Fn(&str) -> String, body: impl Fn(&Value) -> Value) -> Org {
        let mut out = Org {
            relationships: self.relationships.clone(),
            next_id: self.next_id,
            ..Org::default()
        };
        for object in self.objects() {
            let parent = object
                .parent
                .as_ref()
                .map(|(parent_kind, parent_id)| (parent_kind.clone(), Name::from(id(parent_id))));
            out.place(
                &object.kind,
                &id(&object.id),
                parent,
                Body::new(&body(&object.body())),
            );
        }
        out
    }

    /// The shared copy of a kind's name, when the org has objects of that kind.
    fn kind_name(&self, kind: &str) -> Option<Name> {
        self.kinds.get_key_value(kind).map(|(name, _)| name.clone())
    }

    fn place(&mut self, kind: &str, id: &str, parent: Option<ObjectRef>, body: Body) {
        // Names are shared: the kind's with its other objects, the parent's kind with the
        // parent, the parent's key with its other children of this kind.
        let (parent_kind, scope_key) = match parent {
            Some((parent_kind, parent_key)) => (
                Some(self.kind_name(&parent_kind).unwrap_or(parent_kind)),
                parent_key,
            ),
            None => (None, self.top.clone()),
        };
        if !self.kinds.contains_key(kind) {
            self.kinds.insert(Name::from(kind), HashMap::new());
        }
        let Some((kind, scopes)) = self
            .kinds
            .range_mut::<str, _>((Bound::Included(kind), Bound::Included(kind)))
            .next()
        else {
            // Unreachable: the kind was inserted just above.
            return;
        };
        let kind = kind.clone();
        let entry = scopes.entry(scope_key);
        let scope_key = entry.key().clone();
        let scope = entry.or_default();
        let parent = parent_kind.map(|parent_kind| (parent_kind, scope_key.clone()));
        if let Some(existing) = scope.objects.get_mut(id) {
            existing.parent = parent;
            existing.body = body;
            return;
        }
        let id = Name::from(id);
        scope.order.push(id.clone());
        scope.objects.insert(
            id.clone(),
            Object {
                kind: kind.clone(),
                id: id.clone(),
                parent,
                body,
            },
        );
        self.count += 1;
        if !scope_key.is_empty() {
            if !self.relationships.contains(&kind) {
                self.located
                    .entry(kind.clone())
                    .or_default()
                    .entry(id)
                    .or_default()
                    .push(scope_key.clone());
            }
            match self.children.get_mut(&scope_key) {
                Some(kinds) => {
                    if !kinds.contains(&kind) {
                        kinds.insert(kind);
                    }
                }
                None => {
                    self.children.insert(scope_key, BTreeSet::from([kind]));
                }
            }
        }
    }

    fn scope(&self, kind: &str, parent_key: &str) -> Option<&Scope> {
        self.kinds.get(kind)?.get(parent_key)
    }

    /// [`Org::insert`] of a body already written (see [`Body::written`]).
    pub(super) fn insert_body(
        &mut self,
        kind: &Kind,
        id: String,
        parent: Option<ObjectRef>,
        body: Body,
    ) {
        self.note_relationship(kind);
        self.place(&kind.name, &id, parent, body);
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
        if let Some(found) = self.get_keyed(kind, "", id) {
            return Some(found);
        }
        let parent = self.located.get(kind)?.get(id)?.first()?;
        self.get_keyed(kind, parent, id)
    }

    /// The relationship member `id` of `kind` under the parent with id `parent_id`.
    pub fn get_member(&self, kind: &str, parent_id: &str, id: &str) -> Option<&Object> {
        self.get_keyed(kind, parent_id, id)
    }

    /// An object by id under `parent`.
    pub fn get_at(&self, kind: &str, parent: Option<&ObjectRef>, id: &str) -> Option<&Object> {
        self.get_keyed(kind, parent.map_or("", |(_, key)| key), id)
    }

    /// See [`Org::get_at`].
    pub fn get_mut_at(
        &mut self,
        kind: &str,
        parent: Option<&ObjectRef>,
        id: &str,
    ) -> Option<&mut Object> {
        self.kinds
            .get_mut(kind)?
            .get_mut(parent.map_or("", |(_, key)| &**key))?
            .objects
            .get_mut(id)
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
        let parent_key = parent.map_or("", |(_, key)| &**key);
        let scopes = self.kinds.get_mut(kind)?;
        let scope = scopes.get_mut(parent_key)?;
        let removed = scope.objects.remove(id)?;
        scope.order.retain(|i| !Arc::ptr_eq(i, &removed.id));
        if scope.objects.is_empty() {
            scopes.remove(parent_key);
        }
        self.count -= 1;
        if let Some(ids) = self.located.get_mut(kind)
            && let Some(parents) = ids.get_mut(id)
        {
            parents.retain(|p| **p != *parent_key);
            if parents.is_empty() {
                ids.remove(id);
            }
        }
        if kind == super::rule_memberships::KIND {
            self.rule_memberships.forget(parent_key, id);
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
        self.scopes(kind, parent)
            .into_iter()
            .flat_map(|(_, scope)| scope.order.iter().filter_map(|id| scope.objects.get(id)))
            .filter(|object| parent.is_none_or(|parent| object.parent.as_ref() == Some(parent)))
            .collect()
    }

    /// The scopes of `kind`: the one under `parent`, or all, in the order of their keys.
    fn scopes(&self, kind: &str, parent: Option<&ObjectRef>) -> Vec<(&Name, &Scope)> {
        let Some(scopes) = self.kinds.get(kind) else {
            return Vec::new();
        };
        match parent {
            Some((_, key)) => scopes.get_key_value(key).into_iter().collect(),
            None => {
                let mut all: Vec<(&Name, &Scope)> = scopes.iter().collect();
                all.sort_unstable_by(|a, b| a.0.cmp(b.0));
                all
            }
        }
    }

    /// The (parent key, id) of every object of `kind` (under `parent`, when given), in the
    /// order of [`Org::list`], without looking the objects up.
    pub fn keys(&self, kind: &str, parent: Option<&ObjectRef>) -> Vec<(&str, &str)> {
        self.scopes(kind, parent)
            .into_iter()
            .flat_map(|(parent_key, scope)| {
                scope.order.iter().map(move |id| (&**parent_key, &**id))
            })
            .collect()
    }

    /// The object of `kind` with this id under the parent with this key (empty at the top).
    pub fn get_keyed(&self, kind: &str, parent_key: &str, id: &str) -> Option<&Object> {
        self.scope(kind, parent_key)?.objects.get(id)
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

    /// Every object of every kind: by kind, then as [`Org::list`] orders them.
    pub fn objects(&self) -> impl Iterator<Item = &Object> {
        self.kinds.keys().flat_map(|kind| self.list(kind, None))
    }

    /// How many objects the org holds.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind(name: &str) -> &'static Kind {
        Catalogue::okta()
            .expect("catalogue")
            .kind(name)
            .expect("kind exists")
    }

    #[test]
    fn objects_keep_creation_order_across_replace_and_remove() {
        let mut org = Org::default();
        for id in ["00u3", "00u1", "00u2"] {
            org.insert(kind("user"), Some(id.into()), None, json!({"id": id}));
        }
        org.insert(
            kind("user"),
            Some("00u1".into()),
            None,
            json!({"id": "00u1", "status": "SUSPENDED"}),
        );
        let ids = |org: &Org| {
            org.all("user")
                .iter()
                .map(|u| u.id.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&org), ["00u3", "00u1", "00u2"]);
        assert_eq!(org.len(), 3);
        assert_eq!(
            org.get("user", "00u1").and_then(|u| u.member_str("status")),
            Some("SUSPENDED".to_string())
        );
        assert!(org.remove_at("user", None, "00u3").is_some());
        assert!(org.remove_at("user", None, "00u3").is_none());
        assert_eq!(ids(&org), ["00u1", "00u2"]);
        assert_eq!(org.len(), 2);
        assert_eq!(org.keys("user", None), [("", "00u1"), ("", "00u2")]);
    }

    #[test]
    fn members_share_their_parents_names_and_are_found_under_each_parent() {
        let mut org = Org::default();
        org.insert(
            kind("group"),
            Some("00g1".into()),
            None,
            json!({"id": "00g1"}),
        );
        for user in ["00u1", "00u2"] {
            org.insert(
                kind("group_membership"),
                Some(user.into()),
                Some(object_ref("group", "00g1")),
                json!({"id": user}),
            );
        }
        let members = org.list("group_membership", Some(&object_ref("group", "00g1")));
        assert_eq!(members.len(), 2);
        let (first, second) = (members[0], members[1]);
        let (Some((kind_a, key_a)), Some((kind_b, key_b))) = (&first.parent, &second.parent) else {
            panic!("members have a parent");
        };
        assert!(Arc::ptr_eq(key_a, key_b), "one copy of the group's key");
        assert!(Arc::ptr_eq(kind_a, kind_b), "one copy of the kind's name");
        assert!(Arc::ptr_eq(&first.kind, &second.kind));
        assert!(org.get_member("group_membership", "00g1", "00u2").is_some());
        assert!(
            org.get("group_membership", "00u2").is_none(),
            "members are not located"
        );
        let group = org.get("group", "00g1").cloned().expect("group");
        org.remove_with_children(&group);
        assert!(org.is_empty(), "{:?}", org.objects().collect::<Vec<_>>());
    }

    #[test]
    fn a_body_is_changed_through_its_object() {
        let mut org = Org::default();
        org.insert(
            kind("user"),
            Some("00u1".into()),
            None,
            json!({"id": "00u1"}),
        );
        let stored = org.get_mut_at("user", None, "00u1").expect("stored");
        stored.edit_body(|body| body["status"] = json!("ACTIVE"));
        assert_eq!(stored.body(), json!({"id": "00u1", "status": "ACTIVE"}));
        stored.set_body(&json!({"id": "00u1"}));
        assert_eq!(stored.body_text(), r#"{"id":"00u1"}"#);
        assert_eq!(stored.member("status"), None);
    }
}
