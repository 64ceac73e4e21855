use serde::Serialize;

use crate::{InstrumentId, Money, Price, Quantity, Timestamp};

/// Identifies an order within one backtest; assigned in submission order from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct OrderId(pub u64);

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Increase the position.
    Buy,
    /// Decrease the position.
    Sell,
}

impl Side {
    /// +1 for buy, −1 for sell.
    pub fn sign(self) -> i64 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }

    /// `buy` or `sell`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// What price an order may fill at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderKind {
    /// Fill at the next available price.
    Market,
    /// Fill at `price` or better.
    Limit {
        /// Worst acceptable price.
        price: Price,
    },
    /// Becomes a market order once the market trades through `trigger`.
    Stop {
        /// Trigger price.
        trigger: Price,
    },
    /// Becomes a limit order at `limit` once the market trades through `trigger`.
    StopLimit {
        /// Trigger price.
        trigger: Price,
        /// Limit price after triggering.
        limit: Price,
    },
}

/// How long an order stays working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum TimeInForce {
    /// Good till cancelled.
    #[default]
    Gtc,
    /// Cancelled at the end of its UTC calendar day.
    Day,
    /// Immediate or cancel: gets the first bar it can fill on, then is cancelled.
    Ioc,
}

/// A working order as the simulated exchange holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Order {
    /// Its id.
    pub id: OrderId,
    /// What it trades.
    pub instrument: InstrumentId,
    /// Direction.
    pub side: Side,
    /// Positive amount to trade.
    pub quantity: Quantity,
    /// Price rule.
    pub kind: OrderKind,
    /// Lifetime rule.
    pub tif: TimeInForce,
    /// When the strategy submitted it (the time of the bar it was decided on).
    pub submitted_at: Timestamp,
    /// Whether a stop-limit has triggered and now rests as a limit order.
    pub triggered: bool,
}

/// An execution of (all of) an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fill {
    /// The order filled.
    pub order_id: OrderId,
    /// What was traded.
    pub instrument: InstrumentId,
    /// Direction.
    pub side: Side,
    /// Positive amount traded.
    pub quantity: Quantity,
    /// Execution price, after slippage.
    pub price: Price,
    /// Commission charged; never negative.
    pub fee: Money,
    /// Time of the bar the fill happened on.
    pub ts: Timestamp,
    /// When the order was submitted.
    pub submitted_at: Timestamp,
}
