//! `butterfly init` and `butterfly backup` as a user runs them: the real binary against the
//! simulator, in throwaway folders, checked with git itself. Proves issue #4's promises: the
//! round trip of `small` to the fixture tree, one commit per backup and none when nothing
//! changed, skipped kinds named and kept, no secret in git or in the output, the same tree under
//! injected faults, `kill -9` at any moment, one backup at a time, every auth method, and the
//! dirty-checkout refusal with a checkout that follows the new commit.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use crate::support::cli::{Env, Run, backup, basic, command, git, git_output, init, spawn_backup};
use crate::support::root;
use crate::support::sim::{Sim, status_and_body};

/// A rate-limit file with every bucket far above Okta's quotas, for sims that also take other
/// arguments (`Sim::start_unlimited` takes none).
fn unlimited_limits() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let catalogue = butterfly::catalogue::Catalogue::okta().unwrap();
        let mut toml = String::from("[buckets]\n");
        for bucket in catalogue.provider.buckets.keys() {
            toml.push_str(&format!("{bucket:?} = 1000000\n"));
        }
        let path = std::env::temp_dir().join(format!(
            "butterfly-it-backup-cli-unlimited-{}.toml",
            std::process::id()
        ));
        std::fs::write(&path, toml).unwrap();
        path.to_string_lossy().into_owned()
    })
}

/// Runs a future (the simulator's admin API calls) to completion.
fn block<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// The org name in reports and trailers: the simulator URL's host.
fn org_host(sim: &Sim) -> String {
    let rest = sim.url.trim_start_matches("http://");
    rest.split(':').next().unwrap().to_string()
}

fn rev(dir: &Path, what: &str) -> String {
    git(dir, &["rev-parse", what]).trim().to_string()
}

fn commit_count(dir: &Path) -> u32 {
    git(dir, &["rev-list", "--count", "refs/heads/main"])
        .trim()
        .parse()
        .unwrap()
}

fn message(dir: &Path, commit: &str) -> String {
    git(dir, &["log", "-1", "--format=%B", commit])
}

/// The value of trailer `key` of `commit` as git parses trailers (`None` when absent).
fn trailer(dir: &Path, commit: &str, key: &str) -> Option<String> {
    let format = format!("--format=%(trailers:key={key},valueonly)");
    let value = git(dir, &["log", "-1", &format, commit]);
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// The per-kind lines of a backup commit message: kind → "1 added, 2 changed".
fn kind_lines(message: &str) -> BTreeMap<String, String> {
    let mut lines = BTreeMap::new();
    for line in message.lines().skip(1) {
        if line.starts_with("Not read") {
            break;
        }
        if let Some((kind, counts)) = line.split_once(": ")
            && kind.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        {
            lines.insert(kind.to_string(), counts.to_string());
        }
    }
    lines
}

/// path → blob id of every file under `prefix` in `commit`.
fn files_of(dir: &Path, commit: &str, prefix: &str) -> BTreeMap<String, String> {
    let out = git_output(dir, &["ls-tree", "-r", "-z", commit, "--", prefix]);
    assert!(out.status.success());
    out.stdout
        .split(|b| *b == 0)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let entry = String::from_utf8_lossy(entry);
            let (meta, path) = entry.split_once('\t').unwrap();
            let oid = meta.split(' ').nth(2).unwrap();
            (path.to_string(), oid.to_string())
        })
        .collect()
}

/// The fixture's `okta/` as git would store it: path → blob id.
fn fixture_files() -> &'static BTreeMap<String, String> {
    static FILES: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    FILES.get_or_init(|| {
        let base = root().join("fixtures/orgs/small");
        crate::support::files_under(&base.join("okta"))
            .into_iter()
            .map(|path| {
                let relative = path
                    .strip_prefix(&base)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let oid = git2::Oid::hash_file(git2::ObjectType::Blob, &path).unwrap();
                (relative, oid.to_string())
            })
            .collect()
    })
}

/// The git tree id of the fixture's `okta/` folder (built in a scratch repository, so the org
/// repositories under test hold only what the backup wrote).
fn fixture_tree() -> &'static str {
    static TREE: OnceLock<String> = OnceLock::new();
    TREE.get_or_init(|| {
        fn build(repo: &git2::Repository, dir: &Path) -> git2::Oid {
            let mut builder = repo.treebuilder(None).unwrap();
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_owned();
                if path.is_dir() {
                    builder.insert(&name, build(repo, &path), 0o040000).unwrap();
                } else {
                    let blob = repo.blob_path(&path).unwrap();
                    builder.insert(&name, blob, 0o100644).unwrap();
                }
            }
            builder.write().unwrap()
        }
        let scratch = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init_bare(scratch.path()).unwrap();
        build(&repo, &root().join("fixtures/orgs/small/okta")).to_string()
    })
}

/// `commit`'s `okta/` is byte for byte the fixture's (same tree id); on failure, which files.
fn assert_fixture_tree(dir: &Path, commit: &str) {
    let tree = rev(dir, &format!("{commit}:okta"));
    if tree == fixture_tree() {
        return;
    }
    let got = files_of(dir, commit, "okta");
    let want = fixture_files();
    let missing: Vec<&String> = want.keys().filter(|p| !got.contains_key(*p)).collect();
    let extra: Vec<&String> = got.keys().filter(|p| !want.contains_key(*p)).collect();
    let differ: Vec<&String> = want
        .iter()
        .filter(|(p, oid)| got.get(*p).is_some_and(|g| g != *oid))
        .map(|(p, _)| p)
        .collect();
    panic!(
        "okta/ of {commit} is tree {tree}, the fixture's is {}\nmissing {missing:#?}\nextra {extra:#?}\ndiffer {differ:#?}",
        fixture_tree()
    );
}

