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
        tracing::info!(status, latency_ms, "request finished");
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
