//! The job queue under several processes (issue #8's done-when): a server and two `butterfly
//! worker` processes on one PostgreSQL database run 50 queued backups, one worker is killed
//! mid-job, and every job ends in exactly one committed backup. Plus the queue's rules on both
//! databases: one claim per job, leases renewed only by their holder, an expired lease taken
//! over, one running backup per connection, a job finished only by its holder.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use butterfly::server::role::Role;
use butterfly::store::accounts::TeamName;
use butterfly::store::jobs::{JobOutcome, JobStatus};
use butterfly::store::now;

use super::support::db::{databases, require_all};
use super::support::server::{Server, Session, installation, member};
use super::support::sim::Sim;

fn input(org: &Sim, name: &str) -> butterfly::ops::connections::ConnectionInput {
    butterfly::ops::connections::ConnectionInput {
        name: name.into(),
        okta_domain: org.url.clone(),
        client_id: org.client_id.clone(),
        auth_method: "client_secret".into(),
        credential: org.client_secret.clone(),
    }
}

#[tokio::test]
async fn the_queue_claims_each_job_once_and_hands_over_expired_leases() {
    let org = Sim::start_unlimited("tiny");
    for db in databases("job queue").await {
        let store = db.open().await;
        let on = db.name.clone();
        let install = installation(&store, &db, true);
        let ana = member(&store, "Acme", "ana@acme.example", Role::Admin).await;
        store
            .set_plan(&TeamName::parse("Acme").unwrap(), "business")
            .await
            .unwrap();
        let actor = Session::of(&store, &ana).await.actor();
        let a = install
            .create_connection(&actor, &input(&org, "A"))
            .await
            .unwrap();
        let b = install
            .create_connection(&actor, &input(&org, "B"))
            .await
            .unwrap();
        let t = now();

        let (a1, new) = store
            .enqueue_backup(ana.team, a.id, None, "manual", t)
            .await
            .unwrap();
        assert!(new, "{on}");
        let (again, new) = store
            .enqueue_backup(ana.team, a.id, None, "manual", t)
            .await
            .unwrap();
        assert_eq!(
            (again.id, new),
            (a1.id, false),
            "{on}: one pending backup per connection"
        );
        let (b1, _) = store
            .enqueue_backup(ana.team, b.id, None, "schedule", t)
            .await
            .unwrap();

        // Oldest first; each job once.
        let first = store.claim_job("w1", t, 30).await.unwrap().unwrap();
        assert_eq!(
            (first.id, first.status, first.attempts),
            (a1.id, JobStatus::Running, 1),
            "{on}"
        );
        let second = store.claim_job("w2", t, 30).await.unwrap().unwrap();
        assert_eq!(second.id, b1.id, "{on}");
        assert!(
            store.claim_job("w3", t, 30).await.unwrap().is_none(),
            "{on}"
        );
        // A second backup of A waits while A's first runs.
        let (a2, new) = store
            .enqueue_backup(ana.team, a.id, None, "manual", t)
            .await
            .unwrap();
        assert!(!new && a2.id == a1.id, "{on}: running counts as pending");

        // Only the holder renews or finishes.
        assert!(
            store.renew_lease(a1.id, "w1", t + 30).await.unwrap(),
            "{on}"
        );
        assert!(
            !store.renew_lease(a1.id, "w2", t + 30).await.unwrap(),
            "{on}"
        );
        let failed = JobOutcome::Failed {
            error: "x",
            okta_requests: 0,
        };
        assert!(
            !store.finish_job(a1.id, "w2", &failed, t).await.unwrap(),
            "{on}"
        );
        // w1 dies: after its lease another worker takes the job over.
        assert!(
            store.claim_job("w3", t + 10, 30).await.unwrap().is_none(),
            "{on}: lease still good"
        );
        let taken = store.claim_job("w3", t + 31, 30).await.unwrap().unwrap();
        assert_eq!(
            (taken.id, taken.attempts, taken.worker.as_deref()),
            (a1.id, 2, Some("w3")),
            "{on}"
        );
        assert!(
            !store.renew_lease(a1.id, "w1", t + 40).await.unwrap(),
            "{on}: w1 lost it"
        );
        let ok = JobOutcome::Succeeded {
            commit: "abc",
            summary: "{}",
            okta_requests: 7,
        };
        assert!(
            !store.finish_job(a1.id, "w1", &ok, t + 40).await.unwrap(),
            "{on}"
        );
        assert!(
            store.finish_job(a1.id, "w3", &ok, t + 40).await.unwrap(),
            "{on}"
        );
        assert!(
            !store
                .finish_job(a1.id, "w3", &failed, t + 41)
                .await
                .unwrap(),
            "{on}: ends once"
        );
        let done = store.job(ana.team, a1.id).await.unwrap().unwrap();
        assert_eq!(
            (done.status, done.commit_id.as_deref()),
            (JobStatus::Succeeded, Some("abc")),
            "{on}"
        );
        // Another team cannot see the job.
        let other = member(&store, "Other", "o@other.example", Role::SuperAdmin).await;
        assert!(
            store.job(other.team, a1.id).await.unwrap().is_none(),
            "{on}"
        );
        let metrics = store.job_metrics().await.unwrap();
        let succeeded = metrics.iter().find(|m| m.status == "succeeded").unwrap();
        assert_eq!((succeeded.jobs, succeeded.okta_requests), (1, 7), "{on}");
        db.finish().await;
    }
}

