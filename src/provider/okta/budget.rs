//! Rate-limit budgets: how many requests the client may send now, per Okta bucket, and how
//! many at once overall.
//!
//! Each bucket's limit, use and reset are read from the `X-Rate-Limit-*` headers of its
//! answers (never hard-coded: orgs differ). The client keeps to a share of each bucket (Okta
//! asks integrations for at most 50%), counting its requests in flight, and when the share is
//! used it waits for the reset. The reset is an epoch second; the wait is computed against the
//! server's `Date` (as Okta's SDKs do, so a skewed local clock does not matter) and taken as
//! the tightest upper bound over the window's answers, so the client neither sends early (and
//! meets 429s) nor idles long after the reset. A bucket not yet seen admits one request, whose
//! answer tells the limit.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::time::Instant;

/// What the client learned of one bucket.
#[derive(Debug, Default)]
struct Bucket {
    limit: Option<u32>,
    /// `X-Rate-Limit-Reset` of the current window.
    window: Option<u64>,
    /// A window that has ended: late answers from it are ignored.
    ended: Option<u64>,
    /// When the current window ends, locally (an upper bound).
    reset_at: Option<Instant>,
    /// Requests counted in the current window (the server's count, which includes other
    /// clients of the org).
    used: u32,
    in_flight: u32,
    /// Requests waiting for budget, first come first served; each is told when admitted
    /// (and is then counted in flight).
    waiters: VecDeque<oneshot::Sender<Ticket>>,
    /// The reset a timer is set for, to admit waiters then.
    timer: Option<Instant>,
}

impl Bucket {
    /// Starts a new window when the current one has ended.
    fn roll(&mut self, now: Instant) {
        if self.reset_at.is_some_and(|at| now >= at) {
            self.ended = self.window.take();
            self.reset_at = None;
            self.used = 0;
        }
    }

    fn has_room(&self, allowance: impl Fn(u32) -> u32) -> bool {
        match self.limit {
            None => self.in_flight == 0,
            Some(limit) => self.used + self.in_flight < allowance(limit),
        }
    }
}

/// The rate-limit headers of one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub limit: u32,
    pub remaining: u32,
    pub reset: u64,
    /// The server's `Date` (epoch seconds), or the local clock where it is missing.
    pub date: u64,
}

impl Reading {
    /// Reads `X-Rate-Limit-Limit/-Remaining/-Reset` and `Date`; None when the headers are
    /// absent or malformed.
    pub fn from_headers(headers: &HeaderMap) -> Option<Reading> {
        let number =
            |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
        let date = headers
            .get("date")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
            .and_then(|d| u64::try_from(d.timestamp()).ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default()
            });
        Some(Reading {
            limit: u32::try_from(number("x-rate-limit-limit")?).ok()?,
            remaining: u32::try_from(number("x-rate-limit-remaining")?).ok()?,
            reset: number("x-rate-limit-reset")?,
            date,
        })
    }

    /// How long after this answer arrived the window certainly has reset: the reset and the
    /// date are both truncated to the second, so the true wait is below `reset - date + 1`.
    pub fn wait(&self) -> Duration {
        Duration::from_secs(self.reset.saturating_sub(self.date) + 1)
    }
}

/// The budgets of every bucket, and the cap on requests in flight.
#[derive(Debug)]
pub struct Budgets {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    share: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
    in_flight: Arc<Semaphore>,
}

/// Leave to send one request in a bucket. Give the answer's headers back with
/// [`Permit::observe`]; a permit dropped without (a cancelled request) just frees its place.
#[derive(Debug)]
pub struct Permit {
    shared: Arc<Shared>,
    bucket: String,
    _slot: Option<OwnedSemaphorePermit>,
    reading: Option<(Reading, Instant)>,
}

impl Permit {
    /// Records the answer's rate-limit headers (if it had them), received at `received`.
    pub fn observe(mut self, reading: Option<Reading>, received: Instant) {
        self.reading = reading.map(|r| (r, received));
    }
}

/// A place in a bucket's budget handed to a waiting request. A request dropped after it was
/// admitted but before it took its place (its future dropped with the ticket unread) gives the
/// place back when the ticket is dropped, so the bucket never counts a request that will not
/// come.
struct Ticket {
    shared: Arc<Shared>,
    bucket: String,
    armed: bool,
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket")
            .field("bucket", &self.bucket)
            .field("armed", &self.armed)
            .finish()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.armed {
            Shared::finish(&self.shared, &self.bucket, None);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        Shared::finish(&self.shared, &self.bucket, self.reading.take());
    }
}

