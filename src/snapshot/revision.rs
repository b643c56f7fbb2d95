//! DESIGN.md's revision vocabulary over an org repository, and reading a tree at a revision:
//! a git revision (`main~2`, a commit id, a tag), `@TIME` (the newest snapshot at or before
//! TIME, RFC 3339 or a date meaning the end of that day, UTC) or `WORKTREE` (the working tree).
//! Snapshots are the commits of the snapshot branch's first-parent line made by a backup
//! (their message has a `Backup-Run:` trailer).
//!
//! Also: the files that differ between two revisions, without reading the unchanged ones
//! (git compares trees by id, so unchanged folders are skipped whole), and a file's bytes at a
//! revision. Symlinks and other non-regular entries are errors, never followed.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use git2::{Delta, DiffOptions, Oid, Tree};

use super::repo::{EntryKind, OrgRepo, RepoError, check_path, entry_kind};

/// The word for the working tree.
pub const WORKTREE: &str = "WORKTREE";

/// The trailer every backup commit carries.
pub(crate) const SNAPSHOT_TRAILER: &str = "Backup-Run:";

/// A revision resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rev {
    Commit(Oid),
    Worktree,
}

/// A snapshot commit on the snapshot branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub commit: Oid,
    pub time: DateTime<Utc>,
    pub message: String,
    pub parent: Option<Oid>,
}

/// A revision that cannot be resolved or read.
#[derive(Debug, thiserror::Error)]
pub enum RevisionError {
    #[error(
        "`{text}`: not a time; give RFC 3339 (`@2026-11-20T10:00:00Z`) or a date (`@2026-11-20`)"
    )]
    BadTime { text: String },
    #[error("`{text}`: the snapshot branch `{branch}` has no snapshot at or before {time}")]
    NoSnapshotBefore {
        text: String,
        branch: String,
        time: DateTime<Utc>,
    },
    #[error("the snapshot branch `{branch}` has {found} snapshot(s); {needed} are needed here")]
    TooFewSnapshots {
        branch: String,
        found: usize,
        needed: usize,
    },
    #[error("{path}: a bare repository has no working tree, so `{WORKTREE}` cannot be read")]
    NoWorktree { path: PathBuf },
    #[error("{path}: a {entry} in the working tree, not a regular file; it is never followed")]
    NotAFile { path: PathBuf, entry: &'static str },
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// One file that differs between two revisions: its blob on each side (`None`: absent; for
/// the working tree, the content is read from disk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub path: String,
    pub old: Option<Oid>,
    pub new: Option<Oid>,
}

impl OrgRepo {
    /// Resolves a revision in DESIGN.md's vocabulary; `branch` is the snapshot branch.
    pub fn revision(&self, text: &str, branch: &str) -> Result<Rev, RevisionError> {
        if text == WORKTREE {
            if self.git().workdir().is_none() {
                return Err(RevisionError::NoWorktree {
                    path: self.path().to_path_buf(),
                });
            }
            return Ok(Rev::Worktree);
        }
        if let Some(time) = text.strip_prefix('@') {
            let time = parse_time(time).ok_or_else(|| RevisionError::BadTime {
                text: text.to_string(),
            })?;
            return self
                .snapshots(branch)?
                .into_iter()
                .find(|s| s.time <= time)
                .map(|s| Rev::Commit(s.commit))
                .ok_or_else(|| RevisionError::NoSnapshotBefore {
                    text: text.to_string(),
                    branch: branch.to_string(),
                    time,
                });
        }
        Ok(Rev::Commit(self.resolve(text)?))
    }

    /// The snapshots of `branch`, newest first (first parents only).
    pub fn snapshots(&self, branch: &str) -> Result<Vec<Snapshot>, RevisionError> {
        let Some(tip) = self.branch_tip(branch)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut next = Some(tip);
        while let Some(id) = next {
            let commit = self
                .git()
                .find_commit(id)
                .map_err(|e| self.git_error(format!("reading commit {id}"), e))?;
            let message = commit.message().unwrap_or_default().to_string();
            next = commit.parent_id(0).ok();
            if message.lines().any(|l| l.starts_with(SNAPSHOT_TRAILER)) {
                out.push(Snapshot {
                    commit: id,
                    time: Utc
                        .timestamp_opt(commit.time().seconds(), 0)
                        .single()
                        .unwrap_or_default(),
                    message,
                    parent: next,
                });
            }
        }
        Ok(out)
    }

