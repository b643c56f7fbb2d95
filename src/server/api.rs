//! The JSON API (`/api/v1/…`), `/healthz` and `/metrics`. Same access table and the same `ops`
//! as the pages; state-changing calls send the session's CSRF token in `X-CSRF-Token` (read it
//! from `GET /api/v1/me`). Errors are `{"error": {"status": …, "message": …}}`.

use std::fmt::Write as _;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::access::Member;
use super::error::ServerError;
use super::state::AppState;
use super::views::{AuditView, ConnectionView, JobView, LogLineView, MemberView};
use crate::ops::connections::ConnectionInput;
use crate::store::connections::ConnectionId;
use crate::store::jobs::{Job, JobId};
use crate::store::now;

/// How many of a connection's backups its page and `/jobs` list.
pub const JOBS_SHOWN: i64 = 1000;

fn api<T>(result: Result<T, impl Into<ServerError>>) -> Result<T, ServerError> {
    result.map_err(|e| e.into().with_json(true))
}

pub async fn healthz(State(state): State<AppState>) -> Response {
    // Healthy = the database answers.
    match state.installation.store.ping().await {
        Ok(_) => (StatusCode::OK, Json(json!({ "status": "ok" }))).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "problem": "the database does not answer" })),
            )
                .into_response()
        }
    }
}

/// Prometheus text: jobs per status, the seconds they ran, the Okta requests they made.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ServerError> {
    let rows = state.installation.store.job_metrics().await?;
    let mut out = String::new();
    let families = [
        ("butterfly_jobs", "Backup jobs by status.", "gauge"),
        (
            "butterfly_job_seconds_total",
            "Seconds finished backup jobs ran, by status.",
            "counter",
        ),
        (
            "butterfly_okta_requests_total",
            "Requests finished backup jobs sent to Okta, by status.",
            "counter",
        ),
    ];
    for (index, (name, help, kind)) in families.iter().enumerate() {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for status in ["queued", "running", "succeeded", "failed"] {
            let row = rows.iter().find(|r| r.status == status);
            let value = row.map_or(0, |r| match index {
                0 => r.jobs,
                1 => r.seconds,
                _ => r.okta_requests,
            });
            let _ = writeln!(out, "{name}{{status=\"{status}\"}} {value}");
        }
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response())
}

pub async fn me(member: Member) -> Json<MemberView> {
    Json(MemberView::of(&member))
}

pub async fn connections(
    State(state): State<AppState>,
    member: Member,
) -> Result<Json<Value>, ServerError> {
    let views =
        api(super::views::connection_list(&state.installation.store, member.user.team).await)?;
    Ok(Json(json!({ "connections": views })))
}

#[derive(Debug, Deserialize, Default)]
pub struct ConnectionBody {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub okta_domain: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub auth_method: Option<String>,
    /// The client secret or private key; never returned.
    #[serde(default)]
    pub credential: Option<String>,
}

pub async fn create_connection(
    State(state): State<AppState>,
    member: Member,
    Json(body): Json<ConnectionBody>,
) -> Result<Response, ServerError> {
    let input = ConnectionInput {
        name: body.name.unwrap_or_default(),
        okta_domain: body.okta_domain.unwrap_or_default(),
        client_id: body.client_id.unwrap_or_default(),
        auth_method: body.auth_method.unwrap_or_else(|| "client_secret".into()),
        credential: body.credential.unwrap_or_default(),
    };
    let made = api(state
        .installation
        .create_connection(&member.actor(), &input)
        .await)?;
    Ok((StatusCode::CREATED, Json(ConnectionView::of(&made, None))).into_response())
}

