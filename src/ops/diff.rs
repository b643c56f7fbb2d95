//! `diff`: the semantic diff of two revisions of an org repository. Resolves the revisions
//! (DESIGN.md's vocabulary; by default the previous snapshot and the latest), lets git name the
//! files that differ (unchanged folders are skipped by tree id), parses only those, and gives
//! `diff::build` a [`Side`] per revision that reads anything else on demand: the side's
//! `.butterfly/index.json` (parsed once, on first use) and unchanged files such as a group's
//! members. The System Log events are those of the `.butterfly/changes/` files that one side
//! has and the other has not: the backups between the two.

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde_json::Value;

use crate::catalogue::Catalogue;
use crate::config::{ConfigError, OrgConfig};
use crate::diff::render::{JSON_VERSION, Report, Revision};
use crate::diff::{self, DiffError, Entry, FileDelta, ReadError, Side};
use crate::ops::backup::INDEX;
use crate::ops::backup::changes::DIR as CHANGES_DIR;
use crate::ops::backup::collect::IndexEntry;
use crate::snapshot::layout;
use crate::snapshot::repo::{OrgRepo, RepoError};
use crate::snapshot::revision::{Reader, Rev, RevisionError};

/// What to compare.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The old side; default: the snapshot before `to` (or before the latest).
    pub from: Option<String>,
    /// The new side; default: the latest snapshot.
    pub to: Option<String>,
    /// Only these kinds (none: all).
    pub kinds: BTreeSet<String>,
    /// Only files at or under these paths, relative to the repository root (none: all).
    pub paths: Vec<String>,
}

/// Why a diff could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DiffOpError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Revision(#[from] RevisionError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("unknown kind `{0}`; `butterfly catalogue` lists them")]
    UnknownKind(String),
}

impl From<DiffError> for DiffOpError {
    fn from(e: DiffError) -> Self {
        match e {
            DiffError::Read(e) => DiffOpError::Read(e),
        }
    }
}

/// An org repository opened with its configuration.
pub struct Opened {
    pub repo: OrgRepo,
    pub config: OrgConfig,
}

/// Opens the org repository at or above `dir`, for reading.
///
/// libgit2 checks every object's hash as it reads it (`git` itself does not; `git fsck` does):
/// reading two snapshots of a large org, that doubles the time. Commands that only read turn it
/// off for the process; the objects were hashed when written.
pub fn open(dir: &Path, catalogue: &Catalogue) -> Result<Opened, DiffOpError> {
    git2::opts::strict_hash_verification(false);
    let root = OrgConfig::find_root(dir)?;
    let config = OrgConfig::load(&root, catalogue)?;
    let repo = OrgRepo::open(&root)?;
    Ok(Opened { repo, config })
}

/// A revision resolved, with how the report names it.
pub fn describe(repo: &OrgRepo, text: &str, rev: Rev) -> Result<Revision, DiffOpError> {
    Ok(match rev {
        Rev::Worktree => Revision {
            rev: text.to_string(),
            commit: None,
            time: None,
        },
        Rev::Commit(commit) => Revision {
            rev: text.to_string(),
            commit: Some(commit.to_string()),
            time: Some(
                repo.commit_time(commit)?
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
        },
    })
}

/// A revision as given, and resolved.
type Named = (String, Rev);

/// The two revisions of a diff: the given ones, or the latest snapshot and the one before.
fn revisions(opened: &Opened, options: &Options) -> Result<(Named, Named), DiffOpError> {
    let branch = &opened.config.backup.branch;
    let repo = &opened.repo;
    let to = match &options.to {
        Some(text) => (text.clone(), repo.revision(text, branch)?),
        None => {
            let latest = repo.snapshots(branch)?.into_iter().next().ok_or(
                RevisionError::TooFewSnapshots {
                    branch: branch.clone(),
                    found: 0,
                    needed: 2,
                },
            )?;
            (branch.clone(), Rev::Commit(latest.commit))
        }
    };
    let from = match &options.from {
        Some(text) => (text.clone(), repo.revision(text, branch)?),
        None => {
            // The snapshot before `to` (before the latest, for the working tree).
            let snapshots = repo.snapshots(branch)?;
            let position = match to.1 {
                Rev::Commit(commit) => snapshots.iter().position(|s| s.commit == commit),
                Rev::Worktree => None,
            };
            let previous = match (to.1, position) {
                (Rev::Worktree, _) => snapshots.first(),
                (Rev::Commit(_), Some(at)) => snapshots.get(at + 1),
                (Rev::Commit(commit), None) => {
                    // `to` is not a snapshot: the newest snapshot older than it.
                    let time = repo.commit_time(commit)?;
                    snapshots
                        .iter()
                        .find(|s| s.time <= time && s.commit != commit)
                }
            };
            let previous = previous.ok_or(RevisionError::TooFewSnapshots {
                branch: branch.clone(),
                found: snapshots.len(),
                needed: 2,
            })?;
            (format!("{}", previous.commit), Rev::Commit(previous.commit))
        }
    };
    Ok((from, to))
}

/// One revision, read on demand.
pub struct RepoSide<'r> {
    reader: Reader<'r>,
    rev: Rev,
    label: String,
    index: OnceCell<HashMap<String, IndexEntry>>,
    by_kind: OnceCell<HashMap<String, Vec<String>>>,
    files: RefCell<HashMap<String, Option<Value>>>,
}

