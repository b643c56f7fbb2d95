//! `--fresh-ids`: the same org with a new id for every object, as a second Okta org with the
//! same names would have, for cross-org restore tests. Every occurrence of an old id is
//! rewritten: ids, parents, relationship members, and ids inside any string (references,
//! expressions such as `isMemberOfGroup("00g…")`, URLs) or object key, and the secrets' keys.
//!
//! Pure: an org in, a new org out. Synthetic singleton ids (`kind:path`) are kept.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::org::{ID_ALPHABET, Org};
use super::present::Secrets;
use super::seeded::Seeded;
use crate::catalogue::Catalogue;

/// The org with fresh ids, its secrets re-keyed, and the old → new id map.
pub fn remap(
    catalogue: &Catalogue,
    org: &Org,
    secrets: &Secrets,
    seed: u64,
) -> (Org, Secrets, HashMap<String, String>) {
    let mut random = Seeded::new(seed ^ 0x6672_6573_6869_6473);
    let mut map: HashMap<String, String> = HashMap::new();
    let mut used: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut ids: Vec<&str> = org
        .objects()
        .filter(|o| is_real_id(&o.id))
        .filter(|o| {
            catalogue
                .kind(&o.kind)
                .is_some_and(|k| !matches!(k.shape, crate::catalogue::Shape::Relationship { .. }))
        })
        .map(|o| &*o.id)
        .collect();
    // A stable order, so the same seed gives the same new ids.
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        loop {
            let fresh = fresh_id(id, &mut random);
            if fresh != id && used.insert(fresh.clone()) {
                map.insert(id.to_string(), fresh);
                break;
            }
        }
    }
    let remapped = org.rewritten(|text| rewrite(text, &map), |body| rewrite_value(body, &map));
    let secrets = secrets
        .iter()
        .map(|(key, value)| (rewrite(key, &map), value.clone()))
        .collect();
    (remapped, secrets, map)
}

/// Okta ids are 20 letters and digits, with at least one digit; names used as ids (an email
/// template's `UserActivation`, a feature's `USER_PROVISIONING`) and synthetic singleton ids
/// (`kind:path`) are not.
fn is_real_id(id: &str) -> bool {
    id.len() == 20
        && id.bytes().all(|b| b.is_ascii_alphanumeric())
        && id.bytes().any(|b| b.is_ascii_digit())
}

/// A new id with the old one's prefix (its first three characters) and length.
fn fresh_id(old: &str, random: &mut Seeded) -> String {
    let prefix: String = old.chars().take(3).collect();
    let mut out = prefix;
    while out.len() < old.len() {
        out.push(ID_ALPHABET[random.below(ID_ALPHABET.len())] as char);
    }
    out
}

/// `text` with every maximal run of letters and digits that is an old id replaced.
fn rewrite(text: &str, map: &HashMap<String, String>) -> String {
    if map.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut run_start: Option<usize> = None;
    let flush = |out: &mut String, run: &str| match map.get(run) {
        Some(new) => out.push_str(new),
        None => out.push_str(run),
    };
    for (i, c) in text.char_indices() {
        if c.is_ascii_alphanumeric() {
            run_start.get_or_insert(i);
        } else {
            if let Some(start) = run_start.take() {
                flush(&mut out, &text[start..i]);
            }
            out.push(c);
        }
    }
    if let Some(start) = run_start {
        flush(&mut out, &text[start..]);
    }
    out
}

fn rewrite_value(value: &Value, map: &HashMap<String, String>) -> Value {
    match value {
        Value::String(text) => Value::String(rewrite(text, map)),
        Value::Array(items) => Value::Array(items.iter().map(|v| rewrite_value(v, map)).collect()),
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(k, v)| (rewrite(k, map), rewrite_value(v, map)))
                .collect::<Map<String, Value>>(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::fixture::FixtureTree;

    #[test]
    fn ids_inside_strings_are_rewritten_only_as_whole_tokens() {
        let map: HashMap<String, String> = [("00gOLD".to_string(), "00gNEW".to_string())].into();
        assert_eq!(
            rewrite("isMemberOfGroup(\"00gOLD\") || x00gOLD", &map),
            "isMemberOfGroup(\"00gNEW\") || x00gOLD"
        );
        assert_eq!(
            rewrite("https://x/api/v1/groups/00gOLD", &map),
            "https://x/api/v1/groups/00gNEW"
        );
    }

    #[test]
    fn every_id_changes_and_every_reference_follows() {
        let catalogue = Catalogue::okta().expect("catalogue");
        let tree = FixtureTree::embedded("tiny").expect("tiny");
        let org = Org::load(catalogue, &tree).expect("loads");
        let secrets: Secrets = [(
            "app/0oa1tinyportal000002/credentials.oauthClient.client_secret".to_string(),
            "s3cret".to_string(),
        )]
        .into();
        let (fresh, fresh_secrets, map) = remap(catalogue, &org, &secrets, 9);
        assert_eq!(fresh.len(), org.len());
        let old_ids: Vec<&String> = map.keys().collect();
        assert!(old_ids.len() > 20);
        let all_text: String = fresh
            .objects()
            .map(|o| format!("{} {:?} {}\n", o.id, o.parent, o.body_text()))
            .collect();
        for old in &old_ids {
            assert!(!all_text.contains(old.as_str()), "{old} survived");
        }
        // Names stay; the group membership follows the renamed user and group.
        let engineering = fresh
            .all("group")
            .into_iter()
            .find(|g| g.body()["profile"]["name"] == "Engineering")
            .expect("Engineering is there");
        let parent = (engineering.kind.clone(), engineering.id.clone());
        let members = fresh.list("group_membership", Some(&parent));
        assert_eq!(members.len(), 2);
        assert!(members.iter().all(|m| fresh.get("user", &m.id).is_some()));
        assert_eq!(fresh_secrets.len(), 1);
        assert!(
            fresh_secrets
                .keys()
                .all(|k| !k.contains("0oa1tinyportal000002"))
        );
        // The same seed gives the same ids.
        let (_, _, again) = remap(catalogue, &org, &secrets, 9);
        assert_eq!(map, again);
    }
}
