//! Group rules at work: which users each ACTIVE rule assigns to which groups, and the
//! membership changes that follow when a rule is activated or deleted, or a user is created,
//! changed or changes status. A fixture must already hold every membership its ACTIVE rules
//! imply (the tree is what a backup of that org writes).
//!
//! Okta's behaviour followed here: a rule applies to users who are not STAGED, PROVISIONED
//! ("pending") or DEPROVISIONED ("the rule will not affect users in a Pending or Inactive
//! state", Okta's help on group rules); its users listed in `conditions.people.users.exclude`
//! or members of a group in `conditions.people.groups.exclude` are left out; a membership the
//! rule made goes when the user no longer matches, one an admin made stays; deactivating a rule
//! leaves its memberships; deleting it with `removeUsers=true` removes them (Okta's spec,
//! `deleteGroupRule`). Rules may test memberships other rules make, so evaluation repeats until
//! nothing changes.
//!
//! Must not know HTTP: callers log the changes and answer.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use serde_json::{Value, json};

use super::body::Selection;
use super::expression::{self, Expr};
use super::org::{FixtureError, ObjectRef, Org, object_ref};
use crate::catalogue::Catalogue;

/// The membership kind rules write.
const MEMBERSHIP: &str = super::rule_memberships::KIND;

/// A membership a rule added or removed.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub rule: String,
    pub group: String,
    pub user: String,
    pub added: bool,
}

/// The expression of a group rule body, parsed; `None` when the rule has none.
pub fn expression_of(rule: &Value) -> Option<Result<Expr, expression::ParseError>> {
    rule.pointer("/conditions/expression/value")
        .and_then(Value::as_str)
        .map(expression::parse)
}

/// The user profile attributes an expression may read: Okta's base profile (from the spec's
/// request fields of `user`) and every attribute of the org's user schemas.
pub fn profile_attributes(catalogue: &Catalogue, org: &Org) -> BTreeSet<String> {
    let mut known: BTreeSet<String> = catalogue
        .fields("user")
        .into_iter()
        .flat_map(|index| index.request.keys())
        .filter_map(|path| path.strip_prefix("profile."))
        .filter(|name| !name.contains(['.', '*', '[']))
        .map(str::to_string)
        .collect();
    for schema in org.all("user_schema") {
        let body = schema.body();
        for part in ["base", "custom"] {
            if let Some(properties) = body
                .pointer(&format!("/definitions/{part}/properties"))
                .and_then(Value::as_object)
            {
                known.extend(properties.keys().cloned());
            }
        }
    }
    known
}

/// Users of these statuses are not evaluated.
fn evaluated(user: &Value) -> bool {
    !matches!(
        user.get("status").and_then(Value::as_str),
        Some("STAGED" | "PROVISIONED" | "DEPROVISIONED")
    )
}

fn strings(value: &Value, pointer: &str) -> Vec<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// An ACTIVE rule ready to evaluate.
struct Rule {
    id: String,
    expr: Expr,
    targets: Vec<String>,
    excluded_users: BTreeSet<String>,
    excluded_groups: BTreeSet<String>,
}

fn active_rules(org: &Org) -> Vec<Rule> {
    org.all("group_rule")
        .into_iter()
        .filter(|r| r.member_str("status").as_deref() == Some("ACTIVE"))
        .filter_map(|r| {
            let body = r.body();
            let expr = expression_of(&body)?.ok()?;
            Some(Rule {
                id: r.id.to_string(),
                expr,
                targets: strings(&body, "/actions/assignUserToGroups/groupIds"),
                excluded_users: strings(&body, "/conditions/people/users/exclude")
                    .into_iter()
                    .collect(),
                excluded_groups: strings(&body, "/conditions/people/groups/exclude")
                    .into_iter()
                    .collect(),
            })
        })
        .collect()
}

/// The groups (ids) of `users` (of every user when `None`), from the membership objects.
fn memberships(org: &Org, users: Option<&HashSet<&str>>) -> HashMap<String, BTreeSet<String>> {
    let mut by_user: HashMap<String, BTreeSet<String>> = HashMap::new();
    // A membership's parent key is its group's id and its id the user's: no object is read.
    for (group, user) in org.keys(MEMBERSHIP, None) {
        if users.is_some_and(|wanted| !wanted.contains(user)) {
            continue;
        }
        by_user
            .entry(user.to_string())
            .or_default()
            .insert(group.to_string());
    }
    by_user
}