impl<'r> RepoSide<'r> {
    pub fn new(repo: &'r OrgRepo, rev: Rev, label: String) -> Result<Self, RevisionError> {
        Ok(RepoSide {
            reader: repo.reader(rev)?,
            rev,
            label,
            index: OnceCell::new(),
            by_kind: OnceCell::new(),
            files: RefCell::new(HashMap::new()),
        })
    }

    fn read_error(&self, path: &str, problem: String) -> ReadError {
        ReadError {
            side: self.label.clone(),
            path: path.to_string(),
            problem,
        }
    }

    /// Parses a file's bytes, naming the file and the side when it is not JSON.
    pub fn parse(&self, path: &str, bytes: &[u8]) -> Result<Value, ReadError> {
        crate::diff::parse(bytes, path, self)
    }

    fn index(&self) -> &HashMap<String, IndexEntry> {
        self.index
            .get_or_init(|| parse_index(self.reader.read(INDEX), &self.label))
    }

    /// Gives the side its index, parsed elsewhere (another thread).
    pub fn set_index(&self, index: HashMap<String, IndexEntry>) {
        let _ = self.index.set(index);
    }
}

impl Side for RepoSide<'_> {
    fn label(&self) -> &str {
        &self.label
    }

    fn entry(&self, id: &str) -> Option<Entry> {
        self.index().get(id).map(|e| Entry {
            kind: e.kind.clone(),
            name: e.name.clone(),
            path: e.path.clone(),
        })
    }

    fn file(&self, path: &str) -> Result<Option<Value>, ReadError> {
        if let Some(found) = self.files.borrow().get(path) {
            return Ok(found.clone());
        }
        let bytes = self
            .reader
            .read(path)
            .map_err(|e| self.read_error(path, e.to_string()))?;
        let value = bytes.map(|b| self.parse(path, &b)).transpose()?;
        self.files
            .borrow_mut()
            .insert(path.to_string(), value.clone());
        Ok(value)
    }

    fn ids_of_kind(&self, kind: &str) -> Vec<String> {
        self.by_kind
            .get_or_init(|| {
                let mut map: HashMap<String, Vec<String>> = HashMap::new();
                for (id, entry) in self.index() {
                    map.entry(entry.kind.clone()).or_default().push(id.clone());
                }
                for ids in map.values_mut() {
                    ids.sort();
                }
                map
            })
            .get(kind)
            .cloned()
            .unwrap_or_default()
    }
}

/// A side's `.butterfly/index.json`, parsed; empty (references then show by id, with a
/// warning) when it is missing or unreadable.
fn parse_index(
    bytes: Result<Option<Vec<u8>>, RevisionError>,
    label: &str,
) -> HashMap<String, IndexEntry> {
    let bytes = match bytes {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return HashMap::new(),
        Err(e) => {
            tracing::warn!(side = %label, error = %e, "the index cannot be read: references are shown by id");
            return HashMap::new();
        }
    };
    match serde_json::from_slice::<HashMap<String, IndexEntry>>(&bytes) {
        Ok(index) => index,
        Err(e) => {
            tracing::warn!(side = %label, error = %e, "{INDEX} is not the index Butterfly writes: references are shown by id");
            HashMap::new()
        }
    }
}

/// Both sides' indexes, read and parsed on their own thread (with their own repository
/// handle: git2's are not shared between threads) while the changed files are read.
fn indexes_in_background<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    path: &Path,
    revs: [(Rev, String); 2],
) -> std::thread::ScopedJoinHandle<'scope, Vec<HashMap<String, IndexEntry>>> {
    let path = path.to_path_buf();
    scope.spawn(move || {
        let repo = OrgRepo::open(&path);
        revs.into_iter()
            .map(|(rev, label)| match &repo {
                Ok(repo) => parse_index(repo.reader(rev).and_then(|r| r.read(INDEX)), &label),
                Err(e) => {
                    tracing::warn!(error = %e, "the index cannot be read: references are shown by id");
                    HashMap::new()
                }
            })
            .collect()
    })
}

