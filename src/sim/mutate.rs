//! `--mutate P%`: a copy of an org with a share of its users, groups and apps changed the way
//! admins change them (profiles edited, users suspended, groups and apps renamed, objects
//! removed with everything that pointed at them, new users added with memberships),
//! deterministically from the seed, so diff and compliance benchmarks have a realistic
//! "next snapshot".
//!
//! Must leave the org consistent: no membership or assignment of a removed object remains, and
//! an object that any other resource still references is edited, never removed.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::generate::{Generator, MissingKind};
use super::org::{Object, ObjectRef, Org};
use crate::catalogue::{Catalogue, Shape};
use crate::snapshot::fingerprint::FingerprintKey;

/// What a mutation changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Mutated {
    pub modified: usize,
    pub removed: usize,
    pub added: usize,
}

/// Parses `1%`, `0.5%` or `2` (a percentage from 0 to 100).
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    match number.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "`{text}`: expected a percentage from 0 to 100, such as 1%"
        )),
    }
}

/// Changes `percent` % of the org's users, groups and apps (at least one object when the
/// percentage is above zero). `fixture_ids` are the fixture's own objects: they are removed only
/// when nothing references them; generated objects always may be.
pub fn mutate(
    catalogue: &Catalogue,
    org: &mut Org,
    percent: f64,
    fixture_ids: &HashSet<String>,
    seed: u64,
    key: &FingerprintKey,
    now: DateTime<Utc>,
) -> Result<Mutated, MissingKind> {
    let mut generator = Generator::new(catalogue, org, seed ^ 0x6D75_7461_7465, key, now)?;
    let candidates: Vec<(String, String)> = ["user", "group", "app"]
        .iter()
        .flat_map(|kind| {
            org.all(kind)
                .into_iter()
                .filter(|o| {
                    catalogue
                        .kind(&o.kind)
                        .is_some_and(|k| !k.is_system(&o.body()))
                })
                .map(|o| (o.kind.to_string(), o.id.to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    let groups: Vec<String> = org
        .all("group")
        .iter()
        .filter(|g| g.member_str("type").as_deref() == Some("OKTA_GROUP"))
        .map(|g| g.id.to_string())
        .collect();
    let mut done = Mutated::default();
    if candidates.is_empty() || percent <= 0.0 {
        return Ok(done);
    }
    let count = ((candidates.len() as f64 * percent / 100.0).round() as usize).max(1);
    let mut touched: HashSet<String> = HashSet::new();
    let mut attempts = 0;
    while done.modified + done.removed + done.added < count && attempts < count * 20 {
        attempts += 1;
        let roll = generator.random().below(100);
        if roll >= 85 {
            let (user, _, status) = generator.user(org);
            if status != "DEPROVISIONED" {
                generator.memberships(org, &user, &groups, 2);
            }
            touched.insert(user);
            done.added += 1;
            continue;
        }
        let (kind, id) = generator.random().pick(&candidates).clone();
        if !touched.insert(id.clone()) {
            continue;
        }
        let Some(object) = org.get(&kind, &id).cloned() else {
            continue;
        };
        if roll >= 70 && removable(catalogue, org, &object, fixture_ids) {
            remove_everywhere(catalogue, org, &object);
            done.removed += 1;
        } else {
            edit(&mut generator, org, &object);
            done.modified += 1;
        }
    }
    // Active group rules follow the added and edited users, as Okta's would.
    let users: Vec<String> = touched
        .into_iter()
        .filter(|id| org.get("user", id).is_some())
        .collect();
    super::group_rules::apply(catalogue, org, Some(&users));
    Ok(done)
}

fn removable(
    catalogue: &Catalogue,
    org: &Org,
    object: &Object,
    fixture_ids: &HashSet<String>,
) -> bool {
    if !fixture_ids.contains(&*object.id) {
        return true;
    }
    let Some(kind) = catalogue.kind(&object.kind) else {
        return false;
    };
    super::rules::referrers(catalogue, org, kind, object)
        .iter()
        .all(|(referrer, _)| {
            catalogue
                .kind(referrer)
                .is_some_and(|k| matches!(k.shape, Shape::Relationship { .. }))
        })
}

/// Removes `object`, its children, and every relationship member that is `object`.
fn remove_everywhere(catalogue: &Catalogue, org: &mut Org, object: &Object) {
    org.remove_with_children(object);
    for kind in catalogue.kinds() {
        let Shape::Relationship { .. } = kind.shape else {
            continue;
        };
        let points_here = kind
            .references
            .iter()
            .any(|r| r.path.to_string() == "id" && *r.kind == *object.kind);
        if !points_here {
            continue;
        }
        for parent_kind in kind.parents() {
            let parents: Vec<ObjectRef> = org
                .all(parent_kind)
                .iter()
                .map(|p| (p.kind.clone(), p.id.clone()))
                .collect();
            for parent in parents {
                org.remove_at(&kind.name, Some(&parent), &object.id);
            }
        }
    }
}

/// Edits `object` as an admin would.
fn edit(generator: &mut Generator<'_, '_>, org: &mut Org, object: &Object) {
    let choice = generator.random().below(3);
    let serial = generator.random().below(100_000);
    let Some(stored) = org.stored_mut(object) else {
        return;
    };
    stored.edit_body(|body| edit_body(body, &object.kind, choice, serial));
}

/// The edit of [`edit`] on the body.
fn edit_body(body: &mut Value, kind: &str, choice: usize, serial: usize) {
    match (kind, choice) {
        ("user", 0) => {
            let status = body.get("status").and_then(Value::as_str);
            let next = if status == Some("ACTIVE") {
                "SUSPENDED"
            } else {
                "ACTIVE"
            };
            set(body, &["status"], json!(next));
        }
        ("user", _) => {
            set(
                body,
                &["profile", "title"],
                json!(format!("Principal Specialist {serial}")),
            );
            set(body, &["profile", "city"], json!("Lisbon"));
        }
        ("group", 0) => {
            let name = body["profile"]["name"]
                .as_str()
                .unwrap_or("Group")
                .to_string();
            set(
                body,
                &["profile", "name"],
                json!(format!("{name} (renamed {serial})")),
            );
        }
        ("group", _) => {
            set(
                body,
                &["profile", "description"],
                json!(format!("Reorganised, ticket IT-{serial}")),
            );
        }
        ("app", 0) => {
            let label = body["label"].as_str().unwrap_or("App").to_string();
            set(
                body,
                &["label"],
                json!(format!("{label} (renamed {serial})")),
            );
        }
        (_, _) => {
            set(body, &["visibility", "hide", "web"], json!(true));
        }
    }
}

/// Sets `path` in `body`, creating missing objects on the way; a fixture value of another type
/// in the way (a folder's file may hold anything) leaves the body unchanged.
fn set(body: &mut Value, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = body;
    for key in parents {
        let Value::Object(map) = current else {
            return;
        };
        current = map
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if current.is_null() {
            *current = Value::Object(serde_json::Map::new());
        }
    }
    if let Value::Object(map) = current {
        map.insert(last.to_string(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::generate::{Sizes, generate};

    #[test]
    fn edits_never_panic_on_a_fixture_value_of_another_type() {
        let mut body = json!({"profile": "not an object", "visibility": null});
        set(&mut body, &["profile", "title"], json!("x"));
        set(&mut body, &["visibility", "hide", "web"], json!(true));
        assert_eq!(
            body,
            json!({"profile": "not an object", "visibility": {"hide": {"web": true}}})
        );
    }

    #[test]
    fn percentages_parse_and_refuse_nonsense() {
        assert_eq!(parse_percent("1%"), Ok(1.0));
        assert_eq!(parse_percent("0.5"), Ok(0.5));
        assert!(parse_percent("150%").unwrap_err().contains("150%"));
        assert!(parse_percent("lots").is_err());
    }

    #[test]
    fn a_mutation_changes_about_the_share_asked_and_leaves_no_dangling_member() {
        let catalogue = Catalogue::okta().expect("catalogue");
        let key = FingerprintKey::from_hex(crate::sim::FIXTURE_KEY).expect("key");
        let now: DateTime<Utc> = "2026-11-23T00:00:00Z".parse().expect("time");
        let mut org = Org::default();
        let sizes = Sizes::parse("users=1000,groups=40,apps=10").expect("sizes");
        generate(catalogue, &mut org, &sizes, 3, &key, now).expect("generates");
        let fixture_ids: HashSet<String> = HashSet::new();
        let before = org.clone();
        let done = mutate(catalogue, &mut org, 5.0, &fixture_ids, 3, &key, now).expect("mutates");
        assert_eq!(done.modified + done.removed + done.added, 53, "{done:?}");
        assert!(
            done.removed > 0 && done.added > 0 && done.modified > 0,
            "{done:?}"
        );
        for member in org.all("group_membership") {
            assert!(
                org.get("user", &member.id).is_some(),
                "dangling member {}",
                member.id
            );
        }
        for member in org.all("app_user_assignment") {
            assert!(
                org.get("user", &member.id).is_some(),
                "dangling assignee {}",
                member.id
            );
        }
        let changed = org
            .all("user")
            .iter()
            .filter(|u| {
                before
                    .get("user", &u.id)
                    .is_none_or(|b| b.body_text() != u.body_text())
            })
            .count();
        assert!(changed > 0);
    }
}
