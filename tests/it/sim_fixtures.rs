//! The fixture orgs under `fixtures/orgs/` (issue #3, "State"): every file is canonical and sits
//! where the layout puts it, every fixture loads in the simulator, and `small` holds every
//! catalogue kind, every user status, and secrets whose plaintext is in its `secrets.json`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use butterfly::catalogue::{Catalogue, Pagination, Shape};
use butterfly::sim::org::Org;
use butterfly::snapshot::fingerprint::{self, FingerprintKey};
use butterfly::snapshot::layout;
use serde_json::Value;

use crate::support::root;
use crate::support::sim::{Sim, next_link};

/// Catalogue kinds `small` has no object of, with the reason. Empty: every kind is present.
const ABSENT_FROM_SMALL: &[(&str, &str)] = &[];

/// Okta's user statuses (`UserStatus` in Okta's spec).
const USER_STATUSES: [&str; 8] = [
    "STAGED",
    "PROVISIONED",
    "ACTIVE",
    "RECOVERY",
    "PASSWORD_EXPIRED",
    "LOCKED_OUT",
    "SUSPENDED",
    "DEPROVISIONED",
];

/// Every fixture folder (one holding `okta/`), by name.
fn fixtures() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("fixtures/orgs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("okta").is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 2, "tiny and small at least: {dirs:?}");
    dirs
}

fn small() -> PathBuf {
    root().join("fixtures/orgs/small")
}

fn load(dir: &Path) -> Org {
    Org::load_tree(Catalogue::okta().unwrap(), dir)
        .unwrap_or_else(|e| panic!("{} does not load: {e}", dir.display()))
}

/// A kind and its parent's stem: the objects whose file names may collide.
type Siblings = (String, Option<String>);
/// An object's stem without collision suffix, its id, and the path of its file in the fixture.
type Named = (String, String, String);

