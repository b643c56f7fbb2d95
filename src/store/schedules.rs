//! Connections' backup schedules and teams' time zones. A due schedule is moved to its next run
//! by compare-and-swap on `next_run_at`, so when several processes run the scheduler each run is
//! queued once.

use super::accounts::TeamId;
use super::connections::ConnectionId;
use super::{Store, StoreError, now, on_pool};

/// A schedule as stored (`every`, `minute`, `hour`, `weekday` as `jobs::schedule::Every` writes
/// them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRow {
    pub connection: ConnectionId,
    pub team: TeamId,
    pub every: String,
    pub minute: i64,
    pub hour: i64,
    pub weekday: i64,
    pub next_run_at: i64,
}

type Row = (i64, i64, String, i64, i64, i64, i64);

fn from_row((connection, team, every, minute, hour, weekday, next_run_at): Row) -> ScheduleRow {
    ScheduleRow {
        connection: ConnectionId(connection),
        team: TeamId(team),
        every,
        minute,
        hour,
        weekday,
        next_run_at,
    }
}

impl Store {
    /// Sets (or replaces) the schedule of the team's connection.
    pub async fn set_schedule(&self, row: &ScheduleRow) -> Result<(), StoreError> {
        let sql = "INSERT INTO schedules (connection_id, team_id, every, minute, hour, weekday, \
                   next_run_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                   ON CONFLICT (connection_id) DO UPDATE SET every = excluded.every, \
                   minute = excluded.minute, hour = excluded.hour, weekday = excluded.weekday, \
                   next_run_at = excluded.next_run_at, updated_at = excluded.updated_at";
        on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(row.connection.0)
            .bind(row.team.0)
            .bind(&row.every)
            .bind(row.minute)
            .bind(row.hour)
            .bind(row.weekday)
            .bind(row.next_run_at)
            .bind(now())
            .execute(p)
            .await
            .map(|_| ()))
        .map_err(self.query_error(format!(
            "set the schedule of connection {}",
            row.connection.0
        )))
    }

    /// The schedule of the team's connection, if any.
    pub async fn schedule(
        &self,
        team: TeamId,
        connection: ConnectionId,
    ) -> Result<Option<ScheduleRow>, StoreError> {
        let sql = "SELECT connection_id, team_id, every, minute, hour, weekday, next_run_at \
                   FROM schedules WHERE team_id = $1 AND connection_id = $2";
        let row: Option<Row> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(team.0)
            .bind(connection.0)
            .fetch_optional(p)
            .await)
        .map_err(self.query_error(format!("read the schedule of connection {}", connection.0)))?;
        Ok(row.map(from_row))
    }

    /// Removes the schedule of the team's connection; `false` when there was none.
    pub async fn delete_schedule(
        &self,
        team: TeamId,
        connection: ConnectionId,
    ) -> Result<bool, StoreError> {
        let sql = "DELETE FROM schedules WHERE team_id = $1 AND connection_id = $2";
        let done = on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(team.0)
            .bind(connection.0)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(self.query_error(format!(
            "remove the schedule of connection {}",
            connection.0
        )))?;
        Ok(done > 0)
    }

    /// Schedules whose next run is at or before `now`, over all teams.
    pub async fn due_schedules(&self, now: i64) -> Result<Vec<ScheduleRow>, StoreError> {
        let sql = "SELECT connection_id, team_id, every, minute, hour, weekday, next_run_at \
                   FROM schedules WHERE next_run_at <= $1 ORDER BY next_run_at";
        let rows: Vec<Row> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(now)
            .fetch_all(p)
            .await)
        .map_err(self.query_error("read the due schedules"))?;
        Ok(rows.into_iter().map(from_row).collect())
    }

    /// Moves a schedule from the run `from` to `to`; `false` when another process did first.
    pub async fn advance_schedule(
        &self,
        connection: ConnectionId,
        from: i64,
        to: i64,
    ) -> Result<bool, StoreError> {
        let sql =
            "UPDATE schedules SET next_run_at = $1 WHERE connection_id = $2 AND next_run_at = $3";
        let done = on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(to)
            .bind(connection.0)
            .bind(from)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(self.query_error(format!(
            "advance the schedule of connection {}",
            connection.0
        )))?;
        Ok(done == 1)
    }

    /// The team's time zone (an IANA name; `UTC` until set).
    pub async fn team_time_zone(&self, team: TeamId) -> Result<String, StoreError> {
        let sql = "SELECT time_zone FROM teams WHERE id = $1";
        let row: Option<(String,)> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(team.0)
            .fetch_optional(p)
            .await)
        .map_err(self.query_error(format!("read the time zone of team {}", team.0)))?;
        Ok(row.map(|(tz,)| tz).unwrap_or_else(|| "UTC".into()))
    }

    /// Sets the team's time zone.
    pub async fn set_team_time_zone(&self, team: TeamId, zone: &str) -> Result<(), StoreError> {
        let sql = "UPDATE teams SET time_zone = $1 WHERE id = $2";
        on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(zone)
            .bind(team.0)
            .execute(p)
            .await
            .map(|_| ()))
        .map_err(self.query_error(format!("set the time zone of team {}", team.0)))
    }

    /// The newest succeeded jobs' `(job id, seconds, summary)` of the team's connection, newest
    /// first (the caller picks the last full backup from the summaries).
    pub async fn succeeded_jobs(
        &self,
        team: TeamId,
        connection: ConnectionId,
        limit: i64,
    ) -> Result<Vec<(i64, i64, Option<String>)>, StoreError> {
        let sql = "SELECT id, COALESCE(finished_at - started_at, 0), summary FROM jobs \
                   WHERE team_id = $1 AND connection_id = $2 AND status = 'succeeded' \
                   ORDER BY id DESC LIMIT $3";
        on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(team.0)
            .bind(connection.0)
            .bind(limit)
            .fetch_all(p)
            .await)
        .map_err(self.query_error(format!("read the backups of connection {}", connection.0)))
    }
}
