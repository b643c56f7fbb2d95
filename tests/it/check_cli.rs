//! `butterfly check` and `butterfly rules` as a user runs them: the real binary on an org
//! repository backed up from the simulator's `small` fixture, whose deliberate weak spots
//! (fixtures/orgs/small/README.md) the rules must find, each at its file and field; the JSON
//! shape; `--fail-on` and the exit codes; determinism under `--as-of`; `not_evaluated` when a
//! kind was not backed up, saying why; `rules lint`, `rules show`, `rules list`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use crate::support::cli::{Env, Run, backup, basic, butterfly, git, init};
use crate::support::sim::Sim;

/// An org repository with one snapshot of `small`.
struct Org {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

fn org() -> &'static Org {
    static ONCE: OnceLock<Org> = OnceLock::new();
    ONCE.get_or_init(|| {
        let sim = Sim::start_unlimited("small");
        let (tmp, dir) = init(&sim);
        let first = backup(&dir, &[], &basic(&sim));
        assert_eq!(first.code, 0, "{}", first.text());
        Org { _tmp: tmp, dir }
    })
}

fn check(args: &[&str]) -> Run {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    butterfly(&org().dir, &all, &Env::new())
}

/// `butterfly rules <args>`: no repository needed.
fn rules(args: &[&str]) -> Run {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_butterfly"))
        .arg("rules")
        .args(args)
        .output()
        .expect("run butterfly rules");
    Run::from(out)
}

/// The JSON report of `check --format json <args>`; it must exit `code`.
fn report(args: &[&str], code: i32) -> Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let run = check(&all);
    assert_eq!(run.code, code, "{}", run.text());
    run.json()
}

fn rule<'r>(report: &'r Value, id: &str) -> &'r Value {
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no rule {id} in the report"))
}

