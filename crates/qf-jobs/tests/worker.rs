//! A worker on its own, as `qf worker` runs it but without the service around it: given a
//! store, an object store and a context, it runs queued backtests, stores their artifacts,
//! records a failure as the run's problem object, and reports each start and end to the
//! metrics hook. On SQLite and on PostgreSQL.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};

use qf_jobs::catalog;
use qf_jobs::worker::{self, JobMetrics, WorkerContext, WorkerSettings};
use qf_sandbox::limits::Limits;
use qf_sandbox::pool::Pool;
use qf_store::testing::{with_postgres, with_sqlite};
use qf_store::{DatasetId, NewDataset, NewRun, RunKind, Status, Store};

/// Every report, as `started` or `{kind} {outcome}`.
#[derive(Default)]
struct Recorded(Mutex<Vec<String>>);

impl JobMetrics for Recorded {
    fn job_started(&self) {
        self.0.lock().unwrap().push("started".into());
    }

    fn job_finished(&self, kind: &str, outcome: &str, seconds: f64) {
        assert!(seconds >= 0.0);
        self.0.lock().unwrap().push(format!("{kind} {outcome}"));
    }
}

async fn runs_jobs_and_reports_them(store: Store) {
    let (root, files) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let objects: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(root.path()).unwrap());
    let tenant = store.create_tenant("acme").await.unwrap().id;
    let csv = files.path().join("bars.csv");
    qf_data::write_bars(&csv, &[qf_data::sample_bars("SPY", 2_000, 3)]).unwrap();
    let dataset = DatasetId::new();
    let ingested = catalog::ingest(
        &*objects,
        tenant.as_str(),
        dataset.as_str(),
        &csv,
        "bars.csv",
    )
    .await
    .unwrap();
    store
        .create_dataset(
            &tenant,
            &NewDataset {
                id: dataset.clone(),
                name: "bars".into(),
                format: "csv".into(),
                rows: ingested.rows as i64,
                bytes: ingested.bytes as i64,
                symbols: ingested.symbols.clone(),
                quality: ingested.quality.clone(),
            },
        )
        .await
        .unwrap();
    let (strategy, version) = store
        .create_strategy(&tenant, "sma", "builtin", "sma_cross", "-", json!([]))
        .await
        .unwrap();
    let submit = |params: Value| NewRun {
        kind: RunKind::Backtest,
        dataset_id: dataset.clone(),
        strategy_id: strategy.id.clone(),
        strategy_version: version.version,
        request: json!({ "params": params }),
        priority: 0,
        max_attempts: 3,
    };
    let (good, _) = store
        .submit_run(&tenant, &submit(json!({"fast": 5, "slow": 20})))
        .await
        .unwrap();
    // Refused when built: a failure of the request, not worth a retry.
    let (bad, _) = store
        .submit_run(&tenant, &submit(json!({"fast": 30, "slow": 10})))
        .await
        .unwrap();

    let metrics = Arc::new(Recorded::default());
    let ctx = WorkerContext {
        store: store.clone(),
        objects: objects.clone(),
        // Built-ins never start a sandbox worker.
        sandbox: Arc::new(Pool::new("/nonexistent/qf", Vec::new(), Limits::default())),
        settings: WorkerSettings {
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(5),
            poll: Duration::from_millis(20),
            backoff_base: Duration::from_millis(10),
            tenant_concurrency: 4,
        },
        job_queued: Arc::new(Notify::new()),
        metrics: metrics.clone(),
    };
    let (stop, stopped) = watch::channel(false);
    let handles = worker::spawn(&ctx, 1, stopped);
    let deadline = Instant::now() + Duration::from_secs(60);
    let (good, bad) = loop {
        let g = store.run(&tenant, &good.id).await.unwrap();
        let b = store.run(&tenant, &bad.id).await.unwrap();
        let done = |s: Status| matches!(s, Status::Succeeded | Status::Failed);
        if done(g.status) && done(b.status) {
            break (g, b);
        }
        assert!(
            Instant::now() < deadline,
            "jobs still {:?} and {:?}",
            g.status,
            b.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stop.send(true).unwrap();
    for h in handles {
        h.await.unwrap();
    }

    assert_eq!(good.status, Status::Succeeded, "{:?}", good.error);
    let result = good.result.expect("a result");
    let stored = catalog::get_artifact(&*objects, tenant.as_str(), good.id.as_str(), "result.json")
        .await
        .unwrap()
        .expect("result.json");
    assert_eq!(serde_json::from_slice::<Value>(&stored).unwrap(), result);
    for name in ["trades.parquet", "equity.parquet", "report.html", "log.txt"] {
        let got = catalog::get_artifact(&*objects, tenant.as_str(), good.id.as_str(), name).await;
        assert!(got.unwrap().is_some(), "{name}");
    }

    assert_eq!(bad.status, Status::Failed);
    let error = bad.error.expect("a problem");
    assert_eq!(error["type"], "https://quantforge.dev/problems/run-invalid");
    assert_eq!(error["title"], "The run cannot start");
    assert!(
        error["detail"].as_str().unwrap().starts_with("params: "),
        "{error}"
    );

    let mut reports = metrics.0.lock().unwrap().clone();
    reports.sort();
    assert_eq!(
        reports,
        [
            "backtest failed",
            "backtest succeeded",
            "started",
            "started"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_runs_jobs_and_reports_them() {
    with_sqlite(runs_jobs_and_reports_them).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_runs_jobs_and_reports_them() {
    with_postgres(runs_jobs_and_reports_them).await;
}
