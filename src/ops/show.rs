//! `show`: the resources as they were at a revision (DESIGN.md's vocabulary: a git revision,
//! `@TIME`, `WORKTREE`), for the files or folders asked for, each with its kind, id and name
//! and every reference named through that revision's `.butterfly/index.json` (the same naming
//! as `diff`: `diff::names::in_body` over an `ops::diff::RepoSide`). Relationship files (a
//! group's members, an app's assignments) name each member the same way.
//!
//! Without a path it shows no resource (a whole org is too large to read through) but an
//! overview: the kinds at that revision with how many files each has and the folder they are
//! in, so the next command can name one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::catalogue::{Catalogue, Shape, pointer_token};
use crate::diff::names::{self, Which};
use crate::diff::{Named, ReadError, Side as _, display_name, text as scalar_text};
use crate::ops::diff::{self, DiffOpError, Opened, RepoSide, entries_by_path};
use crate::snapshot::layout;
use crate::snapshot::revision::{Rev, RevisionError};

/// The version of the JSON shape; bumped on any change that is not an addition.
pub const JSON_VERSION: u32 = 1;

/// What to show.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The revision (`main~1`, a commit, `@2026-11-20`, `WORKTREE`).
    pub rev: String,
    /// Files (with or without `.json`) or folders under `okta/`, relative to the repository
    /// root; none: the overview of kinds.
    pub paths: Vec<String>,
}

/// Why a revision's files could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum ShowError {
    /// Opening the repository or its `butterfly.toml`, or describing the revision.
    #[error(transparent)]
    Open(#[from] DiffOpError),
    #[error(transparent)]
    Revision(#[from] RevisionError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(
        "`{path}`: not a path under {root}/, where the resources are (e.g. {root}/groups/Engineering)",
        root = layout::ROOT
    )]
    OutsideResources { path: String },
    #[error("`{path}`: no such file or folder at {rev}")]
    UnknownPath { path: String, rev: String },
}

/// A reference of a shown file, named at the revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reference {
    /// Where the id is in `body` (RFC 6901).
    pub pointer: String,
    pub target: Named,
}

/// One file at the revision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shown {
    pub path: String,
    /// The catalogue kind; `None` for a file no kind's layout matches.
    pub kind: Option<String>,
    /// Okta's id (`None` for relationship files and singletons without one).
    pub id: Option<String>,
    /// The natural key as people read it (`Engineering`), or `Group members of Engineering`.
    pub name: String,
    /// The canonical JSON.
    pub body: Value,
    /// Every reference in `body`, named.
    pub references: Vec<Reference>,
}

/// A kind present at the revision (the overview).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KindFiles {
    pub kind: String,
    pub files: u64,
    /// The folder holding all of them (`okta/groups`).
    pub folder: String,
}

/// The `show` output; its JSON is the documented shape
/// `{"version":1,"rev":…,"commit":…,"time":…,"files":[…]}` (plus `kinds` for the overview).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub version: u32,
    /// As the user gave it.
    pub rev: String,
    /// The commit, `None` for the working tree.
    pub commit: Option<String>,
    /// The commit's time (RFC 3339, UTC).
    pub time: Option<String>,
    /// The files asked for, by path.
    pub files: Vec<Shown>,
    /// Without a path: the kinds at the revision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kinds: Option<Vec<KindFiles>>,
}

/// A path as given (`./okta/groups/`, `okta/groups/Eng.json`), checked and trimmed.
fn normalise(path: &str) -> Result<String, ShowError> {
    let trimmed = path.trim_start_matches("./").trim_end_matches('/');
    let inside = trimmed == layout::ROOT
        || trimmed
            .strip_prefix(layout::ROOT)
            .is_some_and(|rest| rest.starts_with('/'));
    let plain = !trimmed
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..");
    if inside && plain {
        Ok(trimmed.to_string())
    } else {
        Err(ShowError::OutsideResources {
            path: path.to_string(),
        })
    }
}

/// How messages name the revision: `main~1 (1a2b3c4d5e)`, `WORKTREE`.
fn label(text: &str, rev: Rev) -> String {
    match rev {
        Rev::Worktree => text.to_string(),
        Rev::Commit(commit) => {
            let id = commit.to_string();
            let short = &id[..10];
            if id.starts_with(text) {
                short.to_string()
            } else {
                format!("{text} ({short})")
            }
        }
    }
}

