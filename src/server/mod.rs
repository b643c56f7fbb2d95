//! The web server (DESIGN.md "Server", issue #8): `butterfly serve` runs the dashboard's pages,
//! the JSON API and the job workers on one store. Every route is in `access::ROUTES` with what
//! it needs, checked by `access::authorize` before any handler; handlers call `ops` and render.
//!
//! Must not hold logic the CLI also needs: both call `ops` and `store`.

pub mod access;
pub mod api;
pub mod browser;
pub mod error;
pub mod pages;
pub mod role;
pub mod session;
pub mod state;
pub mod views;

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::routing::{delete, get, patch, post, put};
use tokio::net::TcpListener;

pub use state::AppState;

/// The largest form or JSON body the server reads.
pub const MAX_FORM_BYTES: usize = 1024 * 1024;

/// Every route of `access::ROUTES`, with its handler; the access check runs before each.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(api::metrics))
        .route("/static/style.css", get(pages::stylesheet))
        .route("/static/app.js", get(pages::script))
        .route("/login", get(pages::sign_in_page).post(pages::sign_in))
        .route(
            "/login/once/{token}",
            get(pages::link_page).post(pages::link_sign_in),
        )
        .route("/logout", post(pages::sign_out))
        .route("/settings", get(pages::settings))
        .route("/settings/password", post(pages::set_password))
        .route("/settings/team", post(pages::set_team))
        .route("/", get(pages::connections))
        .route("/connections/new", get(pages::new_connection))
        .route("/connections", post(pages::create_connection))
        .route(
            "/connections/{id}",
            get(pages::connection).post(pages::update_connection),
        )
        .route("/connections/{id}/edit", get(pages::edit_connection))
        .route(
            "/connections/{id}/delete",
            get(pages::delete_page).post(pages::delete_connection),
        )
        .route("/connections/{id}/test", post(pages::test_connection))
        .route("/connections/{id}/backups", post(pages::run_backup))
        .route("/connections/{id}/schedule", post(pages::set_schedule))
        .route("/connections/{id}/jobs/{job}", get(pages::job))
        .route("/connections/{id}/snapshots", get(browser::snapshots))
        .route(
            "/connections/{id}/snapshots/{commit}",
            get(browser::snapshot),
        )
        .route(
            "/connections/{id}/snapshots/{commit}/{*path}",
            get(browser::browse),
        )
        .route("/audit", get(pages::audit))
        .route("/members", get(pages::members).post(pages::add_member))
        .route("/members/{id}/role", post(pages::set_role))
        .route("/members/{id}/active", post(pages::set_active))
        .route("/api/v1/me", get(api::me))
        .route(
            "/api/v1/connections",
            get(api::connections).post(api::create_connection),
        )
        .route(
            "/api/v1/connections/{id}",
            get(api::connection)
                .merge(patch(api::update_connection))
                .merge(delete(api::delete_connection)),
        )
        .route("/api/v1/connections/{id}/test", post(api::test_connection))
        .route("/api/v1/connections/{id}/backups", post(api::run_backup))
        .route("/api/v1/connections/{id}/jobs", get(api::jobs))
        .route(
            "/api/v1/connections/{id}/schedule",
            get(api::schedule)
                .merge(put(api::set_schedule))
                .merge(delete(api::clear_schedule)),
        )
        .route("/api/v1/team", patch(api::update_team))
        .route("/api/v1/jobs/{job}", get(api::job))
        .route("/api/v1/jobs/{job}/log", get(api::job_log))
        .route("/api/v1/audit", get(api::audit))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            access::authorize,
        ));
    routes
        .layer(middleware::map_response(security_headers))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM_BYTES))
        .with_state(state)
}

/// Headers every answer carries: no framing, no sniffing, no referrer leaks, scripts and
/// styles only from the server itself.
async fn security_headers(mut response: axum::response::Response) -> axum::response::Response {
    let headers = response.headers_mut();
    let set = [
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Serves `state` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
