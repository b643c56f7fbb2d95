//! What a restore will not do by default (DESIGN.md "Restore = plan + apply"): each refused
//! action leaves the plan's actions for its `refused` list, naming the object, why, and the flag
//! that allows it (if one does). `apply` runs no plan that has refusals.
//!
//! - Never deletes or deactivates a user.
//! - Deletes (`--prune`) at most 10% of a kind with at least 10 live objects and 25 objects in
//!   all, unless `--allow-mass-delete`.
//! - Never changes admin role assignments, custom roles, resource sets, the membership of a
//!   group that holds an admin role (or of Okta Administrators), or a group rule that feeds one,
//!   unless `--allow-admin-changes`; never in CI (`CI` set), flag or not.
//! - Never touches the apps Butterfly itself uses (its token's client, `protected_apps`).
//! - Plans nothing the token may not write: an action of a kind whose manage scope was not
//!   granted is refused naming the scope (Okta would answer 403 E0000006 half-way through).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::build::Input;
use super::{Action, Op, Plan, Refusal};
use crate::catalogue::Catalogue;
use crate::snapshot::layout;

/// Kinds that are admin changes whatever they hold.
const ADMIN_KINDS: [&str; 5] = [
    "admin_role_assignment",
    "custom_role",
    "custom_role_permission",
    "resource_set",
    "resource_set_resource",
];

const MASS_SHARE: usize = 10; // percent of a kind
const MASS_KIND_MIN: usize = 10; // live objects of a kind before the share applies
const MASS_TOTAL: usize = 25;

fn refuse(action: &Action, why: String, flag: Option<&str>) -> Refusal {
    Refusal {
        kind: action.kind.clone(),
        path: action.path.clone(),
        name: action.name.clone(),
        op: action.op,
        why,
        flag: flag.map(str::to_string),
    }
}

