//! The rules tier end to end: example files against the native strategies, and the
//! semantics of states, rules and actions on hand-made bars.

use std::path::PathBuf;

use qf_core::{
    Bar, BarSeries, Instrument, InstrumentId, PRICE_SCALE, Price, Quantity, Side, Timestamp,
};
use qf_engine::strategies::{Params, builtin, resolve};
use qf_engine::{BacktestConfig, BacktestResult, EngineError, Sizing, run_backtest};
use qf_sandbox::rules::{Format, RulesProgram, parse};

fn example(name: &str) -> RulesProgram {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "..",
        "examples",
        "rules",
        name,
    ]
    .iter()
    .collect();
    let source = std::fs::read_to_string(&path).expect("example exists");
    let format = Format::from_path(name).expect("known extension");
    parse(name, &source, format).unwrap_or_else(|d| panic!("{d}"))
}

fn program(toml: &str) -> RulesProgram {
    parse("test.toml", toml, Format::Toml).unwrap_or_else(|d| panic!("{d}"))
}

fn params(p: &RulesProgram, given: &[(&str, f64)]) -> Params {
    let given: Vec<(String, f64)> = given.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    resolve(p.name(), p.params(), &given).expect("valid params")
}

fn run(
    p: &RulesProgram,
    given: &[(&str, f64)],
    data: &[BarSeries],
    config: &BacktestConfig,
) -> Result<BacktestResult, EngineError> {
    let mut s = p.build(&params(p, given)).unwrap_or_else(|d| panic!("{d}"));
    run_backtest(config, data, &mut s, None)
}

fn native_sma_cross(
    fast: f64,
    slow: f64,
    data: &[BarSeries],
    config: &BacktestConfig,
) -> BacktestResult {
    let b = builtin("sma_cross").expect("built in");
    let p = b
        .resolve(&[
            ("fast".into(), fast),
            ("slow".into(), slow),
            ("short".into(), 0.0),
        ])
        .expect("valid");
    let mut s = b.build(&p).expect("builds");
    run_backtest(config, data, s.as_mut(), None).expect("runs")
}

fn assert_same_as_native(p: &RulesProgram) {
    let configs = [
        BacktestConfig::default(),
        BacktestConfig {
            sizing: Sizing::PercentOfEquity(0.9),
            ..BacktestConfig::default()
        },
    ];
    let cases = [
        (10.0, 30.0, 1),
        (5.0, 20.0, 2),
        (20.0, 50.0, 3),
        (3.0, 7.0, 4),
        (50.0, 200.0, 5),
    ];
    for config in &configs {
        for (fast, slow, seed) in cases {
            let data = vec![qf_data::sample_bars("DEMO", 25_000, seed)];
            let native = native_sma_cross(fast, slow, &data, config);
            let rules = run(p, &[("fast", fast), ("slow", slow)], &data, config).expect("runs");
            let what = format!(
                "{} fast={fast} slow={slow} seed={seed} {:?}",
                p.name(),
                config.sizing
            );
            assert!(
                native.trades.len() > 20,
                "{what}: too few trades to compare"
            );
            assert_eq!(rules.trades, native.trades, "{what}: trades");
            assert_eq!(rules.fills, native.fills, "{what}: fills");
            assert_eq!(
                rules.metrics.final_equity_exact, native.metrics.final_equity_exact,
                "{what}: final equity"
            );
            assert_eq!(
                rules.metrics.rejected_orders,
                native.metrics.rejected_orders
            );

            // The timeline alternates flat → long → flat …, one move per entry and exit.
            let states = &rules.states;
            for (k, s) in states.iter().enumerate() {
                let (from, to) = if k % 2 == 0 {
                    ("flat", "long")
                } else {
                    ("long", "flat")
                };
                assert_eq!((&*s.from, &*s.to), (from, to), "{what}: move {k}");
                let reason = if k % 2 == 0 {
                    "crossed_above(fast_ma, slow_ma)"
                } else {
                    "crossed_below(fast_ma, slow_ma)"
                };
                assert_eq!(&*s.reason, reason);
            }
            // Every entry that filled is a trade; an entry refused by the leverage limit is a
            // flat → long → flat round with no trade.
            let open = rules.metrics.open_trades;
            let entries = states.len().div_ceil(2);
            assert_eq!(
                entries as u64,
                rules.trades.len() as u64 + open as u64 + rules.metrics.rejected_orders,
                "{what}: entries"
            );
            if rules.metrics.rejected_orders == 0 {
                assert_eq!(states.len(), 2 * rules.trades.len() + open, "{what}");
            }
        }
    }
}

