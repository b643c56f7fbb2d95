//! Access impact: who gains or loses a group, an app, or a policy rule's coverage, from the
//! snapshots alone (no API calls).
//!
//! - A group's members file: its added and removed members gain or lose the group, and with it
//!   the apps assigned to the group.
//! - A group rule (added, removed, changed): for each group it assigns (before or after), the
//!   members that group gained or lost between the snapshots, and the apps it grants.
//! - An app's user assignments: users added or removed. An app's group assignments: the
//!   members of a group assigned (on the new side) gain the app, of a group unassigned (on the
//!   old side) lose it.
//! - A sign-on or app sign-in policy rule whose people conditions or status changed (or that
//!   was added or removed): the users it covers on each side (included users and members of
//!   included groups, everyone when nothing is included, minus the excluded; nobody when the
//!   rule is inactive), and who entered or left that coverage.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;

use super::names::named;
use super::{Change, Named, ReadError, ResourceChange, Side};
use crate::catalogue::Catalogue;
use crate::snapshot::layout;

/// Users who gained or lost a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupAccess {
    pub group: Named,
    pub gained: Vec<Named>,
    pub lost: Vec<Named>,
    /// The apps assigned to the group (on either side).
    pub apps: Vec<Named>,
}

/// Users who gained or lost an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppAccess {
    pub app: Named,
    pub gained: Vec<Named>,
    pub lost: Vec<Named>,
    /// Through these groups' assignment or unassignment (group assignments).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub via_groups: Vec<Named>,
}

/// Who a policy rule covers on one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Population {
    /// Everyone (no user or group is included), minus exclusions.
    pub everyone: bool,
    pub users: u64,
}

/// The change in who a policy rule covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub before: Population,
    pub after: Population,
    pub gained: Vec<Named>,
    pub lost: Vec<Named>,
}

/// Who gains or loses access through one resource change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Impact {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupAccess>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<AppAccess>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
}

impl Impact {
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.apps.is_empty() && self.coverage.is_none()
    }
}

/// Membership changes per group id, from the diff's members files.
#[derive(Default)]
struct Deltas {
    added: BTreeSet<String>,
    removed: BTreeSet<String>,
}

/// What one side knows about groups and apps, read once.
struct Reader<'s> {
    side: &'s dyn Side,
    /// group id → app ids, built on first use.
    apps_of_group: RefCell<Option<HashMap<String, BTreeSet<String>>>>,
    members: RefCell<HashMap<String, BTreeSet<String>>>,
}

impl<'s> Reader<'s> {
    fn new(side: &'s dyn Side) -> Self {
        Reader {
            side,
            apps_of_group: RefCell::new(None),
            members: RefCell::new(HashMap::new()),
        }
    }

    /// The file of `id`'s folder named `file` (`members`, `groups`, `users`).
    fn child_file(&self, id: &str, file: &str) -> Result<Option<Value>, ReadError> {
        let Some(entry) = self.side.entry(id) else {
            return Ok(None);
        };
        let Some(stem) = entry.path.strip_suffix(".json") else {
            return Ok(None);
        };
        self.side
            .file(&layout::file_path(&format!("{stem}/{file}")))
    }

    fn ids(value: Option<Value>) -> BTreeSet<String> {
        match value {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_string))
                .collect(),
            _ => BTreeSet::new(),
        }
    }

    /// The members of a group (every user for the built-in Everyone group).
    fn members(&self, group: &str) -> Result<BTreeSet<String>, ReadError> {
        if let Some(found) = self.members.borrow().get(group) {
            return Ok(found.clone());
        }
        let everyone = self.side.entry(group).is_some_and(|e| {
            e.name == "Everyone"
                && self
                    .side
                    .file(&e.path)
                    .ok()
                    .flatten()
                    .is_some_and(|g| g["type"] == "BUILT_IN")
        });
        let members = if everyone {
            self.side.ids_of_kind("user").into_iter().collect()
        } else {
            Self::ids(self.child_file(group, "members")?)
        };
        self.members
            .borrow_mut()
            .insert(group.to_string(), members.clone());
        Ok(members)
    }

    /// The apps a group is assigned to.
    fn apps(&self, group: &str) -> Result<BTreeSet<String>, ReadError> {
        if self.apps_of_group.borrow().is_none() {
            let mut map: HashMap<String, BTreeSet<String>> = HashMap::new();
            for app in self.side.ids_of_kind("app") {
                for assigned in Self::ids(self.child_file(&app, "groups")?) {
                    map.entry(assigned).or_default().insert(app.clone());
                }
            }
            *self.apps_of_group.borrow_mut() = Some(map);
        }
        Ok(self
            .apps_of_group
            .borrow()
            .as_ref()
            .and_then(|m| m.get(group).cloned())
            .unwrap_or_default())
    }
}

fn names(ids: impl IntoIterator<Item = String>, kind: &str, side: &dyn Side) -> Vec<Named> {
    ids.into_iter()
        .map(|id| named(Some(kind), &id, side))
        .collect()
}

