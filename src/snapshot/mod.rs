//! Snapshots: the canonical JSON of Okta objects, the file layout of an org repository, an
//! org's objects as that repository's files, and the org repository itself in git: opening and
//! initialising it (`repo`), reading a tree at a revision (`repo`), committing a snapshot on
//! the snapshot branch (`commit`), keeping a checkout of that branch in step (`worktree`), and
//! one writer at a time (`lock`).
//!
//! Invariant: this module never calls Okta's API; `canonical`, `layout` and `tree` are pure;
//! `repo`, `commit`, `worktree` and `lock` know nothing of Okta (paths and bytes in).

pub mod canonical;
pub mod commit;
pub mod fingerprint;
pub mod layout;
pub mod lock;
pub mod repo;
pub mod retention;
pub mod revision;
pub mod tree;
pub mod worktree;
