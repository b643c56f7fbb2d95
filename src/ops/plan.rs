//! `plan`: the desired tree at a revision (narrowed by kind or path), the live org read now
//! through the same walk and canonical form as a backup (only the kinds the plan needs: the
//! selected ones, the kinds they reference, and admin role assignments when groups are
//! involved), and `plan::build` between them. Writes the plan file when asked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;

use super::backup::collect::Texts;
use super::backup::{INDEX, read_org};
use super::connection::Connection;
use crate::catalogue::{Catalogue, Kind};
use crate::plan::build::PlanError;
use crate::plan::{self, Desired, Plan};
use crate::provider::okta::error::ClientError;
use crate::provider::okta::walk;
use crate::snapshot::canonical::Context;
use crate::snapshot::layout;
use crate::snapshot::repo::{OrgRepo, RepoError};
use crate::snapshot::revision::{Rev, RevisionError, WORKTREE};

/// What to plan.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The desired revision; default: `WORKTREE` (the snapshot branch's tip in a bare repository).
    pub rev: Option<String>,
    pub kinds: BTreeSet<String>,
    pub paths: Vec<String>,
    pub plan: plan::Options,
    /// The org repository holding the desired tree, when it is another org's (`--target`:
    /// the connection is the target org, this the source, e.g. prod → staging). Default: the
    /// connection's own repository.
    pub source: Option<std::path::PathBuf>,
}

/// Why no plan was made.
#[derive(Debug, thiserror::Error)]
pub enum PlanOpError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Revision(#[from] RevisionError),
    #[error("{path} at {rev}: {problem}")]
    Read {
        rev: String,
        path: String,
        problem: String,
    },
    #[error("unknown kind `{0}`; `butterfly catalogue` lists them")]
    UnknownKind(String),
    #[error("nothing at {rev} is selected: no file of the kinds and paths given")]
    Empty { rev: String },
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(
        "the live org could not be read completely, so no plan is made: {kind}: {failure} ({fix})"
    )]
    LiveIncomplete {
        kind: String,
        failure: String,
        fix: String,
    },
    #[error("reading the live org: {0}")]
    Collect(String),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("the fingerprint key: {0}")]
    Key(String),
    #[error("the source repository: {0}")]
    Source(String),
}

/// Files by path, parsed.
type Files = BTreeMap<String, Value>;

/// The desired files of the selection, and the whole desired tree's index (id → path).
fn desired(
    repo: &OrgRepo,
    catalogue: &Catalogue,
    rev: Rev,
    label: &str,
    options: &Options,
) -> Result<(Files, BTreeMap<String, String>), PlanOpError> {
    let reader = repo.reader(rev)?;
    let read_error = |path: &str, problem: String| PlanOpError::Read {
        rev: label.to_string(),
        path: path.to_string(),
        problem,
    };
    let mut files = BTreeMap::new();
    for path in repo.files_under(rev, layout::ROOT)? {
        if !super::diff::selected(&path, &options.paths) {
            continue;
        }
        let Some(resolved) = layout::resolve(catalogue, &path) else {
            continue;
        };
        if !options.kinds.is_empty() && !options.kinds.contains(&resolved.kind.name) {
            continue;
        }
        let Some(bytes) = reader.read(&path)? else {
            continue;
        };
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| read_error(&path, format!("not JSON: {e}")))?;
        files.insert(path, value);
    }
    let index = match reader.read(INDEX)? {
        Some(bytes) => {
            let parsed: BTreeMap<String, super::backup::collect::IndexEntry> =
                serde_json::from_slice(&bytes).map_err(|e| {
                    read_error(INDEX, format!("not the index Butterfly writes: {e}"))
                })?;
            parsed.into_iter().map(|(id, e)| (id, e.path)).collect()
        }
        None => BTreeMap::new(),
    };
    Ok((files, index))
}

/// The kinds to read live: the selected ones, the kinds they reference, and admin role
/// assignments when groups are involved (to protect admin groups).
fn live_kinds(catalogue: &Catalogue, selected: &BTreeSet<String>) -> BTreeSet<String> {
    let mut kinds = selected.clone();
    for name in selected {
        if let Some(kind) = catalogue.kind(name) {
            kinds.extend(kind.references.iter().map(|r| r.kind.clone()));
        }
    }
    if kinds
        .iter()
        .any(|k| matches!(k.as_str(), "group" | "group_membership" | "group_rule"))
    {
        kinds.insert("admin_role_assignment".into());
    }
    kinds
}

