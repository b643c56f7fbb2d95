//! Who may call which route: one table ([`ROUTES`]) of every route the server has, each with
//! the access it needs, and one check ([`authorize`]) that runs before every handler, for pages
//! and the JSON API alike. A route missing from the table is refused (fail closed), so adding a
//! route without deciding who may call it cannot go unnoticed; the route × role test walks this
//! table.
//!
//! The check also stops cross-site requests: every state-changing request carries a CSRF token
//! (the `X-CSRF-Token` header or a `_csrf` form field) derived from the session, or, before
//! sign-in, equal to the `butterfly_csrf` cookie; and an `Origin` header, when sent, must be the
//! server's own.

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::error::ServerError;
use super::session::{self, CSRF_COOKIE, SESSION_COOKIE};
use super::state::AppState;
use crate::server::role::{Permission, Role};
use crate::store::accounts::{Team, User};
use crate::store::now;
use crate::store::sessions::Token;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (sign-in pages, health, metrics, the stylesheet).
    Public,
    /// Any signed-in member, whatever the role (sign-out, their own settings).
    SignedIn,
    /// A signed-in member whose role allows this (DESIGN.md's table).
    Needs(Permission),
}

/// One route of the server.
#[derive(Debug, Clone, Copy)]
pub struct RouteAccess {
    pub method: &'static str,
    /// axum's path template, as `MatchedPath` gives it.
    pub path: &'static str,
    pub access: Access,
}

const fn route(method: &'static str, path: &'static str, access: Access) -> RouteAccess {
    RouteAccess {
        method,
        path,
        access,
    }
}

use Access::{Needs, Public, SignedIn};
use Permission::*;

/// Every route of the server and what it needs. `server::router` registers exactly these.
pub const ROUTES: &[RouteAccess] = &[
    route("GET", "/healthz", Public),
    route("GET", "/metrics", Public),
    route("GET", "/static/style.css", Public),
    route("GET", "/static/app.js", Public),
    route("GET", "/login", Public),
    route("POST", "/login", Public),
    route("GET", "/login/once/{token}", Public),
    route("POST", "/login/once/{token}", Public),
    route("POST", "/logout", SignedIn),
    route("GET", "/settings", SignedIn),
    route("POST", "/settings/password", SignedIn),
    route("POST", "/settings/team", Needs(ManageMembers)),
    route("GET", "/", Needs(SeeConnections)),
    route("GET", "/connections/new", Needs(ManageConnections)),
    route("POST", "/connections", Needs(ManageConnections)),
    route("GET", "/connections/{id}", Needs(SeeConnections)),
    route("GET", "/connections/{id}/edit", Needs(ManageConnections)),
    route("POST", "/connections/{id}", Needs(ManageConnections)),
    route("GET", "/connections/{id}/delete", Needs(ManageConnections)),
    route("POST", "/connections/{id}/delete", Needs(ManageConnections)),
    route("POST", "/connections/{id}/test", Needs(RunBackups)),
    route("POST", "/connections/{id}/backups", Needs(RunBackups)),
    route("POST", "/connections/{id}/schedule", Needs(RunBackups)),
    route("GET", "/connections/{id}/jobs/{job}", Needs(SeeConnections)),
    route(
        "GET",
        "/connections/{id}/snapshots",
        Needs(SeeBackupContents),
    ),
    route(
        "GET",
        "/connections/{id}/snapshots/{commit}",
        Needs(SeeBackupContents),
    ),
    route(
        "GET",
        "/connections/{id}/snapshots/{commit}/{*path}",
        Needs(SeeBackupContents),
    ),
    route("GET", "/audit", Needs(SeeAuditTrail)),
    route("GET", "/members", Needs(ManageMembers)),
    route("POST", "/members", Needs(ManageMembers)),
    route("POST", "/members/{id}/role", Needs(ManageMembers)),
    route("POST", "/members/{id}/active", Needs(ManageMembers)),
    route("GET", "/api/v1/me", SignedIn),
    route("GET", "/api/v1/connections", Needs(SeeConnections)),
    route("POST", "/api/v1/connections", Needs(ManageConnections)),
    route("GET", "/api/v1/connections/{id}", Needs(SeeConnections)),
    route(
        "PATCH",
        "/api/v1/connections/{id}",
        Needs(ManageConnections),
    ),
    route(
        "DELETE",
        "/api/v1/connections/{id}",
        Needs(ManageConnections),
    ),
    route("POST", "/api/v1/connections/{id}/test", Needs(RunBackups)),
    route(
        "POST",
        "/api/v1/connections/{id}/backups",
        Needs(RunBackups),
    ),
    route(
        "GET",
        "/api/v1/connections/{id}/jobs",
        Needs(SeeConnections),
    ),
    route(
        "GET",
        "/api/v1/connections/{id}/schedule",
        Needs(SeeConnections),
    ),
    route(
        "PUT",
        "/api/v1/connections/{id}/schedule",
        Needs(RunBackups),
    ),
    route(
        "DELETE",
        "/api/v1/connections/{id}/schedule",
        Needs(RunBackups),
    ),
    route("PATCH", "/api/v1/team", Needs(ManageMembers)),
    route("GET", "/api/v1/jobs/{job}", Needs(SeeConnections)),
    route("GET", "/api/v1/jobs/{job}/log", Needs(SeeConnections)),
    route("GET", "/api/v1/audit", Needs(SeeAuditTrail)),
];

