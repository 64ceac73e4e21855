//! Exact accounting: cash, positions, marks, and round-trip trades.

use serde::Serialize;

use qf_core::{Fill, InstrumentId, Money, Price, Quantity, Side, Timestamp};

/// A closed round trip: from flat to a position and back to flat (or through zero).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trade {
    /// What was traded.
    pub instrument: InstrumentId,
    /// `long` or `short`.
    pub direction: &'static str,
    /// Largest absolute position held during the trade.
    pub quantity: Quantity,
    /// Time of the first fill.
    pub entry_time: Timestamp,
    /// Quantity-weighted average entry price (exact to 10⁻¹⁸, printed rounded to 10⁻⁹).
    pub entry_price: Price,
    /// Time of the closing fill.
    pub exit_time: Timestamp,
    /// Quantity-weighted average exit price.
    pub exit_price: Price,
    /// Profit after fees.
    pub pnl: Money,
    /// Fees paid on this trade's fills.
    pub fees: Money,
    /// `pnl` as a fraction of the entry notional.
    pub return_pct: f64,
    /// Bars of the instrument from entry to exit.
    pub bars_held: u64,
}

#[derive(Debug, Clone)]
struct OpenTrade {
    long: bool,
    entry_time: Timestamp,
    entry_bar: u64,
    entered_qty: Quantity,
    entry_value: Money,
    exited_qty: Quantity,
    exit_value: Money,
    fees: Money,
    max_qty: Quantity,
}

/// Cash, positions and marks of one account across all instruments.
#[derive(Debug, Clone)]
pub(crate) struct Portfolio {
    pub(crate) cash: Money,
    /// `cash` as a float, refreshed at each fill so per-bar statistics avoid i128 → f64.
    cash_f64: f64,
    pub(crate) positions: Vec<Quantity>,
    pub(crate) marks: Vec<Price>,
    pub(crate) fees_paid: Money,
    open: Vec<Option<OpenTrade>>,
    pub(crate) trades: Vec<Trade>,
    /// Number of instruments with a non-zero position; lets equity skip the marks when flat.
    holding: usize,
}

fn avg_price(value: Money, qty: Quantity) -> Price {
    if qty.is_zero() {
        return Price::ZERO;
    }
    // value is 10⁻¹⁸-scaled, qty 10⁻⁹-scaled: the quotient is a 10⁻⁹-scaled price.
    let q = i128::from(qty.raw());
    let v = value.raw();
    let rounded = (v + q / 2 * v.signum()) / q;
    Price::from_raw(rounded as i64)
}

impl Portfolio {
    pub(crate) fn new(cash: Money, instruments: usize) -> Self {
        Self {
            cash,
            cash_f64: cash.as_f64(),
            positions: vec![Quantity::ZERO; instruments],
            marks: vec![Price::ZERO; instruments],
            fees_paid: Money::ZERO,
            open: vec![None; instruments],
            trades: Vec::new(),
            holding: 0,
        }
    }

    /// Cash plus every position at its last mark.
    #[inline]
    pub(crate) fn equity(&self) -> Money {
        if self.holding == 0 {
            return self.cash;
        }
        let mut e = self.cash;
        for (q, p) in self.positions.iter().zip(&self.marks) {
            if !q.is_zero() {
                e += *p * *q;
            }
        }
        e
    }

    /// Equity as a float, for statistics: cash plus positions at their marks.
    #[inline]
    pub(crate) fn equity_f64(&self) -> f64 {
        if self.holding == 0 {
            return self.cash_f64;
        }
        let mut e = self.cash_f64;
        for (q, p) in self.positions.iter().zip(&self.marks) {
            e += q.as_f64() * p.as_f64();
        }
        e
    }

    /// Σ |position| × mark, with one position replaced by `(instrument, quantity, price)`.
    pub(crate) fn gross_exposure_with(
        &self,
        instrument: usize,
        quantity: Quantity,
        price: Price,
    ) -> Money {
        let mut g = Money::ZERO;
        for (i, (q, p)) in self.positions.iter().zip(&self.marks).enumerate() {
            g += if i == instrument {
                (price * quantity).abs()
            } else {
                (*p * *q).abs()
            };
        }
        g
    }

