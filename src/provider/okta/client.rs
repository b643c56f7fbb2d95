//! One request to Okta, done the way Okta asks: within the bucket's budget and the concurrency
//! cap, authenticated, and retried where retrying helps.
//!
//! - 429 `E0000047`: wait for the bucket's reset (from the answer's headers), then retry with
//!   `X-Okta-Retry-For` / `X-Okta-Retry-Count` as Okta's SDKs send them.
//! - 5xx, 423, Okta's "still being set up" 409s, connection resets, timeouts and bodies cut
//!   short: exponential backoff with jitter, a bounded number of times.
//! - 401 on an access token: a new token once; a DPoP nonce challenge: the nonce, once.
//! - Anything else is the caller's: an [`ApiError`] with status, `errorCode`, `errorSummary`,
//!   `errorId`, the request id and the URL.
//!
//! Counts every request sent (retries included) for the backup's summary and benchmark.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_LENGTH, HeaderMap, HeaderValue, USER_AGENT};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::time::Instant;

use super::auth::Auth;
use super::budget::{Budgets, Reading};
use super::credentials::Credentials;
use super::error::{ApiError, Cause, ClientError};
use super::links;
use super::org_url::OrgUrl;

/// How the client retries.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts of a request that keeps failing transiently (5xx, resets, timeouts).
    pub attempts: u32,
    /// The first backoff; each retry doubles it, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// 429s tolerated for one request before giving up.
    pub rate_limited: u32,
    /// One request's time limit.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(20),
            rate_limited: 20,
            timeout: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry `attempt` (1-based): exponential, with jitter in its upper half.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_backoff);
        let mut byte = [0u8; 1];
        let jitter = if aws_lc_rs::rand::fill(&mut byte).is_ok() {
            f64::from(byte[0]) / 255.0
        } else {
            0.5
        };
        exp.mul_f64(0.5 + 0.5 * jitter)
    }
}

/// Settings of a client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The scopes requested with every access token.
    pub scopes: Vec<String>,
    /// The share of each rate-limit bucket the client uses (Okta asks for at most 0.5).
    pub share: f64,
    /// Requests in flight at once (Okta refuses more than 75 per org; keep well below).
    pub concurrency: usize,
    pub retry: RetryPolicy,
    /// Set by the server for user-given orgs: every connection's addresses are checked against
    /// DESIGN.md's upstream rule (`upstream`).
    pub resolver: Option<std::sync::Arc<crate::upstream::GuardedResolver>>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            scopes: Vec::new(),
            share: 0.5,
            concurrency: 8,
            retry: RetryPolicy::default(),
            resolver: None,
        }
    }
}

/// Requests sent so far.
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    rate_limited: AtomicU64,
    retried: AtomicU64,
}

/// What the client has sent, for summaries and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Every request sent, retries included (not token requests).
    pub requests: u64,
    /// 429s met.
    pub rate_limited: u64,
    /// Requests sent again after a transient failure or a 429.
    pub retried: u64,
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    /// The JSON body (`Null` for an empty one).
    pub body: Value,
    /// The next page, from the `Link` header or the body's `_links`.
    pub next: Option<String>,
}

/// An authenticated, rate-limited client of one org.
pub struct Client {
    http: reqwest::Client,
    org: OrgUrl,
    auth: Auth,
    budgets: Budgets,
    retry: RetryPolicy,
    counters: Counters,
}

impl Client {
    pub fn new(
        org: OrgUrl,
        credentials: Credentials,
        options: ClientOptions,
    ) -> Result<Client, ClientError> {
        let mut builder = reqwest::Client::builder()
            // A redirect would carry the org's token elsewhere; Okta's API does not redirect.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(15));
        if let Some(resolver) = options.resolver.clone() {
            builder = builder.dns_resolver(resolver);
        }
        let http = builder.build().map_err(|e| ClientError::Transport {
            method: "-".into(),
            url: org.base(),
            problem: format!("cannot build an HTTP client: {e}"),
        })?;
        Ok(Client {
            auth: Auth::new(credentials, org.clone(), options.scopes, http.clone()),
            http,
            org,
            budgets: Budgets::new(options.share, options.concurrency),
            retry: options.retry,
            counters: Counters::default(),
        })
    }

    pub fn org(&self) -> &OrgUrl {
        &self.org
    }

    pub fn credentials(&self) -> &Credentials {
        self.auth.credentials()
    }

    /// The scopes the access token was granted (None with an API token).
    pub async fn granted_scopes(&self) -> Result<Option<Vec<String>>, ClientError> {
        self.auth.granted_scopes().await
    }

    pub fn stats(&self) -> Stats {
        Stats {
            requests: self.counters.requests.load(Ordering::Relaxed),
            rate_limited: self.counters.rate_limited.load(Ordering::Relaxed),
            retried: self.counters.retried.load(Ordering::Relaxed),
        }
    }

    /// `GET url` (absolute, in this org), counted against `bucket`.
    pub async fn get(&self, url: &str, bucket: &str) -> Result<Answer, ClientError> {
        self.send(Method::GET, url, bucket, None).await
    }

