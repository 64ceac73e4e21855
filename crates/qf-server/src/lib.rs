//! The Quantforge service: the `/v1` HTTP adapter (routes, auth, tenancy, rate limits,
//! problems, OpenAPI, metrics, the dashboard) and starting it all (`qf serve`,
//! `qf worker`).
//!
//! It is the top of the crate graph: it depends on the store, the data, the sandbox and
//! `qf-jobs` (the catalog, job execution and the workers), and nothing depends on it but the
//! `qf` binary. Handlers are thin: they parse input into domain values, check the caller's
//! scope, and call the store or `qf-jobs`; the answer, or the error mapped to a problem,
//! goes back. What is not mapping a request belongs in a crate below: the workers run
//! there too, and this crate only hands them their context and counts what they report
//! ([`metrics::Metrics`] implements `qf_jobs::worker::JobMetrics`).

pub mod admin;
pub mod app;
pub mod auth;
pub mod config;
pub mod connections;
pub mod demo;
pub mod docs_page;
pub mod idempotency;
pub mod logging;
pub mod metrics;
pub mod negotiate;
pub mod openapi;
pub mod problem;
pub mod rate_limit;
pub mod request_id;
pub mod response_headers;
pub mod routes;
pub mod serve;
pub mod uploads;
