//! The synchronous core of a run: a backtest or a sweep of strategy code on bars, to the
//! same results `qf backtest` and `qf sweep` give — the command line calls this same code.
//!
//! Job workers call [`run_backtest`] and [`run_sweep`] on a blocking thread with bars from
//! the catalog and store what they return ([`BacktestArtifacts`], [`SweepArtifacts`]). The
//! API checks a submission with [`compile_strategy`] and [`check_backtest`] /
//! [`check_sweep`] first, so a bad request is a 4xx at submit time, not a failed job.
//!
//! Nothing here is async, touches the network or the database, or knows about tenants:
//! the caller passes the bars, the description of where they came from and a sandbox pool.
//! A run stops early when its `cancel` flag is raised (between bars; a Python run in a
//! sandbox worker finishes the worker's part first).

mod code;
mod request;

pub use code::{
    CodeError, StrategyCode, StrategyInfo, StrategyProblem, check_compiles, compile_strategy,
};
pub use request::{
    BacktestRequest, DEFAULT_CASH, DEFAULT_SORT, DEFAULT_TOP, Decimal, EngineSettings, PlanError,
    RequestProblem, SweepRequest, check_backtest, check_sort, check_sweep, sweep_params,
};

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use qf_core::BarSeries;
use qf_engine::strategies::Params;
use qf_engine::{
    BacktestConfig, BacktestResult, Context, EngineError, Ranking, StartContext, Strategy,
    StrategyError, SweepRow,
};
use qf_report::tables::{self, Table};
use qf_report::{ReportMeta, export, render_html};
use qf_sandbox::limits::{FailureKind, RunFailure};
use qf_sandbox::pool::{Pool, SharedData};
use qf_sandbox::tenant::RunError;
use qf_sandbox::worker::Isolation;

/// Where problem types are documented; the slug is appended. A failed run stores an RFC 9457
/// problem object ([`ExecError::problem`], [`StrategyProblem::to_json`]) whose `type` starts
/// with it, and the API's own problems use the same base.
pub const PROBLEM_TYPE_BASE: &str = "https://quantforge.dev/problems/";

/// Why a run did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The tenant's code failed: a located problem object (`strategy-failed` with `kind`,
    /// `message`, `file`, `line`, `column`, …, or `strategy-invalid` with `errors`).
    #[error("{}", detail(problem))]
    Tenant {
        /// The problem, as stored with the run.
        problem: Value,
    },
    /// The sandbox worker running the tenant's code died (a crash of the interpreter): the
    /// same run may well succeed on another attempt.
    #[error("{}", detail(problem))]
    WorkerCrashed {
        /// The problem, as stored with the run.
        problem: Value,
    },
    /// The request cannot run on this strategy and data.
    #[error("{0}")]
    Invalid(String),
    /// The run was cancelled.
    #[error("the run was cancelled")]
    Cancelled,
    /// Something failed on our side.
    #[error("{0}")]
    Internal(String),
}

fn detail(problem: &Value) -> &str {
    problem["detail"].as_str().unwrap_or("the strategy failed")
}