/// True when `path` is at or under one of `paths` (given with or without `.json`).
pub(crate) fn selected(path: &str, paths: &[String]) -> bool {
    paths.is_empty()
        || paths.iter().any(|wanted| {
            let wanted = wanted.trim_start_matches("./").trim_end_matches('/');
            wanted.is_empty()
                || path == wanted
                || path.strip_suffix(".json") == Some(wanted)
                || path
                    .strip_prefix(wanted)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
}

/// The changed files under `okta/` that the options select, parsed on both sides, and the
/// System Log events of the changes files between the sides.
fn read_changed<'r>(
    repo: &OrgRepo,
    catalogue: &Catalogue,
    options: &Options,
    from_rev: Rev,
    to_rev: Rev,
    from: &RepoSide<'r>,
    to: &RepoSide<'r>,
) -> Result<(Vec<FileDelta>, Vec<Value>), DiffOpError> {
    let begun = std::time::Instant::now();
    let changed = repo.changed_files(from_rev, to_rev, &[layout::ROOT, CHANGES_DIR])?;
    tracing::debug!(files = changed.len(), elapsed = ?begun.elapsed(), "files that differ");
    let mut files = Vec::new();
    let mut event_files = Vec::new();
    for change in changed {
        if change.path.starts_with(CHANGES_DIR) {
            // Saved by the backups between the two sides (on whichever side is newer).
            let side = if change.new.is_some() { to } else { from };
            if let Some(Value::Array(events)) = side.file(&change.path)? {
                event_files.extend(events);
            }
            continue;
        }
        if !selected(&change.path, &options.paths) {
            continue;
        }
        if !options.kinds.is_empty() {
            let kind = layout::resolve(catalogue, &change.path).map(|r| r.kind.name.as_str());
            if !kind.is_some_and(|k| options.kinds.contains(k)) {
                continue;
            }
        }
        let read = |side: &RepoSide<'_>, oid: Option<git2::Oid>| -> Result<_, DiffOpError> {
            Ok(match (oid, side.rev) {
                (None, _) => None,
                (Some(_), Rev::Worktree) => side.reader.read(&change.path)?,
                (Some(oid), Rev::Commit(_)) => Some(repo.blob(oid, &change.path)?),
            })
        };
        let old = read(from, change.old)?;
        let new = read(to, change.new)?;
        files.push(FileDelta {
            path: change.path,
            old,
            new,
        });
    }
    Ok((files, event_files))
}

/// The diff of two revisions.
pub fn run(
    opened: &Opened,
    catalogue: &Catalogue,
    options: &Options,
) -> Result<Report, DiffOpError> {
    for kind in &options.kinds {
        if catalogue.kind(kind).is_none() {
            return Err(DiffOpError::UnknownKind(kind.clone()));
        }
    }
    let repo = &opened.repo;
    let begun = std::time::Instant::now();
    let ((from_text, from_rev), (to_text, to_rev)) = revisions(opened, options)?;
    let from_label = describe(repo, &from_text, from_rev)?;
    let to_label = describe(repo, &to_text, to_rev)?;
    let from = RepoSide::new(repo, from_rev, from_text.clone())?;
    let to = RepoSide::new(repo, to_rev, to_text.clone())?;

    let (files, event_files) = std::thread::scope(|scope| {
        let indexes = indexes_in_background(
            scope,
            repo.path(),
            [(from_rev, from_text.clone()), (to_rev, to_text.clone())],
        );
        let read = read_changed(repo, catalogue, options, from_rev, to_rev, &from, &to);
        if let Ok(mut parsed) = indexes.join() {
            if let Some(index) = parsed.pop() {
                to.set_index(index);
            }
            if let Some(index) = parsed.pop() {
                from.set_index(index);
            }
        }
        read
    })?;
    let events_saved = event_files.len() as u64;
    tracing::debug!(elapsed = ?begun.elapsed(), "changed files read");
    let built = diff::build(catalogue, files, &event_files, &from, &to)?;
    tracing::debug!(elapsed = ?begun.elapsed(), "diff built");
    Ok(Report {
        version: JSON_VERSION,
        from: from_label,
        to: to_label,
        events_saved,
        diff: built,
    })
}

/// Index entries by path, for callers that name files (`show`).
pub fn entries_by_path(side: &RepoSide<'_>) -> BTreeMap<String, (String, IndexEntry)> {
    side.index()
        .iter()
        .map(|(id, e)| (e.path.clone(), (id.clone(), e.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_select_files_and_folders() {
        let paths = vec![
            "okta/group-rules".to_string(),
            "okta/apps/Jira.json".to_string(),
        ];
        assert!(selected("okta/group-rules/A.json", &paths));
        assert!(selected("okta/apps/Jira.json", &paths));
        assert!(!selected("okta/apps/Jira/groups.json", &paths));
        assert!(!selected("okta/group-rules-x/A.json", &paths));
        assert!(selected(
            "okta/groups/Eng/members.json",
            &["okta/groups/Eng".to_string()]
        ));
        assert!(selected("anything", &[]));
    }
}