    /// One request, retried as the module says.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        bucket: &str,
        body: Option<&Value>,
    ) -> Result<Answer, ClientError> {
        if !self.org.owns(url) {
            return Err(ClientError::Transport {
                method: method.to_string(),
                url: url.to_string(),
                problem: format!("is not in the org {}; it is not requested", self.org),
            });
        }
        let mut failures = 0u32;
        let mut rate_limited = 0u32;
        let mut renewed = false;
        let mut nonce_retried = false;
        let mut retry_for: Option<String> = None;
        let mut sent = 0u32;
        loop {
            let permit = self.budgets.acquire(bucket).await;
            let auth = self.auth.headers(method.as_str(), url).await?;
            let mut request = self
                .http
                .request(method.clone(), url)
                .headers(auth)
                .header(ACCEPT, "application/json")
                .header(USER_AGENT, concat!("butterfly/", env!("CARGO_PKG_VERSION")))
                .timeout(self.retry.timeout);
            if let Some(id) = &retry_for {
                request = request
                    .header("x-okta-retry-for", id.as_str())
                    .header("x-okta-retry-count", sent.to_string());
            }
            request = match body {
                Some(body) => request.json(body),
                None if method == Method::POST || method == Method::PUT => {
                    request.header(CONTENT_LENGTH, HeaderValue::from_static("0"))
                }
                None => request,
            };
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            if sent > 0 {
                self.counters.retried.fetch_add(1, Ordering::Relaxed);
            }
            sent += 1;
            let outcome = request.send().await;
            let received = Instant::now();
            let failure = match outcome {
                Err(e) => {
                    permit.observe(None, received);
                    ClientError::Transport {
                        method: method.to_string(),
                        url: url.to_string(),
                        problem: describe(&e),
                    }
                }
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    let reading = Reading::from_headers(&headers);
                    permit.observe(reading, received);
                    match response.bytes().await {
                        Err(e) => ClientError::Transport {
                            method: method.to_string(),
                            url: url.to_string(),
                            problem: format!("the body was cut short: {}", describe(&e)),
                        },
                        Ok(bytes) if status.is_success() => match parse_body(&bytes) {
                            Ok(body) => {
                                let next = links::next_in_headers(&headers)
                                    .or_else(|| links::next_in_body(&body));
                                return Ok(Answer { status, body, next });
                            }
                            Err(problem) => ClientError::Body {
                                method: method.to_string(),
                                url: url.to_string(),
                                problem,
                            },
                        },
                        Ok(bytes) => {
                            let error = ApiError::from_body(
                                method.as_str(),
                                url,
                                status,
                                &bytes,
                                header_text(&headers, "x-okta-request-id"),
                                challenge(&headers),
                            );
                            match error.cause() {
                                Cause::RateLimited => {
                                    rate_limited += 1;
                                    self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                                    if rate_limited > self.retry.rate_limited {
                                        return Err(self.gave_up(&method, url, sent, error.into()));
                                    }
                                    retry_for = error.request_id.clone();
                                    match reading.filter(|r| r.limit > 0) {
                                        Some(reading) => {
                                            self.budgets.exhaust(bucket, reading.wait())
                                        }
                                        // A concurrency refusal (limit 0) or no headers: a
                                        // short pause, then try again.
                                        None => {
                                            tokio::time::sleep(
                                                self.retry
                                                    .backoff(rate_limited)
                                                    .min(Duration::from_secs(60)),
                                            )
                                            .await
                                        }
                                    }
                                    tracing::debug!(url, bucket, "429; waiting for the reset");
                                    continue;
                                }
                                Cause::Unauthenticated
                                    if error.challenge.as_deref() == Some("use_dpop_nonce")
                                        && !nonce_retried =>
                                {
                                    nonce_retried = true;
                                    if let Some(nonce) = header_text(&headers, "dpop-nonce") {
                                        self.auth.set_nonce(&nonce).await;
                                    }
                                    continue;
                                }
                                Cause::Unauthenticated
                                    if !renewed
                                        && !matches!(
                                            self.credentials(),
                                            Credentials::ApiToken(_)
                                        ) =>
                                {
                                    renewed = true;
                                    self.auth.invalidate().await;
                                    continue;
                                }
                                Cause::Transient => error.into(),
                                _ => return Err(error.into()),
                            }
                        }
                    }
                }
            };
            failures += 1;
            if failures >= self.retry.attempts {
                return Err(self.gave_up(&method, url, sent, failure));
            }
            let wait = self.retry.backoff(failures);
            tracing::debug!(url, error = %failure, wait_ms = wait.as_millis() as u64, "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    fn gave_up(&self, method: &Method, url: &str, attempts: u32, last: ClientError) -> ClientError {
        ClientError::GaveUp {
            method: method.to_string(),
            url: url.to_string(),
            attempts,
            last: Box::new(last),
        }
    }
}

fn parse_body(bytes: &[u8]) -> Result<Value, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|e| format!("{e} (the body may have been cut short)"))
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The `error` of a `WWW-Authenticate` challenge.
fn challenge(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let start = v.find("error=\"")? + "error=\"".len();
            let end = start + v[start..].find('"')?;
            Some(v[start..end].to_string())
        })
}

/// A reqwest error with its causes, without the URL (the caller names it).
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "could not connect".to_string()
    } else {
        "the connection failed".to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        let policy = RetryPolicy::default();
        for attempt in 1..=10 {
            let wait = policy.backoff(attempt);
            let exp = (policy.base_backoff * (1 << (attempt - 1))).min(policy.max_backoff);
            assert!(wait >= exp / 2 && wait <= exp, "{attempt}: {wait:?}");
        }
    }

    #[test]
    fn challenges_and_empty_bodies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "www-authenticate",
            HeaderValue::from_static(
                "DPoP algs=\"ES256\", error=\"use_dpop_nonce\", error_description=\"x\"",
            ),
        );
        assert_eq!(challenge(&headers).as_deref(), Some("use_dpop_nonce"));
        assert_eq!(parse_body(b"").unwrap(), Value::Null);
        assert!(parse_body(b"[{\"id\":").unwrap_err().contains("cut short"));
    }
}
