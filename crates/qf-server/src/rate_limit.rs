//! Per-principal request rate limiting, in memory.
//!
//! Each principal has a token bucket of `burst` requests refilled at `requests_per_second`,
//! kept as GCRA (one "theoretical arrival time" per key, no timers). The principal is the
//! [`RateKey`] the auth layer put in the request extensions (an API key, a user); a request
//! without one is keyed by the client address from `ConnectInfo<SocketAddr>` (an IPv6
//! client by its /64, since one host usually has the whole prefix), or shares one bucket
//! when the server was not started with connect info.
//!
//! Every response carries the headers of draft-ietf-httpapi-ratelimit-headers-06 (the
//! separate-field form), for a quota of `requests_per_second` per one-second window:
//!
//! - `RateLimit-Limit`: the quota, i.e. the configured sustained rate per second;
//! - `RateLimit-Policy`: `{rate};w=1;burst={burst}` — the quota, its window, and the burst
//!   the token bucket allows on top after a quiet spell (an extension parameter);
//! - `RateLimit-Remaining`: requests that may be made now, at most the quota (the bucket may
//!   hold more, up to the burst: a client that paces by these headers stays within limits);
//! - `RateLimit-Reset`: seconds until the bucket is full again.
//!
//! Over the limit the response is `429` [`Problem::rate_limited`] with `Retry-After` in
//! whole seconds (at least 1).
//!
//! Why not `governor`: the headers need the remaining capacity and the reset time on every
//! response, which governor exposes only through its state-snapshot middleware; idle keys
//! must be dropped to bound memory, which governor leaves to a periodic `retain_recent`
//! that someone must schedule; and GCRA itself is the twenty lines of [`RateLimiter::check_at`].
//! Here a full bucket *is* an absent key, so eviction is just deleting entries whose time
//! has passed, done when a shard fills.
//!
//! Cost per request: one hash, one short uncontended mutex section on one of 16 shards, no
//! allocation for a key already present. State is per process; several replicas each allow
//! the full rate (shared limits belong in Redis, per the design).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::RateLimitConfig;
use crate::problem::Problem;

/// `RateLimit-Limit`.
pub const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
/// `RateLimit-Remaining`.
pub const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
/// `RateLimit-Reset`.
pub const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
/// `RateLimit-Policy`.
pub const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// Who a request counts against; put in the request extensions by the auth layer before
/// [`middleware`] runs. Choose a prefix per kind (`key:…`, `user:…`) so that kinds never
/// collide, and never the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RateKey(pub String);

const SHARDS: usize = 16;
const NANOS: u64 = 1_000_000_000;

/// The limiter; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct RateLimiter(Arc<Inner>);

struct Inner {
    /// Nanoseconds between requests at the sustained rate (GCRA's emission interval).
    interval: u64,
    /// Requests per second at the sustained rate: the quota the headers report.
    rate: u32,
    /// `RateLimit-Policy`, made once.
    policy: HeaderValue,
    /// `burst * interval`: how far ahead of now a key's arrival time may run.
    capacity: u64,
    max_keys_per_shard: usize,
    epoch: Instant,
    hasher: RandomState,
    /// Key → theoretical arrival time, in nanoseconds since `epoch`. A key whose time has
    /// passed has a full bucket, exactly as if absent.
    shards: Box<[Shard]>,
}

type Shard = Mutex<HashMap<Box<str>, u64>>;

/// The outcome of one check, and what the headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The quota: requests per one-second window at the sustained rate.
    pub limit: u32,
    /// Requests that may be made now, after this one (up to the burst; the header reports
    /// at most `limit`).
    pub remaining: u32,
    /// Whole seconds until the bucket is full.
    pub reset_secs: u64,
    /// Whole seconds (at least 1) until a request would be allowed; 0 when allowed.
    pub retry_after_secs: u64,
}

impl Decision {
    /// Sets the `RateLimit-*` headers.
    pub fn apply(&self, headers: &mut HeaderMap) {
        headers.insert(LIMIT, HeaderValue::from(self.limit));
        headers.insert(REMAINING, HeaderValue::from(self.remaining.min(self.limit)));
        headers.insert(RESET, HeaderValue::from(self.reset_secs));
    }
}

