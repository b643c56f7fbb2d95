//! Snapshots: the canonical JSON of Okta objects and the file layout of an org repository.
//! (Writing a tree, committing it with git and reading a tree at a revision join this module
//! with the backup.)
//!
//! Invariant: this module never calls Okta's API; `canonical` and `layout` are pure.

pub mod canonical;
pub mod fingerprint;
pub mod layout;
pub mod tree;