/// The files at `options.rev` under `options.paths`, or the overview of kinds without a path.
pub fn run(opened: &Opened, catalogue: &Catalogue, options: &Options) -> Result<Report, ShowError> {
    let repo = &opened.repo;
    let rev = repo.revision(&options.rev, &opened.config.backup.branch)?;
    let described = diff::describe(repo, &options.rev, rev)?;
    let label = label(&options.rev, rev);
    let mut report = Report {
        version: JSON_VERSION,
        rev: described.rev,
        commit: described.commit,
        time: described.time,
        files: Vec::new(),
        kinds: None,
    };
    if options.paths.is_empty() {
        let files = repo.files_under(rev, layout::ROOT)?;
        report.kinds = Some(overview(catalogue, &files));
        return Ok(report);
    }
    let mut paths = BTreeSet::new();
    for given in &options.paths {
        let path = normalise(given)?;
        let mut found = repo.files_under(rev, &path)?;
        if !path.ends_with(".json") {
            found.extend(repo.files_under(rev, &layout::file_path(&path))?);
        }
        if found.is_empty() {
            return Err(ShowError::UnknownPath {
                path: given.clone(),
                rev: label,
            });
        }
        paths.extend(found);
    }
    let side = RepoSide::new(repo, rev, label.clone())?;
    let by_path: HashMap<String, (String, String)> = entries_by_path(&side)
        .into_iter()
        .map(|(path, (id, entry))| (path, (id, entry.name)))
        .collect();
    for path in paths {
        let body = side.file(&path)?.ok_or_else(|| ShowError::UnknownPath {
            path: path.clone(),
            rev: label.clone(),
        })?;
        report
            .files
            .push(shown(catalogue, &side, &by_path, path, body));
    }
    Ok(report)
}

/// One file with its kind, id, name and named references.
fn shown(
    catalogue: &Catalogue,
    side: &RepoSide<'_>,
    by_path: &HashMap<String, (String, String)>,
    path: String,
    body: Value,
) -> Shown {
    let Some(resolved) = layout::resolve(catalogue, &path) else {
        let name = path
            .rsplit('/')
            .next()
            .unwrap_or(&path)
            .trim_end_matches(".json")
            .to_string();
        return Shown {
            path,
            kind: None,
            id: None,
            name,
            body,
            references: Vec::new(),
        };
    };
    let kind = resolved.kind;
    let (id, name, references) = match &kind.shape {
        Shape::Relationship { .. } => {
            let parent_name = resolved.parent.as_deref().map(|stem| {
                match by_path.get(&layout::file_path(stem)) {
                    Some((_, name)) => name.clone(),
                    None => stem.rsplit('/').next().unwrap_or(stem).to_string(),
                }
            });
            let name = match parent_name {
                Some(parent) => format!("{} of {parent}", kind.title),
                None => kind.title.clone(),
            };
            let mut references = Vec::new();
            if let Value::Array(members) = &body {
                for (i, member) in members.iter().enumerate() {
                    references.extend(
                        names::in_body(kind, member, side, Which::New)
                            .into_iter()
                            .map(|r| Reference {
                                pointer: format!("/{i}{}", r.pointer),
                                target: r.target,
                            }),
                    );
                }
            }
            (None, name, references)
        }
        Shape::Resource | Shape::Singleton => {
            let id = kind
                .id
                .as_ref()
                .and_then(|p| p.get(&body))
                .and_then(scalar_text);
            let name = by_path
                .get(&path)
                .map(|(_, name)| name.clone())
                .unwrap_or_else(|| display_name(kind, &body));
            let references = names::in_body(kind, &body, side, Which::New)
                .into_iter()
                .map(|r| Reference {
                    pointer: r.pointer,
                    target: r.target,
                })
                .collect();
            (id, name, references)
        }
    };
    Shown {
        path,
        kind: Some(kind.name.clone()),
        id,
        name,
        body,
        references,
    }
}

