//! Results as data for other programs: the closed trades and the equity curve as CSV, the
//! summary object of `qf backtest --json`, and a sweep's ranking as CSV and JSON.
//!
//! Writers take any [`Write`] (a file, a buffer for an object store) and leave buffering to
//! the caller. Every number is printed by its own `Display`, so exact values (prices, cash)
//! keep every digit and the same result always gives the same bytes.

use std::io::{self, Write};
use std::time::Duration;

use serde_json::{Value, json};

use qf_engine::strategies::Params;
use qf_engine::{BacktestResult, Metrics, Ranking, SweepRow};

use crate::tables::{self, Table};

/// Writes the closed trades as CSV: `symbol,direction,quantity,entry_time,entry_price,
/// exit_time,exit_price,pnl,fees,return,bars_held` (see [`crate::tables`]).
pub fn write_trades_csv(w: &mut impl Write, r: &BacktestResult) -> io::Result<()> {
    tables::write_csv(w, Table::Trades, r)
}

/// Writes the equity curve as CSV, one row per bar time: `timestamp,equity,cash,drawdown`
/// (drawdown as a fraction below the running peak, 0 at a peak; see [`crate::tables`]).
pub fn write_equity_csv(w: &mut impl Write, r: &BacktestResult) -> io::Result<()> {
    tables::write_csv(w, Table::Equity, r)
}

/// The object `qf backtest --json` prints: every metric, then `strategy`, `params`, `data`
/// (the caller's description of where the bars came from), `instruments`, `fill_model`,
/// `elapsed_ms` and `bars_per_second`.
pub fn backtest_json(
    r: &BacktestResult,
    strategy: &str,
    params: &Params,
    data: Value,
) -> Result<Value, serde_json::Error> {
    let Value::Object(mut obj) = serde_json::to_value(&r.metrics)? else {
        return Err(serde::ser::Error::custom(
            "the metrics did not serialise to an object",
        ));
    };
    obj.insert("strategy".into(), json!(strategy));
    obj.insert("params".into(), json!(params));
    obj.insert("data".into(), data);
    obj.insert(
        "instruments".into(),
        json!(r.instruments.iter().map(|i| json!({"symbol": i.symbol, "price_precision": i.price_precision, "size_precision": i.size_precision})).collect::<Vec<_>>()),
    );
    obj.insert("fill_model".into(), json!(r.fill_model));
    obj.insert("elapsed_ms".into(), json!(r.elapsed.as_secs_f64() * 1e3));
    obj.insert("bars_per_second".into(), json!(r.bars_per_second().round()));
    Ok(Value::Object(obj))
}

/// Writes every ranked row of a sweep as CSV: `rank`, each parameter (the names of the
/// first row, in order), then every metric of [`Metrics::SORTABLE`] (empty when undefined).
pub fn write_sweep_csv(w: &mut impl Write, ranked: &[SweepRow]) -> io::Result<()> {
    let names: Vec<&String> = ranked
        .first()
        .map_or(Vec::new(), |r| r.params.keys().collect());
    let metrics = Metrics::SORTABLE;
    let header: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
    writeln!(w, "rank,{},{}", header.join(","), metrics.join(","))?;
    for (k, r) in ranked.iter().enumerate() {
        let p: Vec<String> = names
            .iter()
            .map(|n| r.params.get(*n).map_or(String::new(), |v| v.to_string()))
            .collect();
        let v: Vec<String> = metrics
            .iter()
            .map(|n| {
                r.metrics
                    .as_ref()
                    .and_then(|m| m.get(n).flatten())
                    .map_or(String::new(), |x| x.to_string())
            })
            .collect();
        writeln!(w, "{},{},{}", k + 1, p.join(","), v.join(","))?;
    }
    Ok(())
}

/// The object `qf sweep --json` prints: `strategy`, `combinations`, `skipped`, `sort`,
/// `jobs`, `elapsed_ms`, `bars_per_second` (over the runs that finished) and `top`, the
/// best `top` rows as `{params, metrics}`.
pub fn sweep_json(
    strategy: &str,
    ranking: &Ranking,
    sort: &str,
    jobs: usize,
    elapsed: Duration,
    top: usize,
) -> Value {
    let total_bars: u64 = ranking
        .ranked
        .iter()
        .filter_map(|r| r.metrics.as_ref())
        .map(|m| m.bars)
        .sum();
    let best: Vec<Value> = ranking
        .ranked
        .iter()
        .take(top)
        .map(|r| json!({"params": r.params, "metrics": r.metrics}))
        .collect();
    json!({
        "strategy": strategy,
        "combinations": ranking.ranked.len() + ranking.failed.len(),
        "skipped": ranking.failed.len(),
        "sort": sort,
        "jobs": jobs,
        "elapsed_ms": elapsed.as_secs_f64() * 1e3,
        "bars_per_second": (total_bars as f64 / elapsed.as_secs_f64()).round(),
        "top": best,
    })
}
