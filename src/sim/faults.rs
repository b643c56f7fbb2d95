//! Fault injection, deterministic for a seed: a share of API requests (`--fault-rate`) answer
//! with one of the chosen faults (500, 502, 503, 429, a connection dropped before the body, a
//! body cut in half), and every request can be delayed (`--latency-ms`). The token endpoint is
//! spared, so a client can always authenticate.

use std::sync::Mutex;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::OktaError;
use super::seeded::Seeded;

/// One kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Internal,
    BadGateway,
    Unavailable,
    RateLimited,
    Reset,
    Truncated,
}

impl Fault {
    /// Parses a `--faults` item: 500, 502, 503, 429, reset, truncate.
    pub fn parse(text: &str) -> Option<Fault> {
        Some(match text.trim() {
            "500" => Fault::Internal,
            "502" => Fault::BadGateway,
            "503" => Fault::Unavailable,
            "429" => Fault::RateLimited,
            "reset" => Fault::Reset,
            "truncate" => Fault::Truncated,
            _ => return None,
        })
    }
}

/// The fault settings and the seeded sequence that decides each request.
#[derive(Debug)]
pub struct Faults {
    rate: f64,
    kinds: Vec<Fault>,
    pub latency: Duration,
    sequence: Mutex<Seeded>,
}

impl Faults {
    pub fn new(rate: f64, kinds: Vec<Fault>, latency: Duration, seed: u64) -> Self {
        Faults {
            rate,
            kinds,
            latency,
            sequence: Mutex::new(Seeded::new(seed)),
        }
    }

    pub fn none() -> Self {
        Faults::new(0.0, Vec::new(), Duration::ZERO, 0)
    }

    fn next(&self) -> u64 {
        self.sequence
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .next_u64()
    }

    /// The fault for the next request, if one is drawn.
    pub fn draw(&self) -> Option<Fault> {
        if self.kinds.is_empty() || self.rate <= 0.0 {
            return None;
        }
        let roll = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        if roll >= self.rate {
            return None;
        }
        let pick = self.next() as usize % self.kinds.len();
        Some(self.kinds[pick])
    }
}

/// True when the fault replaces the request (it is not executed); a truncated body is cut from
/// the real answer.
pub fn replaces_request(fault: Fault) -> bool {
    fault != Fault::Truncated
}

/// The response of a fault; `answer` is the response the request got (a truncated body cuts it).
pub async fn respond(fault: Fault, answer: Response) -> Response {
    match fault {
        Fault::Internal => OktaError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "E0000009",
            "Internal Server Error",
        )
        .into_response(),
        Fault::BadGateway => (StatusCode::BAD_GATEWAY, "Bad Gateway").into_response(),
        Fault::Unavailable => OktaError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "E0000010",
            "Service is in read only mode",
        )
        .into_response(),
        Fault::RateLimited => {
            let mut response = OktaError::rate_limited().into_response();
            let reset = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() + 1);
            response
                .headers_mut()
                .insert("x-rate-limit-reset", HeaderValue::from(reset));
            response
        }
        Fault::Reset => broken(StatusCode::OK, Bytes::new()),
        Fault::Truncated => {
            let status = answer.status();
            let (_, body) = answer.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            broken(status, bytes.slice(..bytes.len() / 2))
        }
    }
}

/// A response whose body fails after `prefix`: the client sees the connection drop.
fn broken(status: StatusCode, prefix: Bytes) -> Response {
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(prefix),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected fault",
        )),
    ];
    let mut response = Response::new(Body::from_stream(futures_util::stream::iter(chunks)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_faults() {
        let draws = |seed| {
            let faults = Faults::new(
                0.5,
                vec![Fault::Internal, Fault::Reset],
                Duration::ZERO,
                seed,
            );
            (0..50).map(|_| faults.draw()).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));
        let hits = draws(7).iter().filter(|d| d.is_some()).count();
        assert!((10..=40).contains(&hits), "about half of 50: {hits}");
        assert!(Faults::none().draw().is_none());
    }
}
