//! `apply`: executes exactly a reviewed plan file against its org, then backs up.
//!
//! - Refuses a plan with refusals, for another org, or whose live objects changed since it was
//!   made (each SHA-256 of `Plan::live` read again), naming them, except objects this plan's
//!   own journal says it changed.
//! - Runs the actions in order, within the client's rate-limit budgets and retries (429, 423
//!   E0000239, 5xx); stops at the first that fails; records each one in the journal beside the
//!   plan file (`<plan>.journal.json`: step, action, outcome, the id a create got, the error) as
//!   it goes, so a second `apply` of the same plan resumes after what is done.
//! - Writes the old-id → new-id map of the objects it created beside the plan file
//!   (`<plan>.ids.json`), after the steps (also when one failed: what was created so far).
//! - Then a backup: the new snapshot records the result.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::backup::collect::Texts;
use super::backup::{self, read_org};
use super::connection::Connection;
use crate::catalogue::Catalogue;
use crate::plan::apply::{self as request, RequestError};
use crate::plan::{Op, PLAN_VERSION, Plan};
use crate::provider::okta::error::ClientError;
use crate::provider::okta::walk;
use crate::snapshot::canonical::Context;
use crate::snapshot::layout;
use crate::snapshot::lock::Wait;
use crate::snapshot::repo::OrgRepo;

/// Why a plan was not applied (or not to the end).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{path}: {problem}")]
    PlanFile { path: PathBuf, problem: String },
    #[error("the plan is for {plan}, but this repository's org is {org}; nothing was done")]
    OtherOrg { plan: String, org: String },
    #[error(
        "the plan has {0} refused action(s); make a plan without them (narrow it, or pass the flags `plan` names); nothing was done"
    )]
    Refused(usize),
    #[error(
        "the plan is stale: these live objects changed since it was made, so nothing was done; make a new plan: {}",
        .0.join(", ")
    )]
    Stale(Vec<String>),
    #[error("{0}: the journal belongs to another plan; move it away to start this one over")]
    ForeignJournal(PathBuf),
    #[error(transparent)]
    Failed(Box<StepFailed>),
    #[error("reading the live org: {0}")]
    Live(String),
    #[error("{path}: the old-id → new-id map cannot be written: {source}")]
    Ids {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: the journal cannot be written: {source}")]
    Journal {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the plan's actions were applied, but the backup after them failed: {0}")]
    Backup(String),
}

/// A step that failed, and where the journal is.
#[derive(Debug, thiserror::Error)]
#[error(
    "step {step} ({op} {kind} \"{name}\") failed: {error}; {done} step(s) done before it are in {journal}; fix the cause and apply the same plan again to resume"
)]
pub struct StepFailed {
    pub step: usize,
    pub op: &'static str,
    pub kind: String,
    pub name: String,
    pub error: String,
    pub done: usize,
    pub journal: PathBuf,
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The SHA-256 of the plan file the step belongs to.
    pub plan: String,
    /// The action's index in the plan, from 0.
    pub step: usize,
    pub op: Op,
    pub kind: String,
    pub path: String,
    /// `done` or `failed`.
    pub outcome: String,
    /// The id a create got, or the id acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Fields of a create's answer that later steps need (`field:PATH#FIELD` → value): only
    /// those the plan names, never the whole answer (it may hold a secret).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    pub at: String,
}

/// What an apply did.
#[derive(Debug, Serialize)]
pub struct ApplyReport {
    pub org: String,
    pub journal: PathBuf,
    /// The old-id → new-id map of the objects the plan created.
    pub ids: PathBuf,
    /// Steps run now.
    pub done: usize,
    /// Steps a previous run of this plan had done.
    pub resumed: usize,
    /// The ids the plan's creates got, by the file they came from.
    pub created: BTreeMap<String, String>,
    /// The backup after the apply.
    pub backup: Option<backup::Report>,
}

/// The plan file and its SHA-256.
pub fn read_plan(path: &Path) -> Result<(Plan, String), ApplyError> {
    let error = |problem: String| ApplyError::PlanFile {
        path: path.to_path_buf(),
        problem,
    };
    let bytes = std::fs::read(path).map_err(|e| error(e.to_string()))?;
    let plan: Plan = serde_json::from_slice(&bytes)
        .map_err(|e| error(format!("not a plan file Butterfly wrote: {e}")))?;
    if plan.version != PLAN_VERSION {
        return Err(error(format!(
            "a plan file of version {}; this Butterfly reads version {PLAN_VERSION}",
            plan.version
        )));
    }
    Ok((plan, crate::plan::sha256_hex(&bytes)))
}