/// The kinds of `files` with how many each has and the folder they share.
fn overview(catalogue: &Catalogue, files: &[String]) -> Vec<KindFiles> {
    let literals = layout::literal_segments(catalogue);
    // Paths of one shape (the same literal segments in the same places) are of one kind, so
    // `okta/users/<login>.json` is resolved once, not once per user.
    let mut memo: HashMap<Vec<Option<&str>>, Option<String>> = HashMap::new();
    let mut by_kind: BTreeMap<String, (u64, Option<Vec<String>>)> = BTreeMap::new();
    for path in files {
        let stem = path.strip_suffix(".json").unwrap_or(path);
        let shape: Vec<Option<&str>> = stem
            .split('/')
            .map(|part| (part.is_empty() || literals.contains(part)).then_some(part))
            .collect();
        let kind = memo
            .entry(shape)
            .or_insert_with(|| layout::resolve(catalogue, path).map(|r| r.kind.name.clone()))
            .clone()
            .unwrap_or_else(|| "(no kind)".to_string());
        let folder = path.rfind('/').map_or("", |at| &path[..at]);
        let entry = by_kind.entry(kind).or_insert((0, None));
        entry.0 += 1;
        entry.1 = Some(match &entry.1 {
            None => folder.split('/').map(str::to_string).collect(),
            Some(prefix) => common(prefix, folder),
        });
    }
    by_kind
        .into_iter()
        .map(|(kind, (files, folder))| KindFiles {
            kind,
            files,
            folder: folder.unwrap_or_default().join("/"),
        })
        .collect()
}

/// The segments `prefix` shares with `folder`.
fn common(prefix: &[String], folder: &str) -> Vec<String> {
    prefix
        .iter()
        .zip(folder.split('/'))
        .take_while(|(a, b)| a.as_str() == *b)
        .map(|(a, _)| a.clone())
        .collect()
}

/// A JSON value as `serde_json`'s pretty printer writes it (so a canonical file's own text),
/// each line with the JSON pointer of the value it holds.
pub fn lines_with_pointers(value: &Value) -> Vec<(String, String)> {
    fn scalar(value: &Value) -> String {
        serde_json::to_string(value).unwrap_or_default()
    }
    fn walk(
        value: &Value,
        pointer: &str,
        indent: usize,
        prefix: String,
        last: bool,
        out: &mut Vec<(String, String)>,
    ) {
        let pad = "  ".repeat(indent);
        let comma = if last { "" } else { "," };
        match value {
            Value::Object(map) if !map.is_empty() => {
                out.push((format!("{pad}{prefix}{{"), pointer.to_string()));
                let count = map.len();
                for (i, (key, child)) in map.iter().enumerate() {
                    let key_text = serde_json::to_string(key).unwrap_or_default();
                    walk(
                        child,
                        &format!("{pointer}/{}", pointer_token(key)),
                        indent + 1,
                        format!("{key_text}: "),
                        i + 1 == count,
                        out,
                    );
                }
                out.push((format!("{pad}}}{comma}"), pointer.to_string()));
            }
            Value::Array(items) if !items.is_empty() => {
                out.push((format!("{pad}{prefix}["), pointer.to_string()));
                let count = items.len();
                for (i, child) in items.iter().enumerate() {
                    walk(
                        child,
                        &format!("{pointer}/{i}"),
                        indent + 1,
                        String::new(),
                        i + 1 == count,
                        out,
                    );
                }
                out.push((format!("{pad}]{comma}"), pointer.to_string()));
            }
            other => out.push((
                format!("{pad}{prefix}{}{comma}", scalar(other)),
                pointer.to_string(),
            )),
        }
    }
    let mut out = Vec::new();
    walk(value, "", 0, String::new(), true, &mut out);
    out
}

/// One file's canonical JSON with `  # group 00g… (Engineering)` after each line holding a
/// reference.
fn annotated(file: &Shown, out: &mut String) {
    let mut notes: HashMap<&str, Vec<String>> = HashMap::new();
    for reference in &file.references {
        notes
            .entry(reference.pointer.as_str())
            .or_default()
            .push(reference.target.label());
    }
    for (line, pointer) in lines_with_pointers(&file.body) {
        out.push_str(&line);
        // A container's closing line carries its pointer too: only the opening is noted.
        let closing = line.trim_start().starts_with(['}', ']']);
        if !closing && let Some(labels) = notes.get(pointer.as_str()) {
            let _ = write!(out, "  # {}", labels.join(", "));
        }
        out.push('\n');
    }
}

