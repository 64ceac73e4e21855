//! Command-line parsing and the commands.

mod backtest;
mod data;
mod inputs;
mod output;
mod progress;
mod service;
mod strategy;
mod sweep;

use clap::{Parser, Subcommand};

/// Quantforge: backtest, sweep and inspect systematic trading strategies.
#[derive(Debug, Parser)]
#[command(name = "qf", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Backtest one strategy on one or more data files.
    Backtest(backtest::BacktestArgs),
    /// Backtest every combination of a parameter grid in parallel and rank them.
    Sweep(sweep::SweepArgs),
    /// Inspect and convert market-data files.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// List built-in strategies; check strategy files.
    #[command(subcommand)]
    Strategy(strategy::StrategyCommand),
    /// Run the platform: the /v1 HTTP API with in-process job workers.
    Serve(service::ServeArgs),
    /// Run job workers alone against the configured database and object store.
    Worker(service::WorkerArgs),
    /// Bring the database schema up to date (also done at start).
    Migrate(service::ConfigArgs),
    /// Show the effective configuration.
    #[command(subcommand)]
    Config(service::ConfigCommand),
    /// Create tenants, accounts and API keys without the API.
    #[command(subcommand)]
    Admin(service::AdminCommand),
    /// Internal: serve sandboxed strategy runs on stdin/stdout (started by qf itself).
    #[command(hide = true)]
    SandboxWorker(WorkerArgs),
}

/// Limits a sandbox worker is started with (see `qf_sandbox::limits::Limits`).
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    #[arg(long)]
    call_ms: u64,
    #[arg(long)]
    run_cpu_s: u64,
    #[arg(long)]
    memory_mb: usize,
    #[arg(long)]
    recursion: usize,
    #[arg(long)]
    log_bytes: usize,
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Backtest(a) => backtest::run(a),
        Command::Sweep(a) => sweep::run(a),
        Command::Data(c) => data::run(c),
        Command::Strategy(c) => strategy::run(c),
        Command::Serve(a) => service::serve(a),
        Command::Worker(a) => service::worker(a),
        Command::Migrate(a) => service::migrate(a),
        Command::Config(c) => service::config(c),
        Command::Admin(c) => service::admin(c),
        Command::SandboxWorker(w) => {
            let limits = qf_sandbox::limits::Limits {
                call_time: std::time::Duration::from_millis(w.call_ms),
                run_cpu: std::time::Duration::from_secs(w.run_cpu_s),
                memory_bytes: w.memory_mb << 20,
                recursion: w.recursion,
                log_bytes: w.log_bytes,
                ..Default::default()
            };
            std::process::exit(qf_sandbox::worker::worker_main(limits))
        }
    }
}
