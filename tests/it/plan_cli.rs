//! `butterfly plan` as a user runs it (issue #6, the plan step): the real binary against the
//! simulator. A plan right after a backup is empty (convergence); seed 003's incidents are each
//! planned back with a path selection touching only that resource; the plan file is written;
//! a mass delete and an admin change are refused, naming the flag, and the admin change is
//! refused in CI even with it. The binary runs with `CI` removed except in the CI test.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::cli::{Env, Run, backup, basic, init};
use crate::support::sim::{Sim, status_and_body};

pub(crate) fn block<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// `butterfly <sub> <args> -C dir [-- PATH...]` with the simulator's credentials, no terminal,
/// and `CI` removed unless `ci`.
pub(crate) fn run(sub: &str, dir: &Path, args: &[&str], env: &Env, ci: bool) -> Run {
    let split = args.iter().position(|a| *a == "--").unwrap_or(args.len());
    let mut command = Command::new(env!("CARGO_BIN_EXE_butterfly"));
    command
        .arg(sub)
        .args(&args[..split])
        .arg("-C")
        .arg(dir)
        .args(&args[split..]);
    for var in butterfly::provider::okta::credentials::ENV_VARS {
        command.env_remove(var);
    }
    command.env("BUTTERFLY_FINGERPRINT_KEY", crate::support::TEST_KEY);
    command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    if ci {
        command.env("CI", "true");
    } else {
        command.env_remove("CI");
    }
    command.stdin(std::process::Stdio::null());
    Run::from(command.output().expect("run butterfly"))
}

fn plan(dir: &Path, args: &[&str], env: &Env, ci: bool) -> Run {
    run("plan", dir, args, env, ci)
}

/// Deactivates and deletes the group rule `name` (with the users it added when `remove_users`),
/// as an admin cleaning up would; returns the rule as it was.
fn delete_group_rule(sim: &Sim, name: &str, remove_users: bool) -> Value {
    let rule = find(sim, "/api/v1/groups/rules?limit=200", "/name", name);
    let id = rule["id"].as_str().unwrap().to_string();
    block(async {
        let (status, body) = status_and_body(
            sim.post_empty(&format!("/api/v1/groups/rules/{id}/lifecycle/deactivate"))
                .await,
        )
        .await;
        assert_eq!(status, 204, "{body}");
        let deleted = sim
            .delete(&format!(
                "/api/v1/groups/rules/{id}?removeUsers={remove_users}"
            ))
            .await;
        assert!(deleted.status().is_success(), "{:?}", deleted.status());
    });
    rule
}

fn find(sim: &Sim, path: &str, key: &str, name: &str) -> Value {
    let list = block(sim.get_json(path));
    list.as_array()
        .unwrap()
        .iter()
        .find(|o| o.pointer(key) == Some(&json!(name)))
        .unwrap_or_else(|| panic!("{path}: no {name}"))
        .clone()
}

