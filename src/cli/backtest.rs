//! `qf backtest`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use qf_jobs::execute;
use qf_report::tables::Table;

use super::inputs::{DataArgs, EngineArgs, SandboxArgs, load_strategy, parse_param};
use super::{output, progress};

#[derive(Debug, Args)]
pub struct BacktestArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    sandbox: SandboxArgs,
    /// Sort rows by time instead of rejecting out-of-order timestamps.
    #[arg(long)]
    sort: bool,
    /// Built-in strategy (see `qf strategy list`), or a strategy file: Python (.py) or
    /// rules (.toml, .yaml).
    #[arg(long, value_name = "NAME|FILE")]
    strategy: Option<String>,
    /// Strategy parameter as name=value; repeatable.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Print one JSON object with the results on stdout.
    #[arg(long)]
    json: bool,
    /// Write the closed trades to this file: Parquet when it ends in .parquet, else CSV.
    #[arg(long, value_name = "FILE")]
    trades: Option<PathBuf>,
    /// Write the equity curve to this file: Parquet when it ends in .parquet, else CSV.
    #[arg(long, value_name = "FILE")]
    equity: Option<PathBuf>,
    /// Write a self-contained HTML tearsheet to this file.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Run on built-in sample data (sma_cross 50/200, 95% of equity unless given) and write
    /// a report to qf-demo-report.html.
    #[arg(long)]
    demo: bool,
}

pub fn run(mut a: BacktestArgs) -> anyhow::Result<()> {
    if a.demo {
        a.strategy.get_or_insert_with(|| "sma_cross".into());
        if a.params.is_empty() && a.strategy.as_deref() == Some("sma_cross") {
            a.params = vec!["fast=50".into(), "slow=200".into()];
        }
        if a.engine.size.is_none() && a.engine.percent.is_none() {
            a.engine.percent = Some(95.0);
        }
        a.report
            .get_or_insert_with(|| PathBuf::from("qf-demo-report.html"));
    }
    let name = a
        .strategy
        .as_deref()
        .context("choose a strategy with --strategy NAME or FILE (see `qf strategy list`)")?;
    let code = load_strategy(name)?;
    let given = a
        .params
        .iter()
        .map(|p| parse_param(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let params = code.resolve(&given)?;
    let record = a.report.is_some() || a.equity.is_some() || a.trades.is_some();
    let config = a.engine.config(record)?;
    a.data.sort = a.sort;
    let (series, sources) = a.data.load(a.demo)?;
    let data = serde_json::to_value(&sources)?;

    let total: u64 = series.iter().map(|s| s.bars.len() as u64).sum();
    let bar = progress::bar(total, "bars");
    let pool = a.sandbox.pool_for(&code)?;
    let run = execute::backtest(
        &code,
        &params,
        &config,
        series,
        pool.as_ref(),
        &mut |done| bar.set_position(done),
        None,
    )?;
    bar.finish_and_clear();
    if let (Some(p), Some(sb)) = (&a.sandbox.log, &run.sandbox) {
        std::fs::write(p, &sb.log).with_context(|| format!("cannot write {}", p.display()))?;
    }
    let name = code.name();
    let name = name.as_str();

    if let Some(p) = &a.trades {
        output::write_table(p, Table::Trades, &run.result)?;
    }
    if let Some(p) = &a.equity {
        output::write_table(p, Table::Equity, &run.result)?;
    }
    if let Some(p) = &a.report {
        std::fs::write(p, run.report_html(name, &params, &data))
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    if a.json {
        let v = run.to_json(name, &params, data)?;
        println!("{}", serde_json::to_string(&v)?);
    } else {
        output::print_summary(&run.result, &sources);
        if let Some(sb) = &run.sandbox {
            println!(
                "{:>24}  {} strategy, {:.0} ms in tenant code, {} state changes, {} bytes printed{}",
                "sandbox",
                sb.tier,
                sb.tenant_time.as_secs_f64() * 1e3,
                sb.state_changes,
                sb.log.len(),
                a.sandbox
                    .log
                    .as_ref()
                    .map_or(String::new(), |p| format!(" (log: {})", p.display()))
            );
        }
        if let Some(p) = &a.report {
            println!("{:>24}  {}", "report", p.display());
        }
    }
    Ok(())
}
