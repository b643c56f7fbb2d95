//! An org connection as the CLI and the server open it (settings from `butterfly.toml`,
//! credentials from the environment), and `test-connection`: does the token work, and can each
//! kind be backed up, and if not, why and how to fix it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::catalogue::Catalogue;
use crate::config::{ConfigError, OrgConfig};
use crate::provider::okta::walk::{self, KindFailure, Probed};
use crate::provider::okta::{
    Cause, Client, ClientError, ClientOptions, Credentials, OrgUrl, RetryPolicy,
};

/// Why a connection cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// An org repository's settings and a client of its org.
pub struct Connection {
    pub root: PathBuf,
    pub config: OrgConfig,
    pub client: Arc<Client>,
}

impl Connection {
    /// Opens the org repository holding `dir`, with credentials read through `var`.
    pub fn open(
        dir: &Path,
        catalogue: &Catalogue,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Connection, OpenError> {
        let root = OrgConfig::find_root(dir)?;
        let config = OrgConfig::load(&root, catalogue)?;
        let client = client_for(&config, catalogue, Credentials::from_env(var)?)?;
        Ok(Connection {
            root,
            config,
            client: Arc::new(client),
        })
    }
}

/// A client of the org `config` names.
pub fn client_for(
    config: &OrgConfig,
    catalogue: &Catalogue,
    credentials: Credentials,
) -> Result<Client, ClientError> {
    client_with(config, catalogue, credentials, None)
}

/// A client of the org `config` names whose connections go through `resolver` (the server's
/// upstream rule) when one is given.
pub fn client_with(
    config: &OrgConfig,
    catalogue: &Catalogue,
    credentials: Credentials,
    resolver: Option<Arc<crate::upstream::GuardedResolver>>,
) -> Result<Client, ClientError> {
    Client::new(
        OrgUrl::parse(&config.okta.domain)?,
        credentials,
        ClientOptions {
            scopes: config.scopes(catalogue),
            share: config.backup.share,
            concurrency: config.backup.concurrency,
            retry: RetryPolicy::default(),
            resolver,
        },
    )
}

/// What probing one kind found.
#[derive(Debug, Clone, Serialize)]
pub struct KindProbe {
    pub kind: String,
    /// `ok`, `not_probed`, `scope_missing`, `not_permitted`, `unavailable`, `parent_failed`,
    /// `failed`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The answer of `test-connection`.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionReport {
    pub org: String,
    pub method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub requested_scopes: Vec<String>,
    /// The token's scopes (absent for an API token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_scopes: Option<Vec<String>>,
    pub kinds: Vec<KindProbe>,
    /// Scopes to grant so every kind can be read.
    pub missing_scopes: Vec<String>,
    pub requests: u64,
}

impl ConnectionReport {
    /// Kinds that cannot be backed up.
    pub fn problems(&self) -> usize {
        self.kinds
            .iter()
            .filter(|k| !matches!(k.status, "ok" | "not_probed" | "unavailable"))
            .count()
    }
}

/// Gets a token, then asks for each of `kinds` once.
pub async fn test_connection(
    catalogue: &'static Catalogue,
    connection: &Connection,
    kinds: &BTreeSet<String>,
) -> Result<ConnectionReport, ClientError> {
    let client = &connection.client;
    let granted = client.granted_scopes().await?;
    let plan = walk::Plan {
        kinds: kinds.clone(),
        granted: granted.clone(),
    };
    let order = plan.closure(catalogue);
    let probed = walk::probe(catalogue, client, &order, granted.as_deref()).await;
    let missing_scopes: Vec<String> = probed
        .iter()
        .filter_map(|(_, outcome)| match outcome {
            Err(KindFailure::ScopeMissing { scopes }) => Some(scopes.split_whitespace()),
            _ => None,
        })
        .flatten()
        .map(str::to_string)
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect();
    let kinds = probed
        .into_iter()
        .map(|(kind, outcome)| match outcome {
            Ok(Probed::Readable) => KindProbe {
                kind,
                status: "ok",
                detail: None,
                fix: None,
            },
            Ok(Probed::NoParent { parent }) => KindProbe {
                kind,
                status: "not_probed",
                detail: Some(format!("the org has no {parent} to read it under")),
                fix: None,
            },
            Err(failure) => KindProbe {
                kind,
                status: status_of(&failure),
                detail: Some(failure.to_string()),
                fix: Some(failure.fix().to_string()),
            },
        })
        .collect();
    Ok(ConnectionReport {
        org: client.org().to_string(),
        method: client.credentials().method(),
        client_id: client.credentials().client_id().map(str::to_string),
        requested_scopes: connection.config.scopes(catalogue),
        granted_scopes: granted,
        kinds,
        missing_scopes,
        requests: client.stats().requests,
    })
}

fn status_of(failure: &KindFailure) -> &'static str {
    if failure.is_unavailable() {
        return "unavailable";
    }
    match failure {
        KindFailure::ScopeMissing { .. } => "scope_missing",
        KindFailure::Parent { .. } => "parent_failed",
        KindFailure::Request { cause, .. } => match cause {
            Cause::ScopeNotGranted => "scope_missing",
            Cause::NotPermitted => "not_permitted",
            _ => "failed",
        },
        KindFailure::NotAList { .. } | KindFailure::Stopped => "failed",
    }
}
