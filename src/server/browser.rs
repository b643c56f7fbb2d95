//! The snapshot browser's pages: a connection's snapshots, a snapshot's kinds, a folder's
//! entries, and a resource's JSON with its references as links. Only for roles that may see
//! backup contents (the access table); the repository is read on a blocking thread through
//! `ops::browse`.

use axum::extract::{Path, State};
use axum::response::Html;
use serde_json::json;

use super::access::Member;
use super::error::ServerError;
use super::pages::render;
use super::state::AppState;
use super::views::{ConnectionView, MemberView};
use crate::ops::browse::{self, Browsed};
use crate::ops::diff::Opened;
use crate::ops::show::ShowError;
use crate::store::connections::{ConnectionId, OrgConnection};

/// The team's connection and its repository opened for reading, then `read` on a blocking
/// thread.
async fn with_repository<T: Send + 'static>(
    state: &AppState,
    member: &Member,
    id: i64,
    read: impl FnOnce(&Opened) -> Result<T, ShowError> + Send + 'static,
) -> Result<(OrgConnection, T), ServerError> {
    let connection = state
        .installation
        .connection(member.user.team, ConnectionId(id))
        .await?;
    let dir = crate::ops::connections::repository_dir(
        &state.installation.data_dir,
        member.user.team,
        connection.id,
    );
    let catalogue = state.installation.catalogue;
    let result = tokio::task::spawn_blocking(move || {
        let opened = crate::ops::diff::open(&dir, catalogue).map_err(ShowError::Open)?;
        read(&opened)
    })
    .await
    .map_err(ServerError::internal)?;
    match result {
        Ok(value) => Ok((connection, value)),
        Err(e) if browse::is_unknown_revision(&e) => Err(ServerError::not_found(e.to_string())),
        Err(e) => Err(ServerError::internal(e)),
    }
}

fn commit_id(commit: &str) -> Result<(), ServerError> {
    if browse::is_commit_id(commit) {
        Ok(())
    } else {
        Err(ServerError::not_found(format!(
            "`{commit}` is not a snapshot's commit id"
        )))
    }
}

pub async fn snapshots(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> Result<Html<String>, ServerError> {
    let (connection, snapshots) = with_repository(&state, &member, id, |opened| {
        browse::snapshots(opened, 1000)
    })
    .await?;
    render(
        &state,
        "snapshots.html",
        crate::page_ctx! {
            title => format!("Snapshots of {}", connection.name), nav => "connections",
            member => MemberView::of(&member), connection => ConnectionView::of(&connection, None),
            snapshots,
        },
    )
}

pub async fn snapshot(
    State(state): State<AppState>,
    member: Member,
    Path((id, commit)): Path<(i64, String)>,
) -> Result<Html<String>, ServerError> {
    commit_id(&commit)?;
    let (rev, catalogue) = (commit.clone(), state.installation.catalogue);
    let (connection, report) = with_repository(&state, &member, id, move |opened| {
        browse::overview(opened, catalogue, &rev)
    })
    .await?;
    render(
        &state,
        "snapshot.html",
        crate::page_ctx! {
            title => format!("Snapshot {} of {}", &commit[..commit.len().min(12)], connection.name),
            nav => "connections", member => MemberView::of(&member),
            connection => ConnectionView::of(&connection, None), commit, report,
        },
    )
}

pub async fn browse(
    State(state): State<AppState>,
    member: Member,
    Path((id, commit, path)): Path<(i64, String, String)>,
) -> Result<Html<String>, ServerError> {
    commit_id(&commit)?;
    let (rev, wanted, catalogue) = (commit.clone(), path.clone(), state.installation.catalogue);
    let (connection, browsed) = with_repository(&state, &member, id, move |opened| {
        browse::browse(opened, catalogue, &rev, &wanted)
    })
    .await?;
    // Breadcrumbs: each folder above, linked.
    let mut crumbs = Vec::new();
    let mut so_far = String::new();
    for part in path.trim_end_matches('/').split('/') {
        if !so_far.is_empty() {
            so_far.push('/');
        }
        so_far.push_str(part);
        crumbs.push(json!({ "name": part, "path": so_far }));
    }
    let (folder, file) = match &browsed {
        Browsed::Folder { .. } => (Some(&browsed), None),
        Browsed::File { .. } => (None, Some(&browsed)),
    };
    render(
        &state,
        "browse.html",
        crate::page_ctx! {
            title => format!("{path} · {}", connection.name), nav => "connections",
            member => MemberView::of(&member), connection => ConnectionView::of(&connection, None),
            commit, path, crumbs, folder, file,
        },
    )
}
