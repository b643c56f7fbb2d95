//! The scheduler: queues a backup for every schedule whose time has come, then moves the
//! schedule to its next run. Runs in every server and worker process; the compare-and-swap on
//! the next run makes each run queued once. A run missed while no process was up is queued once,
//! not once per missed interval.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::jobs::schedule::{self, Every};
use crate::ops::connections::Installation;
use crate::store::StoreError;

/// Queues the backups due at `now`; the number queued.
pub async fn tick(installation: &Installation, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let store = &installation.store;
    let mut queued = 0;
    for row in store.due_schedules(now.timestamp()).await? {
        let Some(every) = Every::from_row(&row.every, row.minute, row.hour, row.weekday) else {
            tracing::warn!(connection = row.connection.0, every = %row.every, "unreadable schedule skipped");
            continue;
        };
        let zone = store.team_time_zone(row.team).await?;
        let tz = schedule::time_zone(&zone).unwrap_or(chrono_tz::UTC);
        let next = every.next_after(now, tz).timestamp();
        if !store
            .advance_schedule(row.connection, row.next_run_at, next)
            .await?
        {
            continue;
        }
        let (_, new) = store
            .enqueue_backup(row.team, row.connection, None, "schedule", now.timestamp())
            .await?;
        if new {
            queued += 1;
        }
    }
    Ok(queued)
}

/// Ticks every `every` until `stop` turns true.
pub async fn run(installation: Installation, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        if let Err(e) = tick(&installation, Utc::now()).await {
            tracing::warn!(error = %e, "the scheduler could not queue due backups");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
    }
}
