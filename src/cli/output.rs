//! Writing results: files (their contents come from `qf_report::export` and
//! `qf_jobs::execute`, shared with the API) and a terminal summary.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context as _;

use qf_data::SourceInfo;
use qf_engine::{BacktestResult, Metrics};
use qf_report::tables::{self, Table, TableFormat};

/// Writes a file through a buffer; errors name the file.
pub fn write_file(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = BufWriter::with_capacity(1 << 16, f);
    write(&mut w)
        .and_then(|()| w.flush())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Writes one table of `r` to `path`: Parquet when the name ends in `.parquet`, else CSV.
pub fn write_table(path: &Path, table: Table, r: &BacktestResult) -> anyhow::Result<()> {
    match TableFormat::for_path(path) {
        TableFormat::Csv => write_file(path, |w| tables::write_csv(w, table, r)),
        TableFormat::Parquet => {
            let f =
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            tables::write_parquet(BufWriter::with_capacity(1 << 16, f), table, r)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(())
        }
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or("—".into(), |v| format!("{:.2}%", v * 100.0))
}

fn num(x: Option<f64>) -> String {
    x.map_or("—".into(), |v| format!("{v:.3}"))
}

/// A short human summary of one backtest and the data it ran on.
pub fn print_summary(r: &BacktestResult, sources: &[SourceInfo]) {
    let m: &Metrics = &r.metrics;
    for s in sources {
        let mut line = format!(
            "{} ({}, {} rows, {}, timestamps {})",
            s.file,
            s.format,
            s.rows,
            s.symbols.join(" "),
            s.timestamp_format
        );
        if s.reordered_rows > 0 {
            line.push_str(&format!(", {} rows re-sorted", s.reordered_rows));
        }
        if s.dropped_duplicates > 0 {
            line.push_str(&format!(", {} duplicates dropped", s.dropped_duplicates));
        }
        println!("{:>24}  {line}", "data");
    }
    let rows = [
        ("bars", m.bars.to_string()),
        (
            "period",
            format!(
                "{} → {}",
                m.start.map(|t| t.to_string()).unwrap_or_default(),
                m.end.map(|t| t.to_string()).unwrap_or_default()
            ),
        ),
        (
            "trades (closed / open)",
            format!("{} / {}", m.trades, m.open_trades),
        ),
        ("final equity", m.final_equity_exact.to_string()),
        ("total return", pct(Some(m.total_return))),
        ("CAGR", pct(m.cagr)),
        ("volatility", pct(m.volatility)),
        ("Sharpe", num(m.sharpe)),
        ("Sortino", num(m.sortino)),
        ("Calmar", num(m.calmar)),
        ("max drawdown", pct(Some(m.max_drawdown))),
        (
            "max drawdown duration",
            format!("{} bars", m.max_drawdown_duration),
        ),
        ("profit factor", num(m.profit_factor)),
        ("win rate", pct(m.win_rate)),
        ("exposure", pct(Some(m.exposure))),
        ("fees", m.fees.to_string()),
        ("rejected orders", m.rejected_orders.to_string()),
        (
            "engine time",
            format!(
                "{:.1} ms ({:.1} M bars/s)",
                r.elapsed.as_secs_f64() * 1e3,
                r.bars_per_second() / 1e6
            ),
        ),
    ];
    for (k, v) in rows {
        println!("{k:>24}  {v}");
    }
    println!("{:>24}  {}", "fill model", r.fill_model);
}
