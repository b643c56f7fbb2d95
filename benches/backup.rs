//! Benchmark of issue #4's backup against `butterfly sim --generate
//! users=100000,groups=5000,apps=1000` at Okta's default rate limits, windows shrunk by
//! `--time-scale`. Prints every number it compares and the time scale; exits 1 when a target
//! is missed. Run with `cargo bench --bench backup` (BUTTERFLY_BENCH_GENERATE and
//! BUTTERFLY_BENCH_SCALE override the size and the scale); figures go to BENCHMARKS.md. Not
//! run in CI.
//!
//! Targets:
//! - requests made ÷ the minimum needed ≤ 1.05 (the minimum: over every list, the pages at the
//!   maximum page size, one list per parent for nested kinds, one `get` per singleton and per
//!   partial item; computed from the snapshot the backup wrote);
//! - wall time ÷ the rate-limit lower bound ≤ 1.2 (the bound: the largest, over buckets, of
//!   that bucket's minimum requests ÷ (share × its quota per window), in windows of the
//!   scaled length);
//! - peak memory of the backup process ≤ 512 MiB;
//! - also timed: the same backup without rate limits (the local part: canonicalise, write,
//!   commit, plus the simulator's answers) and a no-change re-backup, which must not commit.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use butterfly::catalogue::{Catalogue, Pagination, Shape};
use butterfly::snapshot::layout;
use serde_json::Value;

const SHARE: f64 = 0.5;
const REQUESTS_TARGET: f64 = 1.05;
const WALL_TARGET: f64 = 1.2;
const MEMORY_TARGET_MIB: u64 = 512;

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_butterfly")
}

struct Sim {
    child: Child,
    url: String,
    client_id: String,
    client_secret: String,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sim(generate: &str, extra: &[&str]) -> Sim {
    let mut child = Command::new(binary())
        .args(["sim", "--listen", "127.0.0.1:0", "--generate", generate])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start butterfly sim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the start line");
    let start: Value = serde_json::from_str(&line).expect("start line is JSON");
    Sim {
        url: start["url"].as_str().expect("url").to_string(),
        client_id: start["client_id"].as_str().expect("client id").to_string(),
        client_secret: start["client_secret"].as_str().expect("secret").to_string(),
        child,
    }
}

fn unlimited_rates(catalogue: &Catalogue) -> PathBuf {
    let path = std::env::temp_dir().join(format!("bt-bench-unlimited-{}.toml", std::process::id()));
    let mut toml = String::from("[buckets]\n");
    for bucket in catalogue.provider.buckets.keys() {
        toml.push_str(&format!("{bucket:?} = 10000000\n"));
    }
    std::fs::write(&path, toml).expect("write the rate-limit file");
    path
}

/// Peak resident memory of the largest child waited for so far, in KiB.
fn children_peak_kib() -> u64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let status = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    if status == 0 {
        usage.ru_maxrss as u64
    } else {
        0
    }
}

fn init(dir: &Path, sim: &Sim) {
    let _ = std::fs::remove_dir_all(dir);
    let status = Command::new(binary())
        .arg("init")
        .arg(dir)
        .args(["--okta-domain", &sim.url])
        .stdout(Stdio::null())
        .status()
        .expect("butterfly init");
    assert!(status.success(), "init failed");
}

/// Runs `butterfly backup --format json` in `dir`; the report.
fn backup(dir: &Path, sim: &Sim) -> Value {
    let out = Command::new(binary())
        .args(["backup", "--format", "json", "-C"])
        .arg(dir)
        .env("OKTA_CLIENT_ID", &sim.client_id)
        .env("OKTA_CLIENT_SECRET", &sim.client_secret)
        .env_remove("OKTA_API_TOKEN")
        .env_remove("OKTA_PRIVATE_KEY")
        .stderr(Stdio::null())
        .output()
        .expect("butterfly backup");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "backup printed no report ({e}); exit {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout)
        )
    });
    assert!(
        report["incomplete"].as_array().is_some_and(Vec::is_empty),
        "incomplete kinds: {}",
        report["incomplete"]
    );
    report
}

