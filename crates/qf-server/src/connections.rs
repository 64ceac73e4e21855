//! Accepting and serving HTTP/1.1 connections, with the defences a public endpoint needs
//! against slow or greedy clients:
//!
//! - a client must send a request's headers within `http.header_timeout_secs`, and a
//!   kept-alive connection may sit idle between requests no longer than that (hyper's header
//!   timer runs from the moment the connection is ready for the next request);
//! - a request body may not go silent for more than `http.body_timeout_secs` (a layer in
//!   [`crate::app::router`]);
//! - one client address (an IPv6 client by its /64) may hold at most
//!   `http.max_connections_per_ip` connections; a connection over the cap gets a `503` with
//!   `Retry-After` and is closed at once;
//! - on a stop signal, listening stops, connections finish their current request, and
//!   whatever is still open after [`DRAIN`] is dropped.
//!
//! axum's own `serve` offers none of the timeouts, hence this loop over hyper's connection
//! builder; the router, its layers and `ConnectInfo` are the same.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use crate::config::HttpConfig;

/// How long open connections get to finish after a stop signal.
pub const DRAIN: Duration = Duration::from_secs(10);

/// What a connection over the per-address cap is told before it is closed.
const OVER_CAP: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\
Content-Type: application/problem+json\r\nConnection: close\r\nContent-Length: 141\r\n\r\n\
{\"type\":\"https://quantforge.dev/problems/too-many-connections\",\"title\":\"Too many connections\",\"status\":503,\"detail\":\"close some connections\"}";

/// Open connections per client address.
#[derive(Clone, Default)]
struct Counts(Arc<Mutex<HashMap<IpAddr, u32>>>);

/// One counted connection; uncounted when dropped.
struct Slot {
    counts: Counts,
    ip: IpAddr,
}

impl Counts {
    /// Counts a connection from `ip`, unless it already has `max` (0: no cap).
    fn take(&self, ip: IpAddr, max: u32) -> Option<Slot> {
        let ip = client_of(ip);
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let n = map.entry(ip).or_insert(0);
        if max > 0 && *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            counts: self.clone(),
            ip,
        })
    }

    #[cfg(test)]
    fn get(&self, ip: IpAddr) -> u32 {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&client_of(ip)).copied().unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.counts.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// The client an address stands for: itself for IPv4 (and IPv4-mapped IPv6), its /64 for
/// IPv6, since one host usually holds the whole prefix.
fn client_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Serves `router` on `listener` until `stop` resolves, then drains open connections for
/// at most [`DRAIN`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    http: &HttpConfig,
    stop: impl Future<Output = ()>,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(http.header_timeout_secs))
        .keep_alive(true);
    let counts = Counts::default();
    let graceful = GracefulShutdown::new();
    let max = http.max_connections_per_ip;
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let Some(slot) = counts.take(peer.ip(), max) else {
            tracing::debug!(peer = %peer.ip(), "connection over the per-address cap refused");
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = router
            .clone()
            .map_request(move |mut req: axum::http::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
        let conn =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Timeouts and resets end here; they are the client's business, not an error.
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended");
            }
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN) => {
            tracing::warn!("connections still open after the drain period were dropped");
        }
    }
}

/// Answers a connection over the cap with a 503 and closes it, without waiting long for a
/// client that does not read.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(OVER_CAP).await?;
        stream.shutdown().await
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_client_and_given_back() {
        let counts = Counts::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let one = counts.take(a, 2).unwrap();
        let two = counts.take(a, 2).unwrap();
        assert!(counts.take(a, 2).is_none());
        assert!(counts.take(b, 2).is_some());
        drop(one);
        assert_eq!(counts.get(a), 1);
        assert!(counts.take(a, 2).is_some());
        drop(two);
        // No cap.
        let many: Vec<_> = (0..100).filter_map(|_| counts.take(b, 0)).collect();
        assert_eq!(many.len(), 100);
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let counts = Counts::default();
        let x: IpAddr = "2001:db8:1:2::10".parse().unwrap();
        let y: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        let _slot = counts.take(x, 1).unwrap();
        assert!(counts.take(y, 1).is_none());
        let v4: IpAddr = "10.0.0.9".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.0.0.9".parse().unwrap();
        let _slot = counts.take(v4, 1).unwrap();
        assert!(counts.take(mapped, 1).is_none());
    }

    #[test]
    fn the_refusal_is_a_complete_http_response() {
        let text = std::str::from_utf8(OVER_CAP).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(body.len(), length);
        serde_json::from_str::<serde_json::Value>(body).unwrap();
    }
}
