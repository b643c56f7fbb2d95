//! Retention: removes the snapshots of a branch older than a policy allows (by age, by count),
//! always keeping the newest, without changing the id of any commit it keeps. Git ids chain
//! through parents, so the kept history cannot be rewritten; instead the oldest kept commit
//! becomes a shallow boundary (`<git dir>/shallow`, as `git clone --depth` writes it): git and
//! libgit2 then treat it as having no parents. The objects only the removed commits reached are
//! dropped by repacking what the refs still reach into one new pack; reflog entries naming
//! removed commits go too, so `git fsck` finds nothing missing.
//!
//! Holds the snapshot lock while it works: no backup commits meanwhile. Knows nothing of plans
//! (the caller turns a plan into a [`Policy`]) or of Okta.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use git2::{Oid, Repository};

use super::lock::{LockError, Wait};
use super::repo::{OrgRepo, RepoError};
use super::revision::SNAPSHOT_TRAILER;

/// What to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Snapshots older than this (seconds before `now`) go; `None`: any age.
    pub max_age_secs: Option<i64>,
    /// At most this many snapshots stay; `None`: any number.
    pub max_snapshots: Option<usize>,
}

impl Policy {
    pub fn keeps_everything(&self) -> bool {
        self.max_age_secs.is_none() && self.max_snapshots.is_none()
    }
}

/// What retention did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Snapshots left on the branch.
    pub kept: usize,
    /// Snapshots removed now.
    pub removed: usize,
    /// The oldest kept commit, now the shallow boundary (when anything was removed).
    pub boundary: Option<Oid>,
}

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("{what} in {}: {source}", path.display())]
    Git {
        what: String,
        path: PathBuf,
        source: git2::Error,
    },
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A commit of the branch's first-parent line: id, time, whether it is a snapshot.
struct Line {
    id: Oid,
    time: i64,
    snapshot: bool,
}

fn first_parent_line(git: &Repository, tip: Oid, path: &Path) -> Result<Vec<Line>, RetentionError> {
    let mut line = Vec::new();
    let mut next = Some(tip);
    while let Some(id) = next {
        let commit = git.find_commit(id).map_err(|source| RetentionError::Git {
            what: format!("reading commit {id}"),
            path: path.to_path_buf(),
            source,
        })?;
        line.push(Line {
            id,
            time: commit.time().seconds(),
            snapshot: commit
                .message()
                .unwrap_or_default()
                .lines()
                .any(|l| l.starts_with(SNAPSHOT_TRAILER)),
        });
        next = commit.parent_id(0).ok();
    }
    Ok(line)
}

