//! `butterfly backup [-C DIR] [--kind K]... [--exclude-kind K]... [--with-user-kinds]
//! [--wait[=SECONDS]] [--format text|json]`: a snapshot of the org, committed; progress per
//! kind on a terminal (plain lines otherwise), then a summary. Exit 2 when a kind could not
//! be read (its files are kept from the previous snapshot).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::{Failure, Format, KindArgs, Outcome, RepoArgs};
use crate::catalogue::Catalogue;
use crate::ops::backup::collect::KindResult;
use crate::ops::backup::{self, BackupError, Options, Progress, Report};
use crate::snapshot::lock::{LockError, Wait};
use crate::snapshot::repo::RepoError;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub repo: RepoArgs,

    #[command(flatten)]
    pub kinds: KindArgs,

    /// When another backup of this repository runs, wait for it (for at most SECONDS)
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "0")]
    pub wait: Option<u64>,

    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let catalogue = Catalogue::okta().map_err(|e| anyhow!("{e}"))?;
    let connection = super::test_connection::open(&args.repo, catalogue)?;
    let kinds = args.kinds.resolve(catalogue, &connection.config)?;
    let now = chrono::Utc::now();
    let options = Options {
        kinds,
        wait: match args.wait {
            None => Wait::No,
            Some(0) => Wait::Forever,
            Some(seconds) => Wait::For(Duration::from_secs(seconds)),
        },
        run_id: format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), std::process::id()),
        now,
    };
    let progress: Arc<dyn Progress> =
        if std::io::stderr().is_terminal() && args.format == Format::Text {
            Arc::new(Bars::default())
        } else {
            Arc::new(Lines)
        };
    let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
    let report = runtime
        .block_on(backup::run(
            catalogue,
            &connection,
            options,
            Arc::clone(&progress),
            |name| std::env::var(name).ok(),
        ))
        .map_err(|e| match e {
            BackupError::Lock(LockError::Held { .. } | LockError::TimedOut { .. })
            | BackupError::Repo(RepoError::Dirty { .. } | RepoError::NotAnOrgRepository { .. }) => {
                Failure::Usage(e.to_string())
            }
            other => Failure::Failed(anyhow!("{other}")),
        })?;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).context("render the report")?
        ),
        Format::Text => print!("{}", render(&report)),
    }
    Ok(if report.incomplete.is_empty() {
        Outcome::Done
    } else {
        Outcome::Report
    })
}

/// The summary as text.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = match &report.commit {
        Some(commit) => writeln!(
            out,
            "Backup of {} committed to {} as {}: {} added, {} changed, {} removed",
            report.org,
            report.branch,
            &commit[..12.min(commit.len())],
            report.added,
            report.changed,
            report.removed
        ),
        None => writeln!(out, "Backup of {}: nothing changed, no commit", report.org),
    };
    let _ = writeln!(
        out,
        "{} requests ({} retried, {} rate-limited) in {:.1} s",
        report.requests.requests,
        report.requests.retried,
        report.requests.rate_limited,
        report.seconds
    );
    let width = report.kinds.keys().map(String::len).max().unwrap_or(4);
    for (kind, k) in &report.kinds {
        if k.status != "complete" || k.added + k.changed + k.removed > 0 {
            let mut line = format!("  {kind:<width$}  {:>6} files", k.files);
            if k.added + k.changed + k.removed > 0 {
                let _ = write!(line, "  +{} ~{} -{}", k.added, k.changed, k.removed);
            }
            if k.status != "complete" {
                let _ = write!(line, "  {}", k.status);
            }
            let _ = writeln!(out, "{line}");
        }
    }
    if !report.incomplete.is_empty() || !report.unavailable.is_empty() {
        let _ = writeln!(out, "Not read (files kept from the previous snapshot):");
        for kind in report.incomplete.iter().chain(&report.unavailable) {
            let k = &report.kinds[kind];
            let _ = writeln!(out, "  {kind}: {}", k.failure.as_deref().unwrap_or(""));
            if let Some(fix) = &k.fix {
                let _ = writeln!(out, "    fix: {fix}");
            }
        }
    }
    if report.orphans_dropped > 0 {
        let _ = writeln!(
            out,
            "{} kept files dropped: their parent is gone",
            report.orphans_dropped
        );
    }
    if report.events_saved > 0 {
        let _ = writeln!(
            out,
            "{} System Log events saved with the snapshot (.butterfly/changes/)",
            report.events_saved
        );
    } else if report.events_pending > 0 {
        let _ = writeln!(
            out,
            "{} System Log events kept for the next snapshot that changes something",
            report.events_pending
        );
    }
    if let Some(note) = &report.changes_note {
        let _ = writeln!(out, "System Log not read: {note}");
    }
    for path in &report.kept_edits {
        let _ = writeln!(out, "  left as you edited it: {path}");
    }
    if let Some(path) = &report.new_key {
        let _ = writeln!(
            out,
            "Made this org's fingerprint key ({path}); run butterfly key export and give it to CI and the server as BUTTERFLY_FINGERPRINT_KEY"
        );
    }
    out
}

/// Plain lines on stderr: one per kind when it is done.
struct Lines;

impl Progress for Lines {
    fn page(&self, _: &str, _: usize) {}
    fn kind_done(&self, kind: &str, result: &KindResult) {
        match &result.failure {
            None => eprintln!("{kind}: {} objects", result.objects),
            Some(failure) => eprintln!("{kind}: not read: {failure}"),
        }
    }
}

/// A spinner per kind being read, on a terminal.
#[derive(Default)]
struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, (ProgressBar, u64)>>,
}

impl Progress for Bars {
    fn page(&self, kind: &str, objects: usize) {
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        let (bar, count) = bars.entry(kind.to_string()).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:<36} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(kind.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            (bar, 0)
        });
        *count += objects as u64;
        bar.set_message(format!("{count} objects"));
    }

    fn kind_done(&self, kind: &str, result: &KindResult) {
        let bar = self.bars.lock().ok().and_then(|mut b| b.remove(kind));
        if let Some((bar, _)) = bar {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        let line = match &result.failure {
            None => format!("✓ {kind}: {} objects", result.objects),
            Some(failure) => format!("✗ {kind}: {failure}"),
        };
        let _ = self.multi.println(line);
    }
}
