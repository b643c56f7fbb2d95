//! A check's results as a report: text for a terminal (grouped by severity, the file and field
//! of each failure) and JSON (stable, versioned, documented in README.md). Whether the findings
//! reach `--fail-on` is decided here, once, for every format.
//!
//! Pure: the same outcomes give byte-identical output.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use super::eval::{Finding, Outcome};
use super::rule::{Framework, Profile, Rule, Severity, Status};
use crate::diff::render::Revision;

/// The JSON shape's version; bumped on any incompatible change.
pub const JSON_VERSION: u64 = 1;

/// Failures listed per rule in text before "and N more".
const TEXT_LIMIT: usize = 10;

/// A run: what was checked, how, and the outcome of each rule (sorted by id).
#[derive(Debug)]
pub struct Report<'r> {
    pub revision: Revision,
    /// `now` of the run (RFC 3339).
    pub now: String,
    pub profile: Profile,
    pub framework: Option<Framework>,
    pub min_severity: Severity,
    pub fail_on: Severity,
    pub outcomes: Vec<Outcome<'r>>,
    /// Files under `okta/` that are no kind's (never evaluated).
    pub unknown_files: Vec<String>,
    /// `--baseline REV`: the revision compared with, and how many of its findings were left out.
    pub baseline: Option<Baseline>,
    /// The text of every file a non-passing finding names (SARIF's lines and columns).
    pub sources: BTreeMap<String, String>,
}

/// What `--baseline` compared with.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub revision: Revision,
    /// Failures and errors found at the baseline too, so left out of this report.
    pub known: usize,
}

impl Report<'_> {
    /// Rules with a `fail` or `error` at or above `fail_on`: the run exits 2 when any.
    pub fn gating(&self) -> Vec<&Outcome<'_>> {
        self.outcomes
            .iter()
            .filter(|o| o.rule.severity >= self.fail_on)
            .filter(|o| matches!(o.status, Status::Fail | Status::Error))
            .collect()
    }

    /// Rules by their summary status.
    pub fn counts(&self) -> BTreeMap<Status, usize> {
        let mut counts: BTreeMap<Status, usize> = Status::ALL.iter().map(|s| (*s, 0)).collect();
        for outcome in &self.outcomes {
            *counts.entry(outcome.status).or_default() += 1;
        }
        counts
    }
}

fn controls(rule: &Rule, framework: Option<Framework>) -> Value {
    let mut map = Map::new();
    for f in Framework::ALL {
        if framework.is_none_or(|only| only == f) {
            map.insert(f.as_str().into(), json!(rule.controls(f)));
        }
    }
    Value::Object(map)
}

fn finding_json(finding: &Finding) -> Value {
    let evidence: Vec<Value> = finding
        .evidence
        .iter()
        .map(|e| {
            let mut item = json!({"file": e.file, "field": e.field, "pointer": e.pointer});
            if let Some(value) = &e.value {
                item["value"] = value.clone();
            }
            item
        })
        .collect();
    json!({
        "status": finding.status.as_str(),
        "file": finding.file,
        "pointer": finding.pointer,
        "message": finding.message,
        "evidence": evidence,
        "waiver": finding.waiver.as_ref().map(|w| json!({
            "reason": w.reason,
            "approver": w.approver,
            "expires": w.expires,
            "expired": w.expired,
        })),
    })
}

