//! What pages and the JSON API show of the store's rows: the same shapes for both, with times
//! as UTC text and without anything secret.

use serde::Serialize;

use crate::server::role::Permission;
use crate::store::accounts::User;
use crate::store::audit::AuditEvent;
use crate::store::connections::OrgConnection;
use crate::store::jobs::{Job, LogLine};

use super::access::Member;

/// Unix seconds as `2026-11-23 19:48 UTC`.
pub fn time_text(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| unix.to_string())
}

#[derive(Debug, Serialize)]
pub struct MemberView {
    pub email: String,
    pub role: String,
    pub team: String,
    pub plan: String,
    /// Only in pages (forms carry it); the API reads it from `/api/v1/me`.
    pub csrf: String,
    pub may_audit: bool,
    pub may_members: bool,
    pub may_manage: bool,
    pub may_run: bool,
    pub may_contents: bool,
}

impl MemberView {
    pub fn of(member: &Member) -> MemberView {
        MemberView {
            email: member.user.email.to_string(),
            role: member.user.role.to_string(),
            team: member.team.name.clone(),
            plan: member.team.plan.clone(),
            csrf: member.csrf.clone(),
            may_audit: member.may(Permission::SeeAuditTrail),
            may_members: member.may(Permission::ManageMembers),
            may_manage: member.may(Permission::ManageConnections),
            may_run: member.may(Permission::RunBackups),
            may_contents: member.may(Permission::SeeBackupContents),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ConnectionView {
    pub id: i64,
    pub name: String,
    pub okta_domain: String,
    pub client_id: String,
    pub auth_method: &'static str,
    pub created: String,
    pub updated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<JobView>,
}

/// The team's connections, each with its newest backup.
pub async fn connection_list(
    store: &crate::store::Store,
    team: crate::store::accounts::TeamId,
) -> Result<Vec<ConnectionView>, crate::store::StoreError> {
    let last = store.last_jobs(team).await?;
    Ok(store
        .connections(team)
        .await?
        .iter()
        .map(|c| ConnectionView::of(c, last.get(&c.id)))
        .collect())
}

/// A form's or query's `repository` choice when deleting a connection: keep it (moved aside)
/// or remove it.
pub fn keep_repository(text: &str) -> Result<bool, super::error::ServerError> {
    match text {
        "keep" => Ok(true),
        "remove" => Ok(false),
        other => Err(super::error::ServerError::bad_request(format!(
            "repository: `{other}` is not keep or remove"
        ))),
    }
}

/// A form's `role` field.
pub fn role_field(text: &str) -> Result<crate::server::role::Role, super::error::ServerError> {
    text.parse().map_err(|e| {
        super::error::ServerError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            format!("role: {e}"),
        )
    })
}

impl ConnectionView {
    pub fn of(connection: &OrgConnection, last: Option<&Job>) -> ConnectionView {
        ConnectionView {
            id: connection.id.0,
            name: connection.name.clone(),
            okta_domain: connection.okta_domain.clone(),
            client_id: connection.client_id.clone(),
            auth_method: connection.auth_method.as_str(),
            created: time_text(connection.created_at),
            updated: time_text(connection.updated_at),
            last: last.map(JobView::of),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct JobView {
    pub id: i64,
    pub connection: i64,
    pub status: &'static str,
    /// `manual` or `schedule`.
    pub origin: String,
    pub queued: String,
    /// When it finished, or when it was queued.
    pub when: String,
    pub duration: String,
    pub seconds: Option<i64>,
    /// `+3 ~1 −0` from the summary.
    pub counts: String,
    pub commit: String,
    pub attempts: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<serde_json::Value>,
}

impl JobView {
    pub fn of(job: &Job) -> JobView {
        let seconds = job.started_at.zip(job.finished_at).map(|(s, f)| f - s);
        let summary: Option<serde_json::Value> = job
            .summary
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok());
        let counts = summary
            .as_ref()
            .map(|s| {
                format!(
                    "+{} ~{} −{}",
                    s["added"].as_u64().unwrap_or(0),
                    s["changed"].as_u64().unwrap_or(0),
                    s["removed"].as_u64().unwrap_or(0)
                )
            })
            .unwrap_or_default();
        JobView {
            id: job.id.0,
            connection: job.connection.0,
            status: job.status.as_str(),
            origin: job.origin.clone(),
            queued: time_text(job.queued_at),
            when: time_text(job.finished_at.unwrap_or(job.queued_at)),
            duration: seconds.map(|s| format!("{s} s")).unwrap_or_default(),
            seconds,
            counts,
            commit: job
                .commit_id
                .as_deref()
                .map(|c| c.get(..12).unwrap_or(c).to_string())
                .unwrap_or_default(),
            attempts: job.attempts,
            error: job.error.clone(),
            summary,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct LogLineView {
    pub id: i64,
    pub at: String,
    pub level: String,
    pub line: String,
}

impl LogLineView {
    pub fn of(line: &LogLine) -> LogLineView {
        LogLineView {
            id: line.id,
            at: chrono::DateTime::from_timestamp(line.at, 0)
                .map(|t| t.format("%H:%M:%S").to_string())
                .unwrap_or_default(),
            level: line.level.clone(),
            line: line.line.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AuditView {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub ip: String,
}

impl AuditView {
    pub fn of(event: &AuditEvent) -> AuditView {
        AuditView {
            at: time_text(event.at),
            actor: event.entry.actor.clone(),
            action: event.entry.action.clone(),
            target: event.entry.target.clone(),
            detail: event.entry.detail.clone(),
            ip: event.entry.ip.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub role: String,
    pub active: bool,
}

impl UserView {
    pub fn of(user: &User) -> UserView {
        UserView {
            id: user.id.0,
            email: user.email.to_string(),
            role: user.role.to_string(),
            active: user.active,
        }
    }
}
