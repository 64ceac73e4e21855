//! What a strategy sees and can do: market state, indicator values and the order API.

use qf_core::{
    Bar, Instrument, InstrumentId, Money, Order, OrderId, OrderKind, Price, Quantity, Side,
    TimeInForce, Timestamp,
};
use qf_indicators::{crossed_above, crossed_below};
use serde::Serialize;
use std::sync::Arc;

use crate::config::Sizing;
use crate::exchange::Exchange;
use crate::indicators::{BollingerLines, IndicatorSet, Line, MacdLines, SingleSpec, Source};
use crate::portfolio::Portfolio;
use crate::{OrderError, StrategyError};

/// Given to [`crate::Strategy::on_start`]: the instruments, and indicator registration.
pub struct StartContext<'a> {
    pub(crate) instruments: &'a [Instrument],
    pub(crate) indicators: &'a mut IndicatorSet,
}

impl StartContext<'_> {
    /// The instruments of this run, indexed by [`InstrumentId`].
    pub fn instruments(&self) -> &[Instrument] {
        self.instruments
    }

    fn single(
        &mut self,
        i: InstrumentId,
        source: Source,
        spec: SingleSpec,
    ) -> Result<Line, StrategyError> {
        self.indicators.add_single(i, source, spec)
    }

    /// Simple moving average of `source` over `period` bars.
    pub fn sma(
        &mut self,
        i: InstrumentId,
        source: Source,
        period: usize,
    ) -> Result<Line, StrategyError> {
        self.single(i, source, SingleSpec::Sma(period))
    }

    /// Exponential moving average.
    pub fn ema(
        &mut self,
        i: InstrumentId,
        source: Source,
        period: usize,
    ) -> Result<Line, StrategyError> {
        self.single(i, source, SingleSpec::Ema(period))
    }

    /// Linearly weighted moving average.
    pub fn wma(
        &mut self,
        i: InstrumentId,
        source: Source,
        period: usize,
    ) -> Result<Line, StrategyError> {
        self.single(i, source, SingleSpec::Wma(period))
    }

    /// Wilder's relative strength index.
    pub fn rsi(
        &mut self,
        i: InstrumentId,
        source: Source,
        period: usize,
    ) -> Result<Line, StrategyError> {
        self.single(i, source, SingleSpec::Rsi(period))
    }

    /// Rolling (population) standard deviation.
    pub fn stddev(
        &mut self,
        i: InstrumentId,
        source: Source,
        period: usize,
    ) -> Result<Line, StrategyError> {
        self.single(i, source, SingleSpec::Std(period))
    }

    /// Rolling maximum.
    pub fn max(
        &mut self,
        i: InstrumentId,
        source: Source,
        period: usize,
    ) -> Result<Line, StrategyError> {
        self.single(i, source, SingleSpec::Max(period))
    }

    /// Rolling minimum.
    pub fn min(
        &mut self,
        i: InstrumentId,
        source: Source,
        period: usize,
    ) -> Result<Line, StrategyError> {
        self.single(i, source, SingleSpec::Min(period))
    }

    /// Average true range (uses high, low and close).
    pub fn atr(&mut self, i: InstrumentId, period: usize) -> Result<Line, StrategyError> {
        self.single(i, Source::Close, SingleSpec::Atr(period))
    }

    /// MACD with its signal line and histogram.
    pub fn macd(
        &mut self,
        i: InstrumentId,
        source: Source,
        fast: usize,
        slow: usize,
        signal: usize,
    ) -> Result<MacdLines, StrategyError> {
        self.indicators.add_macd(i, source, fast, slow, signal)
    }

    /// Bollinger bands at `k` standard deviations.
    pub fn bollinger(
        &mut self,
        i: InstrumentId,
        source: Source,
        period: usize,
        k: f64,
    ) -> Result<BollingerLines, StrategyError> {
        self.indicators.add_bollinger(i, source, period, k)
    }
}

/// Given to every per-bar hook: read the market and portfolio, place and cancel orders.
pub struct Context<'a> {
    pub(crate) instruments: &'a [Instrument],
    pub(crate) last_bars: &'a [Bar],
    pub(crate) indicators: &'a IndicatorSet,
    pub(crate) portfolio: &'a Portfolio,
    pub(crate) exchange: &'a mut Exchange,
    pub(crate) sizing: Sizing,
    pub(crate) focus: InstrumentId,
    pub(crate) now: Timestamp,
    pub(crate) bar_index: u64,
    pub(crate) states: &'a mut Vec<StateChange>,
}

/// One move of a strategy's state machine, for the report's state timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateChange {
    /// Time of the bar on which the strategy moved.
    pub ts: Timestamp,
    /// Index of that bar (all instruments).
    pub bar: u64,
    /// Instrument whose bar it was.
    pub instrument: InstrumentId,
    /// State left.
    pub from: Arc<str>,
    /// State entered.
    pub to: Arc<str>,
    /// Why, in the strategy's own words (a rule's guard, a Python return value).
    pub reason: Arc<str>,
}

