//! The dashboard's pages: server-rendered HTML from the templates in `templates/` (minijinja,
//! autoescaped), forms posted back with the session's CSRF token, redirects after success.
//! Every handler calls `ops` for what it does; the access check has already run.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::{Environment, Value};
use serde::Deserialize;

use super::access::{ClientIp, Member};
use super::error::ServerError;
use super::session;
use super::state::AppState;
use super::views::{AuditView, ConnectionView, JobView, LogLineView, MemberView, UserView};
use crate::ops::accounts::{self, MemberError, SignInError};
use crate::ops::connections::ConnectionInput;
use crate::server::role::Role;
use crate::store::accounts::UserId;
use crate::store::connections::ConnectionId;
use crate::store::jobs::JobId;
use crate::store::sessions::Token;

/// A template context from `name => value` pairs (or a bare `name` for a variable of that name),
/// each value serialized with serde.
#[macro_export]
#[doc(hidden)]
macro_rules! page_ctx {
    ($($key:ident $(=> $value:expr)?),* $(,)?) => {{
        let mut map = serde_json::Map::new();
        $(
            map.insert(
                stringify!($key).to_string(),
                serde_json::to_value($crate::page_ctx!(@value $key $(=> $value)?)).unwrap_or(serde_json::Value::Null),
            );
        )*
        minijinja::Value::from(minijinja::value::Serde(map))
    }};
    (@value $key:ident => $value:expr) => { &$value };
    (@value $key:ident) => { &$key };
}

/// Every template, embedded.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("sign_in.html", include_str!("../../templates/sign_in.html")),
    ("link.html", include_str!("../../templates/link.html")),
    (
        "connections.html",
        include_str!("../../templates/connections.html"),
    ),
    (
        "connection_form.html",
        include_str!("../../templates/connection_form.html"),
    ),
    (
        "connection.html",
        include_str!("../../templates/connection.html"),
    ),
    ("delete.html", include_str!("../../templates/delete.html")),
    ("job.html", include_str!("../../templates/job.html")),
    ("audit.html", include_str!("../../templates/audit.html")),
    ("members.html", include_str!("../../templates/members.html")),
    (
        "settings.html",
        include_str!("../../templates/settings.html"),
    ),
    (
        "snapshots.html",
        include_str!("../../templates/snapshots.html"),
    ),
    (
        "snapshot.html",
        include_str!("../../templates/snapshot.html"),
    ),
    ("browse.html", include_str!("../../templates/browse.html")),
];

/// The template environment (autoescaping `.html`, strict about undefined values).
pub fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    for (name, source) in TEMPLATES {
        // The sources are compiled in; a syntax error is caught by the test that renders each.
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "template does not compile");
        }
    }
    env
}

pub(super) fn render(
    state: &AppState,
    name: &str,
    ctx: Value,
) -> Result<Html<String>, ServerError> {
    let template = state
        .templates
        .get_template(name)
        .map_err(|e| ServerError::internal(format!("template {name}: {e}")))?;
    template
        .render(ctx)
        .map(Html)
        .map_err(|e| ServerError::internal(format!("rendering {name}: {e:#}")))
}

/// A form the person can correct is shown again with the message and the error's status; a
/// server fault stays an error page.
async fn refused_form<F, Fut>(error: ServerError, page: F) -> Result<Response, ServerError>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<Html<String>, ServerError>>,
{
    if error.status.is_server_error() {
        return Err(error);
    }
    let status = error.status;
    let page = page(error.message).await?;
    Ok((status, page).into_response())
}

/// Fixed notices a redirect may ask a page to show (never text from the URL itself).
fn notice(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "link" => "You are signed in. Set a password here so you can sign in again later.",
        "password" => "Your password is set.",
        "created" => "The connection is created. Test it, then run a backup.",
        "updated" => "The connection is saved.",
        "deleted" => "The connection is deleted.",
        "queued" => "A backup of this connection is already queued or running: here it is.",
        "schedule" => "The schedule is saved.",
        "unscheduled" => "Scheduled backups are off for this connection.",
        "timezone" => "The team's time zone is saved; schedules follow it.",
        _ => return None,
    })
}

#[derive(Debug, Deserialize, Default)]
pub struct NoticeQuery {
    pub notice: Option<String>,
}

pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../static/style.css"),
    )
        .into_response()
}

pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../static/app.js"),
    )
        .into_response()
}

/// The member on a public route, if signed in.
pub struct MaybeMember(pub Option<Member>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for MaybeMember {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<MaybeMember, std::convert::Infallible> {
        Ok(MaybeMember(parts.extensions.get::<Member>().cloned()))
    }
}

/// Only a path on this server: `/x` but not `//host` or `/\host`.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

/// The sign-in forms' double-submit value: the cookie's, or a new one to set.
fn csrf_for_form(headers: &HeaderMap) -> Result<(String, Option<String>), ServerError> {
    match session::cookie(headers, session::CSRF_COOKIE) {
        Some(value) => Ok((value, None)),
        None => {
            let token = Token::generate()?;
            let value = token.as_str().to_string();
            Ok((value.clone(), Some(value)))
        }
    }
}

fn with_csrf_cookie(
    state: &AppState,
    page: Html<String>,
    new: Option<String>,
    status: StatusCode,
) -> Response {
    let mut response = (status, page).into_response();
    if let Some(value) = new {
        response.headers_mut().append(
            header::SET_COOKIE,
            session::csrf_cookie(&value, state.secure_cookies),
        );
    }
    response
}

#[derive(Debug, Deserialize, Default)]
pub struct SignInQuery {
    pub next: Option<String>,
}

pub async fn sign_in_page(
    State(state): State<AppState>,
    MaybeMember(member): MaybeMember,
    Query(query): Query<SignInQuery>,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    if member.is_some() {
        return Ok(Redirect::to(&safe_next(query.next.as_deref())).into_response());
    }
    let (csrf, new) = csrf_for_form(&headers)?;
    let page = render(
        &state,
        "sign_in.html",
        crate::page_ctx! { title => "Sign in", csrf, next => safe_next(query.next.as_deref()), email => "" },
    )?;
    Ok(with_csrf_cookie(&state, page, new, StatusCode::OK))
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    pub email: String,
    pub password: String,
    pub next: Option<String>,
}

fn signed_in_redirect(state: &AppState, session: &Token, to: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        session::session_cookie(session, state.secure_cookies),
    );
    response
}

pub async fn sign_in(
    State(state): State<AppState>,
    axum::Extension(ClientIp(ip)): axum::Extension<ClientIp>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, ServerError> {
    let store = &state.installation.store;
    match accounts::sign_in(store, &form.email, &form.password, &ip).await {
        Ok(signed) => Ok(signed_in_redirect(
            &state,
            &signed.session,
            &safe_next(form.next.as_deref()),
        )),
        Err(SignInError::Store(e)) => Err(e.into()),
        Err(e) => {
            let status = match e {
                SignInError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            let (csrf, new) = csrf_for_form(&headers)?;
            let page = render(
                &state,
                "sign_in.html",
                crate::page_ctx! {
                    title => "Sign in", csrf, next => safe_next(form.next.as_deref()),
                    email => form.email, error => e.to_string(),
                },
            )?;
            Ok(with_csrf_cookie(&state, page, new, status))
        }
    }
}

pub async fn link_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    // Showing the page does not use the link: mail scanners that follow links must not burn it.
    let (csrf, new) = csrf_for_form(&headers)?;
    let page = render(
        &state,
        "link.html",
        crate::page_ctx! { title => "Sign in", csrf, token },
    )?;
    Ok(with_csrf_cookie(&state, page, new, StatusCode::OK))
}

pub async fn link_sign_in(
    State(state): State<AppState>,
    axum::Extension(ClientIp(ip)): axum::Extension<ClientIp>,
    Path(token): Path<String>,
) -> Result<Response, ServerError> {
    let store = &state.installation.store;
    match accounts::sign_in_with_link(store, &Token::from_presented(&token), &ip).await {
        Ok(signed) => Ok(signed_in_redirect(
            &state,
            &signed.session,
            "/settings?notice=link",
        )),
        Err(SignInError::Store(e)) => Err(e.into()),
        Err(e) => Err(ServerError::new(StatusCode::GONE, e.to_string())),
    }
}

pub async fn sign_out(
    State(state): State<AppState>,
    member: Member,
) -> Result<Response, ServerError> {
    accounts::sign_out(&state.installation.store, &member.actor(), &member.session).await?;
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        session::clear_session_cookie(state.secure_cookies),
    );
    Ok(response)
}

