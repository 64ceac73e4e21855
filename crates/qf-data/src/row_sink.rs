//! The seam between the file readers and what is done with their rows.
//!
//! A reader (CSV or Parquet) turns cells into [`Bar`]s and hands each one to a [`RowSink`]:
//! the strict [`crate::series_builder::SeriesBuilder`] that `load_bars` uses, which stops at
//! the first problem, or the lenient survey behind `inspect`, which counts problems and
//! carries on. Readers are generic over the sink so each pairing compiles to a tight loop.

use qf_core::{Bar, Price, TimestampUnit};

use crate::DataError;
use crate::columns::{ColumnMap, Role};
use crate::error::Location;

/// Receives the rows a reader parsed, in file order.
pub(crate) trait RowSink {
    /// Called once before any row with the file's name, its columns and a guess at the
    /// number of rows (for preallocation).
    fn start(&mut self, file: &str, columns: &ColumnMap, rows_hint: usize);

    /// A symbol seen for the first time; ids are dense, in order of first appearance.
    fn add_symbol(&mut self, name: &str);

    /// One parsed row of symbol `symbol`. An `Err` stops the reader.
    fn row(&mut self, symbol: u32, bar: Bar, at: Location) -> Result<(), DataError>;

    /// A row that could not be parsed. An `Err` stops the reader; `Ok` skips the row.
    fn reject(&mut self, error: DataError) -> Result<(), DataError>;
}

/// What a reader learned besides the rows.
#[derive(Debug, Clone)]
pub(crate) struct ReadSummary {
    /// Rows read, including rejected ones.
    pub(crate) rows: usize,
    /// How the timestamps were written; `None` when there were no rows.
    pub(crate) timestamp_unit: Option<TimestampUnit>,
    /// Price precision of each symbol.
    pub(crate) price_precisions: Vec<u8>,
}

/// Something wrong with a bar whose cells all parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// A price at or below zero, in this column.
    NonPositive(Role),
    /// High below the open or the close.
    HighTooLow,
    /// Low above the open or the close.
    LowTooHigh,
    /// High below low.
    HighBelowLow,
    /// Volume below zero.
    NegativeVolume,
}

impl Fault {
    /// The first fault of `bar`, checking columns in the order open, high, low, close,
    /// volume, then the OHLC relations.
    pub(crate) fn of(bar: &Bar) -> Option<Fault> {
        for (role, p) in [
            (Role::Open, bar.open),
            (Role::High, bar.high),
            (Role::Low, bar.low),
            (Role::Close, bar.close),
        ] {
            if !p.is_positive() {
                return Some(Fault::NonPositive(role));
            }
        }
        if bar.volume < 0.0 || bar.volume.is_nan() {
            return Some(Fault::NegativeVolume);
        }
        Self::of_ohlc(bar)
    }

    /// Whether `bar` has no fault; the same as `Fault::of(bar).is_none()`, without
    /// branches, for the per-row fast path.
    #[inline]
    pub(crate) fn is_sound(bar: &Bar) -> bool {
        let (o, h, l, c) = (bar.open, bar.high, bar.low, bar.close);
        o.is_positive()
            & h.is_positive()
            & l.is_positive()
            & c.is_positive()
            & (bar.volume >= 0.0)
            & (h >= o.max(c))
            & (l <= o.min(c))
            & (h >= l)
    }

    /// The first OHLC relation `bar` breaks.
    pub(crate) fn of_ohlc(bar: &Bar) -> Option<Fault> {
        if bar.high < bar.open.max(bar.close) {
            Some(Fault::HighTooLow)
        } else if bar.low > bar.open.min(bar.close) {
            Some(Fault::LowTooHigh)
        } else if bar.high < bar.low {
            Some(Fault::HighBelowLow)
        } else {
            None
        }
    }

    /// The column a message should name.
    pub(crate) fn role(self) -> Role {
        match self {
            Fault::NonPositive(role) => role,
            Fault::HighTooLow | Fault::HighBelowLow => Role::High,
            Fault::LowTooHigh => Role::Low,
            Fault::NegativeVolume => Role::Volume,
        }
    }

