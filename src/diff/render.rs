//! A diff as text (coloured like `git diff` when asked), JSON (the stable shape of
//! [`Report`]) and Markdown for a pull-request comment (at most 65,536 characters, long parts
//! folded into `<details>`).

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use super::impact::{AppAccess, Coverage, GroupAccess, Population};
use super::{Change, Diff, Field, Member, Named, Op, ResourceChange};

/// The version of the JSON shape; bumped on any change that is not an addition.
pub const JSON_VERSION: u32 = 1;

/// GitHub's limit on a comment's body.
pub const MARKDOWN_LIMIT: usize = 65_536;

/// Names and events listed before "and N more" in text and Markdown.
const LISTED: usize = 10;

/// The longest Markdown block of one resource's changes, in bytes; longer ones are cut at a
/// line and say how many lines were left out.
const MARKDOWN_DETAILS: usize = 16_000;

/// One side of a diff as the report names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revision {
    /// As the user gave it (`main~1`, `@2026-11-20`, `WORKTREE`).
    pub rev: String,
    /// The commit, `None` for the working tree.
    pub commit: Option<String>,
    /// The commit's time (RFC 3339, UTC).
    pub time: Option<String>,
}

impl Revision {
    fn label(&self) -> String {
        match (&self.commit, &self.time) {
            (Some(commit), Some(time)) => format!("{} ({time})", &commit[..commit.len().min(10)]),
            (Some(commit), None) => commit[..commit.len().min(10)].to_string(),
            _ => self.rev.clone(),
        }
    }
}

/// A diff with what it compares: the JSON output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub version: u32,
    pub from: Revision,
    pub to: Revision,
    /// System Log events saved between the two snapshots (attributed or not).
    pub events_saved: u64,
    #[serde(flatten)]
    pub diff: Diff,
}

/// Colours for a terminal.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub colour: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }
    fn red(self, text: &str) -> String {
        self.paint("31", text)
    }
    fn green(self, text: &str) -> String {
        self.paint("32", text)
    }
    fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }
    fn cyan(self, text: &str) -> String {
        self.paint("36", text)
    }
    fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
}

/// The JSON output: pretty, with a trailing newline.
pub fn json(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}

fn value_text(value: &Value) -> String {
    value.to_string()
}

/// `3 resources: 1 added, 1 removed, 1 changed`.
fn counts_line(diff: &Diff) -> String {
    let c = diff.counts;
    if c.total() == 0 {
        return "no resource changed".to_string();
    }
    let noun = if c.total() == 1 {
        "resource"
    } else {
        "resources"
    };
    format!("{} {noun}: {}", c.total(), kind_counts(&c))
}