impl Budgets {
    /// `share` of each bucket (0 < share ≤ 1), at most `concurrency` requests in flight.
    pub fn new(share: f64, concurrency: usize) -> Budgets {
        Budgets {
            shared: Arc::new(Shared {
                share: share.clamp(0.01, 1.0),
                buckets: Mutex::new(HashMap::new()),
                in_flight: Arc::new(Semaphore::new(concurrency.max(1))),
            }),
        }
    }

    /// The share of each bucket the client keeps to.
    pub fn share(&self) -> f64 {
        self.shared.share
    }

    /// Waits until a request in `bucket` fits the budget and a slot is free. Requests of a
    /// bucket are admitted in the order they asked, each only when an answer frees room or the
    /// window resets: thousands of waiting requests cost nothing while they wait.
    pub async fn acquire(&self, bucket: &str) -> Permit {
        let shared = &self.shared;
        // Budget first, then a slot: a request waiting for its bucket's reset must not hold a
        // slot that a request of another bucket could use. (One admitted but waiting for a
        // slot counts as in flight, so the share is never overshot.)
        loop {
            let waiting = {
                let mut buckets = shared.lock();
                let state = buckets.entry(bucket.to_string()).or_default();
                state.roll(Instant::now());
                if state.waiters.is_empty() && state.has_room(|l| shared.allowance(l)) {
                    state.in_flight += 1;
                    None
                } else {
                    let (tell, told) = oneshot::channel();
                    state.waiters.push_back(tell);
                    Shared::admit(shared, bucket, state);
                    Some(told)
                }
            };
            match waiting {
                None => break,
                Some(told) => {
                    // Admitted: counted in flight by whoever told us, and the ticket is that
                    // count until the permit holds it. (An error means the budgets were dropped
                    // while waiting: ask again.)
                    if let Ok(mut ticket) = told.await {
                        ticket.armed = false;
                        break;
                    }
                }
            }
        }
        let mut permit = Permit {
            shared: Arc::clone(shared),
            bucket: bucket.to_string(),
            _slot: None,
            reading: None,
        };
        // The semaphore is never closed, so this loop runs once.
        loop {
            if let Ok(slot) = Arc::clone(&shared.in_flight).acquire_owned().await {
                permit._slot = Some(slot);
                return permit;
            }
        }
    }

