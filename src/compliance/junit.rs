//! A check as JUnit XML, for CI systems that show test reports: a `testsuite` per rule family,
//! a `testcase` per rule and resource; a `fail` is a `<failure>` with the message, file, field
//! and value, an `error` an `<error>`; `waived`, `not_evaluated` and `not_applicable` are
//! `<skipped>` with why.
//!
//! Pure: the same report gives byte-identical output.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::eval::{Finding, Outcome};
use super::report::{Report, location, value_text};
use super::rule::Status;

/// Text escaped for XML content and attribute values; characters XML 1.0 cannot hold at all
/// (most control characters) become U+FFFD.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push_str(&format!("&#{};", c as u32)),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

struct Case {
    name: String,
    classname: String,
    /// (element, message, body) for anything but a pass.
    outcome: Option<(&'static str, String, String)>,
}

fn details(finding: &Finding) -> String {
    let mut body = location(finding);
    for evidence in &finding.evidence {
        let _ = write!(
            body,
            "\n{}: {} = {}",
            evidence.file,
            evidence.field,
            value_text(&evidence.value)
        );
    }
    body
}

fn case(outcome: &Outcome<'_>, finding: &Finding) -> Case {
    let rule = outcome.rule;
    let name = match &finding.file {
        Some(_) => format!("{} {}", rule.id, location(finding)),
        None => rule.id.clone(),
    };
    let message = finding.message.clone();
    let result = match finding.status {
        Status::Pass => None,
        Status::Fail => Some((
            "failure",
            message,
            format!("{}\nfix: {}", details(finding), rule.remediation.trim()),
        )),
        Status::Error => Some(("error", message, details(finding))),
        Status::Waived => {
            let why = finding.waiver.as_ref().map_or(String::new(), |w| {
                format!(
                    "waived: {} (approved by {}, until {})",
                    w.reason, w.approver, w.expires
                )
            });
            Some(("skipped", why, String::new()))
        }
        Status::NotEvaluated | Status::NotApplicable => Some((
            "skipped",
            format!("{}: {message}", finding.status),
            String::new(),
        )),
    };
    Case {
        name,
        classname: format!("butterfly.{}.{}", rule.family, rule.id),
        outcome: result,
    }
}

fn count(cases: &[Case], element: &str) -> usize {
    cases
        .iter()
        .filter(|c| c.outcome.as_ref().is_some_and(|(e, _, _)| *e == element))
        .count()
}

/// The JUnit XML report.
pub fn junit(report: &Report<'_>) -> String {
    let mut families: BTreeMap<&str, Vec<Case>> = BTreeMap::new();
    for outcome in &report.outcomes {
        let cases = families.entry(outcome.rule.family.as_str()).or_default();
        cases.extend(outcome.findings.iter().map(|f| case(outcome, f)));
    }
    let all: Vec<&Case> = families.values().flatten().collect();
    let total = |element: &str| {
        all.iter()
            .filter(|c| c.outcome.as_ref().is_some_and(|(e, _, _)| *e == element))
            .count()
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"butterfly check {}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" timestamp=\"{}\">",
        escape(&report.revision.rev),
        all.len(),
        total("failure"),
        total("error"),
        total("skipped"),
        escape(&report.now),
    );
    for (family, cases) in &families {
        let _ = writeln!(
            out,
            "  <testsuite name=\"okta.{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
            escape(family),
            cases.len(),
            count(cases, "failure"),
            count(cases, "error"),
            count(cases, "skipped"),
        );
        for case in cases {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\"",
                escape(&case.classname),
                escape(&case.name)
            );
            match &case.outcome {
                None => out.push_str("/>\n"),
                Some((element, message, body)) => {
                    let _ = write!(out, ">\n      <{element} message=\"{}\"", escape(message));
                    if body.is_empty() {
                        out.push_str("/>\n");
                    } else {
                        let _ = writeln!(out, ">{}</{element}>", escape(body));
                    }
                    out.push_str("    </testcase>\n");
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_quotes_and_control_characters() {
        assert_eq!(
            escape("a<b>&\"c\" 'd'\nе\u{1}"),
            "a&lt;b&gt;&amp;&quot;c&quot; &apos;d&apos;&#10;е\u{FFFD}"
        );
    }
}
