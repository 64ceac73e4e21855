//! Prometheus metrics, served at `/metrics`.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `http_requests_total` | counter | `method`, `route`, `status` |
//! | `http_request_duration_seconds` | histogram | `method`, `route` |
//! | `http_requests_in_flight` | gauge | |
//! | `qf_jobs` | gauge | `state` (set from queue counts by [`Metrics::set_jobs_by_state`]) |
//! | `qf_queue_depth` | gauge | (jobs in state `queued`; workers scale on it) |
//! | `qf_job_duration_seconds` | histogram | `kind`, `outcome` |
//! | `qf_jobs_submitted_total` | counter | |
//! | `qf_jobs_started_total` | counter | |
//! | `qf_jobs_completed_total` | counter | `kind`, `outcome` |
//!
//! `route` is the matched route template (`/v1/runs/{id}`), never the raw path, and `method`
//! is one of the standard methods or `OTHER`, so the number of series stays bounded whatever
//! clients send. The exposition is OpenMetrics text (what `prometheus-client` writes, and
//! what Prometheus asks for first).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use qf_jobs::worker::JobMetrics;

use crate::request_id::UNMATCHED;

/// The media type of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    kind: String,
    outcome: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The service's metrics; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: HistogramFamily<RouteLabels>,
    in_flight: Gauge,
    jobs: Family<StateLabels, Gauge>,
    /// Job states reported so far, so that one missing from a later count reads 0 rather
    /// than keeping its last value.
    job_states: Mutex<BTreeSet<String>>,
    queue_depth: Gauge,
    job_duration: HistogramFamily<OutcomeLabels>,
    jobs_submitted: Counter,
    jobs_started: Counter,
    jobs_completed: Family<OutcomeLabels, Counter>,
}

