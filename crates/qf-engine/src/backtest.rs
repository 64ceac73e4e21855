//! The event loop: bars of all instruments merged in time order, one portfolio across them.

use std::time::{Duration, Instant};

use serde::Serialize;

use qf_core::{
    Bar, BarSeries, Fill, Instrument, InstrumentId, Money, OrderKind, Price, Side, Timestamp,
};

use crate::config::{BacktestConfig, FillTiming};
use crate::context::{Context, StartContext, StateChange};
use crate::exchange::{Exchange, Outcome};
use crate::indicators::IndicatorSet;
use crate::metrics::{Accumulator, Metrics, Totals};
use crate::portfolio::{Portfolio, Trade};
use crate::{EngineError, Strategy, StrategyError};

/// Equity at the end of one bar time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EquityPoint {
    /// Bar time.
    pub ts: Timestamp,
    /// Cash + positions at their closes (exact).
    pub equity: Money,
    /// Cash (exact).
    pub cash: Money,
}

/// Everything a backtest produced.
#[derive(Debug, Clone)]
pub struct BacktestResult {
    /// The instruments traded.
    pub instruments: Vec<Instrument>,
    /// Headline statistics.
    pub metrics: Metrics,
    /// Closed round trips.
    pub trades: Vec<Trade>,
    /// Every fill (empty unless `config.record`).
    pub fills: Vec<Fill>,
    /// Equity per bar time (empty unless `config.record`).
    pub equity: Vec<EquityPoint>,
    /// Every state change the strategy announced, in order (see [`Context::change_state`]).
    pub states: Vec<StateChange>,
    /// [`crate::FillModel::describe`] of the rules used.
    pub fill_model: String,
    /// Wall time of the event loop alone (no loading, no output).
    pub elapsed: Duration,
}

impl BacktestResult {
    /// Bars per second of engine time.
    pub fn bars_per_second(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.metrics.bars as f64 / s
        } else {
            0.0
        }
    }
}

/// Progress is reported every this many bars.
pub const PROGRESS_EVERY: u64 = 1 << 16;

struct Engine<'a> {
    config: &'a BacktestConfig,
    instruments: Vec<Instrument>,
    last_bars: Vec<Bar>,
    bar_counts: Vec<u64>,
    portfolio: Portfolio,
    exchange: Exchange,
    indicators: IndicatorSet,
    fills: Vec<Fill>,
    pending_fills: Vec<Fill>,
    equity: Vec<EquityPoint>,
    states: Vec<StateChange>,
    acc: Accumulator,
    bars_done: u64,
    fill_count: u64,
    rejected: u64,
}

