use serde::Serialize;

use qf_core::{Money, Price, Quantity};

use crate::EngineError;

/// When a market order fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FillTiming {
    /// At the open of the next bar of its instrument (no look-ahead). The default.
    #[default]
    NextOpen,
    /// At the close of the bar it was decided on. Optimistic: the strategy saw that close.
    SameClose,
}

/// Commission charged on each fill: `max(minimum, per_unit × qty + bps × notional)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct FeeModel {
    /// Charge per unit traded.
    pub per_unit: Price,
    /// Charge in basis points of notional, as an exact decimal (1.5 = 1.5 bp).
    pub bps: Price,
    /// Minimum charge per fill.
    pub minimum: Money,
}

impl FeeModel {
    /// The fee for one fill of `quantity` (positive) at `price`; never negative.
    pub fn fee(&self, price: Price, quantity: Quantity) -> Money {
        if self.is_zero() {
            return Money::ZERO;
        }
        let notional = (price * quantity).abs();
        let per_unit = (self.per_unit * quantity).abs();
        // bps is 10⁻⁹-scaled: notional × raw / (10_000 × 10⁹).
        let pct = notional.mul_ratio(i128::from(self.bps.raw()), 10_000_000_000_000);
        (per_unit + pct).max(self.minimum)
    }

    fn is_zero(&self) -> bool {
        self.per_unit.is_zero() && self.bps.is_zero() && self.minimum == Money::ZERO
    }
}

/// Adverse price adjustment applied to market and stop fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Slippage {
    /// Fill at the reference price.
    #[default]
    None,
    /// Basis points of the reference price, rounded to the tick against the trader.
    Bps(Price),
    /// A whole number of ticks against the trader.
    Ticks(u32),
}

/// How much a strategy's "enter" helpers buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Sizing {
    /// A fixed quantity per entry.
    Fixed(Quantity),
    /// A fraction of current equity (1.0 = all of it), at the last close.
    PercentOfEquity(f64),
}

impl Default for Sizing {
    fn default() -> Self {
        Sizing::Fixed(Quantity::from_int(1))
    }
}

/// The rules that turn orders into fills, stated in every result.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct FillModel {
    /// Market-order timing.
    pub timing: FillTiming,
    /// Commission.
    pub fees: FeeModel,
    /// Slippage.
    pub slippage: Slippage,
    /// Largest allowed gross exposure as a multiple of equity (1.0 = no leverage).
    pub max_leverage: f64,
}

impl FillModel {
    /// A plain-language statement of every fill rule in force.
    pub fn describe(&self) -> String {
        let timing = match self.timing {
            FillTiming::NextOpen => {
                "market orders decided on bar t fill at the open of the next bar of their instrument"
            }
            FillTiming::SameClose => {
                "OPTIMISTIC: market orders fill at the close of the bar they were decided on"
            }
        };
        let fees = if self.fees.is_zero() {
            "no fees".to_string()
        } else {
            format!(
                "fee per fill max({}, {} per unit + {} bp of notional)",
                self.fees.minimum, self.fees.per_unit, self.fees.bps
            )
        };
        let slippage = match self.slippage {
            Slippage::None => "no slippage".to_string(),
            Slippage::Bps(b) => format!("{b} bp slippage on market and stop fills"),
            Slippage::Ticks(t) => format!("{t} tick(s) slippage on market and stop fills"),
        };
        format!(
            "{timing}; limit orders fill on a later bar whose range reaches the limit, at the open if it gapped through; \
             stop orders trigger on a later bar whose range reaches the stop, filling at the stop or at the open if it gapped through; \
             stop-limits become limits when triggered; {fees}; {slippage}; orders are all-or-nothing; \
             fills that would take gross exposure above {}x equity are rejected",
            self.max_leverage
        )
    }
}

/// Everything about a backtest that is not data or strategy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestConfig {
    /// Starting cash.
    pub cash: Money,
    /// Fill rules.
    pub fill: FillModel,
    /// Size used by the strategy's enter helpers.
    pub sizing: Sizing,
    /// Keep the per-bar equity curve and every fill (reports need them; sweeps do not).
    pub record: bool,
}

impl Default for BacktestConfig {
    fn default() -> Self {
        Self {
            cash: Money::from_int(100_000),
            fill: FillModel {
                max_leverage: 1.0,
                ..FillModel::default()
            },
            sizing: Sizing::default(),
            record: true,
        }
    }
}

impl BacktestConfig {
    /// Checks the values a person could get wrong; the error names the setting
    /// ([`EngineError::InvalidSetting`]).
    pub fn validate(&self) -> Result<(), EngineError> {
        let bad = |setting: &'static str, message: String| {
            Err(EngineError::InvalidSetting { setting, message })
        };
        if self.cash.is_negative() || self.cash == Money::ZERO {
            return bad("cash", format!("cash must be positive, got {}", self.cash));
        }
        if !(self.fill.max_leverage.is_finite() && self.fill.max_leverage > 0.0) {
            return bad(
                "leverage",
                format!(
                    "max leverage must be a positive number, got {}",
                    self.fill.max_leverage
                ),
            );
        }
        let f = &self.fill.fees;
        for (setting, negative) in [
            ("fee_per_unit", f.per_unit.is_negative()),
            ("fee_bps", f.bps.is_negative()),
            ("fee_min", f.minimum.is_negative()),
        ] {
            if negative {
                return bad(setting, "fees cannot be negative".into());
            }
        }
        if let Slippage::Bps(b) = self.fill.slippage
            && b.is_negative()
        {
            return bad("slippage_bps", "slippage cannot be negative".into());
        }
        match self.sizing {
            Sizing::Fixed(q) if !q.is_positive() => {
                bad("size", format!("size must be positive, got {q}"))
            }
            Sizing::PercentOfEquity(p) if !(p.is_finite() && p > 0.0) => bad(
                "percent",
                format!("percent must be a positive fraction of equity, got {p}"),
            ),
            _ => Ok(()),
        }
    }
}
