//! `butterfly test-connection [-C DIR] [--kind K]... [--exclude-kind K]... [--with-user-kinds]
//! [--format text|json]`:
//! gets a token with the repository's settings and credentials, then asks for each kind once
//! and says, per kind, whether it can be backed up, and if not why and how to fix it.

use std::fmt::Write as _;

use anyhow::{Context as _, anyhow};

use super::{Failure, Format, KindArgs, Outcome, RepoArgs};
use crate::catalogue::Catalogue;
use crate::ops::connection::{self, Connection, ConnectionReport, OpenError};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub repo: RepoArgs,

    #[command(flatten)]
    pub kinds: KindArgs,

    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let catalogue = Catalogue::okta().map_err(|e| anyhow!("{e}"))?;
    let connection = open(&args.repo, catalogue)?;
    let kinds = args.kinds.resolve(catalogue, &connection.config)?;
    let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
    let report = runtime
        .block_on(connection::test_connection(catalogue, &connection, &kinds))
        .map_err(|e| anyhow!("{e}"))?;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).context("render the report")?
        ),
        Format::Text => print!("{}", render(&report)),
    }
    Ok(if report.problems() > 0 {
        Outcome::Report
    } else {
        Outcome::Done
    })
}

/// Opens the repository's connection; a bad `butterfly.toml` or missing credentials is a
/// configuration error (exit 3).
pub fn open(repo: &RepoArgs, catalogue: &Catalogue) -> Result<Connection, Failure> {
    Connection::open(&repo.dir, catalogue, |name| std::env::var(name).ok()).map_err(|e| match e {
        OpenError::Config(e) => Failure::Usage(e.to_string()),
        OpenError::Client(e) => Failure::Usage(e.to_string()),
    })
}

/// The report as text.
pub fn render(report: &ConnectionReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: authenticated with {}{}",
        report.org,
        report.method,
        report
            .client_id
            .as_deref()
            .map(|id| format!(" (client {id})"))
            .unwrap_or_default()
    );
    if let Some(granted) = &report.granted_scopes {
        let _ = writeln!(out, "token scopes: {}", granted.join(" "));
    }
    let width = report.kinds.iter().map(|k| k.kind.len()).max().unwrap_or(4);
    for probe in &report.kinds {
        let _ = write!(
            out,
            "  {:<width$}  {}",
            probe.kind,
            probe.status.replace('_', " ")
        );
        if let Some(detail) = &probe.detail {
            let _ = write!(out, ": {detail}");
        }
        out.push('\n');
        if let Some(fix) = &probe.fix {
            let _ = writeln!(out, "  {:<width$}    fix: {fix}", "");
        }
    }
    if !report.missing_scopes.is_empty() {
        let _ = writeln!(
            out,
            "grant these scopes to the app and add them to `scopes` in butterfly.toml: {}",
            report.missing_scopes.join(" ")
        );
    }
    let problems = report.problems();
    let _ = writeln!(
        out,
        "{} kinds checked with {} requests: {}",
        report.kinds.len(),
        report.requests,
        if problems == 0 {
            "every kind can be backed up".to_string()
        } else {
            format!("{problems} cannot be backed up")
        }
    );
    out
}
