//! A request id on every request, every log line inside it, and every response.
//!
//! [`middleware`] takes the caller's `X-Request-Id` when it is 1–128 characters of
//! `[A-Za-z0-9._:-]` (so a proxy's or client's id carries through), else makes a UUID v7;
//! puts it in the request extensions as [`RequestId`]; runs the rest of the stack inside a
//! `request{request_id, method, route}` span; echoes the id in the response's
//! `X-Request-Id`; and logs one `info` line per request with `status` and `latency_ms`.
//!
//! It never logs headers, the query string or the raw path: they may carry credentials or
//! tenant data. `route` is the matched route template (`/v1/strategies/{id}`), or
//! `<unmatched>`.
//!
//! Add it with `Router::layer` (not around the router as a whole) so that the matched route
//! is known, and as the outermost layer so that everything else logs inside its span:
//! `.layer(axum::middleware::from_fn(request_id::middleware))`.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The header carrying the id, in both directions.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The route label for requests no route matched (bounded, unlike the raw path).
pub const UNMATCHED: &str = "<unmatched>";

/// This request's id, in the request extensions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(pub String);

impl RequestId {
    /// The caller's id if it is acceptable, else a new UUID v7.
    pub fn from_header(value: Option<&HeaderValue>) -> RequestId {
        value
            .and_then(|v| v.to_str().ok())
            .filter(|v| is_acceptable(v))
            .map(|v| RequestId(v.to_string()))
            .unwrap_or_else(RequestId::generate)
    }

    /// A new, time-ordered id.
    pub fn generate() -> RequestId {
        RequestId(uuid::Uuid::now_v7().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// 1–128 characters of `[A-Za-z0-9._:-]`: enough for UUIDs, trace ids and proxy ids, and
/// nothing that could forge a log line or a header.
fn is_acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// How often a rate-limited request is logged at most: the first 429 of each interval is
/// logged, with the number of 429s since the previous line.
pub const REJECTED_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

static REJECTED: Sampler = Sampler::new(REJECTED_INTERVAL);

/// Counts events and lets one through per interval, carrying the count since the last one.
pub struct Sampler {
    interval: std::time::Duration,
    state: std::sync::Mutex<Option<(Instant, u64)>>,
}

impl Sampler {
    /// A sampler letting one event through per `interval`.
    pub const fn new(interval: std::time::Duration) -> Sampler {
        Sampler {
            interval,
            state: std::sync::Mutex::new(None),
        }
    }

    /// Counts an event at `now`. `Some(n)` when it is to be logged, `n` being the events
    /// counted since the last logged one, this one included.
    pub fn record(&self, now: Instant) -> Option<u64> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &mut *state {
            Some((last, count)) if now.duration_since(*last) < self.interval => {
                *count += 1;
                None
            }
            slot => {
                let n = slot.map_or(1, |(_, count)| count + 1);
                *slot = Some((now, 0));
                Some(n)
            }
        }
    }
}

/// The route template a request matched, or [`UNMATCHED`].
pub fn route_of(req: &Request) -> String {
    req.extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED.to_string(), |m| m.as_str().to_string())
}

/// The middleware; see the module docs.
pub async fn middleware(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = RequestId::from_header(req.headers().get(&HEADER));
    let route = route_of(&req);
    let method = req.method().clone();
    let span = tracing::info_span!(
        "request",
        request_id = %id.0,
        method = %method,
        route = %route,
    );
    // Only acceptable ids or UUIDs get here, both valid header values.
    let header = HeaderValue::from_str(&id.0).ok();
    req.extensions_mut().insert(id);

    let mut response = next.run(req).instrument(span.clone()).await;

    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = response.status().as_u16();
    span.in_scope(|| {
        if status == 429 {
            // A flood of rejected requests must not become a flood of log lines: one line
            // per interval says how many there were; the metrics count every one.
            match REJECTED.record(Instant::now()) {
                Some(rejected) => tracing::info!(
                    status,
                    latency_ms,
                    rejected,
                    interval_secs = REJECTED_INTERVAL.as_secs(),
                    "requests rate limited (one line per interval)"
                ),
                None => tracing::debug!(status, latency_ms, "request finished"),
            }
        } else {
            tracing::info!(status, latency_ms, "request finished");
        }
    });
    if let Some(header) = header {
        response.headers_mut().insert(HEADER, header);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampler_lets_one_through_per_interval_with_the_count() {
        let s = Sampler::new(std::time::Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(s.record(t0), Some(1));
        for i in 1..=1000 {
            assert_eq!(s.record(t0 + std::time::Duration::from_millis(i)), None);
        }
        // The next line carries the 1000 held back and itself.
        assert_eq!(
            s.record(t0 + std::time::Duration::from_secs(10)),
            Some(1001)
        );
        assert_eq!(s.record(t0 + std::time::Duration::from_secs(11)), None);
    }

    #[test]
    fn accepts_reasonable_ids_and_replaces_others() {
        let ok = HeaderValue::from_static("req-1.2_3:abc");
        assert_eq!(RequestId::from_header(Some(&ok)).0, "req-1.2_3:abc");
        for bad in [
            "",
            "has space",
            "new\u{a0}line",
            "semi;colon",
            &"x".repeat(129),
        ] {
            let Ok(value) = HeaderValue::from_str(bad) else {
                continue;
            };
            let id = RequestId::from_header(Some(&value));
            assert_ne!(id.0, bad);
            assert_eq!(uuid::Uuid::parse_str(&id.0).unwrap().get_version_num(), 7);
        }
        assert_eq!(RequestId::from_header(None).0.len(), 36);
        assert!(is_acceptable(&"x".repeat(128)));
    }
}