fn kind_counts(c: &super::Counts) -> String {
    let mut parts = Vec::new();
    for (n, word) in [
        (c.added, "added"),
        (c.removed, "removed"),
        (c.renamed, "renamed"),
        (c.changed, "changed"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    parts.join(", ")
}

/// `policy_rule "Engineers via Google" in policy "Engineering apps" (0pr…)`.
fn title(resource: &ResourceChange) -> String {
    let mut out = format!("{} \"{}\"", resource.kind, resource.name);
    if resource.id.is_some()
        && let Some(parent) = &resource.parent
    {
        let _ = write!(out, " in {} \"{}\"", parent.kind, parent.short());
    }
    if let Some(id) = &resource.id {
        let _ = write!(out, " ({id})");
    }
    out
}

/// Names, the first ten, then how many more.
fn listing(names: &[Named]) -> String {
    let mut shown: Vec<&str> = names.iter().take(LISTED).map(Named::short).collect();
    let more = names.len().saturating_sub(LISTED);
    let more_text = format!("and {more} more");
    if more > 0 {
        shown.push(&more_text);
    }
    shown.join(", ")
}

fn reference_note(field: &Field, side: super::names::Which) -> String {
    let labels: Vec<String> = field
        .references
        .iter()
        .filter(|r| r.side == side)
        .map(|r| r.target.label())
        .collect();
    labels.join(", ")
}

/// The lines of one field change: `~ /pointer: old → new`.
fn field_lines(field: &Field, style: Style, out: &mut String, indent: &str) {
    use super::names::Which;
    let change = &field.change;
    let old = change.old.as_ref().map(value_text).unwrap_or_default();
    let new = change.new.as_ref().map(value_text).unwrap_or_default();
    let old_refs = reference_note(field, Which::Old);
    let new_refs = reference_note(field, Which::New);
    let refs = |text: &str| {
        if text.is_empty() {
            String::new()
        } else {
            style.dim(&format!("  [{text}]"))
        }
    };
    let line = match change.op {
        Op::Added => style.green(&format!("+ {}: {new}", change.pointer)) + &refs(&new_refs),
        Op::Removed => style.red(&format!("- {}: {old}", change.pointer)) + &refs(&old_refs),
        Op::Changed => format!(
            "{} {} {} {}{}",
            style.yellow(&format!("~ {}:", change.pointer)),
            style.red(&old),
            "→",
            style.green(&new),
            refs(
                &[old_refs, new_refs]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" → ")
            )
        ),
        Op::Reordered => format!(
            "{} {} {} {}",
            style.yellow(&format!("~ {} (reordered):", change.pointer)),
            style.red(&old),
            "→",
            style.green(&new)
        ),
    };
    let _ = writeln!(out, "{indent}{line}");
}

/// The leaves of a value as `pointer: value`, for added and removed resources.
fn leaves(value: &Value, pointer: String, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                leaves(
                    v,
                    format!("{pointer}/{}", crate::catalogue::pointer_token(k)),
                    out,
                );
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                leaves(v, format!("{pointer}/{i}"), out);
            }
        }
        other => out.push((pointer, other.clone())),
    }
}

fn member_line(member: &Member, style: Style, out: &mut String) {
    let label = member.member.label();
    match member.change {
        Change::Added => {
            let _ = writeln!(out, "  {}", style.green(&format!("+ {label}")));
        }
        Change::Removed => {
            let _ = writeln!(out, "  {}", style.red(&format!("- {label}")));
        }
        _ => {
            let _ = writeln!(out, "  {}", style.yellow(&format!("~ {label}")));
            for field in &member.fields {
                field_lines(field, style, out, "    ");
            }
        }
    }
}

fn population(p: &Population) -> String {
    if p.everyone {
        format!("everyone ({} users)", p.users)
    } else {
        format!("{} users", p.users)
    }
}

/// `3 lost it: a, b, c` and `1 gained it: d`, for what is not empty.
fn gained_and_lost(lost: &[Named], gained: &[Named], noun: &str) -> Vec<String> {
    let mut parts = Vec::new();
    for (names, verb) in [(lost, "lost"), (gained, "gained")] {
        if !names.is_empty() {
            parts.push(format!(
                "{}{noun} {verb} it: {}",
                names.len(),
                listing(names)
            ));
        }
    }
    parts
}

fn group_access_lines(access: &GroupAccess, out: &mut String) {
    let _ = write!(out, "  access: group \"{}\": ", access.group.short());
    let parts = gained_and_lost(&access.lost, &access.gained, "");
    if parts.is_empty() {
        out.push_str("no member gained or lost between these snapshots");
    } else {
        out.push_str(&parts.join("; "));
    }
    if access.apps.is_empty() {
        out.push_str("; it grants no app");
    } else {
        let _ = write!(out, "; it grants apps: {}", listing(&access.apps));
    }
    out.push('\n');
}

fn app_access_lines(access: &AppAccess, out: &mut String) {
    let _ = write!(out, "  access: app \"{}\": ", access.app.short());
    let mut parts = gained_and_lost(&access.lost, &access.gained, " users");
    if parts.is_empty() {
        parts.push("no user gained or lost it".into());
    }
    out.push_str(&parts.join("; "));
    if !access.via_groups.is_empty() {
        let _ = write!(out, " (through groups {})", listing(&access.via_groups));
    }
    out.push('\n');
}

fn coverage_lines(coverage: &Coverage, out: &mut String) {
    let _ = write!(
        out,
        "  access: the rule covered {}, now {}",
        population(&coverage.before),
        population(&coverage.after)
    );
    if !coverage.lost.is_empty() {
        let _ = write!(
            out,
            "; {} left it: {}",
            coverage.lost.len(),
            listing(&coverage.lost)
        );
    }
    if !coverage.gained.is_empty() {
        let _ = write!(
            out,
            "; {} entered it: {}",
            coverage.gained.len(),
            listing(&coverage.gained)
        );
    }
    out.push('\n');
}

