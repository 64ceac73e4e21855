//! Property tests of the engine's accounting, checked against an independent replay of the
//! fills rather than against the engine's own portfolio.

use proptest::prelude::*;
use qf_core::{
    Bar, BarSeries, Instrument, InstrumentId, Money, Price, Quantity, Side, TimeInForce, Timestamp,
};
use qf_engine::{
    BacktestConfig, Context, FeeModel, FillTiming, Slippage, StartContext, Strategy, StrategyError,
    run_backtest,
};

/// Places pseudo-random orders of every kind from a seed.
struct RandomTrader {
    state: u64,
}

impl RandomTrader {
    fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }
}

impl Strategy for RandomTrader {
    fn on_start(&mut self, _ctx: &mut StartContext<'_>) -> Result<(), StrategyError> {
        Ok(())
    }

    fn on_bar(&mut self, ctx: &mut Context<'_>) -> Result<(), StrategyError> {
        let i = ctx.instrument();
        let r = self.next();
        let close = ctx.bar().close;
        let qty = Quantity::from_int((r % 5 + 1) as i64);
        let side = if r & 8 == 0 { Side::Buy } else { Side::Sell };
        let off = Price::from_raw(((r >> 8) % 300) as i64 * 10_000_000);
        let tif = [TimeInForce::Gtc, TimeInForce::Day, TimeInForce::Ioc][(r >> 20) as usize % 3];
        let res = match (r >> 4) % 8 {
            0 => ctx.market(i, side, qty).map(|_| ()),
            1 => ctx
                .limit(
                    i,
                    side,
                    qty,
                    Price::from_raw((close.raw() - off.raw()).max(10_000_000)),
                    tif,
                )
                .map(|_| ()),
            2 => ctx.stop(i, side, qty, close + off, tif).map(|_| ()),
            3 => ctx
                .stop_limit(i, side, qty, close + off, close, tif)
                .map(|_| ()),
            4 => ctx
                .order_target_percent(i, ((r >> 30) % 200) as f64 / 100.0 - 1.0)
                .map(|_| ()),
            5 => ctx.close_position(i).map(|_| ()),
            6 => {
                if let Some(o) = ctx.open_orders().first().map(|o| o.id) {
                    ctx.cancel(o);
                }
                Ok(())
            }
            _ => Ok(()),
        };
        res.map_err(|e| StrategyError::new(e.to_string()))
    }
}

fn arb_series(id: u32, symbol: &'static str) -> impl Strategy_<Value = BarSeries> {
    (
        proptest::collection::vec((-300i64..300, 0i64..200, 0i64..200, -200i64..200), 2..120),
        0i64..3,
    )
        .prop_map(move |(steps, gap)| {
            let mut price = 10_000i64; // cents
            let mut bars = Vec::new();
            for (k, (d, up, down, c)) in steps.into_iter().enumerate() {
                let open = (price + d).max(100);
                let close = (open + c).max(100);
                let high = open.max(close) + up;
                let low = (open.min(close) - down).max(50);
                price = close;
                let cents = |x: i64| Price::from_raw(x * 10_000_000);
                bars.push(Bar {
                    ts: Timestamp::from_secs(3600 * (k as i64 * (1 + gap)) + i64::from(id) * 60),
                    open: cents(open),
                    high: cents(high),
                    low: cents(low),
                    close: cents(close),
                    volume: 1000.0,
                });
            }
            BarSeries {
                instrument: Instrument::new(InstrumentId(id), symbol, 2, 0).unwrap(),
                bars,
            }
        })
}

use proptest::strategy::{Strategy as Strategy_, ValueTree};