#[test]
fn toml_sma_cross_trades_exactly_like_the_native_one() {
    let p = example("sma_cross.toml");
    assert_eq!(p.name(), "sma_cross");
    assert_eq!(p.states(), ["flat", "long"]);
    assert_eq!(p.indicators(), ["sma(close, fast)", "sma(close, slow)"]);
    assert_eq!(p.params().len(), 2);
    assert_eq!((p.params()[0].default, p.params()[1].default), (10.0, 30.0));
    assert!(p.warnings().is_empty());
    assert_same_as_native(&p);
}

#[test]
fn yaml_sma_cross_trades_exactly_like_the_native_one() {
    let y = example("sma_cross.yaml");
    let t = example("sma_cross.toml");
    assert_eq!(y.name(), t.name());
    assert_eq!(y.description(), t.description());
    assert_eq!(y.params(), t.params());
    assert_eq!(y.states(), t.states());
    assert_eq!(y.indicators(), t.indicators());
    assert_same_as_native(&y);
}

#[test]
fn requires_is_checked_when_building() {
    let p = example("sma_cross.toml");
    let e = p
        .build(&params(&p, &[("fast", 30.0), ("slow", 10.0)]))
        .unwrap_err();
    assert_eq!(e.0.len(), 1, "{e}");
    let d = &e.0[0];
    assert_eq!(
        d.message,
        "requirement `fast < slow` does not hold for fast = 30, slow = 10"
    );
    assert_eq!((d.line, d.col), (10, 14), "{e}");
}

#[test]
fn bad_indicator_settings_point_at_the_parameter() {
    let p = program(
        r#"
states = ["a", "b"]
initial = "a"
[params]
n = 5
[[transitions]]
from = "a"
to = "b"
when = "sma(close, n) > 0"
"#,
    );
    let e = p.build(&params(&p, &[("n", 0.0)])).unwrap_err();
    let d = &e.0[0];
    assert!(d.message.contains("period must be a whole number"), "{e}");
    assert!(d.message.contains("parameter `n` = 0"), "{e}");
    assert_eq!((d.line, d.col), (9, 20), "{e}");
    assert!(p.build(&params(&p, &[("n", 3.0)])).is_ok());
}

// ---- semantics on hand-made bars ----

fn instrument(id: u32, symbol: &str) -> Instrument {
    Instrument::new(InstrumentId(id), symbol, 2, 0).expect("valid")
}

fn px(x: f64) -> Price {
    Price::from_f64(x, 2).expect("finite")
}

/// Bars one minute apart from (open, high, low, close).
fn bars(id: u32, symbol: &str, ohlc: &[(f64, f64, f64, f64)]) -> BarSeries {
    BarSeries {
        instrument: instrument(id, symbol),
        bars: ohlc
            .iter()
            .enumerate()
            .map(|(k, &(o, h, l, c))| Bar {
                ts: Timestamp::from_secs(60 * (k as i64 + 1)),
                open: px(o),
                high: px(h),
                low: px(l),
                close: px(c),
                volume: 1000.0,
            })
            .collect(),
    }
}

/// Flat bars at each close.
fn closes(id: u32, symbol: &str, cs: &[f64]) -> BarSeries {
    let ohlc: Vec<_> = cs.iter().map(|&c| (c, c, c, c)).collect();
    bars(id, symbol, &ohlc)
}

fn moves(r: &BacktestResult) -> Vec<(u64, String, String)> {
    r.states
        .iter()
        .map(|s| (s.bar, s.from.to_string(), s.to.to_string()))
        .collect()
}

fn mv(bar: u64, from: &str, to: &str) -> (u64, String, String) {
    (bar, from.into(), to.into())
}

#[test]
fn wait_is_a_cooldown_in_the_new_state() {
    let p = program(
        r#"
states = ["a", "b"]
initial = "a"
[[transitions]]
from = "a"
to = "b"
when = "true"
do = ["wait(3)"]
[[transitions]]
from = "b"
to = "a"
when = "true"
"#,
    );
    let data = [closes(0, "X", &[100.0; 20])];
    let r = run(&p, &[], &data, &BacktestConfig::default()).expect("runs");
    let bars: Vec<u64> = r.states.iter().map(|s| s.bar).collect();
    assert_eq!(bars, [0, 4, 5, 9, 10, 14, 15, 19]);
}

