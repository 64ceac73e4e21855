//! Incremental technical indicators for Quantforge strategies.
//!
//! Every indicator here is a small state machine fed **one value at a time**, exactly as
//! a backtest or a live feed delivers bars: `update` does O(1) work (amortised O(1) for
//! rolling max/min), never re-scans its window, and never allocates after construction.
//! The maths is plain `f64` and fully deterministic, so the same inputs give bit-identical
//! outputs in research and in production.
//!
//! This crate is *not* a data-frame or vectorised analytics library: there is no
//! "compute over this whole column" API and no resampling, alignment or I/O. To
//! evaluate an indicator over a history, loop over it and call `update`.
//!
//! # Common contract
//!
//! The single-series indicators ([`Sma`], [`Ema`], [`Wma`], [`Rsi`], [`RollingStd`],
//! [`RollingMax`], [`RollingMin`]) share one shape, and [`Macd`], [`Atr`] and
//! [`Bollinger`] follow it with their own inputs and outputs:
//!
//! - `new(period)` fails with [`IndicatorError`] for a period of 0 (or other invalid
//!   parameters), so an indicator that exists is usable;
//! - `update(x)` returns `None` while warming up and the current value afterwards;
//! - `value()` returns the same thing without feeding anything;
//! - `period()` and `reset()` do what their names say; `reset` keeps the allocation.
//!
//! **Non-finite inputs** (NaN, +inf, −inf) are skipped: the indicator's state does not
//! change and `update` returns the current value (`None` if still warming up). A gap
//! in the data therefore neither poisons an indicator with NaN forever nor advances its
//! window. [`Cross`] applies the same rule and reports [`CrossSignal::None`].
//!
//! ```
//! use qf_indicators::{Cross, CrossSignal, Sma};
//!
//! let mut fast = Sma::new(2)?;
//! let mut slow = Sma::new(4)?;
//! let mut cross = Cross::new();
//! let mut signals = Vec::new();
//! for price in [10.0, 9.0, 8.0, 7.0, 9.0, 12.0, 13.0] {
//!     if let (Some(f), Some(s)) = (fast.update(price), slow.update(price)) {
//!         signals.push(cross.update(f, s));
//!     }
//! }
//! // The 2-bar average climbs through the 4-bar one on the jump to 12.
//! use CrossSignal::{Above, None};
//! assert_eq!(signals, [None, None, Above, None]);
//! # Ok::<(), qf_indicators::IndicatorError>(())
//! ```

mod atr;
mod bollinger;
mod compensated_sum;
mod cross;
mod ema;
mod error;
mod macd;
mod rolling_extrema;
mod rolling_std;
mod rsi;
mod sma;
mod sma_exact;
mod window;
mod wma;

#[cfg(test)]
mod oracle;
#[cfg(test)]
mod sample_prices;

pub use atr::Atr;
pub use bollinger::{Bollinger, BollingerValue};
pub use cross::{Cross, CrossSignal, crossed_above, crossed_below};
pub use ema::Ema;
pub use error::IndicatorError;
pub use macd::{Macd, MacdValue};
pub use rolling_extrema::{RollingMax, RollingMin};
pub use rolling_std::RollingStd;
pub use rsi::Rsi;
pub use sma::Sma;
pub use sma_exact::ExactSma;
pub use wma::Wma;
