//! The snapshot browser's reads (the dashboard's, issue #8): a snapshot's kinds, a folder's
//! entries one level deep, a resource with its references named and pointing at their files.
//! Built on `ops::show`; a revision is a full or abbreviated commit id only (no revision
//! syntax from a URL).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalogue::Catalogue;
use crate::ops::diff::{Opened, RepoSide, entries_by_path};
use crate::ops::show::{self, ShowError, Shown};
use crate::snapshot::layout;
use crate::snapshot::repo::RepoError;
use crate::snapshot::revision::RevisionError;

/// The most entries a folder page lists.
pub const FOLDER_LIMIT: usize = 1000;

/// One entry of a folder.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub name: String,
    /// From the repository root (`okta/groups/Engineering.json`, `okta/apps`).
    pub path: String,
    pub folder: bool,
    /// Files under it (1 for a file).
    pub files: usize,
}

/// A reference of a shown resource, with the file of its target when the snapshot has it.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub pointer: String,
    pub label: String,
    pub path: Option<String>,
}

/// What a path is at a snapshot.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Browsed {
    Folder {
        path: String,
        entries: Vec<Entry>,
        /// Entries left out past `FOLDER_LIMIT`.
        more: usize,
    },
    File {
        file: Shown,
        /// The file's text (canonical JSON), as stored.
        text: String,
        links: Vec<Link>,
    },
}

/// Whether `text` is a commit id (7 to 40 hex digits): the only revisions a URL may name.
pub fn is_commit_id(text: &str) -> bool {
    (7..=40).contains(&text.len()) && text.chars().all(|c| c.is_ascii_hexdigit())
}

/// The kinds at a snapshot, with their file counts and folders.
pub fn overview(
    opened: &Opened,
    catalogue: &Catalogue,
    commit: &str,
) -> Result<show::Report, ShowError> {
    show::run(
        opened,
        catalogue,
        &show::Options {
            rev: commit.to_string(),
            paths: Vec::new(),
        },
    )
}

/// The folder or file at `path` (under `okta/`) at the snapshot `commit`.
pub fn browse(
    opened: &Opened,
    catalogue: &Catalogue,
    commit: &str,
    path: &str,
) -> Result<Browsed, ShowError> {
    let repo = &opened.repo;
    let rev = repo.revision(commit, &opened.config.backup.branch)?;
    let path = path.trim_end_matches('/');
    let inside = path == layout::ROOT || path.starts_with(&format!("{}/", layout::ROOT));
    if !inside
        || path
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return Err(ShowError::OutsideResources {
            path: path.to_string(),
        });
    }
    if !path.ends_with(".json") {
        let files = repo.files_under(rev, path)?;
        if !files.is_empty() {
            let mut children: BTreeMap<String, (bool, usize)> = BTreeMap::new();
            for file in &files {
                let rest = file
                    .strip_prefix(path)
                    .and_then(|r| r.strip_prefix('/'))
                    .unwrap_or(file);
                let (name, folder) = match rest.split_once('/') {
                    Some((first, _)) => (first, true),
                    None => (rest, false),
                };
                let slot = children.entry(name.to_string()).or_insert((folder, 0));
                slot.0 |= folder;
                slot.1 += 1;
            }
            let total = children.len();
            let entries = children
                .into_iter()
                .take(FOLDER_LIMIT)
                .map(|(name, (folder, files))| Entry {
                    path: format!("{path}/{name}"),
                    name,
                    folder,
                    files,
                })
                .collect();
            return Ok(Browsed::Folder {
                path: path.to_string(),
                entries,
                more: total.saturating_sub(FOLDER_LIMIT),
            });
        }
    }
    let report = show::run(
        opened,
        catalogue,
        &show::Options {
            rev: commit.to_string(),
            paths: vec![path.to_string()],
        },
    )?;
    let Some(file) = report.files.into_iter().next() else {
        return Err(ShowError::UnknownPath {
            path: path.to_string(),
            rev: commit.to_string(),
        });
    };
    let side = RepoSide::new(repo, rev, commit.to_string()).map_err(ShowError::Revision)?;
    let by_id: BTreeMap<String, String> = entries_by_path(&side)
        .into_iter()
        .map(|(path, (id, _))| (id, path))
        .collect();
    let links = file
        .references
        .iter()
        .map(|r| Link {
            pointer: r.pointer.clone(),
            label: r.target.label(),
            path: by_id.get(&r.target.id).cloned(),
        })
        .collect();
    let text = canonical_text(&file.body);
    Ok(Browsed::File { file, text, links })
}

/// The body as the snapshot stores it (sorted keys, two spaces).
fn canonical_text(body: &serde_json::Value) -> String {
    serde_json::to_string_pretty(body).unwrap_or_default()
}

/// A revision error that means "no such commit" rather than a broken repository.
pub fn is_unknown_revision(error: &ShowError) -> bool {
    matches!(
        error,
        ShowError::Revision(RevisionError::Repo(RepoError::UnknownRevision { .. }))
            | ShowError::UnknownPath { .. }
            | ShowError::OutsideResources { .. }
    )
}

/// A snapshot in the browser's list.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotSummary {
    pub commit: String,
    pub time: String,
    pub summary: String,
    /// `+3 ~1 −0`, when the message has counts.
    pub counts: String,
}

/// The snapshots of the connection's branch, newest first (at most `limit`).
pub fn snapshots(opened: &Opened, limit: usize) -> Result<Vec<SnapshotSummary>, ShowError> {
    let found = opened
        .repo
        .snapshots(&opened.config.backup.branch)
        .map_err(ShowError::Revision)?;
    Ok(found
        .into_iter()
        .take(limit)
        .map(|s| {
            let message = crate::ops::log::parse_message(&s.message);
            SnapshotSummary {
                commit: s.commit.to_string(),
                time: s.time.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                summary: message.summary.clone(),
                counts: message
                    .counts
                    .map(|c| format!("+{} ~{} −{}", c.added, c.changed, c.removed))
                    .unwrap_or_default(),
            }
        })
        .collect())
}
