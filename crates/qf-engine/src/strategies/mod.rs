//! Built-in native strategies and the registry that finds them by name and checks their
//! parameters.

mod buy_and_hold;
mod params;
mod rsi_reversion;
mod sma_cross;

pub use buy_and_hold::BuyAndHold;
pub use params::{ParamError, ParamSpec, Params, resolve};
pub use rsi_reversion::RsiReversion;
pub use sma_cross::SmaCross;

use crate::{Strategy, StrategyError};

/// A built-in strategy: its name, what it does, its parameters and its constructor.
pub struct BuiltinStrategy {
    /// Name used on the command line (`--strategy sma_cross`).
    pub name: &'static str,
    /// One line on what it does.
    pub description: &'static str,
    /// Declared parameters with defaults.
    pub params: &'static [ParamSpec],
    build: fn(&Params) -> Result<Box<dyn Strategy>, StrategyError>,
}

impl BuiltinStrategy {
    /// Builds an instance from complete, checked parameters (see [`BuiltinStrategy::resolve`]).
    pub fn build(&self, params: &Params) -> Result<Box<dyn Strategy>, StrategyError> {
        (self.build)(params)
    }

    /// Fills in defaults and checks names, ranges and integrality of `given`.
    pub fn resolve(&self, given: &[(String, f64)]) -> Result<Params, ParamError> {
        params::resolve(self.name, self.params, given)
    }
}

/// Every built-in strategy.
pub const BUILTINS: &[BuiltinStrategy] = &[
    BuiltinStrategy {
        name: "sma_cross",
        description: "long (optionally short) when the fast SMA of close crosses above the slow SMA; flat (or short) when it crosses below",
        params: sma_cross::PARAMS,
        build: |p| Ok(Box::new(SmaCross::new(p)?)),
    },
    BuiltinStrategy {
        name: "rsi_reversion",
        description: "buys when RSI falls below `lower`, sells when it rises above `upper` (long only)",
        params: rsi_reversion::PARAMS,
        build: |p| Ok(Box::new(RsiReversion::new(p)?)),
    },
    BuiltinStrategy {
        name: "buy_and_hold",
        description: "buys every instrument on its first bar and holds to the end",
        params: &[],
        build: |_| Ok(Box::new(BuyAndHold::default())),
    },
];

/// Finds a built-in by name.
pub fn builtin(name: &str) -> Option<&'static BuiltinStrategy> {
    BUILTINS.iter().find(|b| b.name == name)
}
