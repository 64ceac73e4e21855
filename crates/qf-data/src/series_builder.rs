//! The strict sink: rows become one [`BarSeries`] per symbol, or the first problem becomes
//! an error.
//!
//! Order is checked as rows arrive, so an out-of-order or duplicate row is reported against
//! the row just before it. With sorting on, rows are collected as they come and stably
//! sorted at the end; duplicates can then only be found after the sort, which is why line
//! numbers are kept per row in that mode only.

use qf_core::{Bar, BarSeries, Instrument, InstrumentId, Timestamp};

use crate::DataError;
use crate::columns::ColumnMap;
use crate::error::Location;
use crate::row_sink::{Fault, RowSink};

/// How the builder treats rows that are out of order or share a timestamp.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OrderRules {
    /// Stable-sort each symbol's rows by time instead of failing on disorder.
    pub(crate) sort: bool,
    /// Keep the last of rows with equal timestamps instead of failing.
    pub(crate) dedupe: bool,
}

#[derive(Debug)]
struct SymbolRows {
    name: String,
    bars: Vec<Bar>,
    /// Where each bar came from; only kept when sorting.
    locations: Vec<Location>,
    last_location: Location,
    latest: Timestamp,
}

/// Collects valid rows per symbol, failing on the first problem.
#[derive(Debug)]
pub(crate) struct SeriesBuilder {
    rules: OrderRules,
    file: String,
    columns: Option<ColumnMap>,
    rows_hint: usize,
    symbols: Vec<SymbolRows>,
    reordered: usize,
    dropped: usize,
}

/// The builder's result.
#[derive(Debug)]
pub(crate) struct Built {
    pub(crate) series: Vec<BarSeries>,
    pub(crate) reordered_rows: usize,
    pub(crate) dropped_duplicates: usize,
}

impl SeriesBuilder {
    pub(crate) fn new(rules: OrderRules) -> Self {
        Self {
            rules,
            file: String::new(),
            columns: None,
            rows_hint: 0,
            symbols: Vec::new(),
            reordered: 0,
            dropped: 0,
        }
    }

    /// Sorts and deduplicates as the rules say and builds the series, with one price
    /// precision per symbol (in id order).
    pub(crate) fn finish(
        mut self,
        price_precisions: &[u8],
        size_precision: u8,
    ) -> Result<Built, DataError> {
        let mut series = Vec::with_capacity(self.symbols.len());
        let symbols = std::mem::take(&mut self.symbols);
        for (id, mut rows) in symbols.into_iter().enumerate() {
            if self.rules.sort {
                self.sort_and_dedupe(&mut rows)?;
            }
            let precision = price_precisions.get(id).copied().unwrap_or(0);
            let id = u32::try_from(id)
                .map_err(|_| DataError::Invalid(format!("{}: more than 2³² symbols", self.file)))?;
            let instrument =
                Instrument::new(InstrumentId(id), rows.name, precision, size_precision)
                    .map_err(|e| DataError::Invalid(format!("{}: {e}", self.file)))?;
            series.push(BarSeries {
                instrument,
                bars: rows.bars,
            });
        }
        Ok(Built {
            series,
            reordered_rows: self.reordered,
            dropped_duplicates: self.dropped,
        })
    }

    fn sort_and_dedupe(&mut self, rows: &mut SymbolRows) -> Result<(), DataError> {
        let sorted = rows.bars.windows(2).all(|w| w[0].ts <= w[1].ts);
        if !sorted {
            let mut order: Vec<usize> = (0..rows.bars.len()).collect();
            // `sort_by_key` is stable, so rows with equal times keep their file order and
            // "keep the last" below means the last in the file.
            order.sort_by_key(|&i| rows.bars[i].ts);
            rows.bars = order.iter().map(|&i| rows.bars[i]).collect();
            rows.locations = order.iter().map(|&i| rows.locations[i]).collect();
        }
        let has_duplicates = rows.bars.windows(2).any(|w| w[0].ts == w[1].ts);
        if !has_duplicates {
            return Ok(());
        }
        if !self.rules.dedupe {
            let i = rows
                .bars
                .windows(2)
                .position(|w| w[0].ts == w[1].ts)
                .unwrap_or(0);
            let (first, second) = (rows.locations[i], rows.locations[i + 1]);
            // Name the later line of the two in file order as the offending one.
            let (earlier, later) = if loc_index(first) <= loc_index(second) {
                (first, second)
            } else {
                (second, first)
            };
            return Err(self.duplicate(&rows.name, rows.bars[i].ts, later, earlier));
        }
        let before = rows.bars.len();
        let mut kept: Vec<Bar> = Vec::with_capacity(before);
        for bar in rows.bars.drain(..) {
            match kept.last_mut() {
                Some(last) if last.ts == bar.ts => *last = bar,
                _ => kept.push(bar),
            }
        }
        self.dropped += before - kept.len();
        rows.bars = kept;
        Ok(())
    }