impl ExecError {
    /// Whether running the job again may succeed: internal failures and crashed workers.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            ExecError::Internal(_) | ExecError::WorkerCrashed { .. }
        )
    }

    /// The RFC 9457 problem object stored with a failed run. Internal failures say only
    /// that: their cause may hold paths or details of the host, and is logged instead.
    pub fn problem(&self) -> Value {
        let simple = |slug: &str, title: &str, detail: &str| json!({"type": format!("{PROBLEM_TYPE_BASE}{slug}"), "title": title, "detail": detail});
        match self {
            ExecError::Tenant { problem } | ExecError::WorkerCrashed { problem } => problem.clone(),
            ExecError::Invalid(m) => simple("run-invalid", "The run cannot start", m),
            ExecError::Cancelled => simple("cancelled", "Cancelled", "the run was cancelled"),
            ExecError::Internal(_) => simple(
                "internal",
                "Internal error",
                "the run failed on our side; it is retried, and if it keeps failing, report it with the run's id",
            ),
        }
    }

    /// A failure of tenant code, located.
    fn failed(f: &RunFailure) -> Self {
        let mut problem = json!({
            "type": format!("{PROBLEM_TYPE_BASE}strategy-failed"),
            "title": "Strategy failed",
            "detail": f.to_string(),
            "kind": f.kind,
            "message": f.message,
            "file": f.file,
            "line": f.line,
            "column": f.col,
        });
        if let Some(obj) = problem.as_object_mut() {
            if let Some(function) = &f.function {
                obj.insert("function".into(), json!(function));
            }
            if let Some(source) = &f.source_line {
                obj.insert("source_line".into(), json!(source));
            }
            if let Some((index, time)) = f.bar {
                obj.insert("bar".into(), json!({"index": index, "time": time}));
            }
        }
        match f.kind {
            // Starting a worker, or a reply we cannot read, is our side.
            FailureKind::Crash if f.file.is_empty() => ExecError::Internal(f.to_string()),
            FailureKind::Crash => ExecError::WorkerCrashed { problem },
            _ => ExecError::Tenant { problem },
        }
    }

    /// An engine error of a run of tenant code (`file`) or of a built-in (`None`).
    fn engine(e: EngineError, file: Option<&str>) -> Self {
        match (e, file) {
            (e @ (EngineError::Strategy { .. } | EngineError::Start(_)), Some(file)) => {
                let (message, bar) = match &e {
                    EngineError::Strategy { bar, time, source } => {
                        (source.to_string(), Some((*bar, *time)))
                    }
                    EngineError::Start(source) => (source.to_string(), None),
                    _ => (e.to_string(), None),
                };
                let mut f = RunFailure::new(FailureKind::Exception, file, message);
                f.bar = bar;
                let mut err = ExecError::failed(&f);
                // The engine's own wording ("strategy error at bar …") is what `qf` prints.
                if let ExecError::Tenant { problem } = &mut err {
                    problem["detail"] = json!(e.to_string());
                }
                err
            }
            // A built-in failing mid-run is our bug, not the tenant's request.
            (e @ EngineError::Strategy { .. }, None) => ExecError::Internal(e.to_string()),
            (e, _) => ExecError::Invalid(e.to_string()),
        }
    }

    fn run(e: RunError, file: &str) -> Self {
        match e {
            RunError::Tenant(f) => ExecError::failed(&f),
            RunError::Engine(e) => ExecError::engine(e, Some(file)),
        }
    }
}

impl From<RequestProblem> for ExecError {
    fn from(p: RequestProblem) -> Self {
        ExecError::Invalid(p.to_string())
    }
}

/// What a run of tenant code in the sandbox reported besides the result.
#[derive(Debug, Clone)]
pub struct SandboxRun {
    /// `python` or `rules`.
    pub tier: &'static str,
    /// The strategy file as named.
    pub file: String,
    /// What the strategy printed (bounded).
    pub log: String,
    /// Bytes of output dropped past the log cap.
    pub log_dropped: u64,
    /// Time spent in tenant code.
    pub tenant_time: Duration,
    /// How the worker was isolated (Python).
    pub isolation: Option<Isolation>,
    /// State changes the strategy announced.
    pub state_changes: usize,
}

impl SandboxRun {
    /// The `sandbox` member of a backtest's result.
    pub fn to_json(&self) -> Value {
        json!({
            "tier": self.tier,
            "file": self.file,
            "tenant_time_ms": self.tenant_time.as_secs_f64() * 1e3,
            "log_bytes": self.log.len(),
            "log_dropped_bytes": self.log_dropped,
            "isolation": self.isolation,
            "state_changes": self.state_changes,
        })
    }
}

/// A finished backtest.
#[derive(Debug, Clone)]
pub struct Backtested {
    /// The engine's result.
    pub result: BacktestResult,
    /// For tenant code, what the sandbox reported.
    pub sandbox: Option<SandboxRun>,
}

impl Backtested {
    /// The object `qf backtest --json` prints: [`export::backtest_json`], plus `sandbox`
    /// for tenant code. `data` describes where the bars came from (`[{file, format, rows,
    /// symbols, …}]`).
    pub fn to_json(
        &self,
        strategy: &str,
        params: &Params,
        data: Value,
    ) -> Result<Value, ExecError> {
        let mut v = export::backtest_json(&self.result, strategy, params, data)
            .map_err(|e| ExecError::Internal(format!("cannot describe the result: {e}")))?;
        if let (Some(sb), Some(obj)) = (&self.sandbox, v.as_object_mut()) {
            obj.insert("sandbox".into(), sb.to_json());
        }
        Ok(v)
    }

