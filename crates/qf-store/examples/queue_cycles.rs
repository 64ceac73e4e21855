//! Throwaway: per-phase PG CPU.
use qf_store::*;
use serde_json::json;
use std::time::{Duration, Instant};

fn pg_cpu() -> f64 {
    let mut total = 0u64;
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        if !stat.contains("(postgres)") {
            continue;
        }
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split(' ').collect();
        total += f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    }
    total as f64 / 100.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let (store, url) = testing::fresh_postgres().await.unwrap();
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
    let n = 3000;
    let opts = ClaimOptions {
        worker: "w",
        lease: Duration::from_secs(30),
        tenant_limit: 0,
    };
    let (c0, t0) = (pg_cpu(), Instant::now());
    for _ in 0..n {
        store
            .submit_run(
                &t,
                &NewRun {
                    kind: RunKind::Backtest,
                    dataset_id: ds.clone(),
                    strategy_id: st.id.clone(),
                    strategy_version: 1,
                    request: json!({}),
                    priority: 0,
                    max_attempts: 3,
                },
            )
            .await
            .unwrap();
    }
    let (c1, t1) = (pg_cpu(), Instant::now());
    let mut jobs = vec![];
    for _ in 0..n {
        jobs.push(store.claim(&opts).await.unwrap().unwrap().id);
    }
    let (c2, t2) = (pg_cpu(), Instant::now());
    for j in &jobs {
        assert!(store.complete(j, "w", json!({"ok": true})).await.unwrap());
    }
    let (c3, t3) = (pg_cpu(), Instant::now());
    for _ in 0..n {
        store.run(&t, &RunId::new()).await.ok();
    }
    let (c4, t4) = (pg_cpu(), Instant::now());
    for _ in 0..n {
        store.api_key_by_hash("x").await.unwrap();
    }
    let (c5, t5) = (pg_cpu(), Instant::now());
    let f = |c: f64, d: Duration| {
        format!(
            "pg cpu {:.0}µs wall {:.0}µs",
            c * 1e6 / n as f64,
            d.as_secs_f64() * 1e6 / n as f64
        )
    };
    println!(
        "submit {}\nclaim {}\ncomplete {}\nrun-read {}\nkey-lookup {}",
        f(c1 - c0, t1 - t0),
        f(c2 - c1, t2 - t1),
        f(c3 - c2, t3 - t2),
        f(c4 - c3, t4 - t3),
        f(c5 - c4, t5 - t4)
    );
    store.close().await;
    testing::drop_postgres(&url).await;
}
