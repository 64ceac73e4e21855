//! The application: shared state, the router with its layers, and serving it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware;
use object_store::ObjectStore;
use tokio::sync::Notify;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::RequestBodyTimeoutLayer;

use qf_sandbox::pool::Pool;
use qf_store::Store;

use crate::config::{Config, HttpConfig};
use crate::metrics::Metrics;
use crate::rate_limit::RateLimiter;
use crate::{auth, metrics, rate_limit, request_id, response_headers, routes};

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

/// The whole HTTP API with its layers, outermost last: request id and logging, CORS (when
/// configured), response headers, problems for errors made below the handlers, metrics,
/// authentication, rate limiting, body limits and the body idle timeout.
pub fn router(state: AppState) -> Router {
    let json_limit = usize::try_from(state.config.limits.json_max_bytes).unwrap_or(usize::MAX);
    let body_timeout = Duration::from_secs(state.config.http.body_timeout_secs);
    let cors = cors_layer(&state.config.http);
    let router = routes::router()
        .layer(RequestBodyTimeoutLayer::new(body_timeout))
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
        .layer(middleware::from_fn(response_headers::middleware));
    // CORS answers preflight requests itself, so it sits outside authentication.
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router
        .layer(middleware::from_fn(request_id::middleware))
        .with_state(state)
}

/// CORS for browser clients on other origins, or `None` when `http.cors_origins` is empty.
/// Credentials are bearer tokens in `Authorization`, never cookies, so no
/// `Access-Control-Allow-Credentials`.
fn cors_layer(http: &HttpConfig) -> Option<CorsLayer> {
    let origins = http.cors_origin_list();
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.contains(&"*") {
        AllowOrigin::any()
    } else {
        // Checked by the configuration: every entry is a valid origin, hence a header value.
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    let name = HeaderName::from_static;
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PATCH,
                Method::PUT,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                name("idempotency-key"),
                request_id::HEADER,
            ])
            .expose_headers([
                header::LOCATION,
                header::RETRY_AFTER,
                request_id::HEADER,
                rate_limit::LIMIT,
                rate_limit::REMAINING,
                rate_limit::RESET,
                rate_limit::POLICY,
                name("idempotent-replayed"),
            ])
            .max_age(Duration::from_secs(600)),
    )
}