/// 0.5 ms to ~16 s: the authenticated-read budget is 2 ms, uploads take seconds.
fn request_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// 50 ms to ~30 min: from a small backtest to a long optimisation.
fn job_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.05, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered (at zero).
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests served", requests.clone());
        let request_duration: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(request_buckets as fn() -> Histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time from receiving a request to sending its response head",
            Unit::Seconds,
            request_duration.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "http_requests_in_flight",
            "HTTP requests being served",
            in_flight.clone(),
        );
        let jobs = Family::<StateLabels, Gauge>::default();
        registry.register("qf_jobs", "Jobs in the queue by state", jobs.clone());
        let queue_depth = Gauge::default();
        registry.register(
            "qf_queue_depth",
            "Jobs waiting to be claimed by a worker",
            queue_depth.clone(),
        );
        let job_duration: HistogramFamily<OutcomeLabels> =
            Family::new_with_constructor(job_buckets as fn() -> Histogram);
        registry.register_with_unit(
            "qf_job_duration",
            "Time from a job's claim to its end",
            Unit::Seconds,
            job_duration.clone(),
        );
        let jobs_submitted = Counter::default();
        registry.register(
            "qf_jobs_submitted",
            "Jobs put on the queue",
            jobs_submitted.clone(),
        );
        let jobs_started = Counter::default();
        registry.register(
            "qf_jobs_started",
            "Jobs claimed by a worker",
            jobs_started.clone(),
        );
        let jobs_completed = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "qf_jobs_completed",
            "Jobs that ended, by outcome",
            jobs_completed.clone(),
        );
        Metrics(Arc::new(Inner {
            registry,
            requests,
            request_duration,
            in_flight,
            jobs,
            job_states: Mutex::new(BTreeSet::new()),
            queue_depth,
            job_duration,
            jobs_submitted,
            jobs_started,
            jobs_completed,
        }))
    }

    /// Counts one served request and its latency.
    pub fn record_request(&self, method: &Method, route: &str, status: u16, elapsed: Duration) {
        let method = method_label(method);
        self.0
            .requests
            .get_or_create(&RequestLabels {
                method,
                route: route.to_string(),
                status,
            })
            .inc();
        self.0
            .request_duration
            .get_or_create(&RouteLabels {
                method,
                route: route.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Sets `qf_jobs{state}` from the queue's counts, and `qf_queue_depth` to the count of
    /// `queued`. A state reported before but missing now is set to 0.
    pub fn set_jobs_by_state(&self, counts: &[(String, i64)]) {
        let queued = counts
            .iter()
            .find(|(s, _)| s == "queued")
            .map_or(0, |(_, n)| *n);
        self.0.queue_depth.set(queued);
        // A poisoned lock only means another thread panicked mid-update of this set of
        // names; the names are still good.
        let mut seen = self.0.job_states.lock().unwrap_or_else(|e| e.into_inner());
        for state in seen.iter() {
            if !counts.iter().any(|(s, _)| s == state) {
                self.0
                    .jobs
                    .get_or_create(&StateLabels {
                        state: state.clone(),
                    })
                    .set(0);
            }
        }
        for (state, count) in counts {
            self.0
                .jobs
                .get_or_create(&StateLabels {
                    state: state.clone(),
                })
                .set(*count);
            seen.insert(state.clone());
        }
    }

    /// Sets `qf_queue_depth` (when "waiting" means more than state `queued`).
    pub fn set_queue_depth(&self, depth: i64) {
        self.0.queue_depth.set(depth);
    }

    /// Counts a job put on the queue.
    pub fn job_submitted(&self) {
        self.0.jobs_submitted.inc();
    }

    /// The exposition text (serve it as [`CONTENT_TYPE`]). Set the job gauges first.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail, and the label types here always encode; should
        // that change, a partial exposition with the error logged beats no metrics at all.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.0.registry) {
            tracing::error!(error = %e, "encoding metrics");
        }
        out
    }

    /// The exposition as a `/metrics` response. Set the job gauges first.
    pub fn response(&self) -> Response {
        (
            [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
            self.render(),
        )
            .into_response()
    }
}

/// What the workers report: `qf_jobs_started_total`, and `qf_jobs_completed_total` with
/// `qf_job_duration_seconds` by `kind` and `outcome`.
impl JobMetrics for Metrics {
    fn job_started(&self) {
        self.0.jobs_started.inc();
    }

    fn job_finished(&self, kind: &str, outcome: &str, seconds: f64) {
        let labels = OutcomeLabels {
            kind: kind.into(),
            outcome: outcome.into(),
        };
        self.0.jobs_completed.get_or_create(&labels).inc();
        self.0.job_duration.get_or_create(&labels).observe(seconds);
    }
}

/// Standard methods by name; anything else is `OTHER`, so a client cannot mint series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Decrements the in-flight gauge even when the request future is dropped (client gone).
struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Middleware recording request metrics:
/// `.layer(axum::middleware::from_fn_with_state(metrics, metrics::middleware))`. Add it with
/// `Router::layer` so the matched route is known.
pub async fn middleware(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, |m| m.as_str())
        .to_string();
    metrics.0.in_flight.inc();
    let _in_flight = InFlight(metrics.0.in_flight.clone());
    let response = next.run(req).await;
    metrics.record_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_its_labels() {
        let m = Metrics::new();
        m.record_request(&Method::GET, "/v1/runs/{id}", 200, Duration::from_millis(1));
        m.record_request(
            &Method::from_bytes(b"BREW").unwrap(),
            UNMATCHED,
            405,
            Duration::ZERO,
        );
        m.set_jobs_by_state(&[("queued".into(), 3), ("running".into(), 1)]);
        m.set_jobs_by_state(&[("queued".into(), 2)]);
        m.job_submitted();
        m.job_started();
        m.job_finished("backtest", "succeeded", 2.0);
        let text = m.render();
        for line in [
            r#"http_requests_total{method="GET",route="/v1/runs/{id}",status="200"} 1"#,
            r#"http_requests_total{method="OTHER",route="<unmatched>",status="405"} 1"#,
            r#"http_request_duration_seconds_count{method="GET",route="/v1/runs/{id}"} 1"#,
            r#"qf_jobs{state="queued"} 2"#,
            r#"qf_jobs{state="running"} 0"#,
            "qf_queue_depth 2",
            "qf_jobs_submitted_total 1",
            "qf_jobs_started_total 1",
            r#"qf_jobs_completed_total{kind="backtest",outcome="succeeded"} 1"#,
            r#"qf_job_duration_seconds_sum{kind="backtest",outcome="succeeded"} 2.0"#,
            "http_requests_in_flight 0",
            "# EOF",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
