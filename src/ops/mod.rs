//! The use cases (DESIGN.md `ops/`): what the CLI, the server and the job workers all call.
//! The only place that composes IO: the Okta client, the snapshot files and git.

pub mod accounts;
pub mod admin;
pub mod apply;
pub mod backup;
pub mod browse;
pub mod check;
pub mod connection;
pub mod connections;
pub mod demo;
pub mod diff;
pub mod init;
pub mod key;
pub mod log;
pub mod plan;
pub mod report;
pub mod schedules;
pub mod selection;
pub mod show;
