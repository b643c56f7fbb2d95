//! The server's database (DESIGN.md `store`): SQLite in the data directory by default
//! (`<data-dir>/butterfly.db`), PostgreSQL when `DATABASE_URL=postgres://…` says so. Opening a
//! [`Store`] creates the data directory, runs the embedded migrations and unlocks the master key
//! (`secrets`), so a `Store` in hand is always migrated and able to read its secrets.
//!
//! Typed functions per concept: teams and users (`accounts`), sign-in links and sessions
//! (`sessions`), secrets sealed under the master key (here). The same SQL runs on both
//! databases (`$1` parameters, `RETURNING`, `ON CONFLICT`, Unix-second times).
//!
//! Must not know about HTTP or the CLI; must not put a secret, key, token or password in an
//! error or a log line (tokens are stored only as SHA-256 digests).

pub mod accounts;
pub mod audit;
pub mod connections;
pub mod jobs;
pub mod migrations;
pub mod password;
pub mod schedules;
pub mod secrets;
pub mod sessions;
pub mod throttle;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use self::accounts::TeamId;
use self::migrations::{Dialect, Embedded};
use self::secrets::{KeyError, KeySource, MasterKey, SealError, SecretBytes};

/// The variable that switches the store to PostgreSQL.
pub const DATABASE_URL_ENV: &str = "DATABASE_URL";
/// The SQLite database's file name in the data directory.
pub const SQLITE_FILE: &str = "butterfly.db";

/// Runs `$body` with `$p` bound to the concrete pool, so one SQL text serves both databases.
macro_rules! on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            $crate::store::Pool::Sqlite($p) => $body,
            $crate::store::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Where the store lives and where its master key comes from.
#[derive(Clone)]
pub struct StoreConfig {
    /// The data directory: the SQLite file, the master key file, later the org repositories.
    pub data_dir: PathBuf,
    /// `postgres://…` for PostgreSQL; `None` for SQLite in the data directory.
    pub database_url: Option<String>,
    /// The value of `BUTTERFLY_MASTER_KEY`, if set.
    pub master_key: Option<String>,
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_ref().map(|_| "<set>"))
            .field(
                "master_key",
                &self.master_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl StoreConfig {
    /// The data directory with `DATABASE_URL` and `BUTTERFLY_MASTER_KEY` from `env`.
    pub fn new(data_dir: &Path, env: impl Fn(&str) -> Option<String>) -> StoreConfig {
        StoreConfig {
            data_dir: data_dir.to_path_buf(),
            database_url: env(DATABASE_URL_ENV).filter(|v| !v.trim().is_empty()),
            master_key: env(secrets::MASTER_KEY_ENV),
        }
    }
}

/// Which database a store is, as errors name it (never with a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Sqlite {
        path: PathBuf,
    },
    Postgres {
        host: String,
        port: u16,
        database: String,
    },
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::Sqlite { path } => write!(f, "the SQLite database {}", path.display()),
            Backend::Postgres {
                host,
                port,
                database,
            } => write!(f, "the PostgreSQL database {database} on {host}:{port}"),
        }
    }
}

/// Why the store could not open or do what was asked; each names the database or the thing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("could not create the data directory {}: {source}", path.display())]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{DATABASE_URL_ENV} is not a PostgreSQL URL (postgres://user@host:port/database): {reason}"
    )]
    DatabaseUrl { reason: String },
    #[error("could not connect to {backend}: {source}")]
    Connect {
        backend: Backend,
        source: Box<sqlx::Error>,
    },
    #[error("could not migrate {backend}: {source}")]
    Migrate {
        backend: Backend,
        source: Box<sqlx::migrate::MigrateError>,
    },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(transparent)]
    Password(#[from] password::PasswordError),
    #[error("could not {what} in {backend}: {source}")]
    Query {
        what: String,
        backend: Backend,
        source: Box<sqlx::Error>,
    },
    #[error("{email} is already a member of team {team}")]
    EmailTaken { email: String, team: String },
    #[error("no {what}")]
    NotFound { what: String },
    #[error("{what}")]
    Conflict { what: String },
    #[error("the system's random number generator failed")]
    Random,
    #[error("{what} failed: {reason}")]
    Task { what: String, reason: String },
}

