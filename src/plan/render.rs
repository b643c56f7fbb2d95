//! A plan for people: text (coloured on a terminal), Markdown for a pull request, and the JSON
//! plan file that `apply` reads.

use std::fmt::Write as _;

use super::{Action, Op, Plan};
use crate::diff::render::Style;

/// The plan file: pretty JSON with a trailing newline.
pub fn json(plan: &Plan) -> String {
    let mut text = serde_json::to_string_pretty(plan).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}

/// `2 to create, 1 to update` (or `no change`).
pub fn summary(plan: &Plan) -> String {
    let counts = plan.counts();
    if counts.is_empty() {
        return "no change".into();
    }
    counts
        .iter()
        .map(|(op, n)| format!("{n} to {}", op.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn sign(op: Op) -> &'static str {
    match op {
        Op::Create | Op::AddMember => "+",
        Op::Delete | Op::RemoveMember => "-",
        Op::Update => "~",
        Op::Activate | Op::Deactivate => ">",
    }
}

fn paint(style: Style, op: Op, text: &str) -> String {
    if !style.colour {
        return text.to_string();
    }
    let code = match op {
        Op::Create | Op::AddMember => "32",
        Op::Delete | Op::RemoveMember => "31",
        _ => "33",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

fn action_line(action: &Action) -> String {
    let mut line = format!(
        "{} {} {} \"{}\"",
        sign(action.op),
        action.op.as_str(),
        action.kind,
        action.name
    );
    if let Some(member) = &action.member {
        let _ = write!(line, ": {member}");
    }
    if let Some(id) = action.id.as_ref().filter(|id| !id.starts_with("${")) {
        let _ = write!(line, " ({id})");
    }
    line
}

fn action_details(action: &Action, out: &mut String, indent: &str) {
    let _ = writeln!(out, "{indent}  {}", action.path);
    if let Some(note) = &action.note {
        let _ = writeln!(out, "{indent}  ({note})");
    }
    for change in &action.changes {
        let show =
            |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
        let _ = writeln!(
            out,
            "{indent}  {} {}: {} → {}",
            match change.op {
                crate::diff::Op::Added => "+",
                crate::diff::Op::Removed => "-",
                _ => "~",
            },
            change.pointer,
            show(&change.old),
            show(&change.new)
        );
    }
}

/// The plan as text.
pub fn text(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    let commit = plan
        .desired
        .commit
        .as_deref()
        .map(|c| format!(" ({})", &c[..c.len().min(10)]))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Plan for {} from {}{commit}, live state read at {}: {}",
        plan.org,
        plan.desired.rev,
        plan.read_at,
        summary(plan)
    );
    for action in &plan.actions {
        out.push('\n');
        let _ = writeln!(out, "{}", paint(style, action.op, &action_line(action)));
        action_details(action, &mut out, "");
    }
    if !plan.refused.is_empty() {
        let _ = writeln!(
            out,
            "\nRefused ({}): the plan cannot be applied while these remain",
            plan.refused.len()
        );
        for refusal in &plan.refused {
            let flag = refusal
                .flag
                .as_deref()
                .map(|f| format!("; {f} allows it"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  ! {} {} \"{}\" ({}): {}{flag}",
                refusal.op.as_str(),
                refusal.kind,
                refusal.name,
                refusal.path,
                refusal.why
            );
        }
    }
    if !plan.manual.is_empty() {
        let _ = writeln!(out, "\nTo do by hand ({}):", plan.manual.len());
        for manual in &plan.manual {
            let _ = writeln!(
                out,
                "  * {} \"{}\" ({}): {}",
                manual.kind, manual.name, manual.path, manual.what
            );
        }
    }
    out
}

/// The plan as Markdown (for a pull request), details folded.
pub fn markdown(plan: &Plan) -> String {
    let mut out = format!(
        "### Okta plan for `{}` from `{}`\n\n**{}**\n\n",
        plan.org,
        plan.desired.rev,
        summary(plan)
    );
    if !plan.actions.is_empty() {
        let mut details = String::new();
        for action in &plan.actions {
            let _ = writeln!(details, "{}", action_line(action));
            action_details(action, &mut details, "");
        }
        let fence = if details.contains("```") {
            "````"
        } else {
            "```"
        };
        let _ = writeln!(
            out,
            "<details><summary>{} actions</summary>\n\n{fence}diff\n{details}{fence}\n\n</details>\n",
            plan.actions.len()
        );
    }
    for refusal in &plan.refused {
        let _ = writeln!(
            out,
            "- ⛔ `{} {}` {}: {}{}",
            refusal.op.as_str(),
            refusal.kind,
            refusal.path,
            refusal.why,
            refusal
                .flag
                .as_deref()
                .map(|f| format!(" (`{f}`)"))
                .unwrap_or_default()
        );
    }
    for manual in &plan.manual {
        let _ = writeln!(
            out,
            "- ✋ `{}` {}: {}",
            manual.kind, manual.path, manual.what
        );
    }
    out
}
