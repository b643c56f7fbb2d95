//! The dashboard in a real browser: Debian's Chromium driven by playwright-core
//! (`browser/e2e.mjs`, installed by `npm ci` in `browser/`; never a downloaded browser). It signs
//! in, creates a connection to a simulator, tests it, runs a backup and watches its log until it
//! finishes, opens the snapshot, and checks that a read_only member cannot open backup contents;
//! every page it visits has a title and navigation, no horizontal scroll at 375 px, and no
//! serious or critical axe-core violation. Skips loudly without Chromium, Node.js or the npm
//! packages, and fails then under CI (`BUTTERFLY_REQUIRE_ALL`).

use std::path::Path;
use std::process::Command;

use butterfly::server::role::Role;
use serde_json::{Value, json};

use super::support::db::databases;
use super::support::require_file;
use super::support::root;
use super::support::server::{Server, member};
use super::support::sim::Sim;

const CHROMIUM: &str = "/usr/bin/chromium";

#[tokio::test]
async fn a_team_signs_in_connects_backs_up_and_browses_in_chromium() {
    let script = root().join("browser").join("e2e.mjs");
    let Some(_) = require_file(
        Path::new(CHROMIUM),
        "Debian's Chromium (apt install chromium; .ci/run does)",
    ) else {
        return;
    };
    let Some(_) = require_file(
        &root()
            .join("browser")
            .join("node_modules")
            .join("playwright-core"),
        "playwright-core (cd browser && npm ci; .ci/run does)",
    ) else {
        return;
    };
    let org = Sim::start_unlimited("tiny");
    for db in databases("browser").await {
        let store = db.open().await;
        let on = db.name.clone();
        let admin = member(&store, "Acme", "ana@acme.example", Role::SuperAdmin).await;
        store
            .set_password(admin.id, "correct horse battery")
            .await
            .unwrap();
        let reader = member(&store, "Acme", "rita@acme.example", Role::ReadOnly).await;
        store
            .set_password(reader.id, "staple battery horse")
            .await
            .unwrap();
        let server = Server::start(&db, &["--workers", "1", "--allow-insecure-upstreams"]);
        let input = json!({
            "server": server.url,
            "chromium": CHROMIUM,
            "sim": { "url": org.url, "client_id": org.client_id, "client_secret": org.client_secret },
            "admin": { "email": "ana@acme.example", "password": "correct horse battery" },
            "reader": { "email": "rita@acme.example", "password": "staple battery horse" },
        });
        let out = Command::new("node")
            .arg(&script)
            .arg(input.to_string())
            .current_dir(root().join("browser"))
            .output()
            .expect("run node (Node.js is needed for the browser tests)");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report: Value = stdout
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok())
            .unwrap_or_else(|| {
                panic!(
                    "{on}: no report from e2e.mjs:\n{stdout}\n{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        assert!(
            report["ok"] == true,
            "{on}: failed at `{}`: {}",
            report["step"].as_str().unwrap_or("?"),
            report["error"].as_str().unwrap_or("?")
        );
        let pages = report["pages"].as_array().unwrap();
        assert!(pages.len() >= 14, "{on}: {} pages visited", pages.len());
        let mut problems = Vec::new();
        for page in pages {
            let label = page["label"].as_str().unwrap_or("?");
            if !page["violations"].as_array().unwrap().is_empty() {
                problems.push(format!("{label}: axe: {}", page["violations"]));
            }
            if page["scrollWidth"].as_i64() > page["clientWidth"].as_i64() {
                problems.push(format!(
                    "{label}: scrolls sideways at 375 px ({} > {})",
                    page["scrollWidth"], page["clientWidth"]
                ));
            }
            if page["title"]
                .as_str()
                .is_none_or(|t| !t.ends_with("· Butterfly"))
                || page["hasNav"] != true
            {
                problems.push(format!(
                    "{label}: title {} / navigation {}",
                    page["title"], page["hasNav"]
                ));
            }
        }
        assert!(problems.is_empty(), "{on}:\n{}", problems.join("\n"));
        drop(server);
        db.finish().await;
    }
}
