//! `butterfly report --framework F [--profile P] [--ref REV] [--as-of TIME] --out FILE [-C DIR]`:
//! the Audit Pack PDF of a snapshot against one framework; `butterfly report verify FILE
//! [-C DIR]`: whether a PDF matches what the repository gives for the commit, framework,
//! profile and time it records (exit 0 when it does, 2 when it does not, saying what differs; 3
//! for a usage error, such as a file that is no Audit Pack).

use std::path::PathBuf;

use anyhow::anyhow;

use super::check::failure as check_failure;
use super::diff::failure as open_failure;
use super::{Failure, Outcome, RepoArgs};
use crate::catalogue::Catalogue;
use crate::compliance::{Framework, Profile, okta_rules};
use crate::ops::diff;
use crate::ops::report::{self, ReportError, ReportOptions};
use crate::snapshot::revision::{RevisionError, parse_time};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub repo: RepoArgs,

    /// The framework whose controls the report is organised by: soc2, nist-800-53, hipaa,
    /// pci-dss, iso-27001, cis
    #[arg(long, value_name = "F", required = true)]
    pub framework: Option<Framework>,

    /// The parameter set: baseline, pci, stig, nist63b, cis
    #[arg(long, value_name = "P", default_value = "baseline")]
    pub profile: Profile,

    /// The snapshot to report on (a git revision or @TIME; not WORKTREE); default: the latest
    #[arg(long = "ref", value_name = "REV")]
    pub rev: Option<String>,

    /// `now` for rules that count days (RFC 3339 or a date); default: the commit's time
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,

    /// Where to write the PDF
    #[arg(long, value_name = "FILE", required = true)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check an Audit Pack against the repository: same commit, same data, same file
    Verify {
        /// The PDF made by `butterfly report`
        file: PathBuf,
        #[command(flatten)]
        repo: RepoArgs,
    },
}

fn failure(e: ReportError) -> Failure {
    match e {
        ReportError::Check(e) => check_failure(e),
        e @ (ReportError::NotACommit { .. }
        | ReportError::NoStamp { .. }
        | ReportError::BadStamp { .. }) => Failure::Usage(e.to_string()),
    }
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let catalogue = Catalogue::okta().map_err(|e| anyhow!("{e}"))?;
    let rules = okta_rules().map_err(|e| anyhow!("{e}"))?;
    if let Some(Command::Verify { file, repo }) = args.command {
        let bytes =
            std::fs::read(&file).map_err(|e| Failure::Usage(format!("{}: {e}", file.display())))?;
        let opened = diff::open(&repo.dir, catalogue).map_err(open_failure)?;
        let name = file.display().to_string();
        let verdict = report::verify(&opened, catalogue, rules, &name, &bytes).map_err(failure)?;
        let stamp = &verdict.stamp;
        let what = format!(
            "commit {}, framework {}, profile {}, as of {}",
            stamp.commit,
            stamp.framework.as_str(),
            stamp.profile.as_str(),
            stamp.as_of
        );
        if verdict.differences.is_empty() {
            println!(
                "{name} matches the repository: {what}; report data SHA-256 {}",
                stamp.data_sha256
            );
            return Ok(Outcome::Done);
        }
        println!("{name} does NOT match the repository ({what}):");
        for difference in &verdict.differences {
            println!("- {difference}");
        }
        return Ok(Outcome::Report);
    }
    let (Some(framework), Some(out)) = (args.framework, args.out) else {
        return Err(Failure::Usage(
            "report needs --framework and --out (or: report verify FILE)".into(),
        ));
    };
    let as_of = match &args.as_of {
        None => None,
        Some(text) => Some(parse_time(text).ok_or_else(|| {
            Failure::Usage(
                RevisionError::BadTime {
                    text: format!("--as-of {text}"),
                }
                .to_string(),
            )
        })?),
    };
    let opened = diff::open(&args.repo.dir, catalogue).map_err(open_failure)?;
    let options = ReportOptions {
        framework,
        profile: args.profile,
        rev: args.rev,
        as_of,
    };
    let made = report::make(&opened, catalogue, rules, &options).map_err(failure)?;
    std::fs::write(&out, &made.pdf)
        .map_err(|e| Failure::Failed(anyhow!("writing {}: {e}", out.display())))?;
    println!(
        "Wrote {} ({} bytes): {} at commit {}, profile {}, as of {}; report data SHA-256 {}",
        out.display(),
        made.pdf.len(),
        framework.title(),
        made.stamp.commit,
        made.stamp.profile.as_str(),
        made.stamp.as_of,
        made.stamp.data_sha256
    );
    Ok(Outcome::Done)
}