    /// The commit's time, UTC.
    pub fn commit_time(&self, commit: Oid) -> Result<DateTime<Utc>, RevisionError> {
        let found = self
            .git()
            .find_commit(commit)
            .map_err(|e| self.git_error(format!("reading commit {commit}"), e))?;
        Ok(Utc
            .timestamp_opt(found.time().seconds(), 0)
            .single()
            .unwrap_or_default())
    }

    /// The files under each of `under` (`okta/`, `.butterfly/changes/`) that differ between
    /// `from` and `to`, sorted by path. No content is read for commits.
    pub fn changed_files(
        &self,
        from: Rev,
        to: Rev,
        under: &[&str],
    ) -> Result<Vec<Changed>, RevisionError> {
        let git = self.git();
        let mut options = DiffOptions::new();
        for folder in under {
            options.pathspec(*folder);
        }
        options.include_typechange(true);
        let tree = |rev: Rev| -> Result<Option<git2::Tree<'_>>, RevisionError> {
            match rev {
                Rev::Commit(id) => Ok(Some(self.commit_tree(id)?)),
                Rev::Worktree => Ok(None),
            }
        };
        let diff = match (from, to) {
            (Rev::Commit(_), Rev::Commit(_)) => {
                git.diff_tree_to_tree(tree(from)?.as_ref(), tree(to)?.as_ref(), Some(&mut options))
            }
            (Rev::Commit(_), Rev::Worktree) | (Rev::Worktree, Rev::Commit(_)) => {
                options
                    .include_untracked(true)
                    .recurse_untracked_dirs(true)
                    .reverse(from == Rev::Worktree);
                let commit = if from == Rev::Worktree { to } else { from };
                git.diff_tree_to_workdir_with_index(tree(commit)?.as_ref(), Some(&mut options))
            }
            (Rev::Worktree, Rev::Worktree) => return Ok(Vec::new()),
        }
        .map_err(|e| self.git_error("comparing the two revisions".into(), e))?;
        let mut out = Vec::new();
        for delta in diff.deltas() {
            let path = delta
                .new_file()
                .path()
                .or_else(|| delta.old_file().path())
                .and_then(Path::to_str)
                .unwrap_or_default()
                .to_string();
            let side = |file: git2::DiffFile<'_>, present: bool, worktree: bool| {
                if !present {
                    None
                } else if worktree {
                    Some(Oid::ZERO_SHA1)
                } else {
                    Some(file.id())
                }
            };
            let (old_present, new_present) = match delta.status() {
                Delta::Added | Delta::Untracked => (false, true),
                Delta::Deleted => (true, false),
                Delta::Unmodified | Delta::Ignored => continue,
                _ => (true, true),
            };
            for (file, present, rev) in [
                (delta.old_file(), old_present, from),
                (delta.new_file(), new_present, to),
            ] {
                if present && file.mode() == git2::FileMode::Link {
                    return Err(match rev {
                        Rev::Commit(commit) => RepoError::NotAFile {
                            commit,
                            file: path.clone(),
                            entry: "symlink",
                        }
                        .into(),
                        Rev::Worktree => RevisionError::NotAFile {
                            path: self.git().workdir().unwrap_or(self.path()).join(&path),
                            entry: "symlink",
                        },
                    });
                }
            }
            out.push(Changed {
                old: side(delta.old_file(), old_present, from == Rev::Worktree),
                new: side(delta.new_file(), new_present, to == Rev::Worktree),
                path,
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// A file's bytes at a revision; `None` when it is absent. To read many files of one
    /// revision, [`OrgRepo::reader`] keeps the folders it opens.
    pub fn file_at(&self, rev: Rev, path: &str) -> Result<Option<Vec<u8>>, RevisionError> {
        match rev {
            Rev::Commit(_) => self.reader(rev)?.read(path),
            Rev::Worktree => {
                let Some(workdir) = self.git().workdir() else {
                    return Err(RevisionError::NoWorktree {
                        path: self.path().to_path_buf(),
                    });
                };
                let full = workdir.join(path);
                let metadata = match std::fs::symlink_metadata(&full) {
                    Ok(metadata) => metadata,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(source) => return Err(RepoError::Io { path: full, source }.into()),
                };
                if metadata.is_dir() {
                    return Ok(None);
                }
                if !metadata.is_file() {
                    let entry = if metadata.file_type().is_symlink() {
                        "symlink"
                    } else {
                        "special file"
                    };
                    return Err(RevisionError::NotAFile { path: full, entry });
                }
                std::fs::read(&full)
                    .map(Some)
                    .map_err(|source| RepoError::Io { path: full, source }.into())
            }
        }
    }

    /// The files at `path` at a revision: `path` itself when it is a file, else every file
    /// under it when it is a folder, sorted; empty when nothing is there. `path` must be a
    /// plain relative path (no `..`, no leading `/`), so the working tree is never left; a
    /// symlink or special file is an error naming it, never followed.
    pub fn files_under(&self, rev: Rev, path: &str) -> Result<Vec<String>, RevisionError> {
        check_path(path)?;
        match rev {
            Rev::Commit(commit) => Ok(self.list_files(commit, &[path])?.into_keys().collect()),
            Rev::Worktree => {
                let Some(workdir) = self.git().workdir() else {
                    return Err(RevisionError::NoWorktree {
                        path: self.path().to_path_buf(),
                    });
                };
                let mut out = Vec::new();
                walk_worktree(workdir, path, &mut out)?;
                out.sort();
                Ok(out)
            }
        }
    }

    /// The blob bytes of `oid` (a file a comparison named).
    pub fn blob(&self, oid: Oid, path: &str) -> Result<Vec<u8>, RevisionError> {
        self.git()
            .find_blob(oid)
            .map(|b| b.content().to_vec())
            .map_err(|e| self.git_error(format!("reading {path} ({oid})"), e).into())
    }
}

/// Collects the regular files at or under `path` (relative to `workdir`) into `out`.
fn walk_worktree(workdir: &Path, path: &str, out: &mut Vec<String>) -> Result<(), RevisionError> {
    let full = workdir.join(path);
    let metadata = match std::fs::symlink_metadata(&full) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(RepoError::Io { path: full, source }.into()),
    };
    if metadata.is_file() {
        out.push(path.to_string());
        return Ok(());
    }
    if !metadata.is_dir() {
        let entry = if metadata.file_type().is_symlink() {
            "symlink"
        } else {
            "special file"
        };
        return Err(RevisionError::NotAFile { path: full, entry });
    }
    let entries = std::fs::read_dir(&full).map_err(|source| RepoError::Io {
        path: full.clone(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| RepoError::Io {
            path: full.clone(),
            source,
        })?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(RepoError::BadPath {
                file: format!("{path}/{}", name.to_string_lossy()),
                reason: "its name is not UTF-8",
            }
            .into());
        };
        walk_worktree(workdir, &format!("{path}/{name}"), out)?;
    }
    Ok(())
}

impl OrgRepo {
    /// A reader of one revision's files.
    pub fn reader(&self, rev: Rev) -> Result<Reader<'_>, RevisionError> {
        let root = match rev {
            Rev::Commit(commit) => Some(self.commit_tree(commit)?),
            Rev::Worktree => None,
        };
        Ok(Reader {
            repo: self,
            rev,
            root,
            folders: RefCell::new(HashMap::new()),
        })
    }
}

