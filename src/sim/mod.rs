//! `butterfly sim`: an Okta org simulator driven by the catalogue, for tests and demos only.
//! It serves every catalogue endpoint with Okta's paths, pagination, authentication, scope
//! checks, rate-limit headers and error bodies, over an org loaded from a fixture tree in the
//! canonical org-repo layout.
//!
//! Invariant: no production code path uses it (only `butterfly sim`, `butterfly demo` and tests).

mod api;
mod assertion;
pub mod auth;
pub mod body;
mod dpop;
pub mod error;
pub mod export;
mod expression;
pub mod faults;
mod filter;
pub mod fixture;
pub mod fresh_ids;
pub mod generate;
mod group_rules;
pub mod jose;
mod log;
pub mod mutate;
pub mod org;
mod present;
pub mod rate;
pub mod route;
mod rule_memberships;
mod rules;
pub mod seeded;
mod testkeys;
mod validate;

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;

use crate::catalogue::Catalogue;
use crate::snapshot::fingerprint::FingerprintKey;

/// The fingerprint key every fixture is canonical under (a test key, never a customer's).
pub const FIXTURE_KEY: &str = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";
use auth::{Auth, TokenAuth};
pub use fixture::FixtureTree;
use org::{FixtureError, Org};
use route::Routes;

/// How to start a simulator.
#[derive(Clone, Debug)]
pub struct Options {
    /// The fixture org's files (an embedded fixture or a folder holding `okta/`).
    pub fixture: FixtureTree,
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
    /// Seeds injected faults, generated objects and fresh ids: the same seed, the same org
    /// and the same faults.
    pub seed: u64,
    /// Give every object a new id (a second org with the same names).
    pub fresh_ids: bool,
    /// Objects to generate on top of the fixture.
    pub generate: Option<generate::Sizes>,
    /// The client's one token endpoint auth method.
    pub token_auth: TokenAuth,
    /// The client's registered public keys (`--jwks`); `None` with `private_key_jwt` registers
    /// the built-in test keys of `fixtures/keys/`.
    pub jwks: Option<jose::KeySet>,
    /// The client requires DPoP-bound tokens (`--require-dpop`).
    pub require_dpop: bool,
}

impl Options {
    /// Okta's defaults for everything but the fixture: every scope granted, one-hour tokens,
    /// Okta's published quotas, no faults, seed 0.
    pub fn new(fixture: FixtureTree) -> Options {
        Options {
            fixture,
            granted_scopes: None,
            token_ttl: Duration::from_secs(3600),
            reconcile: Duration::from_millis(50),
            rate_limits: std::collections::BTreeMap::new(),
            rate_window: Duration::from_secs(60),
            concurrency: 75,
            faults: FaultOptions::default(),
            seed: 0,
            fresh_ids: false,
            generate: None,
            token_auth: TokenAuth::ClientSecretBasic,
            jwks: None,
            require_dpop: false,
        }
    }
}

/// An org built from options: the fixture, fresh ids, generated objects.
#[derive(Debug)]
pub struct Built {
    pub org: Org,
    pub secrets: present::Secrets,
    /// The ids of the fixture's objects (everything else was generated).
    pub fixture_ids: std::collections::HashSet<String>,
    pub summary: Option<generate::Generated>,
}

/// Loads the fixture, gives it fresh ids when asked, and generates objects on top.
pub fn build_org(catalogue: &Catalogue, options: &Options) -> Result<Built, StartError> {
    let started = std::time::Instant::now();
    let elapsed_ms = || started.elapsed().as_millis() as u64;
    let mut org = Org::load(catalogue, &options.fixture)?;
    let mut secrets = load_secrets(&options.fixture)?;
    tracing::info!(
        objects = org.len(),
        elapsed_ms = elapsed_ms(),
        "fixture loaded"
    );
    if options.fresh_ids {
        let (fresh, fresh_secrets, _) = fresh_ids::remap(catalogue, &org, &secrets, options.seed);
        org = fresh;
        secrets = fresh_secrets;
    }
    let fixture_ids: std::collections::HashSet<String> =
        org.objects().map(|o| o.id.to_string()).collect();
    let mut summary = None;
    if let Some(sizes) = &options.generate {
        let key = fixture_key()?;
        summary = Some(
            generate::generate(
                catalogue,
                &mut org,
                sizes,
                options.seed,
                &key,
                chrono::Utc::now(),
            )
            .map_err(|e| StartError::Catalogue(e.to_string()))?,
        );
        tracing::info!(
            objects = org.len(),
            elapsed_ms = elapsed_ms(),
            "objects generated"
        );
        // The fixture's active group rules take in the generated users, as Okta would.
        let users: Vec<String> = org
            .all("user")
            .iter()
            .filter(|u| !fixture_ids.contains(&*u.id))
            .map(|u| u.id.to_string())
            .collect();
        let changes = group_rules::apply(catalogue, &mut org, Some(&users));
        tracing::info!(
            memberships = changes.len(),
            elapsed_ms = elapsed_ms(),
            "group rules applied to the generated users"
        );
    }
    Ok(Built {
        org,
        secrets,
        fixture_ids,
        summary,
    })
}