/// Groups that hold an admin role (they have an `admin-roles` file) or are Okta Administrators,
/// in either tree: their ids and their stems.
fn admin_groups(catalogue: &Catalogue, input: &Input<'_>) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut ids = BTreeSet::new();
    let mut stems = BTreeSet::new();
    for files in [input.live_files, input.desired_files] {
        for (path, body) in files {
            let Some(resolved) = layout::resolve(catalogue, path) else {
                continue;
            };
            let stem = path.strip_suffix(".json").unwrap_or(path);
            match resolved.kind.name.as_str() {
                "admin_role_assignment" => {
                    if let Some(parent) = resolved.parent
                        && parent.starts_with("okta/groups/")
                        && let Some(group) = files.get(&layout::file_path(&parent))
                    {
                        stems.insert(parent.clone());
                        if let Some(id) = group["id"].as_str() {
                            ids.insert(id.to_string());
                        }
                    }
                }
                "group"
                    if body["type"] == "BUILT_IN"
                        && body["profile"]["name"] == "Okta Administrators" =>
                {
                    stems.insert(stem.to_string());
                    if let Some(id) = body["id"].as_str() {
                        ids.insert(id.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    (ids, stems)
}

/// Whether an action is an admin change.
fn is_admin_change(
    action: &Action,
    (group_ids, group_stems): &(BTreeSet<String>, BTreeSet<String>),
) -> bool {
    if ADMIN_KINDS.contains(&action.kind.as_str()) {
        return true;
    }
    match action.kind.as_str() {
        "group_membership" => group_stems
            .iter()
            .any(|stem| action.path.starts_with(&format!("{stem}/"))),
        "group_rule" => action
            .body
            .as_ref()
            .and_then(|b| b.pointer("/actions/assignUserToGroups/groupIds"))
            .and_then(Value::as_array)
            .is_some_and(|ids| {
                ids.iter()
                    .any(|id| id.as_str().is_some_and(|id| group_ids.contains(id)))
            }),
        _ => false,
    }
}

/// The apps Butterfly uses: their stems in either tree.
fn protected_stems(input: &Input<'_>) -> BTreeSet<String> {
    let protected: BTreeSet<&str> = input
        .options
        .protected_apps
        .iter()
        .map(String::as_str)
        .collect();
    let mut stems = BTreeSet::new();
    for files in [input.live_files, input.desired_files] {
        for (path, body) in files {
            let Some(stem) = path
                .strip_prefix("okta/apps/")
                .filter(|rest| !rest.contains('/'))
                .and_then(|_| path.strip_suffix(".json"))
            else {
                continue;
            };
            let ids = [
                body["id"].as_str(),
                body.pointer("/credentials/oauthClient/client_id")
                    .and_then(Value::as_str),
            ];
            if ids.into_iter().flatten().any(|id| protected.contains(id)) {
                stems.insert(stem.to_string());
            }
        }
    }
    stems
}

/// Moves every refused action of `plan` to `plan.refused`.
/// The manage scopes of `kind` the token lacks.
fn missing_scopes(catalogue: &Catalogue, kind: &str, granted: &[String]) -> Vec<String> {
    catalogue
        .kind(kind)
        .map(|k| {
            k.scopes
                .manage
                .iter()
                .filter(|s| !granted.contains(s))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

pub fn check(catalogue: &Catalogue, input: &Input<'_>, plan: &mut Plan) {
    let options = &input.options;
    let admin = admin_groups(catalogue, input);
    let protected = protected_stems(input);
    // Mass deletes: counted per kind against the live objects of that kind.
    let mut live_count: BTreeMap<String, usize> = BTreeMap::new();
    for path in input.live_files.keys() {
        if let Some(resolved) = layout::resolve(catalogue, path) {
            *live_count.entry(resolved.kind.name.clone()).or_default() += 1;
        }
    }
    let mut deletes: BTreeMap<String, usize> = BTreeMap::new();
    for action in plan.actions.iter().filter(|a| is_prune(a)) {
        *deletes.entry(action.kind.clone()).or_default() += 1;
    }
    let total: usize = deletes.values().sum();
    let mass_kinds: BTreeSet<String> = deletes
        .iter()
        .filter(|(kind, n)| {
            let live = live_count.get(*kind).copied().unwrap_or(0);
            live >= MASS_KIND_MIN && **n * 100 > live * MASS_SHARE
        })
        .map(|(kind, _)| kind.clone())
        .collect();
    let mut refused = Vec::new();
    plan.actions.retain(|action| {
        let missing = options
            .granted
            .as_deref()
            .map(|granted| missing_scopes(catalogue, &action.kind, granted))
            .unwrap_or_default();
        let refusal = if !missing.is_empty() {
            Some(refuse(
                action,
                format!(
                    "the token lacks the scope {}: grant it to the service app (Okta API Scopes) and add it to `scopes` in butterfly.toml",
                    missing.join(", ")
                ),
                None,
            ))
        } else if action.kind == "user"
            && matches!(action.op, Op::Delete | Op::Deactivate)
            // A user this plan creates, brought to its backed-up DEPROVISIONED status: nobody
            // loses access (it was created without any).
            && action
                .id
                .as_deref()
                .is_none_or(|id| id != super::placeholder(&action.path))
        {
            Some(refuse(
                action,
                "Butterfly never deletes or deactivates a user (deactivating deprovisions them from every app)".into(),
                None,
            ))
        } else if protected
            .iter()
            .any(|stem| action.path == layout::file_path(stem) || action.path.starts_with(&format!("{stem}/")))
        {
            Some(refuse(
                action,
                "an app Butterfly itself uses (its token's client or `protected_apps` in butterfly.toml) is never changed".into(),
                None,
            ))
        } else if is_admin_change(action, &admin) && (options.ci || !options.allow_admin_changes) {
            Some(if options.ci {
                refuse(action, "an admin change, refused in CI (`CI` is set) whatever the flags".into(), None)
            } else {
                refuse(action, "an admin change (roles, admin groups and what feeds them)".into(), Some("--allow-admin-changes"))
            })
        } else if is_prune(action) && !options.allow_mass_delete && (total > MASS_TOTAL || mass_kinds.contains(&action.kind)) {
            let live = live_count.get(&action.kind).copied().unwrap_or(0);
            let kind_deletes = deletes.get(&action.kind).copied().unwrap_or(0);
            Some(refuse(
                action,
                format!(
                    "a mass delete: {kind_deletes} of {live} live {} objects, {total} deletes in all (at most {MASS_SHARE}% of a kind with {MASS_KIND_MIN} or more, and {MASS_TOTAL} in all)",
                    action.kind
                ),
                Some("--allow-mass-delete"),
            ))
        } else {
            None
        };
        match refusal {
            Some(refusal) => {
                refused.push(refusal);
                false
            }
            None => true,
        }
    });
    // A lifecycle step whose create, update or delete was refused goes too.
    let refused_paths: BTreeSet<(String, String)> = refused
        .iter()
        .map(|r| (r.kind.clone(), r.path.clone()))
        .collect();
    plan.actions.retain(|a| {
        !(matches!(a.op, Op::Activate | Op::Deactivate)
            && refused_paths.contains(&(a.kind.clone(), a.path.clone())))
    });
    plan.refused = refused;
}

/// A delete of a live object the desired tree lacks (not the delete of a re-creation).
fn is_prune(action: &Action) -> bool {
    (action.op == Op::Delete && !action.recreate) || action.op == Op::RemoveMember
}