impl<'a> Engine<'a> {
    fn context(&mut self, focus: InstrumentId, now: Timestamp) -> Context<'_> {
        Context {
            instruments: &self.instruments,
            last_bars: &self.last_bars,
            indicators: &self.indicators,
            portfolio: &self.portfolio,
            exchange: &mut self.exchange,
            sizing: self.config.sizing,
            focus,
            now,
            bar_index: self.bars_done,
            states: &mut self.states,
        }
    }

    /// Executes an order at `price` unless the leverage limit forbids it; returns whether
    /// it filled.
    fn execute(&mut self, order: &qf_core::Order, price: Price, ts: Timestamp) -> bool {
        let i = order.instrument.index();
        let signed = if order.side == Side::Buy {
            order.quantity
        } else {
            -order.quantity
        };
        let before = self.portfolio.positions[i];
        let after = before + signed;
        let fee = self.config.fill.fees.fee(price, order.quantity);
        if after.abs() > before.abs() {
            // Equity after the fill, with this instrument re-marked at the fill price.
            let cash_after = self.portfolio.cash
                - if order.side == Side::Buy {
                    price * order.quantity
                } else {
                    -(price * order.quantity)
                }
                - fee;
            let mut equity_after = cash_after + price * after;
            for (j, (q, p)) in self
                .portfolio
                .positions
                .iter()
                .zip(&self.portfolio.marks)
                .enumerate()
            {
                if j != i {
                    equity_after += *p * *q;
                }
            }
            let gross = self.portfolio.gross_exposure_with(i, after, price);
            let limit = equity_after.as_f64() * self.config.fill.max_leverage;
            if equity_after <= Money::ZERO || gross.as_f64() > limit * (1.0 + 1e-12) {
                self.rejected += 1;
                return false;
            }
        }
        let fill = Fill {
            order_id: order.id,
            instrument: order.instrument,
            side: order.side,
            quantity: order.quantity,
            price,
            fee,
            ts,
            submitted_at: order.submitted_at,
        };
        self.portfolio.apply(&fill, self.bar_counts[i]);
        self.fill_count += 1;
        self.pending_fills.push(fill);
        true
    }

    /// Matches working orders of `inst` against `bar`.
    fn match_orders(&mut self, inst: InstrumentId, bar: &Bar) {
        let mut k = 0;
        while k < self.exchange.orders.len() {
            if self.exchange.orders[k].instrument != inst {
                k += 1;
                continue;
            }
            let info = &self.instruments[inst.index()];
            let outcome =
                Exchange::evaluate(&mut self.exchange.orders[k], bar, &self.config.fill, info);
            match outcome {
                Outcome::Rest => k += 1,
                Outcome::Expire => {
                    self.exchange.orders.remove(k);
                }
                Outcome::Fill(price) => {
                    let order = self.exchange.orders.remove(k);
                    self.execute(&order, price, bar.ts);
                }
            }
        }
    }

    /// Optimistic mode: market orders decided now fill at this bar's close.
    fn fill_at_close(&mut self, inst: InstrumentId, bar: &Bar) {
        let mut k = 0;
        while k < self.exchange.orders.len() {
            let o = &self.exchange.orders[k];
            if o.instrument == inst && o.kind == OrderKind::Market && o.submitted_at == bar.ts {
                let order = self.exchange.orders.remove(k);
                let info = &self.instruments[inst.index()];
                let price =
                    crate::exchange::slip(bar.close, order.side, self.config.fill.slippage, info);
                self.execute(&order, price, bar.ts);
            } else {
                k += 1;
            }
        }
    }

    fn deliver_fills(
        &mut self,
        strategy: &mut dyn Strategy,
        inst: InstrumentId,
        now: Timestamp,
    ) -> Result<(), StrategyError> {
        if self.pending_fills.is_empty() {
            return Ok(());
        }
        let fills = std::mem::take(&mut self.pending_fills);
        for f in &fills {
            strategy.on_fill(&mut self.context(inst, now), f)?;
        }
        if self.config.record {
            self.fills.extend_from_slice(&fills);
        }
        // Hand the (now empty) buffer back so its capacity is reused.
        self.pending_fills = fills;
        self.pending_fills.clear();
        Ok(())
    }

    #[inline]
    fn process(
        &mut self,
        strategy: &mut dyn Strategy,
        inst: InstrumentId,
        bar: &Bar,
    ) -> Result<(), EngineError> {
        let i = inst.index();
        let wrap = |bar_no: u64, source| EngineError::Strategy {
            bar: bar_no,
            time: bar.ts,
            source,
        };
        if !self.exchange.orders.is_empty() && self.exchange.has_orders_for(inst) {
            self.match_orders(inst, bar);
            self.deliver_fills(strategy, inst, bar.ts)
                .map_err(|e| wrap(self.bars_done, e))?;
        }
        self.portfolio.marks[i] = bar.close;
        self.last_bars[i] = *bar;
        self.bar_counts[i] += 1;
        self.indicators.update(inst, bar);
        strategy
            .on_bar(&mut self.context(inst, bar.ts))
            .map_err(|e| wrap(self.bars_done, e))?;
        if self.config.fill.timing == FillTiming::SameClose && !self.exchange.orders.is_empty() {
            self.fill_at_close(inst, bar);
            self.deliver_fills(strategy, inst, bar.ts)
                .map_err(|e| wrap(self.bars_done, e))?;
        }
        self.bars_done += 1;
        Ok(())
    }

    #[inline]
    fn record(&mut self, ts: Timestamp) {
        self.acc.update(
            ts,
            self.portfolio.equity_f64(),
            self.portfolio.has_position(),
        );
        if self.config.record {
            let equity = self.portfolio.equity();
            self.equity.push(EquityPoint {
                ts,
                equity,
                cash: self.portfolio.cash,
            });
        }
    }
}

