//! Committing a snapshot: the new tree is built from the parent's tree as git objects only
//! (managed folders replaced whole, everything else kept), committed, and the snapshot branch
//! moved from the expected parent to it in one compare-and-swap step, whatever is checked out.
//! No change to the tree makes no commit. Where the branch is checked out, the working tree
//! then follows (`worktree`).
//!
//! Knows nothing of Okta: paths and bytes in, a commit id out.

use std::collections::BTreeMap;

use git2::{ErrorCode, Oid, Repository, Signature};

use super::lock::SnapshotLock;
use super::repo::{EntryKind, OrgRepo, RepoError, branch_ref, check_path, entry_kind};
use super::worktree::{self, Followed};

/// A snapshot to commit.
pub struct NewSnapshot<'a> {
    /// The snapshot branch (`main`).
    pub branch: &'a str,
    /// The commit the branch must still point at (`None`: the branch must not exist yet); the
    /// new commit's parent.
    pub parent: Option<Oid>,
    /// Folders (`okta/`) and files (`.butterfly/index.json`) whose whole content in the parent
    /// is replaced by `files`; everything outside them is kept.
    pub managed: &'a [&'a str],
    /// The new files, by path (`okta/groups/Engineering.json`).
    pub files: BTreeMap<String, FileContent>,
    /// Files added (or replaced) on top, only when `files` change the tree: they never make a
    /// commit by themselves (`.butterfly/changes/<time>.json`).
    pub extra: BTreeMap<String, Vec<u8>>,
    pub message: &'a str,
    pub signature: &'a Signature<'a>,
}

/// A file's content: bytes to write, or a blob already in the repository (written while a
/// backup streamed, or kept from the parent snapshot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileContent {
    Bytes(Vec<u8>),
    Blob(Oid),
}

impl From<Vec<u8>> for FileContent {
    fn from(bytes: Vec<u8>) -> Self {
        FileContent::Bytes(bytes)
    }
}

/// What committing did.
#[derive(Debug)]
pub enum CommitOutcome {
    /// The tree equals the parent's: no commit, the branch did not move.
    Unchanged {
        tip: Option<Oid>,
    },
    Committed(Committed),
}

#[derive(Debug)]
pub struct Committed {
    pub commit: Oid,
    pub parent: Option<Oid>,
    /// Each working tree where the branch is checked out, brought to the new commit.
    pub followed: Vec<Followed>,
}

