//! `butterfly log` and `butterfly show` (issue #5) as a user runs them: the real binary over an
//! org repository backed up twice from the simulator, with an admin's change to an access
//! policy rule in between. `log` lists both snapshots newest first with their counts and the
//! admin who made the change, and narrows them by kind and path; `show` prints the rule as it
//! was at each snapshot, by commit and by `@DATE`, with the group it names; a revision or path
//! that does not exist is exit 3 naming it.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::cli::{Env, Run, backup, basic, butterfly, git, init};
use crate::support::sim::{Sim, status_and_body};

/// The access policy rule changed between the two backups, and what names it.
const POLICY: &str = "00p1smapeng000000000";
const RULE: &str = "0pr1smr0190000000000";
const RULE_FILE: &str =
    "okta/policies/ACCESS_POLICY/Engineering apps/rules/Engineers via Google.json";
const GROUP: &str = "00g1smgdept000000000";

fn run(dir: &Path, args: &[&str], env: &Env) -> Run {
    butterfly(dir, args, env)
}

/// `log --format json [args]`: the snapshots' commits, newest first, and the report.
fn log_json(dir: &Path, args: &[&str], env: &Env) -> (Vec<String>, Value) {
    let mut all = vec!["log", "--format", "json"];
    all.extend_from_slice(args);
    let out = run(dir, &all, env);
    assert_eq!(out.code, 0, "log {args:?}: {}", out.text());
    let report = out.json();
    let commits = report["snapshots"]
        .as_array()
        .unwrap_or_else(|| panic!("snapshots in {report:#}"))
        .iter()
        .map(|s| s["commit"].as_str().unwrap().to_string())
        .collect();
    (commits, report)
}

/// Lengthens the rule's re-authentication from 720 to 12 hours, as an admin would.
fn change_the_rule(sim: &Sim) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let path = format!("/api/v1/policies/{POLICY}/rules/{RULE}");
            let mut body = sim.get_json(&path).await;
            let object = body.as_object_mut().unwrap();
            for volatile in ["_links", "created", "lastUpdated"] {
                object.remove(volatile);
            }
            body["actions"]["appSignOn"]["verificationMethod"]["reauthenticateIn"] = "PT12H".into();
            let (status, answer) = status_and_body(sim.put_json(&path, &body).await).await;
            assert_eq!(status, 200, "{answer:#}");
        });
}

