//! Job workers: claim a job with a lease, keep the lease alive with heartbeats while the
//! engine runs, write the artifacts, then complete, fail (with retry and backoff) or
//! acknowledge a cancel. `qf serve` runs some in-process; `qf worker` runs them alone, and
//! any number of those may share one database and object store.
//!
//! Crash safety comes from the lease: a worker killed mid-job stops heartbeating, its lease
//! expires, and the next claim hands the job to another worker. Artifacts are written under
//! the run's id before the completion, and the engine is deterministic, so a job run twice
//! writes the same bytes; `complete` records the result only once.
//!
//! Workers know nothing of the service around them: it hands them a [`WorkerContext`]
//! (store, object store, sandbox pool, [`WorkerSettings`], a wake-up for new jobs) and
//! counts what they report through [`JobMetrics`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use object_store::ObjectStore;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use qf_sandbox::pool::Pool;
use qf_store::{ClaimOptions, Completion, Heartbeat, Job, RunKind, Store};

use crate::catalog;
use crate::execute::{self, BacktestRequest, ExecError, SweepRequest};

/// Where workers report what they do; the service counts it in its metrics registry.
pub trait JobMetrics: Send + Sync {
    /// A worker claimed a job and starts it.
    fn job_started(&self);
    /// A job of `kind` (`backtest`, `sweep`) ended with `outcome` after `seconds` since its
    /// claim: `succeeded`, `cancelled`, `lost` (another worker holds it now), or the state
    /// a failure left it in (`queued` for a retry, `failed`, `dead`).
    fn job_finished(&self, kind: &str, outcome: &str, seconds: f64);
}

/// How workers use the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerSettings {
    /// How long a claimed job stays leased without a heartbeat.
    pub lease: Duration,
    /// How often a worker renews its lease; intervals under a second count as one second.
    pub heartbeat: Duration,
    /// How often an idle worker polls the queue.
    pub poll: Duration,
    /// First retry delay of a failed job, doubled on each retry.
    pub backoff_base: Duration,
    /// Jobs of one tenant running at once across all workers.
    pub tenant_concurrency: u32,
}

/// Everything a worker uses. Cheap to clone (all shared).
#[derive(Clone)]
pub struct WorkerContext {
    /// The SQL store with the job queue, runs, datasets and strategies.
    pub store: Store,
    /// Market data and run artifacts.
    pub objects: Arc<dyn ObjectStore>,
    /// Sandbox workers for tenant code.
    pub sandbox: Arc<Pool>,
    /// Leases, polling and retries.
    pub settings: WorkerSettings,
    /// Woken whenever a job is queued, so that idle workers start it at once instead of at
    /// their next poll.
    pub job_queued: Arc<Notify>,
    /// Where job starts and ends are counted.
    pub metrics: Arc<dyn JobMetrics>,
}

/// Starts `n` workers; they stop claiming when `shutdown` turns true, finishing the job in
/// hand first.
pub fn spawn(
    ctx: &WorkerContext,
    n: usize,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
    (0..n)
        .map(|i| {
            let ctx = ctx.clone();
            let name = format!("{host}:{}:{i}", std::process::id());
            let shutdown = shutdown.clone();
            tokio::spawn(async move { run(ctx, name, shutdown).await })
        })
        .collect()
}

