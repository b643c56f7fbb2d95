//! `check`: the compliance rules over one revision of an org repository. Resolves the revision
//! (DESIGN.md's vocabulary; by default the latest snapshot), reads and parses every file under
//! `okta/`, learns what the backup could not read from the snapshot's commit message
//! (`Incomplete-Kinds:` and its "Not read" reasons) and what `butterfly.toml` leaves out, fixes
//! `now` (the commit's time unless `--as-of`), and hands it all to `compliance::eval`; then
//! applies `butterfly.toml`'s waivers and, with `--baseline REV`, leaves out what the same check
//! at REV found too.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::catalogue::Catalogue;
use crate::compliance::report::{Baseline, Report};
use crate::compliance::waiver::{self, Waiver};
use crate::compliance::{
    Context, Coverage, Framework, Index, Profile, Rule, Rules, Severity, Tree, eval,
};
use crate::compliance::{Status, baseline};
use crate::ops::diff::{DiffOpError, Opened, describe};
use crate::ops::log::parse_message;
use crate::snapshot::layout;
use crate::snapshot::repo::RepoError;
use crate::snapshot::revision::{Rev, RevisionError, WORKTREE};

/// What to check, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The revision; default: the latest snapshot of the snapshot branch.
    pub rev: Option<String>,
    /// Only rules mapped to this framework (with its control ids shown).
    pub framework: Option<Framework>,
    pub profile: Profile,
    /// Only rules of at least this severity.
    pub min_severity: Severity,
    /// Failures at or above this make the run exit 2.
    pub fail_on: Severity,
    /// `now` for rules that count days; default: the revision's commit time.
    pub as_of: Option<DateTime<Utc>>,
    /// Report only findings that the same check at this revision did not find.
    pub baseline: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rev: None,
            framework: None,
            profile: Profile::Baseline,
            min_severity: Severity::Low,
            fail_on: Severity::High,
            as_of: None,
            baseline: None,
        }
    }
}

/// Why a check could not run.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Open(#[from] DiffOpError),
    #[error(transparent)]
    Revision(#[from] RevisionError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error("{path} at {rev}: not JSON: {problem}")]
    NotJson {
        path: String,
        rev: String,
        problem: String,
    },
}

/// The files under `okta/` at a revision: parsed, and their texts.
type Files = (Vec<(String, Value)>, BTreeMap<String, String>);

/// The files under `okta/` at a revision, parsed.
fn read_tree(opened: &Opened, rev: Rev, label: &str) -> Result<Files, CheckError> {
    let repo = &opened.repo;
    let bytes: Vec<(String, Vec<u8>)> = match rev {
        Rev::Commit(commit) => repo
            .read_files(commit, &[layout::ROOT])?
            .into_iter()
            .collect(),
        Rev::Worktree => {
            let mut out = Vec::new();
            for path in repo.files_under(Rev::Worktree, layout::ROOT)? {
                if let Some(content) = repo.file_at(Rev::Worktree, &path)? {
                    out.push((path, content));
                }
            }
            out
        }
    };
    let mut files = Vec::with_capacity(bytes.len());
    let mut texts = BTreeMap::new();
    for (path, content) in bytes {
        if !path.ends_with(".json") {
            continue;
        }
        let value = serde_json::from_slice(&content).map_err(|e| CheckError::NotJson {
            path: path.clone(),
            rev: label.to_string(),
            problem: format!("{e} (line {}, column {})", e.line(), e.column()),
        })?;
        texts.insert(path.clone(), String::from_utf8_lossy(&content).into_owned());
        files.push((path, value));
    }
    Ok((files, texts))
}

/// What the backup behind a revision covered: the commit's `Incomplete-Kinds:` (a commit that
/// is not a snapshot says nothing) and `butterfly.toml`'s left-out kinds.
fn coverage(opened: &Opened, catalogue: &Catalogue, rev: Rev) -> Coverage {
    let mut coverage = Coverage::default();
    if let Rev::Commit(commit) = rev
        && let Ok(found) = opened.repo.git().find_commit(commit)
    {
        let message = parse_message(found.message().unwrap_or_default());
        for kind in message.incomplete {
            let why = message.not_read.get(&kind).cloned().unwrap_or_default();
            coverage.incomplete.insert(kind, why);
        }
    }
    let backup = &opened.config.backup;
    coverage.excluded = backup
        .exclude_kinds
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>();
    if !backup.with_user_kinds {
        coverage.excluded.extend(
            catalogue
                .kinds()
                .iter()
                .filter(|k| k.opt_in.is_some())
                .map(|k| k.name.clone()),
        );
    }
    coverage
}