    /// The HTML tearsheet, with the data sources named by the `file` of each entry of
    /// `data`.
    pub fn report_html(&self, strategy: &str, params: &Params, data: &Value) -> String {
        let meta = ReportMeta {
            title: format!("{strategy} backtest"),
            strategy: strategy.to_string(),
            params: params
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
            data_sources: data
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s["file"].as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
            generated_by: format!("qf {}", env!("CARGO_PKG_VERSION")),
        };
        render_html(&self.result, &meta)
    }
}

/// Runs `code` with resolved `params` on `series` (instrument ids 0, 1, … in order).
///
/// Tenant code needs `pool` (Python runs in its workers). `progress` gets the bars done;
/// when `cancel` is given and raised the run stops at the next bar it checks and returns
/// [`ExecError::Cancelled`].
pub fn backtest(
    code: &StrategyCode,
    params: &Params,
    config: &BacktestConfig,
    series: Vec<BarSeries>,
    pool: Option<&Pool>,
    progress: &mut dyn FnMut(u64),
    cancel: Option<&AtomicBool>,
) -> Result<Backtested, ExecError> {
    finish(Ok(()), cancel)?;
    let outcome = match code {
        StrategyCode::Builtin { .. } => {
            let b = code.native().ok_or_else(|| {
                ExecError::Invalid(format!("no built-in strategy {:?}", code.name()))
            })?;
            let strategy = b
                .build(params)
                .map_err(|e| ExecError::Invalid(e.to_string()))?;
            let mut strategy = cancellable(strategy, cancel);
            qf_engine::run_backtest(config, &series, strategy.as_mut(), Some(progress))
                .map(|result| Backtested {
                    result,
                    sandbox: None,
                })
                .map_err(|e| ExecError::engine(e, None))
        }
        StrategyCode::Tenant { file, strategy: t } => {
            let pool =
                pool.ok_or_else(|| ExecError::Internal("tenant code needs a sandbox pool".into()))?;
            let data = SharedData::new(series);
            t.backtest_wrapped(params, config, &data, pool, progress, |s| {
                cancellable(s, cancel)
            })
            .map_err(|e| ExecError::run(e, file))
            .map(|run| {
                let sandbox = SandboxRun {
                    tier: t.tier(),
                    file: file.to_string(),
                    log: run.log,
                    log_dropped: run.log_dropped,
                    tenant_time: run.tenant_time,
                    isolation: run.isolation,
                    state_changes: run.result.states.len(),
                };
                Backtested {
                    result: run.result,
                    sandbox: Some(sandbox),
                }
            })
        }
    };
    finish(outcome, cancel)
}

/// A cancel raised during a run wins over whatever the run returned.
fn finish<T>(outcome: Result<T, ExecError>, cancel: Option<&AtomicBool>) -> Result<T, ExecError> {
    if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
        return Err(ExecError::Cancelled);
    }
    outcome
}

/// Runs one backtest per parameter set on `jobs` threads; rows come back in input order.
/// Combinations that fail (refused by the strategy, or its code failed) are rows with an
/// error, as in `qf sweep`. A raised `cancel` stops the sweep between combinations.
#[allow(clippy::too_many_arguments)]
pub fn sweep(
    code: &StrategyCode,
    params: Vec<Params>,
    config: &BacktestConfig,
    series: Vec<BarSeries>,
    pool: Option<&Pool>,
    jobs: usize,
    progress: &(dyn Fn(usize) + Sync),
    cancel: Option<&AtomicBool>,
) -> Result<Vec<SweepRow>, ExecError> {
    finish(Ok(()), cancel)?;
    let stopped = || StrategyError::new("the run was cancelled");
    let is_cancelled = || cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    let rows = match code {
        StrategyCode::Builtin { .. } => {
            let b = code.native().ok_or_else(|| {
                ExecError::Invalid(format!("no built-in strategy {:?}", code.name()))
            })?;
            qf_engine::run_sweep(
                config,
                &series,
                params,
                |p| {
                    if is_cancelled() {
                        return Err(stopped());
                    }
                    b.build(p)
                },
                jobs,
                progress,
            )
        }
        StrategyCode::Tenant { strategy, .. } => {
            let pool =
                pool.ok_or_else(|| ExecError::Internal("tenant code needs a sandbox pool".into()))?;
            // Python runs in sandbox workers, one per thread; each worker is sent the bars
            // once and keeps them for its later runs.
            let data = SharedData::new(series);
            qf_engine::run_sweep(
                config,
                data.series(),
                params,
                |p| {
                    if is_cancelled() {
                        return Err(stopped());
                    }
                    strategy
                        .instantiate(p, config, &data, pool, &mut |_| {})
                        .map(|(s, _)| s)
                        .map_err(|e| StrategyError::new(e.to_string()))
                },
                jobs,
                progress,
            )
        }
    };
    finish(rows.map_err(|e| ExecError::engine(e, None)), cancel)
}

