//! Benchmark of issue #5's diff: two trees written by `butterfly sim --generate
//! users=100000,groups=5000,apps=1000 --write-tree DIR --mutate 1%` committed as two snapshots
//! (each with its `.butterfly/index.json`, as a backup writes them), then `butterfly diff` (the
//! previous snapshot against the latest, JSON) timed against `git diff --stat` over the same
//! commits, in the same run. Targets: diff ≤ 1 s and ≤ 2 × `git diff --stat`. Prints every
//! number it compares; exits 1 when a target is missed. Run with `cargo bench --bench diff`
//! (BUTTERFLY_BENCH_GENERATE overrides the size; BUTTERFLY_BENCH_KEEP=DIR keeps the org
//! repository there, for profiling); figures go to BENCHMARKS.md. Not run in CI.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use butterfly::catalogue::{Catalogue, Shape};
use butterfly::snapshot::layout;
use serde_json::{Value, json};

const TIME_TARGET: Duration = Duration::from_secs(1);
const RATIO_TARGET: f64 = 2.0;
/// Each command is timed this many times; the median counts.
const RUNS: usize = 5;

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_butterfly")
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Bench", "-c", "user.email=bench@localhost"])
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("run git");
    assert!(status.success(), "git {args:?}");
}

/// Every file under `dir`, relative, with `/` separators.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).expect("read a folder") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).expect("inside").to_path_buf());
            }
        }
    }
    out
}

/// The `.butterfly/index.json` a backup would write for the tree at `dir`.
fn index(catalogue: &Catalogue, dir: &Path) -> String {
    let mut index = BTreeMap::new();
    for relative in files(&dir.join(layout::ROOT)) {
        let path = format!("{}/{}", layout::ROOT, relative.to_string_lossy());
        let Some(resolved) = layout::resolve(catalogue, &path) else {
            continue;
        };
        let kind = resolved.kind;
        if matches!(kind.shape, Shape::Relationship { .. }) {
            continue;
        }
        let Some(id_path) = &kind.id else { continue };
        let body: Value =
            serde_json::from_slice(&std::fs::read(dir.join(&path)).expect("read a file"))
                .expect("a JSON file");
        let Some(id) = id_path.get(&body).and_then(Value::as_str) else {
            continue;
        };
        let name: Vec<String> = kind
            .natural_key()
            .iter()
            .filter_map(|p| {
                p.get(&body)
                    .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
            })
            .collect();
        index.insert(
            id.to_string(),
            json!({"kind": kind.name, "name": name.join(" "), "path": path}),
        );
    }
    serde_json::to_string_pretty(&index).expect("the index") + "\n"
}

/// Replaces the repository's `okta/` with the tree's and commits it as a snapshot.
fn commit_tree(catalogue: &Catalogue, repo: &Path, tree: &Path, run: &str) {
    let _ = std::fs::remove_dir_all(repo.join(layout::ROOT));
    std::fs::rename(tree.join(layout::ROOT), repo.join(layout::ROOT)).expect("move the tree in");
    std::fs::create_dir_all(repo.join(".butterfly")).expect("make .butterfly");
    std::fs::write(repo.join(".butterfly/index.json"), index(catalogue, repo)).expect("the index");
    git(repo, &["add", "-A"]);
    git(
        repo,
        &[
            "commit",
            "-q",
            "-m",
            &format!("Backup of bench: generated\n\nOkta-Org: bench\nBackup-Run: {run}\n"),
        ],
    );
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn time(mut command: impl FnMut() -> Command) -> (Duration, Vec<u8>) {
    let mut times = Vec::new();
    let mut output = Vec::new();
    for _ in 0..RUNS {
        let begun = Instant::now();
        let out = command().output().expect("run the command");
        times.push(begun.elapsed());
        assert!(
            out.status.code().is_some_and(|c| c == 0 || c == 2),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        output = out.stdout;
    }
    (median(times), output)
}

fn main() {
    let generate = std::env::var("BUTTERFLY_BENCH_GENERATE")
        .unwrap_or_else(|_| "users=100000,groups=5000,apps=1000".to_string());
    let catalogue = Catalogue::okta().expect("the catalogue");
    let work = tempfile::tempdir().expect("a temporary folder");
    let tree = work.path().join("tree");
    let status = Command::new(binary())
        .args(["sim", "--generate", &generate, "--write-tree"])
        .arg(&tree)
        .args(["--mutate", "1%"])
        .stdout(Stdio::null())
        .status()
        .expect("write the trees");
    assert!(status.success(), "--write-tree failed");
    let mutated = work.path().join("tree-mutated");

    let repo = work.path().join("org");
    let status = Command::new(binary())
        .arg("init")
        .arg(&repo)
        .args(["--okta-domain", "bench.okta.com"])
        .stdout(Stdio::null())
        .status()
        .expect("butterfly init");
    assert!(status.success(), "init failed");
    commit_tree(catalogue, &repo, &tree, "before");
    commit_tree(catalogue, &repo, &mutated, "after");
    let files = files(&repo.join(layout::ROOT)).len();

    let (git_time, git_out) = time(|| {
        let mut command = Command::new("git");
        command
            .arg("-C")
            .arg(&repo)
            .args(["diff", "--stat", "HEAD~1", "HEAD"]);
        command
    });
    let (diff_time, diff_out) = time(|| {
        let mut command = Command::new(binary());
        command
            .arg("diff")
            .arg("-C")
            .arg(&repo)
            .args(["--format", "json"]);
        command
    });
    let report: Value = serde_json::from_slice(&diff_out).expect("diff's JSON");
    let stat = String::from_utf8_lossy(&git_out);
    let summary = stat.lines().last().unwrap_or_default().trim().to_string();
    let ratio = diff_time.as_secs_f64() / git_time.as_secs_f64();

    println!(
        "diff of sim --generate {generate} --write-tree --mutate 1%, two snapshots, {files} files"
    );
    println!(
        "  git diff --stat:  {:>8.3} s   ({summary})",
        git_time.as_secs_f64()
    );
    println!(
        "  butterfly diff:   {:>8.3} s   ({} resources: {})",
        diff_time.as_secs_f64(),
        report["resources"].as_array().map_or(0, Vec::len),
        report["counts"]
    );
    println!("  diff ÷ git:       {ratio:>8.2}     (target ≤ {RATIO_TARGET})");
    println!(
        "  (medians of {RUNS} runs; target ≤ {} s)",
        TIME_TARGET.as_secs()
    );
    let mut failed = false;
    if diff_time > TIME_TARGET {
        eprintln!("FAILED: diff took {diff_time:?}, the target is {TIME_TARGET:?}");
        failed = true;
    }
    if ratio > RATIO_TARGET {
        eprintln!("FAILED: diff took {ratio:.2} × git diff --stat, the target is {RATIO_TARGET}");
        failed = true;
    }
    if let Some(keep) = std::env::var_os("BUTTERFLY_BENCH_KEEP") {
        // For profiling: the org repository stays.
        let _ = std::fs::remove_dir_all(&keep);
        std::fs::rename(&repo, &keep).expect("keep the repository");
    }
    if failed {
        std::process::exit(1);
    }
}
