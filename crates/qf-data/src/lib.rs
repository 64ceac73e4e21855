//! Market data import for Quantforge: reading OHLCV bars from CSV and Parquet files into
//! [`qf_core::BarSeries`], strictly validated, writing them back, and a lenient quality report
//! for deciding whether a file is usable.
//!
//! - [`load_bars`] reads a file and fails with the first problem, worded for a terminal:
//!   `bars.csv line 17, column close: expected a number, found "abc"`.
//! - [`write_bars`] writes series as CSV or Parquet; a round trip gives back the same bars.
//!   [`parquet_bytes`] and [`load_parquet_bytes`] do the same in memory, for an object store.
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
//! What this crate is not: the Parquet catalog on the object store (that is `qf-jobs`'s
//! `catalog`, built on [`parquet_bytes`] and [`load_parquet_bytes`]) or streaming ingestion
//! from live feeds. It does no I/O beyond local files and holds no state.

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
pub use load::{
    LoadOptions, LoadedData, SourceInfo, load_bars, load_bars_as, load_parquet_bytes,
    parquet_bytes, write_bars,
};
pub use quality::{
    Example, FailedRows, Gap, Gaps, OutlierReturn, Outliers, Problem, QualityReport, SymbolReport,
    inspect, inspect_as,
};
pub use sample::sample_bars;
