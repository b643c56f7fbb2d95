//! An org repository on disk (DESIGN.md "An org repository"): a git repository, bare or not,
//! with `butterfly.toml` at its root. Opening and initialising one, resolving revisions, and
//! reading the files of a commit under given folders, from git objects only: a symlink, a
//! submodule or any other non-regular entry is an error naming it, never followed.
//!
//! Writing snapshots is in `commit` (the branch) and `worktree` (a checkout of it); this module
//! owns the repository handle and the error type they share. It knows nothing of Okta: callers
//! give paths and bytes. git2 is blocking: async callers run it in `spawn_blocking`.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use git2::{ErrorCode, ObjectType, Oid, Repository, RepositoryInitOptions, Signature, Tree};

use super::lock::{LockError, SnapshotLock, Wait};
use super::worktree::DirtyFile;

/// The file whose presence at the root makes a git repository an org repository.
pub const CONFIG_FILE: &str = "butterfly.toml";

/// Where the snapshot lock lives, under the repository's common git dir.
const LOCK_FILE: &str = "butterfly/snapshot.lock";

/// An org repository could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("{path}: not a git repository: {}", .source.message())]
    NotARepository { path: PathBuf, source: git2::Error },
    #[error("{path}: not an org repository: no {CONFIG_FILE} at its root")]
    NotAnOrgRepository { path: PathBuf },
    #[error("{path}: already an org repository ({CONFIG_FILE} is there)")]
    AlreadyInitialised { path: PathBuf },
    #[error(
        "{path}: neither empty nor a git repository; give an empty or new folder, or an existing git repository"
    )]
    NotEmpty { path: PathBuf },
    #[error("{path}: the files to initialise an org repository with do not include {CONFIG_FILE}")]
    NoConfig { path: PathBuf },
    #[error(
        "{path}: HEAD is on {head}, not on the snapshot branch `{branch}`; check out `{branch}` first"
    )]
    HeadElsewhere {
        path: PathBuf,
        head: String,
        branch: String,
    },
    #[error("`{branch}`: not a valid branch name")]
    BadBranch { branch: String },
    #[error("{path}: no commit `{rev}`: {}", .source.message())]
    UnknownRevision {
        path: PathBuf,
        rev: String,
        source: git2::Error,
    },
    #[error("commit {commit}: `{file}` is a {entry}, not a regular file")]
    NotAFile {
        commit: Oid,
        file: String,
        entry: &'static str,
    },
    #[error("commit {commit}: a path under `{folder}` is not UTF-8: `{file}`")]
    NonUtf8Path {
        commit: Oid,
        folder: String,
        file: String,
    },
    #[error("`{file}`: not a valid file path in an org repository: {reason}")]
    BadPath { file: String, reason: &'static str },
    #[error(
        "`{file}`: cannot be written, `{other}` is a file where it needs a folder or a folder where it needs a file"
    )]
    PathConflict { file: String, other: String },
    #[error(
        "{path}: git's lock file is there: another git command is writing, or one was killed. If no git command is running, delete the file and run again"
    )]
    GitLocked { path: PathBuf },
    #[error(
        "{path}: branch `{branch}` moved: expected {}, found {}; nothing was committed",
        Tip(.expected), Tip(.found)
    )]
    BranchMoved {
        path: PathBuf,
        branch: String,
        expected: Option<Oid>,
        found: Option<Oid>,
    },
    #[error(
        "{workdir}: the snapshot branch `{branch}` is checked out with uncommitted changes; commit, stash or discard them first: {}",
        Listing(.files)
    )]
    Dirty {
        workdir: PathBuf,
        branch: String,
        files: Vec<DirtyFile>,
    },
    #[error(
        "{workdir}: committed {commit}, but the working tree could not follow it ({source}); the next run completes it"
    )]
    CheckoutIncomplete {
        workdir: PathBuf,
        commit: Oid,
        source: Box<RepoError>,
    },
    #[error(
        "{marker}: unreadable pending-checkout marker ({reason}); remove it after checking `git status`"
    )]
    BadMarker { marker: PathBuf, reason: String },
    #[error("{lock}: not the snapshot lock of {path}")]
    ForeignLock { lock: PathBuf, path: PathBuf },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: {what}: {}", .source.message())]
    Git {
        path: PathBuf,
        what: String,
        source: git2::Error,
    },
}

