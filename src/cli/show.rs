//! `butterfly show REV [-C DIR] [--format text|json] [-- PATH...]`: the resources at or under
//! each PATH as they were at REV, references named; without a PATH, the kinds at REV with
//! their file counts and folders. Exit 0; an unknown revision or path is exit 3.

use anyhow::anyhow;

use super::{Failure, Format, Outcome, RepoArgs};
use crate::catalogue::Catalogue;
use crate::ops::diff as diff_ops;
use crate::ops::show::{self, Options, ShowError};

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Text shows each file's path, kind, name and id, then its canonical JSON with `# group 00g… (Name)`
after every line holding a reference, named from that revision's .butterfly/index.json.
Without PATH no resource is shown (a whole org is too large to read this way): the kinds at REV
are listed with their file counts and folders, so you can name one.

JSON (--format json): {\"version\":1,\"rev\",\"commit\",\"time\",\"files\":[{\"path\",\"kind\",\"id\",
\"name\",\"body\",\"references\":[{\"pointer\",\"target\":{\"kind\",\"id\",\"name\"}}]}]}, plus
\"kinds\":[{\"kind\",\"files\",\"folder\"}] when no PATH is given.")]
pub struct Args {
    #[command(flatten)]
    pub repo: RepoArgs,

    /// The revision: a git revision (`main~1`, a commit), @TIME (the newest snapshot at or
    /// before it: RFC 3339 or a date) or WORKTREE
    pub rev: String,

    /// Files (with or without `.json`) or folders under okta/, relative to the repository
    /// root (after `--`); none: list the kinds at REV
    #[arg(last = true, value_name = "PATH")]
    pub paths: Vec<String>,

    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// Usage errors (exit 3) apart from failures (exit 1).
fn failure(e: ShowError) -> Failure {
    match e {
        ShowError::Open(e) => super::diff::failure(e),
        ShowError::Revision(e) => super::diff::failure(e.into()),
        ShowError::OutsideResources { .. } | ShowError::UnknownPath { .. } => {
            Failure::Usage(e.to_string())
        }
        ShowError::Read(e) => Failure::Failed(anyhow!("{e}")),
    }
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let catalogue = Catalogue::okta().map_err(|e| anyhow!("{e}"))?;
    let opened = diff_ops::open(&args.repo.dir, catalogue).map_err(super::diff::failure)?;
    let options = Options {
        rev: args.rev,
        paths: args.paths,
    };
    let report = show::run(&opened, catalogue, &options).map_err(failure)?;
    let text = match args.format {
        Format::Text => show::text(&report),
        Format::Json => show::json(&report),
    };
    print!("{text}");
    Ok(Outcome::Done)
}