    pub(crate) fn has_position(&self) -> bool {
        self.holding > 0
    }

    /// Applies a fill; `bar` is the instrument's bar counter, for holding periods.
    pub(crate) fn apply(&mut self, fill: &Fill, bar: u64) {
        let i = fill.instrument.index();
        let signed = if fill.side == Side::Buy {
            fill.quantity
        } else {
            -fill.quantity
        };
        let value = fill.price * fill.quantity;
        self.cash -= if fill.side == Side::Buy {
            value
        } else {
            -value
        };
        self.cash -= fill.fee;
        self.cash_f64 = self.cash.as_f64();
        self.fees_paid += fill.fee;

        let before = self.positions[i];
        let after = before + signed;
        self.positions[i] = after;
        match (before.is_zero(), after.is_zero()) {
            (true, false) => self.holding += 1,
            (false, true) => self.holding -= 1,
            _ => {}
        }

        let closing = if before.is_zero() || (before.is_positive() == signed.is_positive()) {
            Quantity::ZERO
        } else {
            fill.quantity.min(before.abs())
        };
        let opening = fill.quantity - closing;
        // Split the fee between the closing and the opening part by quantity.
        let close_fee = if opening.is_zero() {
            fill.fee
        } else {
            fill.fee
                .mul_ratio(i128::from(closing.raw()), i128::from(fill.quantity.raw()))
        };
        if closing.is_positive()
            && let Some(t) = self.open[i].as_mut()
        {
            t.exited_qty += closing;
            t.exit_value += fill.price * closing;
            t.fees += close_fee;
            if after.is_zero() || after.is_positive() != before.is_positive() {
                let t = self.open[i].take().expect("checked just above");
                self.close_trade(fill, t, bar);
            }
        }
        if opening.is_positive() {
            let fee = fill.fee - close_fee;
            let t = self.open[i].get_or_insert_with(|| OpenTrade {
                long: fill.side == Side::Buy,
                entry_time: fill.ts,
                entry_bar: bar,
                entered_qty: Quantity::ZERO,
                entry_value: Money::ZERO,
                exited_qty: Quantity::ZERO,
                exit_value: Money::ZERO,
                fees: Money::ZERO,
                max_qty: Quantity::ZERO,
            });
            t.entered_qty += opening;
            t.entry_value += fill.price * opening;
            t.fees += fee;
            t.max_qty = t.max_qty.max(after.abs());
        }
    }

    fn close_trade(&mut self, fill: &Fill, t: OpenTrade, bar: u64) {
        // Entries and exits of a long trade: pnl = exits − entries (reversed for shorts),
        // scaled to the quantity actually closed when the trade added and cut in pieces.
        let entry_value_closed = if t.entered_qty == t.exited_qty {
            t.entry_value
        } else {
            t.entry_value.mul_ratio(
                i128::from(t.exited_qty.raw()),
                i128::from(t.entered_qty.raw()),
            )
        };
        let gross = if t.long {
            t.exit_value - entry_value_closed
        } else {
            entry_value_closed - t.exit_value
        };
        let pnl = gross - t.fees;
        let base = entry_value_closed.as_f64();
        self.trades.push(Trade {
            instrument: fill.instrument,
            direction: if t.long { "long" } else { "short" },
            quantity: t.max_qty,
            entry_time: t.entry_time,
            entry_price: avg_price(t.entry_value, t.entered_qty),
            exit_time: fill.ts,
            exit_price: avg_price(t.exit_value, t.exited_qty),
            pnl,
            fees: t.fees,
            return_pct: if base != 0.0 {
                pnl.as_f64() / base
            } else {
                0.0
            },
            bars_held: bar.saturating_sub(t.entry_bar),
        });
    }

    /// Number of instruments with a position still open.
    pub(crate) fn open_trades(&self) -> usize {
        self.open.iter().filter(|t| t.is_some()).count()
    }
}
