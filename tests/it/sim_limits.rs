//! Rate limits of `butterfly sim` (issue #3): per-bucket quotas from `--rate-limits FILE`,
//! `--time-scale`, and the concurrency limit.

use std::process::Command;

use serde_json::json;

use crate::support::sim::Sim;

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("butterfly-it-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn header(response: &reqwest::Response, name: &str) -> u64 {
    response.headers()[name].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_bucket_quota_counts_down_then_answers_429() {
    let limits = temp_file("limits.toml", "[buckets]\n\"/api/v1/apps\" = 3\n");
    let sim = Sim::start(
        "tiny",
        &[
            "--rate-limits",
            limits.to_str().unwrap(),
            "--time-scale",
            "6",
        ],
    );
    let client = sim.ssws();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for remaining in [2, 1, 0] {
        let response = client
            .get(format!("{}/api/v1/apps", sim.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-rate-limit-limit"), 3);
        assert_eq!(header(&response, "x-rate-limit-remaining"), remaining);
        // --time-scale 6: a 10-second window.
        let reset = header(&response, "x-rate-limit-reset");
        assert!(reset > now && reset <= now + 11, "reset {reset}, now {now}");
    }
    let limited = client
        .get(format!("{}/api/v1/apps", sim.url))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(header(&limited, "x-rate-limit-remaining"), 0);
    let body: serde_json::Value = limited.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000047");
    // Another bucket is untouched.
    assert_eq!(
        client
            .get(format!("{}/api/v1/groups", sim.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn too_many_requests_in_flight_get_a_concurrency_429() {
    let sim = Sim::start("tiny", &["--concurrency", "1", "--reconcile-ms", "400"]);
    let client = sim.ssws();
    let slow = client
        .post(format!("{}/api/v1/groups/rules", sim.url))
        .json(&json!({
            "type": "group_rule", "name": "Slow",
            "conditions": {"expression": {"type": "urn:okta:expression:1.0", "value": "user.department==\"Sales\""}},
            "actions": {"assignUserToGroups": {"groupIds": ["00g1tinysalesemea004"]}}
        }))
        .send();
    let quick = async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        client
            .get(format!("{}/api/v1/groups", sim.url))
            .send()
            .await
            .unwrap()
    };
    let (slow, quick) = tokio::join!(slow, quick);
    assert_eq!(slow.unwrap().status(), 200);
    assert_eq!(quick.status(), 429);
    assert_eq!(header(&quick, "x-rate-limit-limit"), 0);
    assert_eq!(header(&quick, "x-rate-limit-remaining"), 0);
}

#[test]
fn bad_rate_limit_options_are_usage_errors_that_name_the_problem() {
    let fixture = crate::support::root().join("fixtures/orgs/tiny");
    let limits = temp_file("bad.toml", "[buckets]\n\"/api/v1/nothing\" = 3\n");
    let output = Command::new(env!("CARGO_BIN_EXE_butterfly"))
        .args(["sim", "--fixture"])
        .arg(&fixture)
        .arg("--rate-limits")
        .arg(&limits)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.toml")
            && stderr.contains("`/api/v1/nothing` is not a rate-limit bucket"),
        "{stderr}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_butterfly"))
        .args(["sim", "--time-scale", "7", "--fixture"])
        .arg(&fixture)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("10 s or more"));
}

/// The statuses of `count` sequential group lists (`None` for a dropped connection or a body
/// that is not whole JSON).
async fn statuses(sim: &Sim, count: usize) -> Vec<Option<u16>> {
    let client = sim.ssws();
    let mut out = Vec::new();
    for _ in 0..count {
        let outcome = match client
            .get(format!("{}/api/v1/groups", sim.url))
            .send()
            .await
        {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.bytes().await {
                    Ok(bytes)
                        if status != 200
                            || serde_json::from_slice::<serde_json::Value>(&bytes).is_ok() =>
                    {
                        Some(status)
                    }
                    _ => None,
                }
            }
            Err(_) => None,
        };
        out.push(outcome);
    }
    out
}

#[tokio::test]
async fn faults_are_injected_deterministically_by_seed() {
    let args = ["--fault-rate", "0.5", "--seed", "42"];
    let first = statuses(&Sim::start("tiny", &args), 24).await;
    let second = statuses(&Sim::start("tiny", &args), 24).await;
    assert_eq!(first, second, "the same seed gives the same faults");
    assert!(first.contains(&Some(200)), "{first:?}");
    assert!(first.iter().any(|s| *s != Some(200)), "{first:?}");
    let other = statuses(
        &Sim::start("tiny", &["--fault-rate", "0.5", "--seed", "43"]),
        24,
    )
    .await;
    assert_ne!(first, other);
}

#[tokio::test]
async fn each_fault_looks_like_what_it_names() {
    for (fault, expected) in [
        ("500", Some(500)),
        ("502", Some(502)),
        ("503", Some(503)),
        ("429", Some(429)),
        ("reset", None),
        ("truncate", None),
    ] {
        let sim = Sim::start("tiny", &["--fault-rate", "1", "--faults", fault]);
        assert_eq!(statuses(&sim, 1).await, vec![expected], "{fault}");
        // The token endpoint is spared.
        let token = sim.token("okta.groups.read").await;
        assert_eq!(token.status(), 200, "{fault}");
    }
}

#[tokio::test]
async fn latency_delays_every_api_request() {
    let sim = Sim::start("tiny", &["--latency-ms", "150"]);
    let started = std::time::Instant::now();
    assert_eq!(statuses(&sim, 2).await, vec![Some(200), Some(200)]);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
}
