//! `butterfly check [-C DIR] [--ref REV] [--framework F] [--profile P] [--severity S]
//! [--fail-on S] [--as-of TIME] [--baseline REV] [--format text|json|sarif|junit|markdown]`: the
//! compliance rules over a revision (default: the latest snapshot). Exit 0 when nothing fails at
//! or above `--fail-on` (default `high`), 2 when something does (a `fail` or an `error`; with
//! `--baseline`, a new one), 3 for a usage or configuration error.

use anyhow::anyhow;

use super::diff::failure as open_failure;
use super::{Failure, Outcome, RepoArgs};
use crate::catalogue::Catalogue;
use crate::compliance::{Framework, Profile, Severity, okta_rules};
use crate::compliance::{junit, markdown, report, sarif};
use crate::ops::check::{self, CheckError, Options};
use crate::ops::diff;
use crate::snapshot::revision::{RevisionError, parse_time};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub repo: RepoArgs,

    /// The revision to check: a git revision, @TIME (the newest snapshot at or before it) or
    /// WORKTREE; default: the latest snapshot
    #[arg(long = "ref", value_name = "REV")]
    pub rev: Option<String>,

    /// Only rules mapped to this framework, with its control ids: soc2, nist-800-53, hipaa,
    /// pci-dss, iso-27001, cis
    #[arg(long, value_name = "F")]
    pub framework: Option<Framework>,

    /// The parameter set: baseline, pci, stig, nist63b, cis
    #[arg(long, value_name = "P", default_value = "baseline")]
    pub profile: Profile,

    /// Only rules of at least this severity: low, medium, high, critical
    #[arg(long, value_name = "S", default_value = "low")]
    pub severity: Severity,

    /// Exit 2 when a rule of at least this severity fails (or cannot be evaluated: error)
    #[arg(long, value_name = "S", default_value = "high")]
    pub fail_on: Severity,

    /// `now` for rules that count days (RFC 3339 or a date); default: the commit's time
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,

    /// Report only findings new since this revision (the same check run there): what a pull
    /// request breaks
    #[arg(long, value_name = "REV")]
    pub baseline: Option<String>,

    #[arg(long, value_enum, default_value = "text")]
    pub format: CheckFormat,
}

/// `check`'s output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
    /// SARIF 2.1.0 for GitHub code scanning
    Sarif,
    /// JUnit XML for CI test reports
    Junit,
    /// Markdown for a pull-request comment
    Markdown,
}

/// Usage errors (exit 3) apart from failures (exit 1).
pub(crate) fn failure(e: CheckError) -> Failure {
    match e {
        CheckError::Open(e) => open_failure(e),
        CheckError::Revision(e) => open_failure(diff::DiffOpError::Revision(e)),
        CheckError::Repo(e) => open_failure(diff::DiffOpError::Repo(e)),
        other => Failure::Failed(anyhow!("{other}")),
    }
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let catalogue = Catalogue::okta().map_err(|e| anyhow!("{e}"))?;
    let rules = okta_rules().map_err(|e| anyhow!("{e}"))?;
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
    let options = Options {
        rev: args.rev,
        framework: args.framework,
        profile: args.profile,
        min_severity: args.severity,
        fail_on: args.fail_on,
        as_of,
        baseline: args.baseline,
    };
    let report = check::run(&opened, catalogue, rules, &options).map_err(failure)?;
    let text = match args.format {
        CheckFormat::Text => report::text(&report),
        CheckFormat::Json => report::json(&report),
        CheckFormat::Sarif => sarif::sarif(&report, &report.sources),
        CheckFormat::Junit => junit::junit(&report),
        CheckFormat::Markdown => markdown::markdown(&report),
    };
    print!("{text}");
    Ok(if report.gating().is_empty() {
        Outcome::Done
    } else {
        Outcome::Report
    })
}
