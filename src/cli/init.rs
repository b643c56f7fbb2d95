//! `butterfly init DIR --okta-domain acme.okta.com [--branch main]`: a new org repository.

use std::path::PathBuf;

use anyhow::anyhow;

use super::{Failure, Outcome};
use crate::catalogue::Catalogue;
use crate::ops::init::{self, InitError};
use crate::snapshot::repo::RepoError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The folder to make the org repository in (made if missing; may be an empty folder or a
    /// git repository without butterfly.toml)
    pub dir: PathBuf,

    /// The org: a host (acme.okta.com) or URL
    #[arg(long)]
    pub okta_domain: String,

    /// The branch snapshots are committed to
    #[arg(long, default_value = "main")]
    pub branch: String,
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let catalogue = Catalogue::okta().map_err(|e| anyhow!("{e}"))?;
    let made =
        init::init(catalogue, &args.dir, &args.okta_domain, &args.branch).map_err(|e| match e {
            InitError::Domain(_) | InitError::Config(_) => Failure::Usage(e.to_string()),
            InitError::Repo(
                RepoError::NotEmpty { .. }
                | RepoError::AlreadyInitialised { .. }
                | RepoError::HeadElsewhere { .. }
                | RepoError::BadBranch { .. }
                | RepoError::Dirty { .. },
            ) => Failure::Usage(e.to_string()),
            other => Failure::Failed(anyhow!("{other}")),
        })?;
    println!(
        "Initialised {} (commit {}) for {} on branch {}",
        args.dir.display(),
        &made.commit.to_string()[..12],
        args.okta_domain,
        args.branch
    );
    for kept in &made.kept {
        println!("  kept the repository's own {kept}");
    }
    println!(
        "Next: cd {} and set OKTA_CLIENT_ID with OKTA_CLIENT_SECRET or OKTA_PRIVATE_KEY (or OKTA_API_TOKEN), then run butterfly test-connection and butterfly backup",
        args.dir.display()
    );
    Ok(Outcome::Done)
}
