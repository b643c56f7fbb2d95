//! A worker: claims the next job from the store's queue, runs the backup with `ops::backup`,
//! renews its lease while it runs, streams the backup's log lines into the store, and ends the
//! job in exactly one way: `succeeded` with the snapshot commit, or `failed` with the error.
//!
//! A worker killed mid-job stops renewing its lease; once it runs out another worker takes the
//! job over and runs the backup again. A backup that was cut off committed nothing (the snapshot
//! commit moves the branch in one step), so the job still ends in one commit.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, watch};

use crate::ops::backup::collect::KindResult;
use crate::ops::backup::{self, Progress};
use crate::ops::connections::Installation;
use crate::snapshot::lock::Wait;
use crate::store::jobs::{Job, JobOutcome};
use crate::store::{StoreError, now};

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Names the worker in the store (`host:pid:n`).
    pub name: String,
    /// How long a claim lasts without renewal.
    pub lease_secs: i64,
    /// How often the lease is renewed while a job runs.
    pub heartbeat: Duration,
    /// How long to wait before looking again when the queue is empty.
    pub idle: Duration,
}

impl WorkerOptions {
    /// A worker named after this host and process, with a 60 s lease renewed every 10 s.
    pub fn named(n: usize) -> WorkerOptions {
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        WorkerOptions {
            name: format!("{host}:{}:{n}", std::process::id()),
            lease_secs: 60,
            heartbeat: Duration::from_secs(10),
            idle: Duration::from_secs(1),
        }
    }
}

