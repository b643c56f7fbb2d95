//! `butterfly serve [--listen 127.0.0.1:8080] [--data-dir DIR] [--base-url URL]
//! [--workers N] [--allow-insecure-upstreams]`: the dashboard, the JSON API and backup workers
//! on one store (SQLite in the data directory, or PostgreSQL through `DATABASE_URL`). Prints one
//! JSON line on stdout once listening (`{"url": …, "database": …}`), then logs.
//!
//! `butterfly worker [--data-dir DIR] [--workers N] [--allow-insecure-upstreams]`: more backup
//! workers on the same store and data directory, without the web server.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use tokio::sync::watch;

use super::{Failure, Outcome};
use crate::catalogue::Catalogue;
use crate::jobs::worker::{self, WorkerOptions};
use crate::ops::admin::BaseUrl;
use crate::ops::connections::Installation;
use crate::server::AppState;
use crate::store::{Store, StoreConfig, StoreError};
use crate::upstream::UpstreamPolicy;

#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// The data directory: SQLite database, master key, org repositories
    #[arg(
        long,
        value_name = "DIR",
        env = "BUTTERFLY_DATA_DIR",
        default_value = "butterfly-data"
    )]
    pub data_dir: PathBuf,

    /// Connect to Okta orgs over plain http and on loopback or private addresses (the simulator
    /// and tests only; DESIGN.md's upstream rule is off)
    #[arg(long)]
    pub allow_insecure_upstreams: bool,

    /// Backup workers in this process
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub workers: usize,

    /// How long a worker's claim on a job lasts without renewal; renewed every sixth of it. A
    /// job of a worker that died is taken over once it runs out
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(i64).range(3..=3600))]
    pub lease_secs: i64,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Where to listen (port 0: any free port, printed at start)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// The server's public URL (links, cookies' Secure flag, the Origin check); default: the
    /// listening address over http
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

fn open_store(args: &StoreArgs) -> impl std::future::Future<Output = Result<Store, StoreError>> {
    let config = StoreConfig::new(&args.data_dir, |name| std::env::var(name).ok());
    async move { Store::open(&config).await }
}

fn store_failure(e: StoreError) -> Failure {
    match e {
        StoreError::DatabaseUrl { .. } | StoreError::Key(_) => Failure::Usage(e.to_string()),
        other => Failure::Failed(anyhow::Error::new(other)),
    }
}

fn installation(store: Store, args: &StoreArgs) -> Result<Installation, Failure> {
    Ok(Installation {
        store,
        catalogue: Catalogue::okta().map_err(|e| anyhow!("{e}"))?,
        data_dir: args.data_dir.clone(),
        upstream: UpstreamPolicy {
            allow_insecure: args.allow_insecure_upstreams,
        },
    })
}

/// Turns true on Ctrl-C or SIGTERM.
fn stop_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(term) => term,
                    Err(_) => {
                        let _ = ctrl_c.await;
                        let _ = tx.send(true);
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = ctrl_c.await;
        }
        let _ = tx.send(true);
    });
    rx
}

/// The scheduler's loop: due schedules are queued every 15 seconds.
fn start_scheduler(
    installation: &Installation,
    stop: &watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(crate::jobs::scheduler::run(
        installation.clone(),
        std::time::Duration::from_secs(15),
        stop.clone(),
    ))
}

fn start_workers(
    installation: &Installation,
    args: &StoreArgs,
    count: usize,
    stop: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..count)
        .map(|n| {
            let mut options = WorkerOptions::named(n);
            options.lease_secs = args.lease_secs;
            options.heartbeat = std::time::Duration::from_secs((args.lease_secs / 6).max(1) as u64);
            tokio::spawn(worker::run(installation.clone(), options, stop.clone()))
        })
        .collect()
}

pub fn serve(args: ServeArgs) -> Result<Outcome, Failure> {
    let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
    runtime.block_on(async {
        let store = open_store(&args.store).await.map_err(store_failure)?;
        let backend = store.backend().to_string();
        let installation = installation(store, &args.store)?;
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|e| Failure::Usage(format!("cannot listen on {}: {e}", args.listen)))?;
        let address = listener.local_addr().context("read the listening address")?;
        let base_url = match &args.base_url {
            Some(url) => BaseUrl::parse(url).map_err(|e| Failure::Usage(e.to_string()))?,
            None => BaseUrl::parse(&format!("http://{address}"))
                .map_err(|e| Failure::Usage(e.to_string()))?,
        };
        let stop = stop_signal();
        let mut workers = start_workers(&installation, &args.store, args.store.workers, &stop);
        workers.push(start_scheduler(&installation, &stop));
        let state = AppState::new(installation.clone(), base_url.clone());
        println!(
            "{}",
            serde_json::json!({
                "url": format!("http://{address}"),
                "base_url": base_url.as_str(),
                "database": backend,
                "workers": args.store.workers,
            })
        );
        eprintln!(
            "butterfly serve: listening on http://{address} ({backend}, {} worker(s)); Ctrl-C stops",
            args.store.workers
        );
        let mut shutdown = stop.clone();
        crate::server::serve(listener, state, async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
        .context("serve")?;
        for handle in workers {
            let _ = handle.await;
        }
        installation.store.close().await;
        Ok(Outcome::Done)
    })
}

pub fn worker(args: WorkerArgs) -> Result<Outcome, Failure> {
    let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
    runtime.block_on(async {
        let store = open_store(&args.store).await.map_err(store_failure)?;
        let backend = store.backend().to_string();
        let installation = installation(store, &args.store)?;
        let stop = stop_signal();
        let mut workers =
            start_workers(&installation, &args.store, args.store.workers.max(1), &stop);
        workers.push(start_scheduler(&installation, &stop));
        println!(
            "{}",
            serde_json::json!({
                "database": backend,
                "workers": args.store.workers.max(1),
                "pid": std::process::id(),
            })
        );
        eprintln!(
            "butterfly worker: taking backups from {backend}; Ctrl-C stops after the jobs in hand"
        );
        for handle in workers {
            let _ = handle.await;
        }
        installation.store.close().await;
        Ok(Outcome::Done)
    })
}