/// Applies `policy` to `branch` of the repository at `dir` at time `now`.
pub fn apply(
    dir: &Path,
    branch: &str,
    policy: Policy,
    now: DateTime<Utc>,
    run_id: &str,
    wait: Wait,
) -> Result<Outcome, RetentionError> {
    let repo = OrgRepo::open(dir)?;
    let _lock = repo.lock(run_id, wait)?;
    let git = repo.git();
    let path = git.path().to_path_buf();
    let git_error = |what: String| {
        let path = path.clone();
        move |source| RetentionError::Git { what, path, source }
    };
    let Some(tip) = repo.branch_tip(branch)? else {
        return Ok(Outcome {
            kept: 0,
            removed: 0,
            boundary: None,
        });
    };
    let line = first_parent_line(git, tip, &path)?;
    let snapshots: Vec<&Line> = line.iter().filter(|l| l.snapshot).collect();
    let mut keep = 0;
    for (rank, snapshot) in snapshots.iter().enumerate() {
        let young = policy
            .max_age_secs
            .is_none_or(|age| now.timestamp() - snapshot.time <= age);
        let within = policy.max_snapshots.is_none_or(|n| rank < n);
        // The newest always stays, however old.
        if rank == 0 || (young && within) {
            keep = rank + 1;
        } else {
            break;
        }
    }
    let Some(oldest_kept) = snapshots.get(keep.saturating_sub(1)) else {
        return Ok(Outcome {
            kept: 0,
            removed: 0,
            boundary: None,
        });
    };
    let boundary = oldest_kept.id;
    // Everything on the line past the boundary goes (older snapshots and the init commit).
    let position = line.iter().position(|l| l.id == boundary).unwrap_or(0);
    let removed_commits: HashSet<Oid> = line[position + 1..].iter().map(|l| l.id).collect();
    let removed = snapshots.len() - keep;
    // Only when a snapshot goes (the commits before the first snapshot go with the first).
    if removed == 0 {
        return Ok(Outcome {
            kept: keep,
            removed: 0,
            boundary: None,
        });
    }

    // 1. The boundary: written whole, then renamed over the old file.
    let shallow = path.join("shallow");
    let temporary = path.join("shallow.butterfly-tmp");
    let io = |what: &'static str, at: &Path| {
        let at = at.to_path_buf();
        move |source| RetentionError::Io {
            what,
            path: at,
            source,
        }
    };
    std::fs::write(&temporary, format!("{boundary}\n")).map_err(io("writing", &temporary))?;
    std::fs::rename(&temporary, &shallow).map_err(io("replacing", &shallow))?;

    // 2. Reflog entries that name a removed commit.
    let references: Vec<String> = git
        .references()
        .map_err(git_error("listing references".into()))?
        .filter_map(|r| r.ok().and_then(|r| r.name().ok().map(str::to_string)))
        .collect();
    for name in references.iter().map(String::as_str).chain(["HEAD"]) {
        let Ok(mut reflog) = git.reflog(name) else {
            continue;
        };
        let mut index = reflog.len();
        let mut changed = false;
        while index > 0 {
            index -= 1;
            let Some(entry) = reflog.get(index) else {
                continue;
            };
            if removed_commits.contains(&entry.id_new())
                || removed_commits.contains(&entry.id_old())
            {
                reflog
                    .remove(index, false)
                    .map_err(git_error(format!("pruning the reflog of {name}")))?;
                changed = true;
            }
        }
        if changed {
            reflog
                .write()
                .map_err(git_error(format!("writing the reflog of {name}")))?;
        }
    }

    // 3. One new pack of what the refs reach (the walk stops at the boundary: libgit2 reads the
    //    shallow file when a repository is opened, so it is opened again), then every other
    //    pack and loose object removed.
    let git = &Repository::open(&path).map_err(git_error("reopening the repository".into()))?;
    let objects = path.join("objects");
    let packs = objects.join("pack");
    let before: Vec<PathBuf> = match std::fs::read_dir(&packs) {
        Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    };
    let mut walk = git.revwalk().map_err(git_error("starting a walk".into()))?;
    walk.push_glob("refs/*")
        .map_err(git_error("walking the references".into()))?;
    if let Ok(head) = git.head()
        && let Some(id) = head.target()
    {
        walk.push(id).map_err(git_error("walking HEAD".into()))?;
    }
    let mut builder = git
        .packbuilder()
        .map_err(git_error("starting a pack".into()))?;
    builder
        .insert_walk(&mut walk)
        .map_err(git_error("packing the kept snapshots".into()))?;
    // Annotated tags and anything else a ref names directly.
    for name in &references {
        if let Ok(reference) = git.find_reference(name)
            && let Some(id) = reference.target()
            && git.find_commit(id).is_err()
        {
            builder
                .insert_recursive(id, None)
                .map_err(git_error(format!("packing {name}")))?;
        }
    }
    std::fs::create_dir_all(&packs).map_err(io("creating", &packs))?;
    builder
        .write(&packs, 0o444)
        .map_err(git_error("writing the new pack".into()))?;
    let new_pack = builder.name().ok().flatten().map(|n| format!("pack-{n}"));
    // The index (`git add` state) names blobs of the checkout: keep those too.
    for stale in before {
        let name = stale
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if new_pack.as_deref().is_some_and(|p| name.starts_with(p)) {
            continue;
        }
        if name.starts_with("pack-") {
            std::fs::remove_file(&stale).map_err(io("removing", &stale))?;
        }
    }
    let index_blobs: HashSet<Oid> = git
        .index()
        .map(|index| index.iter().map(|e| e.id).collect())
        .unwrap_or_default();
    for entry in std::fs::read_dir(&objects).map_err(io("reading", &objects))? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.len() != 2 || !name.chars().all(|c| c.is_ascii_hexdigit()) {
            continue;
        }
        for object in std::fs::read_dir(entry.path()).map_err(io("reading", &entry.path()))? {
            let Ok(object) = object else { continue };
            let rest = object.file_name().to_string_lossy().into_owned();
            let keep_blob =
                Oid::from_str(&format!("{name}{rest}")).is_ok_and(|id| index_blobs.contains(&id));
            if !keep_blob {
                std::fs::remove_file(object.path()).map_err(io("removing", &object.path()))?;
            }
        }
        let _ = std::fs::remove_dir(entry.path());
    }
    Ok(Outcome {
        kept: keep,
        removed,
        boundary: Some(boundary),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    /// An org repository with the init commit and snapshots made `ages` days before `now`
    /// (oldest first), each adding a file of its own; their ids, oldest first.
    fn repository(dir: &Path, now: i64, ages: &[i64]) -> Vec<Oid> {
        let catalogue = crate::catalogue::Catalogue::okta().unwrap();
        crate::ops::init::init(catalogue, dir, "acme.okta.com", "main").unwrap();
        let git = Repository::open(dir).unwrap();
        let mut ids = Vec::new();
        for (n, age) in ages.iter().enumerate() {
            let parent = git
                .find_commit(git.refname_to_id("refs/heads/main").unwrap())
                .unwrap();
            let blob = git.blob(format!("snapshot {n}\n").as_bytes()).unwrap();
            let mut tree = git.treebuilder(Some(&parent.tree().unwrap())).unwrap();
            tree.insert(format!("file-{n}.json"), blob, 0o100644)
                .unwrap();
            let tree = git.find_tree(tree.write().unwrap()).unwrap();
            let time = git2::Time::new(now - age * DAY, 0);
            let who = git2::Signature::new("Butterfly", "butterfly@localhost", &time).unwrap();
            let message = format!("Backup {n}\n\nBackup-Run: run-{n}\n");
            let id = git
                .commit(
                    Some("refs/heads/main"),
                    &who,
                    &who,
                    &message,
                    &tree,
                    &[&parent],
                )
                .unwrap();
            ids.push(id);
        }
        ids
    }

    fn git_cli(dir: &Path, args: &[&str]) -> (bool, String) {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .expect("git");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    #[test]
    fn old_snapshots_go_kept_ids_stay_and_fsck_is_clean() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let ids = repository(dir.path(), now.timestamp(), &[200, 120, 80, 10, 1]);
        let policy = Policy {
            max_age_secs: Some(90 * DAY),
            max_snapshots: None,
        };
        let outcome = apply(dir.path(), "main", policy, now, "retention", Wait::No).unwrap();
        assert_eq!((outcome.kept, outcome.removed), (3, 2));
        assert_eq!(outcome.boundary, Some(ids[2]));
        let (ok, log) = git_cli(dir.path(), &["rev-list", "main"]);
        assert!(ok, "{log}");
        let kept: Vec<String> = ids[2..].iter().rev().map(|id| id.to_string()).collect();
        assert_eq!(
            log.lines().collect::<Vec<_>>(),
            kept,
            "the kept commits, ids unchanged"
        );
        let (ok, fsck) = git_cli(dir.path(), &["fsck", "--full", "--strict"]);
        assert!(
            ok && !fsck.contains("missing") && !fsck.contains("error"),
            "{fsck}"
        );
        // What only the removed snapshots held is gone; the kept trees are whole.
        let (gone, _) = git_cli(dir.path(), &["cat-file", "-e", &ids[0].to_string()]);
        assert!(!gone, "the oldest snapshot's commit is removed");
        let (ok, files) = git_cli(dir.path(), &["ls-tree", "--name-only", "main"]);
        assert!(
            ok && files.contains("file-0.json") && files.contains("file-4.json"),
            "{files}"
        );
        // libgit2 reads the result too, and a second run removes nothing.
        let again = apply(dir.path(), "main", policy, now, "retention", Wait::No).unwrap();
        assert_eq!((again.kept, again.removed), (3, 0));
    }

    #[test]
    fn the_newest_snapshot_stays_however_old_and_counts_are_limits() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let ids = repository(dir.path(), now.timestamp(), &[30, 20, 10]);
        let free = Policy {
            max_age_secs: Some(7 * DAY),
            max_snapshots: Some(1),
        };
        let outcome = apply(dir.path(), "main", free, now, "retention", Wait::No).unwrap();
        assert_eq!((outcome.kept, outcome.removed), (1, 2));
        let (_, log) = git_cli(dir.path(), &["rev-list", "main"]);
        assert_eq!(log.trim(), ids[2].to_string());
        let (ok, fsck) = git_cli(dir.path(), &["fsck", "--full"]);
        assert!(ok, "{fsck}");
        // Everything kept: nothing happens, no shallow file.
        let other = tempfile::tempdir().unwrap();
        repository(other.path(), now.timestamp(), &[400, 1]);
        let all = Policy {
            max_age_secs: None,
            max_snapshots: None,
        };
        let outcome = apply(other.path(), "main", all, now, "retention", Wait::No).unwrap();
        assert_eq!(
            (outcome.kept, outcome.removed, outcome.boundary),
            (2, 0, None)
        );
        assert!(!other.path().join(".git").join("shallow").exists());
    }
}
