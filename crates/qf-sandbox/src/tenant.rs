//! One face for both tiers: load a strategy file, check it, learn its parameters, and run it
//! — rules in process (safe by construction), Python in an isolated worker whose recorded
//! orders are replayed through the parent's engine.

use std::path::Path;
use std::time::Duration;

use qf_engine::strategies::{ParamError, ParamSpec, Params, resolve};
use qf_engine::{BacktestConfig, BacktestResult, EngineError, Strategy, StrategyError};

use crate::diag::{Diagnostic, Diagnostics};
use crate::limits::RunFailure;
use crate::ops::Replay;
use crate::pool::{Pool, SharedData};
use crate::python::{self, PythonProgram};
use crate::rules::{self, Format, RulesProgram};
use crate::worker::Isolation;

/// A tenant strategy of either tier.
pub enum TenantStrategy {
    /// A state machine in TOML or YAML.
    Rules(RulesProgram),
    /// A Python file.
    Python(PythonProgram),
}

/// Whether `name` names a strategy file rather than a built-in.
pub fn is_strategy_file(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".py", ".toml", ".yaml", ".yml"]
        .iter()
        .any(|e| lower.ends_with(e))
}

/// A run that could not finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The tenant's code failed, or broke a limit, or its worker died.
    #[error(transparent)]
    Tenant(#[from] RunFailure),
    /// The engine refused the configuration or the strategy failed in it.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// A finished run of a tenant strategy.
pub struct TenantRun {
    /// The backtest result, computed by the parent's engine.
    pub result: BacktestResult,
    /// What `print()` wrote (Python).
    pub log: String,
    /// Bytes of output dropped past the log cap.
    pub log_dropped: u64,
    /// Time spent in the tenant's code (Python).
    pub tenant_time: Duration,
    /// How the worker was isolated (Python).
    pub isolation: Option<Isolation>,
}

impl TenantStrategy {
    /// Reads and checks a strategy file; the tier follows the extension.
    pub fn load(path: &Path) -> Result<Self, Diagnostics> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path)
            .map_err(|e| Diagnostic::whole(&file, format!("cannot read the strategy file: {e}")))?;
        let source = String::from_utf8(bytes).map_err(|e| {
            let (line, col) = crate::diag::line_col(
                &String::from_utf8_lossy(e.as_bytes()),
                e.utf8_error().valid_up_to(),
            );
            Diagnostic {
                line,
                col,
                ..Diagnostic::whole(&file, "the file is not valid UTF-8 text")
            }
        })?;
        Self::from_source(&file, &source)
    }

    /// Checks source text; `file`'s extension picks the tier.
    pub fn from_source(file: &str, source: &str) -> Result<Self, Diagnostics> {
        if file.to_ascii_lowercase().ends_with(".py") {
            return python::check(file, source).map(TenantStrategy::Python);
        }
        let format = Format::from_path(file).ok_or_else(|| {
            Diagnostic::whole(file, "unknown strategy file type")
                .with_help("strategies are .py (Python), or .toml / .yaml / .yml (rules)")
        })?;
        rules::parse(file, source, format).map(TenantStrategy::Rules)
    }

    /// `python` or `rules`.
    pub fn tier(&self) -> &'static str {
        match self {
            TenantStrategy::Rules(_) => "rules",
            TenantStrategy::Python(_) => "python",
        }
    }

    /// The strategy's name: the rules file's `name`, or the Python file's stem.
    pub fn name(&self) -> String {
        match self {
            TenantStrategy::Rules(r) => r.name().to_string(),
            TenantStrategy::Python(p) => Path::new(&p.file)
                .file_stem()
                .map_or_else(|| p.file.clone(), |s| s.to_string_lossy().into_owned()),
        }
    }

    /// Declared parameters.
    pub fn params(&self) -> &[ParamSpec] {
        match self {
            TenantStrategy::Rules(r) => r.params(),
            TenantStrategy::Python(p) => &p.params,
        }
    }

    /// Declared states.
    pub fn states(&self) -> Vec<String> {
        match self {
            TenantStrategy::Rules(r) => r.states().to_vec(),
            TenantStrategy::Python(p) => p.states.clone(),
        }
    }

    /// Indicators used, as canonical calls.
    pub fn indicators(&self) -> Vec<String> {
        match self {
            TenantStrategy::Rules(r) => r.indicators(),
            TenantStrategy::Python(p) => p
                .indicators
                .iter()
                .map(|(n, s)| format!("{n} = {s}"))
                .collect(),
        }
    }

    /// Fills in defaults and checks given values against the declarations.
    pub fn resolve(&self, given: &[(String, f64)]) -> Result<Params, ParamError> {
        resolve(&self.name(), self.params(), given)
    }

    /// The checks that need the interpreter (Python syntax and unsupported features), run in
    /// a sandbox worker. Rules are fully checked by [`TenantStrategy::from_source`].
    pub fn compile_check(&self, pool: &Pool) -> Result<(), RunFailure> {
        match self {
            TenantStrategy::Rules(_) => Ok(()),
            TenantStrategy::Python(p) => pool.check(p),
        }
    }

    /// A strategy the engine can run for `params`. For Python this runs the tenant's code to
    /// completion in a worker and returns the replay of what it did.
    pub fn instantiate(
        &self,
        params: &Params,
        config: &BacktestConfig,
        data: &SharedData,
        pool: &Pool,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(Box<dyn Strategy>, Option<crate::pool::RunOutput>), RunError> {
        match self {
            TenantStrategy::Rules(r) => {
                let s = r.build(params).map_err(|d| {
                    RunError::Engine(EngineError::Start(StrategyError::new(d.to_string())))
                })?;
                Ok((Box::new(s), None))
            }
            TenantStrategy::Python(p) => {
                let mut out = pool.run(p, params, config, data, progress)?;
                // The worker is not trusted: its states must be the declared ones.
                if !p.states.is_empty() {
                    let bad = out.ops.iter().find_map(|r| match &r.op {
                        crate::ops::Op::State { to, .. }
                            if !p.states.iter().any(|s| **s == **to) =>
                        {
                            Some(to.clone())
                        }
                        _ => None,
                    });
                    if let Some(to) = bad {
                        return Err(RunFailure::new(
                            crate::limits::FailureKind::Crash,
                            &p.file,
                            format!("the sandbox worker reported an undeclared state {to:?}"),
                        )
                        .into());
                    }
                }
                let ops = std::mem::take(&mut out.ops);
                Ok((Box::new(Replay::new(ops)), Some(out)))
            }
        }
    }

    /// Runs a backtest.
    pub fn backtest(
        &self,
        params: &Params,
        config: &BacktestConfig,
        data: &SharedData,
        pool: &Pool,
        progress: &mut dyn FnMut(u64),
    ) -> Result<TenantRun, RunError> {
        self.backtest_wrapped(params, config, data, pool, progress, |s| s)
    }

    /// [`TenantStrategy::backtest`] with the strategy the engine runs passed through `wrap`
    /// first: a caller's decorator that can stop the run between bars (a cancelled job).
    pub fn backtest_wrapped<'w>(
        &self,
        params: &Params,
        config: &BacktestConfig,
        data: &SharedData,
        pool: &Pool,
        progress: &mut dyn FnMut(u64),
        wrap: impl FnOnce(Box<dyn Strategy>) -> Box<dyn Strategy + 'w>,
    ) -> Result<TenantRun, RunError> {
        let started = std::time::Instant::now();
        let (strategy, out) = self.instantiate(params, config, data, pool, progress)?;
        let mut strategy = wrap(strategy);
        // Rules report progress from the engine; a Python run already did from its worker.
        let mut tick = |done: u64| progress(done);
        let mut quiet = |_: u64| {};
        let progress: &mut dyn FnMut(u64) = if out.is_some() { &mut quiet } else { &mut tick };
        let mut result =
            qf_engine::run_backtest(config, data.series(), strategy.as_mut(), Some(progress))?;
        Ok(match out {
            Some(o) => {
                // The run's cost is the isolated run plus the replay, not the replay alone.
                result.elapsed = started.elapsed();
                TenantRun {
                    result,
                    log: o.log,
                    log_dropped: o.log_dropped,
                    tenant_time: o.tenant_time,
                    isolation: Some(o.isolation),
                }
            }
            None => TenantRun {
                result,
                log: String::new(),
                log_dropped: 0,
                tenant_time: Duration::ZERO,
                isolation: None,
            },
        })
    }
}
