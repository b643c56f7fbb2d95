//! The backup (DESIGN.md "An org repository"): an org read through `provider::okta` into the
//! canonical files of a snapshot, committed to the snapshot branch in one step.
//!
//! 1. The repository is locked (one backup at a time) and prepared: a checkout a killed run
//!    left half-done is completed, and a dirty checkout of the snapshot branch is refused.
//! 2. The org is read kind by kind (`walk`) while the collector canonicalises each page and
//!    writes its files as git blobs, so memory holds names and blob ids, not the org.
//! 3. The new tree: the files of every kind read completely; for every other kind (failed,
//!    not chosen, opt-in) the previous snapshot's files, unless their parent is gone.
//!    `.butterfly/index.json` names every resource.
//! 4. One commit (message: counts per kind; trailers: org, run, incomplete kinds), or none when
//!    nothing changed; the branch moves by compare-and-swap and a checkout of it follows.

pub mod changes;
pub mod collect;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use git2::Oid;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::catalogue::Catalogue;
use crate::ops::connection::Connection;
use crate::ops::key::{self, KeyError};
use crate::provider::okta::system_log;
use crate::provider::okta::walk::{self, Event, Plan};
use crate::provider::okta::{Client, ClientError, Stats};
use crate::snapshot::canonical::Context;
use crate::snapshot::commit::{CommitOutcome, FileContent, NewSnapshot};
use crate::snapshot::layout;
use crate::snapshot::lock::{LockError, Wait};
use crate::snapshot::repo::{OrgRepo, RepoError};

use collect::{CollectError, Collected, Collector, IndexEntry, KindResult, Store};

/// Pages read but not yet collected: the walk waits when this many are queued, so a slow
/// disk never makes the org pile up in memory.
const PAGES_QUEUED: usize = 8;

/// What a backup replaces in the previous snapshot.
pub const MANAGED: [&str; 2] = ["okta/", INDEX];
/// The index of every resource of a snapshot.
pub const INDEX: &str = ".butterfly/index.json";

/// Reads `plan` from the org and collects it into files through `store`: the walk and the
/// collector run side by side, so objects reach the store as pages arrive.
pub async fn read_org<S: Store>(
    catalogue: &'static Catalogue,
    client: Arc<Client>,
    plan: &Plan,
    context: Context<'_>,
    store: S,
) -> Result<Collected<S::Handle>, CollectError> {
    let (sender, mut receiver) = mpsc::channel(PAGES_QUEUED);
    let walking = walk::walk(catalogue, client, plan, sender);
    let mut collector = Collector::new(catalogue, context, store);
    let collecting = async {
        while let Some(event) = receiver.recv().await {
            collector.take(event)?;
        }
        Ok::<_, CollectError>(())
    };
    let ((), collected) = tokio::join!(walking, collecting);
    collected?;
    collector.finish()
}

/// Writes each file as a git blob as soon as it is made.
pub struct Blobs(git2::Repository);

impl Store for Blobs {
    type Handle = Oid;
    type Error = git2::Error;
    fn put(&mut self, text: &str) -> Result<Oid, git2::Error> {
        self.0.blob(text.as_bytes())
    }
}

/// How a backup runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The kinds to read (their ancestors come too).
    pub kinds: BTreeSet<String>,
    /// What to do when another backup holds the repository.
    pub wait: Wait,
    pub run_id: String,
    /// The backup's time (user activity buckets are relative to it).
    pub now: DateTime<Utc>,
}

/// Told as the backup goes.
pub trait Progress: Send + Sync {
    /// A page of `objects` objects of `kind` was read.
    fn page(&self, kind: &str, objects: usize);
    /// `kind` is finished.
    fn kind_done(&self, kind: &str, result: &KindResult);
}

/// Tells nothing.
pub struct Silent;

impl Progress for Silent {
    fn page(&self, _: &str, _: usize) {}
    fn kind_done(&self, _: &str, _: &KindResult) {}
}