fn config(timing: FillTiming, fees: bool, leverage: f64) -> BacktestConfig {
    let mut c = BacktestConfig {
        cash: Money::from_int(50_000),
        ..BacktestConfig::default()
    };
    c.fill.timing = timing;
    c.fill.max_leverage = leverage;
    if fees {
        c.fill.fees = FeeModel {
            per_unit: Price::parse("0.01").unwrap(),
            bps: Price::parse("2.5").unwrap(),
            minimum: Money::parse("1").unwrap(),
        };
        c.fill.slippage = Slippage::Ticks(1);
    }
    c
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn equity_is_cash_plus_positions_at_every_bar(
        a in arb_series(0, "AAA"), b in arb_series(1, "BBB"), seed in 1u64..u64::MAX,
        same_close in any::<bool>(), fees in any::<bool>(), leverage in prop::sample::select(vec![1.0, 2.0, 0.5]),
    ) {
        let timing = if same_close { FillTiming::SameClose } else { FillTiming::NextOpen };
        let cfg = config(timing, fees, leverage);
        let data = vec![a, b];
        let r = run_backtest(&cfg, &data, &mut RandomTrader { state: seed }, None).unwrap();

        // Replay fills on an independent ledger, walking the equity samples in time order.
        let mut cash = cfg.cash;
        let mut pos = [Quantity::ZERO; 2];
        let mut marks = [Price::ZERO; 2];
        let mut next_fill = 0;
        let mut cursors = [0usize; 2];
        for point in &r.equity {
            while next_fill < r.fills.len() && r.fills[next_fill].ts <= point.ts {
                let f = &r.fills[next_fill];
                prop_assert!(f.fee >= Money::ZERO, "negative fee");
                match timing {
                    FillTiming::NextOpen => prop_assert!(f.ts > f.submitted_at, "fill at {} precedes or equals its order at {}", f.ts, f.submitted_at),
                    FillTiming::SameClose => prop_assert!(f.ts >= f.submitted_at),
                }
                let v = f.price * f.quantity;
                let i = f.instrument.index();
                match f.side {
                    Side::Buy => { cash -= v; pos[i] += f.quantity; }
                    Side::Sell => { cash += v; pos[i] -= f.quantity; }
                }
                cash -= f.fee;
                next_fill += 1;
            }
            for (k, s) in data.iter().enumerate() {
                while cursors[k] < s.bars.len() && s.bars[cursors[k]].ts <= point.ts {
                    marks[k] = s.bars[cursors[k]].close;
                    cursors[k] += 1;
                }
            }
            let expect = cash + marks[0] * pos[0] + marks[1] * pos[1];
            prop_assert_eq!(point.cash, cash);
            prop_assert_eq!(point.equity, expect, "at {}", point.ts);
        }
        prop_assert_eq!(next_fill, r.fills.len());
        prop_assert_eq!(r.metrics.final_equity_exact, r.equity.last().unwrap().equity);
        let fee_total: Money = r.fills.iter().map(|f| f.fee).sum();
        prop_assert_eq!(r.metrics.fees, fee_total);
    }

    #[test]
    fn round_trips_at_unchanged_prices_leave_equity_unchanged(n in 2usize..300, seed in 1u64..u64::MAX, same_close in any::<bool>()) {
        let p = Price::parse("123.45").unwrap();
        let bars = (0..n).map(|k| Bar { ts: Timestamp::from_secs(60 * k as i64), open: p, high: p, low: p, close: p, volume: 1.0 }).collect();
        let data = vec![BarSeries { instrument: Instrument::new(InstrumentId(0), "FLAT", 2, 0).unwrap(), bars }];
        let timing = if same_close { FillTiming::SameClose } else { FillTiming::NextOpen };
        let cfg = config(timing, false, 2.0);
        let r = run_backtest(&cfg, &data, &mut RandomTrader { state: seed }, None).unwrap();
        for point in &r.equity {
            prop_assert_eq!(point.equity, cfg.cash);
        }
        let pnl: Money = r.trades.iter().map(|t| t.pnl).sum();
        prop_assert_eq!(pnl, Money::ZERO);
    }

    #[test]
    fn closed_trade_pnl_adds_up_to_the_equity_change(a in arb_series(0, "AAA"), seed in 1u64..u64::MAX, fees in any::<bool>()) {
        // A trader that ends flat: then the sum of trade P&L is the whole equity change.
        // Trades at random, then flattens on the last bar; with same-close fills the closing
        // order executes on that bar, so the run always ends flat.
        struct EndFlat { inner: RandomTrader, bars: usize, seen: usize }
        impl Strategy for EndFlat {
            fn on_start(&mut self, ctx: &mut StartContext<'_>) -> Result<(), StrategyError> { self.inner.on_start(ctx) }
            fn on_bar(&mut self, ctx: &mut Context<'_>) -> Result<(), StrategyError> {
                self.seen += 1;
                if self.seen < self.bars {
                    return self.inner.on_bar(ctx);
                }
                let i = ctx.instrument();
                ctx.cancel_all(i);
                ctx.close_position(i).map(|_| ()).map_err(|e| StrategyError::new(e.to_string()))
            }
        }
        let cfg = config(FillTiming::SameClose, fees, 1.0);
        let bars = a.bars.len();
        let data = vec![a];
        let r = run_backtest(&cfg, &data, &mut EndFlat { inner: RandomTrader { state: seed }, bars, seen: 0 }, None).unwrap();
        prop_assert_eq!(r.metrics.open_trades, 0);
        let pnl: Money = r.trades.iter().map(|t| t.pnl).sum();
        // Trade P&L splits fees of position flips by quantity, rounding at 10⁻¹⁸.
        prop_assert!((pnl - (r.metrics.final_equity_exact - cfg.cash)).abs() <= Money::from_raw(r.fills.len() as i128));
    }
}

#[test]
fn same_inputs_give_identical_results() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let data = vec![
        arb_series(0, "AAA")
            .new_tree(&mut runner)
            .unwrap()
            .current(),
        arb_series(1, "BBB")
            .new_tree(&mut runner)
            .unwrap()
            .current(),
    ];
    let cfg = config(FillTiming::NextOpen, true, 1.0);
    let a = run_backtest(&cfg, &data, &mut RandomTrader { state: 99 }, None).unwrap();
    let b = run_backtest(&cfg, &data, &mut RandomTrader { state: 99 }, None).unwrap();
    assert_eq!(a.fills, b.fills);
    assert_eq!(a.equity, b.equity);
    assert_eq!(a.trades, b.trades);
    assert_eq!(a.metrics, b.metrics);
    assert!(!a.fills.is_empty());
}

