//! `qf sweep`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Args;

use qf_engine::{Grid, GridAxis};
use qf_jobs::execute::{self, PlanError};
use qf_report::export;

use super::inputs::{DataArgs, EngineArgs, SandboxArgs, load_strategy, parse_param};
use super::{output, progress};

#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    sandbox: SandboxArgs,
    /// Sort data rows by time instead of rejecting out-of-order timestamps.
    #[arg(long)]
    sort_rows: bool,
    /// Built-in strategy (see `qf strategy list`).
    #[arg(long, value_name = "NAME")]
    strategy: String,
    /// A parameter axis: name=start..end:step (inclusive) or name=a,b,c; repeatable.
    #[arg(long = "grid", value_name = "SPEC", required = true)]
    grids: Vec<String>,
    /// A fixed parameter for every combination, name=value; repeatable.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Metric to rank by.
    #[arg(long, default_value = execute::DEFAULT_SORT, value_name = "METRIC")]
    sort: String,
    /// Rank ascending (default: descending, except for drawdown and volatility).
    #[arg(long)]
    ascending: bool,
    /// How many rows to print.
    #[arg(long, default_value_t = execute::DEFAULT_TOP, value_name = "N")]
    top: usize,
    /// Write every combination, ranked, to this CSV file.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Threads (default: all cores).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Print the ranked rows as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(mut a: SweepArgs) -> anyhow::Result<()> {
    execute::check_sort(&a.sort).map_err(|m| anyhow::anyhow!("--sort {m}"))?;
    if a.jobs == Some(0) {
        bail!("--jobs must be at least 1");
    }
    let code = load_strategy(&a.strategy)?;
    let grid = Grid {
        axes: a
            .grids
            .iter()
            .map(|g| GridAxis::parse(g))
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::msg)?,
    };
    let fixed = a
        .params
        .iter()
        .map(|p| parse_param(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let params = execute::sweep_params(&code, &grid, &fixed).map_err(|e| match e {
        PlanError::Both(name) => {
            anyhow::anyhow!("parameter `{name}` is given both as --param and as --grid")
        }
        PlanError::Grid(m) => anyhow::Error::msg(m),
        PlanError::Param(p) => p.into(),
    })?;
    let config = a.engine.config(false)?;
    a.data.sort = a.sort_rows;
    let (series, _) = a.data.load(false)?;
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));

    let bar = progress::bar(params.len() as u64, "runs");
    let started = Instant::now();
    let pool = a.sandbox.pool_for(&code)?;
    let rows = execute::sweep(
        &code,
        params,
        &config,
        series,
        pool.as_ref(),
        jobs,
        &|done| bar.set_position(done as u64),
        None,
    )?;
    let elapsed = started.elapsed();
    bar.finish_and_clear();

    let ranking = execute::rank(rows, &a.sort, a.ascending)?;
    if let Some(path) = &a.csv {
        output::write_file(path, |w| export::write_sweep_csv(w, &ranking.ranked))?;
    }
    if a.json {
        let v = export::sweep_json(&a.strategy, &ranking, &a.sort, jobs, elapsed, a.top);
        println!("{}", serde_json::to_string(&v)?);
        return Ok(());
    }
    let (ok, failed, descending) = (&ranking.ranked, &ranking.failed, ranking.descending);
    let total_bars: u64 = ok
        .iter()
        .filter_map(|r| r.metrics.as_ref())
        .map(|m| m.bars)
        .sum();
    let mut out = std::io::stdout().lock();
    // The table shows the swept parameters; the CSV has every parameter.
    let names: Vec<String> = grid.axes.iter().map(|a| a.name.clone()).collect();
    write!(out, "{:>4}", "rank")?;
    for n in &names {
        write!(out, " {n:>8}")?;
    }
    writeln!(
        out,
        " {:>9} {:>9} {:>9} {:>9} {:>7} {:>8}",
        "sharpe", "return", "cagr", "max_dd", "trades", "win"
    )?;
    for (k, r) in ok.iter().take(a.top).enumerate() {
        let m = r.metrics.as_ref().context("partitioned on metrics above")?;
        write!(out, "{:>4}", k + 1)?;
        for n in &names {
            write!(out, " {:>8}", r.params[n])?;
        }
        let f = |x: Option<f64>, pct: bool| {
            x.map_or("—".to_string(), |v| {
                if pct {
                    format!("{:.2}%", v * 100.0)
                } else {
                    format!("{v:.3}")
                }
            })
        };
        writeln!(
            out,
            " {:>9} {:>9} {:>9} {:>9} {:>7} {:>8}",
            f(m.sharpe, false),
            f(Some(m.total_return), true),
            f(m.cagr, true),
            f(Some(m.max_drawdown), true),
            m.trades,
            f(m.win_rate, true)
        )?;
    }
    writeln!(
        out,
        "{} combinations ({} skipped: invalid or failed) on {jobs} threads in {:.2}s, {:.1} M bars/s; ranked by {}{}",
        ok.len() + failed.len(),
        failed.len(),
        elapsed.as_secs_f64(),
        total_bars as f64 / elapsed.as_secs_f64() / 1e6,
        a.sort,
        if descending {
            " (descending)"
        } else {
            " (ascending)"
        }
    )?;
    if let Some(first) = failed.first() {
        writeln!(
            out,
            "skipped, e.g. {:?}: {}",
            first.params,
            first.error.as_deref().unwrap_or("")
        )?;
    }
    Ok(())
}