    fn duplicate(
        &self,
        symbol: &str,
        ts: Timestamp,
        at: Location,
        previous: Location,
    ) -> DataError {
        DataError::Duplicate {
            file: self.file.clone(),
            symbol: symbol.to_string(),
            location: at,
            previous_location: previous,
            timestamp: ts,
        }
    }
}

impl SeriesBuilder {
    #[cold]
    fn fault(&self, bar: &Bar, at: Location) -> DataError {
        match (Fault::of(bar), &self.columns) {
            (Some(fault), Some(columns)) => fault.error(bar, &self.file, columns, at),
            _ => DataError::Invalid(format!("{}: {at}: bad bar", self.file)),
        }
    }

    /// A row whose time is not after its symbol's latest (or whose symbol is unknown).
    #[cold]
    fn row_not_after(&mut self, symbol: u32, bar: Bar, at: Location) -> Result<(), DataError> {
        let Some(rows) = self.symbols.get_mut(symbol as usize) else {
            return Err(DataError::Invalid(format!(
                "{}: {at}: unknown symbol id",
                self.file
            )));
        };
        if self.rules.sort {
            // Equal times are sorted out (and counted as duplicates) in `finish`.
            if bar.ts < rows.latest {
                self.reordered += 1;
            }
        } else if bar.ts == rows.latest {
            if self.rules.dedupe {
                // Keep the last occurrence: it replaces the one before.
                if let Some(last) = rows.bars.last_mut() {
                    *last = bar;
                }
                rows.last_location = at;
                self.dropped += 1;
                return Ok(());
            }
            let (name, previous) = (rows.name.clone(), rows.last_location);
            return Err(self.duplicate(&name, bar.ts, at, previous));
        } else {
            return Err(DataError::OutOfOrder {
                file: self.file.clone(),
                symbol: rows.name.clone(),
                location: at,
                timestamp: bar.ts,
                previous_location: rows.last_location,
                previous_timestamp: rows.latest,
            });
        }
        rows.bars.push(bar);
        rows.locations.push(at);
        rows.last_location = at;
        Ok(())
    }
}

fn loc_index(at: Location) -> u64 {
    match at {
        Location::Line(n) | Location::Row(n) => n,
    }
}

impl RowSink for SeriesBuilder {
    fn start(&mut self, file: &str, columns: &ColumnMap, rows_hint: usize) {
        self.file = file.to_string();
        self.columns = Some(columns.clone());
        self.rows_hint = rows_hint;
    }

    fn add_symbol(&mut self, name: &str) {
        // Preallocate for the common one-symbol file; later symbols grow as they go.
        let capacity = if self.symbols.is_empty() {
            self.rows_hint
        } else {
            0
        };
        let mut bars = Vec::with_capacity(capacity);
        crate::huge_pages::advise(&mut bars);
        self.symbols.push(SymbolRows {
            name: name.to_string(),
            bars,
            locations: Vec::with_capacity(if self.rules.sort { capacity } else { 0 }),
            last_location: Location::Line(0),
            latest: Timestamp::from_nanos(i64::MIN),
        });
    }

    #[inline(always)]
    fn row(&mut self, symbol: u32, bar: Bar, at: Location) -> Result<(), DataError> {
        if !Fault::is_sound(&bar) {
            return Err(self.fault(&bar, at));
        }
        // The common case, kept small so it inlines into the readers' loops: a known symbol
        // and a time after the symbol's latest.
        if let Some(rows) = self.symbols.get_mut(symbol as usize)
            && (bar.ts > rows.latest || rows.bars.is_empty())
        {
            rows.latest = bar.ts;
            rows.bars.push(bar);
            if self.rules.sort {
                rows.locations.push(at);
            }
            rows.last_location = at;
            return Ok(());
        }
        self.row_not_after(symbol, bar, at)
    }