#[test]
fn market_orders_never_fill_on_the_bar_they_were_decided_on() {
    // Buy on every bar; each fill must be at the *next* bar's open.
    struct BuyEveryBar;
    impl Strategy for BuyEveryBar {
        fn on_start(&mut self, _: &mut StartContext<'_>) -> Result<(), StrategyError> {
            Ok(())
        }
        fn on_bar(&mut self, ctx: &mut Context<'_>) -> Result<(), StrategyError> {
            ctx.market(ctx.instrument(), Side::Buy, Quantity::from_int(1))
                .map(|_| ())
                .map_err(|e| StrategyError::new(e.to_string()))
        }
    }
    let bars: Vec<Bar> = (0..10)
        .map(|k| {
            let o = Price::from_int(100 + k);
            Bar {
                ts: Timestamp::from_secs(k * 60),
                open: o,
                high: o + Price::from_int(1),
                low: o,
                close: o + Price::from_int(1),
                volume: 1.0,
            }
        })
        .collect();
    let data = vec![BarSeries {
        instrument: Instrument::new(InstrumentId(0), "X", 2, 0).unwrap(),
        bars: bars.clone(),
    }];
    let r = run_backtest(&BacktestConfig::default(), &data, &mut BuyEveryBar, None).unwrap();
    assert_eq!(r.fills.len(), 9);
    for (k, f) in r.fills.iter().enumerate() {
        assert_eq!(f.price, bars[k + 1].open);
        assert_eq!(f.ts, bars[k + 1].ts);
        assert_eq!(f.submitted_at, bars[k].ts);
    }
    let mut cfg = BacktestConfig::default();
    cfg.fill.timing = FillTiming::SameClose;
    let r = run_backtest(&cfg, &data, &mut BuyEveryBar, None).unwrap();
    assert_eq!(r.fills.len(), 10);
    assert_eq!(r.fills[0].price, bars[0].close);
    assert!(r.fill_model.contains("OPTIMISTIC"));
}
