//! `demo`: the product in one command, with no Okta org. Starts the simulator in-process on
//! the `small` fixture, makes an org repository, backs it up, then, as an admin would, turns
//! off MFA in the contractors' sign-on rule and deletes the "Engineering - auto" group rule,
//! backs up again, and shows what the second snapshot changed: `diff`'s semantic diff of the
//! two snapshots, with who made each change and who it affects.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use reqwest::Method;
use serde_json::json;

use super::backup::{self, Progress, Report};
use super::connection::{Connection, client_for};
use super::init;
use crate::catalogue::Catalogue;
use crate::config::OrgConfig;
use crate::provider::okta::{Client, ClientOptions, Credentials, OrgUrl, Secret};
use crate::sim;
use crate::snapshot::lock::Wait;

/// What the demo did.
pub struct DemoReport {
    pub dir: PathBuf,
    pub first: Report,
    pub second: Report,
    /// What the admin did between the backups.
    pub actions: Vec<String>,
    /// The semantic diff of the two snapshots (`None` when a backup made no commit).
    pub diff: Option<crate::diff::render::Report>,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the simulator: {0}")]
    Sim(String),
    #[error(transparent)]
    Init(#[from] init::InitError),
    #[error(transparent)]
    Backup(#[from] backup::BackupError),
    #[error("{0}")]
    Step(String),
}

fn step(what: &str) -> impl Fn(String) -> DemoError + '_ {
    move |e| DemoError::Step(format!("{what}: {e}"))
}

/// Runs the demo in `dir` (a missing or empty folder).
pub async fn run(
    catalogue: &'static Catalogue,
    dir: &Path,
    progress: Arc<dyn Progress>,
) -> Result<DemoReport, DemoError> {
    // The simulator, without rate limits so the demo takes seconds, not Okta's minutes.
    let fixture = sim::FixtureTree::find("small").map_err(|e| DemoError::Sim(e.to_string()))?;
    let mut options = sim::Options::new(fixture);
    options.rate_limits = catalogue
        .provider
        .buckets
        .keys()
        .map(|bucket| (bucket.clone(), 1_000_000))
        .collect();
    let state = sim::State::new(&options).map_err(|e| DemoError::Sim(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| DemoError::Sim(format!("listen on 127.0.0.1: {e}")))?;
    let address = listener
        .local_addr()
        .map_err(|e| DemoError::Sim(e.to_string()))?;
    let endpoint = state.endpoint(address);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(sim::serve(listener, state, async {
        let _ = stopped.await;
    }));

    let result = scenario(catalogue, dir, &endpoint, progress).await;
    let _ = stop.send(());
    let _ = server.await;
    result
}

async fn scenario(
    catalogue: &'static Catalogue,
    dir: &Path,
    endpoint: &sim::Endpoint,
    progress: Arc<dyn Progress>,
) -> Result<DemoReport, DemoError> {
    init::init(catalogue, dir, &endpoint.url, "main")?;
    let root = dir.to_path_buf();
    let config = OrgConfig::load(&root, catalogue).map_err(|e| DemoError::Step(e.to_string()))?;
    let credentials = Credentials::ClientSecret {
        client_id: endpoint.client_id.clone(),
        secret: Secret::new(endpoint.client_secret.clone()),
    };
    let client =
        client_for(&config, catalogue, credentials).map_err(|e| DemoError::Step(e.to_string()))?;
    let connection = Connection {
        root,
        config,
        client: Arc::new(client),
    };
    let kinds = super::selection::Selection::default()
        .resolve(catalogue)
        .map_err(|e| DemoError::Step(e.to_string()))?;
    let options = |run: &str| backup::Options {
        kinds: kinds.clone(),
        wait: Wait::For(std::time::Duration::from_secs(30)),
        run_id: format!("demo-{run}"),
        now: Utc::now(),
    };
    let first = backup::run(
        catalogue,
        &connection,
        options("1"),
        Arc::clone(&progress),
        |_| None,
    )
    .await?;

    // An admin at work, through Okta's API.
    let admin = Client::new(
        OrgUrl::parse(&endpoint.url).map_err(|e| DemoError::Sim(e.to_string()))?,
        Credentials::ApiToken(Secret::new(endpoint.api_token.clone())),
        ClientOptions::default(),
    )
    .map_err(|e| DemoError::Sim(e.to_string()))?;
    let actions = vec![
        loosen_contractor_sign_on(&admin).await?,
        delete_group_rule(&admin, "Engineering - auto").await?,
    ];

    let second = backup::run(catalogue, &connection, options("2"), progress, |_| None).await?;
    let diff = match (&first.commit, &second.commit) {
        (Some(from), Some(to)) => Some(what_changed(catalogue, dir, from, to)?),
        _ => None,
    };
    Ok(DemoReport {
        dir: dir.to_path_buf(),
        first,
        second,
        actions,
        diff,
    })
}

/// Turns off MFA and lengthens idle sessions in the contractors' sign-on rule.
async fn loosen_contractor_sign_on(admin: &Client) -> Result<String, DemoError> {
    let policies = admin
        .get(
            &admin.org().join("/api/v1/policies?type=OKTA_SIGN_ON"),
            "/api/v1",
        )
        .await
        .map_err(|e| step("listing sign-on policies")(e.to_string()))?;
    let policy = policies
        .body
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "Contractors"))
        .and_then(|p| p["id"].as_str())
        .ok_or_else(|| DemoError::Step("the fixture has no Contractors sign-on policy".into()))?
        .to_string();
    let rules_url = admin
        .org()
        .join(&format!("/api/v1/policies/{policy}/rules"));
    let rules = admin
        .get(&rules_url, "/api/v1")
        .await
        .map_err(|e| step("listing its rules")(e.to_string()))?;
    let mut rule = rules
        .body
        .as_array()
        .and_then(|r| r.first())
        .cloned()
        .ok_or_else(|| DemoError::Step("the Contractors policy has no rule".into()))?;
    let id = rule["id"].as_str().unwrap_or_default().to_string();
    let name = rule["name"].as_str().unwrap_or_default().to_string();
    if let Some(map) = rule.as_object_mut() {
        map.remove("_links");
    }
    rule["actions"]["signon"]["requireFactor"] = json!(false);
    rule["actions"]["signon"]["session"]["maxSessionIdleMinutes"] = json!(1440);
    admin
        .send(
            Method::PUT,
            &format!("{rules_url}/{id}"),
            "/api/v1",
            Some(&rule),
        )
        .await
        .map_err(|e| step("changing the rule")(e.to_string()))?;
    Ok(format!(
        "turned off MFA and allowed 24-hour idle sessions in the sign-on rule \"{name}\" (policy Contractors)"
    ))
}