impl OrgRepo {
    /// Commits `snapshot` on its branch (see [`NewSnapshot`]). Fails with
    /// [`RepoError::BranchMoved`] when the branch is not at `snapshot.parent`, before or while
    /// moving it (nothing is then committed), and with [`RepoError::CheckoutIncomplete`] when
    /// the commit was made but a working tree could not follow it (the next
    /// [`OrgRepo::prepare`] completes it). Call [`OrgRepo::prepare`] first under the same lock:
    /// it refuses a dirty checkout of the branch. A file edited between the two is left as
    /// the user left it (`Followed::kept`).
    pub fn commit_snapshot(
        &self,
        lock: &SnapshotLock,
        snapshot: NewSnapshot<'_>,
    ) -> Result<CommitOutcome, RepoError> {
        self.check_lock(lock)?;
        let refname = branch_ref(snapshot.branch)?;
        let found = self.branch_tip(snapshot.branch)?;
        if found != snapshot.parent {
            return Err(RepoError::BranchMoved {
                path: self.path.clone(),
                branch: snapshot.branch.to_string(),
                expected: snapshot.parent,
                found,
            });
        }
        for folder in snapshot.managed {
            let trimmed = folder.trim_matches('/');
            if !trimmed.is_empty() {
                check_path(trimmed)?;
            }
        }
        for file in snapshot.files.keys().chain(snapshot.extra.keys()) {
            check_path(file)?;
        }

        let base = match snapshot.parent {
            Some(parent) => Some(self.commit_tree(parent)?.id()),
            None => None,
        };
        let mut root = Folder::new(base);
        for folder in snapshot.managed {
            root.remove(self, folder.trim_matches('/'))?;
        }
        for (file, content) in snapshot.files {
            let blob = match content {
                FileContent::Bytes(bytes) => self
                    .git
                    .blob(&bytes)
                    .map_err(|e| self.git_error(format!("writing {file}"), e))?,
                FileContent::Blob(blob) => blob,
            };
            root.insert(self, &file, blob)?;
        }
        let tree = root.write(self)?;
        let unchanged = match base {
            Some(base) => tree == base,
            None => root.is_empty(),
        };
        if unchanged {
            return Ok(CommitOutcome::Unchanged { tip: found });
        }
        let mut tree = tree;
        if !snapshot.extra.is_empty() {
            for (file, bytes) in snapshot.extra {
                let blob = self
                    .git
                    .blob(&bytes)
                    .map_err(|e| self.git_error(format!("writing {file}"), e))?;
                root.insert(self, &file, blob)?;
            }
            tree = root.write(self)?;
        }

        let tree = self
            .git
            .find_tree(tree)
            .map_err(|e| self.git_error(format!("reading the new tree {tree}"), e))?;
        let parent = match snapshot.parent {
            Some(parent) => Some(
                self.git
                    .find_commit(parent)
                    .map_err(|e| self.git_error(format!("reading commit {parent}"), e))?,
            ),
            None => None,
        };
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let commit = self
            .git
            .commit(
                None,
                snapshot.signature,
                snapshot.signature,
                snapshot.message,
                &tree,
                &parents,
            )
            .map_err(|e| self.git_error(format!("committing on {refname}"), e))?;
        let summary = snapshot.message.lines().next().unwrap_or_default();
        let reflog = match snapshot.parent {
            Some(_) => format!("commit: {summary}"),
            None => format!("commit (initial): {summary}"),
        };
        let followed = worktree::publish(self, snapshot.branch, snapshot.parent, commit, &reflog)?;
        Ok(CommitOutcome::Committed(Committed {
            commit,
            parent: snapshot.parent,
            followed,
        }))
    }

    /// Moves `refname` from `expected` to `new` in one step, or says who moved it.
    pub(super) fn move_branch(
        &self,
        branch: &str,
        expected: Option<Oid>,
        new: Oid,
        reflog: &str,
    ) -> Result<(), RepoError> {
        let refname = branch_ref(branch)?;
        let moved = match expected {
            Some(old) => self
                .git
                .reference_matching(&refname, new, true, old, reflog),
            None => self.git.reference(&refname, new, false, reflog),
        };
        match moved {
            Ok(_) => Ok(()),
            Err(e) if e.code() == ErrorCode::Locked => Err(RepoError::GitLocked {
                path: self.git.commondir().join(format!("{refname}.lock")),
            }),
            Err(e)
                if matches!(
                    e.code(),
                    ErrorCode::Modified | ErrorCode::Exists | ErrorCode::NotFound
                ) =>
            {
                Err(RepoError::BranchMoved {
                    path: self.path.clone(),
                    branch: branch.to_string(),
                    expected,
                    found: self.branch_tip(branch)?,
                })
            }
            Err(e) => Err(self.git_error(format!("moving {refname}"), e)),
        }
    }
}

/// A folder of the tree being built: entries as they are in git (a blob or an unchanged
/// subtree, by id and mode) or a folder being changed. `written` caches the id of what was
/// last written; every change on the way down clears it.
struct Folder {
    entries: BTreeMap<String, Node>,
    written: Option<Oid>,
    /// Loaded from `base` on first use.
    base: Option<Oid>,
    loaded: bool,
}

enum Node {
    Kept { id: Oid, mode: i32 },
    Changed(Folder),
}

const FILE_MODE: i32 = 0o100_644;
const FOLDER_MODE: i32 = 0o040_000;

