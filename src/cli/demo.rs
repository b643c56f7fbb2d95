//! `butterfly demo [--dir DIR]`: the simulator in-process, an org repository, a backup, an
//! admin's two risky changes, a second backup, and what changed. No Okta org needed.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};

use super::{Failure, Outcome};
use crate::catalogue::Catalogue;
use crate::ops::backup::{Progress, Silent};
use crate::ops::demo::{self, DemoReport};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to make the demo's org repository (missing or empty); default: a new folder in
    /// the system's temporary folder
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let catalogue = Catalogue::okta().map_err(|e| anyhow!("{e}"))?;
    let dir = args.dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "butterfly-demo-{}",
            chrono::Utc::now().format("%Y%m%d-%H%M%S")
        ))
    });
    if dir.exists()
        && dir
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Failure::Usage(format!(
            "--dir {}: the folder is not empty; the demo makes a new org repository",
            dir.display()
        )));
    }
    eprintln!(
        "Starting the Okta simulator (fixture org `small`) and backing it up into {} ...",
        dir.display()
    );
    let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
    let progress: Arc<dyn Progress> = Arc::new(Silent);
    let report = runtime
        .block_on(demo::run(catalogue, &dir, progress))
        .map_err(|e| anyhow!("{e}"))?;
    let style = crate::diff::render::Style {
        colour: super::diff::colour(),
    };
    print!("{}", render(&report, style));
    Ok(Outcome::Done)
}

fn short(commit: &Option<String>) -> String {
    commit
        .as_deref()
        .map(|c| c[..12.min(c.len())].to_string())
        .unwrap_or_else(|| "(no commit)".into())
}

/// The story, as text.
pub fn render(report: &DemoReport, style: crate::diff::render::Style) -> String {
    let mut out = String::new();
    let first = &report.first;
    let files: u64 = first.kinds.values().map(|k| k.files).sum();
    let _ = writeln!(
        out,
        "1. Backed up {}: {} files in {} kinds, commit {} ({} requests, {:.1} s)",
        first.org,
        files,
        first.kinds.values().filter(|k| k.files > 0).count(),
        short(&first.commit),
        first.requests.requests,
        first.seconds
    );
    let _ = writeln!(out, "2. Meanwhile an admin:");
    for action in &report.actions {
        let _ = writeln!(out, "   - {action}");
    }
    let second = &report.second;
    let _ = writeln!(
        out,
        "3. Backed up again: commit {}: {} added, {} changed, {} removed",
        short(&second.commit),
        second.added,
        second.changed,
        second.removed
    );
    if let Some(diff) = &report.diff {
        let _ = writeln!(out, "\nWhat changed (butterfly diff):\n");
        out.push_str(&crate::diff::render::text(diff, style));
    }
    let _ = writeln!(
        out,
        "\nThe org repository is {}: try `butterfly log -C {}` and `butterfly diff -C {}`.",
        report.dir.display(),
        report.dir.display(),
        report.dir.display()
    );
    out
}