#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The open, migrated, unlocked database.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    backend: Backend,
    key: MasterKey,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Store {
    /// Opens (creating when needed) the database, runs its migrations and unlocks the master
    /// key; refuses when the database holds encrypted data and the key is missing or wrong.
    pub async fn open(config: &StoreConfig) -> Result<Store, StoreError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StoreError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
        let (pool, backend) = match &config.database_url {
            None => {
                let path = config.data_dir.join(SQLITE_FILE);
                let backend = Backend::Sqlite { path: path.clone() };
                let options = SqliteConnectOptions::new()
                    .filename(&path)
                    .create_if_missing(true)
                    .foreign_keys(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(5));
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(options)
                    .await
                    .map_err(|source| StoreError::Connect {
                        backend: backend.clone(),
                        source: Box::new(source),
                    })?;
                (Pool::Sqlite(pool), backend)
            }
            Some(url) => {
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    return Err(StoreError::DatabaseUrl {
                        reason: "it must start with postgres:// or postgresql://".into(),
                    });
                }
                let options =
                    PgConnectOptions::from_str(url).map_err(|e| StoreError::DatabaseUrl {
                        reason: redact_url_error(&e.to_string(), url),
                    })?;
                let backend = Backend::Postgres {
                    host: options.get_host().to_string(),
                    port: options.get_port(),
                    database: options
                        .get_database()
                        .unwrap_or(options.get_username())
                        .to_string(),
                };
                let pool = PgPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await
                    .map_err(|source| StoreError::Connect {
                        backend: backend.clone(),
                        source: Box::new(source),
                    })?;
                (Pool::Postgres(pool), backend)
            }
        };
        let migrate_error = |source| StoreError::Migrate {
            backend: backend.clone(),
            source: Box::new(source),
        };
        match &pool {
            Pool::Sqlite(p) => {
                let migrator = sqlx::migrate::Migrator::new(Embedded(Dialect::Sqlite))
                    .await
                    .map_err(migrate_error)?;
                migrator.run(p).await.map_err(migrate_error)?;
            }
            Pool::Postgres(p) => {
                let migrator = sqlx::migrate::Migrator::new(Embedded(Dialect::Postgres))
                    .await
                    .map_err(migrate_error)?;
                migrator.run(p).await.map_err(migrate_error)?;
            }
        }
        tracing::debug!(%backend, "store migrated");
        let source = KeySource::new(&config.data_dir, config.master_key.clone());
        let key = unlock(&pool, &backend, &source).await?;
        Ok(Store { pool, backend, key })
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Whether the database answers (for `/healthz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(&self.pool, |p| sqlx::query("SELECT 1")
            .execute(p)
            .await
            .map(|_| ()))
        .map_err(self.query_error("answer a ping"))
    }

    /// Closes the connections (waiting for queries in flight).
    pub async fn close(&self) {
        on_pool!(&self.pool, |p| p.close().await)
    }

    pub(crate) fn query_error(
        &self,
        what: impl Into<String>,
    ) -> impl FnOnce(sqlx::Error) -> StoreError {
        let backend = self.backend.clone();
        let what = what.into();
        move |source| StoreError::Query {
            what,
            backend,
            source: Box::new(source),
        }
    }

    /// Seals `plaintext` as the team's secret `name` (replacing an earlier one of that name).
    pub async fn put_secret(
        &self,
        team: TeamId,
        name: &str,
        plaintext: &[u8],
    ) -> Result<(), StoreError> {
        let what = format!("the secret {name} of team {}", team.0);
        let sealed = self.key.seal(plaintext, &secret_aad(team, name), &what)?;
        let sql = "INSERT INTO secrets (team_id, name, sealed, created_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (team_id, name) DO UPDATE SET sealed = excluded.sealed, \
                   created_at = excluded.created_at";
        on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(team.0)
            .bind(name)
            .bind(&sealed)
            .bind(now())
            .execute(p)
            .await
            .map(|_| ()))
        .map_err(self.query_error(format!("store {what}")))
    }

    /// The team's secret `name`, decrypted; `None` when there is none.
    pub async fn secret(
        &self,
        team: TeamId,
        name: &str,
    ) -> Result<Option<SecretBytes>, StoreError> {
        let what = format!("the secret {name} of team {}", team.0);
        let sql = "SELECT sealed FROM secrets WHERE team_id = $1 AND name = $2";
        let row: Option<(Vec<u8>,)> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(team.0)
            .bind(name)
            .fetch_optional(p)
            .await)
        .map_err(self.query_error(format!("read {what}")))?;
        match row {
            None => Ok(None),
            Some((sealed,)) => Ok(Some(self.key.open(
                &sealed,
                &secret_aad(team, name),
                &what,
            )?)),
        }
    }
}

/// Binds a sealed secret to its row: moved to another team or name, it does not open.
fn secret_aad(team: TeamId, name: &str) -> Vec<u8> {
    format!("butterfly/secret/{}/{name}", team.0).into_bytes()
}

/// The master key for this database: checked against the check row, or, on a database without
/// encrypted data, the given key (or a new key file) with a new check row.
async fn unlock(
    pool: &Pool,
    backend: &Backend,
    source: &KeySource,
) -> Result<MasterKey, StoreError> {
    let query_error = |what: &str| {
        let backend = backend.clone();
        let what = what.to_string();
        move |source| StoreError::Query {
            what,
            backend,
            source: Box::new(source),
        }
    };
    let read_check = "SELECT sealed FROM master_key_check WHERE id = 1";
    let check: Option<(Vec<u8>,)> =
        on_pool!(pool, |p| sqlx::query_as(read_check).fetch_optional(p).await)
            .map_err(query_error("read the master key check row"))?;
    let given = source.load()?;
    match (check, given) {
        (Some((sealed,)), Some((key, origin))) => {
            if key.opens_check(&sealed) {
                Ok(key)
            } else {
                Err(KeyError::Wrong { origin }.into())
            }
        }
        (Some(_), None) => Err(KeyError::Missing {
            file: source.file.clone(),
        }
        .into()),
        (None, given) => {
            let (count,): (i64,) =
                on_pool!(pool, |p| sqlx::query_as("SELECT COUNT(*) FROM secrets")
                    .fetch_one(p)
                    .await)
                .map_err(query_error("count the encrypted secrets"))?;
            if count > 0 {
                return Err(KeyError::CheckMissing { count }.into());
            }
            let (key, origin) = match given {
                Some(found) => found,
                None => source.create()?,
            };
            let sealed = key.seal_check()?;
            let insert = "INSERT INTO master_key_check (id, sealed, created_at) VALUES (1, $1, $2) \
                          ON CONFLICT (id) DO NOTHING";
            on_pool!(pool, |p| sqlx::query(insert)
                .bind(&sealed)
                .bind(now())
                .execute(p)
                .await
                .map(|_| ()))
            .map_err(query_error("write the master key check row"))?;
            // Another process may have written its row first: the key must open the one stored.
            let (stored,): (Vec<u8>,) =
                on_pool!(pool, |p| sqlx::query_as(read_check).fetch_one(p).await)
                    .map_err(query_error("read the master key check row"))?;
            if key.opens_check(&stored) {
                Ok(key)
            } else {
                Err(KeyError::Wrong { origin }.into())
            }
        }
    }
}

/// A URL parse error, with the URL's password (if the message quotes it) taken out.
fn redact_url_error(message: &str, url: &str) -> String {
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, password)| password)
        .filter(|p| !p.is_empty());
    match password {
        Some(password) => message.replace(password, "<redacted>"),
        None => message.to_string(),
    }
}

/// Whether a database error is a unique-constraint violation.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_are_named_without_passwords() {
        let pg = Backend::Postgres {
            host: "db".into(),
            port: 5432,
            database: "butterfly".into(),
        };
        assert_eq!(
            pg.to_string(),
            "the PostgreSQL database butterfly on db:5432"
        );
        assert_eq!(
            redact_url_error(
                "bad url postgres://u:hunter2@h/db",
                "postgres://u:hunter2@h/db"
            ),
            "bad url postgres://u:<redacted>@h/db"
        );
        let config = StoreConfig::new(Path::new("/d"), |name| match name {
            "DATABASE_URL" => Some("postgres://u:hunter2@h/db".into()),
            "BUTTERFLY_MASTER_KEY" => Some("00".repeat(32)),
            _ => None,
        });
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("0000"),
            "{debug}"
        );
    }
}
