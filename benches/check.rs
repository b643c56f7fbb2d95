//! Benchmark of issue #7's evaluation: every compliance rule over a tree written by `butterfly
//! sim --generate users=100000,groups=5000,apps=1000 --write-tree DIR` (the `small` fixture's
//! configuration plus the generated users, groups, apps, memberships and assignments). Load time
//! (reading and parsing every file, resolving kinds, filling defaults, indexing) and evaluation
//! time (all rules, the stig profile, which runs every rule) are reported separately; the target
//! is evaluation ≤ 1 s. Prints every number; exits 1 when the target is missed. Run with
//! `cargo bench --bench check` (BUTTERFLY_BENCH_GENERATE overrides the size); figures go to
//! BENCHMARKS.md. Not run in CI.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use butterfly::catalogue::Catalogue;
use butterfly::compliance::{
    Context, Coverage, Index, Profile, Rule, Status, Tree, eval, okta_rules,
};
use serde_json::Value;

const EVALUATION_TARGET: Duration = Duration::from_secs(1);
/// Evaluation is timed this many times; the median counts.
const RUNS: usize = 5;

/// Every `.json` file under `dir`, relative, with `/` separators.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).expect("read a folder") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path.strip_prefix(dir).expect("inside").to_path_buf());
            }
        }
    }
    out.sort();
    out
}

fn main() {
    let generate = std::env::var("BUTTERFLY_BENCH_GENERATE")
        .unwrap_or_else(|_| "users=100000,groups=5000,apps=1000".to_string());
    let catalogue = Catalogue::okta().expect("the catalogue");
    let rules = okta_rules().expect("the rules");
    let work = tempfile::tempdir().expect("a temporary folder");
    let root = work.path().join("tree");
    let status = Command::new(env!("CARGO_BIN_EXE_butterfly"))
        .args(["sim", "--generate", &generate, "--write-tree"])
        .arg(&root)
        .stdout(Stdio::null())
        .status()
        .expect("run butterfly sim --write-tree");
    assert!(status.success(), "--write-tree failed");

    // Load: what `check` does between reading a revision's blobs and evaluating.
    let begun = Instant::now();
    let mut parsed: Vec<(String, Value)> = Vec::new();
    for relative in files(&root.join("okta")) {
        let text = std::fs::read(root.join("okta").join(&relative)).expect("read a file");
        let value: Value = serde_json::from_slice(&text).expect("JSON");
        let path = format!("okta/{}", relative.to_string_lossy().replace('\\', "/"));
        parsed.push((path, value));
    }
    let count = parsed.len();
    let read = begun.elapsed();
    let tree = Tree::from_files(catalogue, parsed);
    let index = Index::new(catalogue, &tree);
    let load = begun.elapsed();

    let context = Context {
        now: "2026-06-01T00:00:00Z".parse().expect("a time"),
        taken: Some("2026-06-01T00:00:00Z".parse().expect("a time")),
        profile: Profile::Stig,
        coverage: Coverage::default(),
    };
    let all: Vec<&Rule> = rules.all().iter().collect();
    let mut times = Vec::new();
    let mut results = 0;
    let mut errors = 0;
    for _ in 0..RUNS {
        let begun = Instant::now();
        let outcomes = eval::evaluate(&all, &index, &context);
        times.push(begun.elapsed());
        results = outcomes.iter().map(|o| o.findings.len()).sum::<usize>();
        errors = outcomes
            .iter()
            .map(|o| o.count(Status::Error))
            .sum::<usize>();
    }
    times.sort();
    let evaluation = times[RUNS / 2];
    println!(
        "check of sim --generate {generate} --write-tree: {count} files, {} rules",
        all.len()
    );
    println!(
        "  load:        {:>8.3} s   (read and parse {:.3} s; resolve, defaults and index {:.3} s)",
        load.as_secs_f64(),
        read.as_secs_f64(),
        (load - read).as_secs_f64()
    );
    println!(
        "  evaluation:  {:>8.3} s   (median of {RUNS}; {results} results, {errors} errors; target ≤ {:.1} s)",
        evaluation.as_secs_f64(),
        EVALUATION_TARGET.as_secs_f64()
    );
    if evaluation > EVALUATION_TARGET {
        println!("MISSED: evaluation took longer than the target");
        std::process::exit(1);
    }
}
