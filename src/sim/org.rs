//! The simulated org: every object of every kind in memory, with its parent, loaded from a
//! fixture tree in the canonical org-repo layout (so the same tree is what a backup of it must
//! produce).
//!
//! Must not know HTTP: handlers in `sim::api` read and change it through these methods.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::catalogue::{Catalogue, Kind, Shape};
use crate::snapshot::layout;

/// An object's identity: its kind and its id.
pub type ObjectRef = (String, String);

/// One object of the org.
#[derive(Clone, Debug)]
pub struct Object {
    pub kind: String,
    pub id: String,
    /// Where the org keeps it: the id, or `<parent id>/<id>` for a relationship member (a
    /// user is a member of many groups under the same id).
    pub key: String,
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

/// Every object, by kind, in creation order.
#[derive(Debug, Default)]
pub struct Org {
    /// Keyed by (kind, [`Object::key`]).
    objects: BTreeMap<ObjectRef, Object>,
    order: BTreeMap<String, Vec<String>>,
    next_id: u64,
    /// Which memberships group rules made and which an admin made.
    pub rule_memberships: super::rule_memberships::RuleMemberships,
}

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
    /// Loads a fixture tree: every `okta/**/*.json` file, parents before children.
    pub fn load_tree(catalogue: &Catalogue, dir: &Path) -> Result<Org, FixtureError> {
        let root = dir.join(layout::ROOT);
        if !root.is_dir() {
            return Err(FixtureError::NoTree {
                path: dir.to_path_buf(),
            });
        }
        let mut files = Vec::new();
        collect_json(&root, &mut files)?;
        // Parents live at shorter paths than their children.
        files.sort_by_key(|p| (p.components().count(), p.clone()));
        let mut org = Org::default();
        let mut by_stem: BTreeMap<String, ObjectRef> = BTreeMap::new();
        for path in files {
            let relative = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            let Some(resolved) = layout::resolve(catalogue, &relative) else {
                return Err(FixtureError::UnknownPath { path });
            };
            let text = fs::read_to_string(&path).map_err(|source| FixtureError::Read {
                path: path.clone(),
                source,
            })?;
            let value: Value =
                serde_json::from_str(&text).map_err(|source| FixtureError::Json {
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
                    org.insert_with_id(kind, id.clone(), parent, value);
                    by_stem.insert(stem, (kind.name.clone(), id));
                }
            }
        }
        let stems: BTreeMap<ObjectRef, String> =
            by_stem.into_iter().map(|(stem, at)| (at, stem)).collect();
        super::group_rules::settle_fixture(catalogue, &mut org, dir, &stems)?;
        Ok(org)
    }

    /// A new id in Okta's shape: a kind prefix and 17 more characters, unique in this org.
    pub fn new_id(&mut self, kind: &str) -> String {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        self.next_id += 1;
        // Spread consecutive numbers over the alphabet so ids do not look sequential.
        let mut n = self.next_id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut suffix = String::with_capacity(17);
        for _ in 0..17 {
            suffix.push(ALPHABET[(n % 62) as usize] as char);
            n /= 62;
            if n == 0 {
                n = self.next_id.wrapping_mul(0xBF58_476D_1CE4_E5B9) | 1;
            }
        }
        format!("{}{suffix}", id_prefix(kind))
    }

    fn insert_with_id(
        &mut self,
        kind: &Kind,
        id: String,
        parent: Option<ObjectRef>,
        body: Value,
    ) -> String {
        let key = match (&kind.shape, &parent) {
            (Shape::Relationship { .. }, Some((_, parent_id))) => member_key(parent_id, &id),
            _ => id.clone(),
        };
        let at = (kind.name.clone(), key.clone());
        if !self.objects.contains_key(&at) {
            self.order
                .entry(kind.name.clone())
                .or_default()
                .push(key.clone());
        }
        self.objects.insert(
            at,
            Object {
                kind: kind.name.clone(),
                id,
                key: key.clone(),
                parent,
                body,
            },
        );
        key
    }

    /// Adds an object and returns its key ([`Object::key`]: its id unless it is a
    /// relationship member).
    pub fn insert(
        &mut self,
        kind: &Kind,
        id: Option<String>,
        parent: Option<ObjectRef>,
        body: Value,
    ) -> String {
        let id = id.unwrap_or_else(|| self.new_id(&kind.name));
        self.insert_with_id(kind, id, parent, body)
    }

    /// The object of `kind` with this key (for everything but relationship members, its id).
    pub fn get(&self, kind: &str, key: &str) -> Option<&Object> {
        self.objects.get(&(kind.to_string(), key.to_string()))
    }

    /// The relationship member `id` of `kind` under the parent with id `parent_id`.
    pub fn get_member(&self, kind: &str, parent_id: &str, id: &str) -> Option<&Object> {
        self.get(kind, &member_key(parent_id, id))
    }

    pub fn get_mut(&mut self, kind: &str, key: &str) -> Option<&mut Object> {
        self.objects.get_mut(&(kind.to_string(), key.to_string()))
    }

    pub fn remove(&mut self, kind: &str, key: &str) -> Option<Object> {
        let removed = self.objects.remove(&(kind.to_string(), key.to_string()));
        if removed.is_some()
            && let Some(order) = self.order.get_mut(kind)
        {
            order.retain(|k| k != key);
        }
        removed
    }

    /// The objects of `kind` (under `parent`, when given), in creation order.
    pub fn list(&self, kind: &str, parent: Option<&ObjectRef>) -> Vec<&Object> {
        self.order
            .get(kind)
            .into_iter()
            .flatten()
            .filter_map(|id| self.get(kind, id))
            .filter(|object| parent.is_none() || object.parent.as_ref() == parent)
            .collect()
    }

    /// Every object whose parent is `parent`.
    pub fn children_of(&self, parent: &ObjectRef) -> Vec<&Object> {
        self.objects
            .values()
            .filter(|o| o.parent.as_ref() == Some(parent))
            .collect()
    }

    /// Every object of `kind`.
    pub fn all(&self, kind: &str) -> Vec<&Object> {
        self.list(kind, None)
    }
}

/// The key of a relationship member: members of different parents share ids.
fn member_key(parent_id: &str, id: &str) -> String {
    format!("{parent_id}/{id}")
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), FixtureError> {
    let entries = fs::read_dir(dir).map_err(|source| FixtureError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| FixtureError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(|source| FixtureError::Read {
            path: path.clone(),
            source,
        })?;
        if file_type.is_dir() {
            collect_json(&path, out)?;
        } else if file_type.is_file() && path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}
