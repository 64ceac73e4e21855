//! Rules-tier throughput against the native strategy: `examples/rules/sma_cross.toml` and the
//! built-in `sma_cross` (10/30, long only) on the same 1,000,000 one-minute bars of one
//! instrument (`qf_data::sample_bars`, seed 1), with the engine bench's configuration.
//! Criterion reports time per run; bars/s = 1,000,000 / that time. Also times compiling the
//! file (parse + check + build), which happens once per run.
//!
//! The example moves flat → long → flat, so it records ~39,000 state changes per run on the
//! result's timeline, which the native strategy does not. `rules_sma_cross_one_state` is the
//! same strategy with one state (the native logic exactly: enter on every cross up, close on
//! every cross down), so the two rules figures separate the machine from the timeline.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qf_engine::strategies::{builtin, resolve};
use qf_engine::{BacktestConfig, run_backtest};
use qf_sandbox::rules::{Format, parse};

const SMA_CROSS: &str = include_str!("../../../examples/rules/sma_cross.toml");

const ONE_STATE: &str = r#"
states = ["on"]
initial = "on"
[params]
fast = 10
slow = 30
[indicators]
fast_ma = "sma(close, fast)"
slow_ma = "sma(close, slow)"
[[transitions]]
from = "on"
when = "crossed_above(fast_ma, slow_ma)"
do = "enter_long()"
[[transitions]]
from = "on"
when = "crossed_below(fast_ma, slow_ma)"
do = "close()"
"#;

fn rules(c: &mut Criterion) {
    let data = vec![qf_data::sample_bars("BENCH", 1_000_000, 1)];
    let native = builtin("sma_cross").expect("built in");
    let native_params = native
        .resolve(&[
            ("fast".into(), 10.0),
            ("slow".into(), 30.0),
            ("short".into(), 0.0),
        ])
        .expect("valid params");
    let program = parse("sma_cross.toml", SMA_CROSS, Format::Toml).expect("example compiles");
    let rules_params = resolve(
        program.name(),
        program.params(),
        &[("fast".into(), 10.0), ("slow".into(), 30.0)],
    )
    .expect("valid params");
    let one_state = parse("one_state.toml", ONE_STATE, Format::Toml).expect("compiles");
    let one_state_params =
        resolve(one_state.name(), one_state.params(), &[]).expect("valid params");

    let mut g = c.benchmark_group("rules");
    g.sample_size(10)
        .throughput(Throughput::Elements(1_000_000));
    for (suffix, record) in [("metrics_only", false), ("record", true)] {
        let config = BacktestConfig {
            record,
            ..BacktestConfig::default()
        };
        g.bench_function(format!("native_sma_cross_1m_bars_{suffix}"), |b| {
            b.iter(|| {
                let mut s = native.build(&native_params).expect("builds");
                run_backtest(&config, &data, s.as_mut(), None).expect("runs")
            })
        });
        g.bench_function(format!("rules_sma_cross_1m_bars_{suffix}"), |b| {
            b.iter(|| {
                let mut s = program.build(&rules_params).expect("builds");
                run_backtest(&config, &data, &mut s, None).expect("runs")
            })
        });
        g.bench_function(format!("rules_sma_cross_one_state_1m_bars_{suffix}"), |b| {
            b.iter(|| {
                let mut s = one_state.build(&one_state_params).expect("builds");
                run_backtest(&config, &data, &mut s, None).expect("runs")
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("rules_compile");
    g.bench_function("sma_cross_toml_parse_check_build", |b| {
        b.iter(|| {
            let p = parse("sma_cross.toml", SMA_CROSS, Format::Toml).expect("compiles");
            p.build(&rules_params).expect("builds")
        })
    });
    g.finish();
}

criterion_group!(benches, rules);
criterion_main!(benches);
