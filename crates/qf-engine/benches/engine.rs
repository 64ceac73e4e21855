//! Engine loop throughput: native sma_cross on 1,000,000 one-minute bars of one instrument
//! (`qf_data::sample_bars`, seed 1: the same bars as `qf data sample --seed 1`).
//! Criterion reports time per run; bars/s = 1,000,000 / that time.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qf_engine::{BacktestConfig, run_backtest, strategies::builtin};

fn engine(c: &mut Criterion) {
    // The demo data generator: a seeded one-minute random walk with trending regimes.
    let data = vec![qf_data::sample_bars("BENCH", 1_000_000, 1)];
    let sma = builtin("sma_cross").expect("built in");
    let params = sma
        .resolve(&[("fast".into(), 10.0), ("slow".into(), 30.0)])
        .expect("valid params");
    let mut g = c.benchmark_group("engine");
    g.sample_size(10)
        .throughput(Throughput::Elements(1_000_000));
    for (name, record) in [
        ("sma_cross_1m_bars_record", true),
        ("sma_cross_1m_bars_metrics_only", false),
    ] {
        let config = BacktestConfig {
            record,
            ..BacktestConfig::default()
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut s = sma.build(&params).expect("builds");
                run_backtest(&config, &data, s.as_mut(), None).expect("runs")
            })
        });
    }
    g.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
