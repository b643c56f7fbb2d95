//! A check as SARIF 2.1.0 for GitHub code scanning (RESEARCH.md §4): one run; the driver lists
//! every rule evaluated (help with the remediation, tags, `security-severity` on GitHub's
//! scale); a result per `fail` or `error`, at the line and column of the failing field's value
//! in the file, with a fingerprint of rule, file and pointer that survives line shifts.
//! Waived and passing results stay in the JSON report.
//!
//! Pure: the report and the texts of the files it points into give byte-identical output.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::eval::Finding;
use super::location::{Position, locate};
use super::report::Report;
use super::rule::{Framework, Rule, Severity, Status};

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Where a result with no file points: the org repository's settings.
const NO_FILE: &str = "butterfly.toml";

/// GitHub's level for a severity.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// GitHub's `security-severity` (over 9.0 critical, 7.0–8.9 high, 4.0–6.9 medium, below low).
pub fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
    }
}

/// A repository path as a relative URI reference: each segment percent-encoded.
pub fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A fingerprint of a finding's identity (rule, file, pointer), not of its line.
pub fn fingerprint(rule: &str, file: &str, pointer: &str) -> String {
    let mut hash = Sha256::new();
    for part in [rule, file, pointer] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let digest = hash.finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{hex}:1")
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let kept: String = text.chars().take(max - 1).collect();
        format!("{kept}…")
    }
}

fn controls_text(rule: &Rule) -> Vec<(Framework, String)> {
    Framework::ALL
        .iter()
        .map(|f| {
            let ids = rule.controls(*f);
            let text = if ids.is_empty() {
                "not mapped".to_string()
            } else {
                ids.join(", ")
            };
            (*f, text)
        })
        .collect()
}

fn descriptor(rule: &Rule) -> Value {
    let description = rule.description.trim();
    let remediation = rule.remediation.trim();
    let controls = controls_text(rule);
    let mut text = format!("{description}\n\nRemediation: {remediation}\n");
    let mut markdown = format!(
        "{description}\n\n**Remediation:** {remediation}\n\n| framework | controls |\n| --- | --- |\n"
    );
    for (framework, ids) in &controls {
        text.push_str(&format!("\n{}: {ids}", framework.title()));
        markdown.push_str(&format!("| {} | {ids} |\n", framework.title()));
    }
    let frameworks: serde_json::Map<String, Value> = Framework::ALL
        .iter()
        .map(|f| (f.as_str().to_string(), json!(rule.controls(*f))))
        .collect();
    json!({
        "id": rule.id,
        "name": rule.title,
        "shortDescription": {"text": cut(rule.title.trim(), 1024)},
        "fullDescription": {"text": cut(description, 1024)},
        "help": {"text": text, "markdown": markdown},
        "defaultConfiguration": {"level": level(rule.severity)},
        "properties": {
            "tags": ["security", "okta", rule.family],
            "precision": "very-high",
            "security-severity": security_severity(rule.severity),
            "severity": rule.severity.as_str(),
            "frameworks": frameworks,
        },
    })
}

/// The pointer a finding is shown at: its first evidence in its own file, else the resource.
fn pointer_of(finding: &Finding) -> String {
    finding
        .evidence
        .iter()
        .find(|e| finding.file.as_deref() == Some(e.file.as_str()))
        .map(|e| e.pointer.clone())
        .or_else(|| finding.pointer.clone())
        .unwrap_or_default()
}

fn result(
    rule: &Rule,
    index: usize,
    finding: &Finding,
    sources: &BTreeMap<String, String>,
) -> Value {
    let (file, pointer) = match &finding.file {
        Some(file) => (file.as_str(), pointer_of(finding)),
        None => (NO_FILE, String::new()),
    };
    let position = sources
        .get(file)
        .and_then(|text| locate(text, &pointer))
        .unwrap_or(Position { line: 1, column: 1 });
    let (level, message) = if finding.status == Status::Error {
        (
            "warning",
            format!("{} could not be evaluated: {}", rule.id, finding.message),
        )
    } else if finding.message.trim().is_empty() {
        (level(rule.severity), rule.title.clone())
    } else {
        (level(rule.severity), finding.message.clone())
    };
    let identity = finding.pointer.clone().unwrap_or_default();
    json!({
        "ruleId": rule.id,
        "ruleIndex": index,
        "level": level,
        "message": {"text": message},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": uri(file)},
                "region": {"startLine": position.line, "startColumn": position.column},
            },
        }],
        "partialFingerprints": {
            "primaryLocationLineHash": fingerprint(&rule.id, file, &identity),
        },
        "properties": {"pointer": pointer},
    })
}

/// The SARIF log. `sources` holds the text of every file a result points into.
pub fn sarif(report: &Report<'_>, sources: &BTreeMap<String, String>) -> String {
    let rules: Vec<Value> = report.outcomes.iter().map(|o| descriptor(o.rule)).collect();
    let mut results = Vec::new();
    for (index, outcome) in report.outcomes.iter().enumerate() {
        for finding in &outcome.findings {
            if matches!(finding.status, Status::Fail | Status::Error) {
                results.push(result(outcome.rule, index, finding, sources));
            }
        }
    }
    let mut properties = json!({
        "revision": report.revision,
        "now": report.now,
        "profile": report.profile.as_str(),
    });
    if let Some(baseline) = &report.baseline {
        properties["baseline"] = json!({"revision": baseline.revision, "known": baseline.known});
    }
    let log = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "butterfly",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "utf16CodeUnits",
            "results": results,
            "properties": properties,
        }],
    });
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_security_severities_follow_githubs_scale() {
        for (severity, level_, score) in [
            (Severity::Critical, "error", 9.5),
            (Severity::High, "error", 8.0),
            (Severity::Medium, "warning", 5.5),
            (Severity::Low, "note", 3.0),
        ] {
            assert_eq!(level(severity), level_);
            let parsed: f64 = security_severity(severity).parse().unwrap();
            assert_eq!(parsed, score);
        }
    }

    #[test]
    fn uris_are_percent_encoded_per_byte() {
        assert_eq!(
            uri("okta/policies/OKTA_SIGN_ON/Contractors/rules/Contractors – remember device.json"),
            "okta/policies/OKTA_SIGN_ON/Contractors/rules/Contractors%20%E2%80%93%20remember%20device.json"
        );
        assert_eq!(
            uri("okta/apps/A%3A b#1.json"),
            "okta/apps/A%253A%20b%231.json"
        );
    }

    #[test]
    fn fingerprints_depend_on_identity_only() {
        let a = fingerprint("OKTA-PWD-008", "okta/p.json", "");
        assert_eq!(a, fingerprint("OKTA-PWD-008", "okta/p.json", ""));
        assert_ne!(a, fingerprint("OKTA-PWD-008", "okta/p.json", "/1"));
        assert_ne!(a, fingerprint("OKTA-PWD-001", "okta/p.json", ""));
        assert_eq!(a.len(), 18);
        assert!(a.ends_with(":1"));
    }
}
