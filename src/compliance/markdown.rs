//! A check as Markdown for a pull-request comment: a summary table per severity first, then
//! each failing rule folded into `<details>` with its files, fields and remediation, then the
//! waived findings and the rules not evaluated. GitHub refuses a comment over 65,536
//! characters: whole sections that would pass it are left out, and a note says how many.
//!
//! Pure: the same report gives byte-identical output.

use std::fmt::Write as _;

use super::eval::{Finding, Outcome};
use super::report::{Report, location, value_text};
use super::rule::{Severity, Status};

/// GitHub's limit on a comment's body, in characters.
pub const LIMIT: usize = 65_536;

/// Findings listed per rule before "and N more".
const PER_RULE: usize = 20;

/// Evidence fields shown per finding.
const PER_FINDING: usize = 6;

/// Text safe in Markdown and inline HTML: no tag, entity, table cell or emphasis breaks out.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("&#124;"),
            '`' | '*' | '_' | '[' | ']' | '\\' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A path or value in `<code>`, escaped as HTML.
fn code(text: &str) -> String {
    let html = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "&#124;");
    format!("<code>{html}</code>")
}

fn header(report: &Report<'_>) -> String {
    let mut out = String::new();
    let rev = &report.revision;
    let commit = rev.commit.as_deref().map_or(String::new(), |c| {
        format!(" ({})", code(&c[..c.len().min(12)]))
    });
    let gating = report.gating();
    let _ = writeln!(
        out,
        "## Butterfly compliance: {}{commit}\n",
        escape(&rev.rev)
    );
    let _ = writeln!(
        out,
        "Profile **{}** · {} rules · now {} · {}\n",
        report.profile,
        report.outcomes.len(),
        escape(&report.now),
        if gating.is_empty() {
            format!("nothing fails at or above **{}**", report.fail_on)
        } else {
            format!(
                "**{} rule{} fail at or above {}**",
                gating.len(),
                if gating.len() == 1 { "" } else { "s" },
                report.fail_on
            )
        }
    );
    if let Some(baseline) = &report.baseline {
        let _ = writeln!(
            out,
            "Only findings new since {}: {} found there too are left out.\n",
            escape(&baseline.revision.rev),
            baseline.known
        );
    }
    out.push_str("| severity | fail | error | waived | not evaluated | not applicable | pass |\n");
    out.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for severity in Severity::ALL {
        let of = |status: Status| {
            report
                .outcomes
                .iter()
                .filter(|o| o.rule.severity == severity && o.status == status)
                .count()
        };
        let _ = writeln!(
            out,
            "| {severity} | {} | {} | {} | {} | {} | {} |",
            of(Status::Fail),
            of(Status::Error),
            of(Status::Waived),
            of(Status::NotEvaluated),
            of(Status::NotApplicable),
            of(Status::Pass)
        );
    }
    out
}

fn finding_line(finding: &Finding) -> String {
    let mut line = format!(
        "- {}: {}",
        code(&location(finding)),
        escape(&finding.message)
    );
    for evidence in finding.evidence.iter().take(PER_FINDING) {
        let _ = write!(
            line,
            "<br>{} = {}",
            code(&evidence.field),
            code(&value_text(&evidence.value))
        );
    }
    if finding.evidence.len() > PER_FINDING {
        let _ = write!(line, "<br>… {} more", finding.evidence.len() - PER_FINDING);
    }
    line.push('\n');
    line
}

fn failing_section(outcome: &Outcome<'_>) -> String {
    let rule = outcome.rule;
    let shown: Vec<&Finding> = outcome
        .findings
        .iter()
        .filter(|f| matches!(f.status, Status::Fail | Status::Error))
        .collect();
    let label = if outcome.status == Status::Fail {
        "fail"
    } else {
        "error"
    };
    let mut out = format!(
        "<details><summary><b>{}</b> {} ({label}, {}: {} finding{})</summary>\n\n",
        escape(&rule.id),
        escape(&rule.title),
        rule.severity,
        shown.len(),
        if shown.len() == 1 { "" } else { "s" }
    );
    for finding in shown.iter().take(PER_RULE) {
        out.push_str(&finding_line(finding));
    }
    if shown.len() > PER_RULE {
        let _ = writeln!(out, "- … and {} more", shown.len() - PER_RULE);
    }
    if outcome.status == Status::Fail {
        let _ = writeln!(out, "\n**Fix:** {}", escape(rule.remediation.trim()));
    }
    out.push_str("\n</details>\n");
    out
}

/// The Markdown comment, at most [`LIMIT`] characters.
pub fn markdown(report: &Report<'_>) -> String {
    markdown_within(report, LIMIT)
}

