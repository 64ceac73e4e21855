//! Quantforge's backtest tearsheet: one self-contained HTML page per [`BacktestResult`].
//!
//! [`render_html`] turns a result and a little context ([`ReportMeta`]) into a page with a
//! header (strategy, parameters, data, period and the fill rules verbatim), the headline
//! metrics, an equity curve with trade markers, an underwater (drawdown) chart, a monthly
//! returns table and the trade list.
//!
//! The page opens offline: no scripts, fonts, stylesheets or images are fetched; charts are
//! inline SVG sized by `viewBox`, tooltips are SVG `<title>` elements. Output is
//! deterministic — the same result renders to the same bytes — so reports can be pinned by
//! golden files and diffed. Curves of millions of points are drawn from a min/max-per-pixel
//! reduction, which keeps every peak and trough while bounding the page size.
//!
//! [`export`] gives the same results as data for other programs: trades and equity CSV, the
//! `qf backtest --json` object, and a sweep's ranking as CSV and JSON. [`tables`] defines the
//! trades and equity columns once and writes them as CSV or Parquet (and our Parquet back
//! to the same CSV).
//!
//! What this crate is not: a charting library, a metrics engine (every statistic shown comes
//! from [`qf_engine::Metrics`], except monthly returns, see [`monthly_returns`]), or a
//! writer of files — the caller decides where the bytes go.

mod axis;
mod chart;
mod downsample;
mod escape;
pub mod export;
mod monthly;
mod number_format;
mod page;
pub mod tables;

pub use escape::escape;
pub use monthly::{YearReturns, monthly_returns};

use qf_engine::BacktestResult;

/// What the report says about a run that the result itself does not know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportMeta {
    /// Page title and main heading.
    pub title: String,
    /// Strategy name as the user chose it (`sma_cross`, a script path).
    pub strategy: String,
    /// Strategy parameters as `(name, value)`, shown in the given order.
    pub params: Vec<(String, String)>,
    /// Where the bars came from (file paths, dataset names), shown in the given order.
    pub data_sources: Vec<String>,
    /// The tool and version that made the report, shown in the footer (`qf 0.1.0`).
    pub generated_by: String,
}

/// Renders `result` as one self-contained HTML page.
///
/// Every string from `meta` and from the result (symbols, the fill model) is HTML-escaped.
/// The page contains no current time and no wall-clock measurements, so the same result and
/// meta always give byte-identical output. Charts need `result.equity`, which the engine
/// records only when `BacktestConfig::record` is set; without it the page says so.
pub fn render_html(result: &BacktestResult, meta: &ReportMeta) -> String {
    page::render(result, meta)
}
