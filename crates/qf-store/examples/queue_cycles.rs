//! Throwaway: enqueue+claim+complete cycles per second with 4 workers.
use qf_store::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let backend = std::env::args().nth(1).unwrap_or("pg".into());
    let dir = tempfile::tempdir().unwrap();
    let (store, url) = if backend == "pg" {
        let (s, u) = testing::fresh_postgres().await.unwrap();
        (s, Some(u))
    } else {
        (testing::fresh_sqlite(dir.path()).await, None)
    };
    let t = store.create_tenant("bench").await.unwrap().id;
    let ds = store
        .create_dataset(
            &t,
            &NewDataset {
                id: DatasetId::new(),
                name: "d".into(),
                format: "csv".into(),
                rows: 1,
                bytes: 1,
                symbols: vec![],
                quality: json!({}),
            },
        )
        .await
        .unwrap()
        .id;
    let (st, _) = store
        .create_strategy(&t, "s", "python", "x", "y", json!({}))
        .await
        .unwrap();
    let per: usize = std::env::var("PER")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    let workers: usize = std::env::var("WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let start = Instant::now();
    let mut tasks = vec![];
    for w in 0..workers {
        let (store, t, ds, st) = (store.clone(), t.clone(), ds.clone(), st.id.clone());
        tasks.push(tokio::spawn(async move {
            let worker = format!("w{w}");
            let opts = ClaimOptions {
                worker: &worker,
                lease: Duration::from_secs(30),
                tenant_limit: 0,
            };
            let (mut a, mut b, mut c) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
            for _ in 0..per {
                let t0 = Instant::now();
                store
                    .submit_run(
                        &t,
                        &NewRun {
                            kind: RunKind::Backtest,
                            dataset_id: ds.clone(),
                            strategy_id: st.clone(),
                            strategy_version: 1,
                            request: json!({}),
                            priority: 0,
                            max_attempts: 3,
                        },
                    )
                    .await
                    .unwrap();
                let t1 = Instant::now();
                a += t1 - t0;
                let job = loop {
                    if let Some(j) = store.claim(&opts).await.unwrap() {
                        break j;
                    }
                };
                let t2 = Instant::now();
                b += t2 - t1;
                assert!(
                    store
                        .complete(&job.id, &worker, json!({"ok": true}))
                        .await
                        .unwrap()
                );
                c += t2.elapsed();
            }
            if w == 0 {
                println!(
                    "per op: submit {:?} claim {:?} complete {:?}",
                    a / per as u32,
                    b / per as u32,
                    c / per as u32
                );
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{backend}: {} cycles in {secs:.2}s = {:.0} cycles/s",
        per * workers,
        (per * workers) as f64 / secs
    );
    store.close().await;
    if let Some(u) = url {
        testing::drop_postgres(&u).await;
    }
}
