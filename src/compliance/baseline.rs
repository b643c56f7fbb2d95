//! `--baseline REV`: only what is new since REV. A finding is its rule id, file and pointer;
//! the failures (and errors) that the same check found at REV are dropped from the report, so
//! a pull request shows what it breaks, and the gate counts only those.
//!
//! Pure: two reports' outcomes in, one report's outcomes out.

use std::collections::BTreeSet;

use super::eval::{Finding, Outcome, summary};
use super::rule::Status;

/// A finding's identity across revisions: rule id, file, pointer.
pub type Key = (String, String, String);

fn counts(finding: &Finding) -> bool {
    matches!(finding.status, Status::Fail | Status::Error)
}

/// The identity of a finding of `rule`.
pub fn key(rule: &str, finding: &Finding) -> Key {
    (
        rule.to_string(),
        finding.file.clone().unwrap_or_default(),
        finding.pointer.clone().unwrap_or_default(),
    )
}

/// The failing and erroring findings of a run.
pub fn keys(outcomes: &[Outcome<'_>]) -> BTreeSet<Key> {
    outcomes
        .iter()
        .flat_map(|o| {
            o.findings
                .iter()
                .filter(|f| counts(f))
                .map(|f| key(&o.rule.id, f))
        })
        .collect()
}

/// Drops the failures already in `before`; returns how many were dropped.
pub fn only_new(outcomes: &mut [Outcome<'_>], before: &BTreeSet<Key>) -> usize {
    let mut dropped = 0;
    for outcome in outcomes.iter_mut() {
        let id = outcome.rule.id.clone();
        let len = outcome.findings.len();
        outcome
            .findings
            .retain(|f| !(counts(f) && before.contains(&key(&id, f))));
        let here = len - outcome.findings.len();
        dropped += here;
        // Nothing left but what REV already had: nothing new fails.
        outcome.status = if here > 0 && outcome.findings.is_empty() {
            Status::Pass
        } else {
            summary(&outcome.findings)
        };
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::okta_rules;

    fn finding(status: Status, file: &str) -> Finding {
        Finding {
            status,
            file: Some(file.into()),
            pointer: Some(String::new()),
            message: String::new(),
            evidence: Vec::new(),
            waiver: None,
        }
    }

    #[test]
    fn only_failures_new_since_the_baseline_stay() {
        let rule = okta_rules().unwrap().get("OKTA-PWD-008").unwrap();
        let before = vec![Outcome {
            rule,
            status: Status::Fail,
            findings: vec![
                finding(Status::Fail, "okta/old.json"),
                finding(Status::Fail, "okta/fixed.json"),
            ],
        }];
        let mut after = vec![Outcome {
            rule,
            status: Status::Fail,
            findings: vec![
                finding(Status::Pass, "okta/fixed.json"),
                finding(Status::Fail, "okta/new.json"),
                finding(Status::Fail, "okta/old.json"),
            ],
        }];
        let dropped = only_new(&mut after, &keys(&before));
        assert_eq!(dropped, 1);
        let files: Vec<_> = after[0]
            .findings
            .iter()
            .map(|f| (f.status, f.file.clone().unwrap()))
            .collect();
        assert_eq!(
            files,
            vec![
                (Status::Pass, "okta/fixed.json".to_string()),
                (Status::Fail, "okta/new.json".to_string())
            ]
        );
        assert_eq!(after[0].status, Status::Fail);
        // With nothing new, the rule passes (nothing it found is new).
        let mut again = vec![Outcome {
            rule,
            status: Status::Fail,
            findings: vec![finding(Status::Fail, "okta/old.json")],
        }];
        only_new(&mut again, &keys(&before));
        assert_eq!(again[0].status, Status::Pass);
    }
}
