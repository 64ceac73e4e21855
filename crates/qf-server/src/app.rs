//! The application: shared state, the router with its layers, and serving it.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use object_store::ObjectStore;
use tokio::sync::Notify;

use qf_sandbox::pool::Pool;
use qf_store::Store;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimiter;
use crate::{auth, metrics, rate_limit, request_id, routes};

/// Everything a handler may use. Cheap to clone (all shared).
#[derive(Clone)]
pub struct AppState {
    /// The SQL store.
    pub store: Store,
    /// Market data and run artifacts.
    pub objects: Arc<dyn ObjectStore>,
    /// The effective configuration.
    pub config: Arc<Config>,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Per-credential request limiter.
    pub limiter: RateLimiter,
    /// Sandbox workers for tenant code: validation at upload time, and in-process job runs.
    pub sandbox: Arc<Pool>,
    /// Woken whenever a job is queued, so that idle in-process workers start it at once
    /// instead of at their next poll.
    pub job_queued: Arc<Notify>,
    /// When this process started.
    pub started: Instant,
}

/// The whole HTTP API with its layers, outermost last: request id and logging, metrics,
/// authentication, rate limiting, body limits.
pub fn router(state: AppState) -> Router {
    let json_limit = usize::try_from(state.config.limits.json_max_bytes).unwrap_or(usize::MAX);
    routes::router()
        .layer(DefaultBodyLimit::max(json_limit))
        .layer(middleware::from_fn_with_state(
            state.limiter.clone(),
            rate_limit::middleware,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::middleware,
        ))
        .layer(middleware::from_fn(crate::problem::problem_fallbacks))
        .layer(middleware::from_fn(request_id::middleware))
        .with_state(state)
}
