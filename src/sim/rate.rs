//! Rate limits per bucket, as Okta counts them: a quota per window that resets a fixed time
//! after it starts (not on wall-clock minutes), reported on every response in
//! `X-Rate-Limit-Limit/-Remaining/-Reset` (epoch seconds).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::catalogue::Provider;

#[derive(Debug)]
struct Window {
    started: Instant,
    started_wall: SystemTime,
    used: u32,
}

/// The counters of every bucket.
#[derive(Debug)]
pub struct RateLimits {
    limits: HashMap<String, u32>,
    window: Duration,
    windows: Mutex<HashMap<String, Window>>,
}

/// The outcome of counting one request.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub limit: u32,
    pub remaining: u32,
    pub reset: u64,
    pub allowed: bool,
}

impl RateLimits {
    /// Okta's published quotas, `overrides` on top, each counted over `window`.
    pub fn new(provider: &Provider, overrides: &BTreeMap<String, u32>, window: Duration) -> Self {
        let mut limits: HashMap<String, u32> = provider
            .buckets
            .values()
            .map(|b| (b.name.clone(), b.per_minute))
            .collect();
        limits.extend(overrides.iter().map(|(k, v)| (k.clone(), *v)));
        RateLimits {
            limits,
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// The state of `bucket` without counting a request (for the headers of every response).
    pub fn peek(&self, bucket: &str) -> Usage {
        let limit = self.limits.get(bucket).copied().unwrap_or(1200);
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        match windows.get(bucket) {
            Some(window) if window.started.elapsed() < self.window => Usage {
                limit,
                remaining: limit - window.used,
                reset: epoch_seconds(window.started_wall + self.window),
                allowed: window.used < limit,
            },
            _ => Usage {
                limit,
                remaining: limit,
                reset: epoch_seconds(SystemTime::now() + self.window),
                allowed: true,
            },
        }
    }

    /// Counts one request against `bucket`.
    pub fn take(&self, bucket: &str) -> Usage {
        let limit = self.limits.get(bucket).copied().unwrap_or(1200);
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let window = windows.entry(bucket.to_string()).or_insert_with(|| Window {
            started: now,
            started_wall: SystemTime::now(),
            used: 0,
        });
        if now.duration_since(window.started) >= self.window {
            *window = Window {
                started: now,
                started_wall: SystemTime::now(),
                used: 0,
            };
        }
        let allowed = window.used < limit;
        if allowed {
            window.used += 1;
        }
        let reset = epoch_seconds(window.started_wall + self.window);
        Usage {
            limit,
            remaining: limit - window.used,
            reset,
            allowed,
        }
    }
}

/// A time as Okta's `X-Rate-Limit-Reset` writes it: seconds since the Unix epoch.
fn epoch_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Reads `--rate-limits FILE`: a TOML table `[buckets]` of bucket name → requests per window.
pub fn read_overrides(
    path: &std::path::Path,
    provider: &Provider,
) -> Result<BTreeMap<String, u32>, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        buckets: BTreeMap<String, u32>,
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file: File =
        toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message().trim()))?;
    for (name, limit) in &file.buckets {
        if !provider.buckets.contains_key(name) {
            let known: Vec<&str> = provider.buckets.keys().map(String::as_str).collect();
            return Err(format!(
                "{}: `{name}` is not a rate-limit bucket (known: {})",
                path.display(),
                known.join(", ")
            ));
        }
        if *limit == 0 {
            return Err(format!(
                "{}: bucket `{name}` has a limit of 0",
                path.display()
            ));
        }
    }
    Ok(file.buckets)
}
