//! The schema migrations, embedded in the binary (`migrations/{sqlite,postgres}/NNNN_name.sql`)
//! and handed to sqlx's migrator through [`MigrationSource`], since sqlx's `migrate!` macro is
//! left out (DEPENDENCIES.md: it compiles the drivers twice).
//!
//! Must not edit a shipped migration: sqlx checks each one's checksum against the database.

use std::borrow::Cow;

use sqlx::SqlSafeStr as _;
use sqlx::migrate::{Migration, MigrationSource, MigrationType};

/// The database a migration set is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// `(version, description, SQLite text, PostgreSQL text)`, in order.
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "accounts",
        include_str!("../../migrations/sqlite/0001_accounts.sql"),
        include_str!("../../migrations/postgres/0001_accounts.sql"),
    ),
    (
        2,
        "server",
        include_str!("../../migrations/sqlite/0002_server.sql"),
        include_str!("../../migrations/postgres/0002_server.sql"),
    ),
];

/// The embedded migrations of one dialect.
#[derive(Debug, Clone, Copy)]
pub struct Embedded(pub Dialect);

impl Embedded {
    pub fn migrations(self) -> Vec<Migration> {
        MIGRATIONS
            .iter()
            .map(|(version, description, sqlite, postgres)| {
                let sql = match self.0 {
                    Dialect::Sqlite => *sqlite,
                    Dialect::Postgres => *postgres,
                };
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect()
    }
}

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> futures_util::future::BoxFuture<'static, Result<Vec<Migration>, sqlx::error::BoxDynError>>
    {
        Box::pin(async move { Ok(self.migrations()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_increasing_and_both_dialects_have_each_migration() {
        let mut last = 0;
        for (version, description, sqlite, postgres) in MIGRATIONS {
            assert!(*version > last, "migration {version} out of order");
            last = *version;
            assert!(!description.is_empty());
            assert!(sqlite.contains("CREATE TABLE"), "{description} (sqlite)");
            assert!(
                postgres.contains("CREATE TABLE"),
                "{description} (postgres)"
            );
        }
        // The same tables in both dialects.
        let tables = |sql: &str| -> Vec<String> {
            sql.split("CREATE TABLE ")
                .skip(1)
                .filter_map(|rest| rest.split_whitespace().next().map(str::to_string))
                .collect()
        };
        for (_, description, sqlite, postgres) in MIGRATIONS {
            assert_eq!(tables(sqlite), tables(postgres), "{description}");
        }
    }

    #[test]
    fn migration_files_on_disk_are_the_embedded_ones() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        for dialect in ["sqlite", "postgres"] {
            let mut names: Vec<String> = std::fs::read_dir(root.join(dialect))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            let expected: Vec<String> = MIGRATIONS
                .iter()
                .map(|(v, d, _, _)| format!("{v:04}_{d}.sql"))
                .collect();
            assert_eq!(names, expected, "migrations/{dialect}");
        }
    }
}