fn ops(plan: &Value) -> Vec<(String, String, String)> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["op"].as_str().unwrap().to_string(),
                a["kind"].as_str().unwrap().to_string(),
                a["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn plans_converge_restore_single_resources_and_refuse_what_is_unsafe() {
    let sim = Sim::start_unlimited("small");
    let (_tmp, dir) = init(&sim);
    let env = basic(&sim);
    let first = backup(&dir, &[], &env);
    assert_eq!(first.code, 0, "{}", first.text());

    // Right after a backup, nothing to do.
    let empty = plan(
        &dir,
        &["--ref", "main", "--format", "json", "--detailed-exitcode"],
        &env,
        false,
    );
    assert_eq!(empty.code, 0, "{}", empty.text());
    assert_eq!(empty.json()["actions"], json!([]), "{}", empty.stdout);

    // Incident 3: the group rule feeding Support is removed with its users.
    delete_group_rule(&sim, "Support - auto", true);
    // Incident 1: the engineers' sign-on rule tightened.
    let policy = find(
        &sim,
        "/api/v1/policies?type=ACCESS_POLICY",
        "/name",
        "Engineering apps",
    );
    let rules = format!("/api/v1/policies/{}/rules", policy["id"].as_str().unwrap());
    let mut engineers = find(&sim, &rules, "/name", "Engineers via Google");
    engineers["actions"]["appSignOn"]["verificationMethod"]["factorMode"] = json!("2FA");
    block(async {
        let (status, body) = status_and_body(
            sim.put_json(
                &format!("{rules}/{}", engineers["id"].as_str().unwrap()),
                &engineers,
            )
            .await,
        )
        .await;
        assert_eq!(status, 200, "{body}");
    });

    // Incident 2: Slack's title mapped from the department.
    let mapping = find(&sim, "/api/v1/mappings", "/target/name", "slack");
    block(async {
        let (status, body) = status_and_body(
            sim.post_json(
                &format!("/api/v1/mappings/{}", mapping["id"].as_str().unwrap()),
                &json!({"properties": {"title": {"expression": "user.department", "pushStatus": "PUSH"}}}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200, "{body}");
    });
    let mapping_plan = plan(
        &dir,
        &[
            "--ref",
            "main",
            "--format",
            "json",
            "--",
            "okta/profile-mappings/user-to-slack.json",
        ],
        &env,
        false,
    );
    assert_eq!(mapping_plan.code, 0, "{}", mapping_plan.text());
    let mapping_plan = mapping_plan.json();
    assert_eq!(
        ops(&mapping_plan),
        vec![(
            "update".into(),
            "profile_mapping".into(),
            "user slack".into()
        )]
    );
    assert_eq!(
        mapping_plan["actions"][0]["body"]["properties"]["title"]["expression"],
        "user.title"
    );

    // The rule alone, from the snapshot: created, then active again; nothing else.
    let out = dir.join("restore-rule.json");
    let out_text = out.to_string_lossy().to_string();
    let rule_plan = plan(
        &dir,
        &[
            "--ref",
            "main",
            "--detailed-exitcode",
            "--out",
            &out_text,
            "--",
            "okta/group-rules/Support - auto.json",
        ],
        &env,
        false,
    );
    assert_eq!(rule_plan.code, 2, "{}", rule_plan.text());
    assert!(
        rule_plan
            .stdout
            .contains("+ create group_rule \"Support - auto\""),
        "{}",
        rule_plan.stdout
    );
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(written["version"], 1);
    assert_eq!(
        ops(&written),
        vec![
            (
                "create".into(),
                "group_rule".into(),
                "Support - auto".into()
            ),
            (
                "activate".into(),
                "group_rule".into(),
                "Support - auto".into()
            ),
        ]
    );
    let body = &written["actions"][0]["body"];
    assert_eq!(
        body["conditions"]["expression"]["value"],
        "user.department==\"Support\""
    );
    assert_eq!(
        body["actions"]["assignUserToGroups"]["groupIds"],
        json!(["00g1smgdept020000000"])
    );

    // The sign-on rule alone: one update with the field, back to one factor.
    let rule_path = "okta/policies/ACCESS_POLICY/Engineering apps/rules/Engineers via Google.json";
    let policy_plan = plan(
        &dir,
        &["--ref", "main", "--format", "json", "--", rule_path],
        &env,
        false,
    );
    assert_eq!(policy_plan.code, 0, "{}", policy_plan.text());
    let policy_plan = policy_plan.json();
    assert_eq!(
        ops(&policy_plan),
        vec![(
            "update".into(),
            "policy_rule".into(),
            "Engineers via Google".into()
        )]
    );
    let change = &policy_plan["actions"][0]["changes"][0];
    assert_eq!(
        change["pointer"],
        "/actions/appSignOn/verificationMethod/factorMode"
    );
    assert_eq!(
        (change["old"].clone(), change["new"].clone()),
        (json!("2FA"), json!("1FA"))
    );
    assert!(
        policy_plan["live"]
            .as_object()
            .unwrap()
            .contains_key(rule_path)
    );

    // Six new groups, then a prune of groups: more than 10% of them, refused.
    for n in 0..6 {
        block(async {
            let (status, body) = status_and_body(
                sim.post_json(
                    "/api/v1/groups",
                    &json!({"profile": {"name": format!("Temp {n}")}}),
                )
                .await,
            )
            .await;
            assert!((200..300).contains(&status), "{body}");
        });
    }
    let mass = plan(
        &dir,
        &["--ref", "main", "--prune", "--kind", "group"],
        &env,
        false,
    );
    assert_eq!(mass.code, 1, "{}", mass.text());
    assert!(
        mass.stdout.contains("--allow-mass-delete"),
        "{}",
        mass.stdout
    );
    assert!(mass.stdout.contains("\"Temp 0\""), "{}", mass.stdout);
    let allowed = plan(
        &dir,
        &[
            "--ref",
            "main",
            "--prune",
            "--allow-mass-delete",
            "--kind",
            "group",
            "--format",
            "json",
        ],
        &env,
        false,
    );
    assert_eq!(allowed.code, 0, "{}", allowed.text());
    let deletes: Vec<_> = ops(&allowed.json())
        .into_iter()
        .filter(|(op, _, _)| op == "delete")
        .collect();
    assert_eq!(deletes.len(), 6, "{deletes:?}");

    // An admin group's member removed: adding it back is an admin change.
    let admins = find(
        &sim,
        "/api/v1/groups?limit=200",
        "/profile/name",
        "IT Admins",
    );
    let admins_id = admins["id"].as_str().unwrap().to_string();
    let member = block(sim.get_json(&format!("/api/v1/groups/{admins_id}/users")))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    block(async {
        let removed = sim
            .delete(&format!("/api/v1/groups/{admins_id}/users/{member}"))
            .await;
        assert!(removed.status().is_success());
    });
    let members = ["--ref", "main", "--", "okta/groups/IT Admins/members.json"];
    let refused = plan(&dir, &members, &env, false);
    assert_eq!(refused.code, 1, "{}", refused.text());
    assert!(
        refused.stdout.contains("--allow-admin-changes"),
        "{}",
        refused.stdout
    );
    let with_flag: Vec<&str> = ["--allow-admin-changes"]
        .into_iter()
        .chain(members)
        .collect();
    let allowed = plan(&dir, &with_flag, &env, false);
    assert_eq!(allowed.code, 0, "{}", allowed.text());
    assert!(
        allowed.stdout.contains(&format!(
            "+ add member group_membership \"Group members of IT Admins\": {member}"
        )),
        "{}",
        allowed.stdout
    );
    let in_ci = plan(&dir, &with_flag, &env, true);
    assert_eq!(in_ci.code, 1, "{}", in_ci.text());
    assert!(in_ci.stdout.contains("refused in CI"), "{}", in_ci.stdout);

    // A path that selects nothing is a usage error.
    let nothing = plan(
        &dir,
        &["--ref", "main", "--", "okta/group-rules/No such rule.json"],
        &env,
        false,
    );
    assert_eq!(nothing.code, 3, "{}", nothing.text());
}

#[test]
fn apply_restores_a_deleted_group_rule_then_backs_up_and_refuses_a_stale_plan() {
    let sim = Sim::start_unlimited("small");
    let (_tmp, dir) = init(&sim);
    let env = basic(&sim);
    let first = backup(&dir, &[], &env);
    assert_eq!(first.code, 0, "{}", first.text());
    let original = crate::support::cli::git(&dir, &["rev-parse", "HEAD"])
        .trim()
        .to_string();

    let rule = find(
        &sim,
        "/api/v1/groups/rules?limit=200",
        "/name",
        "Support - auto",
    );
    let rule_id = rule["id"].as_str().unwrap().to_string();
    let support = find(&sim, "/api/v1/groups?limit=200", "/profile/name", "Support");
    let support_id = support["id"].as_str().unwrap().to_string();
    let members_before =
        block(sim.get_json(&format!("/api/v1/groups/{support_id}/users?limit=200")))
            .as_array()
            .unwrap()
            .len();
    delete_group_rule(&sim, "Support - auto", true);
    let path = "okta/group-rules/Support - auto.json";
    let plan_file = dir.join("restore.json");
    let plan_text = plan_file.to_string_lossy().to_string();
    let made = plan(
        &dir,
        &["--ref", "main", "--out", &plan_text, "--", path],
        &env,
        false,
    );
    assert_eq!(made.code, 0, "{}", made.text());

    // Without a terminal, apply needs --yes.
    let apply = |args: &[&str]| -> Run { run("apply", &dir, args, &env, false) };
    let unconfirmed = apply(&[&plan_text]);
    assert_eq!(unconfirmed.code, 3, "{}", unconfirmed.text());
    assert!(
        unconfirmed.stderr.contains("--yes"),
        "{}",
        unconfirmed.stderr
    );

    let applied = apply(&[&plan_text, "--yes"]);
    assert_eq!(applied.code, 0, "{}", applied.text());
    assert!(
        applied
            .stdout
            .contains("created okta/group-rules/Support - auto.json as"),
        "{}",
        applied.stdout
    );
    assert!(
        applied.stdout.contains("Backed up: commit"),
        "{}",
        applied.stdout
    );
    // The rule is back and active; the rule put its members back.
    let restored = find(
        &sim,
        "/api/v1/groups/rules?limit=200",
        "/name",
        "Support - auto",
    );
    assert_eq!(restored["status"], "ACTIVE");
    assert_ne!(
        restored["id"],
        json!(rule_id),
        "a re-created rule has a new id"
    );
    let members_after =
        block(sim.get_json(&format!("/api/v1/groups/{support_id}/users?limit=200")))
            .as_array()
            .unwrap()
            .len();
    assert_eq!(members_after, members_before);
    // Converged: the original snapshot planned against the org now changes nothing.
    let again = plan(
        &dir,
        &["--ref", &original, "--format", "json", "--", path],
        &env,
        false,
    );
    assert_eq!(again.code, 0, "{}", again.text());
    assert_eq!(again.json()["actions"], json!([]), "{}", again.stdout);
    // Applying the same plan again does nothing: every step is in the journal.
    let twice = apply(&[&plan_text, "--yes"]);
    assert_eq!(twice.code, 0, "{}", twice.text());
    assert!(
        twice.stdout.contains("0 step(s) done now, 2 before"),
        "{}",
        twice.stdout
    );

    // A plan whose object changed since is refused, naming it.
    let policy = find(
        &sim,
        "/api/v1/policies?type=ACCESS_POLICY",
        "/name",
        "Engineering apps",
    );
    let rules = format!("/api/v1/policies/{}/rules", policy["id"].as_str().unwrap());
    let rule_path = "okta/policies/ACCESS_POLICY/Engineering apps/rules/Engineers via Google.json";
    let set_factor = |mode: &str| {
        let mut engineers = find(&sim, &rules, "/name", "Engineers via Google");
        engineers["actions"]["appSignOn"]["verificationMethod"]["factorMode"] = json!(mode);
        block(async {
            let (status, body) = status_and_body(
                sim.put_json(
                    &format!("{rules}/{}", engineers["id"].as_str().unwrap()),
                    &engineers,
                )
                .await,
            )
            .await;
            assert_eq!(status, 200, "{body}");
        });
    };
    set_factor("2FA");
    let stale_file = dir.join("stale.json");
    let stale_text = stale_file.to_string_lossy().to_string();
    let made = plan(
        &dir,
        &["--ref", &original, "--out", &stale_text, "--", rule_path],
        &env,
        false,
    );
    assert_eq!(made.code, 0, "{}", made.text());
    set_factor("OTP");
    let stale = apply(&[&stale_text, "--yes"]);
    assert_eq!(stale.code, 1, "{}", stale.text());
    assert!(
        stale.stderr.contains("stale") && stale.stderr.contains(rule_path),
        "{}",
        stale.stderr
    );
}

#[test]
fn restore_previews_confirms_and_restores_one_group_rule() {
    let sim = Sim::start_unlimited("small");
    let (_tmp, dir) = init(&sim);
    let env = basic(&sim);
    let first = backup(&dir, &[], &env);
    assert_eq!(first.code, 0, "{}", first.text());
    delete_group_rule(&sim, "Support - auto", true);
    let restore = |args: &[&str]| -> Run {
        let mut all = args.to_vec();
        all.extend(["--", "okta/group-rules/Support - auto.json"]);
        run("restore", &dir, &all, &env, false)
    };
    let rules_named = |name: &str| {
        block(sim.get_json("/api/v1/groups/rules?limit=200"))
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["name"] == name)
            .count()
    };
    // The preview changes nothing.
    let preview = restore(&["main", "--dry-run"]);
    assert_eq!(preview.code, 0, "{}", preview.text());
    assert!(
        preview
            .stdout
            .contains("+ create group_rule \"Support - auto\""),
        "{}",
        preview.stdout
    );
    assert_eq!(rules_named("Support - auto"), 0);
    // No terminal, no --yes: nothing is done.
    let refused = restore(&["main"]);
    assert_eq!(refused.code, 3, "{}", refused.text());
    assert_eq!(rules_named("Support - auto"), 0);
    // Restored, then nothing left to restore.
    let restored = restore(&["main", "--yes"]);
    assert_eq!(restored.code, 0, "{}", restored.text());
    assert!(restored.stdout.contains("Restored"), "{}", restored.stdout);
    assert_eq!(rules_named("Support - auto"), 1);
    let again = restore(&["main~1", "--yes"]);
    assert_eq!(again.code, 0, "{}", again.text());
    assert!(
        again.stdout.contains("Nothing to restore"),
        "{}",
        again.stdout
    );

    // A plan file is for its org only: another org's repository refuses it.
    let plan_file = dir.join("any.json");
    let plan_text = plan_file.to_string_lossy().to_string();
    let made = plan(
        &dir,
        &[
            "--ref",
            "main",
            "--out",
            &plan_text,
            "--",
            "okta/group-rules",
        ],
        &env,
        false,
    );
    assert_eq!(made.code, 0, "{}", made.text());
    let other = Sim::start_unlimited("small");
    let (_other_tmp, other_dir) = init(&other);
    let refused = run(
        "apply",
        &other_dir,
        &[&plan_text, "--yes"],
        &basic(&other),
        false,
    );
    assert_eq!(refused.code, 3, "{}", refused.text());
    assert!(
        refused.stderr.contains("the plan is for 127.0.0.1:"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_failed_step_stops_apply_and_a_second_apply_resumes_after_what_was_done() {
    let sim = Sim::start_unlimited("small");
    let (_tmp, dir) = init(&sim);
    let env = basic(&sim);
    let first = backup(&dir, &[], &env);
    assert_eq!(first.code, 0, "{}", first.text());
    // Two rules deleted; a plan restores both.
    let mut targets = Vec::new();
    for name in ["Sales - auto", "Support - auto"] {
        let rule = delete_group_rule(&sim, name, false);
        targets.push(
            rule["actions"]["assignUserToGroups"]["groupIds"][0]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let plan_file = dir.join("two.json");
    let plan_text = plan_file.to_string_lossy().to_string();
    let made = plan(
        &dir,
        &[
            "--ref",
            "main",
            "--out",
            &plan_text,
            "--",
            "okta/group-rules/Sales - auto.json",
            "okta/group-rules/Support - auto.json",
        ],
        &env,
        false,
    );
    assert_eq!(made.code, 0, "{}", made.text());
    // The second rule's group disappears after the plan was made: its create cannot succeed.
    block(async {
        assert!(
            sim.delete(&format!("/api/v1/groups/{}", targets[1]))
                .await
                .status()
                .is_success()
        );
    });
    let apply = || -> Run { run("apply", &dir, &[&plan_text, "--yes"], &env, false) };
    let failed = apply();
    assert_eq!(failed.code, 1, "{}", failed.text());
    assert!(
        failed
            .stderr
            .contains("step 3 (create group_rule \"Support - auto\") failed"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("2 step(s) done before it"),
        "{}",
        failed.stderr
    );
    let journal = std::fs::read_to_string(format!("{plan_text}.journal.json")).unwrap();
    let outcomes: Vec<String> = journal
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["outcome"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(outcomes, vec!["done", "done", "failed"]);
    // Again: the first rule is not created twice; the failing step is tried again.
    let again = apply();
    assert_eq!(again.code, 1, "{}", again.text());
    assert!(
        again.stderr.contains("2 step(s) done before it"),
        "{}",
        again.stderr
    );
    let sales = block(sim.get_json("/api/v1/groups/rules?limit=200"))
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["name"] == "Sales - auto")
        .count();
    assert_eq!(sales, 1);
}

#[test]
fn a_deleted_brand_is_restored_with_the_theme_okta_makes_for_it() {
    let sim = Sim::start_unlimited("small");
    let (_tmp, dir) = init(&sim);
    let env = basic(&sim);
    let first = backup(&dir, &[], &env);
    assert_eq!(first.code, 0, "{}", first.text());
    let brand = find(&sim, "/api/v1/brands", "/name", "Partner Portal");
    let brand_id = brand["id"].as_str().unwrap().to_string();
    block(async {
        assert!(
            sim.delete(&format!("/api/v1/brands/{brand_id}"))
                .await
                .status()
                .is_success()
        );
    });
    let plan_file = dir.join("brand.json");
    let plan_text = plan_file.to_string_lossy().to_string();
    let made = plan(
        &dir,
        &[
            "--ref",
            "main",
            "--out",
            &plan_text,
            "--",
            "okta/brands/Partner Portal.json",
            "okta/brands/Partner Portal/theme.json",
        ],
        &env,
        false,
    );
    // butterfly.toml's default scopes do not manage brands: the plan names the scope to grant.
    assert_eq!(made.code, 1, "{}", made.text());
    assert!(
        made.stdout
            .contains("the token lacks the scope okta.brands.manage"),
        "{}",
        made.stdout
    );
    let config = dir.join("butterfly.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replacen("scopes = [", "scopes = [\n  \"okta.brands.manage\",", 1),
    )
    .unwrap();
    crate::support::cli::git(
        &dir,
        &[
            "-c",
            "user.name=Admin",
            "-c",
            "user.email=admin@example.com",
            "commit",
            "-qam",
            "Manage brands",
        ],
    );
    let made = plan(
        &dir,
        &[
            "--ref",
            "main",
            "--out",
            &plan_text,
            "--",
            "okta/brands/Partner Portal.json",
            "okta/brands/Partner Portal/theme.json",
        ],
        &env,
        false,
    );
    assert_eq!(made.code, 0, "{}", made.text());
    assert!(
        made.stdout.contains("once its parent exists"),
        "{}",
        made.stdout
    );
    let applied = run("apply", &dir, &[&plan_text, "--yes"], &env, false);
    assert_eq!(applied.code, 0, "{}", applied.text());
    let restored = find(&sim, "/api/v1/brands", "/name", "Partner Portal");
    let themes = block(sim.get_json(&format!(
        "/api/v1/brands/{}/themes",
        restored["id"].as_str().unwrap()
    )));
    assert_eq!(themes[0]["primaryColorHex"], "#0b7a3e", "{themes}");
    assert_eq!(
        themes[0]["endUserDashboardTouchPointVariant"],
        "WHITE_LOGO_BACKGROUND"
    );
}

#[test]
fn a_plan_can_target_another_org_matching_by_name_and_rewriting_ids() {
    // Org A is `small`; org B is the same org with every id new (a standby, a staging org).
    let a = Sim::start_unlimited("small");
    let (_tmp_a, dir_a) = init(&a);
    let first = backup(&dir_a, &[], &basic(&a));
    assert_eq!(first.code, 0, "{}", first.text());
    let b = Sim::start_named("small", &["--fresh-ids"]);
    let (_tmp_b, dir_b) = init(&b);
    let env_b = basic(&b);
    let target = dir_b.to_string_lossy().to_string();
    // A group rule as A has it, planned against B: matched by name, its group's id rewritten
    // to B's: nothing to do.
    let rule = "okta/group-rules/Sales - auto.json";
    let same = plan(
        &dir_a,
        &[
            "--ref", "main", "--target", &target, "--format", "json", "--", rule,
        ],
        &env_b,
        false,
    );
    assert_eq!(same.code, 0, "{}", same.text());
    let same = same.json();
    assert!(
        same["org"]
            .as_str()
            .unwrap()
            .contains(b.url.trim_start_matches("http://")),
        "{same:#}"
    );
    assert_eq!(same["actions"], json!([]), "{same:#}");
    // Deleted in B: created there from A's file, pointing at B's group.
    delete_group_rule(&b, "Sales - auto", false);
    let create = plan(
        &dir_a,
        &[
            "--ref", "main", "--target", &target, "--format", "json", "--", rule,
        ],
        &env_b,
        false,
    );
    assert_eq!(create.code, 0, "{}", create.text());
    let create = create.json();
    assert_eq!(create["actions"][0]["op"], "create", "{create:#}");
    let b_group = find(&b, "/api/v1/groups?limit=200", "/profile/name", "Sales")["id"].clone();
    assert_ne!(b_group, json!("00g1smgdept010000000"));
    assert_eq!(
        create["actions"][0]["body"]["actions"]["assignUserToGroups"]["groupIds"],
        json!([b_group])
    );
}