/// Group names by id, and the Everyone group every user belongs to without a stored membership.
fn groups(org: &Org) -> (HashMap<String, String>, Option<String>) {
    let mut names = HashMap::new();
    let mut everyone = None;
    for group in org.all("group") {
        let body = group.body();
        let name = body
            .pointer("/profile/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if body.get("type").and_then(Value::as_str) == Some("BUILT_IN") && name == "Everyone" {
            everyone = Some(group.id.to_string());
        }
        names.insert(group.id.to_string(), name);
    }
    (names, everyone)
}

/// Evaluates every ACTIVE rule for `users` (every user when `None`) until nothing changes,
/// adding and removing membership objects; returns what changed.
pub fn apply(catalogue: &Catalogue, org: &mut Org, users: Option<&[String]>) -> Vec<Change> {
    let Some(membership_kind) = catalogue.kind(MEMBERSHIP) else {
        return Vec::new();
    };
    let (names, everyone) = groups(org);
    // A rule's targets that are not groups of the org are left out once, not per user.
    let mut rules = active_rules(org);
    for rule in &mut rules {
        rule.targets.retain(|g| names.contains_key(g));
    }
    // What evaluation reads of a user: its status and what the rules read, so each user's
    // body is only skimmed for those (parsing a hundred thousand whole users takes seconds).
    let mut reads = Selection::default();
    reads.add(&["status"]);
    for rule in &rules {
        for (attribute, _) in expression::attributes(&rule.expr) {
            reads.add(&["profile", attribute]);
        }
        for field in expression::internals(&rule.expr) {
            reads.add(&[field]);
        }
    }
    let mut member_of = memberships(
        org,
        users
            .map(|u| u.iter().map(String::as_str).collect())
            .as_ref(),
    );
    let mut pending: Vec<String> = match users {
        Some(ids) => ids.to_vec(),
        None => org.all("user").iter().map(|u| u.id.to_string()).collect(),
    };
    let mut changes = Vec::new();
    // A user's rules depend only on their own profile and groups, so each pass re-evaluates
    // only the users whose groups the last pass changed; the bound stops rules that undo
    // each other.
    for _ in 0..=rules.len() {
        let mut changed_users: BTreeSet<String> = BTreeSet::new();
        for user_id in &pending {
            // Every rule's verdict for the user as they are at the start of this step.
            let verdicts: Vec<bool> = {
                let Some(user) = org.get("user", user_id) else {
                    continue;
                };
                let user = user.select(&reads);
                if !evaluated(&user) {
                    continue;
                }
                let mine = member_of.get(user_id);
                let subject = expression::Subject {
                    user: &user,
                    groups: mine
                        .into_iter()
                        .flatten()
                        .chain(everyone.as_ref())
                        .map(|g| (g.as_str(), names.get(g).map_or("", String::as_str)))
                        .collect(),
                };
                rules
                    .iter()
                    .map(|rule| {
                        let excluded = rule.excluded_users.contains(user_id)
                            || mine.is_some_and(|groups| {
                                groups.iter().any(|g| rule.excluded_groups.contains(g))
                            });
                        !excluded && expression::matches(&rule.expr, &subject).unwrap_or(false)
                    })
                    .collect()
            };
            for (rule, hit) in rules.iter().zip(verdicts) {
                for group in &rule.targets {
                    let held = org.rule_memberships.held_by_rule(group, user_id, &rule.id);
                    if hit && !held {
                        org.rule_memberships.hold_by_rule(group, user_id, &rule.id);
                        if org.get_member(MEMBERSHIP, group, user_id).is_none() {
                            let parent: ObjectRef = object_ref("group", group);
                            org.insert(
                                membership_kind,
                                Some(user_id.clone()),
                                Some(parent),
                                json!({"id": user_id}),
                            );
                            member_of
                                .entry(user_id.clone())
                                .or_default()
                                .insert(group.clone());
                            changes.push(Change {
                                rule: rule.id.clone(),
                                group: group.clone(),
                                user: user_id.clone(),
                                added: true,
                            });
                            changed_users.insert(user_id.clone());
                        }
                    } else if !hit
                        && held
                        && org
                            .rule_memberships
                            .release_by_rule(group, user_id, &rule.id)
                    {
                        remove_membership(org, group, user_id);
                        if let Some(set) = member_of.get_mut(user_id) {
                            set.remove(group);
                        }
                        changes.push(Change {
                            rule: rule.id.clone(),
                            group: group.clone(),
                            user: user_id.clone(),
                            added: false,
                        });
                        changed_users.insert(user_id.clone());
                    }
                }
            }
        }
        if changed_users.is_empty() {
            break;
        }
        pending = changed_users.into_iter().collect();
    }
    changes
}

