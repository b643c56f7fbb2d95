//! `Kind`: the validated description of one Okta resource kind, as loaded from
//! `schemas/okta/<kind>.toml`. Backup, canonicalisation, diff, plan and the simulator all read
//! these values; nothing here performs IO.
//!
//! Invariant: a `Kind` only exists once its file passed every check in `load`, so its
//! parent, references and `after` kinds exist, every `{param}` of every endpoint is bound, and
//! every path parses.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use super::endpoint::{Endpoint, ListEndpoint};
use super::field_path::FieldPath;
use super::predicate::Predicate;

/// How a kind's objects are stored in an org repository.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// One file per object.
    Resource,
    /// One object per org (or per parent), no list.
    Singleton,
    /// One file per parent holding an array of members, sorted by `member`.
    Relationship {
        /// The member's identity (usually the member's id).
        member: FieldPath,
        /// The fields kept per member; empty keeps every non-volatile field.
        keep: Vec<FieldPath>,
        /// The body of the request that adds a member, when it is not the member itself: a
        /// JSON template where the string `{member}` stands for the member's id
        /// (`{"trusted": ["{member}"]}`).
        add: Option<serde_json::Value>,
    },
}

/// A file name template such as `policies/{type}/{name}` or `{parent}/rules/{name}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileTemplate {
    pub text: String,
    pub parts: Vec<FilePart>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilePart {
    Literal(String),
    /// The parent object's file path, without `.json`.
    Parent,
    Field(FieldPath),
}

impl FileTemplate {
    /// The fields that compose the file name: the kind's natural key.
    pub fn fields(&self) -> Vec<&FieldPath> {
        self.parts
            .iter()
            .filter_map(|part| match part {
                FilePart::Field(path) => Some(path),
                _ => None,
            })
            .collect()
    }

    pub fn has_parent(&self) -> bool {
        self.parts.contains(&FilePart::Parent)
    }
}

impl fmt::Display for FileTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Where the value of a path parameter comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamSource {
    /// 0 = the object itself, 1 = its parent, 2 = its grandparent.
    pub depth: usize,
    pub path: FieldPath,
    /// Take the last `/`-separated segment of the value (ids inside `_links` URLs).
    pub last_segment: bool,
}

impl fmt::Display for ParamSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = match self.depth {
            0 => "self",
            1 => "parent",
            _ => "parent.parent",
        };
        write!(f, "{scope}.{}", self.path)?;
        if self.last_segment {
            f.write_str("|last_segment")?;
        }
        Ok(())
    }
}

/// The operations of a kind (or of one variant of it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Endpoints {
    pub list: Option<ListEndpoint>,
    pub get: Option<Endpoint>,
    pub create: Option<Endpoint>,
    /// Full replacement (`PUT`).
    pub replace: Option<Endpoint>,
    /// Partial update (`POST` or `PATCH` on the item).
    pub update: Option<Endpoint>,
    pub delete: Option<Endpoint>,
    /// Named lifecycle operations: `activate`, `deactivate`, `suspend`, …
    pub lifecycle: BTreeMap<String, Endpoint>,
}

impl Endpoints {
    /// Every endpoint with its role (`list`, `get`, `lifecycle.activate`, …).
    pub fn all(&self) -> Vec<(String, &Endpoint)> {
        let mut all = Vec::new();
        if let Some(list) = &self.list {
            all.push(("list".to_string(), &list.endpoint));
        }
        for (role, endpoint) in [
            ("get", &self.get),
            ("create", &self.create),
            ("replace", &self.replace),
            ("update", &self.update),
            ("delete", &self.delete),
        ] {
            if let Some(endpoint) = endpoint {
                all.push((role.to_string(), endpoint));
            }
        }
        for (name, endpoint) in &self.lifecycle {
            all.push((format!("lifecycle.{name}"), endpoint));
        }
        all
    }

    /// The endpoints that only read.
    pub fn reads(&self) -> Vec<(String, &Endpoint)> {
        self.all()
            .into_iter()
            .filter(|(role, _)| role == "list" || role == "get")
            .collect()
    }

    /// The endpoints that change Okta.
    pub fn writes(&self) -> Vec<(String, &Endpoint)> {
        self.all()
            .into_iter()
            .filter(|(role, _)| role != "list" && role != "get")
            .collect()
    }
}

/// One way of reaching a kind's objects. Most kinds have one variant named after the kind;
/// admin role assignments have one per kind of assignee (user, group, client).
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    pub name: String,
    pub parent: Option<String>,
    /// Only parents matching this are listed (OIDC apps for client secrets, …).
    pub parent_when: Option<Predicate>,
    /// Lists the ids of the parents that have objects of this kind, instead of every parent
    /// (users with admin roles: `GET /api/v1/iam/assignees/users`).
    pub parents_from: Option<ListEndpoint>,
    /// Objects of this variant satisfy this (used to route an object to its variant).
    pub when: Option<Predicate>,
    pub file: FileTemplate,
    pub endpoints: Endpoints,
    pub params: BTreeMap<String, ParamSource>,
}