/// Ranks a sweep's rows by `metric` (see [`qf_engine::rank`]); fails when no combination
/// could run, with the first row's error.
pub fn rank(rows: Vec<SweepRow>, metric: &str, ascending: bool) -> Result<Ranking, ExecError> {
    let ranking = qf_engine::rank(rows, metric, ascending);
    if ranking.ranked.is_empty() {
        let why = ranking
            .failed
            .first()
            .and_then(|r| r.error.clone())
            .unwrap_or_default();
        return Err(ExecError::Invalid(format!(
            "the grid yields no combination that can run ({} tried; first error: {why})",
            ranking.failed.len()
        )));
    }
    Ok(ranking)
}

/// Threads a sweep uses: what the request asks for, at most the machine's cores.
fn sweep_jobs(asked: Option<usize>) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    asked.unwrap_or(cores).clamp(1, cores)
}

/// Everything a finished backtest job stores.
#[derive(Debug, Clone)]
pub struct BacktestArtifacts {
    /// The object `qf backtest --json` prints (with `sandbox` for tenant code).
    pub result: Value,
    /// Closed trades as Parquet ([`qf_report::tables`]); as CSV they are what
    /// `qf backtest --trades` writes.
    pub trades_parquet: Vec<u8>,
    /// The equity curve as Parquet; as CSV, what `qf backtest --equity` writes.
    pub equity_parquet: Vec<u8>,
    /// The tearsheet, as `qf backtest --report`.
    pub report_html: String,
    /// What tenant code printed (empty for built-ins), as `qf backtest --log`.
    pub log: String,
}

/// Everything a finished sweep job stores.
#[derive(Debug, Clone)]
pub struct SweepArtifacts {
    /// The object `qf sweep --json` prints.
    pub result: Value,
    /// Every combination that ran, ranked, as `qf sweep --csv`.
    pub table_csv: Vec<u8>,
}

fn csv(write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> Result<Vec<u8>, ExecError> {
    let mut out = Vec::new();
    write(&mut out)
        .map_err(|e| ExecError::Internal(format!("cannot write a CSV artifact: {e}")))?;
    Ok(out)
}

fn parquet(table: Table, r: &qf_engine::BacktestResult) -> Result<Vec<u8>, ExecError> {
    tables::write_parquet(Vec::new(), table, r)
        .map_err(|e| ExecError::Internal(format!("cannot write a Parquet artifact: {e}")))
}

/// Runs a backtest job: `series` with instrument ids 0, 1, … and `data` describing where
/// they came from (the result's `data`), the result and every file `qf backtest` writes.
pub fn run_backtest(
    code: &StrategyCode,
    req: &BacktestRequest,
    series: Vec<BarSeries>,
    data: Value,
    pool: &Pool,
    cancel: &AtomicBool,
) -> Result<BacktestArtifacts, ExecError> {
    let (params, config) = request::plan_backtest(code, req, true)?;
    let run = backtest(
        code,
        &params,
        &config,
        series,
        Some(pool),
        &mut |_| {},
        Some(cancel),
    )?;
    let name = code.name();
    let report_html = run.report_html(&name, &params, &data);
    Ok(BacktestArtifacts {
        result: run.to_json(&name, &params, data)?,
        trades_parquet: parquet(Table::Trades, &run.result)?,
        equity_parquet: parquet(Table::Equity, &run.result)?,
        report_html,
        log: run.sandbox.map(|s| s.log).unwrap_or_default(),
    })
}

/// Runs a sweep job: every combination of the request's grid on `series`, ranked. `_data`
/// is where the bars came from; `qf sweep --json` does not report it, so neither does
/// the result.
pub fn run_sweep(
    code: &StrategyCode,
    req: &SweepRequest,
    series: Vec<BarSeries>,
    _data: Value,
    pool: &Pool,
    cancel: &AtomicBool,
) -> Result<SweepArtifacts, ExecError> {
    let (params, config) = request::plan_sweep(code, req)?;
    let jobs = sweep_jobs(req.jobs);
    let started = Instant::now();
    let rows = sweep(
        code,
        params,
        &config,
        series,
        Some(pool),
        jobs,
        &|_| {},
        Some(cancel),
    )?;
    let elapsed = started.elapsed();
    let ranking = rank(rows, req.sort(), req.ascending)?;
    Ok(SweepArtifacts {
        result: export::sweep_json(&code.name(), &ranking, req.sort(), jobs, elapsed, req.top()),
        table_csv: csv(|w| export::write_sweep_csv(w, &ranking.ranked))?,
    })
}

/// Bars between two looks at the cancel flag: often enough to stop within milliseconds,
/// rarely enough to cost nothing measurable.
const CANCEL_EVERY: u32 = 4096;

/// A strategy that stops the run with an error once `flag` is raised.
struct Cancellable<'a> {
    inner: Box<dyn Strategy>,
    flag: &'a AtomicBool,
    bars: u32,
}