/// A `butterfly worker` process on the test database.
struct Worker {
    child: Child,
    pid: u32,
}

impl Worker {
    fn start(data_dir: &std::path::Path, url: &str) -> Worker {
        let mut child = Command::new(env!("CARGO_BIN_EXE_butterfly"))
            .args([
                "worker",
                "--workers",
                "1",
                "--lease-secs",
                "4",
                "--allow-insecure-upstreams",
                "--data-dir",
            ])
            .arg(data_dir)
            .env("DATABASE_URL", url)
            .env_remove("BUTTERFLY_MASTER_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start butterfly worker");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let start: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let pid = start["pid"].as_u64().unwrap() as u32;
        Worker { child, pid }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test]
async fn fifty_backups_on_postgres_with_two_worker_processes_and_one_killed_end_in_one_commit_each()
{
    let Some(db) = databases("50 backups")
        .await
        .into_iter()
        .find(|d| d.url.is_some())
    else {
        assert!(!require_all(), "PostgreSQL is required here under CI");
        eprintln!("SKIPPED: the 50-backup test needs PostgreSQL");
        return;
    };
    let url = db.url.clone().unwrap();
    let org = Sim::start_unlimited("tiny");
    let store = db.open().await;
    let install = installation(&store, &db, true);
    let ana = member(&store, "Acme", "ana@acme.example", Role::Admin).await;
    store
        .set_plan(&TeamName::parse("Acme").unwrap(), "business")
        .await
        .unwrap();
    let actor = Session::of(&store, &ana).await.actor();
    let mut jobs = Vec::new();
    for n in 0..50 {
        let connection = install
            .create_connection(&actor, &input(&org, &format!("Org {n}")))
            .await
            .unwrap();
        let (job, _) = store
            .enqueue_backup(ana.team, connection.id, None, "manual", now())
            .await
            .unwrap();
        jobs.push((connection, job));
    }

    let server = Server::start(
        &db,
        &[
            "--workers",
            "1",
            "--lease-secs",
            "4",
            "--allow-insecure-upstreams",
        ],
    );
    let mut victim = Worker::start(db.data_dir.path(), &url);
    let _other = Worker::start(db.data_dir.path(), &url);

    // Kill the victim while it holds a running job.
    let started = Instant::now();
    let mut killed_job = None;
    while killed_job.is_none() && started.elapsed() < Duration::from_secs(60) {
        for (_, job) in &jobs {
            let now_job = store.job(ana.team, job.id).await.unwrap().unwrap();
            let mine = now_job
                .worker
                .as_deref()
                .is_some_and(|w| w.split(':').nth(1) == Some(&victim.pid.to_string()));
            if now_job.status == JobStatus::Running && mine {
                // SIGKILL: no chance to finish or release anything; reaped as a supervisor
                // would, so its snapshot lock is seen to be a dead process's.
                let _ = victim.child.kill();
                let _ = victim.child.wait();
                killed_job = Some(job.id);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let killed_job = killed_job.expect("the victim worker ran a job within a minute");

    // Every job ends; each in exactly one committed backup.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let mut pending = 0;
        for (_, job) in &jobs {
            let job = store.job(ana.team, job.id).await.unwrap().unwrap();
            if !job.status.is_finished() {
                pending += 1;
            }
        }
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} of 50 jobs still pending"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for (connection, job) in &jobs {
        let job = store.job(ana.team, job.id).await.unwrap().unwrap();
        assert_eq!(
            job.status,
            JobStatus::Succeeded,
            "job {}: {:?}",
            job.id.0,
            job.error
        );
        let repo = butterfly::ops::connections::repository_dir(
            db.data_dir.path(),
            ana.team,
            connection.id,
        );
        let snapshots = git(&repo, &["rev-list", "--count", "main"]);
        assert_eq!(
            snapshots, "2",
            "connection {}: the init commit and exactly one snapshot",
            connection.id.0
        );
        assert_eq!(
            Some(git(&repo, &["rev-parse", "main"])),
            job.commit_id,
            "job {} names the snapshot",
            job.id.0
        );
        git(&repo, &["fsck", "--no-progress"]);
    }
    let taken_over = store.job(ana.team, killed_job).await.unwrap().unwrap();
    assert!(
        taken_over.attempts >= 2,
        "the killed worker's job was taken over: {taken_over:?}"
    );
    assert_ne!(
        taken_over
            .worker
            .as_deref()
            .and_then(|w| w.split(':').nth(1)),
        Some(victim.pid.to_string().as_str())
    );
    drop(server);
    db.finish().await;
}