/// An array whose order carries no meaning; canonical JSON sorts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetArray {
    pub path: FieldPath,
    /// For arrays of objects: the member that orders them. `None` sorts scalars by value.
    pub key: Option<FieldPath>,
}

/// How a derived field is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transform {
    /// The last path segment of a URL (an id inside a `_links` href).
    LastSegment,
    /// `never`, `<35d`, `<45d`, `<90d` or `>=90d` since a timestamp, relative to the backup time.
    ActivityBucket,
    /// The value as it is.
    Copy,
}

impl Transform {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "last_segment" => Transform::LastSegment,
            "activity_bucket" => Transform::ActivityBucket,
            "copy" => Transform::Copy,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transform::LastSegment => "last_segment",
            Transform::ActivityBucket => "activity_bucket",
            Transform::Copy => "copy",
        }
    }
}

/// The top-level member under which derived fields are stored in a canonical file.
pub const DERIVED_MEMBER: &str = "_derived";

/// A field Butterfly computes at backup time from data Okta exposes awkwardly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Derived {
    /// Stored at `_derived.<name>`.
    pub name: String,
    pub from: FieldPath,
    pub transform: Transform,
}

/// Where a reference's id sits inside the value at its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Embedding {
    /// The value is the id.
    Whole,
    /// Ids in double quotes inside an Okta Expression Language string
    /// (`isMemberOfAnyGroup("00g1…")`).
    Expression,
    /// The id follows the target kind's collection (the first segment of its list path after
    /// `/api/v1/`: `groups`, `users`, `apps`) in a REST URL (`…/api/v1/groups/00g1…`) or an
    /// ORN (`orn:okta:directory:<org>:groups:00g1…[:contained_resources]`).
    Url,
}

/// A JSON path that holds the identity of an object of another kind.
#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    pub path: FieldPath,
    pub kind: String,
    /// The field of the target that the value equals (default: its id; an OAuth `client_id`
    /// for authorization server policies).
    pub target: Option<FieldPath>,
    pub embedding: Embedding,
    /// Values that are keywords, not references (`EVERYONE`, `ALL_CLIENTS`).
    pub literals: Vec<String>,
    /// A weak reference does not order a restore: the link is written after both objects exist.
    pub weak: bool,
}

/// Okta's rules on writing a kind, which a restore plans for and the simulator enforces.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Constraints {
    /// An object can be deleted only when this holds (apps, hooks, zones: not ACTIVE).
    pub delete_requires: Option<Predicate>,
    /// An object can be replaced or updated only when this holds (group rules: not ACTIVE).
    pub update_requires: Option<Predicate>,
    /// Fields that cannot change after creation (a group rule's `actions`, a zone's `type`).
    pub immutable: Vec<FieldPath>,
    /// At most this many objects per parent (two client secrets per app).
    pub max_per_parent: Option<u32>,
    /// Okta refuses to delete an object another object references (zones, device assurance).
    pub unused_to_delete: bool,
    /// Okta refuses to deactivate an object a policy uses (authenticators: E0000148).
    pub unused_to_deactivate: bool,
    /// Okta reconciles writes of this kind one at a time and answers 423 E0000239 to a write
    /// that overlaps another (group rules, policy rules).
    pub serial_writes: bool,
    /// Siblings are ordered by `priority`, which Okta renumbers (1..n, system objects last)
    /// when a write takes a priority another sibling holds.
    pub priority: bool,
}

/// The Okta OAuth scopes a kind needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scopes {
    pub read: Vec<String>,
    pub manage: Vec<String>,
}

/// One resource kind.
#[derive(Clone, Debug, PartialEq)]
pub struct Kind {
    pub name: String,
    pub title: String,
    pub about: String,
    /// The catalogue file it was loaded from, e.g. `schemas/okta/group_rule.toml`.
    pub source: String,
    pub shape: Shape,
    /// The field holding Okta's id; `None` for singletons without one.
    pub id: Option<FieldPath>,
    pub variants: Vec<Variant>,
    pub scopes: Scopes,
    /// The rate-limit bucket of the kind's endpoints unless one names its own.
    pub bucket: String,
    /// Why this kind is left out of backups unless asked for (one request per user, …).
    pub opt_in: Option<String>,
    pub volatile: Vec<FieldPath>,
    pub read_only: Vec<FieldPath>,
    /// Request fields a create or replace must carry that Okta's spec does not mark required
    /// (those it marks are `required` in the field index).
    pub required: Vec<FieldPath>,
    /// Request fields Okta's spec marks required that Okta does not require (the spec's
    /// `required` is wrong for some variants).
    pub optional: Vec<FieldPath>,
    /// JSON types Okta really sends and accepts where its spec says otherwise (a user schema
    /// attribute's `unique` is the string `UNIQUE_VALIDATED`, not a boolean), `|`-joined.
    pub types: Vec<(FieldPath, String)>,
    pub secret: Vec<FieldPath>,
    pub sets: Vec<SetArray>,
    /// Defaults declared in the kind file (they override the spec's).
    pub defaults: Vec<(FieldPath, Value)>,
    /// What Okta assumes for an absent field: the spec's `default:` values (filled in by
    /// `Catalogue` from the field index) overridden by `defaults`. Canonical files hold them,
    /// so "absent" and "the default" are the same file.
    pub effective_defaults: Vec<(FieldPath, Value)>,
    /// What Okta assumes for an absent field of one variant only (a password policy's
    /// `minLength`), from the spec's discriminator branches through the field index. Not in
    /// canonical files: compliance fills them before evaluating.
    pub variant_defaults: Vec<VariantDefaults>,
    pub derived: Vec<Derived>,
    pub references: Vec<Reference>,
    /// Marks objects Okta created itself: a restore adopts them, never creates or deletes.
    pub system: Option<Predicate>,
    /// Kinds that must be restored before this one for reasons no reference shows.
    pub after: Vec<String>,
    pub constraints: Constraints,
}