    fn reject(&mut self, error: DataError) -> Result<(), DataError> {
        Err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qf_core::Price;

    fn columns() -> ColumnMap {
        let h: Vec<String> = ["timestamp", "open", "high", "low", "close", "volume"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        ColumnMap::resolve("t.csv", &h).unwrap()
    }

    fn bar(secs: i64, close: i64) -> Bar {
        let p = Price::from_int(close);
        Bar {
            ts: Timestamp::from_secs(secs),
            open: p,
            high: p,
            low: p,
            close: p,
            volume: 1.0,
        }
    }

    fn builder(sort: bool, dedupe: bool) -> SeriesBuilder {
        let mut b = SeriesBuilder::new(OrderRules { sort, dedupe });
        b.start("t.csv", &columns(), 4);
        b.add_symbol("X");
        b
    }

    #[test]
    fn in_order_rows_pass() {
        let mut b = builder(false, false);
        for (i, s) in [1, 2, 3].iter().enumerate() {
            b.row(0, bar(*s, 10), Location::Line(i as u64 + 2)).unwrap();
        }
        let built = b.finish(&[0], 0).unwrap();
        assert_eq!(built.series[0].bars.len(), 3);
        assert_eq!(built.series[0].instrument.symbol, "X");
    }

    #[test]
    fn disorder_fails_naming_both_lines() {
        let mut b = builder(false, false);
        b.row(0, bar(5, 10), Location::Line(2)).unwrap();
        let e = b
            .row(0, bar(4, 10), Location::Line(3))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 3") && e.contains("on line 2") && e.contains("--sort"),
            "{e}"
        );
    }

    #[test]
    fn sorting_counts_reordered_rows() {
        let mut b = builder(true, false);
        for (i, s) in [3, 1, 2, 4].iter().enumerate() {
            b.row(0, bar(*s, 10), Location::Line(i as u64 + 2)).unwrap();
        }
        let built = b.finish(&[0], 0).unwrap();
        let ts: Vec<i64> = built.series[0]
            .bars
            .iter()
            .map(|b| b.ts.nanos() / 1_000_000_000)
            .collect();
        assert_eq!(ts, [1, 2, 3, 4]);
        assert_eq!(built.reordered_rows, 2);
    }

    #[test]
    fn duplicates_fail_or_keep_the_last() {
        let mut b = builder(false, false);
        b.row(0, bar(1, 10), Location::Line(2)).unwrap();
        let e = b
            .row(0, bar(1, 11), Location::Line(3))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("duplicate") && e.contains("--dedupe") && e.contains("line 2"),
            "{e}"
        );

        let mut b = builder(false, true);
        b.row(0, bar(1, 10), Location::Line(2)).unwrap();
        b.row(0, bar(1, 11), Location::Line(3)).unwrap();
        b.row(0, bar(2, 12), Location::Line(4)).unwrap();
        let built = b.finish(&[0], 0).unwrap();
        assert_eq!(built.series[0].bars[0].close, Price::from_int(11));
        assert_eq!(built.dropped_duplicates, 1);
    }

    #[test]
    fn sorted_duplicates_found_after_sort() {
        let mut b = builder(true, false);
        b.row(0, bar(2, 10), Location::Line(2)).unwrap();
        b.row(0, bar(1, 10), Location::Line(3)).unwrap();
        b.row(0, bar(2, 11), Location::Line(4)).unwrap();
        let e = b.finish(&[0], 0).unwrap_err().to_string();
        assert!(e.contains("line 4") && e.contains("also on line 2"), "{e}");

        let mut b = builder(true, true);
        b.row(0, bar(2, 10), Location::Line(2)).unwrap();
        b.row(0, bar(1, 10), Location::Line(3)).unwrap();
        b.row(0, bar(2, 11), Location::Line(4)).unwrap();
        let built = b.finish(&[0], 0).unwrap();
        assert_eq!(built.series[0].bars.len(), 2);
        assert_eq!(built.series[0].bars[1].close, Price::from_int(11));
        assert_eq!(built.dropped_duplicates, 1);
        assert_eq!(built.reordered_rows, 1);
    }

    #[test]
    fn bad_bars_fail() {
        let mut b = builder(false, false);
        let mut x = bar(1, 10);
        x.high = Price::from_int(9);
        let e = b.row(0, x, Location::Line(2)).unwrap_err().to_string();
        assert!(e.contains("column high"), "{e}");
    }
}
