//! The same SMA crossover written natively, as rules (TOML and YAML) and as Python gives the
//! same trades, fills, equity curve and final equity, exactly, on the same data — through
//! the real isolated worker for Python.

use qf_core::Quantity;
use qf_engine::strategies::builtin;
use qf_engine::{BacktestConfig, BacktestResult, Sizing};
use qf_sandbox::limits::Limits;
use qf_sandbox::pool::{Pool, SharedData};
use qf_sandbox::tenant::TenantStrategy;

fn pool() -> Pool {
    Pool::new(
        env!("CARGO_BIN_EXE_qf"),
        vec!["sandbox-worker".into()],
        Limits::default(),
    )
}

fn native(config: &BacktestConfig, data: &SharedData, fast: f64, slow: f64) -> BacktestResult {
    let b = builtin("sma_cross").unwrap();
    let p = b
        .resolve(&[("fast".into(), fast), ("slow".into(), slow)])
        .unwrap();
    let mut s = b.build(&p).unwrap();
    qf_engine::run_backtest(config, data.series(), s.as_mut(), None).unwrap()
}

#[test]
fn native_rules_and_python_sma_cross_trade_identically() {
    let pool = pool();
    let data = SharedData::new(vec![qf_data::sample_bars("EQ", 30_000, 21)]);
    let fixed = BacktestConfig {
        record: true,
        ..BacktestConfig::default()
    };
    let percent = BacktestConfig {
        sizing: Sizing::PercentOfEquity(0.95),
        ..fixed.clone()
    };
    let tiers = [
        "examples/python/sma_cross.py",
        "examples/rules/sma_cross.toml",
        "examples/rules/sma_cross.yaml",
    ]
    .map(|f| {
        (
            f,
            TenantStrategy::load(std::path::Path::new(f)).unwrap_or_else(|d| panic!("{d}")),
        )
    });
    for config in [&fixed, &percent] {
        for (fast, slow) in [(10.0, 30.0), (5.0, 50.0), (20.0, 100.0)] {
            let want = native(config, &data, fast, slow);
            assert!(want.trades.len() > 50, "the data gives enough crossings");
            for (file, t) in &tiers {
                let params = t
                    .resolve(&[("fast".into(), fast), ("slow".into(), slow)])
                    .unwrap();
                let got = t
                    .backtest(&params, config, &data, &pool, &mut |_| {})
                    .unwrap_or_else(|e| panic!("{file}: {e}"))
                    .result;
                let what = format!("{file} fast={fast} slow={slow} sizing={:?}", config.sizing);
                assert_eq!(got.trades, want.trades, "trades of {what}");
                assert_eq!(got.fills, want.fills, "fills of {what}");
                assert_eq!(got.equity, want.equity, "equity of {what}");
                assert_eq!(
                    got.metrics.final_equity_exact, want.metrics.final_equity_exact,
                    "{what}"
                );
                // Both tiers record a state timeline: flat -> long -> flat ...
                assert!(got.states.len() >= want.trades.len(), "{what}");
                assert!(got.states.iter().all(|c| *c.from != *c.to), "{what}");
            }
        }
    }
    // With a fixed size the quantity is exactly the configured one.
    assert!(
        native(&fixed, &data, 10.0, 30.0)
            .trades
            .iter()
            .all(|t| t.quantity == Quantity::from_int(1))
    );
}
