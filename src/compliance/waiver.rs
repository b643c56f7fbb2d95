//! Waivers (`[[compliance.waivers]]` in `butterfly.toml`): a rule's `fail` accepted for one
//! resource file until a date. A waiver in force turns the failure into `waived`, keeping its
//! reason and approver; an expired one leaves it `fail` and says on which day it expired.
//!
//! Pure: the waivers and `now` (the snapshot's time or `--as-of`) are given, so the same inputs
//! give the same report.

use chrono::{DateTime, NaiveDate, Utc};

use super::eval::{Outcome, WaiverNote, summary};
use super::rule::Status;

/// A waiver, checked (`config::OrgConfig` refuses an unknown rule or a date that is not one).
#[derive(Clone, Debug, PartialEq)]
pub struct Waiver {
    pub rule: String,
    /// The resource's file in the org repository.
    pub path: String,
    pub reason: String,
    pub approver: String,
    /// The last day it holds.
    pub expires: NaiveDate,
}

impl Waiver {
    /// From `butterfly.toml`'s entries (those without a date are refused when it is loaded).
    pub fn from_config(settings: &crate::config::ComplianceSettings) -> Vec<Waiver> {
        settings
            .waivers
            .iter()
            .filter_map(|w| {
                Some(Waiver {
                    rule: w.rule.get_ref().clone(),
                    path: w.path.clone(),
                    reason: w.reason.clone(),
                    approver: w.approver.clone(),
                    expires: w.expiry()?,
                })
            })
            .collect()
    }
}

/// Applies the waivers to the outcomes' failures and recomputes each outcome's status.
pub fn apply(outcomes: &mut [Outcome<'_>], waivers: &[Waiver], now: DateTime<Utc>) {
    if waivers.is_empty() {
        return;
    }
    let today = now.date_naive();
    for outcome in outcomes.iter_mut() {
        let id = &outcome.rule.id;
        for finding in &mut outcome.findings {
            if finding.status != Status::Fail {
                continue;
            }
            let Some(waiver) = waivers
                .iter()
                .find(|w| &w.rule == id && finding.file.as_deref() == Some(w.path.as_str()))
            else {
                continue;
            };
            let expired = today > waiver.expires;
            finding.waiver = Some(WaiverNote {
                reason: waiver.reason.clone(),
                approver: waiver.approver.clone(),
                expires: waiver.expires.to_string(),
                expired,
            });
            if expired {
                finding.message = format!(
                    "{} (the waiver approved by {} expired on {})",
                    finding.message, waiver.approver, waiver.expires
                );
            } else {
                finding.status = Status::Waived;
            }
        }
        outcome.status = summary(&outcome.findings);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::eval::Finding;
    use crate::compliance::okta_rules;

    fn failing(file: &str) -> Finding {
        Finding {
            status: Status::Fail,
            file: Some(file.into()),
            pointer: Some(String::new()),
            message: "never locks".into(),
            evidence: Vec::new(),
            waiver: None,
        }
    }

    fn waiver(path: &str, expires: &str) -> Waiver {
        Waiver {
            rule: "OKTA-PWD-008".into(),
            path: path.into(),
            reason: "upstream IdP locks".into(),
            approver: "ciso@acme.example".into(),
            expires: expires.parse().unwrap(),
        }
    }

    #[test]
    fn a_waiver_in_force_waives_and_an_expired_one_fails_again() {
        let rule = okta_rules().unwrap().get("OKTA-PWD-008").unwrap();
        let mut outcomes = vec![Outcome {
            rule,
            status: Status::Fail,
            findings: vec![failing("okta/a.json"), failing("okta/b.json")],
        }];
        let now = "2026-06-01T12:00:00Z".parse().unwrap();
        apply(
            &mut outcomes,
            &[
                waiver("okta/a.json", "2026-06-01"),
                waiver("okta/b.json", "2026-05-31"),
            ],
            now,
        );
        let [a, b] = &outcomes[0].findings[..] else {
            panic!()
        };
        assert_eq!(a.status, Status::Waived);
        assert_eq!(a.message, "never locks");
        assert_eq!(a.waiver.as_ref().unwrap().approver, "ciso@acme.example");
        assert_eq!(b.status, Status::Fail);
        assert_eq!(
            b.message,
            "never locks (the waiver approved by ciso@acme.example expired on 2026-05-31)"
        );
        assert!(b.waiver.as_ref().unwrap().expired);
        assert_eq!(outcomes[0].status, Status::Fail);
        // Both in force: the rule is waived, not passing.
        let mut outcomes = vec![Outcome {
            rule,
            status: Status::Fail,
            findings: vec![failing("okta/a.json")],
        }];
        apply(&mut outcomes, &[waiver("okta/a.json", "2027-01-01")], now);
        assert_eq!(outcomes[0].status, Status::Waived);
        // Another rule's or another file's waiver does not apply.
        let mut outcomes = vec![Outcome {
            rule,
            status: Status::Fail,
            findings: vec![failing("okta/c.json")],
        }];
        apply(&mut outcomes, &[waiver("okta/a.json", "2027-01-01")], now);
        assert_eq!(outcomes[0].status, Status::Fail);
        assert_eq!(outcomes[0].findings[0].waiver, None);
    }
}
