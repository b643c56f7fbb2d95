//! `log`: the snapshots of the snapshot branch, newest first, as Butterfly wrote them: the
//! commit and its time, the counts of its message (total and per kind), the kinds it could not
//! read (the `Incomplete-Kinds:` trailer, with the reasons of the "Not read" section), and who
//! changed things: the actors of the System Log events the backup saved with it (the
//! `.butterfly/changes/` files the commit added compared with its parent).
//!
//! `--kind` and `PATH` keep the snapshots whose commit changed a matching file: git names the
//! files that differ from the parent (unchanged folders are skipped by tree id) and
//! `layout::resolve` gives each its kind, so a hand-edited message cannot mislead the filter.
//! The message is only parsed for what it counts ([`parse_message`], pure).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::SecondsFormat;
use git2::Oid;
use serde::Serialize;
use serde_json::Value;

use crate::catalogue::Catalogue;
use crate::ops::backup::changes::DIR as CHANGES_DIR;
use crate::ops::diff::{self, DiffOpError, Opened};
use crate::snapshot::layout;
use crate::snapshot::repo::OrgRepo;
use crate::snapshot::revision::{Rev, RevisionError, Snapshot};

/// The version of the JSON shape; bumped on any change that is not an addition.
pub const JSON_VERSION: u32 = 1;

/// Which snapshots to list.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only snapshots that changed a file of one of these kinds (none: all).
    pub kinds: BTreeSet<String>,
    /// Only snapshots that changed a file at or under one of these paths, relative to the
    /// repository root, a file with or without `.json` or a folder (none: all).
    pub paths: Vec<String>,
}

/// Why the log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Opening the repository or its `butterfly.toml`.
    #[error(transparent)]
    Open(#[from] DiffOpError),
    #[error(transparent)]
    Revision(#[from] RevisionError),
    #[error("unknown kind `{0}`; `butterfly catalogue` lists them")]
    UnknownKind(String),
}

/// Resources added, changed and removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub added: u64,
    pub changed: u64,
    pub removed: u64,
}

impl Counts {
    /// `1 added, 2 changed` (the non-zero ones; `no change` when all are zero).
    pub fn text(&self) -> String {
        let parts: Vec<String> = [
            (self.added, "added"),
            (self.changed, "changed"),
            (self.removed, "removed"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, word)| format!("{n} {word}"))
        .collect();
        if parts.is_empty() {
            "no change".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// What a backup's commit message says (see `ops::backup::commit_message`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// The first line.
    pub summary: String,
    /// `Backup of ORG: …`'s ORG, else the `Okta-Org:` trailer.
    pub org: Option<String>,
    /// The `Backup-Run:` trailer.
    pub run: Option<String>,
    /// The totals of the first line; `None` when it is not in Butterfly's form.
    pub counts: Option<Counts>,
    /// A line per kind that changed: `group_rule: 1 removed`.
    pub kinds: BTreeMap<String, Counts>,
    /// The `Incomplete-Kinds:` trailer.
    pub incomplete: Vec<String>,
    /// The "Not read" section: kind → why.
    pub not_read: BTreeMap<String, String>,
}

/// `1 added, 2 changed, 0 removed` (any order, any subset); `None` when anything else is there.
fn parse_counts(text: &str) -> Option<Counts> {
    let mut counts = Counts::default();
    for part in text.split(',') {
        let (number, word) = part.trim().split_once(' ')?;
        let number: u64 = number.parse().ok()?;
        match word.trim() {
            "added" => counts.added = number,
            "changed" => counts.changed = number,
            "removed" => counts.removed = number,
            _ => return None,
        }
    }
    Some(counts)
}

/// Parses a backup's commit message: the first line `Backup of ORG: A added, C changed,
/// R removed`, a line per kind that changed, an optional "Not read" section, and the trailers
/// `Okta-Org:`, `Backup-Run:` and `Incomplete-Kinds:`. What it does not recognise is ignored.
pub fn parse_message(text: &str) -> Message {
    let mut lines = text.lines();
    let summary = lines.next().unwrap_or_default().trim().to_string();
    let mut message = Message {
        summary: summary.clone(),
        ..Message::default()
    };
    if let Some((org, counts)) = summary
        .strip_prefix("Backup of ")
        .and_then(|rest| rest.rsplit_once(": "))
    {
        message.org = Some(org.to_string());
        message.counts = parse_counts(counts);
    }
    let mut in_not_read = false;
    for line in lines {
        let line = line.trim_end();
        if line.is_empty() {
            in_not_read = false;
            continue;
        }
        if line.starts_with("Not read") {
            in_not_read = true;
            continue;
        }
        if let Some(value) = line.strip_prefix("Okta-Org:") {
            message.org.get_or_insert_with(|| value.trim().to_string());
            continue;
        }
        if let Some(value) = line.strip_prefix("Backup-Run:") {
            message.run = Some(value.trim().to_string());
            continue;
        }
        if let Some(value) = line.strip_prefix("Incomplete-Kinds:") {
            message.incomplete = value
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_string)
                .collect();
            continue;
        }
        let Some((kind, rest)) = line.split_once(": ") else {
            continue;
        };
        if in_not_read {
            message
                .not_read
                .insert(kind.to_string(), rest.trim().to_string());
        } else if let Some(counts) = parse_counts(rest) {
            message.kinds.insert(kind.to_string(), counts);
        }
    }
    message
}

/// Someone (or something) whose System Log events a snapshot saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// The actor's `alternateId` (`jane@acme.com`), else its display name, else its id.
    pub actor: String,
    /// The actor's `displayName` (`null` when it has none).
    pub display_name: Option<String>,
    /// `User`, `PublicClientApp`, `SystemPrincipal`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// How many of the snapshot's events are theirs.
    pub events: u64,
}

