//! `butterfly diff [FROM] [TO] [--kind K]... [-- PATH...] [--format text|json|markdown]`: the
//! semantic diff of two snapshots (default: the previous snapshot and the latest). Text is
//! coloured on a terminal unless `NO_COLOR` is set. Exit 0 when nothing differs, 2 when
//! something does.

use std::io::IsTerminal as _;

use anyhow::anyhow;

use super::{Failure, Outcome, RepoArgs};
use crate::catalogue::Catalogue;
use crate::diff::render::{self, Style};
use crate::ops::diff::{self, DiffOpError, Options};
use crate::snapshot::revision::RevisionError;

/// How a diff is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub repo: RepoArgs,

    /// The old side: a git revision, @TIME (the newest snapshot at or before it) or WORKTREE;
    /// default: the snapshot before TO
    pub from: Option<String>,

    /// The new side (same forms); default: the latest snapshot
    pub to: Option<String>,

    /// Only these kinds (repeatable)
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,

    /// Only files at or under these paths, relative to the repository root (after `--`)
    #[arg(last = true, value_name = "PATH")]
    pub paths: Vec<String>,

    #[arg(long, value_enum, default_value = "text")]
    pub format: DiffFormat,
}

/// Whether text output is coloured: a terminal, and no `NO_COLOR`.
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Usage errors (exit 3) apart from failures (exit 1).
pub fn failure(e: DiffOpError) -> Failure {
    match e {
        DiffOpError::Config(_)
        | DiffOpError::UnknownKind(_)
        | DiffOpError::Revision(
            RevisionError::BadTime { .. }
            | RevisionError::NoSnapshotBefore { .. }
            | RevisionError::TooFewSnapshots { .. }
            | RevisionError::NoWorktree { .. }
            | RevisionError::Repo(crate::snapshot::repo::RepoError::UnknownRevision { .. }),
        )
        | DiffOpError::Repo(
            crate::snapshot::repo::RepoError::NotARepository { .. }
            | crate::snapshot::repo::RepoError::NotAnOrgRepository { .. }
            | crate::snapshot::repo::RepoError::UnknownRevision { .. },
        ) => Failure::Usage(e.to_string()),
        other => Failure::Failed(anyhow!("{other}")),
    }
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let catalogue = Catalogue::okta().map_err(|e| anyhow!("{e}"))?;
    let opened = diff::open(&args.repo.dir, catalogue).map_err(failure)?;
    let options = Options {
        from: args.from,
        to: args.to,
        kinds: args.kinds.into_iter().collect(),
        paths: args.paths,
    };
    let report = diff::run(&opened, catalogue, &options).map_err(failure)?;
    let text = match args.format {
        DiffFormat::Text => render::text(&report, Style { colour: colour() }),
        DiffFormat::Json => render::json(&report),
        DiffFormat::Markdown => render::markdown(&report),
    };
    print!("{text}");
    Ok(if report.diff.counts.total() == 0 {
        Outcome::Done
    } else {
        Outcome::Report
    })
}
