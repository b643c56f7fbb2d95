//! Compliance checks over an org tree (DESIGN.md `compliance`): rules loaded from
//! `rules/okta/<family>/<ID>.toml` (embedded in the binary, each with its own test cases),
//! evaluated over the canonical files of a revision, mapped to six frameworks, rendered as text,
//! JSON, SARIF, JUnit XML and Markdown.
//!
//! - `expr`: the expression language (a CEL subset) and its parser;
//! - `interp`: evaluating an expression over JSON (values, built-ins, CEL's error rules);
//! - `rule`: the rule file format, loading and load-time checks;
//! - `tree`: the files of a revision as resources, with their kinds, parents and joins;
//! - `eval`: running rules over a tree into results;
//! - `lint`: every path a rule reads checked against Okta's schema (the catalogue);
//! - `waiver`: `butterfly.toml`'s waivers applied to failures;
//! - `baseline`: only the findings new since another revision;
//! - `location`: a JSON pointer's line and column in a file's text;
//! - `report`: a run's results as text and JSON; `sarif`, `junit`, `markdown`: the same for
//!   GitHub code scanning, CI test reports and pull-request comments; `pdf`: the Audit Pack.
//!
//! Pure: data in, data out. Reading a revision from git is `ops::check`'s job.

pub mod baseline;
pub mod eval;
pub mod expr;
pub mod interp;
pub mod junit;
pub mod lint;
pub mod location;
pub mod markdown;
pub mod pdf;
pub mod report;
pub mod rule;
pub mod sarif;
pub mod tree;
pub mod waiver;

use std::sync::OnceLock;

pub use eval::{Context, Coverage, Evidence, Finding, Outcome};
pub use rule::{Framework, Profile, Rule, Rules, RulesError, Scope, Severity, Status};
pub use tree::{Index, Tree};

use crate::catalogue::{Catalogue, LoadCatalogueError};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));
}

