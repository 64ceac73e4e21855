//! Arguments shared by `backtest` and `sweep`: data files, engine settings, strategy choice,
//! turned into domain values once, here at the boundary.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::Args;

use qf_core::{BarSeries, InstrumentId};
use qf_data::{LoadOptions, SourceInfo, load_bars, sample_bars};
use qf_engine::BacktestConfig;
use qf_jobs::execute::{DEFAULT_CASH, Decimal, EngineSettings, StrategyCode};
use qf_sandbox::limits::Limits;
use qf_sandbox::pool::Pool;
use qf_sandbox::tenant::{TenantStrategy, is_strategy_file};
use std::time::Duration;

/// Where the bars come from.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// CSV or Parquet file with timestamp,open,high,low,close,volume[,symbol]; repeat for
    /// several instruments.
    #[arg(long = "data", value_name = "FILE")]
    pub data: Vec<PathBuf>,
    /// Sort rows by time instead of rejecting out-of-order timestamps. Set from `--sort` by
    /// `backtest` and from `--sort-rows` by `sweep`, whose `--sort` picks the ranking metric.
    #[arg(skip)]
    pub sort: bool,
    /// Drop duplicate timestamps (keeping the last) instead of rejecting them.
    #[arg(long)]
    pub dedupe: bool,
    /// Decimal places of prices (default: inferred from the data).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=9))]
    pub price_precision: Option<u8>,
    /// Decimal places of order quantities (default 0: whole units).
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=9))]
    pub size_precision: u8,
}

/// Built-in demo data: 200,000 one-minute bars of a seeded random walk.
pub const DEMO_BARS: usize = 200_000;
pub const DEMO_SEED: u64 = 7;

impl DataArgs {
    /// Loads every file, numbering instruments across files in order.
    pub fn load(&self, demo: bool) -> anyhow::Result<(Vec<BarSeries>, Vec<SourceInfo>)> {
        if demo {
            if !self.data.is_empty() {
                bail!("--demo uses built-in data; leave out --data");
            }
            let s = sample_bars("DEMO", DEMO_BARS, DEMO_SEED);
            let info = SourceInfo {
                file: format!("built-in sample (seed {DEMO_SEED})"),
                format: "generated",
                rows: s.bars.len(),
                symbols: vec![s.instrument.symbol.clone()],
                timestamp_format: "generated",
                reordered_rows: 0,
                dropped_duplicates: 0,
            };
            return Ok((vec![s], vec![info]));
        }
        if self.data.is_empty() {
            bail!("no data: give --data FILE (CSV or Parquet), or --demo for built-in sample data");
        }
        let mut series: Vec<BarSeries> = Vec::new();
        let mut infos = Vec::new();
        for path in &self.data {
            let opts = LoadOptions {
                sort: self.sort,
                dedupe: self.dedupe,
                symbol: None,
                price_precision: self.price_precision,
                size_precision: self.size_precision,
            };
            let loaded = load_bars(path, &opts)?;
            let info = SourceInfo::of(path.display().to_string(), &loaded);
            for mut s in loaded.series {
                if let Some(other) = series
                    .iter()
                    .find(|o| o.instrument.symbol == s.instrument.symbol)
                {
                    bail!(
                        "symbol {} appears in more than one data file ({} and {}); give each instrument once",
                        other.instrument.symbol,
                        infos
                            .iter()
                            .map(|i: &SourceInfo| i.file.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        path.display()
                    );
                }
                s.instrument.id = InstrumentId(series.len() as u32);
                series.push(s);
            }
            infos.push(info);
        }
        Ok((series, infos))
    }
}

/// Money, fees, fills and sizing.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// Starting cash.
    #[arg(
        long,
        default_value = DEFAULT_CASH,
        value_name = "AMOUNT",
        allow_hyphen_values = true
    )]
    pub cash: String,
    /// Trade a fixed quantity per entry.
    #[arg(
        long,
        value_name = "QTY",
        conflicts_with = "percent",
        allow_hyphen_values = true
    )]
    pub size: Option<String>,
    /// Size each entry to P percent of equity (e.g. 95).
    #[arg(long, value_name = "P", allow_negative_numbers = true)]
    pub percent: Option<f64>,
    /// Commission per unit traded.
    #[arg(
        long,
        default_value = "0",
        value_name = "AMOUNT",
        allow_hyphen_values = true
    )]
    pub fee_per_unit: String,
    /// Commission in basis points of notional.
    #[arg(
        long,
        default_value = "0",
        value_name = "BPS",
        allow_hyphen_values = true
    )]
    pub fee_bps: String,
    /// Minimum commission per fill.
    #[arg(
        long,
        default_value = "0",
        value_name = "AMOUNT",
        allow_hyphen_values = true
    )]
    pub fee_min: String,
    /// Slippage in basis points on market and stop fills.
    #[arg(
        long,
        value_name = "BPS",
        conflicts_with = "slippage_ticks",
        allow_hyphen_values = true
    )]
    pub slippage_bps: Option<String>,
    /// Slippage in ticks on market and stop fills.
    #[arg(long, value_name = "N")]
    pub slippage_ticks: Option<u32>,
    /// OPTIMISTIC: fill market orders at the close of the bar they were decided on.
    #[arg(long)]
    pub fill_at_close: bool,
    /// Largest gross exposure as a multiple of equity (1 = no leverage; shorts need margin).
    #[arg(
        long,
        default_value_t = 1.0,
        value_name = "X",
        allow_negative_numbers = true
    )]
    pub leverage: f64,
}

