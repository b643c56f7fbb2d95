//! Butterfly keeps an Okta org's configuration as code: backups as canonical JSON in git,
//! semantic diffs, restores through plan/apply, and compliance checks over the tree.
//!
//! The binary (`src/main.rs`) only parses the command line and calls into this library.

pub mod catalogue;
pub mod cli;
pub mod compliance;
pub mod config;
pub mod diff;
pub mod jobs;
pub mod ops;
pub mod plan;
pub mod provider;
pub mod server;
pub mod sim;
pub mod snapshot;
pub mod store;
pub mod upstream;