/// `main~1 (commit 1a2b3c4d5e…, 2026-11-23T10:00:00Z)`.
fn heading(report: &Report) -> String {
    match (&report.commit, &report.time) {
        (Some(commit), Some(time)) => format!("{}: commit {commit} ({time})", report.rev),
        (Some(commit), None) => format!("{}: commit {commit}", report.rev),
        _ => format!("{}: the working tree", report.rev),
    }
}

/// The files as text: for each, `# path` and `# kind "name" (id)` lines, then its canonical
/// JSON with every reference named in a `#` note. The overview lists the kinds instead.
pub fn text(report: &Report) -> String {
    let mut out = format!("# {}\n", heading(report));
    if let Some(kinds) = &report.kinds {
        let total: u64 = kinds.iter().map(|k| k.files).sum();
        let _ = writeln!(
            out,
            "# {total} files; name a file or folder after `--` to see resources, e.g. `butterfly show {} -- {}`",
            report.rev,
            kinds
                .iter()
                .find(|k| k.kind == "group")
                .map_or(layout::ROOT, |k| k.folder.as_str())
        );
        let width = kinds.iter().map(|k| k.kind.len()).max().unwrap_or(4).max(4);
        let _ = writeln!(out, "{:<width$}  {:>7}  folder", "kind", "files");
        for kind in kinds {
            let _ = writeln!(
                out,
                "{:<width$}  {:>7}  {}",
                kind.kind, kind.files, kind.folder
            );
        }
        return out;
    }
    for file in &report.files {
        out.push('\n');
        let _ = writeln!(out, "# {}", file.path);
        let mut title = match &file.kind {
            Some(kind) => format!("# {kind} \"{}\"", file.name),
            None => format!("# \"{}\" (no kind of the catalogue)", file.name),
        };
        if let Some(id) = &file.id {
            let _ = write!(title, " ({id})");
        }
        let _ = writeln!(out, "{title}");
        annotated(file, &mut out);
    }
    out
}