/// Why the embedded rules cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadRulesError {
    #[error("{0}")]
    Catalogue(&'static LoadCatalogueError),
    #[error(transparent)]
    Rules(#[from] RulesError),
}

/// The rule files embedded in this binary, as `(path, text)`.
pub fn embedded_files() -> Vec<(String, String)> {
    embedded::FILES
        .iter()
        .filter(|(path, _)| path.starts_with("rules/okta/") && path.ends_with(".toml"))
        .map(|(path, text)| (path.to_string(), text.to_string()))
        .collect()
}

/// The Okta rules embedded in this binary, loaded and checked once.
pub fn okta_rules() -> Result<&'static Rules, &'static LoadRulesError> {
    static RULES: OnceLock<Result<Rules, LoadRulesError>> = OnceLock::new();
    RULES
        .get_or_init(|| {
            let catalogue = Catalogue::okta().map_err(LoadRulesError::Catalogue)?;
            Ok(Rules::from_files(catalogue, &embedded_files())?)
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn rules() -> &'static Rules {
        okta_rules().unwrap_or_else(|e| panic!("{e}"))
    }

    fn catalogue() -> &'static Catalogue {
        Catalogue::okta().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Every rule file's own test cases: a passing and a failing case at least (`rule` refuses
    /// a file without both).
    #[test]
    fn every_rule_passes_its_own_test_cases() {
        let mut failures = Vec::new();
        for rule in rules().all() {
            for test in &rule.tests {
                let outcome = eval::run_test(catalogue(), rule, test);
                if outcome.status != test.expect {
                    failures.push(format!(
                        "{}:{}: {} test `{}`: expected {}, got {}: {:?}",
                        rule.source,
                        test.line,
                        rule.id,
                        test.name,
                        test.expect,
                        outcome.status,
                        outcome
                            .findings
                            .iter()
                            .map(|f| format!("{} {}", f.status, f.message))
                            .collect::<Vec<_>>()
                    ));
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// `rules lint` over the embedded rules: every path they read is in Okta's schema.
    #[test]
    fn every_rule_reads_only_fields_of_its_kinds() {
        let problems = lint::lint(catalogue(), rules().all());
        assert!(
            problems.is_empty(),
            "{}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    /// The time the fixture checks run at: `small`'s and `small-hardened`'s dated facts (user
    /// activity, secret ages, pending and suspended users) are judged against it.
    pub(crate) const FIXTURE_NOW: &str = "2026-06-01T00:00:00Z";

    /// The outcome of every rule on a fixture folder (`fixtures/orgs/<name>`) under `profile`.
    fn fixture_outcomes(name: &str, profile: Profile) -> Vec<(String, Status, Vec<Finding>)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/orgs")
            .join(name);
        let fixture = crate::sim::FixtureTree::read_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        let files = fixture
            .files
            .iter()
            .map(|(path, text)| {
                let value =
                    serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}/{path}: {e}"));
                (path.clone(), value)
            })
            .collect();
        let tree = Tree::from_files(catalogue(), files);
        let index = Index::new(catalogue(), &tree);
        let context = Context {
            now: FIXTURE_NOW.parse().unwrap(),
            taken: Some(FIXTURE_NOW.parse().unwrap()),
            profile,
            coverage: Coverage::default(),
        };
        let all: Vec<&Rule> = rules().all().iter().collect();
        eval::evaluate(&all, &index, &context)
            .into_iter()
            .map(|o| (o.rule.id.clone(), o.status, o.findings))
            .collect()
    }

    fn small_outcomes(profile: Profile) -> Vec<(String, Status, Vec<Finding>)> {
        fixture_outcomes("small", profile)
    }

    /// Rules that judge the repository's backup record rather than the org's configuration:
    /// no fixture tree can fail or pass them on its own (their tests set the snapshot time).
    const ABOUT_THE_REPOSITORY: &[&str] = &["OKTA-CHG-001"];

    /// The done-when: on `small` and `small-hardened`, every rule fails on `small` and
    /// passes on `small-hardened`, under the baseline profile for the rules it runs and under
    /// stig (which runs every rule, with stricter limits); no result anywhere is `error` or
    /// `not_evaluated`.
    #[test]
    fn every_rule_fails_on_small_and_passes_on_small_hardened() {
        let mut wrong = Vec::new();
        for profile in [Profile::Baseline, Profile::Stig] {
            let small = fixture_outcomes("small", profile);
            let hardened = fixture_outcomes("small-hardened", profile);
            for ((id, weak, weak_findings), (_, strong, strong_findings)) in
                small.iter().zip(&hardened)
            {
                let rule = rules()
                    .get(id)
                    .unwrap_or_else(|| panic!("{id} is not a rule"));
                for (fixture, findings) in [
                    ("small", weak_findings),
                    ("small-hardened", strong_findings),
                ] {
                    for finding in findings {
                        if matches!(finding.status, Status::Error | Status::NotEvaluated) {
                            wrong.push(format!(
                                "{profile}: {id} on {fixture}: {} at {:?}: {}",
                                finding.status, finding.file, finding.message
                            ));
                        }
                    }
                }
                if !rule.enabled(profile) || ABOUT_THE_REPOSITORY.contains(&id.as_str()) {
                    continue;
                }
                if *weak != Status::Fail {
                    wrong.push(format!("{profile}: {id} on small: {weak}, expected fail"));
                }
                if *strong != Status::Pass {
                    wrong.push(format!(
                        "{profile}: {id} on small-hardened: {strong}, expected pass: {}",
                        strong_findings
                            .iter()
                            .filter(|f| f.status != Status::Pass)
                            .map(|f| format!(
                                "{} {}: {}",
                                f.status,
                                f.file.as_deref().unwrap_or("-"),
                                f.message
                            ))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ));
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "{} problems:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }

    /// fixtures/orgs/small/README.md's weak spots, under the stig profile (which runs every
    /// rule): each rule fails on `small` at the files the README names.
    #[test]
    fn the_small_fixtures_weak_spots_fail_at_their_files() {
        let outcomes = small_outcomes(Profile::Stig);
        let by_id: BTreeMap<&str, (&Status, &Vec<Finding>)> = outcomes
            .iter()
            .map(|(id, status, findings)| (id.as_str(), (status, findings)))
            .collect();
        for (id, file) in WEAK_SPOTS {
            let (_, findings) = by_id
                .get(id)
                .unwrap_or_else(|| panic!("{id} is not a rule"));
            assert!(
                findings.iter().any(|f| f.status == Status::Fail
                    && f.file.as_deref() == Some(&format!("okta/{file}"))),
                "{id} should fail at okta/{file}; it fails at {:?}",
                findings
                    .iter()
                    .filter(|f| f.status == Status::Fail)
                    .map(|f| &f.file)
                    .collect::<Vec<_>>()
            );
        }
    }

    /// Under every profile, nothing errors and nothing is left unevaluated on either fixture.
    #[test]
    fn the_fixtures_evaluate_cleanly_under_every_profile() {
        for name in ["small", "small-hardened"] {
            for profile in Profile::ALL {
                for (id, status, findings) in fixture_outcomes(name, profile) {
                    assert!(
                        !matches!(status, Status::Error | Status::NotEvaluated),
                        "{name}: {profile}: {id}: {status}: {:?}",
                        findings.iter().map(|f| &f.message).collect::<Vec<_>>()
                    );
                }
            }
        }
    }

    /// (rule, a file under `okta/` it must fail at), from fixtures/orgs/small/README.md.
    const WEAK_SPOTS: &[(&str, &str)] = &[
        ("OKTA-ADM-002", "groups/IT Admins/admin-roles.json"),
        (
            "OKTA-MFA-001",
            "policies/ACCESS_POLICY/Okta Admin Console/rules/Catch-all Rule.json",
        ),
        (
            "OKTA-MFA-011",
            "authenticators/custom_otp/Hardware token.json",
        ),
        ("OKTA-NET-004", "network-zones/Block Tor.json"),
        ("OKTA-NET-007", "behaviors/Impossible travel.json"),
        ("OKTA-PWD-009", "policies/PASSWORD/Service accounts.json"),
        ("OKTA-SES-005", "policies/OKTA_SIGN_ON/Default Policy.json"),
        ("OKTA-PWD-001", "policies/PASSWORD/Default Policy.json"),
        ("OKTA-PWD-002", "policies/PASSWORD/Default Policy.json"),
        ("OKTA-PWD-003", "policies/PASSWORD/Default Policy.json"),
        ("OKTA-PWD-004", "policies/PASSWORD/Default Policy.json"),
        ("OKTA-PWD-005", "policies/PASSWORD/Default Policy.json"),
        ("OKTA-PWD-006", "policies/PASSWORD/Default Policy.json"),
        ("OKTA-PWD-007", "policies/PASSWORD/Default Policy.json"),
        ("OKTA-PWD-008", "policies/PASSWORD/Default Policy.json"),
        ("OKTA-PWD-010", "policies/PASSWORD/Default Policy.json"),
        (
            "OKTA-PWD-011",
            "policies/PASSWORD/Default Policy/rules/Default Rule.json",
        ),
        (
            "OKTA-PWD-012",
            "policies/PASSWORD/Default Policy/rules/Default Rule.json",
        ),
        ("OKTA-PWD-013", "policies/PASSWORD/Default Policy.json"),
        ("OKTA-PWD-014", "policies/PASSWORD/Default Policy.json"),
        (
            "OKTA-SES-001",
            "policies/OKTA_SIGN_ON/Contractors/rules/Contractors – remember device.json",
        ),
        (
            "OKTA-SES-002",
            "policies/OKTA_SIGN_ON/Default Policy/rules/Default Rule.json",
        ),
        (
            "OKTA-SES-002",
            "policies/OKTA_SIGN_ON/Contractors/rules/Contractors – remember device.json",
        ),
        (
            "OKTA-SES-003",
            "policies/OKTA_SIGN_ON/Contractors/rules/Contractors – remember device.json",
        ),
        (
            "OKTA-SES-004",
            "policies/OKTA_SIGN_ON/Default Policy/rules/Default Rule.json",
        ),
        (
            "OKTA-SES-004",
            "policies/OKTA_SIGN_ON/Contractors/rules/Contractors – remember device.json",
        ),
        ("OKTA-SES-006", "org/admin-console-settings.json"),
        (
            "OKTA-SES-007",
            "policies/ACCESS_POLICY/Default Policy/rules/Catch-all Rule.json",
        ),
        (
            "OKTA-SES-007",
            "policies/ACCESS_POLICY/Engineering apps/rules/Engineers via Google.json",
        ),
        (
            "OKTA-MFA-002",
            "policies/ACCESS_POLICY/Okta Admin Console/rules/Admins%3A two factors.json",
        ),
        (
            "OKTA-MFA-003",
            "policies/ACCESS_POLICY/Okta Dashboard/rules/Catch-all Rule.json",
        ),
        (
            "OKTA-MFA-004",
            "policies/ACCESS_POLICY/Okta Dashboard/rules/Catch-all Rule.json",
        ),
        (
            "OKTA-MFA-005",
            "policies/ACCESS_POLICY/Default Policy/rules/Catch-all Rule.json",
        ),
        (
            "OKTA-MFA-005",
            "policies/ACCESS_POLICY/Engineering apps/rules/Engineers via Google.json",
        ),
        (
            "OKTA-MFA-006",
            "policies/ACCESS_POLICY/Default Policy/rules/Catch-all Rule.json",
        ),
        (
            "OKTA-MFA-006",
            "policies/ACCESS_POLICY/Okta Dashboard/rules/Catch-all Rule.json",
        ),
        (
            "OKTA-MFA-007",
            "policies/ACCESS_POLICY/Okta Admin Console/rules/Admins%3A two factors.json",
        ),
        ("OKTA-MFA-008", "authenticators/phone_number/Phone.json"),
        ("OKTA-MFA-009", "authenticators/okta_email/Email.json"),
        (
            "OKTA-MFA-010",
            "authenticators/security_question/Security Question.json",
        ),
        (
            "OKTA-MFA-012",
            "authenticators/okta_verify/Okta Verify.json",
        ),
        (
            "OKTA-MFA-013",
            "authenticators/okta_verify/Okta Verify.json",
        ),
        ("OKTA-MFA-014", "policies/MFA_ENROLL/Default Policy.json"),
        ("OKTA-MFA-015", "policies/MFA_ENROLL/Default Policy.json"),
        (
            "OKTA-MFA-016",
            "authenticators/okta_verify/Okta Verify.json",
        ),
        (
            "OKTA-ADM-003",
            "users/yara.virtanen@small.example/admin-roles.json",
        ),
        (
            "OKTA-ADM-005",
            "users/legacy.sync@small.example/admin-roles.json",
        ),
        ("OKTA-ADM-006", "apps/Data Pipeline/admin-roles.json"),
        ("OKTA-ADM-007", "org/client-privileges.json"),
        ("OKTA-ADM-008", "group-rules/IT admins by title.json"),
        ("OKTA-ADM-009", "org/okta-support.json"),
        (
            "OKTA-TOK-001",
            "api-tokens/Legacy sync-00T1smlegacy00000000.json",
        ),
        (
            "OKTA-TOK-002",
            "api-tokens/Legacy sync-00T1smlegacy00000000.json",
        ),
        (
            "OKTA-TOK-003",
            "api-tokens/Legacy sync-00T1smlegacy00000000.json",
        ),
        (
            "OKTA-TOK-004",
            "apps/Data Pipeline/grants/okta.users.manage.json",
        ),
        (
            "OKTA-TOK-004",
            "apps/Data Pipeline/grants/okta.groups.manage.json",
        ),
        ("OKTA-APP-001", "apps/Payroll (legacy).json"),
        ("OKTA-APP-001", "apps/Vendor Portal.json"),
        ("OKTA-APP-002", "apps/IT Help Center.json"),
        (
            "OKTA-APP-004",
            "policies/ACCESS_POLICY/Okta Admin Console/rules/Admins%3A two factors.json",
        ),
    ];
}
