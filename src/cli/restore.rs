//! `butterfly restore REV [--kind K]... [--prune] [--allow-mass-delete] [--allow-admin-changes]
//! [--yes | --dry-run] [-- PATH...]`: a plan from a snapshot (the same as `butterfly plan --ref
//! REV`), its preview, a confirmation (the org's domain typed on a terminal, or `--yes`), then
//! `apply` of exactly that plan, which ends with a backup. `--dry-run` stops after the preview.
//! The plan file and its journal are kept in the repository's git folder
//! (`butterfly/restores/<time>.json`), so an interrupted restore resumes with `butterfly apply`.

use std::io::IsTerminal as _;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};

use super::{Failure, Outcome, RepoArgs};
use crate::catalogue::Catalogue;
use crate::diff::render::Style;
use crate::ops::apply;
use crate::ops::backup::Silent;
use crate::ops::plan::{self, Options};
use crate::plan::render;
use crate::snapshot::repo::OrgRepo;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub repo: RepoArgs,

    /// The snapshot to restore: a git revision or @TIME
    pub rev: String,

    /// Only these kinds (repeatable)
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,

    #[command(flatten)]
    pub safety: super::plan::SafetyArgs,

    /// Apply without asking (needed when there is no terminal)
    #[arg(long, conflicts_with = "dry_run")]
    pub yes: bool,

    /// Show the plan and stop
    #[arg(long)]
    pub dry_run: bool,

    /// Only files at or under these paths, relative to the repository root (after `--`)
    #[arg(last = true, value_name = "PATH")]
    pub paths: Vec<String>,
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let catalogue = Catalogue::okta().map_err(|e| anyhow!("{e}"))?;
    let connection = super::test_connection::open(&args.repo, catalogue)?;
    let options = Options {
        rev: Some(args.rev.clone()),
        kinds: args.kinds.into_iter().collect(),
        paths: args.paths,
        plan: args.safety.options()?,
        source: None,
    };
    let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
    let plan = super::plan::make(&runtime, catalogue, &connection, &options)?;
    let style = Style {
        colour: super::diff::colour(),
    };
    if args.dry_run || plan.actions.is_empty() || !plan.refused.is_empty() {
        print!("{}", render::text(&plan, style));
        if !plan.refused.is_empty() {
            return Err(Failure::Failed(anyhow!(
                "the restore has {} refused action(s) (listed above); narrow it with --kind or PATH, or pass the flag each names",
                plan.refused.len()
            )));
        }
        if plan.actions.is_empty() {
            println!(
                "Nothing to restore: the live org already matches {}.",
                args.rev
            );
        }
        return Ok(Outcome::Done);
    }
    if args.yes {
        print!("{}", render::text(&plan, style));
    } else {
        if !std::io::stdin().is_terminal() {
            return Err(Failure::Usage(
                "restore changes the org: run it on a terminal to confirm, pass --yes, or --dry-run to only preview".into(),
            ));
        }
        if !super::apply::confirm(&plan)? {
            return Err(Failure::Usage("not confirmed: nothing was done".into()));
        }
    }
    // The plan is kept where a second `apply` finds it and its journal.
    let repo = OrgRepo::open(&connection.root).map_err(|e| anyhow!("{e}"))?;
    let folder = repo.git().commondir().join("butterfly").join("restores");
    std::fs::create_dir_all(&folder).with_context(|| format!("making {}", folder.display()))?;
    let file = folder.join(format!(
        "{}.json",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
    ));
    plan::write(&plan, &file).with_context(|| format!("writing {}", file.display()))?;
    println!("\nPlan kept at {}", file.display());
    let on_step = super::apply::print_step;
    let report = runtime
        .block_on(apply::run(
            catalogue,
            &connection,
            &file,
            Arc::new(Silent),
            &on_step,
        ))
        .map_err(|e| {
            Failure::Failed(anyhow!(
                "{e}; resume with: butterfly apply {}",
                file.display()
            ))
        })?;
    println!(
        "Restored {} from {}: {} step(s) done (journal {})",
        report.org,
        args.rev,
        report.done,
        report.journal.display()
    );
    if !report.created.is_empty() {
        println!("Old id → new id map: {}", report.ids.display());
    }
    if let Some(backup) = &report.backup
        && let Some(commit) = &backup.commit
    {
        println!("Backed up: commit {}", &commit[..12.min(commit.len())]);
    }
    Ok(Outcome::Done)
}