impl Context<'_> {
    /// The instrument whose bar is being processed.
    pub fn instrument(&self) -> InstrumentId {
        self.focus
    }

    /// All instruments of this run.
    pub fn instruments(&self) -> &[Instrument] {
        self.instruments
    }

    /// Time of the current bar.
    pub fn time(&self) -> Timestamp {
        self.now
    }

    /// How many bars (all instruments) came before this one.
    pub fn bar_index(&self) -> u64 {
        self.bar_index
    }

    /// The current bar of the focus instrument.
    pub fn bar(&self) -> &Bar {
        &self.last_bars[self.focus.index()]
    }

    /// The latest bar seen of any instrument (its close is that instrument's mark).
    pub fn last_bar(&self, i: InstrumentId) -> Option<&Bar> {
        self.last_bars
            .get(i.index())
            .filter(|b| b.close.is_positive())
    }

    /// Signed position in `i` (negative when short).
    pub fn position(&self, i: InstrumentId) -> Quantity {
        self.portfolio
            .positions
            .get(i.index())
            .copied()
            .unwrap_or(Quantity::ZERO)
    }

    /// Cash, exact.
    pub fn cash(&self) -> Money {
        self.portfolio.cash
    }

    /// Cash plus positions at their last marks.
    pub fn equity(&self) -> Money {
        self.portfolio.equity()
    }

    /// Orders still working, oldest first.
    pub fn open_orders(&self) -> &[Order] {
        &self.exchange.orders
    }

    /// Records that the strategy moved from state `from` to `to` on this bar, and why.
    /// Only the timeline of the result sees this; it changes no order or position.
    pub fn change_state(&mut self, from: Arc<str>, to: Arc<str>, reason: Arc<str>) {
        self.states.push(StateChange {
            ts: self.now,
            bar: self.bar_index,
            instrument: self.focus,
            from,
            to,
            reason,
        });
    }

    /// The current value of an indicator line; `None` while it warms up.
    #[inline]
    pub fn value(&self, line: Line) -> Option<f64> {
        self.indicators.value(line)
    }

    /// The value of a line on the previous bar of its instrument.
    #[inline]
    pub fn previous(&self, line: Line) -> Option<f64> {
        self.indicators.previous(line)
    }

    /// `a` crossed above `b` on this bar: previously `a <= b`, now `a > b`.
    #[inline]
    pub fn crossed_above(&self, a: Line, b: Line) -> bool {
        // Compared in raw units: exact for prices, see `Source`.
        self.indicators
            .pair(a, b)
            .is_some_and(|(pa, pb, a, b)| crossed_above(pa, pb, a, b))
    }

    /// `a` crossed below `b` on this bar: previously `a >= b`, now `a < b`.
    #[inline]
    pub fn crossed_below(&self, a: Line, b: Line) -> bool {
        // Compared in raw units: exact for prices, see `Source`.
        self.indicators
            .pair(a, b)
            .is_some_and(|(pa, pb, a, b)| crossed_below(pa, pb, a, b))
    }

    fn instrument_info(&self, i: InstrumentId) -> Result<&Instrument, OrderError> {
        self.instruments
            .get(i.index())
            .ok_or(OrderError::UnknownInstrument(i.0))
    }

    /// Places an order. Quantity must be a positive multiple of the lot; limit and stop
    /// prices positive multiples of the tick.
    pub fn submit(
        &mut self,
        i: InstrumentId,
        side: Side,
        quantity: Quantity,
        kind: OrderKind,
        tif: TimeInForce,
    ) -> Result<OrderId, OrderError> {
        let info = self.instrument_info(i)?;
        let lot = info.lot();
        if !quantity.is_positive() || quantity.raw() % lot.raw() != 0 {
            return Err(OrderError::BadQuantity {
                quantity: quantity.to_string(),
                lot: lot.to_string(),
            });
        }
        let tick = info.tick();
        let prices: &[Price] = match &kind {
            OrderKind::Market => &[],
            OrderKind::Limit { price } => std::slice::from_ref(price),
            OrderKind::Stop { trigger } => std::slice::from_ref(trigger),
            OrderKind::StopLimit { trigger, limit } => &[*trigger, *limit],
        };
        if let Some(p) = prices
            .iter()
            .find(|p| !p.is_positive() || p.raw() % tick.raw() != 0)
        {
            return Err(OrderError::BadPrice {
                price: p.to_string(),
                tick: tick.to_string(),
            });
        }
        self.exchange.next_id += 1;
        let id = OrderId(self.exchange.next_id);
        self.exchange.orders.push(Order {
            id,
            instrument: i,
            side,
            quantity,
            kind,
            tif,
            submitted_at: self.now,
            triggered: false,
        });
        Ok(id)
    }

    /// A GTC market order.
    pub fn market(
        &mut self,
        i: InstrumentId,
        side: Side,
        quantity: Quantity,
    ) -> Result<OrderId, OrderError> {
        self.submit(i, side, quantity, OrderKind::Market, TimeInForce::Gtc)
    }

    /// A limit order.
    pub fn limit(
        &mut self,
        i: InstrumentId,
        side: Side,
        quantity: Quantity,
        price: Price,
        tif: TimeInForce,
    ) -> Result<OrderId, OrderError> {
        self.submit(i, side, quantity, OrderKind::Limit { price }, tif)
    }

    /// A stop (market once triggered) order.
    pub fn stop(
        &mut self,
        i: InstrumentId,
        side: Side,
        quantity: Quantity,
        trigger: Price,
        tif: TimeInForce,
    ) -> Result<OrderId, OrderError> {
        self.submit(i, side, quantity, OrderKind::Stop { trigger }, tif)
    }

    /// A stop-limit order.
    pub fn stop_limit(
        &mut self,
        i: InstrumentId,
        side: Side,
        quantity: Quantity,
        trigger: Price,
        limit: Price,
        tif: TimeInForce,
    ) -> Result<OrderId, OrderError> {
        self.submit(
            i,
            side,
            quantity,
            OrderKind::StopLimit { trigger, limit },
            tif,
        )
    }

    /// Cancels a working order; `false` if it is not working (filled, expired or unknown).
    pub fn cancel(&mut self, id: OrderId) -> bool {
        let before = self.exchange.orders.len();
        self.exchange.orders.retain(|o| o.id != id);
        self.exchange.orders.len() != before
    }

    /// Cancels every working order of `i`.
    pub fn cancel_all(&mut self, i: InstrumentId) {
        self.exchange.orders.retain(|o| o.instrument != i);
    }

    /// Position plus working market orders: where the position is headed.
    fn pending_position(&self, i: InstrumentId) -> Quantity {
        let mut q = self.position(i);
        for o in self
            .exchange
            .orders
            .iter()
            .filter(|o| o.instrument == i && o.kind == OrderKind::Market)
        {
            q += if o.side == Side::Buy {
                o.quantity
            } else {
                -o.quantity
            };
        }
        q
    }

    /// Sends the market order that takes the position (counting working market orders) to
    /// `target`; `None` if it is already there.
    pub fn order_target_quantity(
        &mut self,
        i: InstrumentId,
        target: Quantity,
    ) -> Result<Option<OrderId>, OrderError> {
        let lot = self.instrument_info(i)?.lot();
        let target = Quantity::from_raw(target.raw() / lot.raw() * lot.raw());
        let delta = target - self.pending_position(i);
        if delta.is_zero() {
            return Ok(None);
        }
        let side = if delta.is_positive() {
            Side::Buy
        } else {
            Side::Sell
        };
        self.market(i, side, delta.abs()).map(Some)
    }

    /// Targets a position worth `fraction` of equity at the last close (negative = short),
    /// rounded towards zero to whole lots.
    pub fn order_target_percent(
        &mut self,
        i: InstrumentId,
        fraction: f64,
    ) -> Result<Option<OrderId>, OrderError> {
        if !fraction.is_finite() {
            return Err(OrderError::NotFinite);
        }
        let info = self.instrument_info(i)?;
        let precision = info.size_precision;
        let price = self.last_bars[i.index()].close.as_f64();
        if price <= 0.0 {
            return Ok(None);
        }
        let units = self.equity().as_f64() * fraction / price;
        let target = Quantity::from_f64(units, 9)
            .ok_or(OrderError::NotFinite)?
            .truncate_to(precision);
        self.order_target_quantity(i, target)
    }

    fn enter(&mut self, i: InstrumentId, sign: i64) -> Result<Option<OrderId>, OrderError> {
        match self.sizing {
            Sizing::Fixed(q) => self.order_target_quantity(i, if sign > 0 { q } else { -q }),
            Sizing::PercentOfEquity(f) => self.order_target_percent(i, f * sign as f64),
        }
    }

    /// Goes long by the run's sizing (`--size` or `--percent`), reversing a short.
    pub fn enter_long(&mut self, i: InstrumentId) -> Result<Option<OrderId>, OrderError> {
        self.enter(i, 1)
    }

    /// Goes short by the run's sizing, reversing a long.
    pub fn enter_short(&mut self, i: InstrumentId) -> Result<Option<OrderId>, OrderError> {
        self.enter(i, -1)
    }

    /// Flattens the position with a market order.
    pub fn close_position(&mut self, i: InstrumentId) -> Result<Option<OrderId>, OrderError> {
        self.order_target_quantity(i, Quantity::ZERO)
    }
}
