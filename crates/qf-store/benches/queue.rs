//! Queue throughput: enqueue + claim + complete cycles per second with 4 workers.
//!
//! 4 submitters queue `QF_BENCH_JOBS` runs (default 4,000) while 4 worker tasks claim and
//! complete them; the figure is jobs completed per second of wall time, end to end. Runs on
//! a fresh PostgreSQL database at `QF_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), durable commits and then
//! `synchronous_commit=off`, and on a fresh SQLite file.
//!
//! `cargo bench -p qf-store --bench queue`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use qf_store::{ClaimOptions, DatasetId, NewDataset, NewRun, RunKind, Store, testing};

const WORKERS: usize = 4;

async fn cycles(store: Store, jobs: usize) -> f64 {
    let t = store.create_tenant("bench").await.expect("tenant").id;
    let ds = store
        .create_dataset(
            &t,
            &NewDataset {
                id: DatasetId::new(),
                name: "bars".into(),
                format: "csv".into(),
                rows: 1,
                bytes: 1,
                symbols: vec!["X".into()],
                quality: serde_json::json!({}),
            },
        )
        .await
        .expect("dataset")
        .id;
    let (st, v) = store
        .create_strategy(&t, "s", "builtin", "sma_cross", "0", serde_json::json!([]))
        .await
        .expect("strategy");
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let new = NewRun {
        kind: RunKind::Backtest,
        dataset_id: ds,
        strategy_id: st.id,
        strategy_version: v.version,
        request: serde_json::json!({"params": {}}),
        priority: 0,
        max_attempts: 3,
    };
    // As many submitters as workers: one enqueuer alone would be the bottleneck.
    let submitters: Vec<_> = (0..WORKERS)
        .map(|i| {
            let (store, t, new) = (store.clone(), t.clone(), new.clone());
            let n = jobs / WORKERS + usize::from(i < jobs % WORKERS);
            tokio::spawn(async move {
                for _ in 0..n {
                    store.submit_run(&t, &new).await.expect("submit");
                }
            })
        })
        .collect();
    let workers: Vec<_> = (0..WORKERS)
        .map(|i| {
            let (store, done) = (store.clone(), done.clone());
            tokio::spawn(async move {
                let name = format!("bench-{i}");
                let opts = ClaimOptions {
                    worker: &name,
                    lease: Duration::from_secs(30),
                    tenant_limit: 0,
                };
                while done.load(Ordering::Relaxed) < jobs {
                    match store.claim(&opts).await.expect("claim") {
                        Some(job) => {
                            let ok = store
                                .complete(&job.id, &name, serde_json::json!({"ok": true}))
                                .await
                                .expect("complete");
                            assert_eq!(
                                ok,
                                qf_store::Completion::Succeeded,
                                "a claimed job must complete once"
                            );
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        None => tokio::time::sleep(Duration::from_micros(200)).await,
                    }
                }
            })
        })
        .collect();
    for s in submitters {
        s.await.expect("submitter");
    }
    for w in workers {
        w.await.expect("worker");
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(done.load(Ordering::Relaxed), jobs);
    jobs as f64 / secs
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let jobs: usize = std::env::var("QF_BENCH_JOBS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4_000);
    // `cargo bench` passes `--bench`; nothing else to parse.
    match testing::fresh_postgres().await {
        Some((store, url)) => {
            let rate = cycles(store, jobs).await;
            println!(
                "postgresql, durable commits: {rate:.0} cycles/s ({jobs} jobs, {WORKERS} workers)"
            );
            testing::drop_postgres(&url).await;
        }
        None => println!("postgresql: unreachable, skipped"),
    }
    match testing::fresh_postgres().await {
        Some((store, url)) => {
            store.close().await;
            let fast = format!(
                "{url}{}options=-c%20synchronous_commit%3Doff",
                if url.contains('?') { '&' } else { '?' }
            );
            let store = Store::connect_with(&fast, 16).await.expect("connect");
            let rate = cycles(store.clone(), jobs).await;
            println!(
                "postgresql, synchronous_commit=off: {rate:.0} cycles/s ({jobs} jobs, {WORKERS} workers)"
            );
            store.close().await;
            testing::drop_postgres(&url).await;
        }
        None => println!("postgresql: unreachable, skipped"),
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = testing::fresh_sqlite(dir.path()).await;
    let rate = cycles(store, jobs).await;
    println!("sqlite: {rate:.0} cycles/s ({jobs} jobs, {WORKERS} workers)");
}
