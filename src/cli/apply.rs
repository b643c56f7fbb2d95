//! `butterfly apply PLAN [--yes] [--format text|json]`: executes exactly the reviewed plan file
//! against its org, then backs up. On a terminal it shows the plan and asks for the org's domain
//! to be typed; without a terminal it needs `--yes`. Exit 0 when every step is done and the
//! backup committed; 1 when a step failed (the journal says what was done: applying the same
//! plan again resumes) or the plan is stale.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};

use super::{Failure, Format, Outcome, RepoArgs};
use crate::catalogue::Catalogue;
use crate::diff::render::Style;
use crate::ops::apply::{self, ApplyError};
use crate::ops::backup::Silent;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub repo: RepoArgs,

    /// The plan file (`butterfly plan --out FILE`)
    pub plan: PathBuf,

    /// Apply without asking (needed when there is no terminal)
    #[arg(long)]
    pub yes: bool,

    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

fn failure(e: ApplyError) -> Failure {
    match e {
        ApplyError::PlanFile { .. }
        | ApplyError::OtherOrg { .. }
        | ApplyError::Refused(_)
        | ApplyError::ForeignJournal(_) => Failure::Usage(e.to_string()),
        other => Failure::Failed(anyhow!("{other}")),
    }
}

/// `[3] create group_rule "Support - auto"` on stderr, as a step starts.
pub fn print_step(step: usize, action: &crate::plan::Action) {
    eprintln!(
        "[{}] {} {} \"{}\"",
        step + 1,
        action.op.as_str(),
        action.kind,
        action.name
    );
}

/// Shows the plan and asks for the org's domain; true when it was typed.
pub fn confirm(plan: &crate::plan::Plan) -> Result<bool, Failure> {
    eprint!(
        "{}",
        crate::plan::render::text(
            plan,
            Style {
                colour: super::diff::colour()
            }
        )
    );
    eprint!("\nThis changes {}. Type its domain to apply: ", plan.org);
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("reading the answer")?;
    Ok(answer.trim() == plan.org)
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let catalogue = Catalogue::okta().map_err(|e| anyhow!("{e}"))?;
    let connection = super::test_connection::open(&args.repo, catalogue)?;
    let (plan, _) = apply::read_plan(&args.plan).map_err(failure)?;
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(Failure::Usage(
                "apply changes the org: run it on a terminal to confirm, or pass --yes".into(),
            ));
        }
        if !confirm(&plan)? {
            return Err(Failure::Usage("not confirmed: nothing was done".into()));
        }
    }
    let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
    let text_output = args.format == Format::Text;
    let on_step = move |step: usize, action: &crate::plan::Action| {
        if text_output {
            print_step(step, action);
        }
    };
    let report = runtime
        .block_on(apply::run(
            catalogue,
            &connection,
            &args.plan,
            Arc::new(Silent),
            &on_step,
        ))
        .map_err(failure)?;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_else(|_| "{}".into())
        ),
        Format::Text => {
            println!(
                "Applied to {}: {} step(s) done now, {} before (journal {})",
                report.org,
                report.done,
                report.resumed,
                report.journal.display()
            );
            for (path, id) in &report.created {
                println!("  created {path} as {id}");
            }
            if !report.created.is_empty() {
                println!("Old id → new id map: {}", report.ids.display());
            }
            if let Some(backup) = &report.backup {
                match &backup.commit {
                    Some(commit) => {
                        println!("Backed up: commit {}", &commit[..12.min(commit.len())])
                    }
                    None => println!("Backed up: nothing changed since the last snapshot"),
                }
            }
        }
    }
    Ok(Outcome::Done)
}