pub async fn connection(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> Result<Json<ConnectionView>, ServerError> {
    let team = member.user.team;
    let connection = api(state.installation.connection(team, ConnectionId(id)).await)?;
    let last = api(state
        .installation
        .store
        .jobs_of_connection(team, connection.id, 1)
        .await)?;
    Ok(Json(ConnectionView::of(&connection, last.first())))
}

pub async fn update_connection(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    Json(body): Json<ConnectionBody>,
) -> Result<Json<ConnectionView>, ServerError> {
    let before = api(state
        .installation
        .connection(member.user.team, ConnectionId(id))
        .await)?;
    // A PATCH: what the body leaves out stays as it was.
    let input = ConnectionInput {
        name: body.name.unwrap_or(before.name),
        okta_domain: body.okta_domain.unwrap_or(before.okta_domain),
        client_id: body.client_id.unwrap_or(before.client_id),
        auth_method: body
            .auth_method
            .unwrap_or_else(|| before.auth_method.as_str().to_string()),
        credential: body.credential.unwrap_or_default(),
    };
    let after = api(state
        .installation
        .update_connection(&member.actor(), ConnectionId(id), &input)
        .await)?;
    Ok(Json(ConnectionView::of(&after, None)))
}

#[derive(Debug, Deserialize, Default)]
pub struct DeleteQuery {
    /// `keep` (the default) or `remove` the org repository.
    pub repository: Option<String>,
}

pub async fn delete_connection(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    Query(query): Query<DeleteQuery>,
) -> Result<Json<Value>, ServerError> {
    let keep = super::views::keep_repository(query.repository.as_deref().unwrap_or("keep"))
        .map_err(|e| e.with_json(true))?;
    let kept = api(state
        .installation
        .delete_connection(&member.actor(), ConnectionId(id), keep)
        .await)?;
    Ok(Json(json!({
        "deleted": id,
        "repository": if kept.is_some() { "kept" } else { "removed" },
    })))
}

pub async fn test_connection(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ServerError> {
    let report = api(state
        .installation
        .test_connection(&member.actor(), ConnectionId(id))
        .await)?;
    let problems = report.problems();
    let mut value = serde_json::to_value(&report).map_err(ServerError::internal)?;
    value["problems"] = problems.into();
    Ok(Json(value))
}

/// Queues a backup of the member's team's connection (or finds the one queued or running),
/// recording it in the audit trail when new.
pub async fn queue_backup(
    state: &AppState,
    member: &Member,
    id: ConnectionId,
) -> Result<(Job, bool), ServerError> {
    let team = member.user.team;
    let connection = state.installation.connection(team, id).await?;
    let store = &state.installation.store;
    let (job, new) = store
        .enqueue_backup(team, connection.id, Some(member.user.id), "manual", now())
        .await?;
    if new {
        store
            .audit(
                team,
                &member.actor().entry(
                    "backup.run",
                    format!("connection {} ({})", connection.id.0, connection.name),
                    format!("job {}", job.id.0),
                ),
                now(),
            )
            .await?;
    }
    Ok((job, new))
}

pub async fn run_backup(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> Result<Response, ServerError> {
    let (job, new) = api(queue_backup(&state, &member, ConnectionId(id)).await)?;
    let status = if new {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({ "job": JobView::of(&job), "new": new })),
    )
        .into_response())
}

pub async fn jobs(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ServerError> {
    let team = member.user.team;
    let connection = api(state.installation.connection(team, ConnectionId(id)).await)?;
    let jobs: Vec<JobView> = api(state
        .installation
        .store
        .jobs_of_connection(team, connection.id, JOBS_SHOWN)
        .await)?
    .iter()
    .map(JobView::of)
    .collect();
    Ok(Json(json!({ "jobs": jobs })))
}

async fn team_job(state: &AppState, member: &Member, id: i64) -> Result<Job, ServerError> {
    api(state
        .installation
        .store
        .job(member.user.team, JobId(id))
        .await)?
    .ok_or_else(|| ServerError::not_found(format!("no job {id} in this team")).with_json(true))
}

pub async fn job(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> Result<Json<JobView>, ServerError> {
    Ok(Json(JobView::of(&team_job(&state, &member, id).await?)))
}

#[derive(Debug, Deserialize, Default)]
pub struct LogQuery {
    /// Only lines after this line id.
    pub after: Option<i64>,
}

pub async fn job_log(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    Query(query): Query<LogQuery>,
) -> Result<Json<Value>, ServerError> {
    let job = team_job(&state, &member, id).await?;
    let lines: Vec<LogLineView> = api(state
        .installation
        .store
        .job_log(member.user.team, job.id, query.after.unwrap_or(0))
        .await)?
    .iter()
    .map(LogLineView::of)
    .collect();
    Ok(Json(
        json!({ "status": job.status.as_str(), "lines": lines }),
    ))
}

pub async fn audit(
    State(state): State<AppState>,
    member: Member,
) -> Result<Json<Value>, ServerError> {
    let events: Vec<AuditView> = api(state
        .installation
        .store
        .audit_events(member.user.team, 500)
        .await)?
    .iter()
    .map(AuditView::of)
    .collect();
    Ok(Json(json!({ "events": events })))
}

#[derive(Debug, Deserialize, Default)]
pub struct ScheduleBody {
    /// `hourly`, `daily` or `weekly`.
    pub every: String,
    /// `HH:MM` (24-hour) in the team's time zone; `:MM` for hourly.
    pub at: String,
    /// For weekly: `monday` … `sunday`.
    #[serde(default)]
    pub weekday: String,
}

pub async fn schedule(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ServerError> {
    let view = api(state
        .installation
        .schedule(member.user.team, ConnectionId(id))
        .await)?;
    Ok(Json(json!({ "schedule": view })))
}

pub async fn set_schedule(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    Json(body): Json<ScheduleBody>,
) -> Result<Json<Value>, ServerError> {
    let view = api(state
        .installation
        .set_schedule(
            &member.actor(),
            ConnectionId(id),
            &body.every,
            &body.at,
            &body.weekday,
        )
        .await)?;
    Ok(Json(json!({ "schedule": view })))
}

pub async fn clear_schedule(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ServerError> {
    let removed = api(state
        .installation
        .clear_schedule(&member.actor(), ConnectionId(id))
        .await)?;
    Ok(Json(json!({ "schedule": null, "removed": removed })))
}

#[derive(Debug, Deserialize, Default)]
pub struct TeamBody {
    /// An IANA time zone name, in which the team's schedules run.
    pub time_zone: String,
}

pub async fn update_team(
    State(state): State<AppState>,
    member: Member,
    Json(body): Json<TeamBody>,
) -> Result<Json<Value>, ServerError> {
    let zone = api(state
        .installation
        .set_time_zone(&member.actor(), &body.time_zone)
        .await)?;
    Ok(Json(json!({ "team": member.team.name, "time_zone": zone })))
}