impl EngineArgs {
    /// The same settings as the API takes them.
    pub fn settings(&self) -> EngineSettings {
        let text = |s: &String| Decimal::from(s.as_str());
        EngineSettings {
            cash: Some(text(&self.cash)),
            size: self.size.as_ref().map(text),
            percent: self.percent,
            fee_per_unit: Some(text(&self.fee_per_unit)),
            fee_bps: Some(text(&self.fee_bps)),
            fee_min: Some(text(&self.fee_min)),
            slippage_bps: self.slippage_bps.as_ref().map(text),
            slippage_ticks: self.slippage_ticks,
            leverage: Some(self.leverage),
            fill_at_close: self.fill_at_close,
        }
    }

    /// The engine configuration these flags describe.
    pub fn config(&self, record: bool) -> anyhow::Result<BacktestConfig> {
        self.settings()
            .config(record)
            .map_err(|p| anyhow::anyhow!("{}", p.command_line_message()))
    }
}

/// A built-in by name, or a strategy file by path (`.py`, `.toml`, `.yaml`, `.yml`).
pub fn load_strategy(name: &str) -> anyhow::Result<StrategyCode> {
    if is_strategy_file(name) {
        let t =
            TenantStrategy::load(std::path::Path::new(name)).map_err(|d| anyhow::anyhow!("{d}"))?;
        return Ok(StrategyCode::Tenant {
            file: name.to_string(),
            strategy: Arc::new(t),
        });
    }
    StrategyCode::builtin(name).map_err(anyhow::Error::msg)
}

/// Limits for tenant code (Python strategies run in a sandbox worker process).
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Longest one call of a Python strategy's on_bar may run, in milliseconds.
    #[arg(long, default_value_t = 100, value_name = "MS")]
    pub call_ms: u64,
    /// Longest a whole sandboxed run may take, in seconds (the worker is killed past it).
    #[arg(long, default_value_t = 600, value_name = "S")]
    pub run_seconds: u64,
    /// Memory of a sandbox worker, bars included, in MiB.
    #[arg(long, default_value_t = 1024, value_name = "MIB")]
    pub memory_mb: usize,
    /// Write what the strategy printed to this file.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
}

impl SandboxArgs {
    /// The limits these flags describe.
    pub fn limits(&self) -> anyhow::Result<Limits> {
        if self.call_ms == 0 || self.run_seconds == 0 || self.memory_mb < 64 {
            bail!(
                "sandbox limits: --call-ms and --run-seconds must be positive and --memory-mb at least 64"
            );
        }
        let run = Duration::from_secs(self.run_seconds);
        Ok(Limits {
            call_time: Duration::from_millis(self.call_ms),
            run_cpu: run,
            run_wall: run,
            memory_bytes: self.memory_mb << 20,
            ..Limits::default()
        })
    }

    /// A pool for `code` when it is tenant code (built-ins need none).
    pub fn pool_for(&self, code: &StrategyCode) -> anyhow::Result<Option<Pool>> {
        match code {
            StrategyCode::Builtin { .. } => Ok(None),
            StrategyCode::Tenant { .. } => self.pool().map(Some),
        }
    }

    /// A pool of sandbox workers: this same binary in its hidden `sandbox-worker` mode.
    pub fn pool(&self) -> anyhow::Result<Pool> {
        let exe = std::env::current_exe()
            .context("cannot find the qf executable to start sandbox workers")?;
        Ok(Pool::new(
            exe,
            vec!["sandbox-worker".into()],
            self.limits()?,
        ))
    }
}

/// Parses `name=value`.
pub fn parse_param(text: &str) -> anyhow::Result<(String, f64)> {
    let (k, v) = text
        .split_once('=')
        .with_context(|| format!("--param {text:?} must look like name=value"))?;
    let value: f64 = v
        .trim()
        .parse()
        .with_context(|| format!("--param {text:?}: {v:?} is not a number"))?;
    Ok((k.trim().to_string(), value))
}
