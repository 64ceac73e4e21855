//! Engine loop throughput: native sma_cross on 1,000,000 one-minute bars of one instrument.
//! Criterion reports time per run; bars/s = 1,000,000 / that time.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qf_core::{Bar, BarSeries, Instrument, InstrumentId, Price, Timestamp};
use qf_engine::{BacktestConfig, run_backtest, strategies::builtin};

fn random_walk(n: usize) -> BarSeries {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut price = 10_000i64;
    let bars = (0..n)
        .map(|k| {
            let open = price;
            let close = (open + ((next() - 0.5) * 40.0) as i64).max(100);
            let high = open.max(close) + (next() * 10.0) as i64;
            let low = (open.min(close) - (next() * 10.0) as i64).max(50);
            price = close;
            let c = |x: i64| Price::from_raw(x * 10_000_000);
            Bar {
                ts: Timestamp::from_secs(60 * k as i64),
                open: c(open),
                high: c(high),
                low: c(low),
                close: c(close),
                volume: 1.0,
            }
        })
        .collect();
    BarSeries {
        instrument: Instrument::new(InstrumentId(0), "BENCH", 2, 0).expect("valid precision"),
        bars,
    }
}

fn engine(c: &mut Criterion) {
    let data = vec![random_walk(1_000_000)];
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