/// The minimum requests of a backup of the snapshot in `dir`, per rate-limit bucket.
fn minimum_requests(catalogue: &Catalogue, dir: &Path, report: &Value) -> BTreeMap<String, f64> {
    // Every file of the snapshot, by kind, with its parent's stem.
    struct File {
        kind: String,
        variant: usize,
        parent: Option<String>,
        stem: String,
        body: Value,
    }
    let mut files = Vec::new();
    let mut stack = vec![dir.join("okta")];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let relative = path
                .strip_prefix(dir)
                .expect("under the repo")
                .to_string_lossy()
                .replace('\\', "/");
            let Some(resolved) = layout::resolve(catalogue, &relative) else {
                continue;
            };
            let body: Value =
                serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("a JSON file");
            files.push(File {
                kind: resolved.kind.name.clone(),
                variant: resolved.variant,
                parent: resolved.parent.clone(),
                stem: relative.trim_end_matches(".json").to_string(),
                body,
            });
        }
    }
    // Files by (kind, variant, parent stem): looked up once per parent, not scanned.
    let mut by_parent: std::collections::HashMap<(&str, usize, Option<&str>), Vec<&File>> =
        std::collections::HashMap::new();
    for file in &files {
        by_parent
            .entry((file.kind.as_str(), file.variant, file.parent.as_deref()))
            .or_default()
            .push(file);
    }
    let mut per_bucket: BTreeMap<String, f64> = BTreeMap::new();
    let backed_up: Vec<&str> = report["kinds"]
        .as_object()
        .map(|k| {
            k.iter()
                .filter(|(_, r)| r["status"] == "complete")
                .map(|(name, _)| name.as_str())
                .collect()
        })
        .unwrap_or_default();
    for kind in catalogue.kinds() {
        if !backed_up.contains(&kind.name.as_str()) {
            continue;
        }
        for (index, variant) in kind.variants.iter().enumerate() {
            // The parents the kind is listed under.
            let parents: Vec<Option<&str>> = match &variant.parent {
                None => vec![None],
                Some(_) if variant.parents_from.is_some() => {
                    let index_list = variant.parents_from.as_ref().expect("checked");
                    let holders: std::collections::BTreeSet<&str> = files
                        .iter()
                        .filter(|f| f.kind == kind.name && f.variant == index)
                        .filter_map(|f| f.parent.as_deref())
                        .collect();
                    let limit = f64::from(index_list.limit.unwrap_or(100));
                    *per_bucket
                        .entry(index_list.endpoint.bucket.clone())
                        .or_default() += (holders.len() as f64 / limit).ceil().max(1.0);
                    holders.into_iter().map(Some).collect()
                }
                Some(parent_kind) => files
                    .iter()
                    .filter(|f| &f.kind == parent_kind)
                    .filter(|f| {
                        variant
                            .parent_when
                            .as_ref()
                            .is_none_or(|w| w.matches(&f.body))
                    })
                    .map(|f| Some(f.stem.as_str()))
                    .collect(),
            };
            let children = |parent: Option<&str>| -> Vec<&File> {
                by_parent
                    .get(&(kind.name.as_str(), index, parent))
                    .cloned()
                    .unwrap_or_default()
            };
            let Some(list) = &variant.endpoints.list else {
                if let Some(get) = &variant.endpoints.get {
                    *per_bucket.entry(get.bucket.clone()).or_default() += parents.len() as f64;
                }
                continue;
            };
            let limit = f64::from(list.limit.unwrap_or(u32::MAX));
            for parent in parents {
                let found = children(parent);
                let count = |file: &File| -> usize {
                    match (&kind.shape, &file.body) {
                        (Shape::Relationship { .. }, Value::Array(members)) => members.len(),
                        _ => 1,
                    }
                };
                let values: Vec<Option<&str>> = match &list.each {
                    Some(each) => each.values.iter().map(|v| Some(v.as_str())).collect(),
                    None => vec![None],
                };
                let mut pages = 0.0;
                for value in &values {
                    let n: usize = found
                        .iter()
                        .filter(|f| match value {
                            None => true,
                            Some("") => f.body["status"] != "DEPROVISIONED",
                            Some(v) if v.contains("DEPROVISIONED") => {
                                f.body["status"] == "DEPROVISIONED"
                            }
                            Some(v) => f.body["type"] == *v,
                        })
                        .map(|f| count(f))
                        .sum();
                    pages += if list.pagination == Pagination::None {
                        1.0
                    } else {
                        (n as f64 / limit).ceil().max(1.0)
                    };
                    if list.partial {
                        let get_bucket = variant
                            .endpoints
                            .get
                            .as_ref()
                            .map_or(list.endpoint.bucket.clone(), |g| g.bucket.clone());
                        *per_bucket.entry(get_bucket).or_default() += n as f64;
                    }
                }
                *per_bucket.entry(list.endpoint.bucket.clone()).or_default() += pages;
            }
        }
    }
    per_bucket
}