async fn run(ctx: WorkerContext, name: String, mut shutdown: watch::Receiver<bool>) {
    let settings = &ctx.settings;
    let poll = settings.poll;
    tracing::info!(worker = %name, "worker started");
    while !*shutdown.borrow() {
        // Register interest before claiming, so a submission between an empty claim and
        // the wait still wakes us.
        let queued = ctx.job_queued.notified();
        let claimed = ctx
            .store
            .claim(&ClaimOptions {
                worker: &name,
                lease: settings.lease,
                tenant_limit: i64::from(settings.tenant_concurrency),
            })
            .await;
        match claimed {
            Ok(Some(job)) => {
                let span = tracing::info_span!("job", job_id = %job.id, tenant = %job.tenant_id, kind = %job.kind, attempt = job.attempts);
                process(&ctx, &name, job).instrument(span).await
            }
            Ok(None) => {
                tokio::select! {
                    _ = queued => {}
                    _ = tokio::time::sleep(poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Err(e) => {
                tracing::error!(worker = %name, error = %e, "cannot claim a job");
                tokio::time::sleep(poll).await;
            }
        }
    }
    tracing::info!(worker = %name, "worker stopped");
}

/// Runs one claimed job to its end.
async fn process(ctx: &WorkerContext, worker: &str, job: Job) {
    let started = Instant::now();
    tracing::info!(
        wait_ms = (qf_store::now_ns() - job.created_at) as f64 / 1e6,
        "job started"
    );
    ctx.metrics.job_started();
    let cancel = Arc::new(AtomicBool::new(false));
    let lost = Arc::new(AtomicBool::new(false));
    let beat = heartbeat(ctx, worker, &job, cancel.clone(), lost.clone());
    let outcome = execute(ctx, &job, cancel.clone()).await;
    beat.abort();
    let store = &ctx.store;
    if lost.load(Ordering::Relaxed) {
        tracing::warn!("lease lost; another worker owns the job now");
        return;
    }
    let result = match outcome {
        Ok(result) => store
            .complete(&job.id, worker, result)
            .await
            .map(|done| match done {
                Completion::Succeeded => "succeeded",
                Completion::Cancelled => "cancelled",
                Completion::NotHeld => "lost",
            }),
        Err(ExecError::Cancelled) => store
            .mark_cancelled(&job.id, worker)
            .await
            .map(|_| "cancelled"),
        Err(e) => {
            let retryable = e.retryable();
            let backoff = ctx.settings.backoff_base;
            tracing::warn!(error = %e, retryable, "job failed");
            store
                .fail(&job.id, worker, e.problem(), retryable, backoff)
                .await
                .map(|s| s.as_str())
        }
    };
    match result {
        Ok(outcome) => {
            let secs = started.elapsed().as_secs_f64();
            ctx.metrics.job_finished(&job.kind, outcome, secs);
            tracing::info!(outcome, duration_ms = secs * 1e3, "job finished");
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot record the job's outcome; its lease will expire and it will run again")
        }
    }
}

/// Renews the lease every `heartbeat` (at least a second); flags a cancel request or a lost
/// lease.
fn heartbeat(
    ctx: &WorkerContext,
    worker: &str,
    job: &Job,
    cancel: Arc<AtomicBool>,
    lost: Arc<AtomicBool>,
) -> JoinHandle<()> {
    let (store, id, worker) = (ctx.store.clone(), job.id.clone(), worker.to_string());
    let every = ctx.settings.heartbeat.max(Duration::from_secs(1));
    let lease = ctx.settings.lease;
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            match store.heartbeat(&id, &worker, lease).await {
                Ok(Heartbeat::Continue) => {}
                Ok(Heartbeat::Cancel) => cancel.store(true, Ordering::Relaxed),
                Ok(Heartbeat::Lost) => {
                    lost.store(true, Ordering::Relaxed);
                    cancel.store(true, Ordering::Relaxed);
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "heartbeat failed; retrying"),
            }
        }
    })
}

fn internal(e: impl std::fmt::Display) -> ExecError {
    ExecError::Internal(e.to_string())
}

/// Loads what the job names, runs it and stores the artifacts; returns the result object.
async fn execute(
    ctx: &WorkerContext,
    job: &Job,
    cancel: Arc<AtomicBool>,
) -> Result<serde_json::Value, ExecError> {
    let t = &job.tenant_id;
    let run_id = job
        .run_id
        .clone()
        .ok_or_else(|| internal("the job names no run"))?;
    let run = ctx.store.run(t, &run_id).await.map_err(internal)?;
    let dataset = ctx
        .store
        .dataset(t, &run.dataset_id)
        .await
        .map_err(internal)?;
    let strategy = ctx
        .store
        .strategy(t, &run.strategy_id)
        .await
        .map_err(internal)?;
    let version = ctx
        .store
        .strategy_version(t, &run.strategy_id, Some(run.strategy_version))
        .await
        .map_err(internal)?;
    let (series, data) = catalog::load(
        &ctx.objects,
        t.as_str(),
        dataset.id.as_str(),
        &dataset.symbols,
    )
    .await
    .map_err(internal)?;
    let pool = ctx.sandbox.clone();
    let request = run.request.clone();
    // One blocking task compiles the strategy and runs it; the result object is stored too.
    let (result, mut artifacts) = tokio::task::spawn_blocking(move || {
        let (code, _) = execute::compile_strategy(&strategy.kind, &strategy.name, &version.source)
            .map_err(|p| ExecError::Tenant {
                problem: p.to_json(),
            })?;
        let invalid = |e: serde_json::Error| ExecError::Invalid(e.to_string());
        Ok::<_, ExecError>(match run.kind {
            RunKind::Backtest => {
                let req: BacktestRequest = serde_json::from_value(request).map_err(invalid)?;
                let out = execute::run_backtest(&code, &req, series, data, &pool, &cancel)?;
                let files: Vec<(&'static str, Vec<u8>)> = vec![
                    ("trades.parquet", out.trades_parquet),
                    ("equity.parquet", out.equity_parquet),
                    ("report.html", out.report_html.into_bytes()),
                    ("log.txt", out.log.into_bytes()),
                ];
                (out.result, files)
            }
            RunKind::Sweep => {
                let req: SweepRequest = serde_json::from_value(request).map_err(invalid)?;
                let out = execute::run_sweep(&code, &req, series, data, &pool, &cancel)?;
                (out.result, vec![("sweep.csv", out.table_csv)])
            }
        })
    })
    .await
    .map_err(internal)??;
    artifacts.push((
        "result.json",
        serde_json::to_vec(&result).map_err(internal)?,
    ));
    for (name, bytes) in artifacts {
        catalog::put_artifact(&ctx.objects, t.as_str(), run_id.as_str(), name, bytes)
            .await
            .map_err(internal)?;
    }
    Ok(result)
}
