//! `butterfly log [-C DIR] [--kind K]... [--format text|json] [-- PATH...]`: the snapshots of
//! the snapshot branch, newest first, with their counts, the kinds not read, and who changed
//! things (the System Log events saved with each). Exit 0.

use anyhow::anyhow;

use super::{Failure, Format, Outcome, RepoArgs};
use crate::catalogue::Catalogue;
use crate::ops::diff as diff_ops;
use crate::ops::log::{self, LogError, Options};

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each snapshot shows its commit and time, the changes its message counts (total and per kind),
the kinds it could not read, and the actors of the System Log events saved with it.
--kind and PATH keep the snapshots whose commit changed such a file (kinds come from the
changed files' paths, not from the message).

JSON (--format json): {\"version\":1,\"branch\":…,\"snapshots\":[{\"commit\",\"parent\",\"time\",
\"org\",\"run\",\"summary\",\"counts\":{\"added\",\"changed\",\"removed\"},\"kinds\":{KIND:counts},
\"incomplete\":[KIND],\"not_read\":{KIND:why},\"events\",\"actors\":[{\"actor\",\"display_name\",
\"type\",\"events\"}]}]}")]
pub struct Args {
    #[command(flatten)]
    pub repo: RepoArgs,

    /// Only snapshots that changed a file of this kind (repeatable)
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,

    /// Only snapshots that changed files at or under these paths, relative to the repository
    /// root: a file (with or without `.json`) or a folder (after `--`)
    #[arg(last = true, value_name = "PATH")]
    pub paths: Vec<String>,

    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// Usage errors (exit 3) apart from failures (exit 1).
fn failure(e: LogError) -> Failure {
    match e {
        LogError::Open(e) => super::diff::failure(e),
        LogError::Revision(e) => super::diff::failure(e.into()),
        LogError::UnknownKind(_) => Failure::Usage(e.to_string()),
    }
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let catalogue = Catalogue::okta().map_err(|e| anyhow!("{e}"))?;
    let opened = diff_ops::open(&args.repo.dir, catalogue).map_err(super::diff::failure)?;
    let options = Options {
        kinds: args.kinds.into_iter().collect(),
        paths: args.paths,
    };
    let report = log::run(&opened, catalogue, &options).map_err(failure)?;
    let text = match args.format {
        Format::Text => log::text(&report, super::diff::colour()),
        Format::Json => log::json(&report),
    };
    print!("{text}");
    Ok(Outcome::Done)
}