/// One resource in text.
fn resource_text(resource: &ResourceChange, style: Style, out: &mut String) {
    let word = match resource.change {
        Change::Added => style.green("added"),
        Change::Removed => style.red("removed"),
        Change::Renamed => style.yellow("renamed"),
        Change::Changed => style.yellow("changed"),
    };
    let _ = writeln!(out, "{} {}", word, style.bold(&title(resource)));
    match &resource.old_path {
        Some(old) => {
            if let Some(old_name) = &resource.old_name {
                let _ = writeln!(out, "  was \"{old_name}\"");
            }
            let _ = writeln!(
                out,
                "  {}",
                style.cyan(&format!("file {old} → {}", resource.path))
            );
        }
        None => {
            let _ = writeln!(out, "  {}", style.cyan(&format!("file {}", resource.path)));
        }
    }
    for field in &resource.fields {
        field_lines(field, style, out, "  ");
    }
    if let Some(body) = &resource.body {
        let mut found = Vec::new();
        leaves(body, String::new(), &mut found);
        for (pointer, value) in found {
            let refs: Vec<String> = resource
                .references
                .iter()
                .filter(|r| r.pointer == pointer)
                .map(|r| r.target.label())
                .collect();
            let note = if refs.is_empty() {
                String::new()
            } else {
                style.dim(&format!("  [{}]", refs.join(", ")))
            };
            let line = format!("{pointer}: {}", value_text(&value));
            let line = if resource.change == Change::Added {
                style.green(&format!("+ {line}"))
            } else {
                style.red(&format!("- {line}"))
            };
            let _ = writeln!(out, "  {line}{note}");
        }
    }
    for member in &resource.members {
        member_line(member, style, out);
    }
    if resource.events.is_empty() {
        let _ = writeln!(
            out,
            "  who: {}",
            style.dim("no System Log event names this resource between these snapshots")
        );
    }
    for event in resource.events.iter().take(LISTED) {
        let mut line = format!(
            "  who: {} {} ({}) {}",
            event.published,
            event.who(),
            event.actor.kind,
            event.event_type
        );
        if let Some(ip) = &event.client_ip {
            let _ = write!(line, " from {ip}");
        }
        let _ = writeln!(out, "{line}");
    }
    if resource.events.len() > LISTED {
        let _ = writeln!(
            out,
            "  who: and {} more events",
            resource.events.len() - LISTED
        );
    }
    for access in &resource.impact.groups {
        group_access_lines(access, out);
    }
    for access in &resource.impact.apps {
        app_access_lines(access, out);
    }
    if let Some(coverage) = &resource.impact.coverage {
        coverage_lines(coverage, out);
    }
}

/// The diff as text.
pub fn text(report: &Report, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        style.bold(&format!(
            "diff {} → {}",
            report.from.label(),
            report.to.label()
        ))
    );
    let _ = writeln!(out, "{}", counts_line(&report.diff));
    for (kind, counts) in &report.diff.kinds {
        let _ = writeln!(out, "  {kind}: {}", kind_counts(counts));
    }
    for resource in &report.diff.resources {
        out.push('\n');
        resource_text(resource, style, &mut out);
    }
    if !report.diff.other_files.is_empty() {
        out.push('\n');
        let _ = writeln!(
            out,
            "Other files changed (no resource kind): {}",
            report.diff.other_files.join(", ")
        );
    }
    out
}

