//! Per-update cost of every indicator: each benchmark feeds 1,000,000 pre-generated
//! prices (or bars) through a fresh indicator, so the reported time divided by 10^6 is
//! the cost of one `update`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qf_indicators::{
    Atr, Bollinger, Cross, CrossSignal, Ema, Macd, RollingMax, RollingMin, RollingStd, Rsi, Sma,
    Wma,
};

const N: usize = 1_000_000;

/// Deterministic two-decimal random walk around 100 (xorshift64, fixed seed).
fn prices() -> Vec<f64> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut price = 100.0_f64;
    (0..N)
        .map(|_| {
            price += uniform() - 0.5 + 0.001 * (100.0 - price);
            price = ((price * 100.0).round() / 100.0).max(0.01);
            price
        })
        .collect()
}

/// Sums every reading so the optimiser cannot drop the work.
fn feed(xs: &[f64], mut update: impl FnMut(f64) -> Option<f64>) -> f64 {
    xs.iter().filter_map(|&x| update(x)).sum()
}

fn indicators(c: &mut Criterion) {
    let xs = prices();
    let bars: Vec<(f64, f64, f64)> = xs.iter().map(|&p| (p + 0.25, p - 0.25, p + 0.05)).collect();
    let slow_line: Vec<f64> = {
        let mut sma = Sma::new(50).expect("50 is a valid period");
        xs.iter().map(|&x| sma.update(x).unwrap_or(x)).collect()
    };

    let mut group = c.benchmark_group("update_x1M");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(N as u64));

    group.bench_function("sma_20", |b| {
        b.iter(|| {
            let mut ind = Sma::new(20).expect("valid period");
            feed(black_box(&xs), |x| ind.update(x))
        })
    });
    group.bench_function("ema_20", |b| {
        b.iter(|| {
            let mut ind = Ema::new(20).expect("valid period");
            feed(black_box(&xs), |x| ind.update(x))
        })
    });
    group.bench_function("wma_20", |b| {
        b.iter(|| {
            let mut ind = Wma::new(20).expect("valid period");
            feed(black_box(&xs), |x| ind.update(x))
        })
    });
    group.bench_function("rsi_14", |b| {
        b.iter(|| {
            let mut ind = Rsi::new(14).expect("valid period");
            feed(black_box(&xs), |x| ind.update(x))
        })
    });
    group.bench_function("rolling_std_20", |b| {
        b.iter(|| {
            let mut ind = RollingStd::new(20).expect("valid period");
            feed(black_box(&xs), |x| ind.update(x))
        })
    });
    group.bench_function("rolling_max_20", |b| {
        b.iter(|| {
            let mut ind = RollingMax::new(20).expect("valid period");
            feed(black_box(&xs), |x| ind.update(x))
        })
    });
    group.bench_function("rolling_min_20", |b| {
        b.iter(|| {
            let mut ind = RollingMin::new(20).expect("valid period");
            feed(black_box(&xs), |x| ind.update(x))
        })
    });
    group.bench_function("macd_12_26_9", |b| {
        b.iter(|| {
            let mut ind = Macd::new(12, 26, 9).expect("valid periods");
            feed(black_box(&xs), |x| ind.update(x).map(|v| v.histogram))
        })
    });
    group.bench_function("atr_14", |b| {
        b.iter(|| {
            let mut ind = Atr::new(14).expect("valid period");
            black_box(&bars)
                .iter()
                .filter_map(|&(h, l, c)| ind.update(h, l, c))
                .sum::<f64>()
        })
    });
    group.bench_function("bollinger_20_2", |b| {
        b.iter(|| {
            let mut ind = Bollinger::new(20, 2.0).expect("valid parameters");
            feed(black_box(&xs), |x| ind.update(x).map(|v| v.upper - v.lower))
        })
    });
    group.bench_function("cross", |b| {
        b.iter(|| {
            let mut ind = Cross::new();
            black_box(&xs)
                .iter()
                .zip(&slow_line)
                .filter(|&(&a, &b)| ind.update(a, b) != CrossSignal::None)
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, indicators);
criterion_main!(benches);