/// The JSON report (README.md, "Compliance: check", documents every field).
pub fn json(report: &Report<'_>) -> String {
    let counts: Map<String, Value> = report
        .counts()
        .into_iter()
        .map(|(s, n)| (s.as_str().to_string(), json!(n)))
        .collect();
    let rules: Vec<Value> = report
        .outcomes
        .iter()
        .map(|outcome| {
            let rule = outcome.rule;
            let results: Map<String, Value> = Status::ALL
                .iter()
                .map(|s| (s.as_str().to_string(), json!(outcome.count(*s))))
                .collect();
            json!({
                "id": rule.id,
                "title": rule.title,
                "family": rule.family,
                "severity": rule.severity.as_str(),
                "kind": rule.kind,
                "status": outcome.status.as_str(),
                "results": results,
                "controls": controls(rule, report.framework),
                "remediation": rule.remediation,
                "findings": outcome
                    .findings
                    .iter()
                    .filter(|f| f.status != Status::Pass)
                    .map(finding_json)
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    let out = json!({
        "version": JSON_VERSION,
        "revision": report.revision,
        "now": report.now,
        "profile": report.profile.as_str(),
        "framework": report.framework.map(Framework::as_str),
        "min_severity": report.min_severity.as_str(),
        "fail_on": report.fail_on.as_str(),
        "gate": if report.gating().is_empty() { "pass" } else { "fail" },
        "counts": counts,
        "rules": rules,
        "unknown_files": report.unknown_files,
        "baseline": report.baseline.as_ref().map(|b| json!({
            "revision": b.revision,
            "known": b.known,
        })),
    });
    let mut text = serde_json::to_string_pretty(&out).unwrap_or_default();
    text.push('\n');
    text
}

pub(crate) fn value_text(value: &Option<Value>) -> String {
    match value {
        None => "(absent)".into(),
        Some(value) => {
            let text = value.to_string();
            if text.chars().count() > 120 {
                let cut: String = text.chars().take(117).collect();
                format!("{cut}...")
            } else {
                text
            }
        }
    }
}

pub(crate) fn location(finding: &Finding) -> String {
    match (&finding.file, finding.pointer.as_deref()) {
        (Some(file), Some(pointer)) if !pointer.is_empty() => format!("{file} ({pointer})"),
        (Some(file), _) => file.clone(),
        (None, _) => "(the whole org)".into(),
    }
}

/// The text report: a summary, then each failing or erroring rule under its severity with the
/// file, the fields and their values, and the message; then the rules not evaluated or not
/// applicable with why, and the rules that passed.
pub fn text(report: &Report<'_>) -> String {
    let mut out = String::new();
    let rev = &report.revision;
    let commit = rev
        .commit
        .as_deref()
        .map(|c| {
            format!(
                " ({}{})",
                &c[..c.len().min(12)],
                rev.time
                    .as_deref()
                    .map(|t| format!(", {t}"))
                    .unwrap_or_default()
            )
        })
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Compliance check of {}{commit}: profile {}, {} rule{}{}, now {}",
        rev.rev,
        report.profile,
        report.outcomes.len(),
        if report.outcomes.len() == 1 { "" } else { "s" },
        report
            .framework
            .map(|f| format!(" mapped to {}", f.title()))
            .unwrap_or_default(),
        report.now
    );
    let counts = report.counts();
    let _ = writeln!(
        out,
        "  {} fail · {} error · {} waived · {} not evaluated · {} not applicable · {} pass",
        counts[&Status::Fail],
        counts[&Status::Error],
        counts[&Status::Waived],
        counts[&Status::NotEvaluated],
        counts[&Status::NotApplicable],
        counts[&Status::Pass]
    );
    if let Some(baseline) = &report.baseline {
        let _ = writeln!(
            out,
            "  only findings new since {} ({}): {} known there left out",
            baseline.revision.rev,
            baseline
                .revision
                .commit
                .as_deref()
                .map_or("", |c| &c[..c.len().min(12)]),
            baseline.known
        );
    }
    let gating = report.gating();
    if gating.is_empty() {
        let _ = writeln!(out, "  nothing fails at or above {}", report.fail_on);
    } else {
        let _ = writeln!(
            out,
            "  {} rule{} fail at or above {}",
            gating.len(),
            if gating.len() == 1 { "" } else { "s" },
            report.fail_on
        );
    }
    for severity in Severity::ALL {
        let failing: Vec<&Outcome<'_>> = report
            .outcomes
            .iter()
            .filter(|o| o.rule.severity == severity)
            .filter(|o| matches!(o.status, Status::Fail | Status::Error))
            .collect();
        if failing.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{}", severity.as_str().to_uppercase());
        for outcome in failing {
            write_failing(&mut out, outcome, report.framework);
        }
    }
    let waived: Vec<(&Outcome<'_>, &Finding)> = report
        .outcomes
        .iter()
        .flat_map(|o| o.findings.iter().map(move |f| (o, f)))
        .filter(|(_, f)| f.status == Status::Waived)
        .collect();
    if !waived.is_empty() {
        let _ = writeln!(out, "\nWAIVED");
        for (outcome, finding) in waived {
            let _ = writeln!(out, "  {}  {}", outcome.rule.id, location(finding));
            if let Some(waiver) = &finding.waiver {
                let _ = writeln!(
                    out,
                    "        {} (approved by {}, until {})",
                    waiver.reason, waiver.approver, waiver.expires
                );
            }
        }
    }
    for (status, heading) in [
        (Status::NotEvaluated, "NOT EVALUATED"),
        (Status::NotApplicable, "NOT APPLICABLE"),
    ] {
        let listed: Vec<&Outcome<'_>> = report
            .outcomes
            .iter()
            .filter(|o| o.status == status)
            .collect();
        if listed.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{heading}");
        for outcome in listed {
            let why = outcome.findings.first().map_or("", |f| f.message.as_str());
            let _ = writeln!(out, "  {}  {}: {why}", outcome.rule.id, outcome.rule.title);
        }
    }
    let passed: Vec<&str> = report
        .outcomes
        .iter()
        .filter(|o| o.status == Status::Pass)
        .map(|o| o.rule.id.as_str())
        .collect();
    if !passed.is_empty() {
        let _ = writeln!(out, "\nPASS\n  {}", passed.join(", "));
    }
    if !report.unknown_files.is_empty() {
        let _ = writeln!(
            out,
            "\n{} file{} under okta/ of no known kind, not checked: {}",
            report.unknown_files.len(),
            if report.unknown_files.len() == 1 {
                ""
            } else {
                "s"
            },
            report
                .unknown_files
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    out
}

fn write_failing(out: &mut String, outcome: &Outcome<'_>, framework: Option<Framework>) {
    let rule = outcome.rule;
    let label = if outcome.status == Status::Fail {
        "FAIL "
    } else {
        "ERROR"
    };
    let _ = writeln!(out, "  {label} {}  {}", rule.id, rule.title);
    if let Some(framework) = framework {
        let ids = rule.controls(framework);
        let _ = writeln!(
            out,
            "        {}: {}",
            framework,
            if ids.is_empty() {
                "not mapped".to_string()
            } else {
                ids.join(", ")
            }
        );
    }
    let shown: Vec<&Finding> = outcome
        .findings
        .iter()
        .filter(|f| matches!(f.status, Status::Fail | Status::Error))
        .collect();
    for finding in shown.iter().take(TEXT_LIMIT) {
        let _ = writeln!(out, "        {}", location(finding));
        for evidence in finding.evidence.iter().take(TEXT_LIMIT) {
            let other_file = finding.file.as_deref() != Some(evidence.file.as_str());
            let prefix = if other_file {
                format!("{}: ", evidence.file)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "          {prefix}{} = {}",
                evidence.field,
                value_text(&evidence.value)
            );
        }
        let tag = if finding.status == Status::Error {
            "error: "
        } else {
            ""
        };
        let _ = writeln!(out, "          {tag}{}", finding.message);
    }
    if shown.len() > TEXT_LIMIT {
        let _ = writeln!(out, "        … and {} more", shown.len() - TEXT_LIMIT);
    }
    if outcome.status == Status::Fail {
        let _ = writeln!(out, "        fix: {}", rule.remediation.trim());
    }
}