/// The old-id → new-id map's path beside the plan file.
pub fn ids_path(plan: &Path) -> PathBuf {
    let mut name = plan.as_os_str().to_owned();
    name.push(".ids.json");
    PathBuf::from(name)
}

/// One object a plan created: the id it had in the snapshot and the id Okta gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recreated {
    pub kind: String,
    pub path: String,
    pub old: String,
    pub new: String,
}

/// The old-id → new-id map of the plan's creates done so far (`created`: path → new id),
/// sorted by path.
pub fn id_map(plan: &Plan, created: &BTreeMap<String, String>) -> Vec<Recreated> {
    let mut out: Vec<Recreated> = plan
        .actions
        .iter()
        .filter(|a| a.op == Op::Create)
        .filter_map(|a| {
            Some(Recreated {
                kind: a.kind.clone(),
                path: a.path.clone(),
                old: a.was.clone()?,
                new: created.get(&a.path)?.clone(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn write_ids(path: &Path, ids: &[Recreated]) -> Result<(), ApplyError> {
    let mut text = serde_json::to_string_pretty(ids).unwrap_or_default();
    text.push('\n');
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, text)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|source| ApplyError::Ids {
            path: path.to_path_buf(),
            source,
        })
}

/// The journal's path beside the plan file.
pub fn journal_path(plan: &Path) -> PathBuf {
    let mut name = plan.as_os_str().to_owned();
    name.push(".journal.json");
    PathBuf::from(name)
}

fn read_journal(path: &Path, plan_hash: &str) -> Result<Vec<Entry>, ApplyError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ApplyError::Journal {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut entries = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        // A line cut by a crash is the last: what it recorded did not finish.
        let Ok(entry) = serde_json::from_str::<Entry>(line) else {
            break;
        };
        if entry.plan != plan_hash {
            return Err(ApplyError::ForeignJournal(path.to_path_buf()));
        }
        entries.push(entry);
    }
    Ok(entries)
}

fn append(path: &Path, entry: &Entry) -> Result<(), ApplyError> {
    use std::io::Write as _;
    let error = |source| ApplyError::Journal {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(error)?;
    let mut line = serde_json::to_string(entry).unwrap_or_default();
    line.push('\n');
    file.write_all(line.as_bytes()).map_err(error)?;
    file.sync_data().map_err(error)
}

/// The live objects of the plan's paths that changed since it was made, apart from those this
/// plan's journal says it changed.
async fn stale(
    catalogue: &'static Catalogue,
    connection: &Connection,
    plan: &Plan,
    journal: &[Entry],
) -> Result<Vec<String>, ApplyError> {
    let kinds: BTreeSet<String> = plan
        .live
        .keys()
        .filter_map(|p| layout::resolve(catalogue, p).map(|r| r.kind.name.clone()))
        .collect();
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    let repo = OrgRepo::open(&connection.root).map_err(|e| ApplyError::Live(e.to_string()))?;
    let key = super::key::load(&repo, |name| std::env::var(name).ok())
        .map_err(|e| ApplyError::Live(e.to_string()))?
        .map(|(key, _)| key);
    drop(repo);
    let client = Arc::clone(&connection.client);
    let walk_plan = walk::Plan {
        kinds,
        granted: client.granted_scopes().await?,
    };
    let context = Context {
        key: key.as_ref(),
        now: Utc::now(),
    };
    let collected = read_org(catalogue, client, &walk_plan, context, Texts)
        .await
        .map_err(|e| ApplyError::Live(e.to_string()))?;
    let now: BTreeMap<&str, &str> = collected
        .files
        .iter()
        .map(|(path, _, text)| (path.as_str(), text.as_str()))
        .collect();
    let touched: BTreeSet<&str> = journal
        .iter()
        .filter(|e| e.outcome == "done")
        .map(|e| e.path.as_str())
        .collect();
    let touched_ids: BTreeSet<&str> = journal.iter().filter_map(|e| e.id.as_deref()).collect();
    let mut changed = Vec::new();
    for (path, hash) in &plan.live {
        let current = now
            .get(path.as_str())
            .map(|t| crate::plan::sha256_hex(t.as_bytes()));
        if current.as_deref() == Some(hash.as_str()) {
            continue;
        }
        // Changed by this plan's own steps?
        let id = now
            .get(path.as_str())
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
            .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_string));
        let ours = touched.contains(path.as_str())
            || id.as_deref().is_some_and(|id| touched_ids.contains(id))
            || plan
                .actions
                .iter()
                .any(|a| touched.contains(a.path.as_str()) && a.id.as_deref() == id.as_deref());
        if !ours {
            changed.push(match current {
                Some(_) => path.clone(),
                None => format!("{path} (gone)"),
            });
        }
    }
    Ok(changed)
}

/// Applies the plan file at `path` to `connection`'s org, then backs up.
pub async fn run(
    catalogue: &'static Catalogue,
    connection: &Connection,
    path: &Path,
    progress: Arc<dyn backup::Progress>,
    on_step: &(dyn Fn(usize, &crate::plan::Action) + Sync),
) -> Result<ApplyReport, ApplyError> {
    let (plan, plan_hash) = read_plan(path)?;
    let client = Arc::clone(&connection.client);
    let org = client.org().name();
    if plan.org != org {
        return Err(ApplyError::OtherOrg {
            plan: plan.org.clone(),
            org,
        });
    }
    if !plan.refused.is_empty() {
        return Err(ApplyError::Refused(plan.refused.len()));
    }
    let journal_file = journal_path(path);
    let ids_file = ids_path(path);
    let journal = read_journal(&journal_file, &plan_hash)?;
    let changed = stale(catalogue, connection, &plan, &journal).await?;
    if !changed.is_empty() {
        return Err(ApplyError::Stale(changed));
    }
    let mut created: BTreeMap<String, String> = BTreeMap::new();
    let mut done_steps = BTreeSet::new();
    for entry in journal.iter().filter(|e| e.outcome == "done") {
        done_steps.insert(entry.step);
        if entry.op == Op::Create
            && let Some(id) = &entry.id
        {
            created.insert(entry.path.clone(), id.clone());
        }
        created.extend(entry.fields.clone());
    }
    let resumed = done_steps.len();
    // Every text of the plan that may hold a placeholder, to know which answer fields to keep.
    let plan_texts: Vec<String> = plan
        .actions
        .iter()
        .flat_map(|a| {
            a.params
                .values()
                .cloned()
                .chain(a.body.iter().map(|b| b.to_string()))
        })
        .filter(|t| t.contains("${field:"))
        .collect();
    let mut done = 0;
    for (step, action) in plan.actions.iter().enumerate() {
        if done_steps.contains(&step) {
            continue;
        }
        on_step(step, action);
        let outcome = execute(catalogue, &client, action, &created).await;
        let entry = |outcome: &str,
                     id: Option<String>,
                     error: Option<String>,
                     fields: BTreeMap<String, String>| Entry {
            plan: plan_hash.clone(),
            step,
            op: action.op,
            kind: action.kind.clone(),
            path: action.path.clone(),
            outcome: outcome.to_string(),
            id,
            error,
            fields,
            at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        };
        match outcome {
            Ok((id, answer)) => {
                if action.op == Op::Create
                    && let Some(id) = &id
                {
                    created.insert(action.path.clone(), id.clone());
                }
                let fields = if action.op == Op::Create {
                    request::answer_fields(&plan_texts, &action.path, &answer)
                } else {
                    BTreeMap::new()
                };
                created.extend(fields.clone());
                append(
                    &journal_file,
                    &entry("done", id.or(action.id.clone()), None, fields),
                )?;
                done += 1;
            }
            Err(error) => {
                append(
                    &journal_file,
                    &entry("failed", None, Some(error.clone()), BTreeMap::new()),
                )?;
                write_ids(&ids_file, &id_map(&plan, &created))?;
                return Err(ApplyError::Failed(Box::new(StepFailed {
                    step: step + 1,
                    op: action.op.as_str(),
                    kind: action.kind.clone(),
                    name: action.name.clone(),
                    error,
                    done: resumed + done,
                    journal: journal_file,
                })));
            }
        }
    }
    write_ids(&ids_file, &id_map(&plan, &created))?;
    // The result, as a snapshot.
    let kinds = crate::ops::selection::Selection {
        kinds: Vec::new(),
        exclude: connection.config.backup.exclude_kinds.clone(),
        with_opt_in: connection.config.backup.with_user_kinds,
    }
    .resolve(catalogue)
    .map_err(|e| ApplyError::Backup(e.to_string()))?;
    let now = Utc::now();
    let options = backup::Options {
        kinds,
        wait: Wait::For(std::time::Duration::from_secs(600)),
        run_id: format!(
            "{}-apply-{}",
            now.format("%Y%m%dT%H%M%SZ"),
            std::process::id()
        ),
        now,
    };
    let report = backup::run(catalogue, connection, options, progress, |name| {
        std::env::var(name).ok()
    })
    .await
    .map_err(|e| ApplyError::Backup(e.to_string()))?;
    Ok(ApplyReport {
        org: plan.org,
        journal: journal_file,
        ids: ids_file,
        done,
        resumed,
        created,
        backup: Some(report),
    })
}

/// The action with the id of an object Okta made with its parent filled in: the parent's
/// objects of that kind are listed, and the one whose natural key the action names (or the
/// only one) is it.
async fn discover(
    kind: &crate::catalogue::Kind,
    client: &crate::provider::okta::Client,
    action: &crate::plan::Action,
    created: &BTreeMap<String, String>,
) -> Result<crate::plan::Action, String> {
    let list = kind.primary().endpoints.list.as_ref().ok_or_else(|| {
        format!(
            "{}: no list endpoint to find the object Okta made",
            kind.name
        )
    })?;
    let url = request::url(&list.endpoint, action, created).map_err(|e| e.to_string())?;
    let answer = client
        .get(&client.org().join(&url), &list.endpoint.bucket)
        .await
        .map_err(|e| e.to_string())?;
    let items = match (&list.items, &answer.body) {
        (Some(key), body) => body.get(key).cloned().unwrap_or(Value::Null),
        (None, body) => body.clone(),
    };
    let items = items.as_array().cloned().unwrap_or_default();
    let found = items
        .iter()
        .find(|item| crate::diff::display_name(kind, item) == action.name)
        .or(if items.len() == 1 {
            items.first()
        } else {
            None
        })
        .and_then(|item| kind.id.as_ref().and_then(|p| p.get(item)))
        .and_then(crate::diff::text)
        .ok_or_else(|| {
            format!(
                "{}: the {} Okta makes with its parent was not found under it ({} listed)",
                action.path,
                kind.title,
                items.len()
            )
        })?;
    let mut action = action.clone();
    for value in action.params.values_mut() {
        if value == crate::plan::DISCOVER {
            *value = found.clone();
        }
    }
    action.id = Some(found);
    Ok(action)
}

/// Replaces each `${secret:env:VAR}` / `${secret:file:PATH}` of a request body (`--secrets`)
/// with the variable's value or the file's content, read now; an error names the file of the
/// plan, the pointer and the source, never a value.
fn supply_secrets(value: &mut Value, path: &str, pointer: &mut String) -> Result<(), String> {
    match value {
        Value::String(text) => {
            let Some(source) = crate::plan::secrets::source_of(text) else {
                return Ok(());
            };
            let secret = match source.split_once(':') {
                Some(("env", name)) => std::env::var(name).map_err(|_| {
                    format!("{path}: the secret at `{pointer}` comes from {source}, which is not set")
                })?,
                Some(("file", file)) => std::fs::read_to_string(file)
                    .map(|t| t.strip_suffix('\n').unwrap_or(&t).to_string())
                    .map_err(|e| {
                        format!("{path}: the secret at `{pointer}` comes from {source}, which cannot be read: {e}")
                    })?,
                _ => {
                    return Err(format!(
                        "{path}: the secret at `{pointer}` names {source}, neither env:VAR nor file:PATH"
                    ));
                }
            };
            *text = secret;
        }
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&crate::catalogue::pointer_token(key));
                supply_secrets(child, path, pointer)?;
                pointer.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                let len = pointer.len();
                pointer.push_str(&format!("/{i}"));
                supply_secrets(child, path, pointer)?;
                pointer.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Sends one action; the id a create got (or `None`) and the answer's body.
async fn execute(
    catalogue: &Catalogue,
    client: &crate::provider::okta::Client,
    action: &crate::plan::Action,
    created: &BTreeMap<String, String>,
) -> Result<(Option<String>, Value), String> {
    let kind = catalogue
        .kind(&action.kind)
        .ok_or_else(|| format!("unknown kind {}", action.kind))?;
    let discovered;
    let action = if action.params.values().any(|v| v == crate::plan::DISCOVER) {
        discovered = discover(kind, client, action, created).await?;
        &discovered
    } else {
        action
    };
    let endpoint = request::endpoint(kind, action).map_err(|e| e.to_string())?;
    let url = request::url(endpoint, action, created).map_err(|e: RequestError| e.to_string())?;
    let body = match &action.body {
        Some(body) if body.as_object().is_none_or(|m| !m.is_empty()) => {
            let mut body =
                request::resolve_body(body, created, &action.path).map_err(|e| e.to_string())?;
            supply_secrets(&mut body, &action.path, &mut String::new())?;
            Some(body)
        }
        _ => None,
    };
    let method = Method::from_bytes(endpoint.method.as_str().as_bytes())
        .map_err(|e| format!("{}: {e}", endpoint.method))?;
    let answer = client
        .send(
            method,
            &client.org().join(&url),
            &endpoint.bucket,
            body.as_ref(),
        )
        .await
        .map_err(|e| e.to_string())?;
    let id = match action.op {
        Op::Create => kind
            .id
            .as_ref()
            .and_then(|p| p.get(&answer.body))
            .and_then(crate::diff::text),
        _ => None,
    };
    Ok((id, answer.body))
}
