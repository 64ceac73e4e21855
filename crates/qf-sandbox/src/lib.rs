//! Tenant strategies as code, run so that they can never reach the host.
//!
//! Two tiers plug into the engine's one [`qf_engine::Strategy`] trait:
//!
//! - [`rules`]: a state machine written in TOML or YAML whose guards are expressions over
//!   bars, indicators, position and parameters. Parsed, type-checked and compiled before the
//!   run; no loops, bounded work per bar; safe by construction, so it runs in process.
//! - [`python`]: a `.py` file in the Python subset of the `monty` interpreter. It runs in a
//!   separate worker process ([`worker`]) with rlimits, no network and a wall-clock kill.
//!
//! Indicators are declared by the strategy ([`indicator`]) and computed natively by the
//! engine; tenant code only decides. Every problem is reported as a [`diag::Diagnostic`]
//! with file, line and column.

// A failed run carries the tenant's whole context (message, file, line, source line, bar);
// it is the cold path, and boxing it would only add an allocation where it is built.
#![allow(clippy::result_large_err)]

pub mod diag;
pub mod indicator;
pub mod limits;
pub mod ops;
pub mod pool;
pub mod python;
pub mod rules;
mod shown;
pub mod tenant;
pub mod wire;
pub mod worker;
