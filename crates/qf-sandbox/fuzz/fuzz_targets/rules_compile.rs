//! Any bytes through the whole rules pipeline: parse and check, build with the default
//! parameters, and run on a few bars of two instruments. Every outcome but a panic, a hang
//! or runaway memory is fine. The first byte picks the format (even: TOML, odd: YAML), so the
//! seeds in `seeds/` start with `0` or `1`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qf_core::{Bar, BarSeries, Instrument, InstrumentId, Price, Timestamp};
use qf_engine::strategies::resolve;
use qf_engine::{BacktestConfig, run_backtest};
use qf_sandbox::rules::{Format, parse_bytes};

fn bars(id: u32) -> BarSeries {
    let mut price = 10_000i64 + i64::from(id) * 700;
    let bars = (0..60i64)
        .map(|k| {
            // A deterministic zig-zag with gaps, so crossings, limits and stops all happen.
            price += [37, -52, 91, -13, -88, 64, 5, -41][(k % 8) as usize] * (1 + k % 3);
            let open = Price::from_raw(price * 10_000_000);
            let close = Price::from_raw((price + 19 - k % 40) * 10_000_000);
            Bar {
                ts: Timestamp::from_secs(60 * (k + 1)),
                open,
                high: open.max(close) + Price::from_raw(150_000_000),
                low: Price::from_raw(open.min(close).raw() - 130_000_000),
                close,
                volume: 1_000.0 + k as f64,
            }
        })
        .collect();
    BarSeries {
        instrument: Instrument {
            id: InstrumentId(id),
            symbol: format!("F{id}"),
            price_precision: 2,
            size_precision: 0,
        },
        bars,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, source)) = data.split_first() else {
        return;
    };
    let format = if selector % 2 == 0 {
        Format::Toml
    } else {
        Format::Yaml
    };
    let Ok(program) = parse_bytes("fuzz", source, format) else {
        return;
    };
    let _ = program.indicators();
    let Ok(params) = resolve(program.name(), program.params(), &[]) else {
        return;
    };
    let Ok(mut strategy) = program.build(&params) else {
        return;
    };
    let data = [bars(0), bars(1)];
    let _ = run_backtest(&BacktestConfig::default(), &data, &mut strategy, None);
});
