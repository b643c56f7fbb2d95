//! Running the real `butterfly` binary and git in tests: a run's code and output, the
//! credentials of a simulator, a fresh org repository for it, and git's own view of it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

use super::TEST_KEY;
use super::sim::Sim;

// ---------------------------------------------------------------------------------------------
// Running the binary

/// What one run of `butterfly` said.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Both streams, for messages and the secret scan.
    pub fn text(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not a JSON report ({e}):\n{}", self.text()))
    }
}

pub type Env = Vec<(&'static str, String)>;

/// `butterfly <args> -C <dir>` with exactly `env` as credentials and the fixture's fingerprint
/// key (so the files compare with the fixture's). `-C <dir>` goes before a `--` in `args`:
/// everything after it is a PATH.
pub fn command(dir: &Path, args: &[&str], env: &Env) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_butterfly"));
    let split = args.iter().position(|a| *a == "--").unwrap_or(args.len());
    command
        .args(&args[..split])
        .arg("-C")
        .arg(dir)
        .args(&args[split..]);
    for var in butterfly::provider::okta::credentials::ENV_VARS {
        command.env_remove(var);
    }
    command.env("BUTTERFLY_FINGERPRINT_KEY", TEST_KEY);
    command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    command
}

pub fn butterfly(dir: &Path, args: &[&str], env: &Env) -> Run {
    Run::from(command(dir, args, env).output().expect("run butterfly"))
}

/// A backup in the background, its output thrown away (it is killed or waited for).
pub fn spawn_backup(dir: &Path, args: &[&str], env: &Env) -> Child {
    let mut all = vec!["backup"];
    all.extend_from_slice(args);
    command(dir, &all, env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start butterfly backup")
}

pub fn backup(dir: &Path, args: &[&str], env: &Env) -> Run {
    let mut all = vec!["backup"];
    all.extend_from_slice(args);
    butterfly(dir, &all, env)
}

/// client_secret_basic.
pub fn basic(sim: &Sim) -> Env {
    vec![
        ("OKTA_CLIENT_ID", sim.client_id.clone()),
        ("OKTA_CLIENT_SECRET", sim.client_secret.clone()),
    ]
}

/// `butterfly init <tmp>/org --okta-domain <sim>`; the temporary folder lives as long as the
/// returned guard.
pub fn init(sim: &Sim) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::Builder::new()
        .prefix("bt-cli-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().join("org");
    let out = Command::new(env!("CARGO_BIN_EXE_butterfly"))
        .arg("init")
        .arg(&dir)
        .arg("--okta-domain")
        .arg(&sim.url)
        .output()
        .expect("run butterfly init");
    let run = Run::from(out);
    assert_eq!(run.code, 0, "init: {}", run.text());
    (tmp, dir)
}

// ---------------------------------------------------------------------------------------------
// Reading the repository with git itself

pub fn git_output(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "core.quotePath=false"])
        .args(args)
        .output()
        .expect("run git")
}

/// `git <args>`, which must succeed; its stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_output(dir, args);
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