    /// Marks `bucket` used up for `wait`: a 429 without readable headers.
    pub fn exhaust(&self, bucket: &str, wait: Duration) {
        let mut buckets = self.shared.lock();
        let state = buckets.entry(bucket.to_string()).or_default();
        let at = Instant::now() + wait;
        state.reset_at = Some(state.reset_at.map_or(at, |r| r.max(at)));
        state.used = state.limit.unwrap_or(u32::MAX / 2);
        Shared::admit(&self.shared, bucket, state);
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Bucket>> {
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The requests of `limit` the client allows itself per window.
    fn allowance(&self, limit: u32) -> u32 {
        ((f64::from(limit) * self.share).floor() as u32).max(1)
    }

    fn finish(this: &Arc<Shared>, bucket: &str, reading: Option<(Reading, Instant)>) {
        let mut buckets = this.lock();
        let state = buckets.entry(bucket.to_string()).or_default();
        state.in_flight = state.in_flight.saturating_sub(1);
        // A concurrency 429 reads limit 0: it says nothing of the bucket.
        if let Some((reading, received)) = reading.filter(|(r, _)| r.limit > 0)
            && Some(reading.reset) != state.ended
        {
            state.limit = Some(reading.limit);
            let used = reading.limit.saturating_sub(reading.remaining);
            let at = received + reading.wait();
            if state.window == Some(reading.reset) {
                state.used = state.used.max(used);
                state.reset_at = Some(state.reset_at.map_or(at, |r| r.min(at)));
            } else if state.window.is_none_or(|w| reading.reset > w) {
                state.window = Some(reading.reset);
                state.used = used;
                state.reset_at = Some(at);
            }
        }
        Shared::admit(this, bucket, state);
    }

    /// Admits `bucket`'s waiters, first come first served, while it has room; when some must
    /// wait for the window's reset, sets one timer to admit them then.
    fn admit(this: &Arc<Shared>, bucket: &str, state: &mut Bucket) {
        state.roll(Instant::now());
        while let Some(first) = state.waiters.front() {
            if first.is_closed() {
                // Its request was dropped while waiting.
                state.waiters.pop_front();
                continue;
            }
            if !state.has_room(|l| this.allowance(l)) {
                break;
            }
            if let Some(first) = state.waiters.pop_front() {
                state.in_flight += 1;
                let ticket = Ticket {
                    shared: Arc::clone(this),
                    bucket: bucket.to_string(),
                    armed: true,
                };
                // Its request was dropped this instant: the place is not taken. (Disarmed, so
                // the ticket does not give it back under the lock held here.)
                if let Err(mut ticket) = first.send(ticket) {
                    ticket.armed = false;
                    state.in_flight -= 1;
                }
            }
        }
        let Some(at) = state.reset_at else {
            return;
        };
        if state.waiters.is_empty() || state.timer.is_some_and(|t| t <= at) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        state.timer = Some(at);
        let shared = Arc::clone(this);
        let bucket = bucket.to_string();
        runtime.spawn(async move {
            tokio::time::sleep_until(at).await;
            let mut buckets = shared.lock();
            if let Some(state) = buckets.get_mut(&bucket) {
                state.timer = None;
                Shared::admit(&shared, &bucket, state);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn reading(limit: u32, remaining: u32, reset: u64, date: u64) -> Option<Reading> {
        Some(Reading {
            limit,
            remaining,
            reset,
            date,
        })
    }

    #[test]
    fn headers_are_read_against_the_servers_date() {
        let mut headers = HeaderMap::new();
        headers.insert("x-rate-limit-limit", HeaderValue::from_static("600"));
        headers.insert("x-rate-limit-remaining", HeaderValue::from_static("598"));
        headers.insert("x-rate-limit-reset", HeaderValue::from_static("1609459260"));
        headers.insert(
            "date",
            HeaderValue::from_static("Fri, 01 Jan 2021 00:00:00 GMT"),
        );
        let r = Reading::from_headers(&headers).unwrap();
        assert_eq!((r.limit, r.remaining, r.date), (600, 598, 1609459200));
        assert_eq!(r.wait(), Duration::from_secs(61));
        headers.remove("x-rate-limit-reset");
        assert_eq!(Reading::from_headers(&headers), None);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_bucket_admits_one_request_then_its_share() {
        let budgets = Budgets::new(0.5, 10);
        let first = budgets.acquire("/api/v1/apps").await;
        // A second request waits for the first answer, which tells the limit.
        let waiting =
            tokio::time::timeout(Duration::from_millis(10), budgets.acquire("/api/v1/apps")).await;
        assert!(waiting.is_err());
        first.observe(reading(10, 9, 1000, 990), Instant::now());
        // Share 50% of 10 = 5 per window; one is used.
        let mut permits = Vec::new();
        for _ in 0..4 {
            permits.push(budgets.acquire("/api/v1/apps").await);
        }
        let over =
            tokio::time::timeout(Duration::from_millis(10), budgets.acquire("/api/v1/apps")).await;
        assert!(over.is_err(), "a sixth request within the window");
        // Another bucket is not held up.
        let other = budgets.acquire("/api/v1/groups").await;
        other.observe(None, Instant::now());
        // At the reset (10 s after the date, plus the second of truncation) the share is back.
        let before = Instant::now();
        let next = budgets.acquire("/api/v1/apps").await;
        let waited = before.elapsed();
        assert!(
            waited >= Duration::from_secs(10) && waited <= Duration::from_secs(11),
            "{waited:?}"
        );
        drop(next);
        drop(permits);
    }

    #[tokio::test(start_paused = true)]
    async fn the_tightest_answer_sets_the_reset_and_late_answers_are_ignored() {
        let budgets = Budgets::new(0.5, 10);
        let p = budgets.acquire("b").await;
        p.observe(reading(4, 3, 100, 90), Instant::now());
        tokio::time::advance(Duration::from_millis(600)).await;
        // The server's clock ticked: this answer bounds the reset 600 ms earlier than the
        // first did relative to its arrival.
        let p = budgets.acquire("b").await;
        p.observe(reading(4, 2, 100, 91), Instant::now());
        let before = Instant::now();
        let p = budgets.acquire("b").await;
        assert_eq!(before.elapsed(), Duration::from_secs(10));
        // An answer from the ended window does not count against the new one.
        p.observe(reading(4, 0, 100, 95), Instant::now());
        let _p = tokio::time::timeout(Duration::from_millis(1), budgets.acquire("b"))
            .await
            .expect("the new window is open");
    }

    #[tokio::test(start_paused = true)]
    async fn an_exhausted_bucket_waits_and_a_concurrency_refusal_changes_nothing() {
        let budgets = Budgets::new(1.0, 10);
        let p = budgets.acquire("b").await;
        p.observe(reading(0, 0, 0, 0), Instant::now());
        let p = budgets.acquire("b").await;
        p.observe(reading(100, 99, 60, 0), Instant::now());
        budgets.exhaust("b", Duration::from_secs(3));
        let before = Instant::now();
        let _p = budgets.acquire("b").await;
        assert!(before.elapsed() >= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_are_admitted_in_order_a_share_per_window() {
        // 10 a window of 10 s, share 50%: five a window. Every answer reports the server's
        // count for its window (reset 100 for the first, 110 for the second, ...).
        let budgets = Arc::new(Budgets::new(0.5, 100));
        let base = Instant::now();
        let (done, mut admitted) = tokio::sync::mpsc::unbounded_channel();
        let used = Arc::new(std::sync::Mutex::new(HashMap::<u64, u32>::new()));
        for n in 0..12u32 {
            let budgets = Arc::clone(&budgets);
            let done = done.clone();
            let used = Arc::clone(&used);
            tokio::spawn(async move {
                let permit = budgets.acquire("b").await;
                let window = (Instant::now() - base).as_secs() / 10;
                let count = {
                    let mut used = used.lock().unwrap();
                    let count = used.entry(window).or_default();
                    *count += 1;
                    *count
                };
                let _ = done.send((n, window));
                tokio::time::sleep(Duration::from_millis(50)).await;
                let date = 90 + (Instant::now() - base).as_secs();
                permit.observe(
                    reading(10, 10 - count, 100 + 10 * window, date),
                    Instant::now(),
                );
            });
            tokio::task::yield_now().await;
        }
        let mut order = Vec::new();
        for _ in 0..12 {
            order.push(admitted.recv().await.unwrap());
        }
        let numbers: Vec<u32> = order.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            numbers,
            (0..12).collect::<Vec<_>>(),
            "first come, first served"
        );
        let per_window = |w: u64| order.iter().filter(|(_, at)| *at == w).count();
        assert_eq!(
            (per_window(0), per_window(1), per_window(2)),
            (5, 5, 2),
            "{order:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_dropped_once_admitted_gives_its_place_back() {
        // One a window: the first takes it, the second waits for it.
        let budgets = Arc::new(Budgets::new(1.0, 10));
        let first = budgets.acquire("b").await;
        first.observe(reading(1, 0, 60, 0), Instant::now());
        let mut waiting = Box::pin(budgets.acquire("b"));
        assert!(
            tokio::time::timeout(Duration::from_millis(5), &mut waiting)
                .await
                .is_err()
        );
        // The window resets: the waiter is admitted (its ticket sent), and dropped unread.
        tokio::time::sleep(Duration::from_secs(61)).await;
        drop(waiting);
        let in_flight = |budgets: &Budgets| budgets.shared.lock().get("b").map(|b| b.in_flight);
        assert_eq!(in_flight(&budgets), Some(0));
        // And the place is there for the next request.
        let next = tokio::time::timeout(Duration::from_secs(1), budgets.acquire("b")).await;
        assert!(next.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn no_more_than_the_concurrency_cap_are_in_flight() {
        let budgets = Arc::new(Budgets::new(1.0, 2));
        let a = budgets.acquire("x").await;
        a.observe(reading(100, 99, 60, 0), Instant::now());
        let _a = budgets.acquire("x").await;
        let _b = budgets.acquire("y").await;
        let blocked = tokio::time::timeout(Duration::from_millis(5), budgets.acquire("x")).await;
        assert!(blocked.is_err());
    }
}