fn main() {
    let catalogue = Catalogue::okta().expect("the catalogue");
    let generate = std::env::var("BUTTERFLY_BENCH_GENERATE")
        .unwrap_or_else(|_| "users=100000,groups=5000,apps=1000".into());
    let scale: u32 = std::env::var("BUTTERFLY_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let window = 60.0 / f64::from(scale);
    let root = std::env::temp_dir().join(format!("bt-bench-backup-{}", std::process::id()));

    // 1. At Okta's default limits.
    let throttled = start_sim(&generate, &["--time-scale", &scale.to_string()]);
    let repo = root.join("throttled");
    init(&repo, &throttled);
    let report = backup(&repo, &throttled);
    let peak_mib = children_peak_kib() / 1024;
    drop(throttled);
    let requests = report["requests"]["requests"].as_f64().unwrap_or(0.0);
    let retried = report["requests"]["retried"].as_f64().unwrap_or(0.0);
    let limited = report["requests"]["rate_limited"].as_f64().unwrap_or(0.0);
    let seconds = report["seconds"].as_f64().unwrap_or(0.0);
    let minimum = minimum_requests(catalogue, &repo, &report);
    let minimum_total: f64 = minimum.values().sum();
    let mut bound = 0.0f64;
    let mut bound_bucket = String::new();
    for (bucket, count) in &minimum {
        let quota = catalogue
            .provider
            .buckets
            .get(bucket)
            .map_or(1200.0, |b| f64::from(b.per_minute));
        let allowance = (quota * SHARE).floor().max(1.0);
        let windows = count / allowance;
        if windows * window > bound {
            bound = windows * window;
            bound_bucket = bucket.clone();
        }
    }

    // 2. Without rate limits: the local part, then a re-backup that changes nothing.
    let rates = unlimited_rates(catalogue);
    let free = start_sim(&generate, &["--rate-limits", &rates.to_string_lossy()]);
    let repo2 = root.join("unthrottled");
    init(&repo2, &free);
    let local = backup(&repo2, &free);
    let again = backup(&repo2, &free);
    drop(free);
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_file(&rates);

    let request_ratio = requests / minimum_total.max(1.0);
    let wall_ratio = seconds / bound.max(f64::EPSILON);
    println!(
        "backup of sim --generate {generate}, time scale {scale} (windows of {window:.0} s), share {SHARE}"
    );
    println!(
        "  requests made:                 {requests:>10.0} ({retried:.0} retried, {limited:.0} rate-limited)"
    );
    println!("  minimum needed:                {minimum_total:>10.0}");
    for (bucket, count) in &minimum {
        println!("    {bucket:<30} {count:>8.0}");
    }
    println!("  requests ÷ minimum:            {request_ratio:>10.3} (target ≤ {REQUESTS_TARGET})");
    println!("  wall time:                     {seconds:>10.1} s");
    println!("  rate-limit lower bound:        {bound:>10.1} s ({bound_bucket})");
    println!("  wall ÷ bound:                  {wall_ratio:>10.3} (target ≤ {WALL_TARGET})");
    println!(
        "  peak RSS of a backup:          {peak_mib:>10} MiB (target ≤ {MEMORY_TARGET_MIB} MiB)"
    );
    println!(
        "  unthrottled backup (local part + the simulator): {:.1} s, {} requests",
        local["seconds"].as_f64().unwrap_or(0.0),
        local["requests"]["requests"]
    );
    println!(
        "  no-change re-backup:           {:>10.1} s, commit: {}",
        again["seconds"].as_f64().unwrap_or(0.0),
        again["commit"]
    );
    let mut failed = false;
    for (ok, what) in [
        (request_ratio <= REQUESTS_TARGET, "requests ÷ minimum"),
        (wall_ratio <= WALL_TARGET, "wall ÷ bound"),
        (peak_mib <= MEMORY_TARGET_MIB, "peak memory"),
        (again["commit"].is_null(), "no-change backup made no commit"),
    ] {
        if !ok {
            eprintln!("FAILED: {what}");
            failed = true;
        }
    }
    if failed {
        std::process::exit(1);
    }
}