fn fixture_key() -> Result<FingerprintKey, StartError> {
    FingerprintKey::from_hex(FIXTURE_KEY).map_err(|e| StartError::Catalogue(e.to_string()))
}

/// `--fault-rate`, `--faults` and `--latency-ms`.
#[derive(Clone, Debug, Default)]
pub struct FaultOptions {
    pub rate: f64,
    pub kinds: Vec<faults::Fault>,
    pub latency: Duration,
}

/// What a client needs to talk to a running simulator.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Endpoint {
    pub url: String,
    pub client_id: String,
    pub client_secret: String,
    pub api_token: String,
    /// `client_secret_basic` or `private_key_jwt`.
    pub token_auth: TokenAuth,
    /// The built-in test private key (PEM) when the client uses it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key_path: Option<String>,
    /// The `kid` of that key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

/// The shared state of a running simulator.
#[derive(Debug)]
pub struct State {
    catalogue: &'static Catalogue,
    routes: Routes,
    org: Mutex<Org>,
    auth: Auth,
    /// The client uses the built-in test keys (no `--jwks`).
    builtin_keys: bool,
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
    #[error(transparent)]
    Jwks(#[from] jose::JwksError),
    #[error("{0}")]
    Catalogue(String),
}

impl State {
    pub fn new(options: &Options) -> Result<Arc<State>, StartError> {
        let catalogue = Catalogue::okta().map_err(|e| StartError::Catalogue(e.to_string()))?;
        let Built { org, secrets, .. } = build_org(catalogue, options)?;
        let granted = options.granted_scopes.clone().unwrap_or_else(|| {
            catalogue
                .manage_scopes()
                .into_iter()
                .chain(catalogue.read_scopes())
                .collect()
        });
        let keys = match (options.token_auth, &options.jwks) {
            (TokenAuth::ClientSecretBasic, _) => None,
            (TokenAuth::PrivateKeyJwt, Some(keys)) => Some(keys.clone()),
            (TokenAuth::PrivateKeyJwt, None) => Some(testkeys::key_set()?),
        };
        let builtin_keys = keys.is_some() && options.jwks.is_none();
        let auth = Auth::new(auth::Client {
            client_id: "0oasimulatorclient01".to_string(),
            client_secret: "sim-client-secret-do-not-use-in-production".to_string(),
            api_token: "00sim-api-token-do-not-use-in-production".to_string(),
            granted,
            token_ttl: options.token_ttl,
            token_auth: options.token_auth,
            keys,
            require_dpop: options.require_dpop,
        });
        Ok(Arc::new(State {
            catalogue,
            routes: Routes::from_catalogue(catalogue),
            org: Mutex::new(org),
            auth,
            builtin_keys,
            rate: rate::RateLimits::new(
                &catalogue.provider,
                &options.rate_limits,
                options.rate_window,
            ),
            secrets: Mutex::new(secrets),
            key: fixture_key()?,
            reconcile: options.reconcile,
            reconciling: Mutex::new(BTreeSet::new()),
            log: log::SystemLog::default(),
            concurrency: options.concurrency,
            in_flight: std::sync::atomic::AtomicU32::new(0),
            faults: faults::Faults::new(
                options.faults.rate,
                options.faults.kinds.clone(),
                options.faults.latency,
                options.seed,
            ),
        }))
    }

    /// The credentials of this simulator listening on `address`. With the built-in test keys,
    /// writes their private key for clients (`testkeys::private_key_path`).
    pub fn endpoint(&self, address: std::net::SocketAddr) -> Endpoint {
        let builtin = self.builtin_keys.then(|| {
            (
                testkeys::private_key_path(address.port())
                    .display()
                    .to_string(),
                testkeys::RSA_KEY_ID.to_string(),
            )
        });
        let (private_key_path, key_id) = builtin.unzip();
        Endpoint {
            url: format!("http://{address}"),
            client_id: self.auth.client_id.clone(),
            client_secret: self.auth.client_secret().to_string(),
            api_token: self.auth.api_token().to_string(),
            token_auth: self.auth.token_auth(),
            private_key_path,
            key_id,
        }
    }
}

/// The fixture's plaintext secrets (`secrets.json` beside `okta/`; optional).
fn load_secrets(fixture: &FixtureTree) -> Result<present::Secrets, FixtureError> {
    let Some(text) = &fixture.secrets else {
        return Ok(present::Secrets::new());
    };
    let path = fixture.path_of(fixture::SECRETS_FILE);
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|source| FixtureError::Json {
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
