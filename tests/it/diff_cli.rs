//! `butterfly diff` as a user runs it: the real binary on org repositories backed up from the
//! simulator. Proves issue #5's "done when": seed 003's three incidents (a sign-on policy
//! tightened, a SCIM attribute mapping changed, a group rule removed) made in the simulated
//! org, backed up, and found by `diff` with the field, the old and new value, the actor from the
//! System Log, the users who left the rule's coverage, and for the group rule the users who
//! lost the group and the apps it granted; a reordered array is no change; a rename is a
//! rename; the JSON output matches its golden file.

use std::path::Path;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::support::cli::{Env, Run, backup, basic, butterfly, init};
use crate::support::golden;
use crate::support::sim::{Sim, status_and_body};

fn block<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// The object named `name` (at `key`) in a list answer.
fn find(sim: &Sim, path: &str, key: &str, name: &str) -> Value {
    let list = block(sim.get_json(path));
    list.as_array()
        .unwrap_or_else(|| panic!("{path}: not a list: {list}"))
        .iter()
        .find(|o| o.pointer(key) == Some(&json!(name)))
        .unwrap_or_else(|| panic!("{path}: no {name}"))
        .clone()
}

fn put(sim: &Sim, path: &str, body: &Value) {
    let (status, answer) = block(async { status_and_body(sim.put_json(path, body).await).await });
    assert_eq!(status, 200, "PUT {path}: {answer}");
}

fn post(sim: &Sim, path: &str, body: Option<&Value>) {
    let (status, answer) = block(async {
        let response = match body {
            Some(body) => sim.post_json(path, body).await,
            None => sim.post_empty(path).await,
        };
        status_and_body(response).await
    });
    assert!(
        (200..300).contains(&status),
        "POST {path}: {status} {answer}"
    );
}

fn members(dir: &Path, group: &str) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join(format!("okta/groups/{group}/members.json")))
        .unwrap_or_else(|e| panic!("members of {group}: {e}"));
    let members: Vec<Value> = serde_json::from_str(&text).unwrap();
    members
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

/// An org repository with two snapshots of `small`: before and after the incidents.
struct Incidents {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    /// Engineering members who are also contractors (they leave the tightened rule).
    excluded: Vec<String>,
    /// Support's members before its rule was deleted.
    support: Vec<String>,
    diff: Run,
}

fn incidents() -> &'static Incidents {
    static ONCE: OnceLock<Incidents> = OnceLock::new();
    ONCE.get_or_init(|| {
        let sim = Sim::start_unlimited("small");
        let (tmp, dir) = init(&sim);
        let env = basic(&sim);
        let first = backup(&dir, &[], &env);
        assert_eq!(first.code, 0, "{}", first.text());
        let engineering = members(&dir, "Engineering");
        let contractors = members(&dir, "Contractors");
        let excluded: Vec<String> = engineering
            .iter()
            .filter(|u| contractors.contains(u))
            .cloned()
            .collect();
        let support = members(&dir, "Support");

        // 1. A sign-on policy tightened: the engineers' app sign-in rule asks two factors and
        //    leaves contractors out.
        let policy = find(&sim, "/api/v1/policies?type=ACCESS_POLICY", "/name", "Engineering apps");
        let policy_id = policy["id"].as_str().unwrap();
        let rules = format!("/api/v1/policies/{policy_id}/rules");
        let mut rule = find(&sim, &rules, "/name", "Engineers via Google");
        rule["actions"]["appSignOn"]["verificationMethod"]["factorMode"] = json!("2FA");
        let contractors_id = find(&sim, "/api/v1/groups?limit=200", "/profile/name", "Contractors")["id"].clone();
        rule["conditions"]["people"]["groups"]["exclude"] = json!([contractors_id]);
        put(&sim, &format!("{rules}/{}", rule["id"].as_str().unwrap()), &rule);

        // 2. A SCIM attribute mapping changed: Slack's title now comes from the department.
        let mapping = find(&sim, "/api/v1/mappings", "/target/name", "slack");
        post(
            &sim,
            &format!("/api/v1/mappings/{}", mapping["id"].as_str().unwrap()),
            Some(&json!({"properties": {"title": {"expression": "user.department", "pushStatus": "PUSH"}}})),
        );

        // 3. A group rule removed in a cleanup, with the users it had added.
        let rule = find(&sim, "/api/v1/groups/rules?limit=200", "/name", "Support - auto");
        let rule_id = rule["id"].as_str().unwrap();
        post(&sim, &format!("/api/v1/groups/rules/{rule_id}/lifecycle/deactivate"), None);
        let deleted = block(sim.delete(&format!("/api/v1/groups/rules/{rule_id}?removeUsers=true")));
        assert!(deleted.status().is_success(), "{:?}", deleted.status());

        // A rename.
        let group = find(&sim, "/api/v1/groups?limit=200", "/profile/name", "Book Club");
        let mut profile = group["profile"].clone();
        profile["name"] = json!("Reading Club");
        put(&sim, &format!("/api/v1/groups/{}", group["id"].as_str().unwrap()), &json!({"profile": profile}));

        let second = backup(&dir, &[], &env);
        assert_eq!(second.code, 0, "{}", second.text());
        let diff = butterfly(&dir, &["diff", "--format", "json"], &env);
        Incidents {
            _tmp: tmp,
            dir,
            excluded,
            support,
            diff,
        }
    })
}