/// Deactivates and deletes the group rule called `name`.
async fn delete_group_rule(admin: &Client, name: &str) -> Result<String, DemoError> {
    let bucket = "/api/v1/groups";
    let rules = admin
        .get(&admin.org().join("/api/v1/groups/rules?limit=200"), bucket)
        .await
        .map_err(|e| step("listing group rules")(e.to_string()))?;
    let id = rules
        .body
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == name))
        .and_then(|r| r["id"].as_str())
        .ok_or_else(|| DemoError::Step(format!("the fixture has no group rule \"{name}\"")))?
        .to_string();
    let url = admin.org().join(&format!("/api/v1/groups/rules/{id}"));
    admin
        .send(
            Method::POST,
            &format!("{url}/lifecycle/deactivate"),
            bucket,
            None,
        )
        .await
        .map_err(|e| step("deactivating the group rule")(e.to_string()))?;
    admin
        .send(Method::DELETE, &url, bucket, None)
        .await
        .map_err(|e| step("deleting the group rule")(e.to_string()))?;
    Ok(format!("deleted the group rule \"{name}\""))
}

/// The semantic diff between two snapshot commits.
fn what_changed(
    catalogue: &Catalogue,
    dir: &Path,
    from: &str,
    to: &str,
) -> Result<crate::diff::render::Report, DemoError> {
    let opened = super::diff::open(dir, catalogue)
        .map_err(|e| step("reading the snapshots")(e.to_string()))?;
    let options = super::diff::Options {
        from: Some(from.to_string()),
        to: Some(to.to_string()),
        ..Default::default()
    };
    super::diff::run(&opened, catalogue, &options)
        .map_err(|e| step("comparing the snapshots")(e.to_string()))
}
