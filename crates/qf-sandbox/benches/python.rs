//! Python-tier throughput *in process*: `examples/python/sma_cross.py` (10/30) run by the
//! interpreter inside this process on 1,000,000 one-minute bars (`qf_data::sample_bars`,
//! seed 1), with no isolation. Compare with the isolated figure from `bench/sandbox.py`,
//! which runs the same file through `qf backtest` and its sandbox worker: the difference is
//! the cost of isolation (process start, sending the bars, the replay in the parent).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qf_engine::strategies::resolve;
use qf_engine::{BacktestConfig, run_backtest};
use qf_sandbox::limits::Limits;
use qf_sandbox::python::{self, run::PyStrategy};

const SMA_CROSS: &str = include_str!("../../../examples/python/sma_cross.py");

fn python_in_process(c: &mut Criterion) {
    let data = vec![qf_data::sample_bars("BENCH", 1_000_000, 1)];
    let prog = python::check("sma_cross.py", SMA_CROSS).expect("example checks");
    let params = resolve("sma_cross", &prog.params, &[]).expect("defaults");
    let config = BacktestConfig::default();
    let mut g = c.benchmark_group("python");
    g.sample_size(10)
        .throughput(Throughput::Elements(1_000_000));
    g.bench_function("python_sma_cross_1m_bars_in_process", |b| {
        b.iter(|| {
            let runner = python::run::compile(&prog).expect("compiles");
            let mut s = PyStrategy::new(&prog, runner, params.clone(), Limits::default(), None);
            run_backtest(&config, &data, &mut s, None).expect("runs")
        })
    });
    g.finish();
}

criterion_group!(benches, python_in_process);
criterion_main!(benches);