/// A branch tip for messages: its id, or that the branch does not exist.
struct Tip<'a>(&'a Option<Oid>);

impl fmt::Display for Tip<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(oid) => write!(f, "{oid}"),
            None => f.write_str("no branch"),
        }
    }
}

/// Dirty files for a message: the first twenty, then how many more.
struct Listing<'a>(&'a [DirtyFile]);

impl fmt::Display for Listing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 20;
        for (i, file) in self.0.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} {}", file.change, file.path)?;
        }
        if self.0.len() > SHOWN {
            write!(f, " and {} more", self.0.len() - SHOWN)?;
        }
        Ok(())
    }
}

/// An open org repository.
pub struct OrgRepo {
    pub(super) git: Repository,
    pub(super) path: PathBuf,
}

impl fmt::Debug for OrgRepo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrgRepo")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// What [`OrgRepo::init`] writes.
pub struct InitOptions<'a> {
    /// The snapshot branch (`main`): HEAD of a new repository points at it.
    pub branch: &'a str,
    /// Files of the first commit, by path; must include `butterfly.toml`.
    pub files: BTreeMap<String, Vec<u8>>,
    pub message: &'a str,
    pub signature: &'a Signature<'a>,
}

/// An initialised org repository.
#[derive(Debug)]
pub struct Initialised {
    pub repo: OrgRepo,
    pub commit: Oid,
    /// Given files that an existing repository already had (committed on the branch or
    /// present in its working tree): left as they were, not committed.
    pub kept: Vec<String>,
}

impl OrgRepo {
    /// Opens the org repository at `path` (its working tree, or a bare repository's folder;
    /// parent folders are not searched). `butterfly.toml` must be in the working tree or, for
    /// a bare repository, in HEAD's tree.
    pub fn open(path: &Path) -> Result<OrgRepo, RepoError> {
        let git = Repository::open(path).map_err(|source| RepoError::NotARepository {
            path: path.to_path_buf(),
            source,
        })?;
        let repo = OrgRepo {
            git,
            path: path.to_path_buf(),
        };
        if !repo.has_config()? {
            return Err(RepoError::NotAnOrgRepository {
                path: path.to_path_buf(),
            });
        }
        Ok(repo)
    }

