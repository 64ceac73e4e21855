//! Renders a tearsheet of a synthetic `sma_cross` run and reports its size and render time.
//!
//! ```text
//! cargo run --release -p qf-report --example tearsheet -- [BARS] [OUT.html] [SECONDS_PER_BAR]
//! ```
//!
//! Defaults: 2,520 daily bars to `/tmp/qf-report-sample.html`. For the large-input figures,
//! `-- 1000000 /tmp/qf-report-1m.html 60` renders a million one-minute bars.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use qf_core::{Money, Price};
use qf_engine::{BacktestConfig, FeeModel, FillModel, Sizing, Slippage};
use qf_report::{ReportMeta, render_html};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bars: usize = args.next().map_or(Ok(2_520), |s| s.parse())?;
    let out = args
        .next()
        .unwrap_or_else(|| "/tmp/qf-report-sample.html".into());
    let step: i64 = args.next().map_or(Ok(86_400), |s| s.parse())?;
    // The walk's shocks are uniform on ±vol (standard deviation vol/√3): scale them so a
    // year of bars has about 20% volatility.
    let bars_per_year = 365.25 * 86_400.0 / step as f64;
    let vol = 0.2 * 3f64.sqrt() / bars_per_year.sqrt();

    let defaults = BacktestConfig::default();
    let config = BacktestConfig {
        sizing: Sizing::PercentOfEquity(0.9),
        fill: FillModel {
            fees: FeeModel {
                per_unit: Price::ZERO,
                bps: Price::from_int(1),
                minimum: Money::ZERO,
            },
            slippage: Slippage::Ticks(1),
            ..defaults.fill
        },
        ..defaults
    };
    let series = support::synthetic_bars("SYNTH-USD", bars, step, vol, 2024);
    let params = [
        ("fast".to_string(), 20.0),
        ("slow".to_string(), 60.0),
        ("short".to_string(), 1.0),
    ];
    let (result, shown) = support::run_sma_cross(&config, series, &params);
    let meta = ReportMeta {
        title: "SMA crossover · synthetic trending walk".into(),
        strategy: "sma_cross".into(),
        params: shown,
        data_sources: vec![format!(
            "synthetic random walk, {bars} bars of {step} s, seed 2024"
        )],
        generated_by: format!("qf-report {} example", env!("CARGO_PKG_VERSION")),
    };

    let mut times = Vec::new();
    let mut html = String::new();
    for _ in 0..7 {
        let t = Instant::now();
        html = render_html(&result, &meta);
        times.push(t.elapsed());
    }
    times.sort();
    std::fs::write(&out, &html)?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{bars} bars, {} trades -> {out}: {} bytes; render min {:.1} ms, median {:.1} ms",
        result.trades.len(),
        html.len(),
        ms(times[0]),
        ms(times[times.len() / 2])
    );
    Ok(())
}
