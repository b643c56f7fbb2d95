//! Restore = plan + apply (DESIGN.md): the plan, pure. A desired tree (any revision, or a
//! subset of it by kind or path) and the live org (listed now, canonicalised like a backup) give
//! an ordered list of actions, the refusals that keep a restore from making the worst day
//! worse, and what must be done by hand. `apply` (next) executes exactly that list.
//!
//! - `build`: matching (by id, else by natural key), references rewritten to live ids (or to the
//!   object a step of the plan creates), actions per Okta's rules (lifecycle before updates and
//!   deletes, immutable fields re-created, system objects only updated), order by the reference
//!   graph with deletes in reverse.
//! - `safety`: deletes only with `--prune`, mass deletes, users, admin changes, protected apps.
//! - `render`: text, JSON (the plan file) and Markdown.

pub mod apply;
pub mod build;
pub mod render;
pub mod safety;
pub mod secrets;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::diff::FieldChange;

pub use build::{Input, Options, build};

/// The version of the plan file's shape.
pub const PLAN_VERSION: u32 = 1;

/// What an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Create,
    Update,
    Activate,
    Deactivate,
    Delete,
    AddMember,
    RemoveMember,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Update => "update",
            Op::Activate => "activate",
            Op::Deactivate => "deactivate",
            Op::Delete => "delete",
            Op::AddMember => "add member",
            Op::RemoveMember => "remove member",
        }
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub op: Op,
    pub kind: String,
    /// The file the action comes from: desired for creates and updates, live for deletes.
    pub path: String,
    /// The resource as people read it.
    pub name: String,
    /// The live object acted on; `None` for a create (its id is known once created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The live parent of a nested object (`${id:PATH}` when the plan creates the parent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// For relationship changes: the member's live id (or `${id:PATH}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// The request body of a create or update: the desired object's writable fields, with
    /// references rewritten to live ids; `${id:PATH}` stands for the id of the object the plan
    /// creates from PATH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// What an update changes (live → desired).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    /// Why this action is there or how it is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The values of the endpoint's path placeholders (`groupId`, `ruleId`), known when the
    /// plan is made (or `${id:PATH}`); the acted-on object's own id is filled at apply time for
    /// a create's lifecycle steps.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// Which of the kind's variants the object is (admin role assignments of a user, a group or
    /// a client have different endpoints).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub variant: usize,
    /// A step of re-creating an object whose field Okta never changes differs: its delete is
    /// part of restoring it, not a prune.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recreate: bool,
    /// For a create: the id the object had in the desired tree (the snapshot), the old id of
    /// the old-id → new-id map `apply` writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub was: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// An action the plan will not take without a flag, or at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub kind: String,
    pub path: String,
    pub name: String,
    pub op: Op,
    pub why: String,
    /// The flag that allows it, if one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
}

/// Something a restore cannot do through the API, and what the operator must do instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manual {
    pub kind: String,
    pub path: String,
    pub name: String,
    /// The field left as it is (a JSON pointer), when only one field cannot be restored; `None`
    /// for the whole object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    pub what: String,
}

/// The desired side of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Desired {
    /// The revision as given (`main`, `@2026-11-20`, `WORKTREE`).
    pub rev: String,
    /// Its commit (`None` for the working tree).
    pub commit: Option<String>,
    /// The kinds and paths selected (empty: all).
    pub kinds: Vec<String>,
    pub paths: Vec<String>,
    pub prune: bool,
}

/// A plan: what `apply` executes, exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub version: u32,
    /// The org the plan is for (`acme.okta.com`).
    pub org: String,
    pub desired: Desired,
    /// When the live state was read (RFC 3339).
    pub read_at: String,
    pub actions: Vec<Action>,
    #[serde(default)]
    pub refused: Vec<Refusal>,
    #[serde(default)]
    pub manual: Vec<Manual>,
    /// A SHA-256 of the canonical text of every live object the plan read, by path: `apply`
    /// refuses the plan when one changed since.
    pub live: BTreeMap<String, String>,
}

impl Plan {
    /// Counts of actions per operation.
    pub fn counts(&self) -> BTreeMap<Op, usize> {
        let mut counts = BTreeMap::new();
        for action in &self.actions {
            *counts.entry(action.op).or_default() += 1;
        }
        counts
    }
}

/// The parameter value of an object Okta creates with its parent (a brand's theme): its id is
/// known only once the parent exists, and `apply` finds it by listing the parent's objects of
/// that kind.
pub const DISCOVER: &str = "${discover}";

/// The SHA-256 of a text, in hex: how a plan fingerprints the live objects it read (their
/// canonical text) and how `apply` names the plan a journal belongs to.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Placeholder for a field of the answer to the create of `path` (`_links.schema.href`, with
/// `|last_segment` to keep the last segment of a URL).
pub fn field_placeholder(path: &str, field: &str) -> String {
    format!("${{field:{path}#{field}}}")
}

/// Placeholder for the id of the object a plan creates from `path`.
pub fn placeholder(path: &str) -> String {
    format!("${{id:{path}}}")
}
