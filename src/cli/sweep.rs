//! `qf sweep`.

use std::cmp::Ordering;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::json;

use qf_engine::{Grid, GridAxis, Metrics, SweepRow, run_sweep};

use qf_engine::StrategyError;
use qf_sandbox::pool::SharedData;

use super::inputs::{Chosen, DataArgs, EngineArgs, SandboxArgs, parse_param};
use super::progress;

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
    #[arg(long, default_value = "sharpe", value_name = "METRIC")]
    sort: String,
    /// Rank ascending (default: descending, except for drawdown and volatility).
    #[arg(long)]
    ascending: bool,
    /// How many rows to print.
    #[arg(long, default_value_t = 20, value_name = "N")]
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

fn metric_of(m: &Metrics, key: &str) -> Option<f64> {
    m.get(key).flatten()
}

pub fn run(mut a: SweepArgs) -> anyhow::Result<()> {
    if !Metrics::SORTABLE.contains(&a.sort.as_str()) {
        bail!(
            "--sort {:?} is not a metric; choose one of: {}",
            a.sort,
            Metrics::SORTABLE.join(", ")
        );
    }
    if a.jobs == Some(0) {
        bail!("--jobs must be at least 1");
    }
    let chosen = Chosen::load(&a.strategy)?;
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
    if let Some((name, _)) = fixed
        .iter()
        .find(|(n, _)| grid.axes.iter().any(|g| &g.name == n))
    {
        bail!("parameter `{name}` is given both as --param and as --grid");
    }
    let combos = grid.combinations().map_err(anyhow::Error::msg)?;
    let params = combos
        .into_iter()
        .map(|c| {
            let mut all = fixed.clone();
            all.extend(c);
            chosen.resolve(&all)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let config = a.engine.config(false)?;
    a.data.sort = a.sort_rows;
    let (series, _) = a.data.load(false)?;
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));

    let bar = progress::bar(params.len() as u64, "runs");
    let started = Instant::now();
    let rows = match &chosen {
        Chosen::Builtin(b) => run_sweep(&config, &series, params, |p| b.build(p), jobs, &|done| {
            bar.set_position(done as u64)
        })?,
        Chosen::Tenant(t) => {
            // Python runs in sandbox workers, one per thread; each worker is sent the bars
            // once and keeps them for its later runs.
            let pool = a.sandbox.pool()?;
            let data = SharedData::new(series);
            run_sweep(
                &config,
                data.series(),
                params,
                |p| {
                    t.instantiate(p, &config, &data, &pool, &mut |_| {})
                        .map(|(s, _)| s)
                        .map_err(|e| StrategyError::new(e.to_string()))
                },
                jobs,
                &|done| bar.set_position(done as u64),
            )?
        }
    };
    let elapsed = started.elapsed();
    bar.finish_and_clear();

    let (mut ok, failed): (Vec<SweepRow>, Vec<SweepRow>) =
        rows.into_iter().partition(|r| r.metrics.is_some());
    if ok.is_empty() {
        let why = failed
            .first()
            .and_then(|r| r.error.clone())
            .unwrap_or_default();
        bail!(
            "the grid yields no combination that can run ({} tried; first error: {why})",
            failed.len()
        );
    }
    let descending = !a.ascending
        && !matches!(
            a.sort.as_str(),
            "max_drawdown" | "volatility" | "max_drawdown_duration"
        );
    // Undefined metrics (None) rank last either way; ties keep grid order (stable sort).
    ok.sort_by(|x, y| {
        let (mx, my) = (
            x.metrics.as_ref().and_then(|m| metric_of(m, &a.sort)),
            y.metrics.as_ref().and_then(|m| metric_of(m, &a.sort)),
        );
        match (mx, my) {
            (Some(p), Some(q)) => {
                if descending {
                    q.total_cmp(&p)
                } else {
                    p.total_cmp(&q)
                }
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    });
    let names: Vec<String> = ok[0].params.keys().cloned().collect();
    if let Some(path) = &a.csv {
        write_csv(path, &names, &ok)?;
    }
    let total_bars: u64 = ok
        .iter()
        .filter_map(|r| r.metrics.as_ref())
        .map(|m| m.bars)
        .sum();
    if a.json {
        let top: Vec<_> = ok
            .iter()
            .take(a.top)
            .map(|r| json!({"params": r.params, "metrics": r.metrics}))
            .collect();
        let v = json!({
            "strategy": a.strategy, "combinations": ok.len() + failed.len(), "skipped": failed.len(),
            "sort": a.sort, "jobs": jobs, "elapsed_ms": elapsed.as_secs_f64() * 1e3,
            "bars_per_second": (total_bars as f64 / elapsed.as_secs_f64()).round(), "top": top,
        });
        println!("{}", serde_json::to_string(&v)?);
        return Ok(());
    }
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

fn write_csv(path: &std::path::Path, names: &[String], rows: &[SweepRow]) -> anyhow::Result<()> {
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    let metrics = Metrics::SORTABLE;
    writeln!(w, "rank,{},{}", names.join(","), metrics.join(","))?;
    for (k, r) in rows.iter().enumerate() {
        let m = r
            .metrics
            .as_ref()
            .context("only successful rows are written")?;
        let p: Vec<String> = names.iter().map(|n| r.params[n].to_string()).collect();
        let v: Vec<String> = metrics
            .iter()
            .map(|n| metric_of(m, n).map_or(String::new(), |x| x.to_string()))
            .collect();
        writeln!(w, "{},{},{}", k + 1, p.join(","), v.join(","))?;
    }
    w.flush()
        .with_context(|| format!("cannot write {}", path.display()))
}
