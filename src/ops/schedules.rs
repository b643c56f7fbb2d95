//! A connection's backup schedule and its team's time zone, as the server sets them: a schedule
//! that would start backups faster than the connection's last full backup took is refused with
//! both durations; changes are audited.

use chrono::Utc;
use serde::Serialize;

use crate::jobs::schedule::{self, Every, ScheduleError, duration_text};
use crate::ops::connections::{Actor, ConnectionsError, Installation};
use crate::store::accounts::TeamId;
use crate::store::connections::ConnectionId;
use crate::store::schedules::ScheduleRow;
use crate::store::{StoreError, now};

/// Why a schedule or time zone was refused.
#[derive(Debug, thiserror::Error)]
pub enum SchedulesError {
    #[error(transparent)]
    Invalid(#[from] ScheduleError),
    #[error(
        "every: {every} starts a backup every {interval}, but the last full backup of {connection} (job {job}) took {took}: choose a longer interval"
    )]
    TooFrequent {
        every: String,
        interval: String,
        connection: String,
        job: i64,
        took: String,
    },
    #[error(transparent)]
    Connection(#[from] ConnectionsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A schedule as pages and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleView {
    /// `hourly`, `daily`, `weekly`.
    pub every: &'static str,
    /// `daily at 02:00`.
    pub description: String,
    pub time_zone: String,
    /// The next run, in the team's time zone (`2026-11-24 02:00 CET`).
    pub next_run: String,
    pub next_run_at: i64,
}

impl Installation {
    /// The team's time zone, parsed (an unknown stored name reads as UTC).
    async fn zone(&self, team: TeamId) -> Result<(String, chrono_tz::Tz), StoreError> {
        let name = self.store.team_time_zone(team).await?;
        let tz = schedule::time_zone(&name).unwrap_or(chrono_tz::UTC);
        Ok((name, tz))
    }

    fn view(row: &ScheduleRow, zone: &str, tz: chrono_tz::Tz) -> Option<ScheduleView> {
        let every = Every::from_row(&row.every, row.minute, row.hour, row.weekday)?;
        let next = chrono::DateTime::from_timestamp(row.next_run_at, 0)?.with_timezone(&tz);
        Some(ScheduleView {
            every: every.to_row().0,
            description: every.describe(),
            time_zone: zone.to_string(),
            next_run: next.format("%Y-%m-%d %H:%M %Z").to_string(),
            next_run_at: row.next_run_at,
        })
    }

    /// The schedule of the team's connection, if any.
    pub async fn schedule(
        &self,
        team: TeamId,
        id: ConnectionId,
    ) -> Result<Option<ScheduleView>, SchedulesError> {
        self.connection(team, id).await?;
        let Some(row) = self.store.schedule(team, id).await? else {
            return Ok(None);
        };
        let (zone, tz) = self.zone(team).await?;
        Ok(Self::view(&row, &zone, tz))
    }

    /// The last full backup (every kind read) of a connection: its job and seconds.
    async fn last_full_backup(
        &self,
        team: TeamId,
        id: ConnectionId,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let jobs = self.store.succeeded_jobs(team, id, 50).await?;
        Ok(jobs.into_iter().find_map(|(job, seconds, summary)| {
            let summary: serde_json::Value = serde_json::from_str(summary.as_deref()?).ok()?;
            let full = summary["incomplete"].as_array().is_some_and(Vec::is_empty);
            full.then_some((job, seconds))
        }))
    }

    /// Sets a connection's schedule from a form (`every`, `at`, `weekday`).
    pub async fn set_schedule(
        &self,
        actor: &Actor,
        id: ConnectionId,
        every: &str,
        at: &str,
        weekday: &str,
    ) -> Result<ScheduleView, SchedulesError> {
        let team = actor.user.team;
        let connection = self.connection(team, id).await?;
        let every = Every::parse(every, at, weekday)?;
        if let Some((job, took)) = self.last_full_backup(team, id).await?
            && took > every.interval_secs()
        {
            return Err(SchedulesError::TooFrequent {
                every: every.describe(),
                interval: duration_text(every.interval_secs()),
                connection: connection.name,
                job,
                took: duration_text(took),
            });
        }
        let (zone, tz) = self.zone(team).await?;
        let next = every.next_after(Utc::now(), tz).timestamp();
        let (name, minute, hour, weekday) = every.to_row();
        let row = ScheduleRow {
            connection: id,
            team,
            every: name.to_string(),
            minute,
            hour,
            weekday,
            next_run_at: next,
        };
        self.store.set_schedule(&row).await?;
        self.store
            .audit(
                team,
                &actor.entry(
                    "schedule.set",
                    format!("connection {} ({})", id.0, connection.name),
                    format!("{} ({zone})", every.describe()),
                ),
                now(),
            )
            .await?;
        Self::view(&row, &zone, tz).ok_or_else(|| {
            SchedulesError::Store(StoreError::NotFound {
                what: "the schedule just written".into(),
            })
        })
    }

    /// Turns a connection's schedule off; `false` when it had none.
    pub async fn clear_schedule(
        &self,
        actor: &Actor,
        id: ConnectionId,
    ) -> Result<bool, SchedulesError> {
        let team = actor.user.team;
        let connection = self.connection(team, id).await?;
        let removed = self.store.delete_schedule(team, id).await?;
        if removed {
            self.store
                .audit(
                    team,
                    &actor.entry(
                        "schedule.clear",
                        format!("connection {} ({})", id.0, connection.name),
                        String::new(),
                    ),
                    now(),
                )
                .await?;
        }
        Ok(removed)
    }

    /// Sets the actor's team's time zone; every schedule's next run moves to the new zone.
    pub async fn set_time_zone(&self, actor: &Actor, name: &str) -> Result<String, SchedulesError> {
        let team = actor.user.team;
        let tz = schedule::time_zone(name)?;
        let name = tz.name().to_string();
        self.store.set_team_time_zone(team, &name).await?;
        for connection in self.store.connections(team).await? {
            if let Some(mut row) = self.store.schedule(team, connection.id).await?
                && let Some(every) = Every::from_row(&row.every, row.minute, row.hour, row.weekday)
            {
                row.next_run_at = every.next_after(Utc::now(), tz).timestamp();
                self.store.set_schedule(&row).await?;
            }
        }
        self.store
            .audit(
                team,
                &actor.entry("team.time_zone", "team".into(), name.clone()),
                now(),
            )
            .await?;
        Ok(name)
    }
}