/// The distinct actors of `events`, most events first (ties by name).
pub fn actors(events: &[Value]) -> Vec<Actor> {
    let mut by_actor: BTreeMap<String, Actor> = BTreeMap::new();
    for event in events {
        let actor = &event["actor"];
        let text = |key: &str| {
            actor[key]
                .as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let display_name = text("displayName");
        let who = text("alternateId")
            .or_else(|| display_name.clone())
            .or_else(|| text("id"))
            .unwrap_or_else(|| "unknown actor".to_string());
        by_actor
            .entry(who.clone())
            .or_insert_with(|| Actor {
                actor: who,
                display_name,
                kind: text("type").unwrap_or_default(),
                events: 0,
            })
            .events += 1;
    }
    let mut out: Vec<Actor> = by_actor.into_values().collect();
    out.sort_by(|a, b| b.events.cmp(&a.events).then_with(|| a.actor.cmp(&b.actor)));
    out
}

/// One snapshot as `log` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub commit: String,
    /// The first parent (the snapshot, or commit, before), `None` for a root commit.
    pub parent: Option<String>,
    /// The commit's time, RFC 3339, UTC.
    pub time: String,
    pub org: Option<String>,
    pub run: Option<String>,
    /// The message's first line.
    pub summary: String,
    /// Totals from the message; `None` when it is not in Butterfly's form.
    pub counts: Option<Counts>,
    /// Counts per kind that changed, from the message.
    pub kinds: BTreeMap<String, Counts>,
    /// Kinds that could not be read (their files were kept from the snapshot before).
    pub incomplete: Vec<String>,
    /// Why each was not read, when the message says.
    pub not_read: BTreeMap<String, String>,
    /// System Log events saved with this snapshot.
    pub events: u64,
    /// Who those events name as actor.
    pub actors: Vec<Actor>,
}

/// The `log` output; its JSON is the documented shape `{"version":1,"branch":…,"snapshots":[…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub version: u32,
    /// The snapshot branch.
    pub branch: String,
    /// Newest first.
    pub snapshots: Vec<Entry>,
}

