//! The Quantforge backtest engine: a deterministic, event-driven loop over bars, a simulated
//! exchange, exact portfolio accounting, performance metrics and parallel parameter sweeps.
//!
//! The engine knows nothing of files, HTTP or SQL: it takes [`qf_core::BarSeries`] and a
//! [`Strategy`], and returns a [`BacktestResult`]. Everything monetary is exact
//! ([`qf_core::Money`]); only indicators and statistics use `f64`.
//!
//! Fills never look ahead: by default a market order decided on bar *t* fills at bar *t+1*'s
//! open. [`FillModel::describe`] states the exact rules and every result carries it.

mod backtest;
mod config;
mod context;
mod error;
mod exchange;
mod indicators;
mod metrics;
mod portfolio;
pub mod strategies;
mod strategy;
mod sweep;

pub use backtest::{BacktestResult, EquityPoint, run_backtest};
pub use config::{BacktestConfig, FeeModel, FillModel, FillTiming, Sizing, Slippage};
pub use context::{Context, StartContext, StateChange};
pub use error::{EngineError, OrderError, StrategyError};
pub use indicators::{BollingerLines, Line, MacdLines, Source};
pub use metrics::Metrics;
pub use portfolio::Trade;
pub use strategy::Strategy;
pub use sweep::{Grid, GridAxis, Ranking, SweepRow, higher_is_better, rank, run_sweep};