    /// Makes `path` an org repository: a new git repository whose HEAD is the unborn snapshot
    /// branch when `path` is missing or an empty folder; else an existing git repository
    /// without `butterfly.toml` whose HEAD is on the snapshot branch or unborn (an unborn HEAD
    /// is pointed at the snapshot branch). `files` are committed on the snapshot branch (a
    /// root commit when it does not exist yet) and written to the working tree. An existing
    /// repository must have no uncommitted changes to tracked files, and its files are never
    /// overwritten: those of `files` it already has are left as they are (`kept`).
    pub fn init(path: &Path, options: InitOptions<'_>) -> Result<Initialised, RepoError> {
        let io_error = |source| RepoError::Io {
            path: path.to_path_buf(),
            source,
        };
        if !options.files.contains_key(CONFIG_FILE) {
            return Err(RepoError::NoConfig {
                path: path.to_path_buf(),
            });
        }
        let refname = branch_ref(options.branch)?;
        let existing = match Repository::open(path) {
            Ok(git) => Some(git),
            Err(e) if e.code() == ErrorCode::NotFound => None,
            Err(source) => {
                return Err(RepoError::NotARepository {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let repo = match existing {
            Some(git) => {
                let repo = OrgRepo {
                    git,
                    path: path.to_path_buf(),
                };
                if repo.has_config()? {
                    return Err(RepoError::AlreadyInitialised {
                        path: path.to_path_buf(),
                    });
                }
                repo.point_head_at(&refname, options.branch)?;
                repo
            }
            None => {
                match fs::read_dir(path) {
                    Ok(mut entries) => {
                        if entries.next().is_some() {
                            return Err(RepoError::NotEmpty {
                                path: path.to_path_buf(),
                            });
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_error(e)),
                }
                let mut init = RepositoryInitOptions::new();
                init.initial_head(&refname).mkpath(true).no_reinit(true);
                let git = Repository::init_opts(path, &init)
                    .map_err(|source| git_error(path, "creating the git repository", source))?;
                OrgRepo {
                    git,
                    path: path.to_path_buf(),
                }
            }
        };

        let lock = repo.lock("init", Wait::No)?;
        let prepared = repo.prepare(&lock, options.branch, &[])?;
        let present = match prepared.tip {
            Some(tip) => repo.list_files(tip, &[""])?,
            None => BTreeMap::new(),
        };
        let workdir = repo.git.workdir().map(Path::to_path_buf);
        let mut files = BTreeMap::new();
        let mut kept = Vec::new();
        for (file, bytes) in options.files {
            let on_disk = workdir
                .as_ref()
                .is_some_and(|w| fs::symlink_metadata(w.join(&file)).is_ok());
            if present.contains_key(&file) || on_disk {
                kept.push(file);
            } else {
                files.insert(file, bytes.into());
            }
        }
        let outcome = repo.commit_snapshot(
            &lock,
            super::commit::NewSnapshot {
                branch: options.branch,
                parent: prepared.tip,
                managed: &[],
                files,
                extra: BTreeMap::new(),
                message: options.message,
                signature: options.signature,
            },
        )?;
        let commit = match outcome {
            super::commit::CommitOutcome::Committed(committed) => committed.commit,
            // Unreachable in practice: butterfly.toml was absent, so the tree changed.
            super::commit::CommitOutcome::Unchanged { .. } => {
                return Err(RepoError::AlreadyInitialised {
                    path: path.to_path_buf(),
                });
            }
        };
        drop(lock);
        Ok(Initialised { repo, commit, kept })
    }

    /// The path this repository was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The git repository, for what this module does not cover (log, diff).
    pub fn git(&self) -> &Repository {
        &self.git
    }

    /// Takes the snapshot lock of this repository (see `lock`): every writer of the snapshot
    /// branch holds it, and [`OrgRepo::prepare`] and [`OrgRepo::commit_snapshot`] require it.
    pub fn lock(&self, run_id: &str, wait: Wait) -> Result<SnapshotLock, LockError> {
        SnapshotLock::acquire(&self.lock_path(), run_id, wait)
    }

    pub(super) fn lock_path(&self) -> PathBuf {
        self.git.commondir().join(LOCK_FILE)
    }

    pub(super) fn check_lock(&self, lock: &SnapshotLock) -> Result<(), RepoError> {
        if lock.path() == self.lock_path() {
            Ok(())
        } else {
            Err(RepoError::ForeignLock {
                lock: lock.path().to_path_buf(),
                path: self.path.clone(),
            })
        }
    }

    /// The commit at the tip of `branch` (`main`), or `None` when the branch does not exist.
    pub fn branch_tip(&self, branch: &str) -> Result<Option<Oid>, RepoError> {
        let refname = branch_ref(branch)?;
        match self.git.find_reference(&refname) {
            Ok(reference) => {
                let commit = reference
                    .peel_to_commit()
                    .map_err(|e| self.git_error(format!("reading {refname}"), e))?;
                Ok(Some(commit.id()))
            }
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(self.git_error(format!("reading {refname}"), e)),
        }
    }

    /// The commit a revision names (`main`, `HEAD~2`, an id, a tag).
    pub fn resolve(&self, rev: &str) -> Result<Oid, RepoError> {
        let unknown = |source| RepoError::UnknownRevision {
            path: self.path.clone(),
            rev: rev.to_string(),
            source,
        };
        let object = self.git.revparse_single(rev).map_err(unknown)?;
        let commit = object.peel_to_commit().map_err(unknown)?;
        Ok(commit.id())
    }

    /// The blob id of every file of `commit` under each of `under`: a folder (`okta`, `okta/`),
    /// a file (`.butterfly/index.json`), or `""` for the whole tree. What is absent is simply
    /// not listed. Cheap: no file content is read, so callers can compare with new content by
    /// `Oid::hash_object(ObjectType::Blob, bytes)`.
    pub fn list_files(
        &self,
        commit: Oid,
        under: &[&str],
    ) -> Result<BTreeMap<String, Oid>, RepoError> {
        let mut out = BTreeMap::new();
        self.walk(commit, under, &mut |file, oid| {
            out.insert(file, oid);
            Ok(())
        })?;
        Ok(out)
    }

    /// The content of every file of `commit` under each of `under` (as in [`Self::list_files`]).
    pub fn read_files(
        &self,
        commit: Oid,
        under: &[&str],
    ) -> Result<BTreeMap<String, Vec<u8>>, RepoError> {
        let mut out = BTreeMap::new();
        self.walk(commit, under, &mut |file, oid| {
            let blob = self
                .git
                .find_blob(oid)
                .map_err(|e| self.git_error(format!("reading {file} at {commit}"), e))?;
            out.insert(file, blob.content().to_vec());
            Ok(())
        })?;
        Ok(out)
    }

    fn walk(
        &self,
        commit: Oid,
        under: &[&str],
        visit: &mut dyn FnMut(String, Oid) -> Result<(), RepoError>,
    ) -> Result<(), RepoError> {
        let tree = self.commit_tree(commit)?;
        for folder in under {
            let folder = folder.trim_matches('/');
            if folder.is_empty() {
                self.walk_tree(commit, "", &tree, visit)?;
                continue;
            }
            let entry = match tree.get_path(Path::new(folder)) {
                Ok(entry) => entry,
                Err(e) if e.code() == ErrorCode::NotFound => continue,
                Err(e) => return Err(self.git_error(format!("reading {folder} at {commit}"), e)),
            };
            match entry_kind(entry.filemode()) {
                EntryKind::Folder => {
                    let subtree = self
                        .git
                        .find_tree(entry.id())
                        .map_err(|e| self.git_error(format!("reading {folder} at {commit}"), e))?;
                    self.walk_tree(commit, folder, &subtree, visit)?;
                }
                EntryKind::File => visit(folder.to_string(), entry.id())?,
                EntryKind::Other(entry) => {
                    return Err(RepoError::NotAFile {
                        commit,
                        file: folder.to_string(),
                        entry,
                    });
                }
            }
        }
        Ok(())
    }

    fn walk_tree(
        &self,
        commit: Oid,
        prefix: &str,
        tree: &Tree<'_>,
        visit: &mut dyn FnMut(String, Oid) -> Result<(), RepoError>,
    ) -> Result<(), RepoError> {
        for entry in tree.iter() {
            let Ok(name) = std::str::from_utf8(entry.name_bytes()) else {
                return Err(RepoError::NonUtf8Path {
                    commit,
                    folder: prefix.to_string(),
                    file: String::from_utf8_lossy(entry.name_bytes()).into_owned(),
                });
            };
            let file = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}/{name}")
            };
            match entry_kind(entry.filemode()) {
                EntryKind::Folder => {
                    let subtree = self
                        .git
                        .find_tree(entry.id())
                        .map_err(|e| self.git_error(format!("reading {file} at {commit}"), e))?;
                    self.walk_tree(commit, &file, &subtree, visit)?;
                }
                EntryKind::File => visit(file, entry.id())?,
                EntryKind::Other(entry) => {
                    return Err(RepoError::NotAFile {
                        commit,
                        file,
                        entry,
                    });
                }
            }
        }
        Ok(())
    }

    pub(super) fn commit_tree(&self, commit: Oid) -> Result<Tree<'_>, RepoError> {
        self.git
            .find_commit(commit)
            .and_then(|c| c.tree())
            .map_err(|e| self.git_error(format!("reading commit {commit}"), e))
    }

    pub(super) fn git_error(&self, what: String, source: git2::Error) -> RepoError {
        RepoError::Git {
            path: self.path.clone(),
            what,
            source,
        }
    }

    /// Whether `butterfly.toml` is in the working tree, or (bare) in HEAD's tree.
    fn has_config(&self) -> Result<bool, RepoError> {
        if let Some(workdir) = self.git.workdir() {
            return Ok(workdir.join(CONFIG_FILE).is_file());
        }
        let head = match self.git.head() {
            Ok(head) => head,
            Err(e) if matches!(e.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => {
                return Ok(false);
            }
            Err(e) => return Err(self.git_error("reading HEAD".to_string(), e)),
        };
        let tree = head
            .peel_to_tree()
            .map_err(|e| self.git_error("reading HEAD".to_string(), e))?;
        Ok(tree
            .get_name(CONFIG_FILE)
            .is_some_and(|entry| entry.kind() == Some(ObjectType::Blob)))
    }

    /// For init in an existing repository: HEAD must be on the snapshot branch, or unborn
    /// (then it is pointed at the snapshot branch).
    fn point_head_at(&self, refname: &str, branch: &str) -> Result<(), RepoError> {
        let head = self
            .git
            .find_reference("HEAD")
            .map_err(|e| self.git_error("reading HEAD".to_string(), e))?;
        match head.symbolic_target().ok().flatten() {
            Some(target) if target == refname => Ok(()),
            Some(target) if self.git.find_reference(target).is_err() => self
                .git
                .set_head(refname)
                .map_err(|e| self.git_error(format!("pointing HEAD at {refname}"), e)),
            Some(target) => Err(RepoError::HeadElsewhere {
                path: self.path.clone(),
                head: format!("`{}`", target.trim_start_matches("refs/heads/")),
                branch: branch.to_string(),
            }),
            None => Err(RepoError::HeadElsewhere {
                path: self.path.clone(),
                head: "a detached commit".to_string(),
                branch: branch.to_string(),
            }),
        }
    }
}

pub(super) fn git_error(path: &Path, what: &str, source: git2::Error) -> RepoError {
    RepoError::Git {
        path: path.to_path_buf(),
        what: what.to_string(),
        source,
    }
}

/// `refs/heads/<branch>`, if that is a valid reference name.
pub(super) fn branch_ref(branch: &str) -> Result<String, RepoError> {
    let refname = format!("refs/heads/{branch}");
    if branch.is_empty() || !git2::Reference::is_valid_name(&refname) {
        return Err(RepoError::BadBranch {
            branch: branch.to_string(),
        });
    }
    Ok(refname)
}

pub(super) enum EntryKind {
    Folder,
    File,
    Other(&'static str),
}

/// What a tree entry is, by its mode: only folders and regular files (executable or not)
/// belong in an org repository.
pub(super) fn entry_kind(filemode: i32) -> EntryKind {
    match filemode & 0o170_000 {
        0o040_000 => EntryKind::Folder,
        0o100_000 => EntryKind::File,
        0o120_000 => EntryKind::Other("symlink"),
        0o160_000 => EntryKind::Other("submodule"),
        _ => EntryKind::Other("special entry"),
    }
}

/// Whether `file` is `folder` itself or inside it (`folder` with or without a trailing `/`;
/// `""` holds everything).
pub(super) fn is_under(file: &str, folder: &str) -> bool {
    let folder = folder.trim_matches('/');
    folder.is_empty()
        || file == folder
        || (file.starts_with(folder) && file.as_bytes().get(folder.len()) == Some(&b'/'))
}

/// Refuses a path that is not a plain relative path of an org repository.
pub(super) fn check_path(file: &str) -> Result<(), RepoError> {
    let bad = |reason| {
        Err(RepoError::BadPath {
            file: file.to_string(),
            reason,
        })
    };
    if file.is_empty() {
        return bad("it is empty");
    }
    if file.contains('\0') {
        return bad("it holds a NUL character");
    }
    if file.starts_with('/') || file.ends_with('/') {
        return bad("it starts or ends with `/`");
    }
    for component in file.split('/') {
        match component {
            "" => return bad("it has an empty component (`//`)"),
            "." | ".." => return bad("it has a `.` or `..` component"),
            c if c.eq_ignore_ascii_case(".git") => return bad("it has a `.git` component"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::process::Command;

    pub(crate) fn signature() -> Signature<'static> {
        Signature::new(
            "Butterfly Test",
            "test@example.com",
            &git2::Time::new(1_767_225_600, 0),
        )
        .unwrap()
    }

    /// The folders a backup manages, as the snapshot tests commit them.
    pub(crate) const MANAGED: &[&str] = &["okta/", ".butterfly/index.json"];

    /// A snapshot of `pairs` (path, text) on `main` after `parent`.
    pub(crate) fn snapshot<'a>(
        parent: Option<Oid>,
        pairs: &[(&str, &str)],
        signature: &'a Signature<'a>,
    ) -> crate::snapshot::commit::NewSnapshot<'a> {
        crate::snapshot::commit::NewSnapshot {
            branch: "main",
            parent,
            managed: MANAGED,
            files: files(pairs)
                .into_iter()
                .map(|(p, b)| (p, b.into()))
                .collect(),
            extra: BTreeMap::new(),
            message: "Backup\n\nRun: test",
            signature,
        }
    }

    /// The commit of an outcome that must have made one.
    pub(crate) fn committed(
        outcome: crate::snapshot::commit::CommitOutcome,
    ) -> crate::snapshot::commit::Committed {
        match outcome {
            crate::snapshot::commit::CommitOutcome::Committed(committed) => committed,
            crate::snapshot::commit::CommitOutcome::Unchanged { tip } => {
                panic!("expected a commit, tip stayed at {tip:?}")
            }
        }
    }

    pub(crate) fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(path, text)| (path.to_string(), text.as_bytes().to_vec()))
            .collect()
    }

    /// Runs the git binary in `dir`, asserting success; returns stdout.
    pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(dir)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .env("GIT_AUTHOR_NAME", "Someone")
            .env("GIT_AUTHOR_EMAIL", "someone@example.com")
            .env("GIT_COMMITTER_NAME", "Someone")
            .env("GIT_COMMITTER_EMAIL", "someone@example.com")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `git fsck --strict` passes and reports nothing broken.
    pub(crate) fn assert_fsck_clean(dir: &Path) {
        let out = Command::new("git")
            .current_dir(dir)
            .args(["fsck", "--strict", "--no-dangling", "--no-progress"])
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "git fsck failed: {text}");
        assert!(text.trim().is_empty(), "git fsck reported: {text}");
    }

    /// A new org repository on `main` with butterfly.toml and a README.
    pub(crate) fn new_org(dir: &Path) -> Initialised {
        OrgRepo::init(
            dir,
            InitOptions {
                branch: "main",
                files: files(&[
                    (CONFIG_FILE, "[okta]\ndomain = \"acme.okta.com\"\n"),
                    ("README.md", "# acme\n"),
                ]),
                message: "Initialise the org repository",
                signature: &signature(),
            },
        )
        .unwrap()
    }

    #[test]
    fn init_makes_an_org_repository_on_the_snapshot_branch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acme");
        let made = new_org(&path);
        assert!(made.kept.is_empty());
        assert_eq!(made.repo.branch_tip("main").unwrap(), Some(made.commit));
        assert_eq!(
            git(&path, &["symbolic-ref", "HEAD"]).trim(),
            "refs/heads/main"
        );
        assert_eq!(
            fs::read_to_string(path.join("README.md")).unwrap(),
            "# acme\n"
        );
        assert_eq!(git(&path, &["status", "--porcelain"]), "");
        assert_eq!(
            git(&path, &["log", "--format=%s"]).trim(),
            "Initialise the org repository"
        );
        assert_fsck_clean(&path);
        let reopened = OrgRepo::open(&path).unwrap();
        assert_eq!(
            reopened
                .list_files(made.commit, &[""])
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["README.md", CONFIG_FILE]
        );
    }