/// The snapshots of the snapshot branch, newest first, narrowed to `options`.
pub fn run(opened: &Opened, catalogue: &Catalogue, options: &Options) -> Result<Report, LogError> {
    for kind in &options.kinds {
        if catalogue.kind(kind).is_none() {
            return Err(LogError::UnknownKind(kind.clone()));
        }
    }
    let repo = &opened.repo;
    let branch = &opened.config.backup.branch;
    let mut snapshots = Vec::new();
    for snapshot in repo.snapshots(branch)? {
        if (!options.kinds.is_empty() || !options.paths.is_empty())
            && !changed_selected(repo, catalogue, &snapshot, options)?
        {
            continue;
        }
        let events = events_of(repo, &snapshot)?;
        let message = parse_message(&snapshot.message);
        snapshots.push(Entry {
            commit: snapshot.commit.to_string(),
            parent: snapshot.parent.map(|p| p.to_string()),
            time: snapshot.time.to_rfc3339_opts(SecondsFormat::Secs, true),
            org: message.org,
            run: message.run,
            summary: message.summary,
            counts: message.counts,
            kinds: message.kinds,
            incomplete: message.incomplete,
            not_read: message.not_read,
            events: events.len() as u64,
            actors: actors(&events),
        });
    }
    Ok(Report {
        version: JSON_VERSION,
        branch: branch.clone(),
        snapshots,
    })
}

/// The files under `under` that `snapshot` added or changed or removed, compared with its
/// parent, with whether each is present in the snapshot.
fn changed(
    repo: &OrgRepo,
    snapshot: &Snapshot,
    under: &str,
) -> Result<Vec<(String, Option<Oid>)>, RevisionError> {
    Ok(match snapshot.parent {
        Some(parent) => repo
            .changed_files(Rev::Commit(parent), Rev::Commit(snapshot.commit), &[under])?
            .into_iter()
            .map(|c| (c.path, c.new))
            .collect(),
        None => repo
            .list_files(snapshot.commit, &[under])?
            .into_iter()
            .map(|(path, oid)| (path, Some(oid)))
            .collect(),
    })
}

/// Whether `snapshot` changed a file that `options` selects (its kind and its path).
fn changed_selected(
    repo: &OrgRepo,
    catalogue: &Catalogue,
    snapshot: &Snapshot,
    options: &Options,
) -> Result<bool, RevisionError> {
    Ok(changed(repo, snapshot, layout::ROOT)?
        .iter()
        .any(|(path, _)| {
            diff::selected(path, &options.paths)
                && (options.kinds.is_empty()
                    || layout::resolve(catalogue, path)
                        .is_some_and(|r| options.kinds.contains(&r.kind.name)))
        }))
}

/// The System Log events `snapshot` saved: those of the changes files it added.
fn events_of(repo: &OrgRepo, snapshot: &Snapshot) -> Result<Vec<Value>, RevisionError> {
    let mut events = Vec::new();
    for (path, oid) in changed(repo, snapshot, CHANGES_DIR)? {
        let Some(oid) = oid else { continue };
        let bytes = repo.blob(oid, &path)?;
        match serde_json::from_slice::<Vec<Value>>(&bytes) {
            Ok(saved) => events.extend(saved),
            Err(e) => tracing::warn!(
                commit = %snapshot.commit, path,
                "not the JSON array of System Log events Butterfly writes ({e}); its events are not counted"
            ),
        }
    }
    Ok(events)
}

/// `1 event` or `N events`.
fn events_text(n: u64) -> String {
    if n == 1 {
        "1 event".to_string()
    } else {
        format!("{n} events")
    }
}

