//! The tree a check runs over: every file of `okta/` parsed, resolved to its kind through
//! `snapshot::layout::resolve`, with the schema defaults filled in (the kind's, as a backup
//! writes them, and its variant's: a PASSWORD policy's `minLength`),
//! then indexed as resources (one per file; one per member of a relationship file) with their
//! parents, ids and the joins the Okta helpers answer (`app_policy`, `rules_of`, `role_holders`).
//!
//! Pure: files in, resources out. `ops::check` reads the files from git.

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::interp::{Host, Val};
use crate::catalogue::{Catalogue, Kind, Shape};
use crate::snapshot::canonical::fill_defaults;
use crate::snapshot::layout;

/// One file of the tree.
#[derive(Debug, Clone)]
pub struct File {
    pub path: String,
    pub kind: String,
    /// The parent object's file, for nested kinds.
    pub parent: Option<String>,
    pub value: Value,
}

/// The files of one revision, resolved and with defaults applied.
#[derive(Debug, Default)]
pub struct Tree {
    pub files: Vec<File>,
    /// Files under `okta/` that are no kind's (reported, never evaluated).
    pub unknown: Vec<String>,
}

impl Tree {
    /// Resolves each `(path, parsed JSON)` to its kind and fills the kind's defaults.
    pub fn from_files(catalogue: &Catalogue, files: Vec<(String, Value)>) -> Tree {
        let literals = layout::literal_segments(catalogue);
        // Paths that agree on every literal segment are of one kind: resolve each shape once.
        let mut shapes: HashMap<String, Option<(String, usize)>> = HashMap::new();
        let mut tree = Tree::default();
        for (path, value) in files {
            let shape: String = path
                .split('/')
                .map(|part| {
                    let bare = part.strip_suffix(".json").unwrap_or(part);
                    if literals.contains(bare) {
                        part
                    } else {
                        "\u{0}"
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let resolved = shapes
                .entry(shape)
                .or_insert_with(|| {
                    layout::resolve(catalogue, &path).map(|r| {
                        let depth = r.parent.as_deref().map_or(0, |p| p.split('/').count());
                        (r.kind.name.clone(), depth)
                    })
                })
                .clone();
            match resolved {
                Some((kind, parent_depth)) => {
                    let parent = (parent_depth > 0).then(|| {
                        let parts: Vec<&str> = path.split('/').collect();
                        format!("{}.json", parts[..parent_depth].join("/"))
                    });
                    tree.push(catalogue, &kind, path, parent, value);
                }
                None => tree.unknown.push(path),
            }
        }
        tree
    }

    /// Adds a file of a known kind (tests name the kind instead of a real path).
    pub fn push(
        &mut self,
        catalogue: &Catalogue,
        kind: &str,
        path: String,
        parent: Option<String>,
        mut value: Value,
    ) {
        if let Some(kind) = catalogue.kind(kind) {
            match (&kind.shape, &mut value) {
                (Shape::Relationship { .. }, Value::Array(members)) => {
                    for member in members {
                        fill_schema_defaults(kind, member);
                    }
                }
                _ => fill_schema_defaults(kind, &mut value),
            }
        }
        self.files.push(File {
            path,
            kind: kind.to_string(),
            parent,
            value,
        });
    }
}

/// Fills what Okta assumes for absent fields, where their parent object exists: the kind's
/// defaults (as a backup writes them), then the defaults of the object's variant (a PASSWORD
/// policy's `minLength` 8), both from Okta's spec through the catalogue.
fn fill_schema_defaults(kind: &Kind, value: &mut Value) {
    fill_defaults(value, &kind.effective_defaults);
    for variant in &kind.variant_defaults {
        let matches = variant
            .field
            .first_key()
            .and_then(|key| value.get(key))
            .is_some_and(|v| *v == variant.equals);
        if matches && variant.field.is_single() && variant.field.segments().len() == 1 {
            fill_defaults(value, &variant.defaults);
        }
    }
}

/// One resource: a file's object, or one member of a relationship file.
#[derive(Debug, Clone)]
pub struct Resource<'t> {
    pub kind: &'t str,
    pub file: &'t str,
    /// The resource's JSON pointer in its file: `""`, or `/3` for a relationship member.
    pub pointer: String,
    pub value: &'t Value,
    /// The parent resource (policy of a rule, user of a role assignment).
    pub parent: Option<usize>,
}

/// What a helper needs and answers, for `rule` (names, arity, kinds read) and `lint` (shapes).
pub struct Helper {
    pub name: &'static str,
    pub arity: usize,
    /// Kinds whose files the helper reads.
    pub reads: &'static [&'static str],
    /// What it returns: a resource of a kind, a list of them, or plain values.
    pub returns: Returns,
    pub about: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returns {
    Resource(&'static str),
    Resources(&'static str),
    Values,
}

/// The Okta helpers rules may call.
pub const HELPERS: &[Helper] = &[
    Helper {
        name: "app_policy",
        arity: 1,
        reads: &["policy"],
        returns: Returns::Resource("policy"),
        about: "the app sign-in (ACCESS_POLICY) policy of an app, through `_derived.accessPolicy`; null when none",
    },
    Helper {
        name: "apps_of",
        arity: 1,
        reads: &["app"],
        returns: Returns::Resources("app"),
        about: "the apps whose app sign-in policy is this policy",
    },
    Helper {
        name: "apps_named",
        arity: 1,
        reads: &["app"],
        returns: Returns::Resources("app"),
        about: "apps by Okta's internal `name` (`saasure` = Admin Console, `okta_enduser` = Dashboard)",
    },
    Helper {
        name: "rules_of",
        arity: 1,
        reads: &["policy_rule"],
        returns: Returns::Resources("policy_rule"),
        about: "every rule of a policy, active or not",
    },
    Helper {
        name: "user",
        arity: 1,
        reads: &["user"],
        returns: Returns::Resource("user"),
        about: "the user with this id; null when absent",
    },
    Helper {
        name: "group",
        arity: 1,
        reads: &["group"],
        returns: Returns::Resource("group"),
        about: "the group with this id; null when absent",
    },
    Helper {
        name: "zone",
        arity: 1,
        reads: &["network_zone"],
        returns: Returns::Resource("network_zone"),
        about: "the network zone with this id; null when absent",
    },
    Helper {
        name: "members",
        arity: 1,
        reads: &["group_membership", "user"],
        returns: Returns::Resources("user"),
        about: "the users who are members of a group",
    },
    Helper {
        name: "role_holders",
        arity: 1,
        reads: &["admin_role_assignment", "group_membership", "user"],
        returns: Returns::Values,
        about: "ids of the distinct ACTIVE users holding an ACTIVE admin role of this type (`\"*\"`: any), directly or through a group",
    },
    Helper {
        name: "admin_groups",
        arity: 0,
        reads: &["admin_role_assignment", "group"],
        returns: Returns::Values,
        about: "ids of the groups holding an ACTIVE admin role",
    },
];

pub fn helper(name: &str) -> Option<&'static Helper> {
    HELPERS.iter().find(|h| h.name == name)
}

/// The resources of a tree and the joins over them.
pub struct Index<'t> {
    resources: Vec<Resource<'t>>,
    by_kind: HashMap<&'t str, Vec<usize>>,
    by_file: HashMap<&'t str, usize>,
    by_address: HashMap<usize, usize>,
    by_id: HashMap<(&'t str, &'t str), usize>,
    children: HashMap<usize, Vec<usize>>,
    lists: RefCell<HashMap<String, Val<'t>>>,
    apps_by_policy: OnceCell<HashMap<&'t str, Vec<usize>>>,
    /// `role_holders` and `admin_groups` answers, by role (`admin_groups` under `""`): rules
    /// call them inside macros, once per element.
    holders: RefCell<HashMap<String, Val<'t>>>,
}

fn address(value: &Value) -> usize {
    value as *const Value as usize
}

impl<'t> Index<'t> {
    pub fn new(catalogue: &Catalogue, tree: &'t Tree) -> Index<'t> {
        let mut index = Index {
            resources: Vec::new(),
            by_kind: HashMap::new(),
            by_file: HashMap::new(),
            by_address: HashMap::new(),
            by_id: HashMap::new(),
            children: HashMap::new(),
            lists: RefCell::new(HashMap::new()),
            apps_by_policy: OnceCell::new(),
            holders: RefCell::new(HashMap::new()),
        };
        let mut parents: Vec<Option<&'t str>> = Vec::new();
        for file in &tree.files {
            let kind = catalogue.kind(&file.kind);
            let relationship = kind.is_some_and(|k| matches!(k.shape, Shape::Relationship { .. }));
            let members: Vec<(String, &'t Value)> = match (&file.value, relationship) {
                (Value::Array(items), true) => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| (format!("/{i}"), item))
                    .collect(),
                (value, _) => vec![(String::new(), value)],
            };
            for (pointer, value) in members {
                let position = index.resources.len();
                if pointer.is_empty() {
                    index.by_file.insert(&file.path, position);
                }
                if !relationship
                    && let Some(id) = kind
                        .and_then(|k| k.id.as_ref())
                        .and_then(|id| id.get(value))
                        .and_then(Value::as_str)
                {
                    index.by_id.insert((&file.kind, id), position);
                }
                index.by_address.insert(address(value), position);
                index.by_kind.entry(&file.kind).or_default().push(position);
                index.resources.push(Resource {
                    kind: &file.kind,
                    file: &file.path,
                    pointer,
                    value,
                    parent: None,
                });
                parents.push(file.parent.as_deref());
            }
        }
        for (position, parent) in parents.into_iter().enumerate() {
            if let Some(parent) = parent.and_then(|p| index.by_file.get(p).copied()) {
                index.resources[position].parent = Some(parent);
                index.children.entry(parent).or_default().push(position);
            }
        }
        index
    }

    pub fn resources(&self) -> &[Resource<'t>] {
        &self.resources
    }

    /// The positions of every resource of `kind`, in file order.
    pub fn of_kind(&self, kind: &str) -> &[usize] {
        self.by_kind.get(kind).map_or(&[], Vec::as_slice)
    }

    pub fn resource(&self, position: usize) -> &Resource<'t> {
        &self.resources[position]
    }

    /// The resource whose JSON value this is (a value handed out by this index).
    pub fn resource_of(&self, value: &Value) -> Option<usize> {
        self.by_address.get(&address(value)).copied()
    }

    fn by_id(&self, kind: &str, id: &str) -> Option<&Resource<'t>> {
        self.by_id.get(&(kind, id)).map(|p| &self.resources[*p])
    }

