//! `qf backtest`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use qf_report::{ReportMeta, render_html};

use qf_sandbox::pool::SharedData;

use super::inputs::{Chosen, DataArgs, EngineArgs, SandboxArgs, parse_param};
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
    /// Write the closed trades to this CSV file.
    #[arg(long, value_name = "FILE")]
    trades: Option<PathBuf>,
    /// Write the equity curve to this CSV file.
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
    let chosen = Chosen::load(name)?;
    let given = a
        .params
        .iter()
        .map(|p| parse_param(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let params = chosen.resolve(&given)?;
    let record = a.report.is_some() || a.equity.is_some() || a.trades.is_some();
    let config = a.engine.config(record)?;
    a.data.sort = a.sort;
    let (series, sources) = a.data.load(a.demo)?;

    let total: u64 = series.iter().map(|s| s.bars.len() as u64).sum();
    let bar = progress::bar(total, "bars");
    let mut tick = |done: u64| bar.set_position(done);
    let mut sandbox = None;
    let result = match &chosen {
        Chosen::Builtin(b) => {
            let mut strategy = b.build(&params)?;
            qf_engine::run_backtest(&config, &series, strategy.as_mut(), Some(&mut tick))?
        }
        Chosen::Tenant(t) => {
            let pool = a.sandbox.pool()?;
            let data = SharedData::new(series);
            let run = t.backtest(&params, &config, &data, &pool, &mut tick)?;
            if let Some(p) = &a.sandbox.log {
                std::fs::write(p, &run.log)
                    .with_context(|| format!("cannot write {}", p.display()))?;
            }
            sandbox = Some(serde_json::json!({
                "tier": t.tier(),
                "file": name,
                "tenant_time_ms": run.tenant_time.as_secs_f64() * 1e3,
                "log_bytes": run.log.len(),
                "log_dropped_bytes": run.log_dropped,
                "isolation": run.isolation,
                "state_changes": run.result.states.len(),
            }));
            run.result
        }
    };
    bar.finish_and_clear();
    let name = chosen.name();
    let name = name.as_str();

    if let Some(p) = &a.trades {
        output::write_trades(p, &result)?;
    }
    if let Some(p) = &a.equity {
        output::write_equity(p, &result)?;
    }
    if let Some(p) = &a.report {
        let meta = ReportMeta {
            title: format!("{name} backtest"),
            strategy: name.to_string(),
            params: params
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
            data_sources: sources.iter().map(|s| s.file.clone()).collect(),
            generated_by: format!("qf {}", env!("CARGO_PKG_VERSION")),
        };
        std::fs::write(p, render_html(&result, &meta))
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    if a.json {
        let mut v = output::backtest_json(&result, name, &params, &sources)?;
        if let (Some(sb), Some(obj)) = (sandbox.as_ref(), v.as_object_mut()) {
            obj.insert("sandbox".into(), sb.clone());
        }
        println!("{}", serde_json::to_string(&v)?);
    } else {
        output::print_summary(&result, &sources);
        if let Some(sb) = &sandbox {
            println!(
                "{:>24}  {} strategy, {:.0} ms in tenant code, {} state changes, {} bytes printed{}",
                "sandbox",
                sb["tier"].as_str().unwrap_or(""),
                sb["tenant_time_ms"].as_f64().unwrap_or(0.0),
                sb["state_changes"],
                sb["log_bytes"],
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