fn ceil_secs(nanos: u64) -> u64 {
    nanos.div_ceil(NANOS)
}

impl RateLimiter {
    /// Keys kept at most, by default: about 100 bytes each.
    pub const DEFAULT_MAX_KEYS: usize = 100_000;

    /// A limiter allowing `requests_per_second` sustained and `burst` at once (both at
    /// least 1; smaller values are raised to 1), for at most [`Self::DEFAULT_MAX_KEYS`]
    /// principals at a time.
    pub fn new(requests_per_second: u32, burst: u32) -> RateLimiter {
        RateLimiter::with_max_keys(requests_per_second, burst, Self::DEFAULT_MAX_KEYS)
    }

    /// [`RateLimiter::new`] from the `[rate_limit]` configuration.
    pub fn from_config(config: &RateLimitConfig) -> RateLimiter {
        RateLimiter::new(config.requests_per_second, config.burst)
    }

    /// [`RateLimiter::new`] keeping about `max_keys` principals. Past that, keys with a full
    /// bucket are dropped first, then the half closest to full (which forgets a little of
    /// their use: the limit errs towards letting requests through, never towards refusing
    /// a principal it has no room to remember).
    pub fn with_max_keys(requests_per_second: u32, burst: u32, max_keys: usize) -> RateLimiter {
        let rate = requests_per_second.max(1);
        RateLimiter::with_interval(NANOS / u64::from(rate), rate, burst, max_keys)
    }

