use thiserror::Error;

/// Why a backtest could not run or stopped.
#[derive(Debug, Error)]
pub enum EngineError {
    /// No bars were given.
    #[error("no bars to backtest")]
    NoData,
    /// The configuration is inconsistent.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// One setting has a value the engine cannot use (see [`crate::BacktestConfig::validate`]).
    #[error("invalid configuration: {message}")]
    InvalidSetting {
        /// The setting as a person names it: `cash`, `size`, `percent`, `fee_per_unit`,
        /// `fee_bps`, `fee_min`, `slippage_bps` or `leverage`.
        setting: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The strategy failed; the run stopped at that bar.
    #[error("strategy error at bar {bar} ({time}): {source}")]
    Strategy {
        /// Index of the bar being processed (0-based, across instruments).
        bar: u64,
        /// Time of that bar.
        time: qf_core::Timestamp,
        /// What the strategy reported.
        source: StrategyError,
    },
    /// Set-up of the strategy failed before any bar.
    #[error("strategy could not start: {0}")]
    Start(StrategyError),
}

/// An error raised by strategy code, in the strategy's own terms.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{0}")]
pub struct StrategyError(pub String);

impl StrategyError {
    /// A strategy error with a message.
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

impl From<qf_indicators::IndicatorError> for StrategyError {
    fn from(e: qf_indicators::IndicatorError) -> Self {
        Self(e.to_string())
    }
}

/// Why an order was refused at submission.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OrderError {
    /// Quantity zero, negative, or not a whole number of lots.
    #[error("order quantity {quantity} is not a positive multiple of the lot size {lot}")]
    BadQuantity {
        /// Requested quantity.
        quantity: String,
        /// Lot size of the instrument.
        lot: String,
    },
    /// A limit or stop price that is not positive or not on the tick grid.
    #[error("order price {price} is not a positive multiple of the tick size {tick}")]
    BadPrice {
        /// Requested price.
        price: String,
        /// Tick size of the instrument.
        tick: String,
    },
    /// The instrument id is not part of this backtest.
    #[error("unknown instrument {0}")]
    UnknownInstrument(u32),
    /// A non-finite target (NaN or infinity).
    #[error("target is not a finite number")]
    NotFinite,
}
