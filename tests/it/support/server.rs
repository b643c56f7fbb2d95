//! Starts the real `butterfly serve` on a free loopback port over a test database (SQLite in a
//! temporary data directory, or a PostgreSQL schema of its own), stops it on drop, and sends it
//! requests as a signed-in member (a session made in the store, with its CSRF token).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use butterfly::catalogue::Catalogue;
use butterfly::ops::connections::{Actor, Installation};
use butterfly::server::role::Role;
use butterfly::store::accounts::{Email, TeamName, User};
use butterfly::store::sessions::{SESSION_TTL_SECS, Token};
use butterfly::store::{Store, now};
use butterfly::upstream::UpstreamPolicy;
use serde_json::Value;

use super::db::TestDb;

/// A running server.
pub struct Server {
    child: Child,
    pub url: String,
    pub http: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The installation a test writes through (same store and data directory as the server).
pub fn installation(store: &Store, db: &TestDb, allow_insecure: bool) -> Installation {
    Installation {
        store: store.clone(),
        catalogue: Catalogue::okta().expect("the catalogue loads"),
        data_dir: db.data_dir.path().to_path_buf(),
        upstream: UpstreamPolicy { allow_insecure },
    }
}

impl Server {
    /// `butterfly serve --listen 127.0.0.1:0 --data-dir <db> <extra>` with `DATABASE_URL` for
    /// PostgreSQL.
    pub fn start(db: &TestDb, extra: &[&str]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_butterfly"));
        command
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(db.data_dir.path())
            .args(extra)
            .env_remove("DATABASE_URL")
            .env_remove("BUTTERFLY_MASTER_KEY")
            .env_remove("BUTTERFLY_DATA_DIR")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = &db.url {
            command.env("DATABASE_URL", url);
        }
        let mut child = command.spawn().expect("start butterfly serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the start line");
        let start: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("serve's start line {line:?}: {e}"));
        let url = start["url"].as_str().expect("url").to_string();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        Server { child, url, http }
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

/// A signed-in member: the session cookie and its CSRF token.
#[derive(Clone)]
pub struct Session {
    pub user: User,
    pub cookie: String,
    pub csrf: String,
}

impl Session {
    /// A new session of `user`, made in the store.
    pub async fn of(store: &Store, user: &User) -> Session {
        let token: Token = store
            .create_session(user.id, now(), SESSION_TTL_SECS)
            .await
            .expect("create a session");
        Session {
            user: user.clone(),
            cookie: format!("butterfly_session={}", token.as_str()),
            csrf: butterfly::server::session::csrf_for(&token),
        }
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user: self.user.clone(),
            ip: "127.0.0.1".into(),
        }
    }
}

/// A member of `team` (made if needed) with `role`.
pub async fn member(store: &Store, team: &str, email: &str, role: Role) -> User {
    let (team, _) = store
        .ensure_team(&TeamName::parse(team).unwrap())
        .await
        .expect("a team");
    store
        .create_user(&team, &Email::parse(email).unwrap(), role)
        .await
        .expect("a user")
}

/// A request as a member: a form (with `_csrf`) for pages, JSON (with `X-CSRF-Token`) for the
/// API; `None` for a GET.
pub enum Body {
    None,
    Form(Vec<(String, String)>),
    Json(Value),
}

/// Sends `method path` as `session` (or anonymously); the status and the body text.
pub async fn send(
    server: &Server,
    session: Option<&Session>,
    method: &str,
    path: &str,
    body: Body,
) -> (u16, String, reqwest::header::HeaderMap) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let mut request = server.http.request(method.clone(), server.at(path));
    if let Some(session) = session {
        request = request.header("cookie", &session.cookie);
    }
    let unsafe_method = method != reqwest::Method::GET;
    request = match body {
        Body::None => match session {
            Some(session) if unsafe_method => request.header("x-csrf-token", &session.csrf),
            _ => request,
        },
        Body::Form(mut fields) => {
            if let Some(session) = session {
                fields.push(("_csrf".into(), session.csrf.clone()));
            }
            request.form(&fields)
        }
        Body::Json(value) => {
            let request = request.json(&value);
            match session {
                Some(session) => request.header("x-csrf-token", &session.csrf),
                None => request,
            }
        }
    };
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    (status, text, headers)
}