#[test]
fn wildcard_rules_fire_from_any_state_and_one_rule_fires_per_bar() {
    let p = program(
        r#"
states = ["a", "b", "c"]
initial = "a"
[[transitions]]
from = "*"
to = "c"
when = "bar_index == 5"
[[transitions]]
from = "a"
to = "b"
when = "true"
[[transitions]]
from = ["b"]
to = "a"
when = "true"
"#,
    );
    let data = [closes(0, "X", &[100.0; 12])];
    let r = run(&p, &[], &data, &BacktestConfig::default()).expect("runs");
    assert_eq!(
        moves(&r),
        [
            mv(0, "a", "b"),
            mv(1, "b", "a"),
            mv(2, "a", "b"),
            mv(3, "b", "a"),
            mv(4, "a", "b"),
            mv(5, "b", "c"),
        ]
    );
    assert_eq!(&*r.states[5].reason, "bar_index == 5");
}

#[test]
fn vars_are_set_in_order_and_stay_rules_keep_the_state() {
    let p = program(
        r#"
states = ["a", "b"]
initial = "a"
[vars]
count = 0
twice = 0
[[transitions]]
from = "a"
to = "b"
when = "count >= 5 and twice == 10 and bars_in_state == 6"
[[transitions]]
from = "a"
when = "true"
do = ["set(count, count + 1)", "set(twice, count * 2)"]
"#,
    );
    let data = [closes(0, "X", &[100.0; 10])];
    let r = run(&p, &[], &data, &BacktestConfig::default()).expect("runs");
    assert_eq!(moves(&r), [mv(5, "a", "b")]);
}

#[test]
fn limit_and_stop_orders_fill_at_their_prices() {
    let p = program(
        r#"
states = ["flat", "waiting", "long", "done"]
initial = "flat"
[[transitions]]
from = "flat"
to = "waiting"
when = "true"
do = ["limit(10, 95)"]
[[transitions]]
from = "waiting"
to = "long"
when = "position > 0"
do = ["stop(-position, 90.004)"]
[[transitions]]
from = "long"
to = "done"
when = "position == 0"
"#,
    );
    let data = [bars(
        0,
        "X",
        &[
            (100.0, 100.0, 100.0, 100.0),
            (100.0, 101.0, 99.0, 100.0),
            (100.0, 100.0, 94.0, 96.0), // limit buy 95 fills at 95
            (96.0, 97.0, 91.0, 92.0),   // stop 90 not reached
            (92.0, 92.0, 85.0, 86.0),   // stop fills at 90
            (86.0, 86.0, 86.0, 86.0),
        ],
    )];
    let r = run(&p, &[], &data, &BacktestConfig::default()).expect("runs");
    let fills: Vec<_> = r
        .fills
        .iter()
        .map(|f| (f.side, f.quantity, f.price, f.ts))
        .collect();
    let ts = |k: usize| data[0].bars[k].ts;
    assert_eq!(
        fills,
        [
            (Side::Buy, Quantity::from_int(10), px(95.0), ts(2)),
            (Side::Sell, Quantity::from_int(10), px(90.0), ts(4)),
        ]
    );
    assert_eq!(
        moves(&r),
        [
            mv(0, "flat", "waiting"),
            mv(2, "waiting", "long"),
            mv(4, "long", "done")
        ]
    );
    assert_eq!(r.trades.len(), 1);
    assert_eq!(r.trades[0].pnl, qf_core::Money::from_int(-50));
}

