use serde::Serialize;

use crate::{Instrument, Price, Timestamp};

/// One OHLCV bar. Prices are exact; volume is a float because it is data, never money, and
/// share counts in the billions would not fit nine fixed decimals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bar {
    /// Bar open time.
    pub ts: Timestamp,
    /// First traded price.
    pub open: Price,
    /// Highest traded price.
    pub high: Price,
    /// Lowest traded price.
    pub low: Price,
    /// Last traded price.
    pub close: Price,
    /// Traded volume.
    pub volume: f64,
}

/// The bars of one instrument, in strictly increasing time order.
#[derive(Debug, Clone, PartialEq)]
pub struct BarSeries {
    /// The instrument these bars belong to.
    pub instrument: Instrument,
    /// The bars, sorted by `ts` with no duplicates.
    pub bars: Vec<Bar>,
}

impl BarSeries {
    /// First and last bar times, if any.
    pub fn time_range(&self) -> Option<(Timestamp, Timestamp)> {
        Some((self.bars.first()?.ts, self.bars.last()?.ts))
    }
}