pub async fn settings(
    State(state): State<AppState>,
    member: Member,
    Query(query): Query<NoticeQuery>,
) -> Result<Html<String>, ServerError> {
    settings_page(&state, &member, notice(query.notice.as_deref()), None).await
}

async fn settings_page(
    state: &AppState,
    member: &Member,
    notice: Option<&str>,
    error: Option<String>,
) -> Result<Html<String>, ServerError> {
    let time_zone = state
        .installation
        .store
        .team_time_zone(member.user.team)
        .await?;
    render(
        state,
        "settings.html",
        crate::page_ctx! {
            title => "Settings", nav => "settings", member => MemberView::of(member),
            notice, error, time_zone,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct TeamForm {
    pub time_zone: String,
}

pub async fn set_team(
    State(state): State<AppState>,
    member: Member,
    Form(form): Form<TeamForm>,
) -> Result<Response, ServerError> {
    match state
        .installation
        .set_time_zone(&member.actor(), &form.time_zone)
        .await
    {
        Ok(_) => Ok(Redirect::to("/settings?notice=timezone").into_response()),
        Err(e) => {
            refused_form(e.into(), |message| {
                settings_page(&state, &member, None, Some(message))
            })
            .await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    pub password: String,
}

pub async fn set_password(
    State(state): State<AppState>,
    member: Member,
    Form(form): Form<PasswordForm>,
) -> Result<Response, ServerError> {
    match accounts::set_own_password(&state.installation.store, &member.actor(), &form.password)
        .await
    {
        Ok(()) => Ok(Redirect::to("/settings?notice=password").into_response()),
        Err(crate::store::StoreError::Password(e)) => {
            let page = settings_page(&state, &member, None, Some(e.to_string())).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn connections(
    State(state): State<AppState>,
    member: Member,
    Query(query): Query<NoticeQuery>,
) -> Result<Html<String>, ServerError> {
    let views = super::views::connection_list(&state.installation.store, member.user.team).await?;
    render(
        &state,
        "connections.html",
        crate::page_ctx! {
            title => "Connections", nav => "connections", member => MemberView::of(&member),
            connections => views, notice => notice(query.notice.as_deref()),
        },
    )
}

#[derive(Debug, Deserialize, Default, serde::Serialize)]
pub struct ConnectionForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub okta_domain: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub auth_method: String,
    #[serde(default, skip_serializing)]
    pub credential: String,
}

impl ConnectionForm {
    fn input(&self) -> ConnectionInput {
        ConnectionInput {
            name: self.name.clone(),
            okta_domain: self.okta_domain.clone(),
            client_id: self.client_id.clone(),
            auth_method: self.auth_method.clone(),
            credential: self.credential.clone(),
        }
    }
}

fn connection_form(
    state: &AppState,
    member: &Member,
    form: &ConnectionForm,
    editing: Option<i64>,
    error: Option<String>,
) -> Result<Html<String>, ServerError> {
    let (title, action, submit) = match editing {
        Some(id) => (
            "Edit connection".to_string(),
            format!("/connections/{id}"),
            "Save",
        ),
        None => (
            "New connection".to_string(),
            "/connections".to_string(),
            "Create connection",
        ),
    };
    render(
        state,
        "connection_form.html",
        crate::page_ctx! {
            title, nav => "connections", member => MemberView::of(member), form, action, submit,
            editing => editing.is_some(), error,
        },
    )
}

pub async fn new_connection(
    State(state): State<AppState>,
    member: Member,
) -> Result<Html<String>, ServerError> {
    connection_form(&state, &member, &ConnectionForm::default(), None, None)
}

/// A refused form is shown again with the message; other errors become error pages.
fn form_error(
    state: &AppState,
    member: &Member,
    form: &ConnectionForm,
    editing: Option<i64>,
    error: crate::ops::connections::ConnectionsError,
) -> Result<Response, ServerError> {
    let server: ServerError = error.into();
    if server.status.is_server_error() || server.status == StatusCode::NOT_FOUND {
        return Err(server);
    }
    let page = connection_form(state, member, form, editing, Some(server.message))?;
    Ok((server.status, page).into_response())
}

pub async fn create_connection(
    State(state): State<AppState>,
    member: Member,
    Form(form): Form<ConnectionForm>,
) -> Result<Response, ServerError> {
    match state
        .installation
        .create_connection(&member.actor(), &form.input())
        .await
    {
        Ok(made) => {
            Ok(Redirect::to(&format!("/connections/{}?notice=created", made.id.0)).into_response())
        }
        Err(e) => form_error(&state, &member, &form, None, e),
    }
}

async fn connection_page(
    state: &AppState,
    member: &Member,
    id: i64,
    report: Option<&crate::ops::connection::ConnectionReport>,
    notice_key: Option<&str>,
    error: Option<String>,
) -> Result<Html<String>, ServerError> {
    let connection = state
        .installation
        .connection(member.user.team, ConnectionId(id))
        .await?;
    let jobs: Vec<JobView> = state
        .installation
        .store
        .jobs_of_connection(member.user.team, connection.id, super::api::JOBS_SHOWN)
        .await?
        .iter()
        .map(JobView::of)
        .collect();
    let schedule = state
        .installation
        .schedule(member.user.team, connection.id)
        .await?;
    let time_zone = state
        .installation
        .store
        .team_time_zone(member.user.team)
        .await?;
    let report = report.map(|r| {
        let problems = r.problems();
        let mut value = serde_json::to_value(r).unwrap_or_default();
        value["problems"] = problems.into();
        value
    });
    render(
        state,
        "connection.html",
        crate::page_ctx! {
            title => connection.name.clone(), nav => "connections", member => MemberView::of(member),
            connection => ConnectionView::of(&connection, None), jobs, report,
            notice => notice(notice_key), error, schedule, time_zone,
            weekdays => ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
        },
    )
}

pub async fn connection(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    Query(query): Query<NoticeQuery>,
) -> Result<Html<String>, ServerError> {
    connection_page(&state, &member, id, None, query.notice.as_deref(), None).await
}

pub async fn edit_connection(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> Result<Html<String>, ServerError> {
    let connection = state
        .installation
        .connection(member.user.team, ConnectionId(id))
        .await?;
    let form = ConnectionForm {
        name: connection.name,
        okta_domain: connection.okta_domain,
        client_id: connection.client_id,
        auth_method: connection.auth_method.as_str().to_string(),
        credential: String::new(),
    };
    connection_form(&state, &member, &form, Some(id), None)
}

pub async fn update_connection(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    Form(form): Form<ConnectionForm>,
) -> Result<Response, ServerError> {
    match state
        .installation
        .update_connection(&member.actor(), ConnectionId(id), &form.input())
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/connections/{id}?notice=updated")).into_response()),
        Err(e) => form_error(&state, &member, &form, Some(id), e),
    }
}

pub async fn delete_page(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> Result<Html<String>, ServerError> {
    let connection = state
        .installation
        .connection(member.user.team, ConnectionId(id))
        .await?;
    render(
        &state,
        "delete.html",
        crate::page_ctx! {
            title => format!("Delete {}", connection.name), nav => "connections",
            member => MemberView::of(&member), connection => ConnectionView::of(&connection, None),
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    /// `keep` or `remove`.
    pub repository: String,
}

pub async fn delete_connection(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    Form(form): Form<DeleteForm>,
) -> Result<Response, ServerError> {
    let keep = super::views::keep_repository(&form.repository)?;
    state
        .installation
        .delete_connection(&member.actor(), ConnectionId(id), keep)
        .await?;
    Ok(Redirect::to("/?notice=deleted").into_response())
}

pub async fn test_connection(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> Result<Response, ServerError> {
    match state
        .installation
        .test_connection(&member.actor(), ConnectionId(id))
        .await
    {
        Ok(report) => Ok(
            connection_page(&state, &member, id, Some(&report), None, None)
                .await?
                .into_response(),
        ),
        Err(e) => {
            let error: ServerError = e.into();
            let shown = error.status == StatusCode::BAD_GATEWAY
                || error.status == StatusCode::UNPROCESSABLE_ENTITY;
            if !shown {
                return Err(error);
            }
            // The org could not be reached, refused the token, or is not allowed: say why.
            let message = format!("Test connection failed: {}", error.message);
            let page = connection_page(&state, &member, id, None, None, Some(message)).await?;
            Ok((error.status, page).into_response())
        }
    }
}

pub async fn run_backup(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> Result<Response, ServerError> {
    let (job, new) = super::api::queue_backup(&state, &member, ConnectionId(id)).await?;
    let suffix = if new { "" } else { "?notice=queued" };
    Ok(Redirect::to(&format!("/connections/{id}/jobs/{}{suffix}", job.id.0)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ScheduleForm {
    /// `off`, `hourly`, `daily` or `weekly`.
    pub every: String,
    #[serde(default)]
    pub at: String,
    #[serde(default)]
    pub weekday: String,
}

pub async fn set_schedule(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    Form(form): Form<ScheduleForm>,
) -> Result<Response, ServerError> {
    let actor = member.actor();
    let done = if form.every == "off" {
        state
            .installation
            .clear_schedule(&actor, ConnectionId(id))
            .await
            .map(|_| "unscheduled")
    } else {
        state
            .installation
            .set_schedule(
                &actor,
                ConnectionId(id),
                &form.every,
                &form.at,
                &form.weekday,
            )
            .await
            .map(|_| "schedule")
    };
    match done {
        Ok(key) => Ok(Redirect::to(&format!("/connections/{id}?notice={key}")).into_response()),
        Err(e) => {
            let error: ServerError = e.into();
            if error.status != StatusCode::UNPROCESSABLE_ENTITY {
                return Err(error);
            }
            let page =
                connection_page(&state, &member, id, None, None, Some(error.message)).await?;
            Ok((error.status, page).into_response())
        }
    }
}

pub async fn job(
    State(state): State<AppState>,
    member: Member,
    Path((id, job)): Path<(i64, i64)>,
    Query(query): Query<NoticeQuery>,
) -> Result<Html<String>, ServerError> {
    let team = member.user.team;
    let connection = state
        .installation
        .connection(team, ConnectionId(id))
        .await?;
    let store = &state.installation.store;
    let job = store
        .job(team, JobId(job))
        .await?
        .filter(|j| j.connection == connection.id)
        .ok_or_else(|| ServerError::not_found(format!("no backup {job} of this connection")))?;
    let lines = store.job_log(team, job.id, 0).await?;
    let last_line = lines.last().map(|l| l.id).unwrap_or(0);
    render(
        &state,
        "job.html",
        crate::page_ctx! {
            title => format!("Backup of {}", connection.name), nav => "connections",
            member => MemberView::of(&member), connection => ConnectionView::of(&connection, None),
            finished => if job.status.is_finished() { "true" } else { "false" },
            job => JobView::of(&job), lines => lines.iter().map(LogLineView::of).collect::<Vec<_>>(),
            last_line, notice => notice(query.notice.as_deref()),
        },
    )
}

pub async fn audit(
    State(state): State<AppState>,
    member: Member,
) -> Result<Html<String>, ServerError> {
    let events: Vec<AuditView> = state
        .installation
        .store
        .audit_events(member.user.team, 500)
        .await?
        .iter()
        .map(AuditView::of)
        .collect();
    render(
        &state,
        "audit.html",
        crate::page_ctx! { title => "Audit trail", nav => "audit", member => MemberView::of(&member), events },
    )
}

async fn members_page(
    state: &AppState,
    member: &Member,
    link: Option<serde_json::Value>,
    error: Option<String>,
) -> Result<Html<String>, ServerError> {
    let members: Vec<UserView> = state
        .installation
        .store
        .members(member.user.team)
        .await?
        .iter()
        .map(UserView::of)
        .collect();
    let roles: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
    render(
        state,
        "members.html",
        crate::page_ctx! {
            title => "Members", nav => "members", member => MemberView::of(member), members, roles,
            link, error,
        },
    )
}

pub async fn members(
    State(state): State<AppState>,
    member: Member,
) -> Result<Html<String>, ServerError> {
    members_page(&state, &member, None, None).await
}

#[derive(Debug, Deserialize)]
pub struct MemberForm {
    pub email: String,
    pub role: String,
}

fn member_error(error: MemberError) -> ServerError {
    match error {
        MemberError::Store(e) => e.into(),
        MemberError::NotFound(_) => ServerError::not_found(error.to_string()),
        other => ServerError::new(StatusCode::UNPROCESSABLE_ENTITY, other.to_string()),
    }
}

pub async fn add_member(
    State(state): State<AppState>,
    member: Member,
    Form(form): Form<MemberForm>,
) -> Result<Response, ServerError> {
    let role = super::views::role_field(&form.role)?;
    match accounts::add_member(
        &state.installation.store,
        &member.actor(),
        &form.email,
        role,
        &state.base_url,
    )
    .await
    {
        Ok(added) => {
            let link = serde_json::json!({ "email": added.user.email.to_string(), "url": added.sign_in_link });
            Ok(members_page(&state, &member, Some(link), None)
                .await?
                .into_response())
        }
        Err(e) => {
            refused_form(member_error(e), |message| {
                members_page(&state, &member, None, Some(message))
            })
            .await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct RoleForm {
    pub role: String,
}

pub async fn set_role(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    Form(form): Form<RoleForm>,
) -> Result<Response, ServerError> {
    let role = super::views::role_field(&form.role)?;
    accounts::set_role(&state.installation.store, &member.actor(), UserId(id), role)
        .await
        .map_err(member_error)?;
    Ok(Redirect::to("/members").into_response())
}

#[derive(Debug, Deserialize)]
pub struct ActiveForm {
    pub active: String,
}

pub async fn set_active(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    Form(form): Form<ActiveForm>,
) -> Result<Response, ServerError> {
    let active = match form.active.as_str() {
        "true" => true,
        "false" => false,
        other => {
            return Err(ServerError::bad_request(format!(
                "active: `{other}` is not true or false"
            )));
        }
    };
    accounts::set_active(
        &state.installation.store,
        &member.actor(),
        UserId(id),
        active,
    )
    .await
    .map_err(member_error)?;
    Ok(Redirect::to("/members").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member() -> serde_json::Value {
        serde_json::json!({
            "email": "ana@example.com", "role": "super_admin", "team": "Acme", "plan": "free",
            "csrf": "CSRF-TOKEN", "may_audit": true, "may_members": true, "may_manage": true,
            "may_run": true, "may_contents": true,
        })
    }

    fn job() -> serde_json::Value {
        serde_json::json!({
            "id": 7, "connection": 3, "status": "succeeded", "origin": "manual",
            "queued": "2026-11-23 10:00:00 UTC", "when": "2026-11-23 10:01:00 UTC",
            "duration": "60 s", "counts": "+1 ~2 −3", "commit": "0123456789ab", "attempts": 1,
        })
    }

    fn connection() -> serde_json::Value {
        serde_json::json!({
            "id": 3, "name": "Production <prod>", "okta_domain": "https://acme.okta.com",
            "client_id": "0oa1", "auth_method": "client_secret", "last": job(),
        })
    }

    /// Every template renders with a full context, escapes what it shows, and carries the
    /// page's title, the navigation and (for members' pages) the CSRF token in its forms.
    #[test]
    fn every_template_renders_escaped_with_title_and_navigation() {
        let env = templates();
        let contexts: Vec<(&str, serde_json::Value, &[&str])> = vec![
            (
                "sign_in.html",
                serde_json::json!({"title": "Sign in", "csrf": "C1", "next": "/", "email": "a@b.c", "error": "wrong <x>"}),
                &["C1", "wrong &lt;x&gt;"],
            ),
            (
                "link.html",
                serde_json::json!({"title": "Sign in", "csrf": "C1", "token": "TOK"}),
                &["/login/once/TOK"],
            ),
            (
                "connections.html",
                serde_json::json!({"title": "Connections", "nav": "connections", "member": member(), "connections": [connection()]}),
                &["Production &lt;prod&gt;", "succeeded", "New connection"],
            ),
            (
                "connection_form.html",
                serde_json::json!({"title": "New connection", "member": member(), "form": {"name": "P", "okta_domain": "", "client_id": "", "auth_method": "private_key"}, "action": "/connections", "submit": "Create connection", "editing": false}),
                &["Create connection", "value=\"private_key\" checked"],
            ),
            (
                "connection.html",
                serde_json::json!({"title": "Production", "member": member(), "connection": connection(), "jobs": [job()], "report": {"org": "acme", "method": "client_secret_basic", "problems": 1, "missing_scopes": ["okta.users.read"], "kinds": [{"kind": "user", "status": "scope_missing", "detail": "403", "fix": "grant okta.users.read"}]}}),
                &[
                    "Run backup now",
                    "okta.users.read",
                    "+1 ~2 −3",
                    "/connections/3/jobs/7",
                ],
            ),
            (
                "delete.html",
                serde_json::json!({"title": "Delete", "member": member(), "connection": connection()}),
                &["value=\"keep\" checked", "Delete the connection"],
            ),
            (
                "job.html",
                serde_json::json!({"title": "Backup", "member": member(), "connection": connection(), "job": job(), "lines": [{"id": 1, "at": "10:00:00", "level": "info", "line": "user: 3 object(s) read"}], "last_line": 1, "finished": "true"}),
                &[
                    "user: 3 object(s) read",
                    "data-log-url=\"/api/v1/jobs/7/log\"",
                ],
            ),
            (
                "audit.html",
                serde_json::json!({"title": "Audit trail", "member": member(), "events": [{"at": "t", "actor": "ana@example.com", "action": "connection.create", "target": "connection 3", "detail": "d", "ip": "127.0.0.1"}]}),
                &["connection.create", "127.0.0.1"],
            ),
            (
                "members.html",
                serde_json::json!({"title": "Members", "member": member(), "members": [{"id": 2, "email": "bo@example.com", "role": "auditor", "active": true}], "roles": ["super_admin", "auditor"], "link": {"email": "bo@example.com", "url": "http://x/login/once/T"}}),
                &["value=\"auditor\" selected", "Deactivate", "once&#x2f;T"],
            ),
            (
                "settings.html",
                serde_json::json!({"title": "Settings", "member": member(), "notice": "Your password is set.", "time_zone": "Europe/Paris"}),
                &["Your password is set.", "new-password", "Europe&#x2f;Paris"],
            ),
            (
                "snapshots.html",
                serde_json::json!({"title": "Snapshots", "member": member(), "connection": connection(), "snapshots": [{"commit": "0123456789abcdef", "time": "t", "summary": "s", "counts": "+1 ~0 −0"}]}),
                &["0123456789ab", "+1 ~0 −0"],
            ),
            (
                "snapshot.html",
                serde_json::json!({"title": "Snapshot", "member": member(), "connection": connection(), "commit": "0123456789abcdef", "report": {"time": "t", "kinds": [{"kind": "group", "files": 3, "folder": "okta/groups"}]}}),
                &["okta&#x2f;groups", ">group<"],
            ),
            (
                "browse.html",
                serde_json::json!({"title": "Browse", "member": member(), "connection": connection(), "commit": "0123456789abcdef", "path": "okta/groups/Eng.json", "crumbs": [{"name": "okta", "path": "okta"}], "file": {"file": {"name": "Eng <x>", "kind": "group", "id": "00g1", "path": "okta/groups/Eng.json"}, "text": "{\n  \"id\": \"00g1\"\n}", "links": [{"pointer": "/x", "label": "group 00g2 (Ops)", "path": "okta/groups/Ops.json"}]}}),
                &["Eng &lt;x&gt;", "group 00g2 (Ops)", "&quot;00g1&quot;"],
            ),
        ];
        assert_eq!(
            contexts.len() + 1,
            TEMPLATES.len(),
            "every page template is rendered here"
        );
        for (name, context, expected) in contexts {
            let html = env
                .get_template(name)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .render(Value::from(minijinja::value::Serde(&context)))
                .unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert!(html.contains("<title>"), "{name} has a title");
            assert!(
                html.contains("<nav aria-label=\"Main\">"),
                "{name} has navigation"
            );
            assert!(
                html.contains("<main id=\"main\">"),
                "{name} has a main landmark"
            );
            for text in expected {
                assert!(html.contains(text), "{name} shows {text:?}:\n{html}");
            }
            if context.get("member").is_some() {
                for form in html.split("<form").skip(1) {
                    assert!(
                        form.contains("CSRF-TOKEN"),
                        "{name}: a form without the CSRF token"
                    );
                }
            }
        }
    }

    #[test]
    fn next_targets_stay_on_this_server() {
        assert_eq!(safe_next(Some("/connections/3")), "/connections/3");
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn notices_come_from_a_fixed_list() {
        assert!(notice(Some("password")).is_some());
        assert_eq!(notice(Some("Call +1 555 0100 now")), None);
    }
}
