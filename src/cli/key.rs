//! `butterfly key export|import [-C DIR]`: the org's fingerprint key, shared by the CLI, CI
//! and the server so they write the same fingerprints of secrets. `export` prints it (treat
//! the output as a secret); `import` reads one from standard input and stores it in the
//! repository's git folder.

use std::io::Read as _;

use anyhow::{Context as _, anyhow};

use super::{Failure, Outcome, RepoArgs};
use crate::config::OrgConfig;
use crate::ops::key::{self, KeyError};
use crate::snapshot::fingerprint::FingerprintKey;
use crate::snapshot::repo::OrgRepo;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Print the key (hex) for BUTTERFLY_FINGERPRINT_KEY in CI or the server
    Export(RepoArgs),
    /// Store a key read from standard input (as `export` prints it)
    Import(RepoArgs),
}

fn open(repo: &RepoArgs) -> Result<OrgRepo, Failure> {
    let root = OrgConfig::find_root(&repo.dir).map_err(|e| Failure::Usage(e.to_string()))?;
    OrgRepo::open(&root).map_err(|e| Failure::Usage(e.to_string()))
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let env = |name: &str| std::env::var(name).ok();
    match args.action {
        Action::Export(repo) => {
            let repo = open(&repo)?;
            let Some((found, _)) =
                key::load(&repo, env).map_err(|e| Failure::Usage(e.to_string()))?
            else {
                return Err(Failure::Usage(KeyError::Missing.to_string()));
            };
            println!("{}", found.to_hex());
            Ok(Outcome::Done)
        }
        Action::Import(repo) => {
            let repo = open(&repo)?;
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("read the key from standard input")?;
            let given =
                FingerprintKey::from_hex(&text).map_err(|e| Failure::Usage(e.to_string()))?;
            let path = key::import(&repo, &given).map_err(|e| match e {
                KeyError::Different { .. } => Failure::Usage(e.to_string()),
                other => Failure::Failed(anyhow!("{other}")),
            })?;
            eprintln!("stored the fingerprint key in {}", path.display());
            Ok(Outcome::Done)
        }
    }
}