fn cancellable<'a>(
    inner: Box<dyn Strategy>,
    flag: Option<&'a AtomicBool>,
) -> Box<dyn Strategy + 'a> {
    match flag {
        Some(flag) => Box::new(Cancellable {
            inner,
            flag,
            bars: 0,
        }),
        None => inner,
    }
}

impl Strategy for Cancellable<'_> {
    fn on_start(&mut self, ctx: &mut StartContext<'_>) -> Result<(), StrategyError> {
        self.inner.on_start(ctx)
    }

    fn on_bar(&mut self, ctx: &mut Context<'_>) -> Result<(), StrategyError> {
        self.bars = self.bars.wrapping_add(1);
        if self.bars.is_multiple_of(CANCEL_EVERY) && self.flag.load(Ordering::Relaxed) {
            return Err(StrategyError::new("the run was cancelled"));
        }
        self.inner.on_bar(ctx)
    }

    fn on_fill(
        &mut self,
        ctx: &mut Context<'_>,
        fill: &qf_core::Fill,
    ) -> Result<(), StrategyError> {
        self.inner.on_fill(ctx, fill)
    }

    fn on_end(&mut self, ctx: &mut Context<'_>) -> Result<(), StrategyError> {
        self.inner.on_end(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancel_raised_mid_run_stops_it_within_a_few_thousand_bars() {
        let code = StrategyCode::builtin("sma_cross").unwrap();
        let params = code.resolve(&[]).unwrap();
        let series = vec![qf_data::sample_bars("S", 300_000, 1)];
        let flag = AtomicBool::new(false);
        let mut reports = Vec::new();
        let e = backtest(
            &code,
            &params,
            &BacktestConfig::default(),
            series,
            None,
            &mut |done| {
                reports.push(done);
                flag.store(true, Ordering::Relaxed);
            },
            Some(&flag),
        )
        .unwrap_err();
        assert!(matches!(e, ExecError::Cancelled), "{e:?}");
        // Progress comes every 65,536 bars; the run stopped before the second report.
        assert_eq!(reports, [1 << 16]);
    }

    #[test]
    fn errors_say_whether_to_retry_and_what_to_store() {
        let crash = RunFailure::new(FailureKind::Crash, "s.py", "the interpreter crashed");
        let e = ExecError::failed(&crash);
        assert!(matches!(e, ExecError::WorkerCrashed { .. }) && e.retryable());
        assert_eq!(e.problem()["file"], "s.py");
        let spawn = RunFailure::new(
            FailureKind::Crash,
            "",
            "cannot start a sandbox worker (/x/qf): denied",
        );
        let e = ExecError::failed(&spawn);
        assert!(matches!(e, ExecError::Internal(_)) && e.retryable());
        assert!(
            !e.problem().to_string().contains("/x/qf"),
            "internal causes stay inside"
        );
        let limit = RunFailure::new(FailureKind::Limit, "s.py", "memory limit exceeded");
        assert!(!ExecError::failed(&limit).retryable());
        assert!(!ExecError::Invalid("no".into()).retryable());
        assert!(!ExecError::Cancelled.retryable());
        assert_eq!(
            ExecError::Cancelled.problem()["type"],
            "https://quantforge.dev/problems/cancelled"
        );
    }
}