fn report() -> Value {
    let diff = &incidents().diff;
    assert_eq!(diff.code, 2, "changes found exit 2: {}", diff.text());
    diff.json()
}

fn resource<'r>(report: &'r Value, kind: &str, name: &str) -> &'r Value {
    report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == kind && r["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {report:#}"))
}

fn field<'r>(resource: &'r Value, pointer: &str) -> &'r Value {
    resource["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no fields: {resource:#}"))
        .iter()
        .find(|f| f["pointer"] == pointer)
        .unwrap_or_else(|| panic!("no change at {pointer}: {resource:#}"))
}

fn actors(resource: &Value) -> Vec<(String, String)> {
    resource["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"]["alternate_id"].as_str().unwrap().to_string(),
                e["event_type"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn ids(list: &Value) -> Vec<String> {
    let mut ids: Vec<String> = list
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_tightened_sign_on_policy_is_found_with_its_fields_actor_and_who_left_it() {
    let report = report();
    let rule = resource(&report, "policy_rule", "Engineers via Google");
    assert_eq!(rule["change"], "changed");
    assert_eq!(rule["parent"]["name"], "ACCESS_POLICY Engineering apps");
    let factor = field(rule, "/actions/appSignOn/verificationMethod/factorMode");
    assert_eq!(
        (factor["old"].clone(), factor["new"].clone()),
        (json!("1FA"), json!("2FA"))
    );
    let exclude = field(rule, "/conditions/people/groups/exclude");
    assert_eq!(exclude["op"], "added");
    assert_eq!(exclude["references"][0]["target"]["name"], "Contractors");
    assert!(
        actors(rule).contains(&(
            "admin@simulator.example".into(),
            "policy.rule.update".into()
        )),
        "{rule:#}"
    );
    let coverage = &rule["impact"]["coverage"];
    assert!(!incidents().excluded.is_empty());
    let mut expected = incidents().excluded.clone();
    expected.sort();
    assert_eq!(ids(&coverage["lost"]), expected, "{coverage:#}");
    assert_eq!(coverage["gained"], json!([]));
    assert_eq!(
        coverage["before"]["users"].as_u64().unwrap()
            - coverage["after"]["users"].as_u64().unwrap(),
        expected.len() as u64
    );
}

#[test]
fn a_changed_scim_attribute_mapping_is_found_with_its_actor() {
    let report = report();
    let mapping = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "profile_mapping" && r["path"].as_str().unwrap().contains("slack"))
        .unwrap_or_else(|| panic!("no mapping change: {report:#}"));
    let title = field(mapping, "/properties/title/expression");
    assert_eq!(
        (title["old"].clone(), title["new"].clone()),
        (json!("user.title"), json!("user.department"))
    );
    assert!(
        actors(mapping)
            .iter()
            .any(|(who, _)| who == "admin@simulator.example"),
        "{mapping:#}"
    );
}

#[test]
fn a_removed_group_rule_is_found_with_the_users_who_lost_the_group_and_the_apps_it_granted() {
    let report = report();
    let rule = resource(&report, "group_rule", "Support - auto");
    assert_eq!(rule["change"], "removed");
    assert_eq!(
        rule["body"]["conditions"]["expression"]["value"],
        "user.department==\"Support\""
    );
    let who = actors(rule);
    assert!(
        who.iter().any(|(_, t)| t.ends_with("deactivate")),
        "{who:?}"
    );
    assert!(who.iter().any(|(_, t)| t.ends_with("delete")), "{who:?}");
    let groups = rule["impact"]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{groups:#?}");
    let support = &groups[0];
    assert_eq!(support["group"]["name"], "Support");
    let lost = ids(&support["lost"]);
    assert!(!lost.is_empty(), "{support:#}");
    assert!(
        lost.iter().all(|u| incidents().support.contains(u)),
        "{support:#}"
    );
    assert_eq!(
        support["apps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].clone())
            .collect::<Vec<_>>(),
        vec![json!("IT Help Center")]
    );
    // The group's members file shows the same users leaving, each with the rule's events.
    let members = resource(&report, "group_membership", "Group members of Support");
    let removed: Vec<String> = {
        let mut removed: Vec<String> = members["members"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["change"] == "removed")
            .map(|m| m["member"]["id"].as_str().unwrap().to_string())
            .collect();
        removed.sort();
        removed
    };
    assert_eq!(removed, lost);
    assert!(
        actors(members)
            .iter()
            .all(|(_, t)| t == "group.user_membership.remove"),
        "{members:#}"
    );
}

#[test]
fn a_rename_is_a_rename() {
    let report = report();
    let club = resource(&report, "group", "Reading Club");
    assert_eq!(club["change"], "renamed");
    assert_eq!(club["old_name"], "Book Club");
    assert_eq!(club["old_path"], "okta/groups/Book Club.json");
    assert_eq!(field(club, "/profile/name")["old"], "Book Club");
    // Its members moved with it, unchanged: no change of their own.
    let resources = report["resources"].as_array().unwrap();
    assert!(
        !resources
            .iter()
            .any(|r| r["kind"] == "group_membership" && r["parent"]["name"] == "Reading Club"),
        "{report:#}"
    );
}

/// Commit ids, times and event ids change from run to run.
fn normalise(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match key.as_str() {
                    "commit" | "time" | "published" | "uuid" => *v = json!("…"),
                    "rev" if v.as_str().is_some_and(|s| s.len() == 40) => *v = json!("…"),
                    _ => normalise(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise),
        _ => {}
    }
}

#[test]
fn the_json_output_has_a_golden_file() {
    let mut report = report();
    normalise(&mut report);
    let text = serde_json::to_string_pretty(&report).unwrap() + "\n";
    if let Some(difference) = golden("diff/incidents.json", &text) {
        panic!("{difference}");
    }
}

#[test]
fn text_and_markdown_say_the_same_for_people() {
    let dir = &incidents().dir;
    let env: Env = Vec::new();
    let text = butterfly(dir, &["diff"], &env);
    assert_eq!(text.code, 2, "{}", text.text());
    assert!(!text.stdout.contains('\x1b'), "piped output is plain");
    for expected in [
        "removed group_rule \"Support - auto\"",
        "~ /actions/appSignOn/verificationMethod/factorMode: \"1FA\" → \"2FA\"",
        "renamed group \"Reading Club\"",
        "it grants apps: IT Help Center",
        "admin@simulator.example",
    ] {
        assert!(
            text.stdout.contains(expected),
            "{expected} in:\n{}",
            text.stdout
        );
    }
    let markdown = butterfly(dir, &["diff", "--format", "markdown"], &env);
    assert_eq!(markdown.code, 2);
    assert!(markdown.stdout.chars().count() <= 65_536);
    assert!(
        markdown.stdout.contains("| `group_rule` | 0 | 1 | 0 | 0 |"),
        "{}",
        markdown.stdout
    );
    assert!(markdown.stdout.contains("<details>"), "{}", markdown.stdout);
    // Narrowed to one kind and to a path.
    let rules = butterfly(
        dir,
        &["diff", "--kind", "group_rule", "--format", "json"],
        &env,
    )
    .json();
    assert_eq!(rules["resources"].as_array().unwrap().len(), 1, "{rules:#}");
    let by_path = butterfly(
        dir,
        &["diff", "--format", "json", "--", "okta/profile-mappings"],
        &env,
    )
    .json();
    assert_eq!(by_path["counts"]["changed"], 1, "{by_path:#}");
    // The same two snapshots named explicitly, and by time.
    let explicit = butterfly(dir, &["diff", "HEAD~1", "HEAD", "--format", "json"], &env).json();
    assert_eq!(explicit["counts"], report()["counts"]);
    let nothing = butterfly(dir, &["diff", "HEAD", "HEAD"], &env);
    assert_eq!(nothing.code, 0, "{}", nothing.text());
    assert!(
        nothing.stdout.contains("no resource changed"),
        "{}",
        nothing.stdout
    );
    let bad = butterfly(dir, &["diff", "no-such-rev"], &env);
    assert_eq!(bad.code, 3, "{}", bad.text());
    assert!(bad.stderr.contains("no-such-rev"), "{}", bad.stderr);
    let bad_kind = butterfly(dir, &["diff", "--kind", "grop"], &env);
    assert_eq!(bad_kind.code, 3, "{}", bad_kind.text());
}

#[test]
fn an_edit_in_the_working_tree_is_a_diff_against_worktree_and_a_reordered_list_is_no_change() {
    let sim = Sim::start_unlimited("small");
    let (_tmp, dir) = init(&sim);
    let env = basic(&sim);
    let first = backup(
        &dir,
        &["--kind", "group_rule", "--kind", "network_zone"],
        &env,
    );
    assert_eq!(first.code, 0, "{}", first.text());
    let path = dir.join("okta/group-rules/Sales - auto.json");
    let mut rule: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    rule["conditions"]["expression"]["value"] = json!("user.department==\"Sales EMEA\"");
    std::fs::write(&path, serde_json::to_string_pretty(&rule).unwrap() + "\n").unwrap();
    let run = butterfly(
        &dir,
        &["diff", "HEAD", "WORKTREE", "--format", "json"],
        &env,
    );
    assert_eq!(run.code, 2, "{}", run.text());
    let report = run.json();
    assert_eq!(report["to"]["commit"], Value::Null);
    let rule = resource(&report, "group_rule", "Sales - auto");
    assert_eq!(
        field(rule, "/conditions/expression/value")["new"],
        "user.department==\"Sales EMEA\""
    );
    // A symlink is never followed.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc/passwd", dir.join("okta/group-rules/Evil.json")).unwrap();
        let run = butterfly(&dir, &["diff", "HEAD", "WORKTREE"], &env);
        assert_eq!(run.code, 1, "{}", run.text());
        assert!(
            run.stderr.contains("Evil.json") && run.stderr.contains("symlink"),
            "{}",
            run.stderr
        );
    }
}
