//! Loading a file into bar series, strictly, and writing series back out.

use std::path::Path;

use qf_core::{BarSeries, MAX_PRECISION, TimestampUnit};

use bytes::Bytes;
use serde::Serialize;

use crate::csv_reader::{CsvSettings, read_csv};
use crate::csv_writer::write_csv;
use crate::error::file_name;
use crate::parquet_reader::{ParquetSettings, read_parquet, read_parquet_from};
use crate::parquet_writer::{write_parquet, write_parquet_to};
use crate::row_sink::ReadSummary;
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

/// Where bars came from, as results report it (`data` in `qf backtest --json`): one
/// loaded file and what loading it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceInfo {
    /// The file as the user named it.
    pub file: String,
    /// `csv`, `parquet`, or `generated` for built-in sample data.
    pub format: &'static str,
    /// Data rows in the file.
    pub rows: usize,
    /// The symbols it held, in order of first appearance.
    pub symbols: Vec<String>,
    /// How it wrote its times ([`TimestampUnit::name`]).
    pub timestamp_format: &'static str,
    /// Rows moved by sorting.
    pub reordered_rows: usize,
    /// Rows dropped as duplicates.
    pub dropped_duplicates: usize,
}

impl SourceInfo {
    /// What loading `file` gave.
    pub fn of(file: impl Into<String>, loaded: &LoadedData) -> Self {
        SourceInfo {
            file: file.into(),
            format: loaded.format.name(),
            rows: loaded.rows,
            symbols: loaded
                .series
                .iter()
                .map(|s| s.instrument.symbol.clone())
                .collect(),
            timestamp_format: loaded.timestamp_unit.name(),
            reordered_rows: loaded.reordered_rows,
            dropped_duplicates: loaded.dropped_duplicates,
        }
    }
}

/// Loads a CSV or Parquet file (by extension) of OHLCV bars, failing with the first problem.
///
/// Every row is checked: parseable values, positive prices, non-negative volume, high and
/// low bracketing open and close, and strictly increasing time per symbol (unless
/// `opts.sort` / `opts.dedupe` say how to repair it). The error names the file, the line
/// (or Parquet row), the column, what was expected and what was found.
pub fn load_bars(path: &Path, opts: &LoadOptions) -> Result<LoadedData, DataError> {
    load_bars_as(path, &file_name(path), opts)
}

/// [`load_bars`] for a file kept under another name than its own, such as an upload saved
/// to a temporary file: the format (by extension), the default symbol (the stem) and every
/// message go by `name`, never by `path`.
pub fn load_bars_as(path: &Path, name: &str, opts: &LoadOptions) -> Result<LoadedData, DataError> {
    let format = FileFormat::from_path(Path::new(name))?;
    load_with(name, format, opts, |settings, builder| match format {
        FileFormat::Csv => read_csv(path, name, settings.csv(), builder),
        FileFormat::Parquet => read_parquet(path, name, settings.parquet(), builder),
    })
}

/// [`load_bars`] for Parquet bytes already in memory (an object fetched from a store), with
/// the same checks; `name` stands for the file in messages and gives the default symbol.
pub fn load_parquet_bytes(
    bytes: Bytes,
    name: &str,
    opts: &LoadOptions,
) -> Result<LoadedData, DataError> {
    load_with(name, FileFormat::Parquet, opts, |settings, builder| {
        read_parquet_from(bytes, name, settings.parquet(), builder)
    })
}

/// What both readers need to know besides the input.
struct ReadSettings<'a> {
    default_symbol: &'a str,
    price_precision: Option<u8>,
}

impl ReadSettings<'_> {
    fn csv(&self) -> CsvSettings<'_> {
        CsvSettings {
            default_symbol: self.default_symbol,
            price_precision: self.price_precision,
        }
    }

    fn parquet(&self) -> ParquetSettings<'_> {
        ParquetSettings {
            default_symbol: self.default_symbol,
            price_precision: self.price_precision,
        }
    }
}

/// Checks the options, runs `read` into a strict builder and finishes the series.
fn load_with(
    name: &str,
    format: FileFormat,
    opts: &LoadOptions,
    read: impl FnOnce(&ReadSettings<'_>, &mut SeriesBuilder) -> Result<ReadSummary, DataError>,
) -> Result<LoadedData, DataError> {
    for (what, value) in [
        ("price precision", opts.price_precision.unwrap_or(0)),
        ("size precision", opts.size_precision),
    ] {
        if value > MAX_PRECISION {
            return Err(DataError::Invalid(format!(
                "the {what} must be 0 to {MAX_PRECISION} decimal places, not {value}"
            )));
        }
    }
    let default_symbol = opts.symbol.clone().unwrap_or_else(|| stem(Path::new(name)));
    let mut builder = SeriesBuilder::new(OrderRules {
        sort: opts.sort,
        dedupe: opts.dedupe,
    });
    let settings = ReadSettings {
        default_symbol: &default_symbol,
        price_precision: opts.price_precision,
    };
    let summary = read(&settings, &mut builder)?;
    if summary.rows == 0 {
        return Err(DataError::NoRows {
            file: name.to_string(),
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
    distinct_symbols(&file_name(path), series)?;
    match format {
        FileFormat::Csv => write_csv(path, series),
        FileFormat::Parquet => write_parquet(path, series),
    }
}

/// The Parquet file [`write_bars`] would write, as bytes in memory (for an object store);
/// [`load_parquet_bytes`] reads it back to the same series.
pub fn parquet_bytes(series: &[BarSeries]) -> Result<Vec<u8>, DataError> {
    const NAME: &str = "Parquet in memory";
    distinct_symbols(NAME, series)?;
    write_parquet_to(Vec::new(), series, NAME)
}

/// A file holds one series per symbol.
fn distinct_symbols(file: &str, series: &[BarSeries]) -> Result<(), DataError> {
    for (i, s) in series.iter().enumerate() {
        if series[..i]
            .iter()
            .any(|t| t.instrument.symbol == s.instrument.symbol)
        {
            return Err(DataError::Invalid(format!(
                "{file}: two series have the symbol {:?}; a file holds one series per symbol",
                s.instrument.symbol
            )));
        }
    }
    Ok(())
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