#[test]
fn warming_up_and_nan_make_comparisons_false() {
    let cs: Vec<f64> = (0..10).map(|k| 100.0 + k as f64).collect();
    let first_move = |when: &str| {
        let p = program(&format!(
            "states = [\"a\", \"b\"]\ninitial = \"a\"\n[[transitions]]\nfrom = \"a\"\nto = \"b\"\nwhen = \"{when}\"\n"
        ));
        let r = run(&p, &[], &[closes(0, "X", &cs)], &BacktestConfig::default()).expect("runs");
        r.states.first().map(|s| s.bar)
    };
    // sma(close, 5) has its first value on the fifth bar.
    assert_eq!(first_move("sma(close, 5) > 0"), Some(4));
    assert_eq!(first_move("sma(close, 5) != -1"), Some(4));
    assert_eq!(first_move("sma(close, 5) + 1 < 1e9"), Some(4));
    assert_eq!(first_move("min(sma(close, 5), 1) < 1e9"), Some(4));
    assert_eq!(first_move("is_ready(sma(close, 5))"), Some(4));
    assert_eq!(first_move("crossed_above(close, 100.5)"), Some(1));
    assert_eq!(first_move("prev(close) > 0"), Some(1));
    // `not` turns a false from a warming-up input into true.
    assert_eq!(first_move("not (sma(close, 5) > 0)"), Some(0));
    // Division by zero is NaN: never true, not even `!=`.
    assert_eq!(
        first_move("close / 0 > 0 or close / 0 < 1 or close / 0 != 1"),
        None
    );
    assert_eq!(first_move("close / (bar_index - bar_index) != 1"), None);
}

#[test]
fn each_instrument_runs_its_own_machine() {
    let p = program(
        r#"
states = ["watch", "in"]
initial = "watch"
[vars]
seen = 0
[[transitions]]
from = "watch"
to = "in"
when = "close > 105 and seen >= 2"
do = ["buy(1)"]
[[transitions]]
from = "watch"
when = "close > 105"
do = ["set(seen, seen + 1)"]
"#,
    );
    let a = closes(0, "A", &[100.0, 106.0, 106.0, 106.0, 100.0, 100.0]);
    let b = closes(1, "B", &[106.0, 100.0, 106.0, 100.0, 106.0, 106.0]);
    let r = run(&p, &[], &[a, b], &BacktestConfig::default()).expect("runs");
    let per: Vec<(u32, u64)> = r.states.iter().map(|s| (s.instrument.0, s.bar)).collect();
    // Bars interleave A0 B0 A1 B1 …: A moves on its 4th bar (engine bar 6), B on its 5th
    // (engine bar 9); each counted its own `seen`.
    assert_eq!(per, [(0, 6), (1, 9)]);
    let bought: Vec<u32> = r.fills.iter().map(|f| f.instrument.0).collect();
    assert_eq!(bought, [0, 1]);
}

#[test]
fn order_problems_stop_the_run_at_the_action() {
    let p = program(
        r#"
states = ["a", "b"]
initial = "a"
[[transitions]]
from = "a"
to = "b"
when = "bar_index == 2"
do = ["buy(1)", "limit(1, close - 200)"]
"#,
    );
    let data = [closes(0, "X", &[100.0; 5])];
    let e = run(&p, &[], &data, &BacktestConfig::default()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("test.toml:8:18: `limit(1, close - 200)`: price must be positive"),
        "{msg}"
    );
    assert!(matches!(e, EngineError::Strategy { bar: 2, .. }), "{msg}");
}

// ---- the trend-following example ----