/// What became of one kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KindReport {
    /// `complete`, `incomplete` (could not be read: its previous files are kept),
    /// `unavailable` (the org lacks the feature), or `kept` (not read this time).
    pub status: &'static str,
    pub objects: u64,
    pub files: u64,
    pub added: u64,
    pub changed: u64,
    pub removed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// What a backup did (`--format json` prints it).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub org: String,
    pub branch: String,
    pub run_id: String,
    /// The new snapshot commit; absent when nothing changed.
    pub commit: Option<String>,
    /// The snapshot before (the branch tip when the backup started).
    pub parent: Option<String>,
    pub kinds: BTreeMap<String, KindReport>,
    pub added: u64,
    pub changed: u64,
    pub removed: u64,
    /// Kinds that could not be read: their previous files were kept (exit code 2).
    pub incomplete: Vec<String>,
    /// Kinds the org does not have (not counted as incomplete).
    pub unavailable: Vec<String>,
    /// Files of kinds not read this time whose parent is gone, dropped.
    pub orphans_dropped: u64,
    pub requests: Stats,
    pub seconds: f64,
    /// Set when this backup made the org's fingerprint key (export it for CI and the server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_key: Option<String>,
    /// Files a checkout of the branch kept as the user left them.
    pub kept_edits: Vec<String>,
    /// System Log events read for the time since the previous backup.
    pub events_read: u64,
    /// Events saved in this commit's `.butterfly/changes/` file.
    pub events_saved: u64,
    /// Events waiting for the next commit (this backup changed nothing).
    pub events_pending: u64,
    /// Why the System Log was not read, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes_note: Option<String>,
}

/// Why a backup failed (nothing was committed).
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Collect(#[from] CollectError),
    #[error("{what}: {source}")]
    Git { what: String, source: git2::Error },
    #[error("the backup task stopped unexpectedly: {0}")]
    Task(String),
}

fn task(error: tokio::task::JoinError) -> BackupError {
    BackupError::Task(error.to_string())
}

/// The repository, locked and ready, with what the previous snapshot holds.
struct Start {
    repo: OrgRepo,
    lock: crate::snapshot::lock::SnapshotLock,
    tip: Option<Oid>,
    previous: BTreeMap<String, Oid>,
    previous_index: BTreeMap<String, IndexEntry>,
    key: crate::snapshot::fingerprint::FingerprintKey,
    made_key: Option<String>,
    /// Up to when the System Log was read (None: from the previous snapshot's time).
    log_since: Option<DateTime<Utc>>,
}

/// Runs a backup of `connection`'s org into its repository.
pub async fn run(
    catalogue: &'static Catalogue,
    connection: &Connection,
    options: Options,
    progress: Arc<dyn Progress>,
    var: impl Fn(&str) -> Option<String> + Send + 'static,
) -> Result<Report, BackupError> {
    let started = Instant::now();
    let root = connection.root.clone();
    let branch = connection.config.backup.branch.clone();
    let start = {
        let (root, branch, run_id, wait) = (
            root.clone(),
            branch.clone(),
            options.run_id.clone(),
            options.wait,
        );
        tokio::task::spawn_blocking(move || begin(&root, &branch, &run_id, wait, var))
            .await
            .map_err(task)??
    };
    let client = Arc::clone(&connection.client);
    let granted = client.granted_scopes().await?;
    let plan = Plan {
        kinds: options.kinds.clone(),
        granted,
    };
    let read_kinds: BTreeSet<String> = plan.closure(catalogue).into_iter().collect();

    // Walk and collect side by side; the collector writes blobs on a blocking thread.
    let (sender, mut receiver) = mpsc::channel::<Event>(PAGES_QUEUED);
    let collecting = {
        let key = start.key.clone();
        let now = options.now;
        let progress = Arc::clone(&progress);
        let git = git2::Repository::open(start.repo.path()).map_err(|source| BackupError::Git {
            what: format!("opening {}", start.repo.path().display()),
            source,
        })?;
        tokio::task::spawn_blocking(move || -> Result<Collected<Oid>, CollectError> {
            let context = Context {
                key: Some(&key),
                now,
            };
            let mut collector = Collector::new(catalogue, context, Blobs(git));
            while let Some(event) = receiver.blocking_recv() {
                match &event {
                    Event::Page { kind, items, .. } => progress.page(kind, items.len()),
                    Event::KindDone { .. } => {}
                }
                let done = match &event {
                    Event::KindDone { kind, .. } => Some(kind.clone()),
                    Event::Page { .. } => None,
                };
                collector.take(event)?;
                if let Some(kind) = done {
                    progress.kind_done(&kind, &collector.result(&kind));
                }
            }
            collector.finish()
        })
    };
    walk::walk(catalogue, Arc::clone(&client), &plan, sender).await;
    let collected = collecting.await.map_err(task)??;

    // Who changed what since the previous backup.
    let until = Utc::now();
    let events = match start.log_since {
        None => Events::Skipped(None),
        Some(_)
            if plan
                .granted
                .as_ref()
                .is_some_and(|g| !g.iter().any(|s| s == "okta.logs.read")) =>
        {
            Events::Skipped(Some("the token lacks okta.logs.read".into()))
        }
        Some(since) => match system_log::changes(&client, since, until).await {
            Ok(events) => Events::Read { events, until },
            Err(e) => Events::Skipped(Some(e.to_string())),
        },
    };

    let org = client.org().host().to_string();
    let run_id = options.run_id.clone();
    let stats_before_commit = client.stats();
    let report = tokio::task::spawn_blocking(move || {
        finish(
            catalogue,
            start,
            collected,
            events,
            &read_kinds,
            &branch,
            &org,
            &run_id,
        )
    })
    .await
    .map_err(task)??;
    Ok(Report {
        requests: stats_before_commit,
        seconds: started.elapsed().as_secs_f64(),
        ..report
    })
}

