//! Benchmark of issue #8's connection page: a connection with 1 000 finished backups (each with
//! its summary), `GET /connections/{id}` served by `butterfly serve` on SQLite, timed 200 times
//! over loopback after 20 warm-up requests. The time measured is the whole round trip, an upper
//! bound of the server's time. Target: median < 100 ms. Prints every number; exits 1 when the
//! target is missed. Run with `cargo bench --bench server`; figures go to BENCHMARKS.md. Not run
//! in CI.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use butterfly::catalogue::Catalogue;
use butterfly::ops::connections::{Actor, ConnectionInput, Installation};
use butterfly::server::role::Role;
use butterfly::store::accounts::{Email, TeamName};
use butterfly::store::jobs::JobOutcome;
use butterfly::store::sessions::SESSION_TTL_SECS;
use butterfly::store::{Store, StoreConfig, now};
use butterfly::upstream::UpstreamPolicy;

const BACKUPS: usize = 1000;
const WARM_UP: usize = 20;
const RUNS: usize = 200;
const TARGET: Duration = Duration::from_millis(100);

#[tokio::main]
async fn main() {
    let data = tempfile::tempdir().expect("a data directory");
    let config = StoreConfig {
        data_dir: data.path().to_path_buf(),
        database_url: None,
        master_key: None,
    };
    let store = Store::open(&config).await.expect("open the store");
    let (team, _) = store
        .ensure_team(&TeamName::parse("Bench").unwrap())
        .await
        .unwrap();
    store
        .set_plan(&TeamName::parse("Bench").unwrap(), "business")
        .await
        .unwrap();
    let user = store
        .create_user(
            &team,
            &Email::parse("bench@bench.example").unwrap(),
            Role::Admin,
        )
        .await
        .unwrap();
    let install = Installation {
        store: store.clone(),
        catalogue: Catalogue::okta().unwrap(),
        data_dir: data.path().to_path_buf(),
        upstream: UpstreamPolicy {
            allow_insecure: true,
        },
    };
    let actor = Actor {
        user: user.clone(),
        ip: "127.0.0.1".into(),
    };
    let connection = install
        .create_connection(
            &actor,
            &ConnectionInput {
                name: "Production".into(),
                okta_domain: "http://127.0.0.1:9".into(),
                client_id: "0oabench".into(),
                auth_method: "client_secret".into(),
                credential: "secret".into(),
            },
        )
        .await
        .unwrap();
    let started = Instant::now();
    let t = now() - 3600 * BACKUPS as i64;
    for n in 0..BACKUPS {
        let at = t + 3600 * n as i64;
        let (job, _) = store
            .enqueue_backup(team.id, connection.id, None, "schedule", at)
            .await
            .unwrap();
        let claimed = store.claim_job("bench", at, 60).await.unwrap().unwrap();
        assert_eq!(claimed.id, job.id);
        let summary = format!(
            r#"{{"added":{},"changed":{},"removed":0,"incomplete":[],"unavailable":[],"seconds":41.5,"committed":true}}"#,
            n % 7,
            n % 13
        );
        let commit = format!("{:040x}", n + 1);
        let done = JobOutcome::Succeeded {
            commit: &commit,
            summary: &summary,
            okta_requests: 1200,
        };
        assert!(
            store
                .finish_job(job.id, "bench", &done, at + 42)
                .await
                .unwrap()
        );
    }
    println!(
        "{BACKUPS} backups recorded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let token = store
        .create_session(user.id, now(), SESSION_TTL_SECS)
        .await
        .unwrap();
    store.close().await;

    let mut child = Command::new(env!("CARGO_BIN_EXE_butterfly"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "0",
            "--data-dir",
        ])
        .arg(data.path())
        .env_remove("DATABASE_URL")
        .env_remove("BUTTERFLY_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start butterfly serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let start: serde_json::Value = serde_json::from_str(&line).expect("the start line");
    let url = format!(
        "{}/connections/{}",
        start["url"].as_str().unwrap(),
        connection.id.0
    );
    let http = reqwest::Client::new();
    let cookie = format!("butterfly_session={}", token.as_str());
    let mut times = Vec::with_capacity(RUNS);
    let mut bytes = 0;
    for n in 0..WARM_UP + RUNS {
        let begun = Instant::now();
        let response = http
            .get(&url)
            .header("cookie", &cookie)
            .send()
            .await
            .expect("the page");
        assert_eq!(response.status(), 200);
        let body = response.text().await.unwrap();
        let took = begun.elapsed();
        assert!(
            body.matches("<tr>").count() > BACKUPS,
            "every backup is listed"
        );
        bytes = body.len();
        if n >= WARM_UP {
            times.push(took);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    times.sort();
    let median = times[RUNS / 2];
    let p90 = times[RUNS * 9 / 10];
    println!(
        "GET /connections/{{id}} with {BACKUPS} backups ({bytes} bytes): median {:.1} ms, p90 {:.1} ms, max {:.1} ms (target: median < {} ms)",
        median.as_secs_f64() * 1000.0,
        p90.as_secs_f64() * 1000.0,
        times[RUNS - 1].as_secs_f64() * 1000.0,
        TARGET.as_millis()
    );
    if median >= TARGET {
        eprintln!("target missed");
        std::process::exit(1);
    }
}
