//! The simulated exchange: working orders and the rules that fill them against bars.

use qf_core::{Bar, Instrument, InstrumentId, Order, OrderKind, Price, Side, TimeInForce};

use crate::config::{FillModel, Slippage};

/// Working orders in submission order.
#[derive(Debug, Default)]
pub(crate) struct Exchange {
    pub(crate) orders: Vec<Order>,
    pub(crate) next_id: u64,
}

/// Where an order fills on a bar, before slippage, and whether slippage applies.
fn match_price(order: &mut Order, bar: &Bar) -> Option<(Price, bool)> {
    let buy = order.side == Side::Buy;
    // The best price the bar offers towards a limit, or None if it never got there.
    let limit_fill = |limit: Price| {
        if buy {
            if bar.open <= limit {
                Some(bar.open)
            } else if bar.low <= limit {
                Some(limit)
            } else {
                None
            }
        } else if bar.open >= limit {
            Some(bar.open)
        } else if bar.high >= limit {
            Some(limit)
        } else {
            None
        }
    };
    // Where a stop triggers: at the open if the market gapped through it, else at the stop.
    let stop_trigger = |trigger: Price| {
        if buy {
            if bar.open >= trigger {
                Some(bar.open)
            } else if bar.high >= trigger {
                Some(trigger)
            } else {
                None
            }
        } else if bar.open <= trigger {
            Some(bar.open)
        } else if bar.low <= trigger {
            Some(trigger)
        } else {
            None
        }
    };
    match order.kind {
        OrderKind::Market => Some((bar.open, true)),
        OrderKind::Limit { price } => limit_fill(price).map(|p| (p, false)),
        OrderKind::Stop { trigger } => stop_trigger(trigger).map(|p| (p, true)),
        OrderKind::StopLimit { limit, .. } if order.triggered => {
            limit_fill(limit).map(|p| (p, false))
        }
        OrderKind::StopLimit { trigger, limit } => {
            let at = stop_trigger(trigger)?;
            order.triggered = true;
            // The price path inside a bar is unknown, so after a trigger the limit may only
            // fill at the trigger price itself if that price satisfies it; otherwise the
            // order rests as a limit from the next bar on.
            let ok = if buy { at <= limit } else { at >= limit };
            ok.then_some((at, false))
        }
    }
}

/// Moves `price` against the trader by the slippage model, on the instrument's tick grid.
pub(crate) fn slip(price: Price, side: Side, model: Slippage, instrument: &Instrument) -> Price {
    let tick = instrument.tick().raw();
    let adverse = match model {
        Slippage::None => return price,
        Slippage::Ticks(n) => i64::from(n) * tick,
        Slippage::Bps(bps) => {
            // price × bps / 10_000, with bps 10⁻⁹-scaled; then rounded up to whole ticks.
            let raw = i128::from(price.raw()) * i128::from(bps.raw()) / 10_000_000_000_000;
            let raw = raw as i64;
            (raw + tick - 1) / tick * tick
        }
    };
    match side {
        Side::Buy => Price::from_raw(price.raw() + adverse),
        Side::Sell => Price::from_raw((price.raw() - adverse).max(tick)),
    }
}

/// What happened to one order on one bar.
pub(crate) enum Outcome {
    /// It should fill at this price (subject to the portfolio's checks).
    Fill(Price),
    /// It stays working.
    Rest,
    /// It expired (DAY past its day, IOC after its one chance).
    Expire,
}

impl Exchange {
    /// Decides what `order` does on `bar`. Only bars strictly after submission are eligible.
    pub(crate) fn evaluate(
        order: &mut Order,
        bar: &Bar,
        model: &FillModel,
        instrument: &Instrument,
    ) -> Outcome {
        if bar.ts <= order.submitted_at {
            return Outcome::Rest;
        }
        if order.tif == TimeInForce::Day && bar.ts.day_index() > order.submitted_at.day_index() {
            return Outcome::Expire;
        }
        match match_price(order, bar) {
            Some((p, slippage)) => Outcome::Fill(if slippage {
                slip(p, order.side, model.slippage, instrument)
            } else {
                p
            }),
            None if order.tif == TimeInForce::Ioc => Outcome::Expire,
            None => Outcome::Rest,
        }
    }