impl Folder {
    fn new(base: Option<Oid>) -> Folder {
        Folder {
            entries: BTreeMap::new(),
            written: base,
            base,
            loaded: base.is_none(),
        }
    }

    fn is_empty(&self) -> bool {
        self.loaded && self.entries.is_empty()
    }

    fn load(&mut self, repo: &OrgRepo, at: &str) -> Result<(), RepoError> {
        if self.loaded {
            return Ok(());
        }
        self.loaded = true;
        let Some(base) = self.base else {
            return Ok(());
        };
        let tree = repo
            .git
            .find_tree(base)
            .map_err(|e| repo.git_error(format!("reading folder `{at}`"), e))?;
        for entry in tree.iter() {
            // Names outside UTF-8 can only be outside the managed folders: kept as they are,
            // under a lossless stand-in is impossible, so refuse to rebuild such a folder.
            let Ok(name) = std::str::from_utf8(entry.name_bytes()) else {
                return Err(RepoError::BadPath {
                    file: format!("{at}/{}", String::from_utf8_lossy(entry.name_bytes())),
                    reason: "the parent commit has a name here that is not UTF-8",
                });
            };
            self.entries.insert(
                name.to_string(),
                Node::Kept {
                    id: entry.id(),
                    mode: entry.filemode(),
                },
            );
        }
        Ok(())
    }

    /// The folder at `name` below this one, made a `Changed` folder (loaded), created if
    /// `create`; `None` when absent and not created. Clears `written` on the way.
    fn child(
        &mut self,
        repo: &OrgRepo,
        at: &str,
        name: &str,
        create: bool,
        file: &str,
    ) -> Result<Option<&mut Folder>, RepoError> {
        self.load(repo, at)?;
        self.written = None;
        let here = join(at, name);
        match self.entries.get(name) {
            None if !create => return Ok(None),
            None => {
                self.entries
                    .insert(name.to_string(), Node::Changed(Folder::new(None)));
            }
            Some(Node::Kept { id, mode }) => match entry_kind(*mode) {
                EntryKind::Folder => {
                    let id = *id;
                    self.entries
                        .insert(name.to_string(), Node::Changed(Folder::new(Some(id))));
                }
                _ => {
                    return Err(RepoError::PathConflict {
                        file: file.to_string(),
                        other: here,
                    });
                }
            },
            Some(Node::Changed(_)) => {}
        }
        match self.entries.get_mut(name) {
            Some(Node::Changed(folder)) => {
                folder.load(repo, &here)?;
                folder.written = None;
                Ok(Some(folder))
            }
            _ => Ok(None),
        }
    }

    /// Removes the file or folder at `path` (`""`: everything).
    fn remove(&mut self, repo: &OrgRepo, path: &str) -> Result<(), RepoError> {
        if path.is_empty() {
            *self = Folder::new(None);
            return Ok(());
        }
        let (parents, name) = match path.rsplit_once('/') {
            Some((parents, name)) => (Some(parents), name),
            None => (None, path),
        };
        let mut folder = self;
        let mut at = String::new();
        if let Some(parents) = parents {
            for part in parents.split('/') {
                match folder.child(repo, &at, part, false, path)? {
                    Some(child) => folder = child,
                    None => return Ok(()),
                }
                at = join(&at, part);
            }
        }
        folder.load(repo, &at)?;
        folder.written = None;
        folder.entries.remove(name);
        Ok(())
    }