/// The Markdown comment, at most `limit` characters (which must leave room for the summary).
pub fn markdown_within(report: &Report<'_>, limit: usize) -> String {
    let mut sections: Vec<String> = Vec::new();
    let mut heading_done = false;
    for severity in Severity::ALL {
        for outcome in report
            .outcomes
            .iter()
            .filter(|o| o.rule.severity == severity)
            .filter(|o| matches!(o.status, Status::Fail | Status::Error))
        {
            if !heading_done {
                sections.push("\n### Failures\n\n".into());
                heading_done = true;
            }
            sections.push(failing_section(outcome));
        }
    }
    let waived: Vec<(&Outcome<'_>, &Finding)> = report
        .outcomes
        .iter()
        .flat_map(|o| o.findings.iter().map(move |f| (o, f)))
        .filter(|(_, f)| f.status == Status::Waived)
        .collect();
    if !waived.is_empty() {
        let mut out = format!(
            "\n<details><summary>{} waived finding{}</summary>\n\n",
            waived.len(),
            if waived.len() == 1 { "" } else { "s" }
        );
        for (outcome, finding) in waived {
            let _ = write!(
                out,
                "- {} {}",
                escape(&outcome.rule.id),
                code(&location(finding))
            );
            if let Some(w) = &finding.waiver {
                let _ = write!(
                    out,
                    ": {} (approved by {}, until {})",
                    escape(&w.reason),
                    escape(&w.approver),
                    escape(&w.expires)
                );
            }
            out.push('\n');
        }
        out.push_str("\n</details>\n");
        sections.push(out);
    }
    let unevaluated: Vec<&Outcome<'_>> = report
        .outcomes
        .iter()
        .filter(|o| o.status == Status::NotEvaluated)
        .collect();
    if !unevaluated.is_empty() {
        let mut out = format!(
            "\n<details><summary>{} rule{} not evaluated</summary>\n\n",
            unevaluated.len(),
            if unevaluated.len() == 1 { "" } else { "s" }
        );
        for outcome in unevaluated {
            let why = outcome.findings.first().map_or("", |f| f.message.as_str());
            let _ = writeln!(out, "- {}: {}", escape(&outcome.rule.id), escape(why));
        }
        out.push_str("\n</details>\n");
        sections.push(out);
    }
    let mut out = header(report);
    // Room for the note, whatever the numbers in it.
    let reserve = 200;
    let mut used = out.chars().count();
    let mut left_out = 0;
    for section in &sections {
        let size = section.chars().count();
        // A section that does not fit is left out; a smaller one after it may still fit.
        if used + size + reserve <= limit {
            out.push_str(section);
            used += size;
        } else {
            left_out += 1;
        }
    }
    if left_out > 0 {
        let _ = writeln!(
            out,
            "\n> **Truncated:** {left_out} more section{} did not fit in a comment; run `butterfly check` for the full report.",
            if left_out == 1 { "" } else { "s" }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;
    use crate::compliance::eval::{self, Context, Coverage};
    use crate::compliance::okta_rules;
    use crate::compliance::rule::{Profile, Rule};
    use crate::compliance::tree::{Index, Tree};
    use crate::diff::render::Revision;

    /// `small` under the stig profile: every rule, most failing.
    fn small_report() -> Report<'static> {
        let catalogue = Catalogue::okta().unwrap();
        let fixture = crate::sim::FixtureTree::embedded("small").unwrap();
        let files = fixture
            .files
            .iter()
            .map(|(path, text)| (path.clone(), serde_json::from_str(text).unwrap()))
            .collect();
        let tree = Tree::from_files(catalogue, files);
        let index = Index::new(catalogue, &tree);
        let context = Context {
            now: "2026-06-01T00:00:00Z".parse().unwrap(),
            taken: Some("2026-06-01T00:00:00Z".parse().unwrap()),
            profile: Profile::Stig,
            coverage: Coverage::default(),
        };
        let all: Vec<&Rule> = okta_rules().unwrap().all().iter().collect();
        Report {
            revision: Revision {
                rev: "main".into(),
                commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
                time: Some("2026-06-01T00:00:00Z".into()),
            },
            now: "2026-06-01T00:00:00Z".into(),
            profile: Profile::Stig,
            framework: None,
            min_severity: Severity::Low,
            fail_on: Severity::High,
            outcomes: eval::evaluate(&all, &index, &context),
            unknown_files: Vec::new(),
            baseline: None,
            sources: Default::default(),
        }
    }

    #[test]
    fn a_long_report_is_cut_at_whole_sections_with_a_note() {
        let report = small_report();
        let full = markdown(&report);
        assert!(full.chars().count() <= LIMIT);
        let whole = markdown_within(&report, usize::MAX / 2);
        assert!(!whole.contains("Truncated"));
        assert!(whole.chars().count() > full.chars().count() || !full.contains("Truncated"));
        let cut = markdown_within(&report, 6_000);
        assert!(cut.chars().count() <= 6_000, "{}", cut.chars().count());
        assert!(cut.starts_with(&header(&report)));
        assert!(cut.contains("> **Truncated:** "), "{cut}");
        assert_eq!(
            cut.matches("<details>").count(),
            cut.matches("</details>").count()
        );
        assert!(cut.matches("<details>").count() >= 2, "{cut}");
    }

    #[test]
    fn escaping_keeps_text_inside_its_cell_and_tag() {
        assert_eq!(
            escape("a|b <script> *x* `y`\nz"),
            "a&#124;b &lt;script&gt; \\*x\\* \\`y\\` z"
        );
        assert_eq!(code("a<b>|c"), "<code>a&lt;b&gt;&#124;c</code>");
    }
}
