//! `butterfly serve` as a team uses it, on SQLite and PostgreSQL: signing in (password, one-time
//! link, CSRF, Origin, throttling, sign-out), connections to a simulator (Test Connection, Run
//! Backup Now, the job's log and its one commit), plan limits, the audit trail and `/metrics`;
//! and DESIGN.md's upstream rule on a server started without `--allow-insecure-upstreams`.

use std::time::{Duration, Instant};

use butterfly::server::role::Role;
use butterfly::store::accounts::TeamName;
use butterfly::store::sessions::Token;
use serde_json::{Value, json};

use super::support::cli::Run;
use super::support::db::databases;
use super::support::server::{Body, Server, Session, member, send};
use super::support::sim::Sim;

fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The `butterfly_csrf` cookie the sign-in page sets, and its value in the form.
async fn sign_in_form(server: &Server) -> (String, String) {
    let response = server.http.get(server.at("/login")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let set = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("butterfly_csrf="))
        .expect("the sign-in page sets the CSRF cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    let value = set["butterfly_csrf=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = response.text().await.unwrap();
    assert!(page.contains(&value), "the form carries the cookie's value");
    (format!("butterfly_csrf={value}"), value)
}

async fn post_sign_in(server: &Server, cookie: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    server
        .http
        .post(server.at("/login"))
        .header("cookie", cookie)
        .form(&form(fields))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn signing_in_and_out_with_csrf_origin_and_throttling() {
    for db in databases("sign-in").await {
        let store = db.open().await;
        let on = db.name.clone();
        let server = Server::start(&db, &["--workers", "0"]);
        let ana = member(&store, "Acme", "ana@acme.example", Role::Admin).await;
        store
            .set_password(ana.id, "correct horse battery")
            .await
            .unwrap();

        let (cookie, csrf) = sign_in_form(&server).await;
        // No token, or another one: refused before the password is even looked at.
        let refused = post_sign_in(
            &server,
            &cookie,
            &[
                ("email", "ana@acme.example"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
        assert_eq!(refused.status(), 403, "{on}");
        let refused = post_sign_in(
            &server,
            "butterfly_csrf=other",
            &[
                ("_csrf", &csrf),
                ("email", "ana@acme.example"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
        assert_eq!(refused.status(), 403, "{on}");
        // Another site's form: refused by its Origin.
        let cross = server
            .http
            .post(server.at("/login"))
            .header("cookie", &cookie)
            .header("origin", "https://evil.example")
            .form(&form(&[
                ("_csrf", &csrf),
                ("email", "ana@acme.example"),
                ("password", "correct horse battery"),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(cross.status(), 403, "{on}");
        assert!(cross.text().await.unwrap().contains("another site"), "{on}");

        // A wrong password: 401, the same words as an unknown email.
        let wrong = post_sign_in(
            &server,
            &cookie,
            &[
                ("_csrf", &csrf),
                ("email", "ana@acme.example"),
                ("password", "nope nope nope"),
            ],
        )
        .await;
        assert_eq!(wrong.status(), 401, "{on}");
        let unknown = post_sign_in(
            &server,
            &cookie,
            &[
                ("_csrf", &csrf),
                ("email", "nobody@acme.example"),
                ("password", "nope nope nope"),
            ],
        )
        .await;
        assert_eq!(unknown.status(), 401, "{on}");
        assert!(
            unknown
                .text()
                .await
                .unwrap()
                .contains("the email or the password is wrong"),
            "{on}"
        );

        // The right password: a session cookie with its flags, and the page asked for.
        let ok = post_sign_in(
            &server,
            &cookie,
            &[
                ("_csrf", &csrf),
                ("email", "ANA@acme.example"),
                ("password", "correct horse battery"),
                ("next", "/audit"),
            ],
        )
        .await;
        assert_eq!(ok.status(), 303, "{on}");
        assert_eq!(ok.headers()["location"], "/audit", "{on}");
        let set = ok.headers()["set-cookie"].to_str().unwrap().to_string();
        for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(set.contains(flag), "{on}: {set}");
        }
        assert!(
            !set.contains("Secure"),
            "{on}: plain http base URL, no Secure flag"
        );
        let session_cookie = set.split(';').next().unwrap().to_string();
        let me = server
            .http
            .get(server.at("/api/v1/me"))
            .header("cookie", &session_cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200, "{on}");
        let me: Value = me.json().await.unwrap();
        assert_eq!(me["email"], "ana@acme.example", "{on}");
        let token = me["csrf"].as_str().unwrap().to_string();
        // An API change without the session's CSRF token is refused.
        let no_token = server
            .http
            .post(server.at("/api/v1/connections"))
            .header("cookie", &session_cookie)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(no_token.status(), 403, "{on}");
        // Next to an open redirect: `next` stays on this server.
        let ok = post_sign_in(
            &server,
            &cookie,
            &[
                ("_csrf", &csrf),
                ("email", "ana@acme.example"),
                ("password", "correct horse battery"),
                ("next", "//evil.example/"),
            ],
        )
        .await;
        assert_eq!(ok.headers()["location"], "/", "{on}");

        // Sign-out ends the session server-side.
        let out = server
            .http
            .post(server.at("/logout"))
            .header("cookie", &session_cookie)
            .form(&form(&[("_csrf", &token)]))
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 303, "{on}");
        assert!(
            out.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .contains("Max-Age=0"),
            "{on}"
        );
        let after = server
            .http
            .get(server.at("/api/v1/me"))
            .header("cookie", &session_cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(after.status(), 401, "{on}");

        // Five failures lock the account out, even with the right password, saying until when.
        for _ in 0..5 {
            let wrong = post_sign_in(
                &server,
                &cookie,
                &[
                    ("_csrf", &csrf),
                    ("email", "ana@acme.example"),
                    ("password", "wrong wrong wrong"),
                ],
            )
            .await;
            assert!(matches!(wrong.status().as_u16(), 401 | 429), "{on}");
        }
        let locked = post_sign_in(
            &server,
            &cookie,
            &[
                ("_csrf", &csrf),
                ("email", "ana@acme.example"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
        assert_eq!(locked.status(), 429, "{on}");
        assert!(
            locked
                .text()
                .await
                .unwrap()
                .contains("too many failed sign-ins"),
            "{on}"
        );

        // A one-time link: showing it does not use it; it signs in once.
        let bo = member(&store, "Acme", "bo@acme.example", Role::ReadOnly).await;
        let link: Token = store
            .create_sign_in_link(bo.id, butterfly::store::now(), 3600)
            .await
            .unwrap();
        let path = format!("/login/once/{}", link.as_str());
        let page = server.http.get(server.at(&path)).send().await.unwrap();
        assert_eq!(page.status(), 200, "{on}");
        let set = page.headers()["set-cookie"].to_str().unwrap().to_string();
        let link_cookie = set.split(';').next().unwrap().to_string();
        let link_csrf = link_cookie["butterfly_csrf=".len()..].to_string();
        let use_it = || async {
            server
                .http
                .post(server.at(&path))
                .header("cookie", &link_cookie)
                .form(&form(&[("_csrf", &link_csrf)]))
                .send()
                .await
                .unwrap()
        };
        let first = use_it().await;
        assert_eq!(first.status(), 303, "{on}");
        assert_eq!(first.headers()["location"], "/settings?notice=link", "{on}");
        let second = use_it().await;
        assert_eq!(second.status(), 410, "{on}");

        // The audit trail recorded the sign-ins and the sign-out, with the address.
        let events = store.audit_events(ana.team, 100).await.unwrap();
        let actions: Vec<&str> = events.iter().map(|e| e.entry.action.as_str()).collect();
        assert!(
            actions.contains(&"sign_in") && actions.contains(&"sign_out"),
            "{on}: {actions:?}"
        );
        assert!(events.iter().all(|e| e.entry.ip == "127.0.0.1"), "{on}");
        drop(server);
        db.finish().await;
    }
}

/// Polls the job until it is finished.
async fn wait_for_job(server: &Server, session: &Session, job: i64) -> Value {
    let started = Instant::now();
    loop {
        let (status, body, _) = send(
            server,
            Some(session),
            "GET",
            &format!("/api/v1/jobs/{job}"),
            Body::None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let job: Value = serde_json::from_str(&body).unwrap();
        if job["status"] == "succeeded" || job["status"] == "failed" {
            return job;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the backup did not finish: {job}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn a_connection_is_tested_and_backed_up_with_its_log_and_plan_limits() {
    let org = Sim::start_unlimited("tiny");
    for db in databases("connections").await {
        let store = db.open().await;
        let on = db.name.clone();
        let server = Server::start(&db, &["--workers", "1", "--allow-insecure-upstreams"]);
        let ana = member(&store, "Acme", "ana@acme.example", Role::Admin).await;
        let ana = Session::of(&store, &ana).await;
        let bob = member(&store, "Acme", "bob@acme.example", Role::BackupOperator).await;
        let bob = Session::of(&store, &bob).await;

        let create = |name: &str| {
            Body::Json(json!({
                "name": name, "okta_domain": org.url, "client_id": org.client_id,
                "auth_method": "client_secret", "credential": org.client_secret,
            }))
        };
        let (status, body, _) = send(
            &server,
            Some(&ana),
            "POST",
            "/api/v1/connections",
            create("Tiny"),
        )
        .await;
        assert_eq!(status, 201, "{on}: {body}");
        let connection: Value = serde_json::from_str(&body).unwrap();
        let id = connection["id"].as_i64().unwrap();
        assert!(
            !body.contains(&org.client_secret),
            "{on}: the secret is never returned"
        );
        // The secret is sealed at rest: not in the database file in the clear.
        if db.url.is_none() {
            let bytes = std::fs::read(db.data_dir.path().join("butterfly.db")).unwrap();
            let needle = org.client_secret.as_bytes();
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{on}: the client secret is stored in the clear"
            );
        }

        // Free plan: one connection. The operator moves the team to Standard: two.
        let (status, body, _) = send(
            &server,
            Some(&ana),
            "POST",
            "/api/v1/connections",
            create("Second"),
        )
        .await;
        assert_eq!(status, 402, "{on}: {body}");
        assert!(
            body.contains("the free plan allows 1 connection"),
            "{on}: {body}"
        );
        let run = Run::from(
            std::process::Command::new(env!("CARGO_BIN_EXE_butterfly"))
                .args([
                    "admin",
                    "set-plan",
                    "--team",
                    "Acme",
                    "--plan",
                    "standard",
                    "--data-dir",
                ])
                .arg(db.data_dir.path())
                .envs(db.url.iter().map(|u| ("DATABASE_URL", u.as_str())))
                .env_remove("BUTTERFLY_MASTER_KEY")
                .output()
                .unwrap(),
        );
        assert_eq!(run.code, 0, "{on}: {}", run.text());
        let (status, body, _) = send(
            &server,
            Some(&ana),
            "POST",
            "/api/v1/connections",
            create("Second"),
        )
        .await;
        assert_eq!(status, 201, "{on}: {body}");
        let (status, body, _) = send(
            &server,
            Some(&ana),
            "POST",
            "/api/v1/connections",
            create("Third"),
        )
        .await;
        assert_eq!(status, 402, "{on}: {body}");
        assert!(
            body.contains("the standard plan allows 2 connection"),
            "{on}: {body}"
        );
        let unknown = store
            .set_plan(&TeamName::parse("Nobody").unwrap(), "business")
            .await
            .unwrap();
        assert!(!unknown, "{on}");

        // Test Connection, as a backup operator: every kind of the tiny org answers.
        let (status, body, _) = send(
            &server,
            Some(&bob),
            "POST",
            &format!("/api/v1/connections/{id}/test"),
            Body::Json(json!({})),
        )
        .await;
        assert_eq!(status, 200, "{on}: {body}");
        let report: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(report["problems"], 0, "{on}: {body}");
        assert!(
            report["kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"] == "group" && k["status"] == "ok"),
            "{on}"
        );
        // The page shows the same, per kind.
        let page = server
            .http
            .post(server.at(&format!("/connections/{id}/test")))
            .header("cookie", &bob.cookie)
            .form(&form(&[("_csrf", &bob.csrf)]))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{on}");
        assert!(
            page.text()
                .await
                .unwrap()
                .contains("every kind can be backed up"),
            "{on}"
        );

        // Run Backup Now; asking again while it is queued or running gives the same job.
        let (status, body, _) = send(
            &server,
            Some(&bob),
            "POST",
            &format!("/api/v1/connections/{id}/backups"),
            Body::Json(json!({})),
        )
        .await;
        assert_eq!(status, 202, "{on}: {body}");
        let job_id = serde_json::from_str::<Value>(&body).unwrap()["job"]["id"]
            .as_i64()
            .unwrap();
        let (_, again, _) = send(
            &server,
            Some(&bob),
            "POST",
            &format!("/api/v1/connections/{id}/backups"),
            Body::Json(json!({})),
        )
        .await;
        let again: Value = serde_json::from_str(&again).unwrap();
        if again["new"] == false {
            assert_eq!(again["job"]["id"].as_i64(), Some(job_id), "{on}");
        } else {
            // Only once the first has ended may a second be queued.
            let first = store
                .job(ana.user.team, butterfly::store::jobs::JobId(job_id))
                .await
                .unwrap()
                .unwrap();
            assert!(
                first.status.is_finished(),
                "{on}: a second backup queued beside {first:?}"
            );
            wait_for_job(&server, &bob, again["job"]["id"].as_i64().unwrap()).await;
        }
        let job = wait_for_job(&server, &bob, job_id).await;
        assert_eq!(job["status"], "succeeded", "{on}: {job}");
        let commit = job["commit"].as_str().unwrap();
        let repo = db
            .data_dir
            .path()
            .join("repos")
            .join(format!("team-{}", ana.user.team.0))
            .join(format!("connection-{id}"));
        let log = git(&repo, &["log", "--format=%H %s", "main"]);
        assert!(
            log.lines().next().unwrap().starts_with(commit),
            "{on}: {log}"
        );
        assert!(
            git(&repo, &["ls-tree", "-r", "--name-only", "main"]).contains("okta/groups/"),
            "{on}"
        );

        // The log: started, per kind, the commit.
        let (_, body, _) = send(
            &server,
            Some(&bob),
            "GET",
            &format!("/api/v1/jobs/{job_id}/log"),
            Body::None,
        )
        .await;
        let lines: Value = serde_json::from_str(&body).unwrap();
        let text: Vec<&str> = lines["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["line"].as_str().unwrap())
            .collect();
        assert!(text[0].starts_with("backup started by"), "{on}: {text:?}");
        assert!(
            text.iter().any(|l| l.starts_with("group: ")),
            "{on}: {text:?}"
        );
        assert!(
            text.last()
                .unwrap()
                .contains(&format!("snapshot {commit} committed")),
            "{on}: {text:?}"
        );
        let after = lines["lines"].as_array().unwrap()[2]["id"]
            .as_i64()
            .unwrap();
        let (_, body, _) = send(
            &server,
            Some(&bob),
            "GET",
            &format!("/api/v1/jobs/{job_id}/log?after={after}"),
            Body::None,
        )
        .await;
        let rest: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            rest["lines"].as_array().unwrap().len(),
            text.len() - 3,
            "{on}: only the lines after"
        );
        // The connection page lists the backup; its log page shows the lines.
        let (status, page, _) = send(
            &server,
            Some(&bob),
            "GET",
            &format!("/connections/{id}"),
            Body::None,
        )
        .await;
        assert_eq!(status, 200, "{on}");
        assert!(
            page.contains(&format!("/connections/{id}/jobs/{job_id}"))
                && page.contains("succeeded"),
            "{on}"
        );
        let (status, page, _) = send(
            &server,
            Some(&bob),
            "GET",
            &format!("/connections/{id}/jobs/{job_id}"),
            Body::None,
        )
        .await;
        assert_eq!(status, 200, "{on}");
        assert!(page.contains("committed"), "{on}");

        // The snapshot browser: the list, the kinds, a folder, a resource with its references
        // as links to their files. A backup operator may not open contents.
        let (status, page, _) = send(
            &server,
            Some(&ana),
            "GET",
            &format!("/connections/{id}/snapshots"),
            Body::None,
        )
        .await;
        assert_eq!(status, 200, "{on}: {page}");
        assert!(
            page.contains(&format!("/connections/{id}/snapshots/{commit}")),
            "{on}: {page}"
        );
        let (status, page, _) = send(
            &server,
            Some(&ana),
            "GET",
            &format!("/connections/{id}/snapshots/{commit}"),
            Body::None,
        )
        .await;
        assert_eq!(status, 200, "{on}");
        assert!(
            page.contains("okta&#x2f;group-rules") && page.contains(">group_rule<"),
            "{on}: {page}"
        );
        let (status, page, _) = send(
            &server,
            Some(&ana),
            "GET",
            &format!("/connections/{id}/snapshots/{commit}/okta/group-rules"),
            Body::None,
        )
        .await;
        assert_eq!(status, 200, "{on}");
        assert!(page.contains("Engineering - auto.json"), "{on}: {page}");
        let (status, page, _) = send(
            &server,
            Some(&ana),
            "GET",
            &format!(
                "/connections/{id}/snapshots/{commit}/okta/group-rules/Engineering%20-%20auto.json"
            ),
            Body::None,
        )
        .await;
        assert_eq!(status, 200, "{on}: {page}");
        assert!(
            page.contains("&quot;conditions&quot;"),
            "{on}: the JSON is shown: {page}"
        );
        assert!(
            page.contains(&format!(
                "/connections/{id}/snapshots/{commit}/okta&#x2f;groups&#x2f;"
            )),
            "{on}: the rule's group is a link: {page}"
        );
        for (path, why) in [
            (
                format!("/connections/{id}/snapshots/main~1"),
                "revision syntax",
            ),
            (
                format!("/connections/{id}/snapshots/{commit}/okta/../butterfly.toml"),
                "outside okta/",
            ),
            (
                format!("/connections/{id}/snapshots/{commit}/okta/nothing-here"),
                "missing",
            ),
        ] {
            let (status, _, _) = send(&server, Some(&ana), "GET", &path, Body::None).await;
            assert_eq!(status, 404, "{on}: {why}: {path}");
        }
        let (status, body, _) = send(
            &server,
            Some(&bob),
            "GET",
            &format!("/connections/{id}/snapshots/{commit}"),
            Body::None,
        )
        .await;
        assert_eq!(
            status, 403,
            "{on}: a backup operator may not see contents: {body}"
        );

        // A second backup with nothing changed: succeeded, no new commit.
        let (_, body, _) = send(
            &server,
            Some(&bob),
            "POST",
            &format!("/api/v1/connections/{id}/backups"),
            Body::Json(json!({})),
        )
        .await;
        let second = serde_json::from_str::<Value>(&body).unwrap()["job"]["id"]
            .as_i64()
            .unwrap();
        let job = wait_for_job(&server, &bob, second).await;
        assert_eq!(
            (job["status"].as_str(), job["commit"].as_str()),
            (Some("succeeded"), Some(commit)),
            "{on}: {job}"
        );
        assert_eq!(
            git(&repo, &["rev-list", "--count", "main"]).trim(),
            "2",
            "{on}: init + one snapshot"
        );

        // Metrics count the jobs; the audit trail names who did what.
        let metrics = server
            .http
            .get(server.at("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("butterfly_jobs{status=\"succeeded\"} 2"),
            "{on}: {metrics}"
        );
        let (_, body, _) = send(&server, Some(&ana), "GET", "/api/v1/audit", Body::None).await;
        for action in ["connection.create", "connection.test", "backup.run"] {
            assert!(body.contains(action), "{on}: {action} in {body}");
        }
        assert!(body.contains("bob@acme.example"), "{on}");
        // Edit keeps the org; delete removes or keeps the repository as asked.
        let (status, body, _) = send(
            &server,
            Some(&ana),
            "PATCH",
            &format!("/api/v1/connections/{id}"),
            Body::Json(json!({"okta_domain": "other.okta.com"})),
        )
        .await;
        assert_eq!(status, 422, "{on}: {body}");
        assert!(body.contains("cannot change"), "{on}: {body}");
        let (status, body, _) = send(
            &server,
            Some(&ana),
            "DELETE",
            &format!("/api/v1/connections/{id}?repository=keep"),
            Body::None,
        )
        .await;
        assert_eq!(status, 200, "{on}: {body}");
        assert!(!repo.exists(), "{on}: moved aside");
        let kept = std::fs::read_dir(db.data_dir.path().join("repos").join("deleted"))
            .unwrap()
            .count();
        assert_eq!(kept, 1, "{on}");
        drop(server);
        db.finish().await;
    }
}

#[tokio::test]
async fn without_allow_insecure_upstreams_each_forbidden_kind_of_org_address_is_refused() {
    let db = databases("upstreams").await.remove(0);
    let store = db.open().await;
    let server = Server::start(&db, &["--workers", "0"]);
    let ana = member(&store, "Acme", "ana@acme.example", Role::Admin).await;
    let ana = Session::of(&store, &ana).await;
    for (domain, why) in [
        ("http://acme.okta.com", "plain http"),
        ("https://127.0.0.1", "loopback"),
        ("https://[::1]", "loopback"),
        ("https://localhost", "loopback"),
        ("https://10.0.0.8", "private"),
        ("https://192.168.0.8", "private"),
        ("https://169.254.169.254", "cloud metadata"),
        ("https://169.254.3.4", "link-local"),
        ("https://100.64.1.1", "carrier-grade NAT"),
    ] {
        let (status, body, _) = send(
            &server,
            Some(&ana),
            "POST",
            "/api/v1/connections",
            Body::Json(
                json!({"name": "X", "okta_domain": domain, "client_id": "0oa1", "credential": "s"}),
            ),
        )
        .await;
        assert_eq!(status, 422, "{domain}: {body}");
        assert!(body.contains(why), "{domain}: {body}");
    }
    // A name that resolves to a forbidden address passes the form and is refused when used:
    // this machine's own name (a loopback or private address on any machine without a public one).
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .expect("this machine's name")
        .trim()
        .to_string();
    let (status, body, _) = send(
        &server,
        Some(&ana),
        "POST",
        "/api/v1/connections",
        Body::Json(json!({"name": "Rebinding", "okta_domain": format!("https://{host}"), "client_id": "0oa1", "credential": "s"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_i64()
        .unwrap();
    let (status, body, _) = send(
        &server,
        Some(&ana),
        "POST",
        &format!("/api/v1/connections/{id}/test"),
        Body::Json(json!({})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("resolves to") && body.contains("loopback"),
        "{body}"
    );
    drop(server);
    db.finish().await;
}

#[tokio::test]
async fn schedules_run_in_the_team_time_zone_and_refuse_intervals_shorter_than_a_backup() {
    for db in databases("schedules").await {
        let store = db.open().await;
        let on = db.name.clone();
        let server = Server::start(&db, &["--workers", "0", "--allow-insecure-upstreams"]);
        let install = super::support::server::installation(&store, &db, true);
        let root = member(&store, "Acme", "root@acme.example", Role::SuperAdmin).await;
        let root = Session::of(&store, &root).await;
        let bob = member(&store, "Acme", "bob@acme.example", Role::BackupOperator).await;
        let bob = Session::of(&store, &bob).await;
        let connection = install
            .create_connection(
                &root.actor(),
                &butterfly::ops::connections::ConnectionInput {
                    name: "Prod".into(),
                    okta_domain: "http://127.0.0.1:9".into(),
                    client_id: "0oa1".into(),
                    auth_method: "client_secret".into(),
                    credential: "s".into(),
                },
            )
            .await
            .unwrap();
        let id = connection.id.0;

        // The team's time zone, set by its super_admin; a bad name is refused naming it.
        let (status, body, _) = send(
            &server,
            Some(&root),
            "PATCH",
            "/api/v1/team",
            Body::Json(json!({"time_zone": "Mars/Olympus"})),
        )
        .await;
        assert_eq!(status, 422, "{on}: {body}");
        assert!(body.contains("Mars/Olympus"), "{on}: {body}");
        let (status, body, _) = send(
            &server,
            Some(&root),
            "PATCH",
            "/api/v1/team",
            Body::Json(json!({"time_zone": "Europe/Paris"})),
        )
        .await;
        assert_eq!(status, 200, "{on}: {body}");

        // Daily at 02:00 Paris time: the next run is a 02:00 in Paris.
        let (status, body, _) = send(
            &server,
            Some(&bob),
            "PUT",
            &format!("/api/v1/connections/{id}/schedule"),
            Body::Json(json!({"every": "daily", "at": "02:00"})),
        )
        .await;
        assert_eq!(status, 200, "{on}: {body}");
        let view: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(view["schedule"]["description"], "daily at 02:00", "{on}");
        let next =
            chrono::DateTime::from_timestamp(view["schedule"]["next_run_at"].as_i64().unwrap(), 0)
                .unwrap();
        let paris = next.with_timezone(&chrono_tz::Europe::Paris);
        assert_eq!(paris.format("%H:%M").to_string(), "02:00", "{on}: {paris}");
        assert!(
            view["schedule"]["next_run"]
                .as_str()
                .unwrap()
                .contains("02:00"),
            "{on}: {body}"
        );
        let (status, body, _) = send(
            &server,
            Some(&bob),
            "PUT",
            &format!("/api/v1/connections/{id}/schedule"),
            Body::Json(json!({"every": "daily", "at": "25:00"})),
        )
        .await;
        assert_eq!(status, 422, "{on}: {body}");
        assert!(body.contains("at: `25:00` is not a time"), "{on}: {body}");

        // A last full backup that took 1 h 23 min 20 s: hourly is refused with both durations.
        let t = butterfly::store::now();
        let (job, _) = store
            .enqueue_backup(connection.team, connection.id, None, "manual", t - 6000)
            .await
            .unwrap();
        let claimed = store
            .claim_job("test", t - 5000, 60)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.id, job.id);
        let summary = json!({"added": 1, "changed": 0, "removed": 0, "incomplete": []}).to_string();
        let ok = butterfly::store::jobs::JobOutcome::Succeeded {
            commit: "abc",
            summary: &summary,
            okta_requests: 1,
        };
        assert!(store.finish_job(job.id, "test", &ok, t).await.unwrap());
        let (status, body, _) = send(
            &server,
            Some(&bob),
            "PUT",
            &format!("/api/v1/connections/{id}/schedule"),
            Body::Json(json!({"every": "hourly", "at": ":15"})),
        )
        .await;
        assert_eq!(status, 422, "{on}: {body}");
        assert!(
            body.contains("every 1 h 0 min") && body.contains("took 1 h 23 min"),
            "{on}: {body}"
        );
        // The page says the same.
        let page = server
            .http
            .post(server.at(&format!("/connections/{id}/schedule")))
            .header("cookie", &bob.cookie)
            .form(&form(&[
                ("_csrf", &bob.csrf),
                ("every", "hourly"),
                ("at", ":15"),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 422, "{on}");
        assert!(
            page.text().await.unwrap().contains("took 1 h 23 min"),
            "{on}"
        );

        // Due: the scheduler queues one backup and moves the schedule on, once however many
        // processes tick at the same moment.
        let mut row = store
            .schedule(connection.team, connection.id)
            .await
            .unwrap()
            .unwrap();
        row.next_run_at = t - 10;
        store.set_schedule(&row).await.unwrap();
        let now = chrono::Utc::now();
        let (a, b) = tokio::join!(
            butterfly::jobs::scheduler::tick(&install, now),
            butterfly::jobs::scheduler::tick(&install, now)
        );
        assert_eq!(a.unwrap() + b.unwrap(), 1, "{on}: queued once");
        let jobs = store
            .jobs_of_connection(connection.team, connection.id, 10)
            .await
            .unwrap();
        assert_eq!(jobs[0].origin, "schedule", "{on}");
        let row = store
            .schedule(connection.team, connection.id)
            .await
            .unwrap()
            .unwrap();
        assert!(
            row.next_run_at > now.timestamp(),
            "{on}: moved to the next run"
        );
        assert_eq!(
            butterfly::jobs::scheduler::tick(&install, now)
                .await
                .unwrap(),
            0,
            "{on}"
        );

        // Off, from the page; the audit trail has each change.
        let page = server
            .http
            .post(server.at(&format!("/connections/{id}/schedule")))
            .header("cookie", &bob.cookie)
            .form(&form(&[("_csrf", &bob.csrf), ("every", "off")]))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 303, "{on}");
        assert!(
            store
                .schedule(connection.team, connection.id)
                .await
                .unwrap()
                .is_none(),
            "{on}"
        );
        let actions: Vec<String> = store
            .audit_events(connection.team, 50)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.entry.action)
            .collect();
        for action in ["team.time_zone", "schedule.set", "schedule.clear"] {
            assert!(
                actions.iter().any(|a| a == action),
                "{on}: {action} in {actions:?}"
            );
        }
        drop(server);
        db.finish().await;
    }
}

#[tokio::test]
async fn retention_follows_the_plan_after_each_backup_and_keeps_ids_and_fsck_clean() {
    let org = Sim::start_unlimited("tiny");
    let db = databases("retention").await.remove(0);
    let store = db.open().await;
    let server = Server::start(&db, &["--workers", "1", "--allow-insecure-upstreams"]);
    let install = super::support::server::installation(&store, &db, true);
    let mut repos = Vec::new();
    for (team, plan) in [("Free team", "free"), ("Business team", "business")] {
        let admin = member(&store, team, &format!("admin@{plan}.example"), Role::Admin).await;
        store
            .set_plan(&TeamName::parse(team).unwrap(), plan)
            .await
            .unwrap();
        let session = Session::of(&store, &admin).await;
        let connection = install
            .create_connection(
                &session.actor(),
                &butterfly::ops::connections::ConnectionInput {
                    name: "Tiny".into(),
                    okta_domain: org.url.clone(),
                    client_id: org.client_id.clone(),
                    auth_method: "client_secret".into(),
                    credential: org.client_secret.clone(),
                },
            )
            .await
            .unwrap();
        repos.push((plan, session, connection));
    }
    let mut commits: Vec<Vec<String>> = vec![Vec::new(), Vec::new()];
    for round in 0..2 {
        if round == 1 {
            // A change in the org between the two backups, so the second is a new snapshot.
            let created = org
                .ssws()
                .post(format!("{}/api/v1/groups", org.url))
                .json(&json!({"profile": {"name": "Retention check", "description": "made between backups"}}))
                .send()
                .await
                .unwrap();
            assert!(
                created.status().is_success(),
                "{}",
                created.text().await.unwrap()
            );
        }
        for (i, (plan, session, connection)) in repos.iter().enumerate() {
            let (status, body, _) = send(
                &server,
                Some(session),
                "POST",
                &format!("/api/v1/connections/{}/backups", connection.id.0),
                Body::Json(json!({})),
            )
            .await;
            assert_eq!(status, 202, "{plan}: {body}");
            let id = serde_json::from_str::<Value>(&body).unwrap()["job"]["id"]
                .as_i64()
                .unwrap();
            let job = wait_for_job(&server, session, id).await;
            assert_eq!(job["status"], "succeeded", "{plan}: {job}");
            let full = store
                .job(connection.team, butterfly::store::jobs::JobId(id))
                .await
                .unwrap()
                .unwrap();
            commits[i].push(full.commit_id.unwrap());
        }
    }
    for (i, (plan, _, connection)) in repos.iter().enumerate() {
        let repo = butterfly::ops::connections::repository_dir(
            db.data_dir.path(),
            connection.team,
            connection.id,
        );
        let listed = git(&repo, &["rev-list", "main"]);
        let listed: Vec<&str> = listed.lines().collect();
        assert_ne!(
            commits[i][0], commits[i][1],
            "{plan}: the second backup is a new snapshot"
        );
        match *plan {
            // Free keeps its one backup: the newest, with its id; the first is gone.
            "free" => {
                assert_eq!(listed, vec![commits[i][1].as_str()], "{plan}");
                let gone = std::process::Command::new("git")
                    .arg("-C")
                    .arg(&repo)
                    .args(["cat-file", "-e", &commits[i][0]])
                    .status()
                    .unwrap();
                assert!(
                    !gone.success(),
                    "{plan}: the removed snapshot's commit is gone"
                );
            }
            // Business keeps everything (both snapshots and the init commit).
            _ => assert_eq!(listed.len(), 3, "{plan}: {listed:?}"),
        }
        let fsck = std::process::Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(["fsck", "--full"])
            .output()
            .unwrap();
        assert!(
            fsck.status.success(),
            "{plan}: {}",
            String::from_utf8_lossy(&fsck.stderr)
        );
    }
    drop(server);
    db.finish().await;
}

#[tokio::test]
async fn serve_refuses_to_start_without_the_master_key_of_its_encrypted_data() {
    let db = databases("master key").await.remove(0);
    let store = db.open().await;
    let admin = member(&store, "Acme", "ana@acme.example", Role::Admin).await;
    store
        .put_secret(admin.team, "probe", b"sealed")
        .await
        .unwrap();
    store.close().await;
    let serve = |key: Option<&str>, remove_file: bool| {
        if remove_file {
            let _ = std::fs::rename(
                db.data_dir.path().join("master.key"),
                db.data_dir.path().join("master.key.moved"),
            );
        }
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_butterfly"));
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--workers",
                "0",
                "--data-dir",
            ])
            .arg(db.data_dir.path())
            .env_remove("DATABASE_URL")
            .env_remove("BUTTERFLY_MASTER_KEY");
        if let Some(key) = key {
            command.env("BUTTERFLY_MASTER_KEY", key);
        }
        Run::from(command.output().unwrap())
    };
    let wrong = serve(Some(&"ab".repeat(32)), false);
    assert_eq!(wrong.code, 3, "{}", wrong.text());
    assert!(
        wrong.stderr.contains("BUTTERFLY_MASTER_KEY"),
        "names where the key came from: {}",
        wrong.text()
    );
    assert!(
        !wrong.text().contains(&"ab".repeat(32)),
        "never prints the key"
    );
    let missing = serve(None, true);
    assert_eq!(missing.code, 3, "{}", missing.text());
    assert!(missing.stderr.contains("master.key"), "{}", missing.text());
    db.finish().await;
}