/// Locks and prepares the repository and reads what the previous snapshot holds.
fn begin(
    root: &std::path::Path,
    branch: &str,
    run_id: &str,
    wait: Wait,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Start, BackupError> {
    let repo = OrgRepo::open(root)?;
    let lock = repo.lock(run_id, wait)?;
    let prepared = repo.prepare(&lock, branch, &MANAGED)?;
    let mut tip = prepared.tip;
    if tip.is_none() {
        // A new snapshot branch starts from what is checked out (butterfly.toml and all).
        if let Ok(head) = repo.git().head().and_then(|h| h.peel_to_commit()) {
            let refname = format!("refs/heads/{branch}");
            repo.git()
                .reference(
                    &refname,
                    head.id(),
                    false,
                    "butterfly: snapshot branch created",
                )
                .map_err(|source| BackupError::Git {
                    what: format!("creating {refname}"),
                    source,
                })?;
            tip = Some(head.id());
        }
    }
    let (previous, previous_index) = match tip {
        Some(tip) => {
            let previous = repo.list_files(tip, &["okta/"])?;
            let index = repo
                .read_files(tip, &[INDEX])?
                .remove(INDEX)
                .and_then(|bytes| match serde_json::from_slice(&bytes) {
                    Ok(index) => Some(index),
                    Err(e) => {
                        tracing::warn!(error = %e, "the previous {INDEX} cannot be read; rebuilt from this backup");
                        None
                    }
                })
                .unwrap_or_default();
            (previous, index)
        }
        None => Default::default(),
    };
    let (key, source) = key::load_or_make(&repo, var)?;
    let made_key = match source {
        key::Source::Made(path) => Some(path.display().to_string()),
        _ => None,
    };
    // The log is read from where the last backup stopped, else from the previous snapshot's
    // time; a first backup has no changes to explain.
    let log_since = changes::ChangeLog::of(&repo).read_until().or_else(|| {
        let tip = tip?;
        let commit = repo.git().find_commit(tip).ok()?;
        DateTime::from_timestamp(commit.time().seconds(), 0)
    });
    Ok(Start {
        repo,
        lock,
        tip,
        previous,
        previous_index,
        key,
        made_key,
        log_since,
    })
}

/// What was read of the System Log.
enum Events {
    Read {
        events: Vec<serde_json::Value>,
        until: DateTime<Utc>,
    },
    /// Not read: a first backup (None), or why not.
    Skipped(Option<String>),
}

/// Builds the new tree from what was read and what is kept, and commits it.
#[allow(clippy::too_many_arguments)]
fn finish(
    catalogue: &Catalogue,
    start: Start,
    collected: Collected<Oid>,
    events: Events,
    read_kinds: &BTreeSet<String>,
    branch: &str,
    org: &str,
    run_id: &str,
) -> Result<Report, BackupError> {
    let complete: BTreeSet<&str> = collected
        .kinds
        .iter()
        .filter(|(kind, result)| read_kinds.contains(*kind) && result.failure.is_none())
        .map(|(kind, _)| kind.as_str())
        .collect();
    let mut files: BTreeMap<String, Oid> = BTreeMap::new();
    let mut kinds: BTreeMap<String, KindReport> = BTreeMap::new();
    for (path, kind, blob) in &collected.files {
        files.insert(path.clone(), *blob);
        kinds.entry(kind.clone()).or_default().files += 1;
    }
    let fresh_stems: BTreeSet<&str> = collected
        .files
        .iter()
        .map(|(path, _, _)| path.trim_end_matches(".json"))
        .collect();
    // Previous files: replaced for kinds read completely, kept for the others.
    let mut orphans = 0;
    let mut previous_kind: BTreeMap<&str, String> = BTreeMap::new();
    for (path, blob) in &start.previous {
        let Some(resolved) = layout::resolve(catalogue, path) else {
            // Not a file Butterfly names: kept, never deleted.
            files.entry(path.clone()).or_insert(*blob);
            continue;
        };
        let kind = resolved.kind.name.as_str();
        previous_kind.insert(path.as_str(), kind.to_string());
        if complete.contains(kind) {
            continue;
        }
        let parent_kind = resolved.kind.variants[resolved.variant].parent.as_deref();
        if let (Some(parent_stem), Some(parent_kind)) = (&resolved.parent, parent_kind)
            && complete.contains(parent_kind)
            && !fresh_stems.contains(parent_stem.as_str())
        {
            tracing::info!(path, "kept file dropped: its parent is gone");
            orphans += 1;
            continue;
        }
        if files.insert(path.clone(), *blob).is_none() {
            kinds.entry(kind.to_string()).or_default().files += 1;
        }
    }
    // Counts per kind read completely.
    for (path, kind) in &previous_kind {
        if !complete.contains(kind.as_str()) {
            continue;
        }
        let report = kinds.entry(kind.clone()).or_default();
        match files.get(*path) {
            None => report.removed += 1,
            Some(blob) if *blob != start.previous[*path] => report.changed += 1,
            Some(_) => {}
        }
    }
    for (path, kind, _) in &collected.files {
        if !start.previous.contains_key(path) {
            kinds.entry(kind.clone()).or_default().added += 1;
        }
    }
    let mut incomplete = Vec::new();
    let mut unavailable = Vec::new();
    for kind in catalogue.kinds() {
        let name = &kind.name;
        let result = collected.kinds.get(name);
        let report = kinds.entry(name.clone()).or_default();
        report.status = match result {
            Some(result) if read_kinds.contains(name) => {
                report.objects = result.objects;
                report.failure.clone_from(&result.failure);
                report.fix.clone_from(&result.fix);
                if result.failure.is_none() {
                    "complete"
                } else if result.unavailable {
                    unavailable.push(name.clone());
                    "unavailable"
                } else {
                    incomplete.push(name.clone());
                    "incomplete"
                }
            }
            _ => "kept",
        };
    }
    kinds.retain(|_, r| r.status != "kept" || r.files > 0);
    // The index: this backup's resources, and the kept kinds' from the previous index.
    let mut index = collected.index;
    for (id, entry) in start.previous_index {
        if !complete.contains(entry.kind.as_str()) && files.contains_key(&entry.path) {
            index.entry(id).or_insert(entry);
        }
    }
    let mut index_text = serde_json::to_string_pretty(&index).unwrap_or_else(|_| "{}".into());
    index_text.push('\n');

    let (added, changed, removed) = kinds.values().fold((0, 0, 0), |(a, c, r), k| {
        (a + k.added, c + k.changed, r + k.removed)
    });
    let message = commit_message(org, run_id, &kinds, &incomplete, (added, changed, removed));
    let mut new_files: BTreeMap<String, FileContent> = files
        .into_iter()
        .map(|(path, blob)| (path, FileContent::Blob(blob)))
        .collect();
    new_files.insert(
        INDEX.to_string(),
        FileContent::Bytes(index_text.into_bytes()),
    );
    let signature = git2::Signature::now("Butterfly", "butterfly@localhost").map_err(|source| {
        BackupError::Git {
            what: "making the commit signature".into(),
            source,
        }
    })?;
    // The events, with those earlier backups read but could not commit.
    let change_log = changes::ChangeLog::of(&start.repo);
    let mut pending = change_log.pending().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "pending System Log events cannot be read; they are dropped");
        Vec::new()
    });
    let (events_read, changes_note) = match &events {
        Events::Read { events, .. } => (events.len() as u64, None),
        Events::Skipped(note) => (0, note.clone()),
    };
    if let Events::Read { events, .. } = &events {
        pending.extend(events.iter().cloned());
    }
    let mut extra = BTreeMap::new();
    if !pending.is_empty() {
        extra.insert(
            changes::file_name(Utc::now()),
            changes::file_text(pending.clone()),
        );
    }
    let outcome = start.repo.commit_snapshot(
        &start.lock,
        NewSnapshot {
            branch,
            parent: start.tip,
            managed: &MANAGED,
            files: new_files,
            extra,
            message: &message,
            signature: &signature,
        },
    )?;
    let committed = matches!(outcome, CommitOutcome::Committed(_));
    let bookkeeping = if committed {
        change_log.clear_pending()
    } else {
        change_log.keep_pending(&pending)
    }
    .and_then(|()| match &events {
        Events::Read { until, .. } => change_log.advance(*until),
        Events::Skipped(_) => Ok(()),
    });
    if let Err(e) = bookkeeping {
        tracing::warn!(error = %e, "the System Log bookkeeping could not be saved");
    }
    let events_saved = if committed { pending.len() as u64 } else { 0 };
    let events_pending = if committed { 0 } else { pending.len() as u64 };
    let (commit, kept_edits) = match outcome {
        CommitOutcome::Unchanged { .. } => (None, Vec::new()),
        CommitOutcome::Committed(committed) => (
            Some(committed.commit.to_string()),
            committed
                .followed
                .into_iter()
                .flat_map(|f| f.kept)
                .collect(),
        ),
    };
    Ok(Report {
        org: org.to_string(),
        branch: branch.to_string(),
        run_id: run_id.to_string(),
        commit,
        parent: start.tip.map(|t| t.to_string()),
        kinds,
        added,
        changed,
        removed,
        incomplete,
        unavailable,
        orphans_dropped: orphans,
        requests: Stats::default(),
        seconds: 0.0,
        new_key: start.made_key,
        kept_edits,
        events_read,
        events_saved,
        events_pending,
        changes_note,
    })
}