/// Makes a plan.
pub async fn run(
    catalogue: &'static Catalogue,
    connection: &Connection,
    options: &Options,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Plan, PlanOpError> {
    for kind in &options.kinds {
        if catalogue.kind(kind).is_none() {
            return Err(PlanOpError::UnknownKind(kind.clone()));
        }
    }
    // The desired tree: this org's repository, or another org's (`--target`).
    let (repo, branch) = match &options.source {
        None => (
            OrgRepo::open(&connection.root)?,
            connection.config.backup.branch.clone(),
        ),
        Some(dir) => {
            let root = crate::config::OrgConfig::find_root(dir)
                .map_err(|e| PlanOpError::Source(e.to_string()))?;
            let config = crate::config::OrgConfig::load(&root, catalogue)
                .map_err(|e| PlanOpError::Source(e.to_string()))?;
            (OrgRepo::open(&root)?, config.backup.branch)
        }
    };
    let branch = &branch;
    let label = match &options.rev {
        Some(rev) => rev.clone(),
        None if repo.git().workdir().is_some() => WORKTREE.to_string(),
        None => branch.clone(),
    };
    let rev = repo.revision(&label, branch)?;
    let commit = match rev {
        Rev::Commit(commit) => Some(commit.to_string()),
        Rev::Worktree => None,
    };
    let (desired_files, desired_index) = desired(&repo, catalogue, rev, &label, options)?;
    if desired_files.is_empty() && !options.plan.prune {
        return Err(PlanOpError::Empty { rev: label });
    }
    let mut selected: BTreeSet<String> = desired_files
        .keys()
        .filter_map(|p| layout::resolve(catalogue, p).map(|r| r.kind.name.clone()))
        .collect();
    selected.extend(options.kinds.iter().cloned());
    drop(repo);
    // Live secrets are fingerprinted with the live org's key.
    let key = super::key::load(&OrgRepo::open(&connection.root)?, &var)
        .map_err(|e| PlanOpError::Key(e.to_string()))?
        .map(|(key, _)| key);

    // The live org, as a backup would write it.
    let client = Arc::clone(&connection.client);
    let granted = client.granted_scopes().await?;
    let walk_plan = walk::Plan {
        kinds: live_kinds(catalogue, &selected),
        granted: granted.clone(),
    };
    let read_at = Utc::now();
    let context = Context {
        key: key.as_ref(),
        now: read_at,
    };
    let collected = read_org(catalogue, Arc::clone(&client), &walk_plan, context, Texts)
        .await
        .map_err(|e| PlanOpError::Collect(e.to_string()))?;
    if let Some((kind, result)) = collected
        .kinds
        .iter()
        .find(|(k, r)| r.failure.is_some() && !r.unavailable && selected.contains(*k))
    {
        return Err(PlanOpError::LiveIncomplete {
            kind: kind.clone(),
            failure: result.failure.clone().unwrap_or_default(),
            fix: result.fix.clone().unwrap_or_default(),
        });
    }
    let mut live_files = BTreeMap::new();
    for (path, _, text) in collected.files {
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| PlanOpError::Collect(format!("{path}: {e}")))?;
        live_files.insert(path, value);
    }

    let mut plan_options = options.plan.clone();
    plan_options.granted = granted;
    if let Some(own) = client.credentials().client_id() {
        plan_options.protected_apps.push(own.to_string());
    }
    plan_options
        .protected_apps
        .extend(connection.config.restore.protected_apps.iter().cloned());
    let input = plan::Input {
        org: client.org().name(),
        desired: Desired {
            rev: label,
            commit,
            kinds: options.kinds.iter().cloned().collect(),
            paths: options.paths.clone(),
            prune: options.plan.prune,
        },
        desired_files: &desired_files,
        desired_index: &desired_index,
        live_files: &live_files,
        read_at: read_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        options: plan_options,
    };
    let in_selection = |path: &str, kind: &Kind| {
        super::diff::selected(path, &options.paths)
            && (options.kinds.is_empty() || options.kinds.contains(&kind.name))
            && (!options.kinds.is_empty()
                || !options.paths.is_empty()
                || selected.contains(&kind.name))
    };
    Ok(plan::build(catalogue, &input, &in_selection)?)
}

/// Writes the plan file (atomically: a temporary file renamed over).
pub fn write(plan: &Plan, path: &Path) -> std::io::Result<()> {
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, crate::plan::render::json(plan))?;
    std::fs::rename(&temporary, path)
}
