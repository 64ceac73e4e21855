//! Starting the service: open the database (migrating it) and the object store, then serve
//! the API with in-process workers (`qf serve`) or run workers alone (`qf worker`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use object_store::ObjectStore;
use tokio::sync::{Notify, watch};

use qf_jobs::worker::{self as jobs_worker, WorkerContext};
use qf_sandbox::pool::Pool;
use qf_store::Store;

use crate::app::{AppState, router};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimiter;

/// Opens the database named by the configuration and brings its schema up to date.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                config.data_dir.display()
            )
        })?;
    }
    let store = Store::connect(&url)
        .await
        .with_context(|| format!("cannot open the database {}", crate::config::mask_url(&url)))?;
    // Each applied migration is logged by the store.
    store
        .migrate()
        .await
        .context("cannot migrate the database")?;
    Ok(store)
}

/// Opens the object store: a local directory, or `s3://bucket/prefix` (built with the `s3`
/// feature; credentials from the usual AWS_* environment variables).
pub fn open_objects(config: &Config) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let target = config.object_store();
    if let Some(rest) = target.strip_prefix("s3://") {
        return open_s3(rest, &target);
    }
    let path = PathBuf::from(target.strip_prefix("file://").unwrap_or(&target));
    std::fs::create_dir_all(&path).with_context(|| {
        format!(
            "cannot create the object store directory {}",
            path.display()
        )
    })?;
    let fs = object_store::local::LocalFileSystem::new_with_prefix(&path)
        .with_context(|| format!("object_store: cannot use {}", path.display()))?;
    Ok(Arc::new(fs))
}

#[cfg(feature = "s3")]
fn open_s3(rest: &str, url: &str) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let s3 = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .build()
        .with_context(|| format!("object_store: cannot use {url}"))?;
    if prefix.is_empty() {
        Ok(Arc::new(s3))
    } else {
        Ok(Arc::new(object_store::prefix::PrefixStore::new(s3, prefix)))
    }
}

#[cfg(not(feature = "s3"))]
fn open_s3(_: &str, url: &str) -> anyhow::Result<Arc<dyn ObjectStore>> {
    anyhow::bail!(
        "object_store: {url} needs S3 support; build qf with `cargo build --release --features s3`"
    )
}

/// Builds the shared state: database, object store, sandbox pool, metrics, limiter.
pub async fn state(config: Config) -> anyhow::Result<AppState> {
    let store = open_store(&config).await?;
    let objects = open_objects(&config)?;
    let exe = std::env::current_exe()
        .context("cannot find the qf executable to start sandbox workers")?;
    let sandbox = Arc::new(Pool::new(
        exe,
        vec!["sandbox-worker".into()],
        config.sandbox.limits(),
    ));
    Ok(AppState {
        store,
        objects,
        metrics: Metrics::new(),
        limiter: RateLimiter::new(
            config.rate_limit.requests_per_second,
            config.rate_limit.burst,
        ),
        config: Arc::new(config),
        sandbox,
        job_queued: Arc::new(Notify::new()),
        started: Instant::now(),
    })
}

/// What the job workers need from the shared state: the same store, object store, sandbox
/// pool and wake-up as the handlers, the `[jobs]` settings, and the metrics registry.
fn worker_context(state: &AppState) -> WorkerContext {
    WorkerContext {
        store: state.store.clone(),
        objects: state.objects.clone(),
        sandbox: state.sandbox.clone(),
        settings: state.config.jobs.worker_settings(),
        job_queued: state.job_queued.clone(),
        metrics: Arc::new(state.metrics.clone()),
    }
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// `qf serve`: the API and `config.workers` in-process workers, until a stop signal.
/// `on_ready` gets the bound address (port 0 picks a free one) and the state, before the
/// first request is served (the demo uses it to print its curl line).
pub async fn serve(
    state: AppState,
    on_ready: impl FnOnce(SocketAddr, &AppState),
) -> anyhow::Result<()> {
    // Uploads cut off by a previous process's death left their temporary files behind.
    let tmp = state.config.data_dir.join("tmp");
    match crate::uploads::sweep_stale(&tmp) {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(removed = n, dir = %tmp.display(), "removed abandoned temporary uploads")
        }
        Err(e) => {
            tracing::warn!(error = %e, dir = %tmp.display(), "cannot sweep temporary uploads")
        }
    }
    let addr = state.config.addr;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (addr / QF_ADDR / --addr)"))?;
    let local = listener.local_addr()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let workers = jobs_worker::spawn(&worker_context(&state), state.config.workers, stop_rx);
    tracing::info!(addr = %local, workers = state.config.workers, "listening");
    on_ready(local, &state);
    let http = state.config.http.clone();
    crate::connections::serve(listener, router(state), &http, stop_signal()).await;
    let _ = stop_tx.send(true);
    for w in workers {
        let _ = w.await;
    }
    Ok(())
}

/// `qf worker`: workers only, against the configured database and store, until a stop signal.
pub async fn workers(state: AppState) -> anyhow::Result<()> {
    let n = state.config.workers.max(1);
    let (stop_tx, stop_rx) = watch::channel(false);
    let handles = jobs_worker::spawn(&worker_context(&state), n, stop_rx);
    tracing::info!(workers = n, "workers running");
    stop_signal().await;
    let _ = stop_tx.send(true);
    for h in handles {
        let _ = h.await;
    }
    Ok(())
}
