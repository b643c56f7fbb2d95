//! Rate limits per bucket, as Okta counts them: a quota per window that resets a fixed time
//! after it starts (not on wall-clock minutes), reported on every response in
//! `X-Rate-Limit-Limit/-Remaining/-Reset` (epoch seconds).

use std::collections::HashMap;
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
    pub fn new(provider: &Provider) -> Self {
        RateLimits {
            limits: provider
                .buckets
                .values()
                .map(|b| (b.name.clone(), b.per_minute))
                .collect(),
            window: Duration::from_secs(60),
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
                reset: (window.started_wall + self.window)
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
                allowed: window.used < limit,
            },
            _ => Usage {
                limit,
                remaining: limit,
                reset: (SystemTime::now() + self.window)
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
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
        let reset = (window.started_wall + self.window)
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Usage {
            limit,
            remaining: limit - window.used,
            reset,
            allowed,
        }
    }
}