    /// Puts the blob `id` at `path` as a regular file.
    fn insert(&mut self, repo: &OrgRepo, path: &str, id: Oid) -> Result<(), RepoError> {
        let (parents, name) = match path.rsplit_once('/') {
            Some((parents, name)) => (Some(parents), name),
            None => (None, path),
        };
        let mut folder = self;
        let mut at = String::new();
        if let Some(parents) = parents {
            for part in parents.split('/') {
                let Some(child) = folder.child(repo, &at, part, true, path)? else {
                    // child() creates what is missing; a conflict is an error there.
                    return Err(RepoError::PathConflict {
                        file: path.to_string(),
                        other: join(&at, part),
                    });
                };
                folder = child;
                at = join(&at, part);
            }
        }
        folder.load(repo, &at)?;
        folder.written = None;
        if matches!(folder.entries.get(name), Some(Node::Changed(_)))
            || matches!(folder.entries.get(name), Some(Node::Kept { mode, .. }) if matches!(entry_kind(*mode), EntryKind::Folder))
        {
            return Err(RepoError::PathConflict {
                file: path.to_string(),
                other: join(&at, name),
            });
        }
        folder.entries.insert(
            name.to_string(),
            Node::Kept {
                id,
                mode: FILE_MODE,
            },
        );
        Ok(())
    }

    /// Writes this folder's tree (and its changed subfolders'), leaving out empty folders;
    /// returns its id.
    fn write(&mut self, repo: &OrgRepo) -> Result<Oid, RepoError> {
        self.write_at(repo, "")
    }

    fn write_at(&mut self, repo: &OrgRepo, at: &str) -> Result<Oid, RepoError> {
        if let Some(id) = self.written {
            return Ok(id);
        }
        let git: &Repository = &repo.git;
        let mut builder = git
            .treebuilder(None)
            .map_err(|e| repo.git_error(format!("building folder `{at}`"), e))?;
        for (name, node) in &mut self.entries {
            let (id, mode) = match node {
                Node::Kept { id, mode } => (*id, *mode),
                Node::Changed(folder) => {
                    if folder.is_empty() || folder.is_hollow() {
                        continue;
                    }
                    (folder.write_at(repo, &join(at, name))?, FOLDER_MODE)
                }
            };
            builder
                .insert(name.as_str(), id, mode)
                .map_err(|e| repo.git_error(format!("building folder `{at}` ({name})"), e))?;
        }
        let id = builder
            .write()
            .map_err(|e| repo.git_error(format!("writing folder `{at}`"), e))?;
        self.written = Some(id);
        Ok(id)
    }

    /// A changed folder holding only changed folders that are themselves empty: git has no
    /// empty folders, so it is left out.
    fn is_hollow(&self) -> bool {
        self.loaded
            && self.entries.values().all(|node| match node {
                Node::Kept { .. } => false,
                Node::Changed(folder) => folder.is_empty() || folder.is_hollow(),
            })
    }
}

