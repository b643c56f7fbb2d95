//! The server's store on both databases: the same checks on SQLite (a temporary data
//! directory) and on PostgreSQL (`postgres://postgres@127.0.0.1:5432/test`, or
//! `BUTTERFLY_TEST_DATABASE_URL`), each run in a schema of its own that is dropped afterwards.
//! PostgreSQL unreachable: the test fails under CI (`CI` or `BUTTERFLY_REQUIRE_ALL=1`), and
//! otherwise runs on SQLite alone, saying so. Plus `butterfly admin create-user` end to end and
//! the master key's refusals.

use std::path::Path;

use butterfly::server::role::Role;
use butterfly::store::accounts::{Email, TeamName};
use butterfly::store::secrets::KeyError;
use butterfly::store::sessions::Token;
use butterfly::store::{Store, StoreConfig, StoreError};

use super::support::cli::Run;
use super::support::db::databases;

fn email(text: &str) -> Email {
    Email::parse(text).unwrap()
}

fn team(text: &str) -> TeamName {
    TeamName::parse(text).unwrap()
}

#[tokio::test]
async fn teams_users_links_and_sessions_behave_the_same_on_sqlite_and_postgres() {
    for db in databases("accounts").await {
        let store = db.open().await;
        let on = &db.name;

        let (acme, created) = store.ensure_team(&team("Acme")).await.unwrap();
        assert!(created, "{on}");
        assert_eq!(acme.plan, "free", "{on}");
        let (again, created) = store.ensure_team(&team(" Acme ")).await.unwrap();
        assert_eq!((again.id, created), (acme.id, false), "{on}");

        let ana = store
            .create_user(&acme, &email("Ana@Example.com"), Role::Auditor)
            .await
            .unwrap();
        assert!(ana.active && !ana.has_password, "{on}");
        let found = store
            .find_user_by_email(&email("ana@example.COM"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found, ana, "{on}");
        assert_eq!(
            store.find_user(ana.id).await.unwrap().unwrap().role,
            Role::Auditor,
            "{on}"
        );
        assert!(
            store
                .find_user_by_email(&email("bob@example.com"))
                .await
                .unwrap()
                .is_none()
        );

        // One account per email, across teams; the error names the team that has it.
        let (other, _) = store.ensure_team(&team("Other")).await.unwrap();
        let taken = store
            .create_user(&other, &email("ana@example.com"), Role::Admin)
            .await;
        match taken {
            Err(StoreError::EmailTaken { email, team }) => {
                assert_eq!(
                    (email.as_str(), team.as_str()),
                    ("ana@example.com", "Acme"),
                    "{on}"
                );
            }
            other => panic!("{on}: expected EmailTaken, got {other:?}"),
        }

        // Local passwords (argon2id).
        assert!(
            store
                .check_password(&ana.email, "correct horse battery")
                .await
                .unwrap()
                .is_none()
        );
        store
            .set_password(ana.id, "correct horse battery")
            .await
            .unwrap();
        let signed = store
            .check_password(&ana.email, "correct horse battery")
            .await
            .unwrap();
        assert_eq!(signed.map(|u| u.id), Some(ana.id), "{on}");
        assert!(
            store
                .check_password(&ana.email, "wrong horse battery")
                .await
                .unwrap()
                .is_none()
        );

        // A sign-in link works once, and not after it expires.
        let now = 1_800_000_000;
        let link = store.create_sign_in_link(ana.id, now, 3600).await.unwrap();
        let late = store.create_sign_in_link(ana.id, now, 3600).await.unwrap();
        let used = store.use_sign_in_link(&link, now + 10).await.unwrap();
        assert_eq!(used.map(|u| u.id), Some(ana.id), "{on}");
        assert!(
            store
                .use_sign_in_link(&link, now + 11)
                .await
                .unwrap()
                .is_none(),
            "{on}: used twice"
        );
        assert!(
            store
                .use_sign_in_link(&late, now + 3600)
                .await
                .unwrap()
                .is_none(),
            "{on}: expired"
        );
        let forged = Token::from_presented("not-a-token");
        assert!(
            store
                .use_sign_in_link(&forged, now)
                .await
                .unwrap()
                .is_none()
        );

        // Sessions: live until expiry or revocation; a deactivated user's sessions stop.
        let session = store.create_session(ana.id, now, 600).await.unwrap();
        let user = store.session_user(&session, now + 1).await.unwrap();
        assert_eq!(user.map(|u| u.email), Some(ana.email.clone()), "{on}");
        assert!(
            store
                .session_user(&session, now + 600)
                .await
                .unwrap()
                .is_none(),
            "{on}: expired"
        );
        let presented = Token::from_presented(session.as_str());
        assert!(
            store
                .session_user(&presented, now + 2)
                .await
                .unwrap()
                .is_some(),
            "{on}"
        );
        assert!(
            store.revoke_session(&session, now + 3).await.unwrap(),
            "{on}"
        );
        assert!(
            !store.revoke_session(&session, now + 4).await.unwrap(),
            "{on}: revoked twice"
        );
        assert!(
            store
                .session_user(&session, now + 5)
                .await
                .unwrap()
                .is_none(),
            "{on}: revoked"
        );

        let second = store.create_session(ana.id, now, 600).await.unwrap();
        store.set_active(ana.id, false).await.unwrap();
        assert!(
            store
                .session_user(&second, now + 1)
                .await
                .unwrap()
                .is_none(),
            "{on}: inactive"
        );
        assert!(
            store
                .check_password(&ana.email, "correct horse battery")
                .await
                .unwrap()
                .is_none()
        );
        store.set_active(ana.id, true).await.unwrap();
        assert!(
            store
                .session_user(&second, now + 1)
                .await
                .unwrap()
                .is_some(),
            "{on}"
        );
        assert_eq!(
            store.revoke_sessions_of(ana.id, now + 2).await.unwrap(),
            1,
            "{on}"
        );
        assert!(
            store
                .session_user(&second, now + 3)
                .await
                .unwrap()
                .is_none(),
            "{on}"
        );

        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn secrets_are_sealed_under_the_master_key_and_a_missing_or_wrong_key_is_refused() {
    for db in databases("secrets").await {
        let on = &db.name;
        let key_file = db.data_dir.path().join("master.key");
        let store = db.open().await;
        assert!(
            key_file.exists(),
            "{on}: the first start makes the key file"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{on}");
        }
        let (acme, _) = store.ensure_team(&team("Acme")).await.unwrap();
        store
            .put_secret(acme.id, "okta-client-secret", b"s3cr3t-value")
            .await
            .unwrap();
        let read = store
            .secret(acme.id, "okta-client-secret")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.expose(), b"s3cr3t-value", "{on}");
        store
            .put_secret(acme.id, "okta-client-secret", b"rotated")
            .await
            .unwrap();
        let read = store
            .secret(acme.id, "okta-client-secret")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.expose(), b"rotated", "{on}");
        assert!(store.secret(acme.id, "other").await.unwrap().is_none());
        store.close().await;

        // Reopening with the same key file runs no migration twice and reads the secret.
        let store = db.open().await;
        let read = store
            .secret(acme.id, "okta-client-secret")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.expose(), b"rotated", "{on}");
        store.close().await;

        // The key given in the environment (hex, or base64) wins over the file.
        let hex = std::fs::read_to_string(&key_file)
            .unwrap()
            .trim()
            .to_string();
        let store = Store::open(&db.config(Some(&hex))).await.unwrap();
        store.close().await;

        // A wrong key: refused, naming where it came from and never the key.
        let wrong = "ab".repeat(32);
        let error = Store::open(&db.config(Some(&wrong))).await.unwrap_err();
        assert!(
            matches!(error, StoreError::Key(KeyError::Wrong { .. })),
            "{on}: {error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains(
                "BUTTERFLY_MASTER_KEY is not the key this database's secrets were encrypted with"
            ),
            "{on}: {message}"
        );
        assert!(
            !message.contains(&wrong) && !message.contains(&hex),
            "{on}: {message}"
        );

        // A missing key: refused, naming the file to restore; no new key is made.
        std::fs::remove_file(&key_file).unwrap();
        let error = Store::open(&db.config(None)).await.unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, StoreError::Key(KeyError::Missing { .. })),
            "{on}: {error:?}"
        );
        assert!(
            message.contains("no master key was given"),
            "{on}: {message}"
        );
        assert!(
            message.contains(&key_file.display().to_string()),
            "{on}: {message}"
        );
        assert!(
            !key_file.exists(),
            "{on}: a missing key is never replaced by a new one"
        );

        // A malformed key names the variable.
        let error = Store::open(&db.config(Some("not-a-key")))
            .await
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("BUTTERFLY_MASTER_KEY is not a master key"),
            "{on}: {error}"
        );

        db.finish().await;
    }
}