    #[test]
    fn init_refuses_a_non_empty_folder_and_an_org_repository() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("notes.txt"), "mine").unwrap();
        let err = OrgRepo::init(
            dir.path(),
            InitOptions {
                branch: "main",
                files: files(&[(CONFIG_FILE, "")]),
                message: "init",
                signature: &signature(),
            },
        )
        .unwrap_err();
        assert!(matches!(err, RepoError::NotEmpty { .. }), "{err}");
        assert!(err.to_string().contains(&dir.path().display().to_string()));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

        let org = dir.path().join("org");
        new_org(&org);
        let err = OrgRepo::init(
            &org,
            InitOptions {
                branch: "main",
                files: files(&[(CONFIG_FILE, "")]),
                message: "init",
                signature: &signature(),
            },
        )
        .unwrap_err();
        assert!(matches!(err, RepoError::AlreadyInitialised { .. }), "{err}");
    }

    #[test]
    fn init_refuses_files_without_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let err = OrgRepo::init(
            dir.path(),
            InitOptions {
                branch: "main",
                files: files(&[("README.md", "")]),
                message: "init",
                signature: &signature(),
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains(CONFIG_FILE), "{err}");
    }

    #[test]
    fn init_adopts_an_existing_git_repository_keeping_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        git(path, &["init", "-q", "-b", "trunk"]);
        // Unborn HEAD on another name: pointed at the snapshot branch.
        fs::write(path.join("README.md"), "theirs\n").unwrap();
        let made = new_org(path);
        assert_eq!(made.kept, ["README.md"]);
        assert_eq!(
            git(path, &["symbolic-ref", "HEAD"]).trim(),
            "refs/heads/main"
        );
        assert_eq!(
            fs::read_to_string(path.join("README.md")).unwrap(),
            "theirs\n"
        );
        assert_eq!(
            made.repo
                .list_files(made.commit, &[""])
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            [CONFIG_FILE]
        );
        assert_eq!(git(path, &["status", "--porcelain"]), "?? README.md\n");
        assert_fsck_clean(path);
    }

    #[test]
    fn init_adds_to_the_snapshot_branch_of_an_existing_repository() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        git(path, &["init", "-q", "-b", "main"]);
        fs::write(path.join("README.md"), "theirs\n").unwrap();
        git(path, &["add", "README.md"]);
        git(path, &["commit", "-q", "-m", "first"]);
        let first = git(path, &["rev-parse", "HEAD"]);
        let made = new_org(path);
        assert_eq!(made.kept, ["README.md"]);
        assert_eq!(git(path, &["rev-parse", "HEAD^"]).trim(), first.trim());
        assert_eq!(git(path, &["status", "--porcelain"]), "");
        assert!(path.join(CONFIG_FILE).is_file());
    }

    #[test]
    fn init_refuses_an_existing_repository_on_another_branch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        git(path, &["init", "-q", "-b", "work"]);
        git(path, &["commit", "-q", "--allow-empty", "-m", "first"]);
        let err = OrgRepo::init(
            path,
            InitOptions {
                branch: "main",
                files: files(&[(CONFIG_FILE, "")]),
                message: "init",
                signature: &signature(),
            },
        )
        .unwrap_err();
        assert!(matches!(err, RepoError::HeadElsewhere { .. }), "{err}");
        assert!(err.to_string().contains("`work`"), "{err}");
    }

    #[test]
    fn open_refuses_what_is_not_an_org_repository() {
        let dir = tempfile::tempdir().unwrap();
        let err = OrgRepo::open(dir.path()).unwrap_err();
        assert!(matches!(err, RepoError::NotARepository { .. }), "{err}");
        git(dir.path(), &["init", "-q"]);
        let err = OrgRepo::open(dir.path()).unwrap_err();
        assert!(matches!(err, RepoError::NotAnOrgRepository { .. }), "{err}");
        assert!(err.to_string().contains(CONFIG_FILE));
    }

    #[test]
    fn a_bare_clone_opens_by_its_head_tree() {
        let dir = tempfile::tempdir().unwrap();
        let org = dir.path().join("org");
        new_org(&org);
        let bare = dir.path().join("org.git");
        git(dir.path(), &["clone", "-q", "--bare", "org", "org.git"]);
        let repo = OrgRepo::open(&bare).unwrap();
        assert!(repo.branch_tip("main").unwrap().is_some());
    }

    #[test]
    fn reading_lists_files_under_folders_and_resolves_revisions() {
        let dir = tempfile::tempdir().unwrap();
        let made = new_org(dir.path());
        let path = dir.path();
        fs::create_dir_all(path.join("okta/groups/Eng")).unwrap();
        fs::create_dir_all(path.join(".butterfly")).unwrap();
        fs::write(path.join("okta/groups/Eng.json"), "{}\n").unwrap();
        fs::write(path.join("okta/groups/Eng/members.json"), "[]\n").unwrap();
        fs::write(path.join(".butterfly/index.json"), "{}\n").unwrap();
        git(path, &["add", "-A"]);
        git(path, &["commit", "-q", "-m", "snapshot"]);
        let repo = made.repo;
        let tip = repo.resolve("main").unwrap();
        assert_eq!(repo.resolve("HEAD~1").unwrap(), made.commit);

        let listed = repo
            .list_files(tip, &["okta/", ".butterfly/index.json", "absent"])
            .unwrap();
        assert_eq!(
            listed.keys().collect::<Vec<_>>(),
            [
                ".butterfly/index.json",
                "okta/groups/Eng.json",
                "okta/groups/Eng/members.json"
            ]
        );
        let read = repo.read_files(tip, &["okta"]).unwrap();
        assert_eq!(read["okta/groups/Eng/members.json"], b"[]\n");
        assert_eq!(
            listed["okta/groups/Eng.json"],
            Oid::hash_object(ObjectType::Blob, b"{}\n").unwrap()
        );

        let err = repo.resolve("no-such-branch").unwrap_err();
        assert!(err.to_string().contains("no-such-branch"), "{err}");
        assert_eq!(repo.branch_tip("other").unwrap(), None);
        assert!(matches!(
            repo.branch_tip("a..b"),
            Err(RepoError::BadBranch { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn reading_refuses_a_symlink_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let made = new_org(dir.path());
        let path = dir.path();
        fs::create_dir_all(path.join("okta/groups")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", path.join("okta/groups/Eng.json")).unwrap();
        git(path, &["add", "-A"]);
        git(path, &["commit", "-q", "-m", "symlink"]);
        let tip = made.repo.resolve("main").unwrap();
        let err = made.repo.read_files(tip, &["okta"]).unwrap_err();
        assert!(
            matches!(&err, RepoError::NotAFile { file, entry: "symlink", .. } if file == "okta/groups/Eng.json"),
            "{err}"
        );
        let err = made
            .repo
            .list_files(tip, &["okta/groups/Eng.json"])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("commit {tip}: `okta/groups/Eng.json` is a symlink, not a regular file")
        );
    }

    #[test]
    fn reading_refuses_a_submodule_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let made = new_org(dir.path());
        let path = dir.path();
        let commit = made.commit.to_string();
        git(
            path,
            &[
                "update-index",
                "--add",
                "--cacheinfo",
                &format!("160000,{commit},okta/sub"),
            ],
        );
        git(path, &["commit", "-q", "-m", "submodule"]);
        let tip = made.repo.resolve("main").unwrap();
        let err = made.repo.list_files(tip, &[""]).unwrap_err();
        assert!(
            matches!(&err, RepoError::NotAFile { file, entry: "submodule", .. } if file == "okta/sub"),
            "{err}"
        );
    }

    #[test]
    fn paths_are_checked_and_matched_by_folder() {
        for bad in [
            "",
            "/okta/a.json",
            "okta/",
            "okta//a.json",
            "okta/../a",
            "./a",
            ".git/config",
            "okta/.GIT/x",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        check_path("okta/groups/Eng.json").unwrap();
        assert!(is_under("okta/groups/a.json", "okta/"));
        assert!(is_under("okta/groups/a.json", "okta"));
        assert!(!is_under("oktaz/a.json", "okta"));
        assert!(is_under(".butterfly/index.json", ".butterfly/index.json"));
        assert!(!is_under(
            ".butterfly/changes/x.json",
            ".butterfly/index.json"
        ));
        assert!(is_under("anything", ""));
    }
}