/// Fills in the impact of every resource change.
pub fn assess(
    _catalogue: &Catalogue,
    resources: &mut [ResourceChange],
    from: &dyn Side,
    to: &dyn Side,
) -> Result<(), ReadError> {
    let old = Reader::new(from);
    let new = Reader::new(to);
    // Member changes of relationship files, per kind and parent id.
    let mut deltas: HashMap<(String, String), Deltas> = HashMap::new();
    for resource in resources.iter() {
        let Some(parent) = &resource.parent else {
            continue;
        };
        if resource.members.is_empty() {
            continue;
        }
        let delta = deltas
            .entry((resource.kind.clone(), parent.id.clone()))
            .or_default();
        for member in &resource.members {
            match member.change {
                Change::Added => {
                    delta.added.insert(member.member.id.clone());
                }
                Change::Removed => {
                    delta.removed.insert(member.member.id.clone());
                }
                _ => {}
            }
        }
    }
    let group_access = |group: &str| -> Result<GroupAccess, ReadError> {
        let delta = deltas.get(&("group_membership".to_string(), group.to_string()));
        let mut apps = new.apps(group)?;
        apps.extend(old.apps(group)?);
        let side: &dyn Side = if to.entry(group).is_some() { to } else { from };
        Ok(GroupAccess {
            group: named(Some("group"), group, side),
            gained: delta.map_or_else(Vec::new, |d| names(d.added.clone(), "user", to)),
            lost: delta.map_or_else(Vec::new, |d| names(d.removed.clone(), "user", from)),
            apps: apps
                .into_iter()
                .map(|app| {
                    let side: &dyn Side = if to.entry(&app).is_some() { to } else { from };
                    named(Some("app"), &app, side)
                })
                .collect(),
        })
    };
    for resource in resources.iter_mut() {
        let mut impact = Impact::default();
        match resource.kind.as_str() {
            "group_membership" => {
                if let Some(parent) = &resource.parent {
                    impact.groups.push(group_access(&parent.id)?);
                }
            }
            "group_rule" => {
                let mut groups = BTreeSet::new();
                for value in sides(resource, from, to)?.into_iter().flatten() {
                    if let Some(ids) = value
                        .pointer("/actions/assignUserToGroups/groupIds")
                        .and_then(Value::as_array)
                    {
                        groups.extend(ids.iter().filter_map(|v| v.as_str().map(str::to_string)));
                    }
                }
                for group in groups {
                    impact.groups.push(group_access(&group)?);
                }
            }
            "app_user_assignment" => {
                if let Some(parent) = &resource.parent {
                    let delta = deltas.get(&(resource.kind.clone(), parent.id.clone()));
                    impact.apps.push(AppAccess {
                        app: parent.clone(),
                        gained: delta.map_or_else(Vec::new, |d| names(d.added.clone(), "user", to)),
                        lost: delta
                            .map_or_else(Vec::new, |d| names(d.removed.clone(), "user", from)),
                        via_groups: Vec::new(),
                    });
                }
            }
            "app_group_assignment" => {
                if let Some(parent) = &resource.parent {
                    let mut gained = BTreeSet::new();
                    let mut lost = BTreeSet::new();
                    let mut via = Vec::new();
                    for member in &resource.members {
                        match member.change {
                            Change::Added => gained.extend(new.members(&member.member.id)?),
                            Change::Removed => lost.extend(old.members(&member.member.id)?),
                            _ => continue,
                        }
                        via.push(member.member.clone());
                    }
                    if !via.is_empty() {
                        impact.apps.push(AppAccess {
                            app: parent.clone(),
                            gained: names(gained, "user", to),
                            lost: names(lost, "user", from),
                            via_groups: via,
                        });
                    }
                }
            }
            "policy_rule" => {
                let people_changed = matches!(resource.change, Change::Added | Change::Removed)
                    || resource.fields.iter().any(|f| {
                        let p = &f.change.pointer;
                        p == "/status" || p.starts_with("/conditions/people") || p == "/conditions"
                    });
                if people_changed {
                    let [before, after] = sides(resource, from, to)?;
                    let (before_pop, before_users) = covered(before.as_ref(), &old)?;
                    let (after_pop, after_users) = covered(after.as_ref(), &new)?;
                    impact.coverage = Some(Coverage {
                        before: before_pop,
                        after: after_pop,
                        gained: names(after_users.difference(&before_users).cloned(), "user", to),
                        lost: names(before_users.difference(&after_users).cloned(), "user", from),
                    });
                }
            }
            _ => {}
        }
        resource.impact = impact;
    }
    Ok(())
}

/// The resource's value on the old and the new side.
fn sides(
    resource: &ResourceChange,
    from: &dyn Side,
    to: &dyn Side,
) -> Result<[Option<Value>; 2], ReadError> {
    Ok(match resource.change {
        Change::Added => [None, resource.body.clone()],
        Change::Removed => [resource.body.clone(), None],
        Change::Changed | Change::Renamed => [
            from.file(resource.old_path.as_deref().unwrap_or(&resource.path))?,
            to.file(&resource.path)?,
        ],
    })
}

/// The users a policy rule covers on one side.
fn covered(
    rule: Option<&Value>,
    side: &Reader<'_>,
) -> Result<(Population, BTreeSet<String>), ReadError> {
    let nobody = Population {
        everyone: false,
        users: 0,
    };
    let Some(rule) = rule else {
        return Ok((nobody, BTreeSet::new()));
    };
    if rule["status"] == "INACTIVE" {
        return Ok((nobody, BTreeSet::new()));
    }
    let list = |pointer: &str| -> Vec<String> {
        rule.pointer(pointer)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let include_users = list("/conditions/people/users/include");
    let include_groups = list("/conditions/people/groups/include");
    let everyone = include_users.is_empty() && include_groups.is_empty();
    let mut users: BTreeSet<String> = if everyone {
        side.side.ids_of_kind("user").into_iter().collect()
    } else {
        let mut users: BTreeSet<String> = include_users.into_iter().collect();
        for group in include_groups {
            users.extend(side.members(&group)?);
        }
        users
    };
    for user in list("/conditions/people/users/exclude") {
        users.remove(&user);
    }
    for group in list("/conditions/people/groups/exclude") {
        for user in side.members(&group)? {
            users.remove(&user);
        }
    }
    Ok((
        Population {
            everyone,
            users: users.len() as u64,
        },
        users,
    ))
}
