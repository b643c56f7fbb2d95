//! `butterfly check` and `butterfly rules` as a user runs them: the real binary on an org
//! repository backed up from the simulator's `small` fixture, whose deliberate weak spots
//! (fixtures/orgs/small/README.md) the rules must find, each at its file and field; the JSON
//! shape; `--fail-on` and the exit codes; determinism under `--as-of`; `not_evaluated` when a
//! kind was not backed up, saying why; `rules lint`, `rules show`, `rules list`; SARIF validated
//! against the SARIF 2.1.0 schema with each result at its field's line and column; JUnit parsed
//! back; Markdown within a comment's size; `--baseline` over two snapshots; waivers.

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
    // The only critical rule (Admin Console MFA) fails on `small`: its catch-all rule lets
    // anyone in with one factor.
    let critical = report(&["--fail-on", "critical"], 2);
    assert_eq!(critical["gate"], "fail");
    assert_eq!(rule(&critical, "OKTA-MFA-001")["status"], "fail");
    // Against a baseline of the same snapshot nothing is new: the gate passes.
    let unchanged = report(&["--fail-on", "critical", "--baseline", "main"], 0);
    assert_eq!(unchanged["gate"], "pass");
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
    // The baseline is incomplete: OKTA-CHG-001 says which kind is missing.
    let change = rule(&report, "OKTA-CHG-001");
    assert_eq!(change["status"], "fail", "{change:#}");
    let message = change["findings"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("could not read [\"authenticator\"]"),
        "{message}"
    );
}

#[test]
fn the_snapshots_age_at_as_of_decides_okta_chg_001() {
    // Checked at its own time, the snapshot is fresh and complete.
    let fresh = report(&[], 2);
    assert_eq!(rule(&fresh, "OKTA-CHG-001")["status"], "pass");
    // Two days later (a scheduled `check --as-of`), it is stale.
    let taken: chrono::DateTime<chrono::Utc> =
        fresh["revision"]["time"].as_str().unwrap().parse().unwrap();
    let later = (taken + chrono::Duration::hours(48)).to_rfc3339();
    let stale = report(&["--as-of", &later], 2);
    let change = rule(&stale, "OKTA-CHG-001");
    assert_eq!(change["status"], "fail", "{change:#}");
    let message = change["findings"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("The snapshot was taken 48 hours before"),
        "{message}"
    );
}

/// `check --format <format> <args>` in `dir`.
fn check_as(dir: &Path, format: &str, args: &[&str]) -> Run {
    let mut all = vec!["check", "--format", format];
    all.extend_from_slice(args);
    butterfly(dir, &all, &Env::new())
}

