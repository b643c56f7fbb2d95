//! `butterfly sim`: an Okta org simulator driven by the catalogue, for tests and demos only.
//! It serves every catalogue endpoint with Okta's paths, pagination, authentication, scope
//! checks, rate-limit headers and error bodies, over an org loaded from a fixture tree in the
//! canonical org-repo layout.
//!
//! Invariant: no production code path uses it (only `butterfly sim`, `butterfly demo` and tests).

mod api;
pub mod auth;
pub mod error;
mod expression;
pub mod faults;
mod filter;
mod group_rules;
mod log;
pub mod org;
mod present;
pub mod rate;
pub mod route;
mod rule_memberships;
mod rules;
mod validate;

use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;

use crate::catalogue::Catalogue;
use crate::snapshot::fingerprint::FingerprintKey;

/// The fingerprint key every fixture is canonical under (a test key, never a customer's).
pub const FIXTURE_KEY: &str = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";
use auth::Auth;
use org::{FixtureError, Org};
use route::Routes;

/// How to start a simulator.
#[derive(Clone, Debug)]
pub struct Options {
    /// A fixture tree (a folder holding `okta/`).
    pub fixture: PathBuf,
    /// The scopes the service client is granted; `None` grants every scope of the catalogue.
    pub granted_scopes: Option<BTreeSet<String>>,
    /// Access token lifetime (Okta: one hour).
    pub token_ttl: Duration,
    /// How long Okta takes to reconcile a group-rule or policy-rule write; a write of the same
    /// kind arriving meanwhile gets 423 E0000239.
    pub reconcile: Duration,
    /// Per-bucket quotas replacing Okta's published ones.
    pub rate_limits: std::collections::BTreeMap<String, u32>,
    /// The length of a rate-limit window (Okta: 60 s; shrunk by `--time-scale`).
    pub rate_window: Duration,
    /// Requests in flight at once before Okta's concurrency limit answers 429 (Okta: 75).
    pub concurrency: u32,
    /// Injected faults and latency (none by default).
    pub faults: FaultOptions,
}

/// `--fault-rate`, `--faults`, `--latency-ms` and `--seed`.
#[derive(Clone, Debug, Default)]
pub struct FaultOptions {
    pub rate: f64,
    pub kinds: Vec<faults::Fault>,
    pub latency: Duration,
    pub seed: u64,
}

/// What a client needs to talk to a running simulator.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Endpoint {
    pub url: String,
    pub client_id: String,
    pub client_secret: String,
    pub api_token: String,
}

/// The shared state of a running simulator.
#[derive(Debug)]
pub struct State {
    catalogue: &'static Catalogue,
    routes: Routes,
    org: Mutex<Org>,
    auth: Auth,
    rate: rate::RateLimits,
    /// Plaintext secrets, keyed `<kind>/<id>/<field>`: the org holds their fingerprints.
    secrets: Mutex<present::Secrets>,
    /// The fixed fingerprint key of fixtures (a fixture's files are canonical under it).
    key: FingerprintKey,
    reconcile: Duration,
    reconciling: Mutex<BTreeSet<String>>,
    log: log::SystemLog,
    concurrency: u32,
    in_flight: std::sync::atomic::AtomicU32,
    faults: faults::Faults,
}

/// Holds a kind as "being reconciled" until dropped.
struct Reconciling<'s> {
    state: &'s State,
    kind: String,
}

impl Drop for Reconciling<'_> {
    fn drop(&mut self) {
        self.state
            .reconciling
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.kind);
    }
}

impl State {
    /// Marks `kind` as being reconciled, or `None` when a write of it already is.
    fn reconcile(&self, kind: &str) -> Option<Reconciling<'_>> {
        let mut busy = self.reconciling.lock().unwrap_or_else(|e| e.into_inner());
        if !busy.insert(kind.to_string()) {
            return None;
        }
        Some(Reconciling {
            state: self,
            kind: kind.to_string(),
        })
    }
}

/// Why a simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Fixture(#[from] FixtureError),
    #[error("{0}")]
    Catalogue(String),
}

impl State {
    pub fn new(options: &Options) -> Result<Arc<State>, StartError> {
        let catalogue = Catalogue::okta().map_err(|e| StartError::Catalogue(e.to_string()))?;
        let org = Org::load_tree(catalogue, &options.fixture)?;
        let secrets = load_secrets(&options.fixture)?;
        let granted = options.granted_scopes.clone().unwrap_or_else(|| {
            catalogue
                .manage_scopes()
                .into_iter()
                .chain(catalogue.read_scopes())
                .collect()
        });
        let auth = Auth::new(
            "0oasimulatorclient01".to_string(),
            "sim-client-secret-do-not-use-in-production".to_string(),
            "00sim-api-token-do-not-use-in-production".to_string(),
            granted,
            options.token_ttl,
        );
        Ok(Arc::new(State {
            catalogue,
            routes: Routes::from_catalogue(catalogue),
            org: Mutex::new(org),
            auth,
            rate: rate::RateLimits::new(
                &catalogue.provider,
                &options.rate_limits,
                options.rate_window,
            ),
            secrets: Mutex::new(secrets),
            key: FingerprintKey::from_hex(FIXTURE_KEY)
                .map_err(|e| StartError::Catalogue(e.to_string()))?,
            reconcile: options.reconcile,
            reconciling: Mutex::new(BTreeSet::new()),
            log: log::SystemLog::default(),
            concurrency: options.concurrency,
            in_flight: std::sync::atomic::AtomicU32::new(0),
            faults: faults::Faults::new(
                options.faults.rate,
                options.faults.kinds.clone(),
                options.faults.latency,
                options.faults.seed,
            ),
        }))
    }

    /// The credentials of this simulator at `url`.
    pub fn endpoint(&self, url: String) -> Endpoint {
        Endpoint {
            url,
            client_id: self.auth.client_id.clone(),
            client_secret: self.auth.client_secret().to_string(),
            api_token: self.auth.api_token().to_string(),
        }
    }
}

/// The fixture's plaintext secrets (`secrets.json` beside `okta/`; optional).
fn load_secrets(fixture: &std::path::Path) -> Result<present::Secrets, FixtureError> {
    let path = fixture.join("secrets.json");
    if !path.exists() {
        return Ok(present::Secrets::new());
    }
    let text = std::fs::read_to_string(&path).map_err(|source| FixtureError::Read {
        path: path.clone(),
        source,
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| FixtureError::Json {
            path: path.clone(),
            source,
        })?;
    let Some(map) = value.as_object() else {
        return Err(FixtureError::Shape {
            path,
            expected: "an object of \"<kind>/<id>/<field>\": \"plaintext\"",
        });
    };
    Ok(map
        .iter()
        .filter(|(key, _)| !key.starts_with('_'))
        .filter_map(|(key, value)| value.as_str().map(|v| (key.clone(), v.to_string())))
        .collect())
}

/// Serves the simulator on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new().fallback(api::handle).with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