#[test]
fn log_lists_snapshots_with_counts_and_actors_and_show_prints_resources_at_any_revision() {
    let sim = Sim::start_unlimited("small");
    let (_tmp, dir) = init(&sim);
    let env = basic(&sim);
    let first_backup = backup(&dir, &[], &env);
    assert_eq!(first_backup.code, 0, "{}", first_backup.text());
    let first = git(&dir, &["rev-parse", "refs/heads/main"])
        .trim()
        .to_string();
    change_the_rule(&sim);
    let second_backup = backup(&dir, &[], &env);
    assert_eq!(second_backup.code, 0, "{}", second_backup.text());
    let second = git(&dir, &["rev-parse", "refs/heads/main"])
        .trim()
        .to_string();
    assert_ne!(first, second);

    // log: both snapshots, newest first, with the counts their messages hold.
    let (commits, report) = log_json(&dir, &[], &env);
    assert_eq!(commits, vec![second.clone(), first.clone()], "{report:#}");
    assert_eq!(report["version"], 1);
    assert_eq!(report["branch"], "main");
    let newest = &report["snapshots"][0];
    // The counts are git's: the rule, and its policy's catch-all rule, renumbered by Okta.
    let changed = git(
        &dir,
        &["diff", "--name-status", &first, &second, "--", "okta"],
    );
    let modified = changed.lines().filter(|l| l.starts_with("M\t")).count();
    assert_eq!(changed.lines().count(), modified, "{changed}");
    assert!(changed.contains(RULE_FILE), "{changed}");
    assert_eq!(
        newest["counts"],
        json!({"added": 0, "changed": modified, "removed": 0}),
        "{changed}\n{newest:#}"
    );
    assert_eq!(
        newest["kinds"],
        json!({"policy_rule": {"added": 0, "changed": modified, "removed": 0}}),
        "{changed}\n{newest:#}"
    );
    assert_eq!(newest["parent"], first.as_str());
    assert_eq!(newest["incomplete"], json!([]));
    // Who: the admin whose update the System Log recorded.
    let actors = newest["actors"].as_array().unwrap();
    let admin = actors
        .iter()
        .find(|a| a["actor"] == "admin@simulator.example")
        .unwrap_or_else(|| panic!("the admin in {newest:#}"));
    assert!(admin["events"].as_u64().unwrap() >= 1, "{newest:#}");
    assert!(newest["events"].as_u64().unwrap() >= 1, "{newest:#}");
    let oldest = &report["snapshots"][1];
    let files = git(
        &dir,
        &["ls-tree", "-r", "--name-only", &first, "--", "okta"],
    )
    .lines()
    .count() as u64;
    assert_eq!(oldest["counts"]["added"], files, "{oldest:#}");
    assert_eq!(oldest["counts"]["changed"], 0);
    assert_eq!(oldest["events"], 0, "a first backup has nothing to explain");

    // The text: a block per snapshot, newest first, naming the actor.
    let text = run(&dir, &["log"], &env);
    assert_eq!(text.code, 0, "{}", text.text());
    let at_second = text.stdout.find(&format!("snapshot {second}")).unwrap();
    let at_first = text.stdout.find(&format!("snapshot {first}")).unwrap();
    assert!(at_second < at_first, "{}", text.stdout);
    assert!(
        text.stdout.contains(&format!(
            "Changes:  {modified} ({modified} changed)\n          policy_rule: {modified} changed\n"
        )),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("Who:      admin@simulator.example ("),
        "{}",
        text.stdout
    );

    // --kind: a kind the second backup did not change drops it; one it changed keeps both.
    assert_eq!(
        log_json(&dir, &["--kind", "group"], &env).0,
        vec![first.clone()]
    );
    assert_eq!(
        log_json(&dir, &["--kind", "policy_rule"], &env).0,
        vec![second.clone(), first.clone()]
    );
    let unknown = run(&dir, &["log", "--kind", "gruop"], &env);
    assert_eq!(unknown.code, 3, "{}", unknown.text());
    assert!(unknown.stderr.contains("gruop"), "{}", unknown.text());
    // PATH: a folder, and a file without `.json`.
    assert_eq!(
        log_json(&dir, &["--", "okta/groups"], &env).0,
        vec![first.clone()]
    );
    assert_eq!(
        log_json(
            &dir,
            &["--", "okta/policies/ACCESS_POLICY/Engineering apps"],
            &env
        )
        .0,
        vec![second.clone(), first.clone()]
    );
    let stem = RULE_FILE.trim_end_matches(".json");
    assert_eq!(
        log_json(&dir, &["--kind", "policy_rule", "--", stem], &env).0,
        vec![second.clone(), first.clone()]
    );

    // show: the rule as it was at each snapshot, with the group it names.
    let before = run(&dir, &["show", &first, "--", RULE_FILE], &env);
    assert_eq!(before.code, 0, "{}", before.text());
    assert!(
        before.stdout.contains("\"reauthenticateIn\": \"PT720H\""),
        "{}",
        before.stdout
    );
    assert!(
        before
            .stdout
            .contains(&format!("\"{GROUP}\"  # group {GROUP} (Engineering)\n")),
        "{}",
        before.stdout
    );
    assert!(
        before
            .stdout
            .contains(&format!("# policy_rule \"Engineers via Google\" ({RULE})")),
        "{}",
        before.stdout
    );
    let after = run(&dir, &["show", "main", "--", stem], &env);
    assert_eq!(after.code, 0, "{}", after.text());
    assert!(
        after.stdout.contains("\"reauthenticateIn\": \"PT12H\""),
        "{}",
        after.stdout
    );
    assert!(!after.stdout.contains("PT720H"), "{}", after.stdout);

    // show @DATE: the newest snapshot at or before the end of that day.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let dated = run(
        &dir,
        &[
            "show",
            &format!("@{today}"),
            "--format",
            "json",
            "--",
            RULE_FILE,
        ],
        &env,
    );
    assert_eq!(dated.code, 0, "{}", dated.text());
    let report = dated.json();
    assert_eq!(report["version"], 1);
    assert_eq!(report["commit"], second.as_str(), "{report:#}");
    let file = &report["files"][0];
    assert_eq!(file["path"], RULE_FILE);
    assert_eq!(file["kind"], "policy_rule");
    assert_eq!(file["id"], RULE);
    assert_eq!(file["name"], "Engineers via Google");
    assert_eq!(
        file["body"]["actions"]["appSignOn"]["verificationMethod"]["reauthenticateIn"],
        "PT12H"
    );
    assert!(
        file["references"].as_array().unwrap().contains(&json!({
            "pointer": "/conditions/people/groups/include/0",
            "target": {"kind": "group", "id": GROUP, "name": "Engineering"}
        })),
        "{file:#}"
    );

    // A folder shows the group and its members, each member named.
    let group = run(
        &dir,
        &["show", &first, "--", "okta/groups/Engineering"],
        &env,
    );
    assert_eq!(group.code, 0, "{}", group.text());
    assert!(
        group.stdout.contains("# okta/groups/Engineering/members.json\n# group_membership \"Group members of Engineering\"\n"),
        "{}",
        group.stdout
    );
    assert!(group.stdout.contains("  # user 00u"), "{}", group.stdout);

    // No path: the kinds, to name one.
    let overview = run(&dir, &["show", "main"], &env);
    assert_eq!(overview.code, 0, "{}", overview.text());
    assert!(
        overview
            .stdout
            .lines()
            .any(|l| l.starts_with("policy_rule ")),
        "{}",
        overview.stdout
    );

    // What does not exist is a usage error naming it.
    let bad = run(&dir, &["show", "no-such-rev", "--", RULE_FILE], &env);
    assert_eq!(bad.code, 3, "{}", bad.text());
    assert!(bad.stderr.contains("no-such-rev"), "{}", bad.text());
    let too_early = run(&dir, &["show", "@2001-01-01", "--", RULE_FILE], &env);
    assert_eq!(too_early.code, 3, "{}", too_early.text());
    assert!(
        too_early.stderr.contains("@2001-01-01"),
        "{}",
        too_early.text()
    );
    let missing = run(&dir, &["show", &first, "--", "okta/groups/Nobody"], &env);
    assert_eq!(missing.code, 3, "{}", missing.text());
    assert!(
        missing
            .stderr
            .contains("`okta/groups/Nobody`: no such file or folder at"),
        "{}",
        missing.text()
    );
}