/// Reads files of one revision, keeping each folder it opens, so reading many files of a large
/// folder (`okta/users`, 100 000 entries) parses that folder once, not once per file.
pub struct Reader<'r> {
    repo: &'r OrgRepo,
    rev: Rev,
    root: Option<Tree<'r>>,
    folders: RefCell<HashMap<String, Option<Tree<'r>>>>,
}

impl<'r> Reader<'r> {
    pub fn rev(&self) -> Rev {
        self.rev
    }

    /// The folder at `path` (`""`: the root), `None` when absent or not a folder.
    fn folder(&self, path: &str) -> Result<Option<Tree<'r>>, RevisionError> {
        let Some(root) = &self.root else {
            return Ok(None);
        };
        if path.is_empty() {
            return Ok(Some(root.clone()));
        }
        if let Some(found) = self.folders.borrow().get(path) {
            return Ok(found.clone());
        }
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        let found = match self.folder(parent)? {
            None => None,
            Some(parent) => match parent.get_name(name) {
                Some(entry) if matches!(entry_kind(entry.filemode()), EntryKind::Folder) => Some(
                    self.repo
                        .git()
                        .find_tree(entry.id())
                        .map_err(|e| self.repo.git_error(format!("reading {path}"), e))?,
                ),
                _ => None,
            },
        };
        self.folders
            .borrow_mut()
            .insert(path.to_string(), found.clone());
        Ok(found)
    }

    /// A file's bytes; `None` when it is absent (or a folder).
    pub fn read(&self, path: &str) -> Result<Option<Vec<u8>>, RevisionError> {
        let Rev::Commit(commit) = self.rev else {
            return self.repo.file_at(Rev::Worktree, path);
        };
        let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
        let Some(tree) = self.folder(folder)? else {
            return Ok(None);
        };
        let Some(entry) = tree.get_name(name) else {
            return Ok(None);
        };
        match entry_kind(entry.filemode()) {
            EntryKind::File => {}
            EntryKind::Folder => return Ok(None),
            EntryKind::Other(entry) => {
                return Err(RepoError::NotAFile {
                    commit,
                    file: path.to_string(),
                    entry,
                }
                .into());
            }
        }
        let blob = self.repo.git().find_blob(entry.id()).map_err(|e| {
            self.repo
                .git_error(format!("reading {path} at {commit}"), e)
        })?;
        Ok(Some(blob.content().to_vec()))
    }
}