    fn lookup<'a>(&self, kind: &str, id: &Val<'a>) -> Result<Val<'a>, String>
    where
        't: 'a,
    {
        match id {
            Val::Str(id) => Ok(self
                .by_id(kind, id)
                .map_or(Val::Null, |r| Val::Json(r.value))),
            Val::Null => Ok(Val::Null),
            other => Err(format!("needs an id string, got {}", other.type_name())),
        }
    }

    fn position_of(&self, value: &Val<'_>, what: &str) -> Result<usize, String> {
        match value {
            Val::Json(v) => self
                .resource_of(v)
                .ok_or_else(|| format!("needs {what} of the tree, got another object")),
            other => Err(format!("needs {what}, got {}", other.type_name())),
        }
    }

    fn resources_val(&self, positions: impl Iterator<Item = usize>) -> Val<'t> {
        Val::list(
            positions
                .map(|p| Val::Json(self.resources[p].value))
                .collect(),
        )
    }

    fn apps_by_policy(&self) -> &HashMap<&'t str, Vec<usize>> {
        self.apps_by_policy.get_or_init(|| {
            let mut map: HashMap<&'t str, Vec<usize>> = HashMap::new();
            for &position in self.of_kind("app") {
                let value = self.resources[position].value;
                if let Some(policy) = value
                    .get("_derived")
                    .and_then(|d| d.get("accessPolicy"))
                    .and_then(Value::as_str)
                {
                    map.entry(policy).or_default().push(position);
                }
            }
            map
        })
    }

    /// The ids of the users who are members of the group at `position`.
    fn member_ids(&self, position: usize) -> Vec<&'t str> {
        self.children
            .get(&position)
            .into_iter()
            .flatten()
            .filter(|c| self.resources[**c].kind == "group_membership")
            .filter_map(|c| self.resources[*c].value.get("id").and_then(Value::as_str))
            .collect()
    }

    fn status_is(value: &Value, status: &str) -> bool {
        value.get("status").and_then(Value::as_str) == Some(status)
    }

    /// Distinct ACTIVE users holding an ACTIVE role of `role` (`*`: any), directly or through
    /// a group, sorted.
    pub fn role_holders(&self, role: &str) -> Vec<&'t str> {
        let mut holders = BTreeSet::new();
        for &position in self.of_kind("admin_role_assignment") {
            let assignment = &self.resources[position];
            let role_type = assignment.value.get("type").and_then(Value::as_str);
            if !Self::status_is(assignment.value, "ACTIVE")
                || (role != "*" && role_type != Some(role))
            {
                continue;
            }
            let Some(principal) = assignment.parent.map(|p| &self.resources[p]) else {
                continue;
            };
            let ids: Vec<&'t str> = match principal.kind {
                "user" => principal
                    .value
                    .get("id")
                    .and_then(Value::as_str)
                    .into_iter()
                    .collect(),
                "group" => assignment
                    .parent
                    .map(|p| self.member_ids(p))
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            for id in ids {
                if self
                    .by_id("user", id)
                    .is_some_and(|u| Self::status_is(u.value, "ACTIVE"))
                {
                    holders.insert(id);
                }
            }
        }
        holders.into_iter().collect()
    }

    /// Ids of the groups holding an ACTIVE admin role, sorted.
    pub fn admin_groups(&self) -> Vec<&'t str> {
        let mut groups = BTreeSet::new();
        for &position in self.of_kind("admin_role_assignment") {
            let assignment = &self.resources[position];
            if !Self::status_is(assignment.value, "ACTIVE") {
                continue;
            }
            if let Some(principal) = assignment.parent.map(|p| &self.resources[p])
                && principal.kind == "group"
                && let Some(id) = principal.value.get("id").and_then(Value::as_str)
            {
                groups.insert(id);
            }
        }
        groups.into_iter().collect()
    }

    /// A list of ids, computed once per key.
    fn memo(&self, key: &str, compute: impl FnOnce() -> Vec<&'t str>) -> Val<'t> {
        if let Some(found) = self.holders.borrow().get(key) {
            return found.clone();
        }
        let list = Val::list(compute().into_iter().map(|s| Val::Str(s.into())).collect());
        self.holders
            .borrow_mut()
            .insert(key.to_string(), list.clone());
        list
    }
}

