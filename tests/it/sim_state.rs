//! The simulator's state options through the real binary: embedded fixtures by name, fresh ids,
//! generated orgs, `--write-tree` and `--mutate`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::support::sim::{Sim, next_link, status_and_body};

/// A new, empty-named folder under the system's temporary folder, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "butterfly-it-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn butterfly(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_butterfly"))
        .args(args)
        .output()
        .expect("run butterfly");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// Every file under `dir`, relative path to text.
fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    crate::support::files_under(dir)
        .into_iter()
        .map(|path| {
            let relative = path
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            (relative, text)
        })
        .collect()
}

/// Every item of a Link-paginated list, following `next` links.
async fn list_all(sim: &Sim, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut url = sim.at(path);
    loop {
        let response = sim.ssws().get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let next = next_link(response.headers());
        let page: Vec<Value> = response.json().await.unwrap();
        items.extend(page);
        match next {
            Some(next) => url = next,
            None => return items,
        }
    }
}

#[test]
fn an_embedded_fixture_is_found_by_name_and_an_unknown_one_is_named() {
    let (code, _, stderr) = butterfly(&["sim", "--fixture", "no-such-org"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("no-such-org"), "{stderr}");
    assert!(
        stderr.contains("tiny"),
        "names the embedded fixtures: {stderr}"
    );
}

#[tokio::test]
async fn the_embedded_tiny_fixture_serves_like_the_folder() {
    // `Sim::start` passes a folder; the bare name must serve the same org.
    let by_name = Sim::start_named("tiny", &[]);
    let by_path = Sim::start("tiny", &[]);
    let names = |groups: Vec<Value>| {
        let mut names: Vec<String> = groups
            .iter()
            .map(|g| g["profile"]["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names(list_all(&by_name, "/api/v1/groups").await),
        names(list_all(&by_path, "/api/v1/groups").await)
    );
}

#[tokio::test]
async fn a_user_can_be_in_two_groups() {
    let sim = Sim::start("tiny", &[]);
    let groups = list_all(&sim, "/api/v1/groups").await;
    let id_of = |name: &str| {
        groups
            .iter()
            .find(|g| g["profile"]["name"] == name)
            .and_then(|g| g["id"].as_str())
            .unwrap()
            .to_string()
    };
    let (engineering, sales) = (id_of("Engineering"), id_of("Sales / EMEA"));
    let engineers = list_all(&sim, &format!("/api/v1/groups/{engineering}/users")).await;
    let bob = engineers[0]["id"].as_str().unwrap().to_string();
    let response = sim
        .ssws()
        .put(sim.at(&format!("/api/v1/groups/{sales}/users/{bob}")))
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    for group in [&engineering, &sales] {
        let members = list_all(&sim, &format!("/api/v1/groups/{group}/users")).await;
        assert!(
            members.iter().any(|m| m["id"] == bob.as_str()),
            "{bob} missing from {group}"
        );
    }
    // Removing bob from one group leaves the other membership.
    let (status, _) = status_and_body(
        sim.delete(&format!("/api/v1/groups/{sales}/users/{bob}"))
            .await,
    )
    .await;
    assert_eq!(status, 204);
    let members = list_all(&sim, &format!("/api/v1/groups/{engineering}/users")).await;
    assert!(members.iter().any(|m| m["id"] == bob.as_str()));
}

#[tokio::test]
async fn fresh_ids_give_the_same_names_under_new_ids_with_references_followed() {
    let original = Sim::start("tiny", &[]);
    let fresh = Sim::start("tiny", &["--fresh-ids", "--seed", "5"]);
    let by_name = |groups: &[Value]| -> BTreeMap<String, String> {
        groups
            .iter()
            .map(|g| {
                (
                    g["profile"]["name"].as_str().unwrap().to_string(),
                    g["id"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let old = by_name(&list_all(&original, "/api/v1/groups").await);
    let new = by_name(&list_all(&fresh, "/api/v1/groups").await);
    assert_eq!(
        old.keys().collect::<Vec<_>>(),
        new.keys().collect::<Vec<_>>()
    );
    for (name, id) in &old {
        assert_ne!(&new[name], id, "{name} kept its id");
        assert_eq!(new[name][..3], id[..3], "{name}: Okta's id prefix is kept");
        let (status, _) = status_and_body(fresh.get(&format!("/api/v1/groups/{id}")).await).await;
        assert_eq!(
            status, 404,
            "the old id of {name} must not exist in the fresh org"
        );
    }
    // The group rule still targets Engineering, by its new id.
    let rules: Vec<Value> = fresh
        .get_json("/api/v1/groups/rules")
        .await
        .as_array()
        .unwrap()
        .clone();
    let targets = &rules[0]["actions"]["assignUserToGroups"]["groupIds"];
    assert_eq!(targets, &json!([new["Engineering"]]));
    // And the members of Engineering are users of the fresh org.
    let members = list_all(
        &fresh,
        &format!("/api/v1/groups/{}/users", new["Engineering"]),
    )
    .await;
    assert_eq!(members.len(), 2);
    for member in members {
        let (status, _) = status_and_body(
            fresh
                .get(&format!("/api/v1/users/{}", member["id"].as_str().unwrap()))
                .await,
        )
        .await;
        assert_eq!(status, 200);
    }
}

#[tokio::test]
async fn a_generated_org_is_served_and_paged() {
    let sim = Sim::start(
        "tiny",
        &["--generate", "users=450,groups=30,apps=5", "--seed", "2"],
    );
    let users = list_all(&sim, "/api/v1/users?limit=200").await;
    // Deprovisioned users are left out of a plain list, as Okta does.
    assert!(
        users.len() > 400 && users.len() < 455,
        "{} users",
        users.len()
    );
    assert!(users.iter().all(|u| u["status"] != "DEPROVISIONED"));
    let deprovisioned = list_all(
        &sim,
        "/api/v1/users?filter=status%20eq%20%22DEPROVISIONED%22",
    )
    .await;
    assert_eq!(
        users.len() + deprovisioned.len(),
        455,
        "450 generated plus tiny's users"
    );
    let groups = list_all(&sim, "/api/v1/groups").await;
    assert!(groups.len() >= 30);
    let generated = groups
        .iter()
        .find(|g| {
            g["profile"]["name"]
                .as_str()
                .unwrap()
                .ends_with(char::is_numeric)
        })
        .unwrap();
    let members = list_all(
        &sim,
        &format!("/api/v1/groups/{}/users", generated["id"].as_str().unwrap()),
    )
    .await;
    assert!(!members.is_empty());
}

#[test]
fn write_tree_is_deterministic_loads_back_and_writes_the_same_tree_again() {
    let scratch = Scratch::new("tree");
    let first = scratch.0.join("first");
    let second = scratch.0.join("second");
    let again = scratch.0.join("again");
    let generate = "users=120,groups=12,apps=4";
    for dir in [&first, &second] {
        let (code, stdout, stderr) = butterfly(&[
            "sim",
            "--fixture",
            "tiny",
            "--generate",
            generate,
            "--seed",
            "11",
            "--write-tree",
            dir.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{stderr}");
        let summary: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(summary["generated"]["users"], 120);
    }
    let tree = read_tree(&first);
    assert_eq!(
        tree,
        read_tree(&second),
        "the same seed must write the same tree"
    );
    assert!(tree.contains_key("secrets.json"));
    assert!(tree.keys().filter(|p| p.starts_with("okta/users/")).count() >= 125);
    // The written tree is a fixture: loading it and writing it again changes nothing.
    let (code, _, stderr) = butterfly(&[
        "sim",
        "--fixture",
        first.to_str().unwrap(),
        "--write-tree",
        again.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(tree, read_tree(&again));
    // tiny's own files are in it, unchanged but for the members its active group rule gave
    // the generated engineers.
    let tiny = read_tree(&crate::support::root().join("fixtures/orgs/tiny/okta"));
    for (path, text) in tiny {
        let written = tree.get(&format!("okta/{path}"));
        if path.ends_with("members.json") {
            let before: Vec<Value> = serde_json::from_str(&text).unwrap();
            let after: Vec<Value> = serde_json::from_str(written.unwrap()).unwrap();
            assert!(before.iter().all(|m| after.contains(m)), "{path}");
        } else {
            assert_eq!(written, Some(&text), "{path}");
        }
    }
    // An existing tree is never overwritten.
    let (code, _, stderr) = butterfly(&[
        "sim",
        "--generate",
        generate,
        "--write-tree",
        first.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "a usage error");
    assert!(
        stderr.contains("already exists and is not empty"),
        "{stderr}"
    );
    // With --mutate, an occupied DIR-mutated is refused before DIR is written.
    let fresh = scratch.0.join("fresh");
    std::fs::create_dir_all(scratch.0.join("fresh-mutated/okta")).unwrap();
    let (code, _, stderr) = butterfly(&[
        "sim",
        "--fixture",
        "tiny",
        "--write-tree",
        fresh.to_str().unwrap(),
        "--mutate",
        "1%",
    ]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("fresh-mutated"), "{stderr}");
    assert!(
        !fresh.exists(),
        "nothing is written when a folder is refused"
    );
}

#[tokio::test]
async fn mutate_writes_a_changed_copy_beside_the_tree() {
    let scratch = Scratch::new("mutate");
    let base = scratch.0.join("org");
    let (code, stdout, stderr) = butterfly(&[
        "sim",
        "--generate",
        "users=400,groups=20,apps=5",
        "--write-tree",
        base.to_str().unwrap(),
        "--mutate",
        "5%",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    let mutated = &summary["mutated"];
    let changes = ["modified", "removed", "added"]
        .iter()
        .map(|k| mutated[*k].as_u64().unwrap())
        .sum::<u64>();
    assert!(changes >= 20, "{summary}");
    let before = read_tree(&base);
    let after = read_tree(&scratch.0.join("org-mutated"));
    let differing = before
        .keys()
        .chain(after.keys())
        .filter(|p| before.get(*p) != after.get(*p))
        .count();
    assert!(differing >= 10, "{differing} files differ");
    // The mutated copy loads as a fixture.
    let sim = Sim::start(scratch.0.join("org-mutated").to_str().unwrap(), &[]);
    let (status, users) = status_and_body(sim.get("/api/v1/users?limit=1").await).await;
    assert_eq!(status, 200);
    assert_eq!(users.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn secrets_inside_arrays_are_answered_in_plaintext() {
    // An event hook's header values are secrets under `channel.config.headers[*].value`.
    let sim = Sim::start_named("small", &[]);
    let hook = sim
        .get_json("/api/v1/eventHooks/who1smsiem0000000000")
        .await;
    let values: Vec<&str> = hook["channel"]["config"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["value"].as_str())
        .collect();
    assert_eq!(values, ["small-siem-token-5d8e2f7a9c1b"], "{hook}");
}