/// RFC 3339, or a date (the end of that day, UTC).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let end = date.and_hms_milli_opt(23, 59, 59, 999)?;
    Some(Utc.from_utc_datetime(&end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_the_end_of_a_day() {
        assert_eq!(
            parse_time("2026-11-20T10:00:00+01:00")
                .unwrap()
                .to_rfc3339(),
            "2026-11-20T09:00:00+00:00"
        );
        assert_eq!(
            parse_time("2026-11-20").unwrap().to_rfc3339(),
            "2026-11-20T23:59:59.999+00:00"
        );
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn files_under_a_path_at_a_commit_and_in_the_worktree() {
        use crate::snapshot::repo::tests::{git, new_org};
        let dir = tempfile::tempdir().unwrap();
        let made = new_org(dir.path());
        let repo = made.repo;
        std::fs::create_dir_all(dir.path().join("okta/groups/A")).unwrap();
        std::fs::write(dir.path().join("okta/groups/A.json"), "{}\n").unwrap();
        std::fs::write(dir.path().join("okta/groups/A/members.json"), "[]\n").unwrap();
        let both = vec![
            "okta/groups/A.json".to_string(),
            "okta/groups/A/members.json".to_string(),
        ];
        assert_eq!(
            repo.files_under(Rev::Worktree, "okta/groups").unwrap(),
            both
        );
        assert_eq!(
            repo.files_under(Rev::Worktree, "okta/groups/A.json")
                .unwrap(),
            vec!["okta/groups/A.json"]
        );
        assert!(
            repo.files_under(Rev::Worktree, "okta/apps")
                .unwrap()
                .is_empty()
        );
        // The commit before the files has none; the commit after has both.
        let at_init = Rev::Commit(made.commit);
        assert!(repo.files_under(at_init, "okta").unwrap().is_empty());
        git(dir.path(), &["add", "okta"]);
        git(dir.path(), &["commit", "-q", "-m", "groups"]);
        let head = Rev::Commit(repo.resolve("HEAD").unwrap());
        assert_eq!(repo.files_under(head, "okta/groups").unwrap(), both);
        assert_eq!(
            repo.files_under(head, "okta/groups/A").unwrap(),
            vec!["okta/groups/A/members.json"]
        );
        // Never outside the repository, never through a symlink.
        let error = repo.files_under(Rev::Worktree, "../x").unwrap_err();
        assert!(error.to_string().contains("`../x`"), "{error}");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc", dir.path().join("okta/link")).unwrap();
            let error = repo.files_under(Rev::Worktree, "okta").unwrap_err();
            assert!(error.to_string().contains("okta/link"), "{error}");
            assert!(error.to_string().contains("symlink"), "{error}");
        }
    }
}
