//! Throttling of failed sign-ins, kept in the database so every server process shares it: per
//! subject (`email:<address>` and `ip:<address>`), failures are counted in a fixed window; at
//! the limit, sign-in is refused for that subject until the window ends, even with the right
//! password, and the person is told when to try again.

use super::{Store, StoreError, on_pool};

/// The failures a subject may have in one window.
pub const MAX_FAILURES: i64 = 5;
/// The window, in seconds.
pub const WINDOW_SECS: i64 = 15 * 60;

impl Store {
    /// When `subject` may try again, if it is locked out at `now`.
    pub async fn sign_in_locked_until(
        &self,
        subject: &str,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let sql = "SELECT window_start, failures FROM sign_in_failures WHERE subject = $1";
        let row: Option<(i64, i64)> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(subject)
            .fetch_optional(p)
            .await)
        .map_err(self.query_error("read the failed sign-ins"))?;
        Ok(row.and_then(|(start, failures)| {
            let until = start + WINDOW_SECS;
            (failures >= MAX_FAILURES && until > now).then_some(until)
        }))
    }

    /// Counts one failed sign-in of `subject` at `now` (a window that ended starts again).
    pub async fn record_sign_in_failure(&self, subject: &str, now: i64) -> Result<(), StoreError> {
        let sql = "INSERT INTO sign_in_failures (subject, window_start, failures) VALUES ($1, $2, 1) \
                   ON CONFLICT (subject) DO UPDATE SET \
                   failures = CASE WHEN sign_in_failures.window_start + $3 <= $2 THEN 1 \
                                   ELSE sign_in_failures.failures + 1 END, \
                   window_start = CASE WHEN sign_in_failures.window_start + $3 <= $2 THEN $2 \
                                       ELSE sign_in_failures.window_start END";
        on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(subject)
            .bind(now)
            .bind(WINDOW_SECS)
            .execute(p)
            .await
            .map(|_| ()))
        .map_err(self.query_error("count a failed sign-in"))
    }

    /// Forgets the failures of `subject` (after a successful sign-in).
    pub async fn clear_sign_in_failures(&self, subject: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM sign_in_failures WHERE subject = $1";
        on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(subject)
            .execute(p)
            .await
            .map(|_| ()))
        .map_err(self.query_error("clear the failed sign-ins"))
    }
}