fn sarif_schema() -> Value {
    let path = crate::support::root().join("tests/it/sarif/sarif-schema-2.1.0.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The line and column (1-based) where `needle` ends on the first line holding it.
fn after(text: &str, needle: &str) -> (u64, u64) {
    let (index, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle} in the file"));
    let column = line.find(needle).unwrap() + needle.chars().count() + 1;
    (index as u64 + 1, column as u64)
}

#[test]
fn sarif_is_valid_against_the_schema_and_points_at_the_failing_field() {
    let run = check_as(&org().dir, "sarif", &[]);
    assert_eq!(run.code, 2, "{}", run.text());
    let log: Value = run.json();
    let schema = sarif_schema();
    let errors = crate::support::json_schema::validate(&schema, &log);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    // The validator is not vacuous: a broken log fails it.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = Value::from("fatal");
    broken["runs"][0]["tool"]["driver"]["colour"] = Value::from(1);
    broken["runs"][0]["tool"]["driver"]
        .as_object_mut()
        .unwrap()
        .remove("name");
    let errors = crate::support::json_schema::validate(&schema, &broken);
    assert_eq!(errors.len(), 3, "{errors:#?}");

    assert_eq!(log["version"], "2.1.0");
    let run0 = &log["runs"][0];
    let driver = &run0["tool"]["driver"];
    assert_eq!(driver["name"], "butterfly");
    let json = report(&[], 2);
    let rules = driver["rules"].as_array().unwrap();
    assert_eq!(rules.len(), json["rules"].as_array().unwrap().len());
    for rule in rules {
        for field in ["shortDescription", "fullDescription", "help"] {
            assert!(
                !rule[field]["text"].as_str().unwrap().is_empty(),
                "{rule:#}"
            );
        }
        let score: f64 = rule["properties"]["security-severity"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((0.1..=10.0).contains(&score), "{rule:#}");
        assert!(
            rule["help"]["text"]
                .as_str()
                .unwrap()
                .contains("Remediation: ")
        );
    }
    let pwd = rules
        .iter()
        .position(|r| r["id"] == "OKTA-PWD-008")
        .unwrap();
    assert_eq!(rules[pwd]["properties"]["security-severity"], "8.0");
    assert_eq!(rules[pwd]["defaultConfiguration"]["level"], "error");
    let results = run0["results"].as_array().unwrap();
    let result = results
        .iter()
        .find(|r| r["ruleId"] == "OKTA-PWD-008")
        .expect("a result for OKTA-PWD-008");
    assert_eq!(result["ruleIndex"], pwd);
    assert_eq!(result["level"], "error");
    assert_eq!(
        result["message"]["text"],
        "Password policy 'Default Policy' never locks accounts; the baseline profile allows at most 10."
    );
    let location = &result["locations"][0]["physicalLocation"];
    assert_eq!(
        location["artifactLocation"]["uri"],
        "okta/policies/PASSWORD/Default%20Policy.json"
    );
    // The region is the value of settings.password.lockout.maxAttempts in the file.
    let text =
        std::fs::read_to_string(org().dir.join("okta/policies/PASSWORD/Default Policy.json"))
            .unwrap();
    let (line, column) = after(&text, "\"maxAttempts\": ");
    assert_eq!(location["region"]["startLine"], line, "{location:#}");
    assert_eq!(location["region"]["startColumn"], column, "{location:#}");
    // A relationship member's field: the element's own line.
    let adm = results
        .iter()
        .find(|r| r["ruleId"] == "OKTA-ADM-006")
        .unwrap();
    assert_eq!(adm["properties"]["pointer"], "/0/type");
    let text = std::fs::read_to_string(org().dir.join("okta/apps/Data Pipeline/admin-roles.json"))
        .unwrap();
    let (line, _) = after(&text, "\"type\": \"SUPER_ADMIN\"");
    assert_eq!(
        adm["locations"][0]["physicalLocation"]["region"]["startLine"],
        line
    );
    // Every failure is a result, and fingerprints are unique and stable across runs.
    let failures: u64 = json["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["results"]["fail"].as_u64().unwrap() + r["results"]["error"].as_u64().unwrap())
        .sum();
    assert_eq!(results.len() as u64, failures);
    let prints: std::collections::BTreeSet<&str> = results
        .iter()
        .map(|r| {
            r["partialFingerprints"]["primaryLocationLineHash"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(prints.len(), results.len());
    let again = check_as(&org().dir, "sarif", &["--as-of", "2030-01-01"]).json();
    let prints_again: std::collections::BTreeSet<&str> = again["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["partialFingerprints"]["primaryLocationLineHash"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert!(prints.is_subset(&prints_again));
}

/// A small XML well-formedness check: tags nest and close, attributes are quoted, entities are
/// known; returns the elements as (name, attributes) in document order.
fn parse_xml(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    fn unescape(text: &str) -> String {
        assert!(!text.contains('<'), "a raw < in {text}");
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find('&') {
            out.push_str(&rest[..i]);
            let end = rest[i..].find(';').expect("an unterminated entity") + i;
            let entity = &rest[i + 1..end];
            out.push(match entity {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                e if e.starts_with('#') => char::from_u32(e[1..].parse().unwrap()).unwrap(),
                e => panic!("unknown entity &{e};"),
            });
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }
    let body = text
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .expect("an XML declaration");
    let mut elements = Vec::new();
    let mut open: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find('<') {
        unescape(&rest[..start]);
        let end = rest[start..].find('>').unwrap() + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop().as_deref(), Some(name), "mismatched </{name}>");
            continue;
        }
        let closed = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, mut attrs_text) = tag.split_once(' ').unwrap_or((tag, ""));
        let mut attrs = Vec::new();
        loop {
            attrs_text = attrs_text.trim_start();
            if attrs_text.is_empty() {
                break;
            }
            let (key, after) = attrs_text.split_once("=\"").expect("a quoted attribute");
            let value_end = after.find('"').unwrap();
            attrs.push((key.to_string(), unescape(&after[..value_end])));
            attrs_text = &after[value_end + 1..];
        }
        elements.push((name.to_string(), attrs));
        if !closed {
            open.push(name.to_string());
        }
    }
    assert!(open.is_empty(), "unclosed {open:?}");
    assert!(rest.trim().is_empty());
    elements
}

fn attr<'a>(element: &'a (String, Vec<(String, String)>), name: &str) -> &'a str {
    element
        .1
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} on {element:?}"))
}

#[test]
fn junit_has_a_suite_per_family_and_a_case_per_rule_and_resource() {
    let run = check_as(&org().dir, "junit", &[]);
    assert_eq!(run.code, 2, "{}", run.text());
    let elements = parse_xml(&run.stdout);
    let json = report(&[], 2);
    let sum = |status: &str| -> u64 {
        json["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["results"][status].as_u64().unwrap())
            .sum()
    };
    let count = |name: &str| elements.iter().filter(|(n, _)| n == name).count() as u64;
    assert_eq!(count("failure"), sum("fail"));
    assert_eq!(count("error"), sum("error"));
    let root = &elements[0];
    assert_eq!(root.0, "testsuites");
    assert_eq!(attr(root, "failures"), sum("fail").to_string());
    assert_eq!(attr(root, "tests"), count("testcase").to_string());
    let families: std::collections::BTreeSet<&str> = json["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["family"].as_str().unwrap())
        .collect();
    assert_eq!(count("testsuite") as usize, families.len());
    // The failure names the rule, the file and the field, with the message; names with
    // non-ASCII characters and quotes survive escaping.
    let index = elements
        .iter()
        .position(|(n, a)| {
            n == "testcase"
                && a.iter().any(|(k, v)| {
                    k == "name"
                        && v == "OKTA-SES-001 okta/policies/OKTA_SIGN_ON/Contractors/rules/Contractors – remember device.json"
                })
        })
        .expect("a testcase for OKTA-SES-001 at the Contractors rule");
    let failure = &elements[index + 1];
    assert_eq!(failure.0, "failure");
    assert!(!attr(failure, "message").is_empty());
    let case = &elements[index];
    assert_eq!(attr(case, "classname"), "butterfly.session.OKTA-SES-001");
    let body_start = run
        .stdout
        .find("Contractors – remember device.json&#10;")
        .unwrap();
    assert!(
        run.stdout[body_start..].contains("actions.signon.session.maxSessionIdleMinutes = 480"),
        "the failure's body names the field and its value"
    );
}

#[test]
fn markdown_fits_a_comment_with_the_summary_first() {
    let run = check_as(&org().dir, "markdown", &[]);
    assert_eq!(run.code, 2, "{}", run.text());
    let text = run.stdout;
    assert!(text.chars().count() <= 65_536, "{}", text.chars().count());
    assert!(
        text.starts_with("## Butterfly compliance: main ("),
        "{text}"
    );
    let table = text.find("| severity | fail |").unwrap();
    let details = text.find("<details>").unwrap();
    assert!(table < details);
    for severity in ["critical", "high", "medium", "low"] {
        assert!(text.contains(&format!("\n| {severity} | ")), "{severity}");
    }
    assert!(text.contains("<b>OKTA-PWD-008</b>"), "{text}");
    assert!(text.contains("<code>okta/policies/PASSWORD/Default Policy.json</code>"));
    assert_eq!(
        text.matches("<details>").count(),
        text.matches("</details>").count()
    );
}

/// Commits the working tree of `dir` as a new commit.
fn commit_all(dir: &Path, message: &str) {
    git(dir, &["add", "-A"]);
    git(
        dir,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@x",
            "commit",
            "-q",
            "-m",
            message,
        ],
    );
}

fn edit(dir: &Path, path: &str, from: &str, to: &str) {
    let file = dir.join(path);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(from), "{path}: no {from}");
    std::fs::write(&file, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn baseline_reports_only_what_is_new_since_a_revision() {
    let (_tmp, dir) = copy_of_org();
    // One weak spot fixed, one introduced.
    edit(
        &dir,
        "okta/policies/PASSWORD/Default Policy.json",
        "\"maxAttempts\": 0",
        "\"maxAttempts\": 5",
    );
    edit(
        &dir,
        "okta/apps/Handbook.json",
        "\"selfService\": false",
        "\"selfService\": true",
    );
    commit_all(&dir, "a change under review");
    // The new failure is low: it gates only under --fail-on low.
    let run = check_in(&dir, &["--ref", "HEAD", "--baseline", "HEAD~1"]);
    assert_eq!(run.code, 0, "{}", run.text());
    let run = check_in(
        &dir,
        &["--ref", "HEAD", "--baseline", "HEAD~1", "--fail-on", "low"],
    );
    assert_eq!(run.code, 2, "{}", run.text());
    let report = run.json();
    assert_eq!(report["baseline"]["revision"]["rev"], "HEAD~1");
    assert!(
        report["baseline"]["known"].as_u64().unwrap() > 10,
        "{:#}",
        report["baseline"]
    );
    // Fixed: nothing new fails.
    assert_eq!(rule(&report, "OKTA-PWD-008")["status"], "pass");
    // Introduced: only the new file fails, not IT Help Center, which failed before too.
    let app = rule(&report, "OKTA-APP-002");
    assert_eq!(app["status"], "fail");
    let failing: Vec<&str> = app["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "fail")
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(failing, vec!["okta/apps/Handbook.json"]);
    // Every fail in the report is new.
    let fails: u64 = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["results"]["fail"].as_u64().unwrap())
        .sum();
    assert_eq!(fails, 1, "{:#}", report["counts"]);
    // SARIF and text honour it too.
    let sarif = check_as(&dir, "sarif", &["--ref", "HEAD", "--baseline", "HEAD~1"]).json();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{results:#?}");
    assert_eq!(results[0]["ruleId"], "OKTA-APP-002");
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "okta/apps/Handbook.json"
    );
    let text = check_as(&dir, "text", &["--ref", "HEAD", "--baseline", "HEAD~1"]).stdout;
    assert!(text.contains("only findings new since HEAD~1"), "{text}");
    assert!(
        text.contains("OKTA-APP-002") && !text.contains("FAIL  OKTA-PWD-008"),
        "{text}"
    );
    // Against itself, nothing is new: exit 0.
    let same = check_in(
        &dir,
        &["--ref", "HEAD", "--baseline", "HEAD", "--fail-on", "low"],
    );
    assert_eq!(same.code, 0, "{}", same.text());
    // An unknown baseline is a usage error naming it.
    let bad = check_in(&dir, &["--baseline", "no-such-rev"]);
    assert_eq!(bad.code, 3, "{}", bad.text());
    assert!(bad.text().contains("no-such-rev"), "{}", bad.text());
}

#[test]
fn waivers_waive_until_they_expire_and_unknown_rules_are_refused() {
    let (_tmp, dir) = copy_of_org();
    let config = dir.join("butterfly.toml");
    let base = std::fs::read_to_string(&config).unwrap();
    let waivers = "\n[[compliance.waivers]]\nrule = \"OKTA-APP-002\"\npath = \"okta/apps/IT Help Center.json\"\nreason = \"Help desk <requests> & \\\"approvals\\\"\"\napprover = \"ciso@small.example\"\nexpires = 2099-12-31\n\n[[compliance.waivers]]\nrule = \"OKTA-APP-001\"\npath = \"okta/apps/Vendor Portal.json\"\nreason = \"vendor migrates\"\napprover = \"cio@small.example\"\nexpires = 2020-01-01\n";
    std::fs::write(&config, format!("{base}{waivers}")).unwrap();
    let report = check_in(&dir, &[]).json();
    let app = rule(&report, "OKTA-APP-002");
    assert_eq!(app["status"], "waived", "{app:#}");
    assert_eq!(app["results"]["waived"], 1);
    let waived = &app["findings"][0];
    assert_eq!(waived["status"], "waived");
    assert_eq!(waived["waiver"]["approver"], "ciso@small.example");
    assert_eq!(
        waived["waiver"]["reason"],
        "Help desk <requests> & \"approvals\""
    );
    assert_eq!(report["counts"]["waived"], 1);
    // The expired one fails again and says when it expired.
    let vendor = rule(&report, "OKTA-APP-001")["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == "okta/apps/Vendor Portal.json")
        .unwrap()
        .clone();
    assert_eq!(vendor["status"], "fail");
    assert!(
        vendor["message"]
            .as_str()
            .unwrap()
            .ends_with("(the waiver approved by cio@small.example expired on 2020-01-01)"),
        "{vendor:#}"
    );
    assert_eq!(vendor["waiver"]["expired"], true);
    // Text, JUnit, Markdown and SARIF show the waiver or leave it out.
    let text = check_as(&dir, "text", &[]).stdout;
    assert!(
        text.contains("WAIVED\n  OKTA-APP-002  okta/apps/IT Help Center.json"),
        "{text}"
    );
    assert!(
        text.contains("(approved by ciso@small.example, until 2099-12-31)"),
        "{text}"
    );
    let junit = check_as(&dir, "junit", &[]).stdout;
    let elements = parse_xml(&junit);
    assert!(elements.iter().any(|e| e.0 == "skipped"
        && attr(e, "message").starts_with("waived: Help desk <requests> & \"approvals\"")));
    let markdown = check_as(&dir, "markdown", &[]).stdout;
    assert!(markdown.contains("1 waived finding"), "{markdown}");
    assert!(
        markdown.contains("Help desk &lt;requests&gt; &amp; \"approvals\""),
        "{markdown}"
    );
    let sarif = check_as(&dir, "sarif", &[]).json();
    assert!(
        !sarif["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["ruleId"] == "OKTA-APP-002")
    );
    // A waiver of a rule that does not exist: a configuration error naming the line.
    let line = base.lines().count() + 3;
    std::fs::write(
        &config,
        format!("{base}{}", waivers.replace("OKTA-APP-002", "OKTA-APP-999")),
    )
    .unwrap();
    let bad = check_in(&dir, &[]);
    assert_eq!(bad.code, 3, "{}", bad.text());
    assert!(
        bad.text().contains(&format!(
            "compliance.waivers: line {line}: rule \"OKTA-APP-999\" is not a rule"
        )),
        "{}",
        bad.text()
    );
}

/// A backup of `small-hardened` (not its fixture folder) passes every rule: what the rules read
/// is what a backup keeps, USER_LIFECYCLE policies included.
#[test]
fn a_backup_of_small_hardened_passes_every_rule() {
    let sim = Sim::start_unlimited("small-hardened");
    let (_tmp, dir) = init(&sim);
    let first = backup(&dir, &[], &basic(&sim));
    assert_eq!(first.code, 0, "{}", first.text());
    // The fixture's dated facts (activity, secret ages) are set relative to 2026-06-01.
    let run = butterfly(
        &dir,
        &[
            "check",
            "--profile",
            "stig",
            "--as-of",
            "2026-06-01T00:00:00Z",
            "--format",
            "json",
        ],
        &Env::new(),
    );
    let report = run.json();
    let failing: Vec<String> = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !matches!(r["status"].as_str(), Some("pass" | "not_applicable")))
        .map(|r| format!("{} {}", r["id"], r["status"]))
        .collect();
    assert!(failing.is_empty(), "{failing:?}\n{}", run.stderr);
    assert_eq!(run.code, 0, "{}", run.text());
}
