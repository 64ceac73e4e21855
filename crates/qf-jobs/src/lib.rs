//! Quantforge's job execution: what a queued backtest or sweep needs to run, shared by the
//! workers of `qf serve` / `qf worker`, the `qf backtest` / `qf sweep` commands and (later)
//! the live runtime.
//!
//! - [`catalog`]: tenants' market data as Parquet on the object store (ingest, load,
//!   delete) and the files each run produced (put, get), plus a reachability ping.
//! - [`execute`]: strategy code compiled and checked ([`execute::compile_strategy`]),
//!   requests checked against it ([`execute::check_backtest`], [`execute::check_sweep`]),
//!   and the synchronous runs that give the same results as the command line
//!   ([`execute::run_backtest`], [`execute::run_sweep`]), with the artifacts they store
//!   and the failures ([`execute::ExecError`]) a failed job records.
//! - [`worker`]: the queue workers: claim a job, keep its lease alive, run it, store its
//!   artifacts and record how it ended. They get what they need in a
//!   [`worker::WorkerContext`] and report to metrics through [`worker::JobMetrics`].
//!
//! What this crate is not: an HTTP layer. It knows no routes, status codes, problem
//! responses, authentication or configuration files; the service (`qf-server`) maps
//! requests onto it and its errors onto responses, and owns the Prometheus registry
//! behind [`worker::JobMetrics`]. The stored failure of a run is an RFC 9457-shaped
//! JSON object because that is what a run's `error` is, so the problem-type base URI
//! lives here ([`execute::PROBLEM_TYPE_BASE`]) and the service reuses it.
//!
//! With the `openapi` feature the request types also describe themselves for the
//! service's OpenAPI document.

pub mod catalog;
pub mod execute;
pub mod worker;
