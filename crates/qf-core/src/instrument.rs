use serde::Serialize;

use crate::{CoreError, Price, Quantity};

/// The most decimal places a price or quantity can carry exactly.
pub const MAX_PRECISION: u8 = 9;

/// Index of an instrument within one backtest or dataset (dense, from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct InstrumentId(pub u32);

impl InstrumentId {
    /// As a vector index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A tradable instrument and the precision its prices and sizes are quoted in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instrument {
    /// Dense id within a run.
    pub id: InstrumentId,
    /// Ticker as given by the data (`AAPL`, `BTC-USD`).
    pub symbol: String,
    /// Decimal places of a price; the tick size is 10^-price_precision.
    pub price_precision: u8,
    /// Decimal places of a quantity; the lot size is 10^-size_precision.
    pub size_precision: u8,
}

impl Instrument {
    /// An instrument, checking that both precisions are representable.
    pub fn new(
        id: InstrumentId,
        symbol: impl Into<String>,
        price_precision: u8,
        size_precision: u8,
    ) -> Result<Self, CoreError> {
        for p in [price_precision, size_precision] {
            if p > MAX_PRECISION {
                return Err(CoreError::InvalidPrecision(p));
            }
        }
        Ok(Self {
            id,
            symbol: symbol.into(),
            price_precision,
            size_precision,
        })
    }

    /// The smallest price increment.
    pub fn tick(&self) -> Price {
        Price::from_raw(10i64.pow(u32::from(MAX_PRECISION - self.price_precision)))
    }

    /// The smallest quantity increment.
    pub fn lot(&self) -> Quantity {
        Quantity::from_raw(10i64.pow(u32::from(MAX_PRECISION - self.size_precision)))
    }
}
