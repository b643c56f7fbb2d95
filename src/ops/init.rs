//! `init`: a new org repository: a git repository whose snapshot branch holds `butterfly.toml`
//! (the org's domain and the scopes to request, spelled out) and a README saying what the
//! repository is.

use std::collections::BTreeMap;
use std::path::Path;

use crate::catalogue::Catalogue;
use crate::config::{ConfigError, FILE, OrgConfig};
use crate::provider::okta::{ClientError, OrgUrl};
use crate::snapshot::repo::{InitOptions, Initialised, OrgRepo, RepoError};

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Domain(#[from] ClientError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error("making the commit signature: {0}")]
    Signature(git2::Error),
}

/// Makes `dir` an org repository for the org at `domain`, snapshots on `branch`.
pub fn init(
    catalogue: &Catalogue,
    dir: &Path,
    domain: &str,
    branch: &str,
) -> Result<Initialised, InitError> {
    let org = OrgUrl::parse(domain)?;
    // `acme.okta.com` for Okta; the whole URL where it is not https (the simulator).
    let base = org.base();
    let mut config = OrgConfig::new(base.strip_prefix("https://").unwrap_or(&base));
    config.backup.branch = branch.to_string();
    let text = config.to_text(catalogue);
    // What init writes must read back.
    OrgConfig::parse(&text, &dir.join(FILE), catalogue)?;
    let readme = format!(
        "# {host}\n\nThe configuration of the Okta org {host}, backed up by Butterfly: every resource as a\ncanonical JSON file under `okta/`, one commit per backup on the `{branch}` branch.\n\n```sh\nbutterfly test-connection   # can every kind be backed up with these credentials?\nbutterfly backup            # a new snapshot\ngit log --stat {branch}      # what changed, backup by backup\n```\n\nCredentials come from the environment (`OKTA_CLIENT_ID` with `OKTA_CLIENT_SECRET` or\n`OKTA_PRIVATE_KEY`, or `OKTA_API_TOKEN`), never from this repository. Secrets Okta returns are\nstored only as fingerprints under the org's key: `butterfly key export` prints it for CI and\nthe server.\n",
        host = org.host(),
    );
    let mut files = BTreeMap::new();
    files.insert(FILE.to_string(), text.into_bytes());
    files.insert("README.md".to_string(), readme.into_bytes());
    let signature =
        git2::Signature::now("Butterfly", "butterfly@localhost").map_err(InitError::Signature)?;
    let message = format!("Butterfly org repository for {}", org.host());
    Ok(OrgRepo::init(
        dir,
        InitOptions {
            branch,
            files,
            message: &message,
            signature: &signature,
        },
    )?)
}
