//! Command-line parsing and the commands.

mod backtest;
mod data;
mod inputs;
mod output;
mod progress;
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
    /// List the built-in strategies and their parameters.
    #[command(subcommand)]
    Strategy(strategy::StrategyCommand),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Backtest(a) => backtest::run(a),
        Command::Sweep(a) => sweep::run(a),
        Command::Data(c) => data::run(c),
        Command::Strategy(c) => strategy::run(c),
    }
}
