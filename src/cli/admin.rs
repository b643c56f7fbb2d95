//! `butterfly admin create-user --data-dir DIR --team T --email E --role R`: the installation
//! operator's commands, run on the server's machine against its store (SQLite in DIR, or
//! PostgreSQL through `DATABASE_URL`). Prints the one-time sign-in link on stdout.

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::Context as _;

use super::{Failure, Outcome};
use crate::ops::admin::{self, BaseUrl, NewUser};
use crate::server::role::Role;
use crate::store::accounts::{Email, TeamName};
use crate::store::{Store, StoreConfig, StoreError};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Add a member to a team (made if needed) and print a one-time sign-in link
    CreateUser(CreateUserArgs),
    /// Set a team's plan: free (1 connection), standard (2) or business (no limit)
    SetPlan(SetPlanArgs),
}

#[derive(Debug, clap::Args)]
pub struct SetPlanArgs {
    /// The server's data directory (SQLite database, master key); DATABASE_URL=postgres://…
    /// puts the database in PostgreSQL instead
    #[arg(long, value_name = "DIR", env = "BUTTERFLY_DATA_DIR")]
    pub data_dir: PathBuf,

    /// The team's name
    #[arg(long, value_name = "TEAM")]
    pub team: String,

    /// free, standard or business
    #[arg(long, value_name = "PLAN")]
    pub plan: String,
}

#[derive(Debug, clap::Args)]
pub struct CreateUserArgs {
    /// The server's data directory (SQLite database, master key); DATABASE_URL=postgres://…
    /// puts the database in PostgreSQL instead
    #[arg(long, value_name = "DIR", env = "BUTTERFLY_DATA_DIR")]
    pub data_dir: PathBuf,

    /// The team's name (made if it does not exist)
    #[arg(long, value_name = "TEAM")]
    pub team: String,

    /// The member's email address (one account per address)
    #[arg(long, value_name = "EMAIL")]
    pub email: String,

    /// super_admin, admin, backup_operator, auditor or read_only
    #[arg(long, value_name = "ROLE")]
    pub role: String,

    /// The server's public URL, for the sign-in link
    #[arg(long, value_name = "URL", default_value = admin::DEFAULT_BASE_URL)]
    pub base_url: String,

    /// Also set a local password (at least 12 characters), read from standard input
    #[arg(long)]
    pub password_stdin: bool,
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    match args.action {
        Action::CreateUser(args) => create_user(args),
        Action::SetPlan(args) => set_plan(args),
    }
}

fn set_plan(args: SetPlanArgs) -> Result<Outcome, Failure> {
    let team = TeamName::parse(&args.team).map_err(|e| Failure::Usage(e.to_string()))?;
    let config = StoreConfig::new(&args.data_dir, |name| std::env::var(name).ok());
    let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
    let done = runtime.block_on(async {
        let store = Store::open(&config)
            .await
            .map_err(admin::SetPlanError::Store)?;
        let done = admin::set_plan(&store, &team, &args.plan).await;
        store.close().await;
        done
    });
    match done {
        Ok(()) => {
            eprintln!(
                "team {} is now on the {} plan",
                team,
                args.plan.trim().to_lowercase()
            );
            Ok(Outcome::Done)
        }
        Err(admin::SetPlanError::Store(e)) => Err(Failure::Failed(anyhow::Error::new(e))),
        Err(e) => Err(Failure::Usage(e.to_string())),
    }
}

fn create_user(args: CreateUserArgs) -> Result<Outcome, Failure> {
    let usage = |e: &dyn std::fmt::Display| Failure::Usage(e.to_string());
    let team = TeamName::parse(&args.team).map_err(|e| usage(&e))?;
    let email = Email::parse(&args.email).map_err(|e| usage(&e))?;
    let role = args.role.parse::<Role>().map_err(|e| usage(&e))?;
    let base_url = BaseUrl::parse(&args.base_url).map_err(|e| usage(&e))?;
    let password = if args.password_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("read the password from standard input")?;
        Some(text.trim_end_matches(['\r', '\n']).to_string())
    } else {
        None
    };
    let config = StoreConfig::new(&args.data_dir, |name| std::env::var(name).ok());
    let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
    let created = runtime.block_on(async {
        let store = Store::open(&config).await?;
        let created = admin::create_user(
            &store,
            NewUser {
                team,
                email,
                role,
                password,
                base_url,
            },
            crate::store::now(),
        )
        .await;
        store.close().await;
        created
    });
    let created = created.map_err(|e| match e {
        StoreError::EmailTaken { .. }
        | StoreError::Password(_)
        | StoreError::DatabaseUrl { .. } => Failure::Usage(e.to_string()),
        other => Failure::Failed(anyhow::Error::new(other)),
    })?;
    let expires = chrono::DateTime::from_timestamp(created.link_expires_at, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    if created.team_created {
        eprintln!("created team {}", created.team.name);
    }
    eprintln!(
        "created {} ({}) in team {}{}; sign-in link (works once, until {expires}):",
        created.user.email,
        created.user.role,
        created.team.name,
        if created.user.has_password {
            ", with a local password"
        } else {
            ""
        },
    );
    println!("{}", created.sign_in_link);
    Ok(Outcome::Done)
}
