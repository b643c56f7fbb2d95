//! Snapshots: the canonical JSON of Okta objects, the file layout of an org repository, and
//! an org's objects as that repository's files. (Committing a tree with git and reading one at
//! a revision join this module with the backup.)
//!
//! Invariant: this module never calls Okta's API; `canonical`, `layout` and `tree` are pure.

pub mod canonical;
pub mod fingerprint;
pub mod layout;
pub mod tree;