/// `Backup of acme.okta.com: 2 added, 5 changed, 1 removed`, a line per kind that changed, the
/// kinds that could not be read, and trailers.
fn commit_message(
    org: &str,
    run_id: &str,
    kinds: &BTreeMap<String, KindReport>,
    incomplete: &[String],
    (added, changed, removed): (u64, u64, u64),
) -> String {
    let mut message =
        format!("Backup of {org}: {added} added, {changed} changed, {removed} removed\n\n");
    for (kind, report) in kinds {
        if report.added + report.changed + report.removed == 0 {
            continue;
        }
        let mut parts = Vec::new();
        for (count, word) in [
            (report.added, "added"),
            (report.changed, "changed"),
            (report.removed, "removed"),
        ] {
            if count > 0 {
                parts.push(format!("{count} {word}"));
            }
        }
        message.push_str(&format!("{kind}: {}\n", parts.join(", ")));
    }
    if !incomplete.is_empty() {
        message.push_str("\nNot read (their files are kept from the previous snapshot):\n");
        for kind in incomplete {
            let why = kinds
                .get(kind)
                .and_then(|r| r.failure.as_deref())
                .unwrap_or("unknown");
            message.push_str(&format!("{kind}: {why}\n"));
        }
    }
    message.push_str(&format!("\nOkta-Org: {org}\nBackup-Run: {run_id}\n"));
    if !incomplete.is_empty() {
        message.push_str(&format!("Incomplete-Kinds: {}\n", incomplete.join(", ")));
    }
    message
}