/// A fixture is the expected result of backing its org up: every file must already be
/// canonical, byte for byte, and sit where the layout puts it (collisions, also of letter case,
/// carrying `~<id>`). `BUTTERFLY_BLESS=1` rewrites hand-edited fixture files into canonical form.
#[test]
fn fixture_files_are_canonical_and_where_the_layout_puts_them() {
    use butterfly::snapshot::canonical::{self, Context};
    let catalogue = Catalogue::okta().unwrap();
    let key = FingerprintKey::from_hex(crate::support::TEST_KEY).unwrap();
    let context = Context {
        key: Some(&key),
        now: "2026-11-23T00:00:00Z".parse().unwrap(),
    };
    let bless = std::env::var_os("BUTTERFLY_BLESS").is_some_and(|v| v == "1");
    for dir in fixtures() {
        let files = crate::support::files_under(&dir.join("okta"));
        assert!(files.len() > 10, "{}", dir.display());
        let mut named: BTreeMap<Siblings, Vec<Named>> = BTreeMap::new();
        for path in files {
            let relative = path
                .strip_prefix(&dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let resolved = layout::resolve(catalogue, &relative)
                .unwrap_or_else(|| panic!("{relative}: no kind has files here"));
            let text = std::fs::read_to_string(&path).unwrap();
            let value: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let canonical_value = match &resolved.kind.shape {
                Shape::Relationship { .. } => canonical::canonicalize_members(
                    resolved.kind,
                    value.as_array().unwrap(),
                    &context,
                ),
                _ => canonical::canonicalize(resolved.kind, &value, &context),
            };
            let canonical_text = canonical::to_text(&canonical_value);
            if bless && canonical_text != text {
                std::fs::write(&path, &canonical_text).unwrap();
            } else {
                assert_eq!(
                    canonical_text, text,
                    "{relative} is not canonical (BUTTERFLY_BLESS=1 rewrites fixtures canonically)"
                );
            }
            if resolved.kind.shape == Shape::Resource {
                let variant = &resolved.kind.variants[resolved.variant];
                let stem = layout::stem(
                    resolved.kind,
                    variant,
                    &canonical_value,
                    resolved.parent.as_deref(),
                )
                .unwrap_or_else(|e| panic!("{relative}: {e}"));
                let id = resolved
                    .kind
                    .id
                    .as_ref()
                    .and_then(|id| id.get(&canonical_value))
                    .map(|id| id.as_str().map_or_else(|| id.to_string(), str::to_string))
                    .unwrap_or_else(|| panic!("{relative}: no id"));
                named
                    .entry((resolved.kind.name.clone(), resolved.parent.clone()))
                    .or_default()
                    .push((stem, id, relative));
            }
        }
        for ((kind, _), objects) in named {
            let stems: Vec<(String, String)> = objects
                .iter()
                .map(|(stem, id, _)| (stem.clone(), id.clone()))
                .collect();
            for (unique, (_, _, relative)) in layout::disambiguate(&stems).iter().zip(&objects) {
                assert_eq!(
                    &layout::file_path(unique),
                    relative,
                    "{kind}: {relative} is not where the layout puts it"
                );
            }
        }
    }
}

/// The simulator starts from every fixture: its tree and its `secrets.json`.
#[test]
fn the_simulator_loads_every_fixture() {
    for dir in fixtures() {
        let tree = butterfly::sim::FixtureTree::read_dir(&dir).unwrap();
        // The binary carries the same files under the folder's name.
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let embedded = butterfly::sim::FixtureTree::embedded(&name)
            .unwrap_or_else(|| panic!("fixture {name} is not embedded in the binary"));
        assert_eq!(tree.files, embedded.files, "{name}");
        assert_eq!(tree.secrets, embedded.secrets, "{name}");
        let options = butterfly::sim::Options::new(tree);
        if let Err(e) = butterfly::sim::State::new(&options) {
            panic!("{}: {e}", dir.display());
        }
    }
}

#[test]
fn small_has_an_object_of_every_kind_and_every_variant() {
    let catalogue = Catalogue::okta().unwrap();
    let org = load(&small());
    let absent: BTreeSet<&str> = ABSENT_FROM_SMALL.iter().map(|(kind, _)| *kind).collect();
    let missing: Vec<&str> = catalogue
        .kinds()
        .iter()
        .map(|kind| kind.name.as_str())
        .filter(|kind| org.all(kind).is_empty() && !absent.contains(kind))
        .collect();
    assert!(missing.is_empty(), "kinds small lacks: {missing:?}");
    // Every variant of a kind reached several ways has an object of its own.
    for kind in catalogue.kinds() {
        if kind.variants.len() < 2 {
            continue;
        }
        for variant in &kind.variants {
            let when = variant
                .when
                .as_ref()
                .expect("variants are told apart by `when`");
            assert!(
                org.all(&kind.name).iter().any(|o| when.matches(&o.body())),
                "{} has no object of variant {}",
                kind.name,
                variant.name
            );
        }
    }
    // Every policy type the catalogue lists.
    let policy = catalogue.kind("policy").unwrap();
    let each = policy
        .primary()
        .endpoints
        .list
        .as_ref()
        .unwrap()
        .each
        .as_ref()
        .unwrap();
    let types: BTreeSet<String> = org
        .all("policy")
        .iter()
        .filter_map(|p| p.member_str("type"))
        .collect();
    for value in &each.values {
        assert!(types.contains(value), "no {value} policy in small");
    }
}

#[test]
fn small_has_users_in_every_status_and_a_few_hundred_of_them() {
    let org = load(&small());
    let users = org.all("user");
    assert!((250..=400).contains(&users.len()), "{} users", users.len());
    let statuses: BTreeSet<String> = users
        .iter()
        .filter_map(|u| u.member_str("status"))
        .collect();
    assert_eq!(
        statuses,
        USER_STATUSES
            .into_iter()
            .map(str::to_string)
            .collect::<BTreeSet<_>>()
    );
    let groups = org.all("group").len();
    assert!((35..=60).contains(&groups), "{groups} groups");
}

/// Every secret in the tree is a fingerprint under the fixture key of a plaintext in
/// `secrets.json` (keyed `<kind>/<id>/<field>`), and every plaintext there is used.
#[test]
fn small_secrets_are_fingerprints_of_the_plaintexts_in_secrets_json() {
    let catalogue = Catalogue::okta().unwrap();
    let org = load(&small());
    let key = FingerprintKey::from_hex(crate::support::TEST_KEY).unwrap();
    let text = std::fs::read_to_string(small().join("secrets.json")).unwrap();
    let secrets: BTreeMap<String, Value> = serde_json::from_str(&text).unwrap();
    let mut used = BTreeSet::new();
    for kind in catalogue.kinds() {
        for field in &kind.secret {
            for object in org.all(&kind.name) {
                for value in field.select(&object.body()) {
                    let name = format!("{}/{}/{field}", kind.name, object.id);
                    assert!(
                        fingerprint::is_fingerprint(value),
                        "{name}: not a fingerprint"
                    );
                    let plaintext = secrets
                        .get(&name)
                        .unwrap_or_else(|| panic!("{name}: no plaintext in secrets.json"));
                    assert_eq!(
                        key.fingerprint(&kind.name, &field.to_string(), plaintext),
                        value.as_str().unwrap(),
                        "{name}: the fingerprint is not of the plaintext in secrets.json"
                    );
                    used.insert(name);
                }
            }
        }
    }
    let unused: Vec<&String> = secrets
        .keys()
        .filter(|k| !k.starts_with('_') && !used.contains(*k))
        .collect();
    assert!(unused.is_empty(), "plaintexts nothing uses: {unused:?}");
    assert!(used.len() >= 10, "{used:?}");
}

/// Lists a top-level kind through the API as a backup does (`limit=2` where it pages, every
/// `each` value) and returns the ids it got.
async fn list_ids(sim: &Sim, kind: &butterfly::catalogue::Kind) -> Vec<String> {
    let client = sim.ssws();
    let Some(list) = &kind.primary().endpoints.list else {
        return Vec::new();
    };
    let values: Vec<Option<&str>> = match &list.each {
        Some(each) => each
            .values
            .iter()
            .map(|v| (!v.is_empty()).then_some(v.as_str()))
            .collect(),
        None => vec![None],
    };
    let mut ids = Vec::new();
    for value in values {
        let mut query = Vec::new();
        if let (Some(each), Some(value)) = (&list.each, value) {
            query.push(format!(
                "{}={}",
                each.param,
                value.replace('"', "%22").replace(' ', "%20")
            ));
        }
        if list.pagination != Pagination::None {
            query.push("limit=2".to_string());
        }
        let mut url = sim.at(&list.endpoint.path);
        if !query.is_empty() {
            url = format!("{url}?{}", query.join("&"));
        }
        loop {
            let response = client.get(&url).send().await.unwrap();
            assert_eq!(response.status(), 200, "{url}");
            let next = next_link(response.headers());
            let body: Value = response.json().await.unwrap();
            let items = match &list.items {
                Some(key) => body[key].as_array().cloned().unwrap_or_default(),
                None => body.as_array().cloned().unwrap_or_default(),
            };
            for item in items {
                let id = kind
                    .id
                    .as_ref()
                    .and_then(|id| id.get(&item))
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("{}: an item without an id: {item}", kind.name));
                ids.push(id.to_string());
            }
            let body_next = body
                .pointer("/_links/next/href")
                .and_then(Value::as_str)
                .map(str::to_string);
            match next.or(body_next) {
                Some(next) => url = next,
                None => break,
            }
        }
    }
    ids
}

#[tokio::test]
async fn listing_each_top_level_kind_of_small_returns_the_fixtures_objects() {
    let catalogue = Catalogue::okta().unwrap();
    let org = load(&small());
    let sim = Sim::start("small", &[]);
    let mut listed = 0;
    for kind in catalogue.kinds() {
        if kind.shape != Shape::Resource || kind.primary().parent.is_some() {
            continue;
        }
        let mut got = list_ids(&sim, kind).await;
        let mut expected: Vec<String> = org
            .all(&kind.name)
            .iter()
            .map(|o| o.id.to_string())
            .collect();
        assert!(!expected.is_empty(), "{}", kind.name);
        got.sort();
        expected.sort();
        assert_eq!(
            got, expected,
            "{}: listed objects differ from the fixture's",
            kind.name
        );
        listed += 1;
    }
    assert!(listed >= 30, "{listed} top-level kinds");
}
