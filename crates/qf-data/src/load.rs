//! Loading a file into bar series, strictly, and writing series back out.

use std::path::Path;

use qf_core::{BarSeries, MAX_PRECISION, TimestampUnit};

use crate::csv_reader::{CsvSettings, read_csv};
use crate::csv_writer::write_csv;
use crate::parquet_reader::{ParquetSettings, read_parquet};
use crate::parquet_writer::write_parquet;
use crate::series_builder::{OrderRules, SeriesBuilder};
use crate::{DataError, FileFormat};

/// How [`load_bars`] treats the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Stable-sort each symbol's rows by time instead of failing on the first row out of
    /// order (the CLI's `--sort`).
    pub sort: bool,
    /// Keep the last of rows that share a symbol and timestamp instead of failing (the CLI's
    /// `--dedupe`).
    pub dedupe: bool,
    /// The symbol of a file without a symbol column; the file's stem when `None`. Ignored
    /// when the file has a symbol column.
    pub symbol: Option<String>,
    /// Round every price to this many decimal places (0 to 9) instead of inferring each
    /// symbol's precision from the data.
    pub price_precision: Option<u8>,
    /// Decimal places of quantities traded in these instruments (0 to 9).
    pub size_precision: u8,
}

/// What [`load_bars`] read.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedData {
    /// One series per symbol, in order of first appearance; instrument ids 0, 1, ….
    pub series: Vec<BarSeries>,
    /// The file's format.
    pub format: FileFormat,
    /// How the file wrote its times. For Parquet time columns this is the column's unit
    /// (dates count as whole seconds).
    pub timestamp_unit: TimestampUnit,
    /// Data rows in the file.
    pub rows: usize,
    /// Rows that arrived with a time earlier than an earlier row of the same symbol and were
    /// moved by sorting (zero unless [`LoadOptions::sort`]).
    pub reordered_rows: usize,
    /// Rows dropped because a later row had the same symbol and time (zero unless
    /// [`LoadOptions::dedupe`]).
    pub dropped_duplicates: usize,
}

/// Loads a CSV or Parquet file (by extension) of OHLCV bars, failing with the first problem.
///
/// Every row is checked: parseable values, positive prices, non-negative volume, high and
/// low bracketing open and close, and strictly increasing time per symbol (unless
/// `opts.sort` / `opts.dedupe` say how to repair it). The error names the file, the line
/// (or Parquet row), the column, what was expected and what was found.
pub fn load_bars(path: &Path, opts: &LoadOptions) -> Result<LoadedData, DataError> {
    let format = FileFormat::from_path(path)?;
    for (name, value) in [
        ("price precision", opts.price_precision.unwrap_or(0)),
        ("size precision", opts.size_precision),
    ] {
        if value > MAX_PRECISION {
            return Err(DataError::Invalid(format!(
                "the {name} must be 0 to {MAX_PRECISION} decimal places, not {value}"
            )));
        }
    }
    let default_symbol = opts.symbol.clone().unwrap_or_else(|| stem(path));
    let mut builder = SeriesBuilder::new(OrderRules {
        sort: opts.sort,
        dedupe: opts.dedupe,
    });
    let summary = match format {
        FileFormat::Csv => read_csv(
            path,
            CsvSettings {
                default_symbol: &default_symbol,
                price_precision: opts.price_precision,
            },
            &mut builder,
        )?,
        FileFormat::Parquet => read_parquet(
            path,
            ParquetSettings {
                default_symbol: &default_symbol,
                price_precision: opts.price_precision,
            },
            &mut builder,
        )?,
    };
    if summary.rows == 0 {
        return Err(DataError::NoRows {
            file: crate::error::file_name(path),
        });
    }
    let built = builder.finish(&summary.price_precisions, opts.size_precision)?;
    Ok(LoadedData {
        series: built.series,
        format,
        timestamp_unit: summary.timestamp_unit.unwrap_or(TimestampUnit::Rfc3339),
        rows: summary.rows,
        reordered_rows: built.reordered_rows,
        dropped_duplicates: built.dropped_duplicates,
    })
}

/// Writes bar series to a CSV or Parquet file (by extension), replacing it if it exists.
///
/// CSV gets the header `timestamp,symbol,open,high,low,close,volume`, RFC 3339 times and
/// exact prices. Parquet gets a nanosecond UTC `timestamp`, a `symbol` string and `Float64`
/// prices and volume, snappy-compressed, with each symbol's price precision in the
/// `qf.price_precision` metadata so that [`load_bars`] gives back the same series.
pub fn write_bars(path: &Path, series: &[BarSeries]) -> Result<(), DataError> {
    let format = FileFormat::from_path(path)?;
    for (i, s) in series.iter().enumerate() {
        if series[..i]
            .iter()
            .any(|t| t.instrument.symbol == s.instrument.symbol)
        {
            return Err(DataError::Invalid(format!(
                "{}: two series have the symbol {:?}; a file holds one series per symbol",
                path.display(),
                s.instrument.symbol
            )));
        }
    }
    match format {
        FileFormat::Csv => write_csv(path, series),
        FileFormat::Parquet => write_parquet(path, series),
    }
}

/// The file name without its extension: the symbol of a file without a symbol column.
pub(crate) fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "data".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems() {
        assert_eq!(stem(Path::new("/a/AAPL.csv")), "AAPL");
        assert_eq!(stem(Path::new("x.y.parquet")), "x.y");
    }

    #[test]
    fn options_default() {
        let o = LoadOptions::default();
        assert!(!o.sort && !o.dedupe && o.symbol.is_none() && o.price_precision.is_none());
        assert_eq!(o.size_precision, 0);
    }

    #[test]
    fn precision_options_checked() {
        let o = LoadOptions {
            price_precision: Some(10),
            ..LoadOptions::default()
        };
        let e = load_bars(Path::new("x.csv"), &o).unwrap_err().to_string();
        assert!(e.contains("price precision must be 0 to 9"), "{e}");
    }
}