    /// One request per `interval` nanoseconds sustained.
    fn with_interval(interval: u64, rate: u32, burst: u32, max_keys: usize) -> RateLimiter {
        let interval = interval.max(1);
        let burst = burst.max(1);
        let policy = HeaderValue::from_str(&format!("{rate};w=1;burst={burst}"))
            .unwrap_or_else(|_| HeaderValue::from_static("1;w=1"));
        let shards = (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect();
        RateLimiter(Arc::new(Inner {
            interval,
            rate,
            policy,
            capacity: interval * u64::from(burst),
            max_keys_per_shard: max_keys.div_ceil(SHARDS).max(1),
            epoch: Instant::now(),
            hasher: RandomState::new(),
            shards,
        }))
    }

    /// Counts a request by `key` now.
    pub fn check(&self, key: &str) -> Decision {
        let now = u64::try_from(self.0.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX / 2);
        self.check_at(key, now)
    }

    /// Counts a request by `key` at `now` nanoseconds after this limiter was made.
    pub fn check_at(&self, key: &str, now: u64) -> Decision {
        let inner = &*self.0;
        let shard = &inner.shards[(inner.hasher.hash_one(key) as usize) % SHARDS];
        // A poisoned shard means a panic mid-update of plain integers; the map is still
        // consistent, so keep using it rather than failing every request.
        let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
        let tat = map.get(key).copied().unwrap_or(now).max(now);
        let next = tat + inner.interval;
        let ahead = next - now;
        if ahead > inner.capacity {
            return Decision {
                allowed: false,
                limit: inner.rate,
                remaining: 0,
                reset_secs: ceil_secs(tat - now),
                retry_after_secs: ceil_secs(ahead - inner.capacity).max(1),
            };
        }
        match map.get_mut(key) {
            Some(slot) => *slot = next,
            None => {
                if map.len() >= inner.max_keys_per_shard {
                    evict(&mut map, now, inner.max_keys_per_shard);
                }
                map.insert(key.into(), next);
            }
        }
        Decision {
            allowed: true,
            limit: inner.rate,
            remaining: ((inner.capacity - ahead) / inner.interval) as u32,
            reset_secs: ceil_secs(ahead),
            retry_after_secs: 0,
        }
    }

    /// Principals currently remembered.
    pub fn len(&self) -> usize {
        self.0
            .shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// Whether no principal is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Makes room in a full shard: drop every full bucket; if that is not enough (a flood of
/// distinct keys), drop at least the half of the rest closest to full.
fn evict(map: &mut HashMap<Box<str>, u64>, now: u64, max: usize) {
    map.retain(|_, tat| *tat > now);
    if map.len() < max {
        return;
    }
    let mut times: Vec<u64> = map.values().copied().collect();
    let mid = times.len() / 2;
    let (_, median, _) = times.select_nth_unstable(mid);
    let median = *median;
    map.retain(|_, tat| *tat > median);
}

/// The key for a request: its [`RateKey`], else its client address, else a shared bucket.
pub fn key_for(req: &Request) -> String {
    if let Some(key) = req.extensions().get::<RateKey>() {
        return key.0.clone();
    }
    match req.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => ip_key(addr.ip()),
        None => "anonymous".to_string(),
    }
}

fn ip_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let s = v6.segments();
                format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The middleware:
/// `.layer(axum::middleware::from_fn_with_state(limiter, rate_limit::middleware))`, inside
/// (added before) the auth layer so that [`RateKey`] is set when it runs.
pub async fn middleware(State(limiter): State<RateLimiter>, req: Request, next: Next) -> Response {
    let decision = match req.extensions().get::<RateKey>() {
        Some(key) => limiter.check(&key.0),
        None => limiter.check(&key_for(&req)),
    };
    let mut response = if decision.allowed {
        next.run(req).await
    } else {
        Problem::rate_limited(decision.retry_after_secs).into_response()
    };
    decision.apply(response.headers_mut());
    response
        .headers_mut()
        .insert(POLICY, limiter.0.policy.clone());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn allows_a_burst_then_the_sustained_rate() {
        let rl = RateLimiter::new(10, 3); // one request per 100 ms, 3 at once
        let at = |t| rl.check_at("k", t);
        let d = at(0);
        assert_eq!((d.allowed, d.remaining, d.reset_secs), (true, 2, 1));
        assert_eq!(at(0).remaining, 1);
        assert_eq!(at(0).remaining, 0);
        let d = at(0);
        assert!(!d.allowed);
        assert_eq!((d.remaining, d.retry_after_secs, d.reset_secs), (0, 1, 1));
        // 100 ms later one request is back, and only one.
        assert!(at(100 * MS).allowed);
        assert!(!at(100 * MS).allowed);
        // After a quiet second the whole burst is back.
        assert_eq!(at(1500 * MS).remaining, 2);
        // Keys are independent.
        assert_eq!(rl.check_at("other", 0).remaining, 2);
    }

    #[test]
    fn headers_report_the_rate_as_the_quota_and_the_burst_in_the_policy() {
        let rl = RateLimiter::new(100, 200);
        let d = rl.check_at("k", 0);
        assert_eq!((d.limit, d.remaining), (100, 199));
        let mut h = HeaderMap::new();
        d.apply(&mut h);
        assert_eq!(h[&LIMIT], "100");
        assert_eq!(h[&REMAINING], "100");
        assert_eq!(rl.0.policy, "100;w=1;burst=200");
    }

    #[test]
    fn retry_after_counts_whole_seconds_to_the_next_token() {
        let rl = RateLimiter::new(1, 1);
        assert!(rl.check_at("k", 0).allowed);
        let d = rl.check_at("k", 200 * MS);
        assert!(!d.allowed);
        assert_eq!(d.retry_after_secs, 1);
        // Sustained 1 per 10 s.
        let rl10 = RateLimiter::with_interval(10 * NANOS, 1, 1, 100);
        assert!(rl10.check_at("k", 0).allowed);
        assert_eq!(rl10.check_at("k", 2500 * MS).retry_after_secs, 8);
    }

    #[test]
    fn memory_stays_bounded_and_idle_keys_go_first() {
        let rl = RateLimiter::with_max_keys(1, 5, 640); // 40 keys per shard
        for i in 0..5000 {
            rl.check_at(&format!("k{i}"), 0);
        }
        assert!(rl.len() <= 640, "{}", rl.len());
        // Much later every old bucket is full; new keys push them out, not each other.
        for i in 0..100 {
            rl.check_at(&format!("new{i}"), 100 * NANOS);
        }
        for i in 0..100 {
            assert_eq!(rl.check_at(&format!("new{i}"), 100 * NANOS).remaining, 3);
        }
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        assert_eq!(ip_key(a), "ip:2001:db8:1:2::/64");
        assert_eq!(ip_key("::ffff:10.0.0.1".parse().unwrap()), "ip:10.0.0.1");
    }
}