/// Top-level group files (`okta/groups/<name>.json`) → blob id.
fn group_files(files: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    files
        .iter()
        .filter(|(p, _)| {
            p.strip_prefix("okta/groups/")
                .is_some_and(|rest| !rest.contains('/') && rest.ends_with(".json"))
        })
        .map(|(p, o)| (p.clone(), o.clone()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Secrets

/// Every plaintext secret of the fixture's secrets file.
fn fixture_secrets() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("fixtures/orgs/small/secrets.json")).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    fn leaves(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|v| leaves(v, out)),
            Value::Object(map) => map.values().for_each(|v| leaves(v, out)),
            _ => {}
        }
    }
    let mut secrets = Vec::new();
    for (key, value) in value.as_object().unwrap() {
        if key != "_note" {
            leaves(value, &mut secrets);
        }
    }
    secrets.sort();
    secrets.dedup();
    assert!(secrets.len() >= 10, "{secrets:?}");
    secrets
}

/// `%XX` for every byte `keep` refuses (upper or lower hex).
fn percent(secret: &str, keep: impl Fn(u8) -> bool, lower: bool) -> String {
    secret
        .bytes()
        .map(|b| {
            if keep(b) {
                (b as char).to_string()
            } else if lower {
                format!("%{b:02x}")
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The encodings a secret could leak in that cannot be undone on the whole text: base64
/// standard and URL-safe, with and without padding, alone or at any alignment inside a longer
/// encoding; and the secret itself.
fn needles(secret: &str) -> Vec<(String, String)> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let mut forms: Vec<(String, String)> = vec![("plain".into(), secret.to_string())];
    for (name, engine) in [
        ("base64", &STANDARD),
        ("base64 unpadded", &STANDARD_NO_PAD),
        ("base64url", &URL_SAFE),
        ("base64url unpadded", &URL_SAFE_NO_PAD),
    ] {
        forms.push((name.into(), engine.encode(secret)));
    }
    // Inside a longer base64 text the secret's characters depend on its offset mod 3: keep
    // the characters that depend on the secret's bytes alone, at each offset.
    for offset in 0..3usize {
        let mut bytes = vec![0u8; offset];
        bytes.extend_from_slice(secret.as_bytes());
        for (name, engine) in [
            ("base64 inside a longer text", &STANDARD_NO_PAD),
            ("base64url inside a longer text", &URL_SAFE_NO_PAD),
        ] {
            let text = engine.encode(&bytes);
            let start = if offset == 0 { 0 } else { 4 };
            let end = text.len().saturating_sub(4);
            if end > start + 8 {
                forms.push((
                    format!("{name}, offset {offset}"),
                    text[start..end].to_string(),
                ));
            }
        }
    }
    forms.dedup_by(|a, b| a.1 == b.1);
    forms
}

/// `text` with every `%XX` decoded (and `+` as a space when `plus`).
fn percent_decoded(text: &str, plus: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `text` with JSON string escapes undone (`\"`, `\\`, `\/`, `\n`..., `\uXXXX`).
fn json_unescaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('u') => {
                let code: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&code, 16).ok().and_then(char::from_u32) {
                    Some(decoded) => out.push(decoded),
                    None => {
                        out.push_str("\\u");
                        out.push_str(&code);
                    }
                }
            }
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Where any of `secrets` shows in `text`: plain or base64-encoded, in the text as it is,
/// URL-decoded (percent and form encoding) or JSON-unescaped.
fn leaks_in(text: &str, secrets: &[String]) -> Vec<String> {
    let views = [
        ("as is", text.to_string()),
        ("URL-decoded", percent_decoded(text, false)),
        ("form-decoded", percent_decoded(text, true)),
        ("JSON-unescaped", json_unescaped(text)),
    ];
    let mut found = Vec::new();
    for secret in secrets {
        for (form, needle) in needles(secret) {
            for (view, haystack) in &views {
                if haystack.contains(&needle) {
                    found.push(format!("{secret:?}: {form}, {view}: {needle}"));
                }
            }
        }
    }
    found
}

/// Every object of the repository's object database, as `git cat-file` prints them.
fn all_objects(dir: &Path) -> String {
    let out = git_output(
        dir,
        &["cat-file", "--batch-all-objects", "--batch", "--unordered"],
    );
    assert!(out.status.success());
    assert!(!out.stdout.is_empty());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// No secret of the fixture, nor the credentials in `extra`, in any git object of the
/// repository nor in any of `runs`' output.
fn assert_no_secret_anywhere(dir: &Path, runs: &[&Run], extra: &[String]) {
    let mut secrets = fixture_secrets();
    secrets.extend(extra.iter().cloned());
    let objects = all_objects(dir);
    let leaks = leaks_in(&objects, &secrets);
    assert!(leaks.is_empty(), "secrets in git objects: {leaks:#?}");
    for run in runs {
        let leaks = leaks_in(&run.text(), &secrets);
        assert!(leaks.is_empty(), "secrets in the output: {leaks:#?}");
    }
}

#[test]
fn the_leak_scan_finds_a_secret_in_every_encoding() {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let secret = "a/b+c?d=e f\"g\\h-secret-välue";
    let found = |text: &str| !leaks_in(text, &[secret.to_string()]).is_empty();
    for prefix in ["", "x", "xy", "xyz"] {
        for engine in [STANDARD, URL_SAFE_NO_PAD] {
            let text = engine.encode(format!("{prefix}{secret}tail"));
            assert!(found(&text), "base64 after {prefix:?}: {text}");
            // base64 inside a URL: its `+`, `/` and `=` percent-encoded.
            assert!(found(&percent(&text, |b| b.is_ascii_alphanumeric(), false)));
        }
    }
    for lower in [false, true] {
        for keep in [|b: u8| b.is_ascii_alphanumeric(), |_| false] {
            assert!(found(&format!("x={}&y", percent(secret, keep, lower))));
        }
    }
    assert!(found(
        &percent(secret, |b| b.is_ascii_alphanumeric() || b == b' ', false).replace(' ', "+")
    ));
    let json = serde_json::to_string(&serde_json::json!({ "s": secret })).unwrap();
    assert!(found(&json), "{json}");
    assert!(found(&json.replace('/', "\\/")));
    let escaped: String = secret
        .encode_utf16()
        .map(|u| format!("\\u{u:04x}"))
        .collect();
    assert!(found(&escaped), "{escaped}");
    assert!(
        !found("a/b+c?d=e f\"g\\h-secret-value"),
        "a near miss is no leak"
    );
}

// ---------------------------------------------------------------------------------------------
// 1, 2, 4: the round trip, no commit without a change, one commit per change, no secret

#[test]
fn round_trip_then_no_change_then_one_commit_naming_the_changes_and_no_secret_anywhere() {
    let sim = Sim::start_unlimited("small");
    let (_tmp, dir) = init(&sim);
    let env = basic(&sim);
    let before = commit_count(&dir);

    // 1. The first backup is the fixture tree.
    let first = backup(&dir, &["--with-user-kinds"], &env);
    assert_eq!(first.code, 0, "{}", first.text());
    assert_eq!(commit_count(&dir), before + 1);
    let head = rev(&dir, "refs/heads/main");
    assert_fixture_tree(&dir, &head);
    let index = git(&dir, &["show", &format!("{head}:.butterfly/index.json")]);
    let index: Value = serde_json::from_str(&index).unwrap();
    let index = index.as_object().unwrap();
    let files = files_of(&dir, &head, "okta");
    let indexed: BTreeSet<&str> = index
        .values()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    let unknown: Vec<&&str> = indexed
        .iter()
        .filter(|p| !files.contains_key(**p))
        .collect();
    assert!(
        unknown.is_empty(),
        "indexed but not in the tree: {unknown:?}"
    );
    assert!(
        index
            .values()
            .any(|e| e["kind"] == "group" && e["name"] == "Everyone"),
        "the index names the groups"
    );

    let text = message(&dir, &head);
    let total = fixture_files().len();
    assert!(
        text.starts_with(&format!(
            "Backup of {}: {total} added, 0 changed, 0 removed\n",
            org_host(&sim)
        )),
        "{text}"
    );
    let kinds = kind_lines(&text);
    let sum: usize = kinds
        .values()
        .map(|c| c.trim_end_matches(" added").parse::<usize>().unwrap())
        .sum();
    assert_eq!(sum, total, "per-kind counts add up to the files: {text}");
    let groups = group_files(fixture_files()).len();
    assert_eq!(kinds["group"], format!("{groups} added"), "{text}");
    assert!(kinds.contains_key("user_factor"), "{text}");
    assert_eq!(
        trailer(&dir, &head, "Okta-Org").as_deref(),
        Some(org_host(&sim).as_str()),
        "{text}"
    );
    let run_id = trailer(&dir, &head, "Backup-Run").expect("a Backup-Run trailer");
    assert!(!run_id.is_empty());
    assert_eq!(trailer(&dir, &head, "Incomplete-Kinds"), None, "{text}");
    // The checkout of main followed: the working tree is the commit.
    assert_eq!(git(&dir, &["status", "--porcelain"]), "");

    // 1. Nothing changed: no commit, exit 0.
    let second = backup(&dir, &["--with-user-kinds", "--format", "json"], &env);
    assert_eq!(second.code, 0, "{}", second.text());
    let report = second.json();
    assert_eq!(report["commit"], Value::Null, "{report:#}");
    assert_eq!(report["parent"], head.as_str());
    assert_eq!(commit_count(&dir), before + 1);
    assert_eq!(rev(&dir, "refs/heads/main"), head);

    // 2. Change the org: delete a group rule, edit a sign-on policy rule.
    let rule = "0pr1smgrtokyo0000000";
    let policy = "00p1smsoadmins000000";
    let policy_rule = "0pr1smr0030000000000";
    block(async {
        let deactivated = sim
            .post_empty(&format!("/api/v1/groups/rules/{rule}/lifecycle/deactivate"))
            .await;
        assert!(deactivated.status().is_success(), "{deactivated:?}");
        let deleted = sim.delete(&format!("/api/v1/groups/rules/{rule}")).await;
        assert!(deleted.status().is_success(), "{deleted:?}");
        let path = format!("/api/v1/policies/{policy}/rules/{policy_rule}");
        let mut body = sim.get_json(&path).await;
        let object = body.as_object_mut().unwrap();
        for volatile in ["_links", "created", "lastUpdated"] {
            object.remove(volatile);
        }
        body["actions"]["signon"]["session"]["maxSessionIdleMinutes"] = 30.into();
        let (status, answer) = status_and_body(sim.put_json(&path, &body).await).await;
        assert_eq!(status, 200, "{answer:#}");
    });
    let third = backup(&dir, &["--with-user-kinds"], &env);
    assert_eq!(third.code, 0, "{}", third.text());
    assert_eq!(commit_count(&dir), before + 2);
    let new = rev(&dir, "refs/heads/main");
    assert_eq!(rev(&dir, &format!("{new}~1")), head);
    let text = message(&dir, &new);
    assert!(
        text.starts_with(&format!(
            "Backup of {}: 0 added, 1 changed, 1 removed\n",
            org_host(&sim)
        )),
        "{text}"
    );
    let kinds = kind_lines(&text);
    let expected: BTreeMap<String, String> = [
        ("group_rule".to_string(), "1 removed".to_string()),
        ("policy_rule".to_string(), "1 changed".to_string()),
    ]
    .into();
    assert_eq!(kinds, expected, "{text}");
    let changed = git(&dir, &["diff", "--name-status", "HEAD~1", "HEAD"]);
    // The System Log events behind the changes come with them.
    let (events, changed): (Vec<&str>, BTreeSet<&str>) = {
        let (events, rest): (Vec<&str>, Vec<&str>) = changed
            .lines()
            .partition(|l| l.starts_with("A\t.butterfly/changes/"));
        (events, rest.into_iter().collect())
    };
    let expected: BTreeSet<&str> = [
        "M\t.butterfly/index.json",
        "D\tokta/group-rules/Tokyo office.json",
        "M\tokta/policies/OKTA_SIGN_ON/Administrators/rules/Admins – always MFA.json",
    ]
    .into();
    assert_eq!(changed, expected);
    assert_eq!(events.len(), 1, "{events:?}");
    let saved = git(
        &dir,
        &[
            "show",
            &format!("HEAD:{}", events[0].trim_start_matches("A\t")),
        ],
    );
    assert!(saved.contains("policy.rule.update"), "{saved}");
    assert!(saved.contains("Tokyo office"), "{saved}");
    let stat = git(
        &dir,
        &[
            "diff",
            "--stat",
            "HEAD~1",
            "--",
            "okta",
            ".butterfly/index.json",
        ],
    );
    assert!(stat.contains("3 files changed"), "{stat}");
    let rule_file = git(
        &dir,
        &[
            "show",
            "HEAD:okta/policies/OKTA_SIGN_ON/Administrators/rules/Admins – always MFA.json",
        ],
    );
    assert!(
        rule_file.contains("\"maxSessionIdleMinutes\": 30"),
        "{rule_file}"
    );
    assert_eq!(git(&dir, &["status", "--porcelain"]), "");

    // 4. No secret in any git object or in any output.
    assert_no_secret_anywhere(
        &dir,
        &[&first, &second, &third],
        &[sim.client_secret.clone(), sim.api_token.clone()],
    );
}

// ---------------------------------------------------------------------------------------------
// 3: missing scopes

#[test]
fn missing_scopes_name_the_skipped_kinds_keep_their_files_and_exit_2() {
    let full = Sim::start_unlimited("small");
    let (_tmp, dir) = init(&full);
    let first = backup(&dir, &[], &basic(&full));
    assert_eq!(first.code, 0, "{}", first.text());
    let previous = rev(&dir, "refs/heads/main");
    let previous_apps = rev(&dir, &format!("{previous}:okta/apps"));
    drop(full);

    // The app loses okta.apps.*: butterfly.toml asks for exactly what is granted.
    let toml_path = dir.join("butterfly.toml");
    let toml = std::fs::read_to_string(&toml_path).unwrap();
    let granted: Vec<&str> = toml
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"')?.strip_suffix("\","))
        .filter(|s| s.starts_with("okta.") && !s.starts_with("okta.apps."))
        .collect();
    assert!(granted.len() > 20, "{granted:?}");
    assert!(toml.contains("\"okta.apps.manage\",\n"), "{toml}");
    let grant = granted.join(",");
    let sim = Sim::start(
        "small",
        &[
            "--rate-limits",
            unlimited_limits(),
            "--grant-scopes",
            &grant,
        ],
    );
    let old_domain = toml
        .lines()
        .find_map(|l| l.strip_prefix("domain = "))
        .unwrap()
        .to_string();
    let toml = toml
        .replace(&old_domain, &format!("{:?}", sim.url))
        .replace("  \"okta.apps.manage\",\n", "");
    std::fs::write(&toml_path, toml).unwrap();
    git(
        &dir,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qam",
            "scopes",
        ],
    );
    let previous = rev(&dir, "refs/heads/main");
    // A change the backup can see, so that it commits.
    block(async {
        let rule = "0pr1smgrtokyo0000000";
        let path = format!("/api/v1/groups/rules/{rule}");
        assert!(
            sim.post_empty(&format!("{path}/lifecycle/deactivate"))
                .await
                .status()
                .is_success()
        );
        assert!(sim.delete(&path).await.status().is_success());
    });

    let second = backup(&dir, &["--format", "json"], &basic(&sim));
    assert_eq!(second.code, 2, "{}", second.text());
    let report = second.json();
    let incomplete: BTreeSet<&str> = report["incomplete"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    for kind in [
        "app",
        "app_user_assignment",
        "app_group_assignment",
        "app_user_schema",
    ] {
        assert!(incomplete.contains(kind), "{kind} not in {incomplete:?}");
        assert_eq!(report["kinds"][kind]["status"], "incomplete", "{kind}");
    }
    assert!(!incomplete.contains("group"), "{incomplete:?}");
    assert!(
        report["kinds"]["app"]["failure"]
            .as_str()
            .unwrap()
            .contains("okta.apps.read"),
        "{:#}",
        report["kinds"]["app"]
    );
    // The skipped kinds are named in the log lines too.
    assert!(second.stderr.contains("app: not read"), "{}", second.stderr);

    let commit = report["commit"]
        .as_str()
        .expect("a commit: a group rule is gone");
    assert_eq!(rev(&dir, "refs/heads/main"), commit);
    assert_eq!(rev(&dir, &format!("{commit}~1")), previous);
    let trailer_kinds: BTreeSet<String> = trailer(&dir, commit, "Incomplete-Kinds")
        .expect("an Incomplete-Kinds trailer")
        .split(", ")
        .map(str::to_string)
        .collect();
    let incomplete: BTreeSet<String> = incomplete.into_iter().map(str::to_string).collect();
    assert_eq!(trailer_kinds, incomplete);
    let text = message(&dir, commit);
    assert!(
        text.contains("app: the token lacks the scope okta.apps.read"),
        "{text}"
    );
    assert!(text.contains("group_rule: 1 removed"), "{text}");
    // Their files are still there, unchanged; the rule is gone.
    assert_eq!(rev(&dir, &format!("{commit}:okta/apps")), previous_apps);
    let changed = git(&dir, &["diff", "--name-only", &previous, commit]);
    let changed: BTreeSet<&str> = changed
        .lines()
        .filter(|l| !l.starts_with(".butterfly/changes/"))
        .collect();
    assert_eq!(
        changed,
        [
            ".butterfly/index.json",
            "okta/group-rules/Tokyo office.json"
        ]
        .into()
    );
    let index = git(&dir, &["show", &format!("{commit}:.butterfly/index.json")]);
    assert!(
        index.contains("\"kind\": \"app\""),
        "kept kinds stay in the index"
    );

    // In text: the kinds and what to grant; nothing changed now, so no commit, still exit 2.
    let third = backup(&dir, &[], &basic(&sim));
    assert_eq!(third.code, 2, "{}", third.text());
    assert!(third.stdout.contains("nothing changed"), "{}", third.stdout);
    assert!(
        third
            .stdout
            .contains("Not read (files kept from the previous snapshot)")
            && third
                .stdout
                .contains("app: the token lacks the scope okta.apps.read"),
        "{}",
        third.stdout
    );
    assert_eq!(rev(&dir, "refs/heads/main"), commit);
}

// ---------------------------------------------------------------------------------------------
// 5: faults

#[test]
fn five_percent_faults_give_the_fault_free_tree() {
    let sim = Sim::start(
        "small",
        &[
            "--rate-limits",
            unlimited_limits(),
            "--fault-rate",
            "0.05",
            "--seed",
            "7",
        ],
    );
    let (_tmp, dir) = init(&sim);
    let run = backup(
        &dir,
        &["--with-user-kinds", "--format", "json"],
        &basic(&sim),
    );
    assert_eq!(run.code, 0, "{}", run.text());
    let report = run.json();
    assert!(
        report["requests"]["retried"].as_u64().unwrap() > 10,
        "faults were met and retried: {:#}",
        report["requests"]
    );
    // The fault-free backup of `small` is the fixture (the round-trip test): same tree id.
    assert_fixture_tree(&dir, &rev(&dir, "refs/heads/main"));
    assert_no_secret_anywhere(&dir, &[&run], std::slice::from_ref(&sim.client_secret));
}

#[test]
fn a_429_storm_gives_the_fault_free_tree() {
    let kinds = [
        "--kind",
        "group_membership",
        "--kind",
        "app_group_assignment",
        "--kind",
        "app_user_assignment",
    ];
    let calm = Sim::start_unlimited("small");
    let (_calm_tmp, calm_dir) = init(&calm);
    let reference = backup(&calm_dir, &kinds, &basic(&calm));
    assert_eq!(reference.code, 0, "{}", reference.text());
    drop(calm);

    let sim = Sim::start(
        "small",
        &[
            "--rate-limits",
            unlimited_limits(),
            "--faults",
            "429",
            "--fault-rate",
            "0.3",
            "--seed",
            "3",
        ],
    );
    let (_tmp, dir) = init(&sim);
    let mut args = kinds.to_vec();
    args.extend(["--format", "json"]);
    let run = backup(&dir, &args, &basic(&sim));
    assert_eq!(run.code, 0, "{}", run.text());
    let report = run.json();
    assert!(
        report["requests"]["rate_limited"].as_u64().unwrap() > 5,
        "{:#}",
        report["requests"]
    );
    let want = rev(&calm_dir, "refs/heads/main:okta");
    let got = rev(&dir, "refs/heads/main:okta");
    if got != want {
        let want = files_of(&calm_dir, "refs/heads/main", "okta");
        let got = files_of(&dir, "refs/heads/main", "okta");
        let differ: Vec<&String> = want
            .keys()
            .chain(got.keys())
            .filter(|p| want.get(*p) != got.get(*p))
            .collect();
        panic!("the trees differ at {differ:#?}");
    }
    // And it is the fixture's content for those kinds: every file is a fixture file.
    let files = files_of(&dir, "refs/heads/main", "okta");
    assert!(files.len() > 50, "{}", files.len());
    for (path, oid) in &files {
        assert_eq!(fixture_files().get(path), Some(oid), "{path}");
    }
}

// ---------------------------------------------------------------------------------------------
// 6: kill -9

/// Waits until `ready()` (then `true`) or the child exits (then `false`), at most 30 s.
/// `busy`: look again at once, to catch a window of microseconds.
fn until(child: &mut Child, busy: bool, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    // Busy: 1024 looks between two looks at the child (a system call fewer per look).
    let looks = if busy { 1024 } else { 1 };
    loop {
        for _ in 0..looks {
            if ready() {
                return true;
            }
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        assert!(
            Instant::now() < deadline,
            "the backup neither got there nor finished in 30 s"
        );
        if !busy {
            std::thread::sleep(Duration::from_micros(500));
        }
    }
}

/// `git fsck --strict` finds nothing wrong (dangling objects are not wrong).
fn assert_fsck_clean(dir: &Path, when: &str) {
    let out = git_output(dir, &["fsck", "--strict", "--no-dangling", "--no-progress"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim().is_empty() && stderr.trim().is_empty(),
        "{when}: git fsck --strict: {}\n{stdout}\n{stderr}",
        out.status
    );
}

/// A repository with an old snapshot (the groups only) against a simulator slow enough that
/// a full backup takes a few seconds.
struct KillSetup {
    sim: Sim,
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    old: String,
}

fn kill_setup() -> KillSetup {
    let sim = Sim::start(
        "small",
        &["--rate-limits", unlimited_limits(), "--latency-ms", "20"],
    );
    let (tmp, dir) = init(&sim);
    let old_run = backup(&dir, &["--kind", "group"], &basic(&sim));
    assert_eq!(old_run.code, 0, "{}", old_run.text());
    let old = rev(&dir, "refs/heads/main");
    KillSetup {
        sim,
        _tmp: tmp,
        dir,
        old,
    }
}

/// After the kills: the next backup succeeds, the branch is one complete new snapshot on the
/// old one, the checkout is that snapshot, and every tip seen after a kill was the old or the
/// new snapshot.
fn assert_recovers(setup: &KillSetup, tips: &[(String, String)]) {
    let dir = &setup.dir;
    let old = &setup.old;
    let last = backup(dir, &[], &basic(&setup.sim));
    assert_eq!(last.code, 0, "the backup after the kills: {}", last.text());
    let git_dir = dir.join(".git");
    assert!(
        !git_dir.join("butterfly/snapshot.lock").exists(),
        "the lock is released"
    );
    assert!(
        !git_dir.join("butterfly/checkout-pending").exists(),
        "the interrupted checkout is completed"
    );
    assert_fsck_clean(dir, "after the last backup");
    let new = rev(dir, "refs/heads/main");
    assert_ne!(&new, old);
    assert_eq!(
        &rev(dir, &format!("{new}~1")),
        old,
        "one new snapshot on the old"
    );
    for (moment, tip) in tips {
        assert!(
            tip == old || *tip == new,
            "{moment}: the branch was at {tip}, neither the old snapshot {old} nor the new {new}"
        );
    }
    // The new snapshot is complete: every kind's files (all but the opt-in user factors), as
    // the fixture has them.
    let files = files_of(dir, &new, "okta");
    for (path, oid) in &files {
        assert_eq!(fixture_files().get(path), Some(oid), "{path}");
    }
    let without_factors: BTreeSet<&String> = fixture_files()
        .keys()
        .filter(|p| !p.contains("/factors/"))
        .collect();
    let got: BTreeSet<&String> = files.keys().collect();
    assert_eq!(got, without_factors);
    // The checkout is the new snapshot, whatever was interrupted.
    assert_eq!(rev(dir, "HEAD"), new);
    assert_eq!(git(dir, &["status", "--porcelain"]), "");
    // And one more backup changes nothing.
    let again = backup(dir, &["--kind", "group"], &basic(&setup.sim));
    assert_eq!(again.code, 0, "{}", again.text());
    assert_eq!(rev(dir, "refs/heads/main"), new);
}

#[test]
fn kill_9_at_any_moment_leaves_a_valid_repo_with_the_old_or_the_new_snapshot() {
    let setup = kill_setup();
    let dir = &setup.dir;
    let env = basic(&setup.sim);
    let git_dir = dir.join(".git");
    let lock = git_dir.join("butterfly/snapshot.lock");
    let marker = git_dir.join("butterfly/checkout-pending");
    let repo = git2::Repository::open(dir).unwrap();
    let tip = || {
        repo.refname_to_id("refs/heads/main")
            .map(|o| o.to_string())
            .unwrap_or_default()
    };
    let sleep = |ms: u64| {
        move |c: &mut Child| {
            std::thread::sleep(Duration::from_millis(ms));
            c.try_wait().unwrap().is_none()
        }
    };

    type Moment<'a> = (&'a str, Box<dyn Fn(&mut Child) -> bool + 'a>);
    let moments: Vec<Moment> = vec![
        (
            "as soon as it holds the lock",
            // (once the lock file is written: an empty one is waited for, five seconds)
            Box::new(|c| {
                until(c, false, || {
                    std::fs::metadata(&lock).is_ok_and(|m| m.len() > 0)
                })
            }),
        ),
        ("while reading (0.5 s in)", Box::new(sleep(500))),
        ("while reading (1.2 s in)", Box::new(sleep(1200))),
        (
            "as soon as the branch moved: during the checkout",
            Box::new(|c| {
                let start = tip();
                until(c, false, || tip() != start)
            }),
        ),
    ];
    let mut tips = Vec::new();
    let mut killed = Vec::new();
    for (moment, wait) in &moments {
        let mut child = spawn_backup(dir, &[], &env);
        let alive = wait(&mut child);
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        killed.push(format!(
            "{moment}: {}; lock left: {}, checkout marker left: {}",
            if alive {
                format!("killed ({status})")
            } else {
                format!("had finished ({status})")
            },
            lock.exists(),
            marker.exists()
        ));
        assert_fsck_clean(dir, moment);
        if alive {
            // A killed run leaves its lock; the next run takes it over.
            assert!(lock.exists(), "{moment}: {killed:#?}");
        }
        if alive && *moment == moments[3].0 {
            assert!(marker.exists(), "the checkout was interrupted: {killed:#?}");
        }
        tips.push((moment.to_string(), tip()));
    }
    eprintln!("kill -9 moments:\n  {}", killed.join("\n  "));
    assert_recovers(&setup, &tips);
}

/// Kills a full backup the moment `path` (under the repository) appears; tries again on a
/// fresh setup, up to `tries` times, until a kill leaves it behind. The setup and the tips seen
/// after that kill.
fn kill_when_git_locks(path: &str, tries: usize) -> (KillSetup, Vec<(String, String)>) {
    for attempt in 1..=tries {
        let setup = kill_setup();
        let file = setup.dir.join(path);
        let mut child = spawn_backup(&setup.dir, &[], &basic(&setup.sim));
        let alive = until(&mut child, true, || file.exists());
        let _ = child.kill();
        let status = child.wait().unwrap();
        eprintln!(
            "try {attempt}: saw {path}: {alive}, {status}, left: {}",
            file.exists()
        );
        assert_fsck_clean(&setup.dir, path);
        if alive && file.exists() {
            let tips = vec![(
                format!("killed while {path} existed (try {attempt})"),
                rev(&setup.dir, "refs/heads/main"),
            )];
            return (setup, tips);
        }
    }
    panic!("no kill left {path} behind in {tries} tries");
}

#[test]
fn kill_9_while_the_branch_ref_is_locked_does_not_block_the_next_backup() {
    let (setup, tips) = kill_when_git_locks(".git/refs/heads/main.lock", 8);
    assert_recovers(&setup, &tips);
}

#[test]
fn kill_9_while_the_index_is_written_does_not_block_the_next_backup() {
    let (setup, tips) = kill_when_git_locks(".git/index.lock", 5);
    assert_recovers(&setup, &tips);
}

// ---------------------------------------------------------------------------------------------
// 7: one backup at a time

#[test]
fn a_second_backup_refuses_naming_the_holder_and_with_wait_waits() {
    let sim = Sim::start(
        "small",
        &["--rate-limits", unlimited_limits(), "--latency-ms", "20"],
    );
    let (_tmp, dir) = init(&sim);
    let env = basic(&sim);
    let lock = dir.join(".git/butterfly/snapshot.lock");
    let mut first = command(&dir, &["backup", "--format", "json"], &env)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        until(&mut first, false, || {
            std::fs::metadata(&lock).is_ok_and(|m| m.len() > 0)
        }),
        "the first backup takes the lock"
    );

    let refused = backup(&dir, &["--kind", "group"], &env);
    assert_eq!(refused.code, 3, "{}", refused.text());
    assert!(
        refused.stderr.contains(&format!("pid {}", first.id())),
        "names the holder's pid {}: {}",
        first.id(),
        refused.stderr
    );
    assert!(refused.stderr.contains("started "), "{}", refused.stderr);

    let waiting = command(
        &dir,
        &["backup", "--kind", "group", "--wait", "--format", "json"],
        &env,
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first backup still runs when the second starts waiting"
    );
    let first = Run::from(first.wait_with_output().unwrap());
    assert_eq!(first.code, 0, "{}", first.text());
    let waited = Run::from(waiting.wait_with_output().unwrap());
    assert_eq!(waited.code, 0, "{}", waited.text());
    // The waiting backup started from the first one's snapshot: it ran after it.
    let first_commit = first.json()["commit"].as_str().unwrap().to_string();
    assert_eq!(waited.json()["parent"], first_commit.as_str());
    assert_eq!(rev(&dir, "refs/heads/main"), first_commit);
    assert!(!lock.exists());
}

// ---------------------------------------------------------------------------------------------
// 8: every auth method

#[test]
fn every_auth_method_backs_up() {
    let want = group_files(fixture_files());
    let check = |sim: &Sim, env: Env, method: &str| {
        let (_tmp, dir) = init(sim);
        let run = backup(&dir, &["--kind", "group"], &env);
        assert_eq!(run.code, 0, "{method}: {}", run.text());
        let files = files_of(&dir, "refs/heads/main", "okta");
        assert_eq!(files, want, "{method}: the groups are the fixture's");
        let mut credentials = vec![sim.client_secret.clone(), sim.api_token.clone()];
        if let Some(key) = sim.start["private_key_path"].as_str() {
            let pem = std::fs::read_to_string(key).unwrap();
            credentials.extend(
                pem.lines()
                    .filter(|l| !l.starts_with("-----") && l.len() > 40)
                    .map(str::to_string),
            );
        }
        assert_no_secret_anywhere(&dir, &[&run], &credentials);
    };

    let plain = Sim::start_unlimited("small");
    check(&plain, basic(&plain), "client_secret_basic");
    check(
        &plain,
        vec![("OKTA_API_TOKEN", plain.api_token.clone())],
        "SSWS",
    );
    drop(plain);

    let jwt = Sim::start(
        "small",
        &[
            "--rate-limits",
            unlimited_limits(),
            "--token-auth",
            "private_key_jwt",
        ],
    );
    let jwt_env = vec![
        ("OKTA_CLIENT_ID", jwt.client_id.clone()),
        (
            "OKTA_PRIVATE_KEY",
            jwt.start["private_key_path"].as_str().unwrap().to_string(),
        ),
        (
            "OKTA_KEY_ID",
            jwt.start["key_id"].as_str().unwrap().to_string(),
        ),
    ];
    check(&jwt, jwt_env.clone(), "private_key_jwt");
    // The sim takes no client secret from this app: the key is what worked.
    let (_tmp, dir) = init(&jwt);
    let refused = backup(&dir, &["--kind", "group"], &basic(&jwt));
    assert_ne!(refused.code, 0, "{}", refused.text());
    drop(jwt);

    let dpop = Sim::start(
        "small",
        &["--rate-limits", unlimited_limits(), "--require-dpop"],
    );
    check(&dpop, basic(&dpop), "client_secret_basic with DPoP");
    drop(dpop);

    let both = Sim::start(
        "small",
        &[
            "--rate-limits",
            unlimited_limits(),
            "--token-auth",
            "private_key_jwt",
            "--require-dpop",
        ],
    );
    let env = vec![
        ("OKTA_CLIENT_ID", both.client_id.clone()),
        (
            "OKTA_PRIVATE_KEY",
            both.start["private_key_path"].as_str().unwrap().to_string(),
        ),
        (
            "OKTA_KEY_ID",
            both.start["key_id"].as_str().unwrap().to_string(),
        ),
    ];
    check(&both, env, "private_key_jwt with DPoP");
}

// ---------------------------------------------------------------------------------------------
// 9: a dirty checkout of the snapshot branch

#[test]
fn a_dirty_checkout_refuses_naming_the_file_and_a_clean_one_follows_the_commit() {
    let sim = Sim::start_unlimited("small");
    let (_tmp, dir) = init(&sim);
    let env = basic(&sim);
    let first = backup(&dir, &["--kind", "group"], &env);
    assert_eq!(first.code, 0, "{}", first.text());
    let head = rev(&dir, "refs/heads/main");
    let file = "okta/groups/Berlin Office.json";
    let path = dir.join(file);
    let original = std::fs::read_to_string(&path).unwrap();

    // An edit under okta/: refused, exit 3, the file named, nothing committed.
    std::fs::write(&path, original.replace("Berlin", "Berlin (edited)")).unwrap();
    let refused = backup(&dir, &["--kind", "group"], &env);
    assert_eq!(refused.code, 3, "{}", refused.text());
    assert!(
        refused.stderr.contains(&format!("modified {file}")),
        "{}",
        refused.stderr
    );
    assert_eq!(rev(&dir, "refs/heads/main"), head);
    // An untracked file under okta/ too.
    git(&dir, &["checkout", "--", file]);
    std::fs::write(dir.join("okta/groups/Stray.json"), "{}\n").unwrap();
    let refused = backup(&dir, &["--kind", "group"], &env);
    assert_eq!(refused.code, 3, "{}", refused.text());
    assert!(
        refused.stderr.contains("untracked okta/groups/Stray.json"),
        "{}",
        refused.stderr
    );
    std::fs::remove_file(dir.join("okta/groups/Stray.json")).unwrap();

    // Clean: the org changes, the backup commits, and the checkout follows the commit.
    let group = "00g1smgberlin0000000";
    let describe = |text: &'static str| {
        block(async {
            let path = format!("/api/v1/groups/{group}");
            let current = sim.get_json(&path).await;
            let mut profile = current["profile"].clone();
            profile["description"] = text.into();
            let (status, answer) = status_and_body(
                sim.put_json(&path, &serde_json::json!({ "profile": profile }))
                    .await,
            )
            .await;
            assert_eq!(status, 200, "{answer:#}");
        })
    };
    describe("Moved to Kreuzberg");
    let second = backup(&dir, &["--kind", "group"], &env);
    assert_eq!(second.code, 0, "{}", second.text());
    let new = rev(&dir, "refs/heads/main");
    assert_ne!(new, head);
    assert_eq!(rev(&dir, "HEAD"), new);
    assert_eq!(git(&dir, &["status", "--porcelain"]), "");
    let on_disk = std::fs::read_to_string(&path).unwrap();
    assert!(on_disk.contains("Moved to Kreuzberg"), "{on_disk}");
    assert_eq!(on_disk, git(&dir, &["show", &format!("HEAD:{file}")]));

    // Another branch checked out: the snapshot branch moves, the checkout is left alone, and
    // its edits do not stop the backup.
    git(&dir, &["checkout", "-q", "-b", "work"]);
    std::fs::write(&path, "edited on work\n").unwrap();
    describe("Moved to Mitte");
    let third = backup(&dir, &["--kind", "group"], &env);
    assert_eq!(third.code, 0, "{}", third.text());
    let newer = rev(&dir, "refs/heads/main");
    assert_eq!(rev(&dir, &format!("{newer}~1")), new);
    assert!(git(&dir, &["show", &format!("main:{file}")]).contains("Moved to Mitte"));
    assert_eq!(rev(&dir, "HEAD"), new, "work is where it was");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "edited on work\n");
}

// ---------------------------------------------------------------------------------------------
// The System Log events behind the changes

/// Replaces group `name`'s description through the API.
fn set_description(sim: &Sim, name: &str, description: &str) {
    block(async {
        let groups = sim.get_json("/api/v1/groups?limit=200").await;
        let group = groups
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["profile"]["name"] == name)
            .unwrap_or_else(|| panic!("no group {name}"))
            .clone();
        let id = group["id"].as_str().unwrap().to_string();
        let mut profile = group["profile"].clone();
        profile["description"] = Value::String(description.to_string());
        let (status, body) = status_and_body(
            sim.put_json(
                &format!("/api/v1/groups/{id}"),
                &serde_json::json!({ "profile": profile }),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200, "{body}");
    });
}

#[test]
fn system_log_events_are_saved_with_the_commit_that_holds_their_changes() {
    let sim = Sim::start_unlimited("small");
    let (_tmp, dir) = init(&sim);
    let env = basic(&sim);
    let first = backup(&dir, &["--kind", "group", "--format", "json"], &env);
    assert_eq!(first.code, 0, "{}", first.text());
    // A first backup has no changes to explain.
    assert_eq!(first.json()["events_read"], 0);

    // An update that changes nothing Butterfly keeps: an event, but no commit; it waits.
    let current = block(sim.get_json("/api/v1/groups?limit=200"));
    let berlin = current
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["profile"]["name"] == "Berlin Office")
        .unwrap()
        .clone();
    let same = berlin["profile"]["description"]
        .as_str()
        .unwrap_or("")
        .to_string();
    set_description(&sim, "Berlin Office", &same);
    let quiet = backup(&dir, &["--kind", "group", "--format", "json"], &env);
    assert_eq!(quiet.code, 0, "{}", quiet.text());
    let report = quiet.json();
    assert!(report["commit"].is_null(), "{report:#}");
    assert!(
        report["events_pending"].as_u64().unwrap() >= 1,
        "{report:#}"
    );

    // A real change: the commit carries both events.
    set_description(&sim, "Berlin Office", "Berlin, Mitte");
    let changed = backup(&dir, &["--kind", "group", "--format", "json"], &env);
    assert_eq!(changed.code, 0, "{}", changed.text());
    let report = changed.json();
    let commit = report["commit"].as_str().expect("a commit").to_string();
    assert_eq!(report["events_pending"], 0);
    let saved = files_of(&dir, &commit, ".butterfly/changes/");
    assert_eq!(saved.len(), 1, "{:?}", saved.keys());
    let blob = saved.values().next().unwrap();
    let events: Vec<Value> = serde_json::from_str(&git(&dir, &["cat-file", "-p", blob])).unwrap();
    let updates: Vec<&Value> = events
        .iter()
        .filter(|e| e["eventType"] == "group.profile.update")
        .collect();
    assert_eq!(updates.len(), 2, "{events:#?}");
    for event in updates {
        assert_eq!(
            event["target"][0]["displayName"], "Berlin Office",
            "{event:#}"
        );
        assert!(event["actor"]["alternateId"].is_string(), "{event:#}");
        assert!(event["published"].is_string());
    }
    // The next backup starts where this one stopped: nothing is saved twice.
    let again = backup(&dir, &["--kind", "group", "--format", "json"], &env);
    assert_eq!(again.json()["events_read"], 0, "{}", again.text());
}
