//! `butterfly plan [--ref REV] [--kind K]... [--prune] [--allow-mass-delete]
//! [--allow-admin-changes] [--out plan.json] [--format text|json|markdown]
//! [--detailed-exitcode] [-- PATH...]`: what applying REV (default: the working tree) to the
//! live org would do. Exit 0 when done (with `--detailed-exitcode`: 0 no change, 2 changes);
//! exit 1 when the plan has refusals (it is printed, and not written).

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::{Context as _, anyhow};

use super::diff::DiffFormat;
use super::{Failure, Outcome, RepoArgs};
use crate::catalogue::Catalogue;
use crate::diff::render::Style;
use crate::ops::plan::{self, Options, PlanOpError};
use crate::plan::render;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub repo: RepoArgs,

    /// The desired tree: a git revision, @TIME or WORKTREE (default: WORKTREE)
    #[arg(long = "ref", value_name = "REV")]
    pub rev: Option<String>,

    /// Only these kinds (repeatable)
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,

    #[command(flatten)]
    pub safety: SafetyArgs,

    /// Plan for another org: the org repository of the target (its butterfly.toml and the
    /// credentials in the environment are the target's); the desired tree stays this one's
    #[arg(long, value_name = "DIR")]
    pub target: Option<PathBuf>,

    /// Write the plan file here (for `butterfly apply`)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    #[arg(long, value_enum, default_value = "text")]
    pub format: DiffFormat,

    /// Exit 2 when the plan has changes, 0 when it has none
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// Only files at or under these paths, relative to the repository root (after `--`)
    #[arg(last = true, value_name = "PATH")]
    pub paths: Vec<String>,
}

/// The flags that allow what a plan refuses by default (`plan` and `restore`).
#[derive(Debug, clap::Args)]
pub struct SafetyArgs {
    /// Delete what the desired tree does not have (within the kinds and paths selected)
    #[arg(long)]
    pub prune: bool,

    /// Allow deleting more than 10% of a kind (with 10 or more objects) or more than 25 objects
    #[arg(long)]
    pub allow_mass_delete: bool,

    /// Allow admin changes: role assignments, custom roles, resource sets, admin groups (never in CI)
    #[arg(long)]
    pub allow_admin_changes: bool,

    /// Supply secrets kept only as fingerprints at apply time: a TOML file mapping
    /// "FILE#POINTER" to "env:VAR" or "file:PATH" (the values are never written to the plan)
    #[arg(long, value_name = "FILE")]
    pub secrets: Option<PathBuf>,
}

impl SafetyArgs {
    /// The plan's options (`CI` read from the environment, `--secrets` read and checked).
    pub fn options(&self) -> Result<crate::plan::Options, Failure> {
        let secrets = match &self.secrets {
            Some(file) => {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    Failure::Usage(format!("{}: cannot be read: {e}", file.display()))
                })?;
                crate::plan::secrets::parse(&text, &file.display().to_string())
                    .map_err(Failure::Usage)?
            }
            None => Default::default(),
        };
        Ok(crate::plan::Options {
            prune: self.prune,
            allow_mass_delete: self.allow_mass_delete,
            allow_admin_changes: self.allow_admin_changes,
            ci: std::env::var_os("CI").is_some_and(|v| !v.is_empty()),
            protected_apps: Vec::new(),
            granted: None,
            secrets,
        })
    }
}

/// Makes a plan of the org `connection` names.
pub fn make(
    runtime: &tokio::runtime::Runtime,
    catalogue: &'static Catalogue,
    connection: &crate::ops::connection::Connection,
    options: &Options,
) -> Result<crate::plan::Plan, Failure> {
    runtime
        .block_on(plan::run(catalogue, connection, options, |name| {
            std::env::var(name).ok()
        }))
        .map_err(failure)
}

pub fn failure(e: PlanOpError) -> Failure {
    match e {
        PlanOpError::UnknownKind(_)
        | PlanOpError::Empty { .. }
        | PlanOpError::Plan(_)
        | PlanOpError::Revision(_) => Failure::Usage(e.to_string()),
        other => Failure::Failed(anyhow!("{other}")),
    }
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let catalogue = Catalogue::okta().map_err(|e| anyhow!("{e}"))?;
    // Across orgs, the live org is the target's and the desired tree this repository's.
    let (connection, source) = match &args.target {
        Some(target) => (
            super::test_connection::open(
                &RepoArgs {
                    dir: target.clone(),
                },
                catalogue,
            )?,
            Some(args.repo.dir.clone()),
        ),
        None => (super::test_connection::open(&args.repo, catalogue)?, None),
    };
    let options = Options {
        rev: args.rev,
        kinds: args.kinds.into_iter().collect(),
        paths: args.paths,
        plan: args.safety.options()?,
        source,
    };
    let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
    let plan = make(&runtime, catalogue, &connection, &options)?;
    let text = match args.format {
        DiffFormat::Text => render::text(
            &plan,
            Style {
                colour: std::io::stdout().is_terminal() && super::diff::colour(),
            },
        ),
        DiffFormat::Json => render::json(&plan),
        DiffFormat::Markdown => render::markdown(&plan),
    };
    print!("{text}");
    if !plan.refused.is_empty() {
        return Err(Failure::Failed(anyhow!(
            "the plan has {} refused action(s) (listed above); narrow it with --kind or PATH, or pass the flag each names",
            plan.refused.len()
        )));
    }
    if let Some(out) = &args.out {
        plan::write(&plan, out).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("plan written to {}", out.display());
    }
    Ok(if args.detailed_exitcode && !plan.actions.is_empty() {
        Outcome::Report
    } else {
        Outcome::Done
    })
}
