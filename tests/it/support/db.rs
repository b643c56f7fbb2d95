//! The databases the server's tests run on: SQLite (a temporary data directory) always, and
//! PostgreSQL (`postgres://postgres@127.0.0.1:5432/test`, or `BUTTERFLY_TEST_DATABASE_URL`) in a
//! schema of its own per test, dropped by `finish`. PostgreSQL unreachable: the test fails under
//! CI (`CI` or `BUTTERFLY_REQUIRE_ALL=1`), and otherwise runs on SQLite alone, saying so.

use std::sync::atomic::{AtomicUsize, Ordering};

use butterfly::store::{Store, StoreConfig};
use sqlx::postgres::PgPoolOptions;

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// One database under test, with the data directory (master key file) beside it.
pub struct TestDb {
    pub name: String,
    pub data_dir: tempfile::TempDir,
    pub url: Option<String>,
    /// PostgreSQL: the admin URL and this run's schema, dropped by `finish`.
    schema: Option<(String, String)>,
}

impl TestDb {
    pub fn config(&self, master_key: Option<&str>) -> StoreConfig {
        StoreConfig {
            data_dir: self.data_dir.path().to_path_buf(),
            database_url: self.url.clone(),
            master_key: master_key.map(str::to_string),
        }
    }

    pub async fn open(&self) -> Store {
        Store::open(&self.config(None))
            .await
            .unwrap_or_else(|e| panic!("open the store on {}: {e}", self.name))
    }

    pub async fn finish(self) {
        if let Some((admin, schema)) = &self.schema {
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect(admin)
                .await
                .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA \"{schema}\" CASCADE"
            )))
            .execute(&pool)
            .await
            .unwrap();
            pool.close().await;
        }
    }
}

pub fn require_all() -> bool {
    ["CI", "BUTTERFLY_REQUIRE_ALL"]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false"))
}

/// SQLite always; PostgreSQL when reachable (required under CI).
pub async fn databases(test: &str) -> Vec<TestDb> {
    let mut all = vec![TestDb {
        name: "SQLite".into(),
        data_dir: tempfile::tempdir().unwrap(),
        url: None,
        schema: None,
    }];
    let admin =
        std::env::var("BUTTERFLY_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.into());
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(&admin)
        .await;
    let pool = match pool {
        Ok(pool) => pool,
        Err(e) => {
            let message = format!(
                "SKIPPED on PostgreSQL ({test}): {admin} is unreachable ({e}); start it (`.ci/run` does, with \
                 `pg_ctlcluster`)"
            );
            if require_all() {
                panic!("{message} (CI or BUTTERFLY_REQUIRE_ALL is set, so a skip is a failure)");
            }
            eprintln!("{message}");
            return all;
        }
    };
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let schema = format!(
        "bt_test_{}_{nanos}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let separator = if admin.contains('?') { '&' } else { '?' };
    all.push(TestDb {
        name: "PostgreSQL".into(),
        data_dir: tempfile::tempdir().unwrap(),
        url: Some(format!(
            "{admin}{separator}options=-c%20search_path%3D{schema}"
        )),
        schema: Some((admin, schema)),
    });
    all
}
