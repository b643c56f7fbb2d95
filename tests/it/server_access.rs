//! `butterfly serve`'s access rules, on SQLite and PostgreSQL: every route of the access table ×
//! every role answers as DESIGN.md's role table says (through `Role::allows`); anonymous
//! requests are sent to sign in; and no route that takes an id reaches another team's objects.

use butterfly::server::access::{Access, ROUTES, role_may};
use butterfly::server::role::Role;
use butterfly::store::connections::ConnectionId;
use butterfly::store::jobs::JobId;
use butterfly::store::now;
use serde_json::json;

use super::support::db::databases;
use super::support::server::{Body, Server, Session, installation, member, send};
use super::support::sim::Sim;

/// Connections of these tests point at a simulator of the `tiny` fixture.
fn connection_input(org: &Sim, name: &str) -> butterfly::ops::connections::ConnectionInput {
    butterfly::ops::connections::ConnectionInput {
        name: name.into(),
        okta_domain: org.url.clone(),
        client_id: org.client_id.clone(),
        auth_method: "client_secret".into(),
        credential: org.client_secret.clone(),
    }
}

/// The body a route is sent with, so that an allowed call reaches its handler's work.
fn body_for(org: &Sim, method: &str, path: &str, n: usize) -> Body {
    let form = |pairs: &[(&str, String)]| {
        Body::Form(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    };
    match (method, path) {
        ("GET", _) => Body::None,
        ("POST", "/connections") => form(&[
            ("name", format!("New {n}")),
            ("okta_domain", org.url.clone()),
            ("client_id", org.client_id.clone()),
            ("auth_method", "client_secret".into()),
            ("credential", org.client_secret.clone()),
        ]),
        ("POST", "/connections/{id}") => form(&[
            ("name", format!("Renamed {n}")),
            ("okta_domain", org.url.clone()),
            ("client_id", org.client_id.clone()),
            ("auth_method", "client_secret".into()),
        ]),
        ("POST", "/connections/{id}/delete") => form(&[("repository", "remove".into())]),
        ("POST", "/members") => form(&[
            ("email", format!("new{n}@example.com")),
            ("role", "read_only".into()),
        ]),
        ("POST", "/members/{id}/role") => form(&[("role", "auditor".into())]),
        ("POST", "/members/{id}/active") => form(&[("active", "false".into())]),
        ("POST", "/settings/password") => form(&[("password", "correct horse battery".into())]),
        ("POST", "/api/v1/connections") => Body::Json(json!({
            "name": format!("Api {n}"), "okta_domain": org.url, "client_id": org.client_id,
            "credential": org.client_secret,
        })),
        ("POST", "/connections/{id}/schedule") => {
            form(&[("every", "daily".into()), ("at", "02:00".into())])
        }
        ("POST", "/settings/team") => form(&[("time_zone", "Europe/Paris".into())]),
        ("PUT", _) => Body::Json(json!({ "every": "weekly", "at": "03:30", "weekday": "sunday" })),
        ("PATCH", "/api/v1/team") => Body::Json(json!({ "time_zone": "America/New_York" })),
        ("PATCH", _) => Body::Json(json!({ "name": format!("Patched {n}") })),
        (_, p) if p.starts_with("/api/") => Body::Json(json!({})),
        _ => form(&[]),
    }
}

fn fill(path: &str, connection: ConnectionId, job: JobId, member: i64) -> String {
    let path = path
        .replace("{id}", &connection.0.to_string())
        .replace("{job}", &job.0.to_string())
        .replace("{token}", "not-a-token")
        .replace("{commit}", "0123456789abcdef0123456789abcdef01234567")
        .replace("{*path}", "okta/groups");
    if path.starts_with("/members/") {
        path.replace(
            &format!("/members/{}", connection.0),
            &format!("/members/{member}"),
        )
    } else {
        path
    }
}

/// Whether the access check refused the call for the role (not the handler for another reason).
fn refused_for_role(status: u16, body: &str) -> bool {
    status == 403 && body.contains("may not")
}

#[tokio::test]
async fn every_route_answers_every_role_as_the_role_table_says() {
    let org = Sim::start_unlimited("tiny");
    for db in databases("route × role").await {
        let store = db.open().await;
        let on = db.name.clone();
        let server = Server::start(&db, &["--workers", "0", "--allow-insecure-upstreams"]);
        let install = installation(&store, &db, true);

        let mut users = Vec::new();
        for role in Role::ALL {
            users.push((
                role,
                member(&store, "Acme", &format!("{role}@acme.example"), role).await,
            ));
        }
        let dummy = member(&store, "Acme", "dummy@acme.example", Role::ReadOnly).await;
        let acme = users[0].1.team;
        store
            .set_plan(
                &butterfly::store::accounts::TeamName::parse("Acme").unwrap(),
                "business",
            )
            .await
            .unwrap();
        let owner = Session::of(&store, &users[0].1).await;

        // Destructive routes last, each on a connection of its own.
        let mut routes: Vec<_> = ROUTES.iter().collect();
        routes.sort_by_key(|r| r.method == "DELETE" || r.path.ends_with("/delete"));
        let mut n = 0;
        let mut failures = Vec::new();
        // One connection (and queued backup) for the routes that leave it in place.
        let mut shared = None;
        for route in routes {
            if route.access == Access::Public {
                continue;
            }
            let destructive = route.method == "DELETE" || route.path.ends_with("/delete");
            for (role, user) in &users {
                n += 1;
                if destructive || shared.is_none() {
                    let connection = install
                        .create_connection(
                            &owner.actor(),
                            &connection_input(&org, &format!("C{n}")),
                        )
                        .await
                        .unwrap();
                    let (job, _) = store
                        .enqueue_backup(acme, connection.id, None, "manual", now())
                        .await
                        .unwrap();
                    shared = Some((connection, job));
                }
                let (connection, job) = shared.clone().unwrap();
                let session = Session::of(&store, user).await;
                let path = fill(route.path, connection.id, job.id, dummy.id.0);
                let (status, body, _) = send(
                    &server,
                    Some(&session),
                    route.method,
                    &path,
                    body_for(&org, route.method, route.path, n),
                )
                .await;
                let expected = role_may(*role, route.access);
                let refused = refused_for_role(status, &body);
                if expected == refused || status == 401 || status >= 500 {
                    failures.push(format!(
                        "{on}: {} {path} as {role}: expected {}, got {status}: {}",
                        route.method,
                        if expected { "allowed" } else { "refused" },
                        body.chars().take(200).collect::<String>()
                    ));
                }
                // Re-activate the dummy a super_admin deactivated.
                store.set_active(dummy.id, true).await.unwrap();
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        drop(server);
        db.finish().await;
    }
}

#[tokio::test]
async fn anonymous_requests_are_sent_to_sign_in_and_public_routes_answer() {
    let db = databases("anonymous").await.remove(0);
    let server = Server::start(&db, &["--workers", "0"]);
    for route in ROUTES {
        let path = fill(route.path, ConnectionId(1), JobId(1), 1);
        let (status, body, headers) = send(&server, None, route.method, &path, Body::None).await;
        match route.access {
            Access::Public => {
                if route.method == "GET" {
                    assert_eq!(status, 200, "{} {path}: {body}", route.method);
                }
            }
            _ if route.method == "GET" && !path.starts_with("/api/") => {
                assert_eq!(status, 303, "{} {path}", route.method);
                let location = headers["location"].to_str().unwrap();
                assert!(
                    location.starts_with("/login?next=%2F"),
                    "{path}: {location}"
                );
            }
            _ => assert_eq!(status, 401, "{} {path}: {body}", route.method),
        }
    }
    db.finish().await;
}

#[tokio::test]
async fn no_route_with_an_id_reaches_another_teams_objects() {
    let org = Sim::start_unlimited("tiny");
    for db in databases("tenant isolation").await {
        let store = db.open().await;
        let on = db.name.clone();
        let server = Server::start(&db, &["--workers", "0", "--allow-insecure-upstreams"]);
        let install = installation(&store, &db, true);
        let alice = member(&store, "Acme", "alice@acme.example", Role::SuperAdmin).await;
        let acme_member = member(&store, "Acme", "bo@acme.example", Role::Auditor).await;
        let mallory = member(&store, "Other", "mallory@other.example", Role::SuperAdmin).await;
        let alice_session = Session::of(&store, &alice).await;
        let connection = install
            .create_connection(&alice_session.actor(), &connection_input(&org, "Acme prod"))
            .await
            .unwrap();
        let (job, _) = store
            .enqueue_backup(alice.team, connection.id, None, "manual", now())
            .await
            .unwrap();
        let mallory_session = Session::of(&store, &mallory).await;

        let mut n = 0;
        for route in ROUTES
            .iter()
            .filter(|r| r.path.contains('{') && r.access != Access::Public)
        {
            n += 1;
            let path = fill(route.path, connection.id, job.id, acme_member.id.0);
            let (status, body, _) = send(
                &server,
                Some(&mallory_session),
                route.method,
                &path,
                body_for(&org, route.method, route.path, n),
            )
            .await;
            assert_eq!(
                status, 404,
                "{on}: {} {path} as another team: {body}",
                route.method
            );
            assert!(
                !body.contains("Acme prod") && !body.contains("bo@acme.example"),
                "{on}: {path} leaks: {body}"
            );
        }
        // Nothing of Acme's changed.
        let after = store
            .connection(alice.team, connection.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(after.name, "Acme prod", "{on}");
        let bo = store.find_user(acme_member.id).await.unwrap().unwrap();
        assert!(bo.active && bo.role == Role::Auditor, "{on}");
        // Lists show only the team's own.
        let (_, body, _) = send(
            &server,
            Some(&mallory_session),
            "GET",
            "/api/v1/connections",
            Body::None,
        )
        .await;
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap()["connections"],
            json!([]),
            "{on}"
        );
        let (_, body, _) = send(
            &server,
            Some(&mallory_session),
            "GET",
            "/api/v1/audit",
            Body::None,
        )
        .await;
        assert!(!body.contains("alice@acme.example"), "{on}: {body}");
        drop(server);
        db.finish().await;
    }
}
