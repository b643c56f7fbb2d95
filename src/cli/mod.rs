//! The command line: the clap model of every subcommand, and one thin module per subcommand
//! that parses its flags, calls the library and renders the result.
//!
//! Must not hold logic the server or the job workers also need: that lives in the library
//! (`catalogue`, and later `ops`).

pub mod admin;
pub mod apply;
pub mod backup;
pub mod catalogue;
pub mod check;
pub mod demo;
pub mod diff;
pub mod init;
pub mod key;
pub mod log;
pub mod plan;
pub mod report;
pub mod restore;
pub mod rules;
pub mod serve;
pub mod show;
pub mod sim;
pub mod test_connection;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// What a command reports besides its output, mapped to an exit code once in `main.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done, nothing to report (exit 0).
    Done,
    /// Done, with something to report (exit 2).
    Report,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The user asked for something that cannot be (exit 3).
    #[error("{0}")]
    Usage(String),
    /// The command ran and failed (exit 1).
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

#[derive(Debug, Parser)]
#[command(
    name = "butterfly",
    version,
    about = "Back up, diff, restore and check an Okta org's configuration, as code in git",
    propagate_version = true
)]
pub struct Cli {
    /// Log filter for stderr, e.g. `info` or `butterfly=debug` (also RUST_LOG)
    #[arg(long, global = true, env = "BUTTERFLY_LOG", default_value = "warn")]
    pub log: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the Okta resource kinds Butterfly knows: files, scopes, endpoints, fields
    Catalogue(catalogue::Args),
    /// Run the Okta simulator (for tests and demos) on a fixture org
    Sim(Box<sim::Args>),
    /// See Butterfly work on the built-in Okta simulator: backup, a risky change, backup, diff
    Demo(demo::Args),
    /// Make a new org repository (git, with butterfly.toml) for an Okta org
    Init(init::Args),
    /// Check the credentials, and for each kind whether it can be backed up (and if not, why)
    TestConnection(test_connection::Args),
    /// Back up the org: every kind as canonical JSON, one commit on the snapshot branch
    Backup(backup::Args),
    /// Export or import the org's fingerprint key (shared by the CLI, CI and the server)
    Key(key::Args),
    /// What changed between two snapshots: resources, fields, who did it, who it affects
    Diff(diff::Args),
    /// What applying a revision (default: the working tree) to the live org would do
    Plan(plan::Args),
    /// Execute a reviewed plan file against its org, then back up
    Apply(apply::Args),
    /// Restore a snapshot (or part of it): plan, preview, confirm, apply, back up
    Restore(restore::Args),
    /// The snapshots, newest first: when, changes per kind, kinds not read, who made the changes
    Log(log::Args),
    /// Resources as they were at a snapshot (or any revision), references shown by name
    Show(show::Args),
    /// Run the compliance rules over a snapshot (or any revision): findings by severity
    Check(check::Args),
    /// The compliance rules: list them, show one, lint them against Okta's schema
    Rules(rules::Args),
    /// The Audit Pack PDF of a snapshot against a framework; `report verify FILE` checks one
    Report(report::Args),
    /// Operate the server's installation: add team members, set a team's plan
    Admin(admin::Args),
    /// Run the web server: dashboard, JSON API and backup workers (SQLite by default)
    Serve(serve::ServeArgs),
    /// Run more backup workers on the server's database and data directory
    Worker(serve::WorkerArgs),
}

/// Where the org repository is.
#[derive(Debug, Clone, clap::Args)]
pub struct RepoArgs {
    /// The org repository (or a folder inside it); default: the current folder
    #[arg(short = 'C', long = "repo", value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
}

/// Which kinds a command works on (with `butterfly.toml`'s `exclude_kinds` and
/// `with_user_kinds`).
#[derive(Debug, Clone, clap::Args)]
pub struct KindArgs {
    /// Only these kinds (repeatable; their parent kinds are read too)
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,

    /// Leave these kinds out (repeatable); their files are kept
    #[arg(long = "exclude-kind", value_name = "KIND")]
    pub exclude: Vec<String>,

    /// Also per-user kinds (user factors): one request per user
    #[arg(long)]
    pub with_user_kinds: bool,
}

impl KindArgs {
    /// The chosen kinds; an unknown name is a usage error.
    pub fn resolve(
        &self,
        catalogue: &crate::catalogue::Catalogue,
        config: &crate::config::OrgConfig,
    ) -> Result<std::collections::BTreeSet<String>, Failure> {
        let mut exclude = config.backup.exclude_kinds.clone();
        exclude.extend(self.exclude.iter().cloned());
        crate::ops::selection::Selection {
            kinds: self.kinds.clone(),
            exclude,
            with_opt_in: self.with_user_kinds || config.backup.with_user_kinds,
        }
        .resolve(catalogue)
        .map_err(|e| Failure::Usage(e.to_string()))
    }
}

/// Output of commands with a machine-readable form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<Outcome, Failure> {
    match cli.command {
        Command::Catalogue(args) => catalogue::run(args),
        Command::Sim(args) => sim::run(*args),
        Command::Demo(args) => demo::run(args),
        Command::Init(args) => init::run(args),
        Command::TestConnection(args) => test_connection::run(args),
        Command::Backup(args) => backup::run(args),
        Command::Key(args) => key::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Restore(args) => restore::run(args),
        Command::Log(args) => log::run(args),
        Command::Show(args) => show::run(args),
        Command::Check(args) => check::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Report(args) => report::run(args),
        Command::Admin(args) => admin::run(args),
        Command::Serve(args) => serve::serve(args),
        Command::Worker(args) => serve::worker(args),
    }
}
