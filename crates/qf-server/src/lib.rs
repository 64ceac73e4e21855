//! The Quantforge service: the `/v1` HTTP API (auth, tenancy, rate limits, problems,
//! OpenAPI, metrics), the job workers that run backtests and sweeps, and the catalog of
//! market data and artifacts on the object store.
//!
//! It is the top of the crate graph: it depends on the engine, the sandbox, the data and
//! the store, and nothing depends on it but the `qf` binary. Handlers are thin: they parse
//! input into domain values, check the caller's scope, and call the store or the catalog.

pub mod admin;
pub mod app;
pub mod auth;
pub mod catalog;
pub mod config;
pub mod connections;
pub mod demo;
pub mod docs_page;
pub mod execute;
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
pub mod worker;
