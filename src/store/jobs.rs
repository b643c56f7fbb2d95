//! The job queue: backups asked for (Run Backup Now, or a schedule), claimed by one worker at a
//! time under a lease that the worker renews while it runs. A worker that dies stops renewing;
//! once its lease has run out another worker takes the job over. One backup of a connection runs
//! at a time (a unique index over running jobs); every job ends `succeeded` with its commit or
//! `failed` with its error, written only by the worker that holds it.
//!
//! On PostgreSQL the claim skips rows other workers are claiming (`FOR UPDATE SKIP LOCKED`); on
//! SQLite the single writer makes the one-statement claim atomic.

use super::accounts::{TeamId, UserId};
use super::connections::ConnectionId;
use super::{Pool, Store, StoreError, is_unique_violation, on_pool};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(pub i64);

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<JobStatus> {
        [
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Succeeded,
            JobStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    pub fn is_finished(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Failed)
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: JobId,
    pub team: TeamId,
    pub connection: ConnectionId,
    /// `backup`.
    pub kind: String,
    pub status: JobStatus,
    pub requested_by: Option<UserId>,
    /// `manual` or `schedule`.
    pub origin: String,
    pub queued_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub worker: Option<String>,
    pub attempts: i64,
    /// The snapshot commit a succeeded backup made (or found unchanged).
    pub commit_id: Option<String>,
    /// JSON counts of a succeeded backup.
    pub summary: Option<String>,
    pub error: Option<String>,
}

/// How a job ended.
#[derive(Debug, Clone, Copy)]
pub enum JobOutcome<'a> {
    Succeeded {
        /// The snapshot commit the backup made, or the one it found unchanged.
        commit: &'a str,
        /// JSON counts.
        summary: &'a str,
        okta_requests: i64,
    },
    Failed {
        error: &'a str,
        okta_requests: i64,
    },
}

/// Jobs of one status, for `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobMetrics {
    pub status: String,
    pub jobs: i64,
    /// Seconds the finished ones ran, summed.
    pub seconds: i64,
    pub okta_requests: i64,
}

/// One line of a job's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub id: i64,
    pub at: i64,
    pub level: String,
    pub line: String,
}

type Row = (
    i64,
    i64,
    i64,
    String,
    String,
    Option<i64>,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn from_row(row: Row) -> Result<Job, StoreError> {
    let (
        id,
        team,
        connection,
        kind,
        status,
        requested_by,
        origin,
        queued_at,
        started_at,
        finished_at,
        worker,
        attempts,
        commit_id,
        summary,
        error,
    ) = row;
    let status = JobStatus::parse(&status).ok_or_else(|| StoreError::NotFound {
        what: format!("valid status for job {id} (found `{status}`)"),
    })?;
    Ok(Job {
        id: JobId(id),
        team: TeamId(team),
        connection: ConnectionId(connection),
        kind,
        status,
        requested_by: requested_by.map(UserId),
        origin,
        queued_at,
        started_at,
        finished_at,
        worker,
        attempts,
        commit_id,
        summary,
        error,
    })
}

/// The columns in `Row`'s order, as a literal so every query stays a `&'static str`.
macro_rules! job_columns {
    () => {
        "id, team_id, connection_id, kind, status, requested_by, origin, queued_at, started_at, \
         finished_at, worker, attempts, commit_id, summary, error"
    };
}

/// The claim: the oldest queued job of a connection with nothing running, or a running job whose
/// lease has run out. `$1` worker, `$2` now, `$3` lease end.
macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE jobs SET status = 'running', worker = $1, lease_until = $3, \
             attempts = attempts + 1, started_at = COALESCE(started_at, $2) \
             WHERE id = (SELECT j.id FROM jobs j WHERE \
             (j.status = 'queued' AND NOT EXISTS (SELECT 1 FROM jobs r WHERE \
             r.connection_id = j.connection_id AND r.status = 'running')) \
             OR (j.status = 'running' AND j.lease_until < $2) \
             ORDER BY j.queued_at, j.id LIMIT 1",
            $lock,
            ") RETURNING ",
            job_columns!()
        )
    };
}