/// The log as text: one block per snapshot, newest first, like `git log`. `colour` paints the
/// commit line (a terminal without `NO_COLOR`).
pub fn text(report: &Report, colour: bool) -> String {
    let mut out = String::new();
    if report.snapshots.is_empty() {
        let _ = writeln!(
            out,
            "no snapshot on the branch `{}` matches (run `butterfly backup` to make one)",
            report.branch
        );
        return out;
    }
    for (i, entry) in report.snapshots.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let head = format!("snapshot {}", entry.commit);
        if colour {
            let _ = writeln!(out, "\x1b[33m{head}\x1b[0m");
        } else {
            let _ = writeln!(out, "{head}");
        }
        let _ = writeln!(out, "Date:     {}", entry.time);
        if let Some(org) = &entry.org {
            let _ = writeln!(out, "Org:      {org}");
        }
        match &entry.counts {
            Some(counts) => {
                let total = counts.added + counts.changed + counts.removed;
                let _ = writeln!(out, "Changes:  {total} ({})", counts.text());
            }
            None => {
                let _ = writeln!(
                    out,
                    "Changes:  (not counted in the message) {}",
                    entry.summary
                );
            }
        }
        for (kind, counts) in &entry.kinds {
            let _ = writeln!(out, "          {kind}: {}", counts.text());
        }
        if !entry.incomplete.is_empty() {
            let _ = writeln!(
                out,
                "Not read: {} (their files are kept from the snapshot before)",
                entry.incomplete.join(", ")
            );
            for kind in &entry.incomplete {
                if let Some(why) = entry.not_read.get(kind) {
                    let _ = writeln!(out, "          {kind}: {why}");
                }
            }
        }
        if entry.actors.is_empty() {
            let _ = writeln!(out, "Who:      no System Log event was saved with it");
        } else {
            let who: Vec<String> = entry
                .actors
                .iter()
                .map(|a| format!("{} ({})", a.actor, events_text(a.events)))
                .collect();
            let _ = write!(out, "Who:      {}", who.join(", "));
            if entry.actors.len() > 1 {
                let _ = write!(out, " — {} in all", events_text(entry.events));
            }
            out.push('\n');
        }
    }
    out
}