    /// Whether any order is working for `instrument`.
    #[inline]
    pub(crate) fn has_orders_for(&self, instrument: InstrumentId) -> bool {
        self.orders.iter().any(|o| o.instrument == instrument)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qf_core::{OrderId, Quantity, Timestamp};

    fn bar(o: &str, h: &str, l: &str, c: &str) -> Bar {
        Bar {
            ts: Timestamp::from_secs(60),
            open: o.parse().unwrap(),
            high: h.parse().unwrap(),
            low: l.parse().unwrap(),
            close: c.parse().unwrap(),
            volume: 1.0,
        }
    }

    fn order(side: Side, kind: OrderKind) -> Order {
        Order {
            id: OrderId(1),
            instrument: InstrumentId(0),
            side,
            quantity: Quantity::from_int(1),
            kind,
            tif: TimeInForce::Gtc,
            submitted_at: Timestamp::from_secs(0),
            triggered: false,
        }
    }

    fn px(s: &str) -> Price {
        s.parse().unwrap()
    }

    #[test]
    fn limit_fills_at_limit_or_at_a_better_open() {
        let b = bar("100", "101", "98", "99");
        let mut o = order(Side::Buy, OrderKind::Limit { price: px("99") });
        assert_eq!(match_price(&mut o, &b), Some((px("99"), false)));
        let mut o = order(Side::Buy, OrderKind::Limit { price: px("100.5") });
        assert_eq!(
            match_price(&mut o, &b),
            Some((px("100"), false)),
            "gap through: open"
        );
        let mut o = order(Side::Buy, OrderKind::Limit { price: px("97") });
        assert_eq!(match_price(&mut o, &b), None);
        let mut o = order(Side::Sell, OrderKind::Limit { price: px("100.5") });
        assert_eq!(match_price(&mut o, &b), Some((px("100.5"), false)));
        let mut o = order(Side::Sell, OrderKind::Limit { price: px("99") });
        assert_eq!(match_price(&mut o, &b), Some((px("100"), false)));
    }

    #[test]
    fn stops_trigger_at_stop_or_gap_open() {
        let b = bar("100", "102", "97", "101");
        let mut o = order(Side::Buy, OrderKind::Stop { trigger: px("101") });
        assert_eq!(match_price(&mut o, &b), Some((px("101"), true)));
        let mut o = order(Side::Buy, OrderKind::Stop { trigger: px("99") });
        assert_eq!(match_price(&mut o, &b), Some((px("100"), true)));
        let mut o = order(Side::Sell, OrderKind::Stop { trigger: px("98") });
        assert_eq!(match_price(&mut o, &b), Some((px("98"), true)));
        let mut o = order(Side::Sell, OrderKind::Stop { trigger: px("96") });
        assert_eq!(match_price(&mut o, &b), None);
    }

    #[test]
    fn stop_limit_triggers_then_rests() {
        let b = bar("100", "102", "97", "101");
        let mut o = order(
            Side::Buy,
            OrderKind::StopLimit {
                trigger: px("101"),
                limit: px("100.5"),
            },
        );
        assert_eq!(match_price(&mut o, &b), None);
        assert!(o.triggered);
        let next = bar("100.2", "100.4", "99.9", "100");
        assert_eq!(match_price(&mut o, &next), Some((px("100.2"), false)));
        let mut o = order(
            Side::Buy,
            OrderKind::StopLimit {
                trigger: px("101"),
                limit: px("101.5"),
            },
        );
        assert_eq!(match_price(&mut o, &b), Some((px("101"), false)));
    }

    #[test]
    fn slippage_moves_against_the_trader_on_the_tick_grid() {
        let inst = Instrument::new(InstrumentId(0), "X", 2, 0).unwrap();
        assert_eq!(
            slip(px("100"), Side::Buy, Slippage::Ticks(2), &inst),
            px("100.02")
        );
        assert_eq!(
            slip(px("100"), Side::Sell, Slippage::Ticks(2), &inst),
            px("99.98")
        );
        assert_eq!(
            slip(px("100"), Side::Buy, Slippage::Bps(px("1")), &inst),
            px("100.01")
        );
        assert_eq!(
            slip(px("100"), Side::Buy, Slippage::Bps(px("0.3")), &inst),
            px("100.01"),
            "rounded up to a tick"
        );
    }

    #[test]
    fn nothing_fills_on_its_own_bar_and_day_orders_expire() {
        let mut o = order(Side::Buy, OrderKind::Market);
        o.submitted_at = Timestamp::from_secs(60);
        let m = FillModel::default();
        let inst = Instrument::new(InstrumentId(0), "X", 2, 0).unwrap();
        assert!(matches!(
            Exchange::evaluate(&mut o, &bar("1", "1", "1", "1"), &m, &inst),
            Outcome::Rest
        ));
        let mut o = order(Side::Buy, OrderKind::Limit { price: px("1") });
        o.tif = TimeInForce::Day;
        let mut next_day = bar("2", "2", "2", "2");
        next_day.ts = Timestamp::from_secs(86_400 + 60);
        assert!(matches!(
            Exchange::evaluate(&mut o, &next_day, &m, &inst),
            Outcome::Expire
        ));
    }
}