    /// What the column should have held, for `bar`.
    pub(crate) fn expected(self, bar: &Bar) -> String {
        match self {
            Fault::NonPositive(_) => "a price above 0".into(),
            Fault::HighTooLow => format!(
                "a high of at least the open and the close ({})",
                bar.open.max(bar.close)
            ),
            Fault::LowTooHigh => format!(
                "a low of at most the open and the close ({})",
                bar.open.min(bar.close)
            ),
            Fault::HighBelowLow => format!("a high of at least the low ({})", bar.low),
            Fault::NegativeVolume => "a volume of 0 or more".into(),
        }
    }

    /// The offending value as written in a message.
    pub(crate) fn found(self, bar: &Bar) -> String {
        let price = |p: Price| p.to_string();
        match self {
            Fault::NonPositive(Role::Open) => price(bar.open),
            Fault::NonPositive(Role::Low) | Fault::LowTooHigh => price(bar.low),
            Fault::NonPositive(Role::Close) => price(bar.close),
            Fault::NonPositive(_) | Fault::HighTooLow | Fault::HighBelowLow => price(bar.high),
            Fault::NegativeVolume => bar.volume.to_string(),
        }
    }

    /// The fault as a [`DataError::InvalidValue`].
    pub(crate) fn error(
        self,
        bar: &Bar,
        file: &str,
        columns: &ColumnMap,
        at: Location,
    ) -> DataError {
        DataError::InvalidValue {
            file: file.to_string(),
            location: at,
            column: columns.name(self.role()).to_string(),
            expected: self.expected(bar),
            found: self.found(bar),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qf_core::Timestamp;

    fn bar(o: &str, h: &str, l: &str, c: &str, v: f64) -> Bar {
        let p = |s: &str| Price::parse(s).unwrap();
        Bar {
            ts: Timestamp::EPOCH,
            open: p(o),
            high: p(h),
            low: p(l),
            close: p(c),
            volume: v,
        }
    }

    #[test]
    fn finds_the_first_fault() {
        assert_eq!(Fault::of(&bar("1", "2", "0.5", "1.5", 0.0)), None);
        assert_eq!(
            Fault::of(&bar("0", "2", "0.5", "1.5", 1.0)),
            Some(Fault::NonPositive(Role::Open))
        );
        assert_eq!(
            Fault::of(&bar("1", "2", "-1", "1.5", 1.0)),
            Some(Fault::NonPositive(Role::Low))
        );
        assert_eq!(
            Fault::of(&bar("1", "2", "0.5", "1.5", -1.0)),
            Some(Fault::NegativeVolume)
        );
        assert_eq!(
            Fault::of(&bar("1", "1.4", "0.5", "1.5", 1.0)),
            Some(Fault::HighTooLow)
        );
        assert_eq!(
            Fault::of(&bar("1", "2", "1.2", "1.5", 1.0)),
            Some(Fault::LowTooHigh)
        );
    }

    #[test]
    fn soundness_agrees_with_faults() {
        let cases = [
            bar("1", "2", "0.5", "1.5", 0.0),
            bar("0", "2", "0.5", "1.5", 1.0),
            bar("1", "2", "0.5", "1.5", -1.0),
            bar("1", "1.4", "0.5", "1.5", 1.0),
            bar("1", "2", "1.2", "1.5", 1.0),
            bar("1", "1", "1", "1", 0.0),
        ];
        for b in cases {
            assert_eq!(Fault::is_sound(&b), Fault::of(&b).is_none(), "{b:?}");
        }
    }

    #[test]
    fn messages_name_the_limit() {
        let b = bar("1", "1.4", "0.5", "1.5", 1.0);
        assert_eq!(
            Fault::HighTooLow.expected(&b),
            "a high of at least the open and the close (1.5)"
        );
        assert_eq!(Fault::HighTooLow.found(&b), "1.4");
    }
}