impl Store {
    /// Queues a backup of the team's connection, unless one is already queued or running: then
    /// that job, and `false`.
    pub async fn enqueue_backup(
        &self,
        team: TeamId,
        connection: ConnectionId,
        requested_by: Option<UserId>,
        origin: &str,
        now: i64,
    ) -> Result<(Job, bool), StoreError> {
        let pending = concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE team_id = $1 AND connection_id = $2 \
             AND status IN ('queued', 'running') ORDER BY id LIMIT 1"
        );
        let found: Option<Row> = on_pool!(&self.pool, |p| sqlx::query_as(pending)
            .bind(team.0)
            .bind(connection.0)
            .fetch_optional(p)
            .await)
        .map_err(self.query_error(format!(
            "look for a pending backup of connection {}",
            connection.0
        )))?;
        if let Some(row) = found {
            return Ok((from_row(row)?, false));
        }
        let insert = concat!(
            "INSERT INTO jobs (team_id, connection_id, kind, status, requested_by, origin, \
             queued_at) VALUES ($1, $2, 'backup', 'queued', $3, $4, $5) RETURNING ",
            job_columns!()
        );
        let row: Row = on_pool!(&self.pool, |p| sqlx::query_as(insert)
            .bind(team.0)
            .bind(connection.0)
            .bind(requested_by.map(|u| u.0))
            .bind(origin)
            .bind(now)
            .fetch_one(p)
            .await)
        .map_err(self.query_error(format!("queue a backup of connection {}", connection.0)))?;
        Ok((from_row(row)?, true))
    }

    /// Claims the next job for `worker` with a lease until `now + lease_secs`; `None` when
    /// there is nothing to do.
    pub async fn claim_job(
        &self,
        worker: &str,
        now: i64,
        lease_secs: i64,
    ) -> Result<Option<Job>, StoreError> {
        let sql = match &self.pool {
            Pool::Sqlite(_) => claim_sql!(""),
            Pool::Postgres(_) => claim_sql!(" FOR UPDATE SKIP LOCKED"),
        };
        let claimed: Result<Option<Row>, sqlx::Error> =
            on_pool!(&self.pool, |p| sqlx::query_as(sql)
                .bind(worker)
                .bind(now)
                .bind(now + lease_secs)
                .fetch_optional(p)
                .await);
        match claimed {
            Ok(row) => row.map(from_row).transpose(),
            // Another worker started a job of the same connection at the same moment: that one
            // runs, this one stays queued.
            Err(e) if is_unique_violation(&e) => Ok(None),
            Err(e) => Err(self.query_error("claim a job")(e)),
        }
    }

    /// Renews `worker`'s lease on `job`; `false` when the worker no longer holds it.
    pub async fn renew_lease(
        &self,
        job: JobId,
        worker: &str,
        until: i64,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE jobs SET lease_until = $1 WHERE id = $2 AND worker = $3 \
                   AND status = 'running'";
        let done = on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(until)
            .bind(job.0)
            .bind(worker)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(self.query_error(format!("renew the lease of job {}", job.0)))?;
        Ok(done == 1)
    }

    /// Ends `job` as `worker` holds it: succeeded with its commit and summary, or failed with
    /// its error. `false` (and nothing written) when the worker no longer holds it.
    pub async fn finish_job(
        &self,
        job: JobId,
        worker: &str,
        outcome: &JobOutcome<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (status, commit, summary, error, requests) = match *outcome {
            JobOutcome::Succeeded {
                commit,
                summary,
                okta_requests,
            } => (
                JobStatus::Succeeded,
                Some(commit),
                Some(summary),
                None,
                okta_requests,
            ),
            JobOutcome::Failed {
                error,
                okta_requests,
            } => (JobStatus::Failed, None, None, Some(error), okta_requests),
        };
        let sql = "UPDATE jobs SET status = $1, commit_id = $2, summary = $3, error = $4, \
                   finished_at = $5, lease_until = NULL, okta_requests = $6 \
                   WHERE id = $7 AND worker = $8 AND status = 'running'";
        let done = on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(status.as_str())
            .bind(commit)
            .bind(summary)
            .bind(error)
            .bind(now)
            .bind(requests)
            .bind(job.0)
            .bind(worker)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(self.query_error(format!("finish job {}", job.0)))?;
        Ok(done == 1)
    }

    /// The team's job `id`.
    pub async fn job(&self, team: TeamId, id: JobId) -> Result<Option<Job>, StoreError> {
        let sql = concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE team_id = $1 AND id = $2"
        );
        let row: Option<Row> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(team.0)
            .bind(id.0)
            .fetch_optional(p)
            .await)
        .map_err(self.query_error(format!("read job {}", id.0)))?;
        row.map(from_row).transpose()
    }

    /// The newest job of each of the team's connections that has one (one query, for the
    /// connections list).
    pub async fn last_jobs(
        &self,
        team: TeamId,
    ) -> Result<std::collections::HashMap<ConnectionId, Job>, StoreError> {
        let sql = concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE id IN (SELECT MAX(id) FROM jobs WHERE team_id = $1 \
             GROUP BY connection_id)"
        );
        let rows: Vec<Row> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(team.0)
            .fetch_all(p)
            .await)
        .map_err(self.query_error(format!("read the last backups of team {}", team.0)))?;
        rows.into_iter()
            .map(|row| from_row(row).map(|job| (job.connection, job)))
            .collect()
    }

    /// The newest `limit` jobs of the team's connection, newest first.
    pub async fn jobs_of_connection(
        &self,
        team: TeamId,
        connection: ConnectionId,
        limit: i64,
    ) -> Result<Vec<Job>, StoreError> {
        let sql = concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE team_id = $1 AND connection_id = $2 ORDER BY id DESC LIMIT $3"
        );
        let rows: Vec<Row> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(team.0)
            .bind(connection.0)
            .bind(limit)
            .fetch_all(p)
            .await)
        .map_err(self.query_error(format!("list the jobs of connection {}", connection.0)))?;
        rows.into_iter().map(from_row).collect()
    }

    /// Per status, over all teams: jobs, seconds the finished ones ran, and Okta requests
    /// (for `/metrics`).
    pub async fn job_metrics(&self) -> Result<Vec<JobMetrics>, StoreError> {
        let sql = "SELECT status, COUNT(*), \
                   CAST(COALESCE(SUM(finished_at - started_at), 0) AS BIGINT), \
                   CAST(COALESCE(SUM(okta_requests), 0) AS BIGINT) \
                   FROM jobs GROUP BY status ORDER BY status";
        let rows: Vec<(String, i64, i64, i64)> =
            on_pool!(&self.pool, |p| sqlx::query_as(sql).fetch_all(p).await)
                .map_err(self.query_error("count the jobs"))?;
        Ok(rows
            .into_iter()
            .map(|(status, jobs, seconds, okta_requests)| JobMetrics {
                status,
                jobs,
                seconds,
                okta_requests,
            })
            .collect())
    }

    /// Appends a line to the log of `job`.
    pub async fn append_job_log(
        &self,
        job: JobId,
        level: &str,
        line: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO job_logs (job_id, at, level, line) VALUES ($1, $2, $3, $4)";
        on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(job.0)
            .bind(now)
            .bind(level)
            .bind(line)
            .execute(p)
            .await
            .map(|_| ()))
        .map_err(self.query_error(format!("write the log of job {}", job.0)))
    }

    /// The lines of the team's job `job` after line id `after`, oldest first.
    pub async fn job_log(
        &self,
        team: TeamId,
        job: JobId,
        after: i64,
    ) -> Result<Vec<LogLine>, StoreError> {
        let sql = "SELECT job_logs.id, job_logs.at, job_logs.level, job_logs.line FROM job_logs \
                   JOIN jobs ON jobs.id = job_logs.job_id \
                   WHERE jobs.team_id = $1 AND job_logs.job_id = $2 AND job_logs.id > $3 \
                   ORDER BY job_logs.id";
        let rows: Vec<(i64, i64, String, String)> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(team.0)
            .bind(job.0)
            .bind(after)
            .fetch_all(p)
            .await)
        .map_err(self.query_error(format!("read the log of job {}", job.0)))?;
        Ok(rows
            .into_iter()
            .map(|(id, at, level, line)| LogLine {
                id,
                at,
                level,
                line,
            })
            .collect())
    }
}