/// What atr_trend.toml does, replayed from the bars alone: the ATR the engine computes (on
/// raw integer prices), the trailing level `max(level, close - k × ATR)` and the stop order
/// rounded to the tick.
#[test]
fn atr_trend_trades_and_its_trailing_stops_hold() {
    let p = example("atr_trend.toml");
    assert_eq!(p.states(), ["flat", "long", "cooldown"]);
    let data = [qf_data::sample_bars("DEMO", 120_000, 7)];
    let bars = &data[0].bars;
    let r = run(&p, &[], &data, &BacktestConfig::default()).expect("runs");
    let (k, atr_len, cooldown) = (3.0, 20, 30u64);

    let mut atr_ind = qf_indicators::Atr::new(atr_len).expect("valid");
    let atr: Vec<f64> = bars
        .iter()
        .map(|b| {
            atr_ind
                .update(
                    b.high.raw() as f64,
                    b.low.raw() as f64,
                    b.close.raw() as f64,
                )
                .map_or(f64::NAN, |v| v / PRICE_SCALE as f64)
        })
        .collect();

    let mut stop_outs = 0;
    let mut trend_exits = 0;
    let mut last_stop_out = None;
    let states = &r.states;
    let mut fills = r.fills.iter().peekable();
    for (n, entry) in states.iter().enumerate().filter(|(_, s)| &*s.to == "long") {
        let e = entry.bar as usize;
        if let Some(x) = last_stop_out {
            assert!(
                e as u64 >= x + cooldown + 2,
                "entry at {e} inside the cooldown after {x}"
            );
        }
        let Some(exit) = states.get(n + 1) else { break };
        let x = exit.bar as usize;
        if x == e + 1 && &*exit.reason == "position == 0 and bars_in_state == 1" {
            continue; // the entry did not fill
        }
        // The entry filled at the next open.
        let buy = fills.next().expect("entry fill");
        assert_eq!(
            (buy.side, buy.ts, buy.price),
            (Side::Buy, bars[e + 1].ts, bars[e + 1].open)
        );
        let qty = buy.quantity;

        // Level as set on the entry bar, then ratcheted on each bar still long.
        let mut level = bars[e].close.as_f64() - k * atr[e];
        let mut stop_for_next = None;
        for j in e + 1..x {
            if let Some(stop) = stop_for_next {
                assert!(
                    bars[j].low > stop,
                    "stop {stop} touched on bar {j} but not filled"
                );
            }
            level = level.max(bars[j].close.as_f64() - k * atr[j]);
            stop_for_next = Some(Price::from_f64(level, 2).expect("finite"));
        }
        let sell = fills.next().expect("exit fill");
        assert_eq!((sell.side, sell.quantity), (Side::Sell, qty));
        match (&*exit.from, &*exit.to) {
            ("long", "cooldown") => {
                let stop = stop_for_next.expect("a stop was working");
                assert!(bars[x].low <= stop);
                assert_eq!(sell.ts, bars[x].ts);
                assert_eq!(sell.price, stop.min(bars[x].open), "stop fill at bar {x}");
                assert!(sell.price <= stop);
                stop_outs += 1;
                last_stop_out = Some(x as u64);
            }
            ("long", "flat") => {
                assert_eq!(&*exit.reason, "close < prev(lower)");
                if let Some(stop) = stop_for_next {
                    assert!(bars[x].low > stop, "stop touched on the exit bar {x}");
                }
                assert_eq!((sell.ts, sell.price), (bars[x + 1].ts, bars[x + 1].open));
                trend_exits += 1;
            }
            other => panic!("unexpected move {other:?}"),
        }
    }
    assert!(stop_outs >= 5, "{stop_outs} stop-outs");
    assert!(trend_exits >= 5, "{trend_exits} trend exits");
    assert_eq!(r.trades.len(), stop_outs + trend_exits);
    assert_eq!(r.metrics.rejected_orders, 0);
}

#[test]
fn formats_come_from_the_extension_and_programs_cross_threads() {
    assert_eq!(Format::from_path("a/b/s.toml"), Some(Format::Toml));
    assert_eq!(Format::from_path("S.YML"), Some(Format::Yaml));
    assert_eq!(Format::from_path("s.yaml"), Some(Format::Yaml));
    assert_eq!(Format::from_path("s.py"), None);
    assert_eq!(Format::from_path("toml"), None);
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<RulesProgram>();
    send::<qf_sandbox::rules::RulesStrategy>();
    // Without `name`, the file name names the strategy.
    let p = parse(
        "dir/my_rules.toml",
        "states = [\"a\"]\ninitial = \"a\"\n[[transitions]]\nfrom = \"a\"\nto = \"a\"\nwhen = \"true\"\n",
        Format::Toml,
    )
    .expect("compiles");
    assert_eq!(p.name(), "my_rules");
    assert_eq!(p.description(), "");
}

/// The native logic exactly, in one state: no timeline, same trades (the bench's
/// `rules_sma_cross_one_state`).
#[test]
fn one_state_sma_cross_matches_native_without_a_timeline() {
    let p = program(
        r#"
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
"#,
    );
    let config = BacktestConfig {
        sizing: Sizing::PercentOfEquity(0.9),
        ..BacktestConfig::default()
    };
    let data = vec![qf_data::sample_bars("DEMO", 25_000, 9)];
    let native = native_sma_cross(10.0, 30.0, &data, &config);
    let rules = run(&p, &[], &data, &config).expect("runs");
    assert!(native.trades.len() > 20);
    assert_eq!(rules.trades, native.trades);
    assert_eq!(rules.fills, native.fills);
    assert!(rules.states.is_empty());
}
