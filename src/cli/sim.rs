//! `butterfly sim --listen ADDR --fixture DIR [--grant-scopes S,S] [--token-ttl SECS]
//! [--token-auth METHOD] [--jwks FILE] [--require-dpop] ...`: runs the Okta simulator, prints one
//! JSON line with its URL and credentials, and serves until SIGTERM or Ctrl-C.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

use super::{Failure, Outcome};
use crate::sim;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,

    /// The fixture org: the name of an embedded fixture (tiny, small, small-hardened) or a folder
    /// holding an `okta/` tree in the org-repo layout and, beside it, `secrets.json`
    #[arg(long, default_value = "small")]
    pub fixture: String,

    /// The scopes the simulated service app is granted (comma-separated); default: all
    #[arg(long, value_delimiter = ',')]
    pub grant_scopes: Option<Vec<String>>,

    /// Access token lifetime in seconds (Okta's is 3600)
    #[arg(long, default_value_t = 3600)]
    pub token_ttl: u64,

    /// Milliseconds Okta takes to reconcile a group-rule or policy-rule write; an overlapping
    /// write of the same kind gets 423 E0000239
    #[arg(long, default_value_t = 50)]
    pub reconcile_ms: u64,

    /// A TOML file of per-bucket quotas (`[buckets]` "/api/v1/apps" = 50) replacing Okta's
    /// published defaults
    #[arg(long)]
    pub rate_limits: Option<PathBuf>,

    /// Shrink every rate-limit window N times (60 s / N, at least 10 s: reset headers have
    /// one-second resolution), so a benchmark at Okta's limits runs N times faster
    #[arg(long, default_value_t = 1)]
    pub time_scale: u32,

    /// Requests in flight at once before the concurrency limit answers 429 (Okta: 75)
    #[arg(long, default_value_t = 75)]
    pub concurrency: u32,

    /// The share of API requests (0 to 1) that answer with an injected fault
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,

    /// Which faults to inject: 500, 502, 503, 429, reset (connection dropped), truncate (half a body)
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "500,502,503,429,reset,truncate"
    )]
    pub faults: Vec<String>,

    /// Delay every API request by this many milliseconds
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,

    /// Seed of injected faults, generated objects and fresh ids: the same seed gives the same
    /// org and the same faults in the same order
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Give every object of the fixture a new id (references, expressions and secrets follow):
    /// a second org with the same names, for cross-org restore tests
    #[arg(long)]
    pub fresh_ids: bool,

    /// Generate a large org on top of the fixture, deterministically from --seed:
    /// users=N,groups=N,apps=N and optionally memberships=K (groups per user, default 3),
    /// assignments=K (apps per user, 2), app_groups=K (groups per app, 2)
    #[arg(long, value_name = "SIZES")]
    pub generate: Option<String>,

    /// Write the org as a fixture tree (org-repo layout plus secrets.json) to DIR, which must
    /// be new or empty, and exit instead of serving
    #[arg(long, value_name = "DIR")]
    pub write_tree: Option<PathBuf>,

    /// With --write-tree: also write a copy with this share of users, groups and apps changed
    /// (edited, removed, added), to DIR-mutated
    #[arg(long, value_name = "PERCENT", requires = "write_tree")]
    pub mutate: Option<String>,
    /// The client's one token endpoint auth method: client_secret_basic (an OIN API service
    /// integration) or private_key_jwt (an API Services app); default client_secret_basic,
    /// private_key_jwt when --jwks is given
    #[arg(long)]
    pub token_auth: Option<String>,

    /// The client's public keys (a JWKS file, `{"keys": [...]}`); implies private_key_jwt.
    /// Without it, private_key_jwt registers the built-in TEST keys of fixtures/keys/
    #[arg(long)]
    pub jwks: Option<PathBuf>,

    /// The client requires DPoP (RFC 9449): token requests need a DPoP proof with the
    /// server's nonce, and tokens are DPoP-bound
    #[arg(long)]
    pub require_dpop: bool,
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let fixture = sim::FixtureTree::find(&args.fixture).map_err(|e| match e {
        sim::org::FixtureError::NotFound { .. } | sim::org::FixtureError::NoTree { .. } => {
            Failure::Usage(e.to_string())
        }
        other => Failure::from(anyhow::anyhow!("{other}")),
    })?;
    if args.time_scale == 0 || 60 / args.time_scale < 10 {
        return Err(Failure::Usage(format!(
            "--time-scale {}: a rate-limit window must stay at 10 s or more (60 s / N), so N is 1 to 6",
            args.time_scale
        )));
    }
    let catalogue = crate::catalogue::Catalogue::okta().map_err(|e| anyhow::anyhow!("{e}"))?;
    let rate_limits = match &args.rate_limits {
        Some(path) => {
            sim::rate::read_overrides(path, &catalogue.provider).map_err(Failure::Usage)?
        }
        None => Default::default(),
    };
    if !(0.0..=1.0).contains(&args.fault_rate) {
        return Err(Failure::Usage(format!(
            "--fault-rate {}: must be between 0 and 1",
            args.fault_rate
        )));
    }
    let mut fault_kinds = Vec::new();
    for item in &args.faults {
        fault_kinds.push(sim::faults::Fault::parse(item).ok_or_else(|| {
            Failure::Usage(format!(
                "--faults: `{item}` is not one of 500, 502, 503, 429, reset, truncate"
            ))
        })?);
    }
    let token_auth = match args.token_auth.as_deref() {
        None if args.jwks.is_some() => sim::auth::TokenAuth::PrivateKeyJwt,
        None => sim::auth::TokenAuth::ClientSecretBasic,
        Some(text) => sim::auth::TokenAuth::parse(text).ok_or_else(|| {
            Failure::Usage(format!(
                "--token-auth {text}: must be client_secret_basic or private_key_jwt"
            ))
        })?,
    };
    if token_auth == sim::auth::TokenAuth::ClientSecretBasic && args.jwks.is_some() {
        return Err(Failure::Usage(
            "--jwks registers keys for private_key_jwt, but --token-auth is client_secret_basic: an Okta app has one token endpoint auth method".to_string(),
        ));
    }
    let jwks = match &args.jwks {
        Some(path) => {
            Some(sim::jose::KeySet::read(path).map_err(|e| Failure::Usage(format!("--jwks {e}")))?)
        }
        None => None,
    };
    let options = sim::Options {
        fixture,
        granted_scopes: args
            .grant_scopes
            .map(|s| s.into_iter().collect::<BTreeSet<_>>()),
        token_ttl: Duration::from_secs(args.token_ttl),
        reconcile: Duration::from_millis(args.reconcile_ms),
        rate_limits,
        rate_window: Duration::from_secs(u64::from(60 / args.time_scale)),
        concurrency: args.concurrency,
        faults: sim::FaultOptions {
            rate: args.fault_rate,
            kinds: fault_kinds,
            latency: Duration::from_millis(args.latency_ms),
        },
        seed: args.seed,
        fresh_ids: args.fresh_ids,
        generate: match &args.generate {
            Some(text) => Some(
                sim::generate::Sizes::parse(text)
                    .map_err(|e| Failure::Usage(format!("--generate {text}: {e}")))?,
            ),
            None => None,
        },
        token_auth,
        jwks,
        require_dpop: args.require_dpop,
    };
    if let Some(dir) = &args.write_tree {
        let mutate = match &args.mutate {
            Some(text) => Some(
                sim::mutate::parse_percent(text)
                    .map_err(|e| Failure::Usage(format!("--mutate: {e}")))?,
            ),
            None => None,
        };
        return write_tree(catalogue, &options, dir, mutate);
    }
    let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
    runtime.block_on(async move {
        let state = sim::State::new(&options).map_err(|e| anyhow::anyhow!("{e}"))?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listen on {}", args.listen))?;
        let address = listener.local_addr().context("read the bound address")?;
        let endpoint = state.endpoint(address);
        let line = serde_json::to_string(&endpoint).context("render the start line")?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{line}").context("write the start line")?;
        stdout.flush().context("flush stdout")?;
        drop(stdout);
        tracing::info!(%address, "simulator listening");
        let served = sim::serve(listener, state, shutdown_signal())
            .await
            .context("serve the simulator");
        // The built-in test key written for clients goes with the simulator.
        if let Some(path) = &endpoint.private_key_path
            && path.starts_with(&*std::env::temp_dir().to_string_lossy())
        {
            let _ = std::fs::remove_file(path);
        }
        served?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(Outcome::Done)
}

/// `--write-tree DIR [--mutate P]`: writes the org (and a mutated copy) and prints a summary.
fn write_tree(
    catalogue: &crate::catalogue::Catalogue,
    options: &sim::Options,
    dir: &std::path::Path,
    mutate: Option<f64>,
) -> Result<Outcome, Failure> {
    // Both folders are checked before anything is built or written.
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push("-mutated");
    let mutated_dir = dir.with_file_name(name);
    sim::export::ensure_writable(dir).map_err(|e| Failure::Usage(format!("--write-tree: {e}")))?;
    if mutate.is_some() {
        sim::export::ensure_writable(&mutated_dir)
            .map_err(|e| Failure::Usage(format!("--mutate: {e}")))?;
    }
    let built = sim::build_org(catalogue, options).map_err(|e| anyhow::anyhow!("{e}"))?;
    let written = sim::export::write_tree(catalogue, &built.org, &built.secrets, dir)
        .map_err(|e| anyhow::anyhow!("--write-tree: {e}"))?;
    let mut summary = serde_json::json!({
        "tree": written.tree,
        "files": written.files,
        "objects": written.objects,
        "generated": built.summary,
    });
    if let Some(percent) = mutate {
        let mut org = built.org.clone();
        let key = crate::snapshot::fingerprint::FingerprintKey::from_hex(sim::FIXTURE_KEY)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let changed = sim::mutate::mutate(
            catalogue,
            &mut org,
            percent,
            &built.fixture_ids,
            options.seed,
            &key,
            chrono::Utc::now(),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mutated = sim::export::write_tree(catalogue, &org, &built.secrets, &mutated_dir)
            .map_err(|e| anyhow::anyhow!("--mutate: {e}"))?;
        summary["mutated"] = serde_json::json!({
            "tree": mutated.tree,
            "files": mutated.files,
            "objects": mutated.objects,
            "modified": changed.modified,
            "removed": changed.removed,
            "added": changed.added,
        });
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{summary}").context("write the summary")?;
    Ok(Outcome::Done)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
