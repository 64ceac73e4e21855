//! `qf strategy list` and `qf strategy check`.

use std::path::PathBuf;

use clap::Subcommand;
use qf_engine::strategies::BUILTINS;
use qf_sandbox::tenant::TenantStrategy;
use serde_json::json;

use super::inputs::SandboxArgs;

#[derive(Debug, Subcommand)]
pub enum StrategyCommand {
    /// List built-in strategies with their parameters and defaults.
    List,
    /// Check a strategy file (Python .py, rules .toml/.yaml) without running it: syntax,
    /// unsupported features, hooks, parameters, indicators and states. Every problem is
    /// reported with file, line and column; the exit status is 1 if there is any.
    Check {
        /// The strategy file.
        file: PathBuf,
        /// Print one JSON object: {"ok": true, ...} or {"ok": false, "problems": [...]}.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        sandbox: SandboxArgs,
    },
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
        StrategyCommand::Check {
            file,
            json,
            sandbox,
        } => check(&file, json, &sandbox),
    }
}

fn check(file: &std::path::Path, as_json: bool, sandbox: &SandboxArgs) -> anyhow::Result<()> {
    let problems = match TenantStrategy::load(file) {
        Err(d) => Err(d.0),
        Ok(t) => match t.compile_check(&sandbox.pool()?) {
            Ok(()) => Ok(t),
            Err(f) => Err(vec![qf_sandbox::diag::Diagnostic {
                file: file.display().to_string(),
                line: f.line,
                col: f.col,
                message: f.message,
                help: None,
                source_line: f.source_line,
            }]),
        },
    };
    match problems {
        Ok(t) => {
            let params: Vec<_> = t
                .params()
                .iter()
                .map(|p| json!({"name": p.name, "default": p.default, "min": p.min, "max": p.max, "integer": p.integer}))
                .collect();
            if as_json {
                let v = json!({"ok": true, "name": t.name(), "tier": t.tier(), "params": params,
                    "indicators": t.indicators(), "states": t.states()});
                println!("{}", serde_json::to_string(&v)?);
            } else {
                println!("ok: {} ({} strategy)", t.name(), t.tier());
                for p in t.params() {
                    println!("    param      {} = {}", p.name, p.default);
                }
                for i in t.indicators() {
                    println!("    indicator  {i}");
                }
                if !t.states().is_empty() {
                    println!("    states     {}", t.states().join(", "));
                }
            }
            Ok(())
        }
        Err(problems) => {
            if as_json {
                println!(
                    "{}",
                    serde_json::to_string(&json!({"ok": false, "problems": problems}))?
                );
            } else {
                for p in &problems {
                    eprintln!("{p}\n");
                }
                eprintln!(
                    "{} problem{} found",
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                );
            }
            std::process::exit(1);
        }
    }
}