fn remove_membership(org: &mut Org, group: &str, user: &str) {
    org.remove_at(MEMBERSHIP, Some(&object_ref("group", group)), user);
}

/// A rule is deleted: with `remove_users`, the memberships only it held go; otherwise they
/// stay as static memberships. Returns the removals.
pub fn delete_rule(org: &mut Org, rule: &str, remove_users: bool) -> Vec<Change> {
    if !remove_users {
        org.rule_memberships.make_static(rule);
        return Vec::new();
    }
    let mut changes = Vec::new();
    for (group, user) in org.rule_memberships.held_by(rule) {
        if org.rule_memberships.release_by_rule(&group, &user, rule) {
            remove_membership(org, &group, &user);
            changes.push(Change {
                rule: rule.to_string(),
                group,
                user,
                added: false,
            });
        }
    }
    changes
}

/// Checks a loaded fixture: every rule's expression parses, and every membership an ACTIVE
/// rule implies is in the group's members file. Memberships no rule implies are an admin's.
pub fn settle_fixture(
    catalogue: &Catalogue,
    org: &mut Org,
    dir: &Path,
    stems: &BTreeMap<ObjectRef, String>,
) -> Result<(), FixtureError> {
    let file = |at: &ObjectRef, suffix: &str| match stems.get(at) {
        Some(stem) => dir.join(format!("{stem}{suffix}")),
        None => dir.join(format!("{} {}", at.0, at.1)),
    };
    for rule in org.all("group_rule") {
        let body = rule.body();
        if let Some(Err(error)) = expression_of(&body) {
            return Err(FixtureError::RuleExpression {
                path: file(&(rule.kind.clone(), rule.id.clone()), ".json"),
                rule: name_of(&body, "/name", &rule.id),
                error,
            });
        }
    }
    let held: Vec<(String, String)> = org
        .all(MEMBERSHIP)
        .iter()
        .filter_map(|m| {
            m.parent
                .as_ref()
                .map(|(_, g)| (g.to_string(), m.id.to_string()))
        })
        .collect();
    for (group, user) in &held {
        org.rule_memberships.hold_by_admin(group, user);
    }
    let added = apply(catalogue, org, None);
    if let Some(change) = added.iter().find(|c| c.added) {
        let members = catalogue
            .kind(MEMBERSHIP)
            .zip(stems.get(&object_ref("group", &change.group)))
            .and_then(|(kind, group_stem)| {
                crate::snapshot::layout::stem(kind, kind.primary(), &json!({}), Some(group_stem))
                    .ok()
            })
            .map_or_else(
                || dir.join(format!("group {}", change.group)),
                |stem| dir.join(crate::snapshot::layout::file_path(&stem)),
            );
        let rule = org
            .get("group_rule", &change.rule)
            .map_or(change.rule.clone(), |r| name_of(&r.body(), "/name", &r.id));
        let user = org
            .get("user", &change.user)
            .map_or(change.user.clone(), |u| {
                format!("{} ({})", name_of(&u.body(), "/profile/login", &u.id), u.id)
            });
        return Err(FixtureError::RuleMembership {
            path: members,
            rule,
            user,
        });
    }
    org.rule_memberships.settle_fixture();
    Ok(())
}

fn name_of(body: &Value, pointer: &str, fallback: &str) -> String {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or(fallback)
        .to_string()
}
