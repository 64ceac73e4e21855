//! Synthetic market data and real engine runs for the report's tests and example.

use qf_core::{Bar, BarSeries, Instrument, InstrumentId, Price, Timestamp};
use qf_engine::{BacktestConfig, BacktestResult, run_backtest, strategies};

/// A deterministic random walk with slow trending regimes, so a moving-average crossover
/// has something to follow. `step_secs` apart from 2020-01-01; `vol` is the per-bar scale.
pub fn synthetic_bars(symbol: &str, n: usize, step_secs: i64, vol: f64, seed: u64) -> BarSeries {
    let instrument = Instrument::new(InstrumentId(0), symbol, 2, 0).expect("valid precision");
    let start = Timestamp::parse_rfc3339("2020-01-01T00:00:00Z")
        .expect("valid time")
        .nanos();
    let mut state = seed | 1;
    let mut uniform = move || {
        // xorshift64: fast, deterministic, good enough for test prices.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let tick = Price::from_raw(10_000_000);
    let mut price = 100.0f64;
    let mut bars = Vec::with_capacity(n);
    for i in 0..n {
        let open = Price::from_f64(price, 2).expect("finite price");
        let drift = 0.06 * vol * (i as f64 / 150.0).sin();
        price = (price * (1.0 + drift + vol * uniform())).max(1.0);
        let close = Price::from_f64(price, 2).expect("finite price");
        let wick = |u: f64| Price::from_f64(price * vol * 0.5 * u.abs(), 2).expect("finite");
        let high = open.max(close) + wick(uniform());
        let low = (open.min(close) - wick(uniform())).max(tick);
        bars.push(Bar {
            ts: Timestamp::from_nanos(start + i as i64 * step_secs * 1_000_000_000),
            open,
            high,
            low,
            close,
            volume: 1_000.0,
        });
    }
    BarSeries { instrument, bars }
}

/// Runs the built-in `sma_cross` with default parameters over `series`.
pub fn run_sma_cross(
    config: &BacktestConfig,
    series: BarSeries,
    params: &[(String, f64)],
) -> (BacktestResult, Vec<(String, String)>) {
    let builtin = strategies::builtin("sma_cross").expect("sma_cross is built in");
    let resolved = builtin.resolve(params).expect("valid parameters");
    let mut strategy = builtin.build(&resolved).expect("strategy builds");
    let result = run_backtest(config, &[series], strategy.as_mut(), None).expect("backtest runs");
    let shown = resolved
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect();
    (result, shown)
}
