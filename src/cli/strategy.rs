//! `qf strategy list`.

use clap::Subcommand;
use qf_engine::strategies::BUILTINS;

#[derive(Debug, Subcommand)]
pub enum StrategyCommand {
    /// List built-in strategies with their parameters and defaults.
    List,
}

pub fn run(cmd: StrategyCommand) -> anyhow::Result<()> {
    match cmd {
        StrategyCommand::List => {
            for s in BUILTINS {
                println!("{}  {}", s.name, s.description);
                for p in s.params {
                    println!(
                        "    {:<8} default {:<6} range {}..{}  {}",
                        p.name, p.default, p.min, p.max, p.help
                    );
                }
            }
            Ok(())
        }
    }
}
