//! `qf data inspect` and `qf data convert`.

use std::path::PathBuf;

use clap::Subcommand;

use qf_data::{LoadOptions, inspect, load_bars, sample_bars, write_bars};

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Print a quality report: rows, time range, bar interval, gaps, duplicates, bad bars.
    Inspect {
        /// CSV or Parquet file.
        file: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Convert between CSV and Parquet (by extension); the output is validated bars.
    Convert {
        /// Input file.
        input: PathBuf,
        /// Output file (.csv or .parquet).
        output: PathBuf,
        /// Sort rows by time instead of rejecting out-of-order timestamps.
        #[arg(long)]
        sort: bool,
        /// Drop duplicate timestamps (keeping the last) instead of rejecting them.
        #[arg(long)]
        dedupe: bool,
    },
    /// Write seeded sample data (the demo's generator): one-minute bars of a random walk.
    Sample {
        /// Output file (.csv or .parquet).
        output: PathBuf,
        /// Number of bars.
        #[arg(long, default_value_t = 1_000_000)]
        bars: usize,
        /// Random seed; the same seed gives the same file on every machine.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Symbol written in the file.
        #[arg(long, default_value = "SAMPLE")]
        symbol: String,
    },
}

pub fn run(cmd: DataCommand) -> anyhow::Result<()> {
    match cmd {
        DataCommand::Inspect { file, json } => {
            let report = inspect(&file)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                let text = report.to_string();
                print!("{text}");
                if !text.ends_with('\n') {
                    println!();
                }
            }
        }
        DataCommand::Convert {
            input,
            output,
            sort,
            dedupe,
        } => {
            if input == output {
                anyhow::bail!("input and output are the same file: {}", input.display());
            }
            let loaded = load_bars(
                &input,
                &LoadOptions {
                    sort,
                    dedupe,
                    ..LoadOptions::default()
                },
            )?;
            write_bars(&output, &loaded.series)?;
            let bars: usize = loaded.series.iter().map(|s| s.bars.len()).sum();
            eprintln!(
                "wrote {bars} bars of {} symbol(s) to {}",
                loaded.series.len(),
                output.display()
            );
        }
        DataCommand::Sample {
            output,
            bars,
            seed,
            symbol,
        } => {
            if bars == 0 {
                anyhow::bail!("--bars must be at least 1");
            }
            write_bars(&output, &[sample_bars(&symbol, bars, seed)])?;
            eprintln!("wrote {bars} bars of {symbol} to {}", output.display());
        }
    }
    Ok(())
}