/// Runs `strategy` over `data` (one series per instrument, `data[i].instrument.id == i`).
///
/// `progress`, if given, is called with the number of bars done every [`PROGRESS_EVERY`]
/// bars. Deterministic: the same inputs always give the same result, timing aside.
pub fn run_backtest(
    config: &BacktestConfig,
    data: &[BarSeries],
    strategy: &mut dyn Strategy,
    mut progress: Option<&mut dyn FnMut(u64)>,
) -> Result<BacktestResult, EngineError> {
    config.validate()?;
    let total: usize = data.iter().map(|s| s.bars.len()).sum();
    if total == 0 {
        return Err(EngineError::NoData);
    }
    for (k, s) in data.iter().enumerate() {
        if s.instrument.id.index() != k {
            return Err(EngineError::InvalidConfig(format!(
                "instrument {} has id {} but is at position {k}",
                s.instrument.symbol, s.instrument.id.0
            )));
        }
    }
    let n = data.len();
    let instruments: Vec<Instrument> = data.iter().map(|s| s.instrument.clone()).collect();
    let placeholder = Bar {
        ts: Timestamp::EPOCH,
        open: Price::ZERO,
        high: Price::ZERO,
        low: Price::ZERO,
        close: Price::ZERO,
        volume: 0.0,
    };
    let mut engine = Engine {
        config,
        last_bars: vec![placeholder; n],
        bar_counts: vec![0; n],
        portfolio: Portfolio::new(config.cash, n),
        exchange: Exchange::default(),
        indicators: IndicatorSet::new(n),
        fills: Vec::new(),
        pending_fills: Vec::new(),
        equity: Vec::with_capacity(if config.record { total } else { 0 }),
        states: Vec::new(),
        acc: Accumulator::default(),
        bars_done: 0,
        fill_count: 0,
        rejected: 0,
        instruments,
    };
    strategy
        .on_start(&mut StartContext {
            instruments: &engine.instruments,
            indicators: &mut engine.indicators,
        })
        .map_err(EngineError::Start)?;

    let started = Instant::now();
    if n == 1 {
        let inst = InstrumentId(0);
        for chunk in data[0].bars.chunks(PROGRESS_EVERY as usize) {
            for bar in chunk {
                engine.process(strategy, inst, bar)?;
                engine.record(bar.ts);
            }
            if let Some(p) = progress.as_mut() {
                p(engine.bars_done);
            }
        }
    } else {
        // k-way merge by time; instruments sharing a timestamp are processed in id order
        // and equity is sampled once per distinct time.
        let mut cursor = vec![0usize; n];
        let mut next_report = PROGRESS_EVERY;
        loop {
            let mut now: Option<Timestamp> = None;
            for (k, s) in data.iter().enumerate() {
                if let Some(b) = s.bars.get(cursor[k]) {
                    now = Some(now.map_or(b.ts, |t| t.min(b.ts)));
                }
            }
            let Some(now) = now else { break };
            for (k, s) in data.iter().enumerate() {
                if let Some(b) = s.bars.get(cursor[k])
                    && b.ts == now
                {
                    engine.process(strategy, InstrumentId(k as u32), b)?;
                    cursor[k] += 1;
                }
            }
            engine.record(now);
            if engine.bars_done >= next_report {
                next_report += PROGRESS_EVERY;
                if let Some(p) = progress.as_mut() {
                    p(engine.bars_done);
                }
            }
        }
        if let Some(p) = progress.as_mut() {
            p(engine.bars_done);
        }
    }
    let last = InstrumentId((n - 1) as u32);
    let end_ts = engine.acc_last_ts();
    strategy
        .on_end(&mut engine.context(last, end_ts))
        .map_err(|source| EngineError::Strategy {
            bar: engine.bars_done,
            time: end_ts,
            source,
        })?;
    let elapsed = started.elapsed();

    let p = &engine.portfolio;
    let metrics = Metrics::compute(
        &engine.acc,
        &Totals {
            bars: engine.bars_done,
            initial: config.cash,
            final_equity: p.equity(),
            final_cash: p.cash,
            fees: p.fees_paid,
            trades: &p.trades,
            open_trades: p.open_trades(),
            rejected_orders: engine.rejected,
            fills: engine.fill_count,
        },
    );
    Ok(BacktestResult {
        instruments: engine.instruments,
        metrics,
        trades: engine.portfolio.trades,
        fills: engine.fills,
        equity: engine.equity,
        states: engine.states,
        fill_model: config.fill.describe(),
        elapsed,
    })
}

impl Engine<'_> {
    fn acc_last_ts(&self) -> Timestamp {
        self.last_bars
            .iter()
            .map(|b| b.ts)
            .max()
            .unwrap_or(Timestamp::EPOCH)
    }
}