/// Runs jobs until `stop` turns true (the job in hand is finished first).
pub async fn run(
    installation: Installation,
    options: WorkerOptions,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        match run_next(&installation, &options).await {
            Ok(Some(_)) => continue,
            Ok(None) => {}
            Err(e) => tracing::warn!(worker = %options.name, error = %e, "the job queue failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(options.idle) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Claims and runs one job; `None` when the queue had nothing to do.
pub async fn run_next(
    installation: &Installation,
    options: &WorkerOptions,
) -> Result<Option<Job>, StoreError> {
    let Some(job) = installation
        .store
        .claim_job(&options.name, now(), options.lease_secs)
        .await?
    else {
        return Ok(None);
    };
    tracing::info!(worker = %options.name, job = job.id.0, connection = job.connection.0, attempt = job.attempts, "job claimed");
    run_job(installation, options, &job).await?;
    Ok(Some(job))
}

/// Log lines from the backup's (synchronous) progress calls, written by one task in order.
struct JobProgress {
    lines: mpsc::UnboundedSender<(&'static str, String)>,
}

impl Progress for JobProgress {
    fn page(&self, _: &str, _: usize) {}

    fn kind_done(&self, kind: &str, result: &KindResult) {
        let line = match (&result.failure, result.unavailable) {
            (_, true) => format!("{kind}: not available in this org"),
            (Some(failure), _) => match &result.fix {
                Some(fix) => format!("{kind}: could not be read: {failure} (fix: {fix})"),
                None => format!("{kind}: could not be read: {failure}"),
            },
            (None, false) => format!("{kind}: {} object(s) read", result.objects),
        };
        let level = if result.failure.is_some() {
            "warn"
        } else {
            "info"
        };
        let _ = self.lines.send((level, line));
    }
}

async fn run_job(
    installation: &Installation,
    options: &WorkerOptions,
    job: &Job,
) -> Result<(), StoreError> {
    let store = installation.store.clone();
    let (lines, mut received) = mpsc::unbounded_channel::<(&'static str, String)>();
    let writer = {
        let store = store.clone();
        let id = job.id;
        tokio::spawn(async move {
            while let Some((level, line)) = received.recv().await {
                if let Err(e) = store.append_job_log(id, level, &line, now()).await {
                    tracing::warn!(job = id.0, error = %e, "could not write a log line");
                }
            }
        })
    };
    let (lost_tx, lost_rx) = watch::channel(false);
    let heartbeat = {
        let store = store.clone();
        let (id, name, lease, every) = (
            job.id,
            options.name.clone(),
            options.lease_secs,
            options.heartbeat,
        );
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match store.renew_lease(id, &name, now() + lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        let _ = lost_tx.send(true);
                        return;
                    }
                    Err(e) => tracing::warn!(job = id.0, error = %e, "could not renew the lease"),
                }
            }
        })
    };

    let attempt = if job.attempts > 1 {
        format!(
            " (attempt {}, taken over from a worker that stopped)",
            job.attempts
        )
    } else {
        String::new()
    };
    let _ = lines.send((
        "info",
        format!("backup started by {}{attempt}", options.name),
    ));
    let result = backup_once(
        installation,
        job,
        Arc::new(JobProgress {
            lines: lines.clone(),
        }),
    )
    .await;

    // What the job ends with: the snapshot and its counts, or the error.
    let ended: Result<(String, String), String> = match &result {
        Ok((report, commit)) => {
            if !report.incomplete.is_empty() {
                let _ = lines.send((
                    "warn",
                    format!(
                        "incomplete: {} (their previous files were kept)",
                        report.incomplete.join(", ")
                    ),
                ));
            }
            let _ = lines.send((
                "info",
                match &report.commit {
                    Some(c) => format!(
                        "snapshot {} committed: {} added, {} changed, {} removed",
                        short(c),
                        report.added,
                        report.changed,
                        report.removed
                    ),
                    None => format!("no change since snapshot {}", short(commit)),
                },
            ));
            match retention(installation, job).await {
                Ok(Some(line)) => {
                    let _ = lines.send(("info", line));
                }
                Ok(None) => {}
                Err(problem) => {
                    let _ = lines.send(("warn", format!("retention: {problem}")));
                }
            }
            let summary = serde_json::json!({
                "added": report.added,
                "changed": report.changed,
                "removed": report.removed,
                "incomplete": report.incomplete,
                "unavailable": report.unavailable,
                "seconds": report.seconds,
                "committed": report.commit.is_some(),
            });
            Ok((commit.clone(), summary.to_string()))
        }
        Err((message, _)) => {
            let _ = lines.send(("error", format!("backup failed: {message}")));
            Err(message.clone())
        }
    };
    heartbeat.abort();
    drop(lines);
    let _ = writer.await;

    let requests = match &result {
        Ok((report, _)) => report.requests.requests,
        Err((_, requests)) => *requests,
    };
    let okta_requests = i64::try_from(requests).unwrap_or(i64::MAX);
    let outcome = match &ended {
        Ok((commit, summary)) => JobOutcome::Succeeded {
            commit,
            summary,
            okta_requests,
        },
        Err(error) => JobOutcome::Failed {
            error,
            okta_requests,
        },
    };
    let finished = store
        .finish_job(job.id, &options.name, &outcome, now())
        .await?;
    if !finished || *lost_rx.borrow() {
        tracing::warn!(job = job.id.0, worker = %options.name, "the lease ran out: another worker took this job over");
    }
    Ok(())
}

/// Applies the team plan's retention to the connection's snapshots after a backup; the log
/// line when snapshots were removed.
async fn retention(installation: &Installation, job: &Job) -> Result<Option<String>, String> {
    let plan = installation
        .store
        .team(job.team)
        .await
        .map_err(|e| e.to_string())?
        .plan;
    let policy = crate::ops::connections::retention_policy(&plan);
    if policy.keeps_everything() {
        return Ok(None);
    }
    let dir =
        crate::ops::connections::repository_dir(&installation.data_dir, job.team, job.connection);
    let run_id = format!("job-{}-retention", job.id.0);
    let outcome = tokio::task::spawn_blocking(move || {
        crate::snapshot::retention::apply(
            &dir,
            "main",
            policy,
            Utc::now(),
            &run_id,
            Wait::For(Duration::from_secs(600)),
        )
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    Ok((outcome.removed > 0).then(|| {
        format!(
            "retention: {} snapshot(s) removed, {} kept (the {plan} plan)",
            outcome.removed, outcome.kept
        )
    }))
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// One backup of the job's connection: the report and the snapshot it leaves (the new commit,
/// or the unchanged tip), or the error and the requests made.
async fn backup_once(
    installation: &Installation,
    job: &Job,
    progress: Arc<JobProgress>,
) -> Result<(backup::Report, String), (String, u64)> {
    let (_, connection) = installation
        .open(job.team, job.connection)
        .await
        .map_err(|e| (e.to_string(), 0))?;
    let kinds = installation.kinds(&connection);
    let now_time = Utc::now();
    let options = backup::Options {
        kinds,
        // Another process's backup of this repository (a CLI run): wait for it.
        wait: Wait::For(Duration::from_secs(600)),
        run_id: format!("job-{}-{}", job.id.0, job.attempts),
        now: now_time,
    };
    let report = backup::run(
        installation.catalogue,
        &connection,
        options,
        progress,
        |_| None,
    )
    .await
    .map_err(|e| (e.to_string(), connection.client.stats().requests))?;
    let commit = match (&report.commit, &report.parent) {
        (Some(c), _) | (None, Some(c)) => c.clone(),
        (None, None) => {
            return Err((
                "the backup made no snapshot and the branch has none".into(),
                report.requests.requests,
            ));
        }
    };
    Ok((report, commit))
}
