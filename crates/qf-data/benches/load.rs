//! Loading speed of 1,000,000 sample bars from CSV and Parquet files in a temp directory.
//!
//! Targets (DESIGN.md): Parquet under 50 ms for a million bars; CSV at least two million
//! rows a second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qf_data::{LoadOptions, load_bars, sample_bars, write_bars};

const BARS: usize = 1_000_000;

fn load(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let series = [sample_bars("DEMO", BARS, 42)];
    let csv = dir.path().join("bars.csv");
    let parquet = dir.path().join("bars.parquet");
    write_bars(&csv, &series).expect("write csv");
    write_bars(&parquet, &series).expect("write parquet");
    let opts = LoadOptions::default();

    let mut group = c.benchmark_group("load_1m_bars");
    group.sample_size(10);
    group.throughput(Throughput::Elements(BARS as u64));
    group.bench_function("parquet", |b| {
        b.iter_with_large_drop(|| load_bars(&parquet, &opts).expect("load parquet"))
    });
    group.bench_function("csv", |b| {
        b.iter_with_large_drop(|| load_bars(&csv, &opts).expect("load csv"))
    });
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