/// The rules a run evaluates: mapped to the framework when one is given, at least the severity.
pub fn selected<'r>(rules: &'r Rules, options: &Options) -> Vec<&'r Rule> {
    rules
        .all()
        .iter()
        .filter(|r| r.severity >= options.min_severity)
        .filter(|r| options.framework.is_none_or(|f| !r.controls(f).is_empty()))
        .collect()
}

/// Checks a revision: the rules, then `butterfly.toml`'s waivers, then, with `--baseline`, only
/// what the same check at the baseline did not find.
pub fn run<'r>(
    opened: &Opened,
    catalogue: &Catalogue,
    rules: &'r Rules,
    options: &Options,
) -> Result<Report<'r>, CheckError> {
    let mut report = run_at(opened, catalogue, rules, options, options.rev.as_deref())?;
    if let Some(rev) = &options.baseline {
        let before = run_at(opened, catalogue, rules, options, Some(rev))?;
        let known = baseline::only_new(&mut report.outcomes, &baseline::keys(&before.outcomes));
        report.baseline = Some(Baseline {
            revision: before.revision,
            known,
        });
    }
    let named: BTreeSet<&str> = report
        .outcomes
        .iter()
        .flat_map(|o| &o.findings)
        .filter(|f| f.status != Status::Pass)
        .filter_map(|f| f.file.as_deref())
        .collect();
    let named: BTreeSet<String> = named.into_iter().map(str::to_string).collect();
    report.sources.retain(|path, _| named.contains(path));
    Ok(report)
}

fn run_at<'r>(
    opened: &Opened,
    catalogue: &Catalogue,
    rules: &'r Rules,
    options: &Options,
    rev: Option<&str>,
) -> Result<Report<'r>, CheckError> {
    let repo = &opened.repo;
    let branch = &opened.config.backup.branch;
    let snapshots = repo.snapshots(branch)?;
    let (text, rev) = match rev {
        Some(text) => (text.to_string(), repo.revision(text, branch)?),
        None => {
            let latest = snapshots.first().ok_or(RevisionError::TooFewSnapshots {
                branch: branch.clone(),
                found: 0,
                needed: 1,
            })?;
            (branch.clone(), Rev::Commit(latest.commit))
        }
    };
    let revision = describe(repo, &text, rev)?;
    let taken = match rev {
        Rev::Commit(commit) => repo.commit_time(commit)?,
        // The working tree's data is as old as the latest backup it was checked out from.
        Rev::Worktree => snapshots.first().map_or_else(Utc::now, |s| s.time),
    };
    let now = options.as_of.unwrap_or(taken);
    let begun = std::time::Instant::now();
    let (files, sources) = read_tree(
        opened,
        rev,
        if rev == Rev::Worktree {
            WORKTREE
        } else {
            &text
        },
    )?;
    let tree = Tree::from_files(catalogue, files);
    let index = Index::new(catalogue, &tree);
    tracing::debug!(files = tree.files.len(), elapsed = ?begun.elapsed(), "tree loaded");
    let context = Context {
        now,
        taken: Some(taken),
        profile: options.profile,
        coverage: coverage(opened, catalogue, rev),
    };
    let chosen = selected(rules, options);
    let begun = std::time::Instant::now();
    let mut outcomes = eval::evaluate(&chosen, &index, &context);
    tracing::debug!(rules = chosen.len(), elapsed = ?begun.elapsed(), "rules evaluated");
    waiver::apply(
        &mut outcomes,
        &Waiver::from_config(&opened.config.compliance),
        now,
    );
    Ok(Report {
        revision,
        now: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        profile: options.profile,
        framework: options.framework,
        min_severity: options.min_severity,
        fail_on: options.fail_on,
        outcomes,
        unknown_files: tree.unknown.clone(),
        baseline: None,
        sources,
    })
}