/// The log as JSON: pretty, with a trailing newline.
pub fn json(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FULL: &str = "Backup of acme.okta.com: 2 added, 5 changed, 1 removed

app: 2 added
group_rule: 1 removed
policy_rule: 5 changed

Not read (their files are kept from the previous snapshot):
authenticator: 403 Forbidden: E0000006 You do not have permission (missing scope)
idp: the org lacks the feature

Okta-Org: acme.okta.com
Backup-Run: 20261123T100000Z-42
Incomplete-Kinds: authenticator, idp
";

    #[test]
    fn a_backup_message_gives_its_counts_kinds_and_trailers() {
        let message = parse_message(FULL);
        assert_eq!(
            message.summary,
            "Backup of acme.okta.com: 2 added, 5 changed, 1 removed"
        );
        assert_eq!(message.org.as_deref(), Some("acme.okta.com"));
        assert_eq!(message.run.as_deref(), Some("20261123T100000Z-42"));
        assert_eq!(
            message.counts,
            Some(Counts {
                added: 2,
                changed: 5,
                removed: 1
            })
        );
        assert_eq!(message.kinds.len(), 3, "{:?}", message.kinds);
        assert_eq!(message.kinds["app"].added, 2);
        assert_eq!(message.kinds["group_rule"].removed, 1);
        assert_eq!(message.kinds["policy_rule"].changed, 5);
        assert_eq!(message.incomplete, vec!["authenticator", "idp"]);
        assert!(message.not_read["authenticator"].contains("E0000006"));
        assert_eq!(message.not_read["idp"], "the org lacks the feature");
        assert!(!message.kinds.contains_key("authenticator"));
    }

    #[test]
    fn a_message_in_another_form_keeps_its_summary_and_nothing_else() {
        let message = parse_message("Edited by hand\n\nBackup-Run: manual\n");
        assert_eq!(message.summary, "Edited by hand");
        assert_eq!(message.counts, None);
        assert!(message.kinds.is_empty() && message.incomplete.is_empty());
        assert_eq!(message.run.as_deref(), Some("manual"));
        assert_eq!(parse_counts("3 added, 1 renamed"), None);
        assert_eq!(parse_counts("1 removed").map(|c| c.removed), Some(1));
        // A first line with an org but no counts.
        let odd = parse_message("Backup of acme.okta.com: done\n");
        assert_eq!(odd.org.as_deref(), Some("acme.okta.com"));
        assert_eq!(odd.counts, None);
    }

    #[test]
    fn actors_are_counted_most_events_first() {
        let events = vec![
            json!({"actor": {"id": "00u1", "type": "User", "alternateId": "jane@acme.com", "displayName": "Jane"}}),
            json!({"actor": {"id": "0oa1", "type": "PublicClientApp", "displayName": "Terraform"}}),
            json!({"actor": {"id": "00u1", "type": "User", "alternateId": "jane@acme.com", "displayName": "Jane"}}),
            json!({"actor": {"id": "0oa2", "type": "PublicClientApp"}}),
            json!({}),
        ];
        let found = actors(&events);
        let names: Vec<(&str, u64)> = found.iter().map(|a| (a.actor.as_str(), a.events)).collect();
        assert_eq!(
            names,
            vec![
                ("jane@acme.com", 2),
                ("0oa2", 1),
                ("Terraform", 1),
                ("unknown actor", 1)
            ]
        );
        assert_eq!(found[0].display_name.as_deref(), Some("Jane"));
        assert_eq!(found[0].kind, "User");
    }

    fn entry() -> Entry {
        let message = parse_message(FULL);
        Entry {
            commit: "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d".into(),
            parent: None,
            time: "2026-11-23T10:00:00Z".into(),
            org: message.org,
            run: message.run,
            summary: message.summary,
            counts: message.counts,
            kinds: message.kinds,
            incomplete: message.incomplete,
            not_read: message.not_read,
            events: 3,
            actors: vec![
                Actor {
                    actor: "jane@acme.com".into(),
                    display_name: Some("Jane".into()),
                    kind: "User".into(),
                    events: 2,
                },
                Actor {
                    actor: "Terraform".into(),
                    display_name: Some("Terraform".into()),
                    kind: "PublicClientApp".into(),
                    events: 1,
                },
            ],
        }
    }

    #[test]
    fn text_has_one_block_per_snapshot() {
        let mut quiet = entry();
        quiet.commit = "ffff".into();
        quiet.actors.clear();
        quiet.events = 0;
        quiet.incomplete.clear();
        let report = Report {
            version: JSON_VERSION,
            branch: "main".into(),
            snapshots: vec![entry(), quiet],
        };
        let text = text(&report, false);
        let expected = "\
snapshot 1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d
Date:     2026-11-23T10:00:00Z
Org:      acme.okta.com
Changes:  8 (2 added, 5 changed, 1 removed)
          app: 2 added
          group_rule: 1 removed
          policy_rule: 5 changed
Not read: authenticator, idp (their files are kept from the snapshot before)
          authenticator: 403 Forbidden: E0000006 You do not have permission (missing scope)
          idp: the org lacks the feature
Who:      jane@acme.com (2 events), Terraform (1 event) — 3 events in all

snapshot ffff
Date:     2026-11-23T10:00:00Z
Org:      acme.okta.com
Changes:  8 (2 added, 5 changed, 1 removed)
          app: 2 added
          group_rule: 1 removed
          policy_rule: 5 changed
Who:      no System Log event was saved with it
";
        assert_eq!(text, expected);
        let empty = Report {
            version: JSON_VERSION,
            branch: "main".into(),
            snapshots: Vec::new(),
        };
        assert!(super::text(&empty, false).contains("`main`"));
    }

    #[test]
    fn json_has_the_documented_shape() {
        let report = Report {
            version: JSON_VERSION,
            branch: "main".into(),
            snapshots: vec![entry()],
        };
        let value: Value = serde_json::from_str(&json(&report)).unwrap();
        assert_eq!(value["version"], 1);
        let snapshot = &value["snapshots"][0];
        for key in [
            "commit",
            "parent",
            "time",
            "org",
            "run",
            "summary",
            "counts",
            "kinds",
            "incomplete",
            "not_read",
            "events",
            "actors",
        ] {
            assert!(snapshot.get(key).is_some(), "{key} in {snapshot:#}");
        }
        assert_eq!(
            snapshot["counts"],
            json!({"added": 2, "changed": 5, "removed": 1})
        );
        assert_eq!(
            snapshot["actors"][0],
            json!({"actor": "jane@acme.com", "display_name": "Jane", "type": "User", "events": 2})
        );
    }
}