/// The table's entry for a request, if any.
pub fn lookup(method: &Method, path: &str) -> Option<&'static RouteAccess> {
    ROUTES
        .iter()
        .find(|r| r.method == method.as_str() && r.path == path)
}

/// Whether `role` may call a route needing `access` (pure: the route × role test's oracle is
/// DESIGN.md's table through `Role::allows`).
pub fn role_may(role: Role, access: Access) -> bool {
    match access {
        Access::Public | Access::SignedIn => true,
        Access::Needs(permission) => role.allows(permission),
    }
}

/// The signed-in member of a request, put there by [`authorize`].
#[derive(Debug, Clone)]
pub struct Member {
    pub user: User,
    pub team: Team,
    pub session: Token,
    /// The CSRF token of this session, for forms and the `X-CSRF-Token` header.
    pub csrf: String,
    /// The client's address.
    pub ip: String,
}

impl Member {
    pub fn may(&self, permission: Permission) -> bool {
        self.user.role.allows(permission)
    }

    pub fn actor(&self) -> crate::ops::connections::Actor {
        crate::ops::connections::Actor {
            user: self.user.clone(),
            ip: self.ip.clone(),
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Member {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Member, ServerError> {
        // Only `authorize` puts it there: a handler of a public route asking for a member is a
        // programming error, refused rather than trusted.
        parts
            .extensions
            .get::<Member>()
            .cloned()
            .ok_or_else(|| ServerError::internal("this route has no signed-in member"))
    }
}

/// The client's address, for the audit trail and throttling.
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

/// Whether the request wants JSON (the API) rather than a page.
pub fn wants_json(path: &str) -> bool {
    path.starts_with("/api/")
}

/// The one access check: the route's entry, CSRF on state-changing requests, the session, the
/// role. Runs as a route layer, so `MatchedPath` is known.
pub async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match check(&state, request).await {
        Ok(request) => next.run(request).await,
        Err(refused) => refused,
    }
}

async fn check(state: &AppState, request: Request) -> Result<Request, Response> {
    let method = request.method().clone();
    let Some(matched) = request.extensions().get::<MatchedPath>().cloned() else {
        return Err(
            ServerError::internal("a request reached the access check unrouted").into_response(),
        );
    };
    let json = wants_json(matched.as_str());
    let refuse = |error: ServerError| error.with_json(json).into_response();
    let Some(entry) = lookup(&method, matched.as_str()) else {
        tracing::error!(method = %method, path = matched.as_str(), "route missing from the access table");
        return Err(refuse(ServerError::internal(
            "this route is not in the access table",
        )));
    };
    let ip = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let unsafe_method = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && !same_origin(request.headers(), state) {
        return Err(refuse(ServerError::forbidden(
            "this request came from another site (its Origin is not this server's)",
        )));
    }

    let session_token =
        session::cookie(request.headers(), SESSION_COOKIE).map(|t| Token::from_presented(&t));
    let member = match &session_token {
        Some(token) => {
            let store = &state.installation.store;
            match store.session_user(token, now()).await {
                Ok(Some(user)) => {
                    let team = store.team(user.team).await.map_err(|e| refuse(e.into()))?;
                    Some(Member {
                        csrf: session::csrf_for(token),
                        session: token.clone(),
                        user,
                        team,
                        ip: ip.clone(),
                    })
                }
                Ok(None) => None,
                Err(e) => return Err(refuse(e.into())),
            }
        }
        None => None,
    };

    let (mut parts, body) = request.into_parts();
    let body = if unsafe_method {
        let expected = match (&member, entry.access) {
            (Some(member), _) => Some(member.csrf.clone()),
            (None, Access::Public) => session::cookie(&parts.headers, CSRF_COOKIE),
            (None, _) => None,
        };
        let header = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let (presented, body) = match header {
            Some(header) => (Some(header), body),
            None if is_form(&parts.headers) => {
                let bytes = axum::body::to_bytes(body, super::MAX_FORM_BYTES)
                    .await
                    .map_err(|_| {
                        refuse(ServerError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "the form is larger than 1 MiB",
                        ))
                    })?;
                let token = form_urlencoded::parse(&bytes)
                    .find(|(k, _)| k == "_csrf")
                    .map(|(_, v)| v.into_owned());
                (token, Body::from(bytes))
            }
            None => (None, body),
        };
        match expected {
            Some(expected) => {
                let matches = presented
                    .is_some_and(|p| session::constant_time_eq(p.as_bytes(), expected.as_bytes()));
                if !matches {
                    return Err(refuse(ServerError::forbidden(
                        "the form's security token is missing or stale: reload the page and try again",
                    )));
                }
            }
            None if entry.access == Access::Public => {
                return Err(refuse(ServerError::forbidden(
                    "the sign-in form's security token is missing: reload the page and try again",
                )));
            }
            // No member on a members' route: refused below as not signed in.
            None => {}
        }
        body
    } else {
        body
    };

    match (entry.access, member) {
        (Access::Public, member) => {
            if let Some(member) = member {
                parts.extensions.insert(member);
            }
        }
        (access, Some(member)) => {
            if !role_may(member.user.role, access) {
                let what = match access {
                    Access::Needs(permission) => permission.describe(),
                    _ => "do this",
                };
                return Err(refuse(ServerError::forbidden(format!(
                    "your role ({}) may not {what}",
                    member.user.role
                ))));
            }
            parts.extensions.insert(member);
        }
        (_, None) => {
            if json || method != Method::GET {
                return Err(refuse(ServerError::new(
                    StatusCode::UNAUTHORIZED,
                    "sign in first: this needs a session",
                )));
            }
            let target = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            return Err(to_sign_in(&target));
        }
    }
    parts.extensions.insert(ClientIp(ip));
    Ok(Request::from_parts(parts, body))
}

/// Whether a form body is urlencoded.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// An absent `Origin` passes (same-site navigations may omit it; the CSRF token still holds);
/// a present one must be the server's.
fn same_origin(headers: &HeaderMap, state: &AppState) -> bool {
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => origin.trim_end_matches('/') == state.origin,
    }
}

/// The redirect to the sign-in page for a page that needs a member.
pub fn to_sign_in(path_and_query: &str) -> Response {
    let next: String = form_urlencoded::byte_serialize(path_and_query.as_bytes()).collect();
    Redirect::to(&format!("/login?next={next}")).into_response()
}