/// Inline code in Markdown, safe whatever the text holds.
fn code(text: &str) -> String {
    let text = text.replace('\n', " ");
    let mut fence = "`".to_string();
    while text.contains(&fence) {
        fence.push('`');
    }
    if text.starts_with('`') || text.ends_with('`') || fence.len() > 1 {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

/// Text for Markdown outside code: characters that would start markup escaped.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!' | '~'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One resource in Markdown.
fn resource_markdown(resource: &ResourceChange) -> String {
    let plain_style = Style { colour: false };
    let mut out = String::new();
    let sign = match resource.change {
        Change::Added => "➕ added",
        Change::Removed => "➖ removed",
        Change::Renamed => "✏️ renamed",
        Change::Changed => "✏️ changed",
    };
    let _ = writeln!(out, "#### {sign} {}\n", plain(&title(resource)));
    let _ = writeln!(out, "File {}\n", code(&resource.path));
    // The details: the same lines as text, in a code block, folded when long.
    let mut details = String::new();
    for field in &resource.fields {
        field_lines(field, plain_style, &mut details, "");
    }
    if let Some(body) = &resource.body {
        let mut found = Vec::new();
        leaves(body, String::new(), &mut found);
        let sign = if resource.change == Change::Added {
            '+'
        } else {
            '-'
        };
        for (pointer, value) in found {
            let _ = writeln!(details, "{sign} {pointer}: {}", value_text(&value));
        }
    }
    for member in &resource.members {
        member_line(member, plain_style, &mut details);
    }
    let lines = details.lines().count();
    if details.len() > MARKDOWN_DETAILS {
        let mut cut = MARKDOWN_DETAILS;
        while !details.is_char_boundary(cut) {
            cut -= 1;
        }
        let cut = details[..cut].rfind('\n').map_or(0, |at| at + 1);
        let kept = details[..cut].lines().count();
        details.truncate(cut);
        let _ = writeln!(
            details,
            "… {} more lines (butterfly diff --format json has them all)",
            lines - kept
        );
    }
    if !details.is_empty() {
        let fence = if details.contains("```") {
            "````"
        } else {
            "```"
        };
        let block = format!("{fence}diff\n{details}{fence}\n");
        if lines > LISTED {
            let _ = writeln!(
                out,
                "<details><summary>{lines} lines</summary>\n\n{block}\n</details>\n"
            );
        } else {
            let _ = writeln!(out, "{block}");
        }
    }
    if resource.events.is_empty() {
        out.push_str("Who: no System Log event names this resource between these snapshots.\n\n");
    } else {
        out.push_str("Who:\n");
        for event in resource.events.iter().take(LISTED) {
            let ip = event
                .client_ip
                .as_ref()
                .map(|ip| format!(" from {}", code(ip)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "- {} {} {}{ip}",
                code(&event.published),
                plain(event.who()),
                code(&event.event_type)
            );
        }
        if resource.events.len() > LISTED {
            let _ = writeln!(out, "- and {} more events", resource.events.len() - LISTED);
        }
        out.push('\n');
    }
    let mut access = String::new();
    for group in &resource.impact.groups {
        group_access_lines(group, &mut access);
    }
    for app in &resource.impact.apps {
        app_access_lines(app, &mut access);
    }
    if let Some(coverage) = &resource.impact.coverage {
        coverage_lines(coverage, &mut access);
    }
    for line in access.lines() {
        let _ = writeln!(
            out,
            "- {}",
            plain(line.trim_start().trim_start_matches("access: "))
        );
    }
    if !access.is_empty() {
        out.push('\n');
    }
    out
}

/// The diff as Markdown for a pull-request comment, at most `MARKDOWN_LIMIT` characters.
pub fn markdown(report: &Report) -> String {
    let diff = &report.diff;
    let mut out = format!(
        "### Okta changes {} → {}\n\n{}\n\n",
        code(&report.from.label()),
        code(&report.to.label()),
        plain(&counts_line(diff))
    );
    if !diff.kinds.is_empty() {
        out.push_str(
            "| kind | added | removed | renamed | changed |\n| --- | --: | --: | --: | --: |\n",
        );
        for (kind, c) in &diff.kinds {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                code(kind),
                c.added,
                c.removed,
                c.renamed,
                c.changed
            );
        }
        out.push('\n');
    }
    // Room kept for the note on what was left out.
    const RESERVE: usize = 400;
    for (shown, resource) in diff.resources.iter().enumerate() {
        let section = resource_markdown(resource);
        if out.len() + section.len() + RESERVE > MARKDOWN_LIMIT {
            let left = diff.resources.len() - shown;
            let _ = writeln!(
                out,
                "_{left} more changed resources are not shown: this comment is limited to {MARKDOWN_LIMIT} characters. `butterfly diff --format json` lists them all._"
            );
            break;
        }
        out.push_str(&section);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::names::Which;
    use crate::diff::{Counts, Field, FieldChange, Reference};
    use serde_json::json;

    fn named(kind: &str, id: &str, name: &str) -> Named {
        Named {
            kind: kind.into(),
            id: id.into(),
            name: Some(name.into()),
        }
    }

    fn resource(i: usize, members: usize) -> ResourceChange {
        ResourceChange {
            kind: "group_rule".into(),
            id: Some(format!("0pr{i:017}")),
            name: format!("Rule {i}"),
            old_name: None,
            change: Change::Changed,
            path: format!("okta/group-rules/Rule {i}.json"),
            old_path: None,
            parent: None,
            fields: vec![Field {
                change: FieldChange {
                    pointer: "/actions/assignUserToGroups/groupIds/0".into(),
                    op: Op::Changed,
                    old: Some(json!("00g1aaaaaaaaaaaaaaaa")),
                    new: Some(json!("00g1bbbbbbbbbbbbbbbb")),
                    at: Vec::new(),
                },
                references: vec![Reference {
                    pointer: "/actions/assignUserToGroups/groupIds/0".into(),
                    side: Which::New,
                    target: named("group", "00g1bbbbbbbbbbbbbbbb", "Engineering"),
                }],
            }],
            body: None,
            references: Vec::new(),
            members: (0..members)
                .map(|m| Member {
                    member: named(
                        "user",
                        &format!("00u{m:017}"),
                        &format!("user{m}@example.com"),
                    ),
                    change: Change::Removed,
                    fields: Vec::new(),
                })
                .collect(),
            events: Vec::new(),
            impact: Impact::default(),
        }
    }

    fn report(resources: Vec<ResourceChange>) -> Report {
        let counts = Counts {
            changed: resources.len() as u64,
            ..Counts::default()
        };
        Report {
            version: JSON_VERSION,
            from: Revision {
                rev: "main~1".into(),
                commit: Some("a".repeat(40)),
                time: Some("2026-11-22T10:00:00Z".into()),
            },
            to: Revision {
                rev: "main".into(),
                commit: Some("b".repeat(40)),
                time: Some("2026-11-23T10:00:00Z".into()),
            },
            events_saved: 0,
            diff: Diff {
                counts,
                kinds: [("group_rule".to_string(), counts)].into_iter().collect(),
                resources,
                other_files: Vec::new(),
            },
        }
    }

    use super::super::Impact;

    #[test]
    fn text_names_references_and_is_plain_unless_coloured() {
        let report = report(vec![resource(1, 0)]);
        let plain = text(&report, Style { colour: false });
        assert!(plain.contains(
            "~ /actions/assignUserToGroups/groupIds/0: \"00g1aaaaaaaaaaaaaaaa\" → \"00g1bbbbbbbbbbbbbbbb\"  [group 00g1bbbbbbbbbbbbbbbb (Engineering)]"
        ), "{plain}");
        assert!(
            plain.contains("who: no System Log event names this resource"),
            "{plain}"
        );
        assert!(!plain.contains('\x1b'));
        assert!(text(&report, Style { colour: true }).contains("\x1b[31m"));
    }

    #[test]
    fn markdown_stays_under_githubs_limit_and_says_what_it_left_out() {
        let many = report((0..3000).map(|i| resource(i, 0)).collect());
        let text = markdown(&many);
        assert!(text.chars().count() <= MARKDOWN_LIMIT, "{}", text.len());
        assert!(
            text.contains("more changed resources are not shown"),
            "{}",
            &text[text.len() - 300..]
        );
        // One huge resource: its lines are cut, folded, and it still fits.
        let huge = report(vec![resource(1, 20_000)]);
        let text = markdown(&huge);
        assert!(text.chars().count() <= MARKDOWN_LIMIT);
        assert!(
            text.contains("<details><summary>20001 lines</summary>"),
            "{}",
            &text[..600]
        );
        assert!(text.contains("more lines (butterfly diff --format json has them all)"));
    }

    #[test]
    fn markdown_code_spans_survive_backticks() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(plain("a|b <c>"), "a\\|b \\<c\\>");
    }
}