fn join(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_string()
    } else {
        format!("{at}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::lock::Wait;
    use crate::snapshot::repo::CONFIG_FILE;
    use crate::snapshot::repo::tests::{
        assert_fsck_clean, committed, git, new_org, signature, snapshot,
    };
    use std::fs;
    use std::path::Path;

    fn tree_of(repo: &OrgRepo, commit: Oid) -> Vec<(String, String)> {
        repo.read_files(commit, &[""])
            .unwrap()
            .into_iter()
            .map(|(path, bytes)| (path, String::from_utf8(bytes).unwrap()))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    /// A repository whose HEAD is elsewhere (detached), so no working tree follows.
    fn detached(path: &Path) -> (OrgRepo, Oid) {
        let made = new_org(path);
        git(path, &["checkout", "-q", "--detach"]);
        (made.repo, made.commit)
    }

    #[test]
    fn replaces_managed_folders_and_keeps_everything_else() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, first) = detached(dir.path());
        let sig = signature();
        let lock = repo.lock("run-1", Wait::No).unwrap();
        let one = committed(
            repo.commit_snapshot(
                &lock,
                snapshot(
                    Some(first),
                    &[
                        ("okta/groups/Eng.json", "{\"id\":1}\n"),
                        ("okta/groups/Eng/members.json", "[]\n"),
                        ("okta/apps/Jira.json", "{}\n"),
                        (".butterfly/index.json", "{\"a\":1}\n"),
                    ],
                    &sig,
                ),
            )
            .unwrap(),
        );
        assert_eq!(one.parent, Some(first));
        assert!(one.followed.is_empty());
        // Another file beside the managed ones, as a user would add it.
        fs::create_dir_all(dir.path().join("rules")).unwrap();
        let mut change = snapshot(
            Some(one.commit),
            &[
                ("okta/groups/Eng.json", "{\"id\":2}\n"),
                (".butterfly/index.json", "{\"a\":2}\n"),
            ],
            &sig,
        );
        change
            .extra
            .insert(".butterfly/changes/t1.json".to_string(), b"[]\n".to_vec());
        let two = committed(repo.commit_snapshot(&lock, change).unwrap());
        assert_eq!(
            tree_of(&repo, two.commit),
            pairs(&[
                (".butterfly/changes/t1.json", "[]\n"),
                (".butterfly/index.json", "{\"a\":2}\n"),
                ("README.md", "# acme\n"),
                (CONFIG_FILE, "[okta]\ndomain = \"acme.okta.com\"\n"),
                ("okta/groups/Eng.json", "{\"id\":2}\n"),
            ])
        );
        assert_eq!(repo.branch_tip("main").unwrap(), Some(two.commit));
        let commit = repo.git.find_commit(two.commit).unwrap();
        assert_eq!(commit.message().unwrap(), "Backup\n\nRun: test");
        assert_eq!(commit.parent_id(0).unwrap(), one.commit);
        // The working tree (detached) was not touched.
        assert!(!dir.path().join("okta").exists());
        assert_fsck_clean(dir.path());
        assert_eq!(
            git(dir.path(), &["reflog", "-1", "--format=%gs", "main"]).trim(),
            "commit: Backup"
        );
    }

    #[test]
    fn the_same_tree_makes_no_commit_and_extra_files_alone_do_not_either() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, first) = detached(dir.path());
        let sig = signature();
        let lock = repo.lock("run-1", Wait::No).unwrap();
        let content = [
            ("okta/groups/Eng.json", "{}\n"),
            (".butterfly/index.json", "{}\n"),
        ];
        let one = committed(
            repo.commit_snapshot(&lock, snapshot(Some(first), &content, &sig))
                .unwrap(),
        );
        let mut again = snapshot(Some(one.commit), &content, &sig);
        again
            .extra
            .insert(".butterfly/changes/t2.json".to_string(), b"[1]\n".to_vec());
        let outcome = repo.commit_snapshot(&lock, again).unwrap();
        assert!(
            matches!(outcome, CommitOutcome::Unchanged { tip: Some(tip) } if tip == one.commit),
            "{outcome:?}"
        );
        assert_eq!(repo.branch_tip("main").unwrap(), Some(one.commit));
    }

    #[test]
    fn a_moved_branch_is_detected_and_nothing_is_committed() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, first) = detached(dir.path());
        let sig = signature();
        let lock = repo.lock("run-1", Wait::No).unwrap();
        // Someone commits on main meanwhile.
        git(
            dir.path(),
            &["commit", "-q", "--allow-empty", "-m", "meanwhile"],
        );
        git(dir.path(), &["branch", "-f", "main", "HEAD"]);
        let moved = repo.branch_tip("main").unwrap().unwrap();
        let err = repo
            .commit_snapshot(
                &lock,
                snapshot(Some(first), &[("okta/a.json", "{}\n")], &sig),
            )
            .unwrap_err();
        assert!(
            matches!(&err, RepoError::BranchMoved { expected: Some(e), found: Some(f), .. } if *e == first && *f == moved),
            "{err}"
        );
        assert!(err.to_string().contains(&moved.to_string()));
        assert_eq!(repo.branch_tip("main").unwrap(), Some(moved));

        // And the compare-and-swap itself refuses a ref changed after the tree was built.
        let err = repo
            .move_branch("main", Some(first), moved, "test")
            .unwrap_err();
        assert!(matches!(err, RepoError::BranchMoved { .. }), "{err}");
        let err = repo.move_branch("main", None, first, "test").unwrap_err();
        assert!(
            matches!(err, RepoError::BranchMoved { expected: None, .. }),
            "{err}"
        );
        assert_eq!(repo.branch_tip("main").unwrap(), Some(moved));
    }

    #[test]
    fn a_new_branch_is_created_from_nothing_while_head_is_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let made = new_org(dir.path());
        let repo = made.repo;
        let sig = signature();
        let lock = repo.lock("run-1", Wait::No).unwrap();
        let mut new = snapshot(None, &[("okta/a.json", "{}\n")], &sig);
        new.branch = "butterfly/live";
        let one = committed(repo.commit_snapshot(&lock, new).unwrap());
        assert_eq!(repo.branch_tip("butterfly/live").unwrap(), Some(one.commit));
        assert_eq!(
            tree_of(&repo, one.commit),
            pairs(&[("okta/a.json", "{}\n")])
        );
        assert!(one.followed.is_empty());
        assert_eq!(git(dir.path(), &["status", "--porcelain"]), "");
        assert_fsck_clean(dir.path());
    }

    #[test]
    fn bad_paths_and_file_folder_clashes_are_refused_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, first) = detached(dir.path());
        let sig = signature();
        let lock = repo.lock("run-1", Wait::No).unwrap();
        let err = repo
            .commit_snapshot(&lock, snapshot(Some(first), &[("okta/../x", "")], &sig))
            .unwrap_err();
        assert!(err.to_string().contains("okta/../x"), "{err}");
        let err = repo
            .commit_snapshot(
                &lock,
                snapshot(Some(first), &[("okta/a", ""), ("okta/a/b.json", "")], &sig),
            )
            .unwrap_err();
        assert!(matches!(err, RepoError::PathConflict { .. }), "{err}");
        // README.md is a kept file outside the managed folders: nothing can go under it.
        let mut under_file = snapshot(Some(first), &[("okta/a.json", "")], &sig);
        under_file
            .extra
            .insert("README.md/x".to_string(), Vec::new());
        let err = repo.commit_snapshot(&lock, under_file).unwrap_err();
        assert!(
            matches!(&err, RepoError::PathConflict { file, other } if file == "README.md/x" && other == "README.md"),
            "{err}"
        );
        assert_eq!(repo.branch_tip("main").unwrap(), Some(first));
    }

    #[test]
    fn another_repositorys_lock_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, first) = detached(&dir.path().join("a"));
        let other = new_org(&dir.path().join("b")).repo;
        let lock = other.lock("run-1", Wait::No).unwrap();
        let sig = signature();
        let err = repo
            .commit_snapshot(&lock, snapshot(Some(first), &[("okta/a.json", "")], &sig))
            .unwrap_err();
        assert!(matches!(err, RepoError::ForeignLock { .. }), "{err}");
    }

    #[test]
    fn emptied_folders_leave_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, first) = detached(dir.path());
        let sig = signature();
        let lock = repo.lock("run-1", Wait::No).unwrap();
        let one = committed(
            repo.commit_snapshot(&lock, snapshot(Some(first), &[("okta/g/a.json", "")], &sig))
                .unwrap(),
        );
        let two = committed(
            repo.commit_snapshot(&lock, snapshot(Some(one.commit), &[], &sig))
                .unwrap(),
        );
        assert_eq!(
            tree_of(&repo, two.commit),
            pairs(&[
                ("README.md", "# acme\n"),
                (CONFIG_FILE, "[okta]\ndomain = \"acme.okta.com\"\n")
            ])
        );
        assert_eq!(
            repo.commit_tree(two.commit).unwrap().id(),
            repo.commit_tree(first).unwrap().id()
        );
        assert_fsck_clean(dir.path());
    }
}
