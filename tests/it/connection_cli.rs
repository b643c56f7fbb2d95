//! `butterfly test-connection` against the simulator: every kind readable with every scope;
//! with too few scopes, the kinds that cannot be backed up, why, and the scopes to grant; and
//! the configuration errors a user can make, as exit 3 with the file and line.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::sim::Sim;

fn butterfly(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_butterfly"));
    command.args(args).arg("-C").arg(dir);
    for var in butterfly::provider::okta::credentials::ENV_VARS {
        command.env_remove(var);
    }
    command.envs(env.iter().copied());
    command.output().expect("run butterfly")
}

fn repo(name: &str, toml: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bt-conn-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("butterfly.toml"), toml).unwrap();
    dir
}

fn secret_env(sim: &Sim) -> Vec<(&'static str, String)> {
    vec![
        ("OKTA_CLIENT_ID", sim.client_id.clone()),
        ("OKTA_CLIENT_SECRET", sim.client_secret.clone()),
    ]
}

fn run_json(dir: &Path, env: &[(&'static str, String)]) -> (i32, Value) {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = butterfly(dir, &["test-connection", "--format", "json"], &env);
    let text = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), value)
}

#[test]
fn with_every_scope_every_kind_can_be_backed_up() {
    let sim = Sim::start_unlimited("small");
    let dir = repo(
        "all",
        &format!("provider = \"okta\"\n[okta]\ndomain = \"{}\"\n", sim.url),
    );
    let (code, report) = run_json(&dir, &secret_env(&sim));
    let bad: Vec<&Value> = report["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["status"] != "ok")
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    assert_eq!(code, 0);
    assert_eq!(report["method"], "client_secret_basic");
    // One request per kind variant, about: not a backup.
    let kinds = report["kinds"].as_array().unwrap().len() as u64;
    assert!(
        report["requests"].as_u64().unwrap() < kinds * 2,
        "{}",
        report["requests"]
    );
}

#[test]
fn missing_scopes_are_named_with_the_kinds_they_stop() {
    let sim = Sim::start_unlimited("small");
    let scopes = "okta.groups.read,okta.users.read";
    let sim2 = Sim::start("small", &["--grant-scopes", scopes]);
    drop(sim);
    let dir = repo(
        "few",
        &format!(
            "provider = \"okta\"\n[okta]\ndomain = \"{}\"\nscopes = [\"okta.groups.read\", \"okta.users.read\"]\n",
            sim2.url
        ),
    );
    let (code, report) = run_json(&dir, &secret_env(&sim2));
    assert_eq!(code, 2, "{report:#}");
    let status = |kind: &str| {
        report["kinds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kind"] == kind)
            .map(|k| k["status"].as_str().unwrap().to_string())
    };
    assert_eq!(status("group").as_deref(), Some("ok"));
    assert_eq!(status("app").as_deref(), Some("scope_missing"));
    let missing: Vec<&str> = report["missing_scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(missing.contains(&"okta.apps.read"), "{missing:?}");
    // Text output says what to grant.
    let env = secret_env(&sim2);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = butterfly(&dir, &["test-connection"], &env);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("grant these scopes"), "{text}");
    assert!(text.contains("okta.apps.read"), "{text}");

    // Asking for a scope the app was not granted fails the token request, naming the scopes.
    std::fs::write(
        dir.join("butterfly.toml"),
        format!(
            "provider = \"okta\"\n[okta]\ndomain = \"{}\"\nscopes = [\"okta.apps.read\"]\n",
            sim2.url
        ),
    )
    .unwrap();
    let out = butterfly(&dir, &["test-connection"], &env);
    assert_eq!(out.status.code(), Some(1));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains("okta.apps.read") && error.contains("invalid_scope"),
        "{error}"
    );
}

#[test]
fn configuration_mistakes_exit_3_naming_the_file() {
    let dir = repo("bad", "provider = \"okta\"\n[okta]\ndomain = 3\n");
    let out = butterfly(&dir, &["test-connection"], &[("OKTA_API_TOKEN", "x")]);
    assert_eq!(out.status.code(), Some(3));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("butterfly.toml: line 3"), "{error}");

    let dir = repo(
        "nocreds",
        "provider = \"okta\"\n[okta]\ndomain = \"acme.okta.com\"\n",
    );
    let out = butterfly(&dir, &["test-connection"], &[]);
    assert_eq!(out.status.code(), Some(3));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("OKTA_CLIENT_ID"), "{error}");

    let empty = std::env::temp_dir().join(format!("bt-conn-none-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let out = butterfly(&empty, &["test-connection"], &[("OKTA_API_TOKEN", "x")]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("butterfly init"));
}
