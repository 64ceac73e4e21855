//! Quantforge's domain types, shared by every other crate.
//!
//! What lives here: time as nanoseconds since the Unix epoch ([`Timestamp`]), exact
//! fixed-point [`Price`], [`Quantity`] and [`Money`], instruments with their precision, bars,
//! orders and fills. What does not: any I/O, any engine logic, any floating-point accounting.
//! Money arithmetic here is exact integer arithmetic; `f64` appears only at the edges
//! (conversion for indicators and statistics).

mod bar;
mod error;
mod fixed;
mod instrument;
mod order;
mod time;

pub use bar::{Bar, BarSeries};
pub use error::CoreError;
pub use fixed::{MONEY_SCALE, Money, PRICE_SCALE, Price, QUANTITY_SCALE, Quantity};
pub use instrument::{Instrument, InstrumentId, MAX_PRECISION};
pub use order::{Fill, Order, OrderId, OrderKind, Side, TimeInForce};
pub use time::{Timestamp, TimestampUnit};
