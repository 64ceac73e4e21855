//! The Python tier: strategies in the subset of Python that the `monty` interpreter runs.
//!
//! A strategy file declares, as literals, its parameters (`PARAMS`), the indicators it reads
//! (`INDICATORS`, computed natively by the engine) and optionally its states (`STATES`), and
//! defines `on_bar()`, which the engine calls on every bar. Per-bar values are plain names
//! set before each call (`close`, `position`, each indicator and `prev_<indicator>`, …);
//! `on_bar` returns `None` or a dict of actions, and may keep its own state in `mem`.
//! An optional `execute(signal)` receives what `on_bar` returned and returns the actions:
//! the execution rule a tenant brings from another platform.
//!
//! [`check`] reads all of that without running the code. Running happens only in the
//! sandbox worker ([`crate::worker`]), through [`run`].

pub mod check;
mod literal;
pub mod run;

pub use check::{Input, PythonProgram, check};
