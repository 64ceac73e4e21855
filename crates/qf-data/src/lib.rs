//! Market data import for Quantforge: reading OHLCV bars from CSV and Parquet files into
//! [`qf_core::BarSeries`], strictly validated, writing them back, and a lenient quality report
//! for deciding whether a file is usable.
//!
//! - [`load_bars`] reads a file and fails with the first problem, worded for a terminal:
//!   `bars.csv line 17, column close: expected a number, found "abc"`.
//! - [`write_bars`] writes series as CSV or Parquet; a round trip gives back the same bars.
//! - [`inspect`] reads leniently and returns a [`QualityReport`] (gaps, duplicates, order,
//!   OHLC consistency, outlier returns, rows that failed to parse).
//! - [`sample_bars`] is the built-in demo data, the same for a seed forever.
//!
//! Input files have the columns `timestamp`, `open`, `high`, `low`, `close`, `volume` and
//! optionally `symbol`, in any order and any case (`time`, `date` and `datetime` also name
//! the timestamp); other columns are ignored. Times are RFC 3339 text or integer epochs in
//! s, ms, µs or ns; prices are exact ([`qf_core::Price`]), never rounded through `f64` when
//! read from text.
//!
//! What this crate is not (yet): the Parquet catalog on the object store (partitioned by
//! tenant, dataset, symbol and period) and streaming ingestion from live feeds come later.
//! It does no I/O beyond local files and holds no state.

#![warn(missing_docs)]

mod columns;
mod csv_reader;
mod csv_writer;
mod error;
mod file_format;
mod huge_pages;
mod load;
mod parquet_reader;
mod parquet_writer;
mod precision;
mod quality;
mod row_sink;
mod sample;
mod series_builder;
mod timestamp_column;

pub use error::{DataError, Location};
pub use file_format::FileFormat;
pub use load::{LoadOptions, LoadedData, load_bars, write_bars};
pub use quality::{
    Example, FailedRows, Gap, Gaps, OutlierReturn, Outliers, Problem, QualityReport, SymbolReport,
    inspect,
};
pub use sample::sample_bars;