impl Kind {
    /// The first (for most kinds the only) variant.
    pub fn primary(&self) -> &Variant {
        &self.variants[0]
    }

    /// The variant an object belongs to: the first whose parent kind is `parent_kind` and whose
    /// `when` the object satisfies; the primary variant when none does.
    pub fn variant_for(&self, object: &Value, parent_kind: Option<&str>) -> &Variant {
        self.variants
            .iter()
            .find(|v| {
                v.parent.as_deref() == parent_kind
                    && v.when.as_ref().is_none_or(|when| when.matches(object))
            })
            .unwrap_or_else(|| self.primary())
    }

    /// The parent kinds of every variant.
    pub fn parents(&self) -> Vec<&str> {
        let mut parents: Vec<&str> = self
            .variants
            .iter()
            .filter_map(|v| v.parent.as_deref())
            .collect();
        parents.dedup();
        parents
    }

    /// The fields composing the file name, i.e. the natural key (of the primary variant).
    pub fn natural_key(&self) -> Vec<&FieldPath> {
        self.primary().file.fields()
    }

    pub fn is_system(&self, object: &Value) -> bool {
        self.system.as_ref().is_some_and(|p| p.matches(object))
    }

    /// True when Butterfly can write this kind back at all (create, update or lifecycle).
    pub fn is_restorable(&self) -> bool {
        self.variants
            .iter()
            .any(|v| !v.endpoints.writes().is_empty())
    }

    /// Every field path the kind names, with the field it is named in, for the spec check.
    /// Paths under `_derived` are excluded: they are Butterfly's, not Okta's.
    pub fn named_paths(&self) -> Vec<(String, FieldPath)> {
        let mut named: Vec<(String, &FieldPath)> = Vec::new();
        let mut computed: Vec<(String, FieldPath)> = Vec::new();
        if let Some(id) = &self.id {
            named.push(("id".to_string(), id));
        }
        for (list, paths) in [
            ("volatile", &self.volatile),
            ("read_only", &self.read_only),
            ("secret", &self.secret),
        ] {
            named.extend(paths.iter().map(|p| (list.to_string(), p)));
        }
        for set in &self.sets {
            named.push(("sets.path".to_string(), &set.path));
            if let Some(key) = &set.key {
                // The key is relative to each element of the array.
                let mut path = set.path.child(super::field_path::Segment::Each);
                for segment in key.segments() {
                    path = path.child(segment.clone());
                }
                computed.push(("sets.key".to_string(), path));
            }
        }
        named.extend(
            self.defaults
                .iter()
                .map(|(p, _)| ("defaults".to_string(), p)),
        );
        named.extend(
            self.derived
                .iter()
                .map(|d| ("derived.from".to_string(), &d.from)),
        );
        for reference in &self.references {
            named.push(("references.path".to_string(), &reference.path));
        }
        if let Some(system) = &self.system {
            named.extend(
                system
                    .paths()
                    .into_iter()
                    .map(|p| ("system".to_string(), p)),
            );
        }
        if let Shape::Relationship { member, keep, .. } = &self.shape {
            named.push(("relationship.member".to_string(), member));
            named.extend(keep.iter().map(|p| ("relationship.keep".to_string(), p)));
        }
        for variant in &self.variants {
            named.extend(
                variant
                    .file
                    .fields()
                    .into_iter()
                    .map(|p| ("file".to_string(), p)),
            );
            if let Some(when) = &variant.when {
                named.extend(when.paths().into_iter().map(|p| ("when".to_string(), p)));
            }
            for source in variant.params.values() {
                if source.depth == 0 {
                    named.push(("params".to_string(), &source.path));
                }
            }
        }
        named
            .into_iter()
            .map(|(field, path)| (field, path.clone()))
            .chain(computed)
            .filter(|(_, path)| path.first_key() != Some(DERIVED_MEMBER))
            .collect()
    }
}

/// The defaults of one variant of a kind: they apply to an object whose `field` is `equals`.
#[derive(Clone, Debug, PartialEq)]
pub struct VariantDefaults {
    pub field: FieldPath,
    pub equals: Value,
    pub defaults: Vec<(FieldPath, Value)>,
}