/// The report as JSON: pretty, with a trailing newline.
pub fn json(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_are_serde_jsons_pretty_text_with_pointers() {
        let value = json!({
            "a": {"b": [1, "two", {"c/d": null}], "e": {}, "f": []},
            "g~h": "quote \" and \\ and é",
            "i": true
        });
        let lines = lines_with_pointers(&value);
        let text: Vec<&str> = lines.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            text.join("\n"),
            serde_json::to_string_pretty(&value).unwrap()
        );
        let pointer_of = |needle: &str| {
            lines
                .iter()
                .find(|(l, _)| l.contains(needle))
                .map(|(_, p)| p.as_str())
                .unwrap()
        };
        assert_eq!(pointer_of("\"two\""), "/a/b/1");
        assert_eq!(pointer_of("\"c/d\""), "/a/b/2/c~1d");
        assert_eq!(pointer_of("quote"), "/g~0h");
        assert_eq!(pointer_of("\"e\""), "/a/e");
        assert_eq!(
            lines_with_pointers(&json!("x")),
            vec![("\"x\"".into(), String::new())]
        );
    }

    fn group(id: &str, name: &str) -> Named {
        Named {
            kind: "group".into(),
            id: id.into(),
            name: Some(name.into()),
        }
    }

    #[test]
    fn references_are_noted_on_their_lines() {
        let file = Shown {
            path: "okta/group-rules/Eng.json".into(),
            kind: Some("group_rule".into()),
            id: Some("0pr1".into()),
            name: "Eng".into(),
            body: json!({
                "actions": {"assignUserToGroups": {"groupIds": ["00g1", "00g2"]}},
                "conditions": {"expression": {"value": "isMemberOfAnyGroup(\"00g1\")"}},
                "id": "0pr1"
            }),
            references: vec![
                Reference {
                    pointer: "/actions/assignUserToGroups/groupIds/0".into(),
                    target: group("00g1", "Engineering"),
                },
                Reference {
                    pointer: "/actions/assignUserToGroups/groupIds/1".into(),
                    target: Named {
                        kind: "group".into(),
                        id: "00g2".into(),
                        name: None,
                    },
                },
                Reference {
                    pointer: "/conditions/expression/value".into(),
                    target: group("00g1", "Engineering"),
                },
            ],
        };
        let report = Report {
            version: JSON_VERSION,
            rev: "main".into(),
            commit: Some("1a2b".into()),
            time: Some("2026-11-23T10:00:00Z".into()),
            files: vec![file],
            kinds: None,
        };
        let expected = r#"# main: commit 1a2b (2026-11-23T10:00:00Z)

# okta/group-rules/Eng.json
# group_rule "Eng" (0pr1)
{
  "actions": {
    "assignUserToGroups": {
      "groupIds": [
        "00g1",  # group 00g1 (Engineering)
        "00g2"  # group 00g2 (not in this snapshot)
      ]
    }
  },
  "conditions": {
    "expression": {
      "value": "isMemberOfAnyGroup(\"00g1\")"  # group 00g1 (Engineering)
    }
  },
  "id": "0pr1"
}
"#;
        assert_eq!(text(&report), expected);
        let value: Value = serde_json::from_str(&json(&report)).unwrap();
        assert_eq!(value["version"], 1);
        assert_eq!(value["files"][0]["kind"], "group_rule");
        assert_eq!(
            value["files"][0]["references"][0],
            json!({"pointer": "/actions/assignUserToGroups/groupIds/0",
                "target": {"kind": "group", "id": "00g1", "name": "Engineering"}})
        );
        assert!(value.get("kinds").is_none());
    }

    #[test]
    fn paths_must_be_plain_paths_under_okta() {
        assert_eq!(normalise("./okta/groups/").unwrap(), "okta/groups");
        assert_eq!(normalise("okta").unwrap(), "okta");
        for bad in [
            "README.md",
            "okta/../x",
            "/okta/groups",
            "oktax/a",
            "okta//a",
            "",
        ] {
            let error = normalise(bad).unwrap_err();
            assert!(
                error.to_string().starts_with(&format!("`{bad}`")),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn the_overview_counts_files_per_kind_with_their_folder() {
        let catalogue = Catalogue::okta().unwrap();
        let files: Vec<String> = [
            "okta/groups/Eng.json",
            "okta/groups/Eng/members.json",
            "okta/groups/Sales.json",
            "okta/groups/Sales/members.json",
            "okta/group-rules/A.json",
            "okta/org/settings.json",
            "okta/org/threat-insight.json",
            "okta/policies/OKTA_SIGN_ON/Default Policy.json",
            "okta/policies/PASSWORD/Default Policy.json",
            "okta/policies/PASSWORD/Default Policy/rules/Default Rule.json",
            "okta/users/a@x.json",
            "okta/users/a@x/admin-roles.json",
            "okta/nothing/here/at/all.json",
        ]
        .into_iter()
        .map(str::to_string)
        .collect();
        let kinds = overview(catalogue, &files);
        let found: Vec<(&str, u64, &str)> = kinds
            .iter()
            .map(|k| (k.kind.as_str(), k.files, k.folder.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                ("(no kind)", 1, "okta/nothing/here/at"),
                ("admin_role_assignment", 1, "okta/users/a@x"),
                ("group", 2, "okta/groups"),
                ("group_membership", 2, "okta/groups"),
                ("group_rule", 1, "okta/group-rules"),
                ("org_settings", 1, "okta/org"),
                ("policy", 2, "okta/policies"),
                (
                    "policy_rule",
                    1,
                    "okta/policies/PASSWORD/Default Policy/rules"
                ),
                ("threat_insight", 1, "okta/org"),
                ("user", 1, "okta/users"),
            ]
        );
        let report = Report {
            version: JSON_VERSION,
            rev: "main".into(),
            commit: None,
            time: None,
            files: Vec::new(),
            kinds: Some(kinds),
        };
        let text = text(&report);
        assert!(
            text.contains("butterfly show main -- okta/groups`"),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|line| line.split_whitespace().collect::<Vec<_>>()
                    == ["group_membership", "2", "okta/groups"]),
            "{text}"
        );
    }

    /// Runs git in `dir`, asserting success.
    fn git(dir: &std::path::Path, args: &[&str]) {
        let out = std::process::Command::new("git")
            .current_dir(dir)
            .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }

    fn write(dir: &std::path::Path, path: &str, text: &str) {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }

    #[test]
    fn a_revision_shows_resources_and_members_named_from_its_own_index() {
        let catalogue = Catalogue::okta().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        git(dir, &["init", "-q", "-b", "main"]);
        write(
            dir,
            "butterfly.toml",
            "provider = \"okta\"\n[okta]\ndomain = \"acme.okta.com\"\n",
        );
        write(
            dir,
            "okta/groups/Engineering.json",
            "{\"id\": \"00g1\", \"profile\": {\"name\": \"Engineering\"}, \"type\": \"OKTA_GROUP\"}\n",
        );
        write(
            dir,
            "okta/groups/Engineering/members.json",
            "[{\"id\": \"00u1\"}, {\"id\": \"00u2\"}]\n",
        );
        let index = |login: &str| {
            format!(
                "{{\"00g1\": {{\"kind\": \"group\", \"name\": \"Engineering\", \"path\": \"okta/groups/Engineering.json\"}},\n\
                 \"00u1\": {{\"kind\": \"user\", \"name\": \"{login}\", \"path\": \"okta/users/{login}.json\"}}}}\n"
            )
        };
        write(dir, ".butterfly/index.json", &index("ann@acme.com"));
        git(dir, &["add", "."]);
        git(dir, &["commit", "-q", "-m", "one"]);
        // The working tree renames the user: each side names it from its own index.
        write(dir, ".butterfly/index.json", &index("anne@acme.com"));
        let opened = diff::open(dir, catalogue).unwrap();
        let show = |rev: &str, paths: &[&str]| {
            run(
                &opened,
                catalogue,
                &Options {
                    rev: rev.into(),
                    paths: paths.iter().map(|p| p.to_string()).collect(),
                },
            )
        };
        let report = show("main", &["okta/groups/Engineering"]).unwrap();
        let paths: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "okta/groups/Engineering.json",
                "okta/groups/Engineering/members.json"
            ]
        );
        let group = &report.files[0];
        assert_eq!(group.kind.as_deref(), Some("group"));
        assert_eq!(group.id.as_deref(), Some("00g1"));
        assert_eq!(group.name, "Engineering");
        let members = &report.files[1];
        assert_eq!(members.kind.as_deref(), Some("group_membership"));
        assert_eq!(members.id, None);
        assert_eq!(members.name, "Group members of Engineering");
        let labels: Vec<(String, String)> = members
            .references
            .iter()
            .map(|r| (r.pointer.clone(), r.target.label()))
            .collect();
        assert_eq!(
            labels,
            vec![
                ("/0/id".to_string(), "user 00u1 (ann@acme.com)".to_string()),
                (
                    "/1/id".to_string(),
                    "user 00u2 (not in this snapshot)".to_string()
                )
            ]
        );
        assert!(
            text(&report).contains("\"id\": \"00u1\"  # user 00u1 (ann@acme.com)\n"),
            "{}",
            text(&report)
        );
        let worktree = show("WORKTREE", &["okta/groups/Engineering/members.json"]).unwrap();
        assert_eq!(worktree.commit, None);
        assert_eq!(
            worktree.files[0].references[0].target.label(),
            "user 00u1 (anne@acme.com)"
        );
        // No path: the overview.
        let overview = show("main", &[]).unwrap();
        assert!(overview.files.is_empty());
        assert_eq!(overview.kinds.as_ref().map(Vec::len), Some(2));
        // An unknown path names itself and the revision.
        let error = show("main", &["okta/apps/Jira"]).unwrap_err();
        assert!(matches!(error, ShowError::UnknownPath { .. }), "{error}");
        let message = error.to_string();
        assert!(
            message.starts_with("`okta/apps/Jira`: no such file or folder at main ("),
            "{message}"
        );
        let error = show("main", &["butterfly.toml"]).unwrap_err();
        assert!(
            matches!(error, ShowError::OutsideResources { .. }),
            "{error}"
        );
        let error = show("no-such-rev", &["okta"]).unwrap_err();
        assert!(error.to_string().contains("no-such-rev"), "{error}");
    }

    #[test]
    fn labels_name_the_revision_and_its_commit() {
        let oid = git2::Oid::from_str("1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d").unwrap();
        assert_eq!(label("main~1", Rev::Commit(oid)), "main~1 (1a2b3c4d5e)");
        assert_eq!(label("1a2b3c4", Rev::Commit(oid)), "1a2b3c4d5e");
        assert_eq!(label("WORKTREE", Rev::Worktree), "WORKTREE");
    }
}
