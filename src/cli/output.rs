//! Writing results: JSON, CSV files, the HTML report and a terminal summary.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context as _;
use serde_json::{Value, json};

use qf_engine::{BacktestResult, Metrics};

use super::inputs::SourceInfo;

/// Quotes a CSV field when it needs it (RFC 4180).
fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

fn create(path: &Path) -> anyhow::Result<BufWriter<File>> {
    let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(BufWriter::with_capacity(1 << 16, f))
}

/// Writes the closed trades as CSV.
pub fn write_trades(path: &Path, r: &BacktestResult) -> anyhow::Result<()> {
    let mut w = create(path)?;
    writeln!(
        w,
        "symbol,direction,quantity,entry_time,entry_price,exit_time,exit_price,pnl,fees,return,bars_held"
    )?;
    for t in &r.trades {
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{},{},{}",
            csv_field(&r.instruments[t.instrument.index()].symbol),
            t.direction,
            t.quantity,
            t.entry_time,
            t.entry_price,
            t.exit_time,
            t.exit_price,
            t.pnl,
            t.fees,
            t.return_pct,
            t.bars_held
        )?;
    }
    w.flush()
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Writes the equity curve (one row per bar time) as CSV.
pub fn write_equity(path: &Path, r: &BacktestResult) -> anyhow::Result<()> {
    let mut w = create(path)?;
    writeln!(w, "timestamp,equity,cash,drawdown")?;
    let mut peak = f64::MIN;
    for p in &r.equity {
        let e = p.equity.as_f64();
        peak = peak.max(e);
        let dd = if peak > 0.0 { e / peak - 1.0 } else { 0.0 };
        writeln!(w, "{},{},{},{}", p.ts, p.equity, p.cash, dd)?;
    }
    w.flush()
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The `--json` object of `qf backtest`.
pub fn backtest_json(
    r: &BacktestResult,
    strategy: &str,
    params: &qf_engine::strategies::Params,
    sources: &[SourceInfo],
) -> anyhow::Result<Value> {
    let mut v = serde_json::to_value(&r.metrics)?;
    let obj = v
        .as_object_mut()
        .context("metrics serialise to an object")?;
    obj.insert("strategy".into(), json!(strategy));
    obj.insert("params".into(), json!(params));
    obj.insert("data".into(), serde_json::to_value(sources)?);
    obj.insert(
        "instruments".into(),
        json!(r.instruments.iter().map(|i| json!({"symbol": i.symbol, "price_precision": i.price_precision, "size_precision": i.size_precision})).collect::<Vec<_>>()),
    );
    obj.insert("fill_model".into(), json!(r.fill_model));
    obj.insert("elapsed_ms".into(), json!(r.elapsed.as_secs_f64() * 1e3));
    obj.insert("bars_per_second".into(), json!(r.bars_per_second().round()));
    Ok(v)
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