impl<'a, 't: 'a> Host<'a> for Index<'t> {
    fn kind_list(&self, kind: &str) -> Option<Val<'a>> {
        if let Some(list) = self.lists.borrow().get(kind) {
            return Some(list.clone());
        }
        // Any catalogue kind is a valid name: one without files is an empty list (the rule is
        // `not_evaluated` before it runs, see `eval`).
        let list = self.resources_val(self.of_kind(kind).iter().copied());
        self.lists
            .borrow_mut()
            .insert(kind.to_string(), list.clone());
        Some(list)
    }

    fn call(&self, name: &str, args: &[Val<'a>]) -> Option<Result<Val<'a>, String>> {
        let first = args.first();
        let result = match (name, first) {
            ("app_policy", Some(app)) => (|| {
                let position = self.position_of(app, "an app")?;
                let policy = self.resources[position]
                    .value
                    .get("_derived")
                    .and_then(|d| d.get("accessPolicy"))
                    .and_then(Value::as_str);
                Ok(policy
                    .and_then(|id| self.by_id("policy", id))
                    .map_or(Val::Null, |p| Val::Json(p.value)))
            })(),
            ("apps_of", Some(policy)) => (|| {
                let position = self.position_of(policy, "a policy")?;
                let id = self.resources[position]
                    .value
                    .get("id")
                    .and_then(Value::as_str);
                let apps = id.and_then(|id| self.apps_by_policy().get(id));
                Ok(self.resources_val(apps.into_iter().flatten().copied()))
            })(),
            ("apps_named", Some(Val::Str(wanted))) => Ok(self.resources_val(
                self.of_kind("app").iter().copied().filter(|p| {
                    self.resources[*p].value.get("name").and_then(Value::as_str)
                        == Some(wanted.as_ref())
                }),
            )),
            ("rules_of", Some(policy)) => self.position_of(policy, "a policy").map(|position| {
                self.resources_val(
                    self.children
                        .get(&position)
                        .into_iter()
                        .flatten()
                        .copied()
                        .filter(|c| self.resources[*c].kind == "policy_rule"),
                )
            }),
            ("user", Some(id)) => self.lookup("user", id),
            ("group", Some(id)) => self.lookup("group", id),
            ("zone", Some(id)) => self.lookup("network_zone", id),
            ("members", Some(group)) => self.position_of(group, "a group").map(|position| {
                let users: Vec<usize> = self
                    .member_ids(position)
                    .into_iter()
                    .filter_map(|id| self.by_id.get(&("user", id)).copied())
                    .collect();
                self.resources_val(users.into_iter())
            }),
            ("role_holders", Some(Val::Str(role))) => {
                Ok(self.memo(role, || self.role_holders(role)))
            }
            ("admin_groups", None) => Ok(self.memo("", || self.admin_groups())),
            (name, _) if helper(name).is_some() => Err(format!(
                "wrong arguments ({})",
                args.iter()
                    .map(Val::type_name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            _ => return None,
        };
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn small() -> Tree {
        let catalogue = Catalogue::okta().unwrap();
        let fixture = crate::sim::FixtureTree::embedded("small").unwrap();
        let files = fixture
            .files
            .iter()
            .map(|(path, text)| (path.clone(), serde_json::from_str(text).unwrap()))
            .collect();
        Tree::from_files(catalogue, files)
    }

    #[test]
    fn every_file_of_the_small_fixture_resolves() {
        let tree = small();
        assert!(tree.unknown.is_empty(), "{:?}", tree.unknown);
        let rule = tree
            .files
            .iter()
            .find(|f| {
                f.path
                    .ends_with("OKTA_SIGN_ON/Default Policy/rules/Default Rule.json")
            })
            .unwrap();
        assert_eq!(rule.kind, "policy_rule");
        assert_eq!(
            rule.parent.as_deref(),
            Some("okta/policies/OKTA_SIGN_ON/Default Policy.json")
        );
    }

    #[test]
    fn joins_of_the_small_fixture() {
        let catalogue = Catalogue::okta().unwrap();
        let tree = small();
        let index = Index::new(catalogue, &tree);
        let console = index
            .call("apps_named", &[Val::Str("saasure".into())])
            .unwrap()
            .unwrap();
        let console = console.elements().unwrap();
        assert_eq!(console.len(), 1);
        let policy = index.call("app_policy", &console).unwrap().unwrap();
        assert_eq!(policy.to_json()["name"], json!("Okta Admin Console"));
        let rules = index
            .call("rules_of", std::slice::from_ref(&policy))
            .unwrap()
            .unwrap();
        assert_eq!(rules.elements().unwrap().len(), 2);
        let apps = index.call("apps_of", &[policy]).unwrap().unwrap();
        assert_eq!(apps.to_json()[0]["name"], json!("saasure"));
        // README: 22 super admins, 20 of them active (one SUSPENDED, one PASSWORD_EXPIRED), of
        // 36 active administrators.
        assert_eq!(index.role_holders("SUPER_ADMIN").len(), 20);
        assert_eq!(index.role_holders("*").len(), 36);
        assert!(index.admin_groups().len() >= 2);
        // Defaults were filled: an app without the field gets `selfService: false`.
        let members = index.of_kind("admin_role_assignment");
        let first = index.resource(members[0]);
        assert!(first.pointer.starts_with('/'), "{first:?}");
        assert!(first.parent.is_some());
    }

    #[test]
    fn defaults_are_filled_where_the_parent_object_exists() {
        let catalogue = Catalogue::okta().unwrap();
        let mut tree = Tree::default();
        tree.push(
            catalogue,
            "admin_console_settings",
            "x.json".into(),
            None,
            json!({}),
        );
        assert_eq!(
            tree.files[0].value,
            json!({"sessionIdleTimeoutMinutes": 15, "sessionMaxLifetimeMinutes": 720})
        );
    }

    /// Okta's spec gives a PASSWORD policy's complexity defaults only in the PasswordPolicy
    /// branch of the Policy discriminator: they reach the tree through the catalogue, for
    /// password policies only, and never over a value the file has.
    #[test]
    fn variant_defaults_from_the_spec_fill_absent_fields_of_their_variant_only() {
        let catalogue = Catalogue::okta().unwrap();
        let policy = catalogue.kind("policy").unwrap();
        let password = policy
            .variant_defaults
            .iter()
            .find(|v| v.field.to_string() == "type" && v.equals == json!("PASSWORD"))
            .expect("the spec's PasswordPolicy defaults");
        assert!(password.defaults.iter().any(|(path, value)| {
            path.to_string() == "settings.password.complexity.minLength" && *value == json!(8)
        }));
        let mut tree = Tree::default();
        let weak = json!({"type": "PASSWORD", "settings": {"password": {"complexity": {"minLength": 6}, "lockout": {}}}});
        let absent = json!({"type": "PASSWORD", "settings": {"password": {"complexity": {}}}});
        let other = json!({"type": "OKTA_SIGN_ON", "settings": {"password": {"complexity": {}}}});
        for (i, value) in [weak, absent, other].into_iter().enumerate() {
            tree.push(catalogue, "policy", format!("{i}.json"), None, value);
        }
        let complexity = |i: usize| &tree.files[i].value["settings"]["password"]["complexity"];
        assert_eq!(
            complexity(0)["minLength"],
            json!(6),
            "a value in the file stays"
        );
        assert_eq!(
            tree.files[0].value["settings"]["password"]["lockout"]["maxAttempts"],
            json!(10)
        );
        assert_eq!(complexity(1)["minLength"], json!(8));
        assert_eq!(complexity(1)["minNumber"], json!(1));
        assert_eq!(
            complexity(2).get("minLength"),
            None,
            "not a password policy"
        );
    }
}