/// Asserts that `id` fails at `file` with the field `field` holding `value`.
fn fails_at(report: &Value, id: &str, file: &str, field: &str, value: Value) {
    let rule = rule(report, id);
    assert_eq!(rule["status"], "fail", "{id}: {rule:#}");
    let finding = rule["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["status"] == "fail" && f["file"] == format!("okta/{file}"))
        .unwrap_or_else(|| panic!("{id} does not fail at okta/{file}: {rule:#}"));
    let evidence = finding["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == field)
        .unwrap_or_else(|| panic!("{id} at {file}: no evidence for {field}: {finding:#}"));
    assert_eq!(evidence["value"], value, "{id} at {file}: {evidence:#}");
    assert!(
        !finding["message"].as_str().unwrap().is_empty(),
        "{finding:#}"
    );
}

#[test]
fn check_finds_the_weak_spots_of_small_at_their_files_and_fields() {
    let report = report(&[], 2);
    fails_at(
        &report,
        "OKTA-PWD-008",
        "policies/PASSWORD/Default Policy.json",
        "settings.password.lockout.maxAttempts",
        Value::from(0),
    );
    fails_at(
        &report,
        "OKTA-PWD-001",
        "policies/PASSWORD/Default Policy.json",
        "settings.password.complexity.minLength",
        Value::from(8),
    );
    fails_at(
        &report,
        "OKTA-SES-001",
        "policies/OKTA_SIGN_ON/Contractors/rules/Contractors – remember device.json",
        "actions.signon.session.maxSessionIdleMinutes",
        Value::from(480),
    );
    fails_at(
        &report,
        "OKTA-SES-006",
        "org/admin-console-settings.json",
        "sessionIdleTimeoutMinutes",
        Value::from(60),
    );
    fails_at(
        &report,
        "OKTA-MFA-003",
        "policies/ACCESS_POLICY/Okta Dashboard/rules/Catch-all Rule.json",
        "actions.appSignOn.verificationMethod.factorMode",
        Value::from("1FA"),
    );
    fails_at(
        &report,
        "OKTA-MFA-008",
        "authenticators/phone_number/Phone.json",
        "settings.allowedFor",
        Value::from("any"),
    );
    fails_at(
        &report,
        "OKTA-ADM-006",
        "apps/Data Pipeline/admin-roles.json",
        "type",
        Value::from("SUPER_ADMIN"),
    );
    fails_at(
        &report,
        "OKTA-ADM-008",
        "group-rules/IT admins by title.json",
        "actions.assignUserToGroups.groupIds",
        serde_json::json!(["00g1smgitadmins00000"]),
    );
    fails_at(
        &report,
        "OKTA-TOK-001",
        "api-tokens/Legacy sync-00T1smlegacy00000000.json",
        "network.connection",
        Value::from("ANYWHERE"),
    );
    fails_at(
        &report,
        "OKTA-APP-002",
        "apps/IT Help Center.json",
        "accessibility.selfService",
        Value::from(true),
    );
    // A relationship member points at its element.
    let adm = rule(&report, "OKTA-ADM-006");
    assert_eq!(adm["findings"][0]["pointer"], "/0");
    assert_eq!(adm["findings"][0]["evidence"][0]["pointer"], "/0/type");
    // The message names the resource and the limit.
    let pwd = rule(&report, "OKTA-PWD-008");
    assert_eq!(
        pwd["findings"][0]["message"],
        "Password policy 'Default Policy' never locks accounts; the baseline profile allows at most 10."
    );
    // Nothing errs or goes unevaluated on a complete backup.
    assert_eq!(report["counts"]["error"], 0, "{:#}", report["counts"]);
    assert_eq!(
        report["counts"]["not_evaluated"], 0,
        "{:#}",
        report["counts"]
    );
}

#[test]
fn the_json_report_has_its_documented_shape() {
    let report = report(&[], 2);
    assert_eq!(report["version"], 1);
    assert_eq!(report["profile"], "baseline");
    assert_eq!(report["fail_on"], "high");
    assert_eq!(report["gate"], "fail");
    assert_eq!(report["framework"], Value::Null);
    assert_eq!(report["revision"]["rev"], "main");
    let commit = report["revision"]["commit"].as_str().unwrap();
    assert_eq!(commit.len(), 40);
    // `now` is the snapshot's commit time.
    assert_eq!(report["now"], report["revision"]["time"]);
    let rules = report["rules"].as_array().unwrap();
    assert!(rules.len() >= 50, "{}", rules.len());
    let counted: u64 = report["counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(counted, rules.len() as u64);
    let mut ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let sorted = {
        let mut s = ids.clone();
        s.sort();
        s
    };
    assert_eq!(ids, sorted, "rules are sorted by id");
    ids.dedup();
    assert_eq!(ids.len(), rules.len());
    for rule in rules {
        for key in [
            "id",
            "title",
            "family",
            "severity",
            "kind",
            "status",
            "remediation",
        ] {
            assert!(rule[key].is_string(), "{key}: {rule:#}");
        }
        let controls = rule["controls"].as_object().unwrap();
        assert_eq!(
            controls.keys().collect::<Vec<_>>(),
            [
                "cis",
                "hipaa",
                "iso-27001",
                "nist-800-53",
                "pci-dss",
                "soc2"
            ]
        );
        for status in ["pass", "fail", "error", "not_evaluated", "not_applicable"] {
            assert!(rule["results"][status].is_u64(), "{rule:#}");
        }
        // Passing results are counted, not listed.
        for finding in rule["findings"].as_array().unwrap() {
            assert_ne!(finding["status"], "pass");
        }
    }
}

#[test]
fn fail_on_decides_the_exit_code() {
    // The only critical rule (Admin Console MFA) passes on `small`.
    let critical = report(&["--fail-on", "critical"], 0);
    assert_eq!(critical["gate"], "pass");
    assert_eq!(rule(&critical, "OKTA-MFA-001")["status"], "pass");
    let run = check(&["--fail-on", "low"]);
    assert_eq!(run.code, 2, "{}", run.text());
    // --severity narrows the rules run.
    let high = report(&["--severity", "high"], 2);
    for rule in high["rules"].as_array().unwrap() {
        assert!(
            ["high", "critical"].contains(&rule["severity"].as_str().unwrap()),
            "{rule:#}"
        );
    }
}

#[test]
fn text_is_grouped_by_severity_with_file_and_field() {
    let run = check(&[]);
    assert_eq!(run.code, 2, "{}", run.text());
    let text = &run.stdout;
    let high = text.find("\nHIGH\n").expect("a HIGH section");
    let medium = text.find("\nMEDIUM\n").expect("a MEDIUM section");
    let low = text.find("\nLOW\n").expect("a LOW section");
    assert!(high < medium && medium < low, "{text}");
    let lockout = text.find("FAIL  OKTA-PWD-008").expect("PWD-008 listed");
    assert!(high < lockout && lockout < medium, "PWD-008 is high");
    assert!(text.contains("okta/policies/PASSWORD/Default Policy.json\n"));
    assert!(text.contains("settings.password.lockout.maxAttempts = 0\n"));
    assert!(text.contains("fix: Security > Authenticators > Password"));
    assert!(text.contains("NOT APPLICABLE\n"));
    assert!(text.contains("turned off in the `baseline` profile"));
    assert!(text.starts_with("Compliance check of main ("), "{text}");
}

#[test]
fn profile_and_framework_change_limits_and_controls() {
    let stig = report(&["--profile", "stig"], 2);
    let messages: Vec<&str> = rule(&stig, "OKTA-PWD-008")["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.contains(&"Password policy 'Default Policy' never locks accounts; the stig profile allows at most 3.")
            && messages.contains(&"Password policy 'Administrators' locks after 5 attempts; the stig profile allows at most 3."),
        "{messages:?}"
    );
    // STIG-only rules run under stig.
    assert_eq!(rule(&stig, "OKTA-MFA-016")["status"], "fail");
    let pci = report(&["--framework", "pci-dss"], 2);
    for rule in pci["rules"].as_array().unwrap() {
        let controls = rule["controls"].as_object().unwrap();
        assert_eq!(controls.keys().collect::<Vec<_>>(), ["pci-dss"]);
        assert!(!controls["pci-dss"].as_array().unwrap().is_empty());
    }
    assert_eq!(
        rule(&pci, "OKTA-PWD-008")["controls"]["pci-dss"][0],
        "8.3.4"
    );
    let text = check(&["--framework", "pci-dss"]);
    assert!(text.stdout.contains("pci-dss: 8.3.4"), "{}", text.stdout);
}

#[test]
fn the_same_tree_and_time_give_the_same_bytes() {
    let first = check(&["--format", "json", "--as-of", "2030-01-01T00:00:00Z"]);
    let second = check(&["--format", "json", "--as-of", "2030-01-01T00:00:00Z"]);
    assert_eq!(first.code, 2);
    assert_eq!(first.stdout, second.stdout);
    assert!(first.stdout.contains("\"now\": \"2030-01-01T00:00:00Z\""));
    let text = check(&["--as-of", "2030-01-01"]);
    assert_eq!(text.stdout, check(&["--as-of", "2030-01-01"]).stdout);
}

#[test]
fn usage_errors_exit_3() {
    for args in [
        vec!["--framework", "fedramp"],
        vec!["--profile", "strict"],
        vec!["--fail-on", "urgent"],
        vec!["--as-of", "yesterday"],
        vec!["--ref", "no-such-branch"],
    ] {
        let run = check(&args);
        assert_eq!(run.code, 3, "{args:?}: {}", run.text());
        assert!(!run.stderr.is_empty(), "{args:?}");
    }
    let run = check(&["--framework", "fedramp"]);
    assert!(
        run.stderr.contains("soc2"),
        "names the frameworks: {}",
        run.stderr
    );
    let run = rules(&["show", "OKTA-NOPE-001"]);
    assert_eq!(run.code, 3, "{}", run.text());
    assert!(
        run.stderr.contains("`OKTA-NOPE-001` is not a rule"),
        "{}",
        run.stderr
    );
}

#[test]
fn rules_lint_show_and_list() {
    let lint = rules(&["lint"]);
    assert_eq!(lint.code, 0, "{}", lint.text());
    assert!(
        lint.stdout
            .contains("every field they read is in Okta's schema")
    );
    let show = rules(&["show", "okta-pwd-008"]);
    assert_eq!(show.code, 0, "{}", show.text());
    for expected in [
        "OKTA-PWD-008  Password policies lock accounts",
        "severity high · kind policy · family password",
        "passes when: ((attempts >= 1) && (attempts <= params.lockout_max))",
        "evidence:    settings.password.lockout.maxAttempts",
        "stig      {\"lockout_max\":3}",
        "nist63b   {\"lockout_max\":100}",
        "pci-dss     8.3.4",
        "cis         not mapped",
        "stig        V-273189",
    ] {
        assert!(
            show.stdout.contains(expected),
            "{expected}:\n{}",
            show.stdout
        );
    }
    let json = rules(&["show", "OKTA-MFA-016", "--format", "json"]);
    assert_eq!(json.json()["params"]["baseline"], "off");
    let list = rules(&["list", "--framework", "hipaa", "--format", "json"]);
    let listed = list.json();
    let listed = listed["rules"].as_array().unwrap();
    assert!(!listed.is_empty());
    for rule in listed {
        assert!(!rule["controls"]["hipaa"].as_array().unwrap().is_empty());
    }
    let text = rules(&["list"]);
    assert!(text.stdout.contains("OKTA-ADM-001"), "{}", text.stdout);
}

/// A copy of the org repository, to change without disturbing the other tests.
fn copy_of_org() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::Builder::new()
        .prefix("bt-check-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().join("org");
    let status = std::process::Command::new("cp")
        .arg("-R")
        .arg(&org().dir)
        .arg(&dir)
        .status()
        .expect("run cp");
    assert!(status.success());
    (tmp, dir)
}

fn check_in(dir: &Path, args: &[&str]) -> Run {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    butterfly(dir, &all, &Env::new())
}

#[test]
fn a_kind_not_backed_up_is_not_evaluated_and_says_why() {
    let (_tmp, dir) = copy_of_org();
    // The working tree without authenticators: the tree simply has none.
    std::fs::remove_dir_all(dir.join("okta/authenticators")).unwrap();
    let run = check_in(&dir, &["--ref", "WORKTREE"]);
    assert_eq!(run.code, 2, "{}", run.text());
    let report = run.json();
    let phone = rule(&report, "OKTA-MFA-008");
    assert_eq!(phone["status"], "not_evaluated");
    let why = phone["findings"][0]["message"].as_str().unwrap();
    assert!(why.contains("no file of kind `authenticator`"), "{why}");
    // A snapshot whose backup could not read the kind names it in Incomplete-Kinds.
    git(&dir, &["rm", "-r", "-q", "--cached", "okta/authenticators"]);
    git(
        &dir,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@x",
            "commit",
            "-q",
            "-m",
            "Backup of x: 0 added, 0 changed, 17 removed\n\nNot read (their files are kept from the previous snapshot):\nauthenticator: 403 missing scope okta.authenticators.read\n\nBackup-Run: test\nIncomplete-Kinds: authenticator",
        ],
    );
    let report = check_in(&dir, &[]).json();
    let phone = rule(&report, "OKTA-MFA-008");
    assert_eq!(phone["status"], "not_evaluated");
    let why = phone["findings"][0]["message"].as_str().unwrap();
    assert!(
        why.contains("the backup could not read `authenticator`")
            && why.contains("missing scope okta.authenticators.read"),
        "{why}"
    );
    // Rules over other kinds still run.
    assert_eq!(rule(&report, "OKTA-PWD-008")["status"], "fail");
}
