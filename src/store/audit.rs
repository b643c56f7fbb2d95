//! The audit trail: every action a person takes in the server, with who (the user, and their
//! email at the time, kept if the user is later removed), what, on what, and from where.
//! Written by `ops` next to the change it records; read per team.
//!
//! Must not record a secret: `detail` is what the person changed, never a credential.

use super::accounts::{TeamId, UserId};
use super::{Store, StoreError, on_pool};

/// One action as it is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub user: Option<UserId>,
    /// The person's email (or `system` for the scheduler).
    pub actor: String,
    /// A dotted verb: `sign_in`, `connection.create`, `backup.run` …
    pub action: String,
    /// What it was done to: `connection 3 (Production)`.
    pub target: String,
    pub detail: String,
    /// The client's address as the server saw it.
    pub ip: String,
}

/// A recorded action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: i64,
    pub entry: AuditEntry,
    pub at: i64,
}

impl Store {
    /// Records `entry` for `team` at `at`.
    pub async fn audit(&self, team: TeamId, entry: &AuditEntry, at: i64) -> Result<(), StoreError> {
        let sql = "INSERT INTO audit_events (team_id, user_id, actor, action, target, detail, ip, at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(team.0)
            .bind(entry.user.map(|u| u.0))
            .bind(&entry.actor)
            .bind(&entry.action)
            .bind(&entry.target)
            .bind(&entry.detail)
            .bind(&entry.ip)
            .bind(at)
            .execute(p)
            .await
            .map(|_| ()))
        .map_err(self.query_error(format!("record `{}` in the audit trail", entry.action)))
    }

    /// The team's newest `limit` actions, newest first.
    pub async fn audit_events(
        &self,
        team: TeamId,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let sql = "SELECT id, user_id, actor, action, target, detail, ip, at FROM audit_events \
                   WHERE team_id = $1 ORDER BY at DESC, id DESC LIMIT $2";
        type Row = (
            i64,
            Option<i64>,
            String,
            String,
            String,
            String,
            String,
            i64,
        );
        let rows: Vec<Row> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(team.0)
            .bind(limit)
            .fetch_all(p)
            .await)
        .map_err(self.query_error(format!("read the audit trail of team {}", team.0)))?;
        Ok(rows
            .into_iter()
            .map(
                |(id, user, actor, action, target, detail, ip, at)| AuditEvent {
                    id,
                    entry: AuditEntry {
                        user: user.map(UserId),
                        actor,
                        action,
                        target,
                        detail,
                        ip,
                    },
                    at,
                },
            )
            .collect())
    }
}
