//! Benchmark of the simulator at issue #3's size: `butterfly sim --generate
//! users=100000,groups=5000,apps=1000` must start in under 10 s and stay under 1 GiB of
//! resident memory. Also times paging through every user (what a backup does first) and
//! `--write-tree`. Run with `cargo bench --bench sim_start`; figures go to BENCHMARKS.md.
//! Not run in CI (the brief: performance targets live in benchmarks, not in timed tests).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const GENERATE: &str = "users=100000,groups=5000,apps=1000";
const START_TARGET: Duration = Duration::from_secs(10);
const MEMORY_TARGET_KIB: u64 = 1024 * 1024;

/// `VmHWM` (peak resident set) of a process, in KiB, from /proc.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let binary = env!("CARGO_BIN_EXE_butterfly");
    let started = Instant::now();
    let mut child = Command::new(binary)
        .args(["sim", "--listen", "127.0.0.1:0", "--generate", GENERATE])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start butterfly sim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the start line");
    let start_time = started.elapsed();
    let start: serde_json::Value = serde_json::from_str(&line).expect("start line is JSON");
    let url = start["url"].as_str().expect("url").to_string();
    let token = start["api_token"].as_str().expect("api_token").to_string();
    let rss_at_start = peak_rss_kib(child.id()).unwrap_or(0);

    // Page through every user, as a backup does: 200 per page, following `next`.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (users, pages, list_time) = runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut next = Some(format!("{url}/api/v1/users?limit=200"));
        let (mut users, mut pages) = (0usize, 0usize);
        let begun = Instant::now();
        while let Some(page_url) = next.take() {
            let response = client
                .get(&page_url)
                .header("authorization", format!("SSWS {token}"))
                .send()
                .await
                .expect("list users");
            assert_eq!(response.status(), 200, "{page_url}");
            next = response
                .headers()
                .get_all("link")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|v| v.contains("rel=\"next\""))
                .and_then(|v| v.split(['<', '>']).nth(1))
                .map(str::to_string);
            let page: Vec<serde_json::Value> = response.json().await.expect("a JSON page");
            users += page.len();
            pages += 1;
        }
        (users, pages, begun.elapsed())
    });
    let rss_after_listing = peak_rss_kib(child.id()).unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();

    let tree = std::env::temp_dir().join(format!("butterfly-bench-tree-{}", std::process::id()));
    let begun = Instant::now();
    let status = Command::new(binary)
        .args(["sim", "--generate", GENERATE, "--write-tree"])
        .arg(&tree)
        .arg("--mutate")
        .arg("1%")
        .stdout(Stdio::null())
        .status()
        .expect("write the tree");
    let write_time = begun.elapsed();
    assert!(status.success(), "--write-tree failed");
    let _ = std::fs::remove_dir_all(&tree);
    let mut mutated = tree.clone().into_os_string();
    mutated.push("-mutated");
    let _ = std::fs::remove_dir_all(&mutated);

    println!("sim --generate {GENERATE}");
    println!(
        "  start (exec to listening):   {:>8.2} s   (target < {} s)",
        start_time.as_secs_f64(),
        START_TARGET.as_secs()
    );
    println!(
        "  peak RSS after start:        {:>8} MiB (target < 1024 MiB)",
        rss_at_start / 1024
    );
    println!(
        "  list every user, 200/page:   {:>8.2} s   ({users} users, {pages} pages)",
        list_time.as_secs_f64()
    );
    println!(
        "  peak RSS after listing:      {:>8} MiB",
        rss_after_listing / 1024
    );
    println!(
        "  --write-tree + --mutate 1%:  {:>8.2} s",
        write_time.as_secs_f64()
    );
    let mut failed = false;
    if start_time > START_TARGET {
        eprintln!("FAILED: start took {start_time:?}, the target is {START_TARGET:?}");
        failed = true;
    }
    if rss_after_listing > MEMORY_TARGET_KIB {
        eprintln!("FAILED: peak RSS {rss_after_listing} KiB is over 1 GiB");
        failed = true;
    }
    if failed {
        std::process::exit(1);
    }
}