// ---------------------------------------------------------------------------------------------
// `butterfly admin create-user`, end to end on SQLite

fn admin(data_dir: &Path, args: &[&str], master_key: Option<&str>, stdin: Option<&str>) -> Run {
    use std::io::Write as _;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_butterfly"));
    command
        .args(["admin", "create-user", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("BUTTERFLY_DATA_DIR")
        .env_remove("BUTTERFLY_MASTER_KEY")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(key) = master_key {
        command.env("BUTTERFLY_MASTER_KEY", key);
    }
    let mut child = command.spawn().expect("run butterfly admin create-user");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    Run::from(child.wait_with_output().unwrap())
}

fn sqlite_config(data_dir: &Path) -> StoreConfig {
    StoreConfig {
        data_dir: data_dir.to_path_buf(),
        database_url: None,
        master_key: None,
    }
}

#[tokio::test]
async fn admin_create_user_makes_team_and_user_and_prints_a_one_time_link() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = admin(
        &data,
        &[
            "--team",
            "Acme",
            "--email",
            "Ana@Example.com",
            "--role",
            "super_admin",
        ],
        None,
        None,
    );
    assert_eq!(run.code, 0, "{}", run.text());
    let link = run.stdout.trim();
    let token = link
        .strip_prefix("http://127.0.0.1:8080/login/once/")
        .unwrap_or_else(|| panic!("not a sign-in link: {}", run.text()));
    assert_eq!(token.len(), 43, "{link}");
    assert!(run.stderr.contains("created team Acme"), "{}", run.text());
    assert!(
        run.stderr
            .contains("ana@example.com (super_admin) in team Acme"),
        "{}",
        run.text()
    );
    assert!(data.join("butterfly.db").exists() && data.join("master.key").exists());

    // A second member of the same team, with a local password and another base URL.
    let run = admin(
        &data,
        &[
            "--team",
            "Acme",
            "--email",
            "bob@example.com",
            "--role",
            "read_only",
            "--base-url",
            "https://backup.example.com/",
            "--password-stdin",
        ],
        None,
        Some("a long enough password\n"),
    );
    assert_eq!(run.code, 0, "{}", run.text());
    assert!(
        run.stdout
            .starts_with("https://backup.example.com/login/once/"),
        "{}",
        run.text()
    );
    assert!(!run.stderr.contains("created team"), "{}", run.text());
    assert!(
        run.stderr.contains("with a local password"),
        "{}",
        run.text()
    );
    assert!(!run.text().contains("a long enough password"));

    let store = Store::open(&sqlite_config(&data)).await.unwrap();
    let ana = store
        .find_user_by_email(&email("ana@example.com"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ana.role, Role::SuperAdmin);
    let bob = store
        .check_password(&email("bob@example.com"), "a long enough password")
        .await
        .unwrap();
    assert_eq!(
        bob.map(|u| (u.role, u.team)),
        Some((Role::ReadOnly, ana.team))
    );
    // The printed token signs Ana in once; the database holds only its hash.
    let now = butterfly::store::now();
    let token = Token::from_presented(token);
    assert_eq!(
        store
            .use_sign_in_link(&token, now)
            .await
            .unwrap()
            .map(|u| u.id),
        Some(ana.id)
    );
    assert!(store.use_sign_in_link(&token, now).await.unwrap().is_none());
    store.close().await;
    let bytes = std::fs::read(data.join("butterfly.db")).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !text.contains(token.as_str()),
        "the token itself is never stored"
    );

    // Usage errors (exit 3) name the problem; nothing is half made.
    let run = admin(
        &data,
        &[
            "--team",
            "Acme",
            "--email",
            "ana@example.com",
            "--role",
            "admin",
        ],
        None,
        None,
    );
    assert_eq!(run.code, 3, "{}", run.text());
    assert!(
        run.stderr
            .contains("ana@example.com is already a member of team Acme"),
        "{}",
        run.text()
    );
    let run = admin(
        &data,
        &[
            "--team",
            "Acme",
            "--email",
            "cy@example.com",
            "--role",
            "owner",
        ],
        None,
        None,
    );
    assert_eq!(run.code, 3, "{}", run.text());
    assert!(
        run.stderr.contains("unknown role `owner`"),
        "{}",
        run.text()
    );
    let run = admin(
        &data,
        &["--team", "Acme", "--email", "cy", "--role", "admin"],
        None,
        None,
    );
    assert_eq!(run.code, 3, "{}", run.text());
    assert!(
        run.stderr.contains("`cy` is not an email address"),
        "{}",
        run.text()
    );
    let run = admin(
        &data,
        &[
            "--team",
            "Acme",
            "--email",
            "cy@example.com",
            "--role",
            "admin",
            "--password-stdin",
        ],
        None,
        Some("short\n"),
    );
    assert_eq!(run.code, 3, "{}", run.text());
    assert!(
        run.stderr.contains("password is too short"),
        "{}",
        run.text()
    );
    let store = Store::open(&sqlite_config(&data)).await.unwrap();
    assert!(
        store
            .find_user_by_email(&email("cy@example.com"))
            .await
            .unwrap()
            .is_none()
    );
    store.close().await;
}

#[test]
fn admin_create_user_refuses_a_wrong_master_key_without_printing_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = [
        "--team",
        "Acme",
        "--email",
        "ana@example.com",
        "--role",
        "admin",
    ];
    assert_eq!(admin(&data, &args, None, None).code, 0);

    let wrong = "cd".repeat(32);
    let args = [
        "--team",
        "Acme",
        "--email",
        "bob@example.com",
        "--role",
        "admin",
    ];
    let run = admin(&data, &args, Some(&wrong), None);
    assert_eq!(run.code, 1, "{}", run.text());
    assert!(
        run.stderr.contains("the master key from BUTTERFLY_MASTER_KEY is not the key this database's secrets were encrypted with"),
        "{}",
        run.text()
    );
    assert!(run.stdout.is_empty(), "no link on refusal: {}", run.text());
    let key = std::fs::read_to_string(data.join("master.key")).unwrap();
    assert!(!run.text().contains(&wrong) && !run.text().contains(key.trim()));

    std::fs::remove_file(data.join("master.key")).unwrap();
    let run = admin(&data, &args, None, None);
    assert_eq!(run.code, 1, "{}", run.text());
    assert!(
        run.stderr.contains("no master key was given"),
        "{}",
        run.text()
    );
}
