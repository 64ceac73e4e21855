//! Moving average convergence/divergence.

use crate::ema::Ema;
use crate::error::IndicatorError;

/// One reading of a [`Macd`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MacdValue {
    /// The MACD line: fast EMA minus slow EMA of the price.
    pub macd: f64,
    /// The signal line: an EMA of the MACD line.
    pub signal: f64,
    /// `macd - signal`.
    pub histogram: f64,
}

/// MACD: the difference of a fast and a slow [`Ema`] of the price, plus a signal line
/// that is an [`Ema`] of that difference.
///
/// Every EMA is seeded with the simple mean of its first `period` inputs (see [`Ema`]).
/// The MACD line exists once the slow EMA is ready (after `slow` prices), and the
/// signal EMA starts from the first MACD value, so a full [`MacdValue`] is returned
/// after `slow + signal - 1` prices and `None` before that.
///
/// Non-finite inputs (NaN, ±inf) are skipped: they change nothing and `update` returns
/// the current value.
///
/// ```
/// use qf_indicators::Macd;
/// let mut macd = Macd::new(12, 26, 9)?;
/// let readings = (0..34).filter_map(|i| macd.update(100.0 + f64::from(i))).count();
/// assert_eq!(readings, 1); // ready on price 26 + 9 - 1 = 34
/// # Ok::<(), qf_indicators::IndicatorError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Macd {
    fast: Ema,
    slow: Ema,
    signal: Ema,
    value: Option<MacdValue>,
}

impl Macd {
    /// A MACD with the given EMA periods (12, 26, 9 is the classic choice). Fails if any
    /// period is 0 or `fast` is not shorter than `slow`.
    pub fn new(fast: usize, slow: usize, signal: usize) -> Result<Self, IndicatorError> {
        let macd = Self {
            fast: Ema::named("MACD fast", fast)?,
            slow: Ema::named("MACD slow", slow)?,
            signal: Ema::named("MACD signal", signal)?,
            value: None,
        };
        if fast >= slow {
            return Err(IndicatorError::FastNotShorterThanSlow { fast, slow });
        }
        Ok(macd)
    }

    /// Feeds the next price and returns MACD, signal and histogram once all are ready.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<MacdValue> {
        if !x.is_finite() {
            return self.value;
        }
        let fast = self.fast.update(x);
        // `slow > fast`, so once the slow EMA is ready the fast one is too.
        if let (Some(fast), Some(slow)) = (fast, self.slow.update(x)) {
            let macd = fast - slow;
            if let Some(signal) = self.signal.update(macd) {
                self.value = Some(MacdValue {
                    macd,
                    signal,
                    histogram: macd - signal,
                });
            }
        }
        self.value
    }

    /// The current reading, or `None` during warm-up.
    #[inline]
    pub fn value(&self) -> Option<MacdValue> {
        self.value
    }

    /// The fast EMA period.
    pub fn fast_period(&self) -> usize {
        self.fast.period()
    }

    /// The slow EMA period.
    pub fn slow_period(&self) -> usize {
        self.slow.period()
    }

    /// The signal EMA period.
    pub fn signal_period(&self) -> usize {
        self.signal.period()
    }

    /// Forgets all prices, as if freshly constructed.
    pub fn reset(&mut self) {
        self.fast.reset();
        self.slow.reset();
        self.signal.reset();
        self.value = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::{self, close, magnitude};
    use crate::sample_prices::{self, assert_skips_non_finite, prices, prices_with_junk};
    use proptest::prelude::*;

    fn assert_matches_oracle(fast: usize, slow: usize, signal: usize, xs: &[f64]) {
        let mut macd = Macd::new(fast, slow, signal).unwrap();
        let scale = magnitude(xs);
        let expected = oracle::macd(xs, fast, slow, signal);
        for (i, (&x, want)) in xs.iter().zip(expected).enumerate() {
            match (macd.update(x), want) {
                (Some(g), Some((m, s, h))) => {
                    assert!(close(g.macd, m, scale), "step {i}: {g:?} vs macd {m}");
                    assert!(close(g.signal, s, scale), "step {i}: {g:?} vs signal {s}");
                    assert!(close(g.histogram, h, scale), "step {i}: {g:?} vs hist {h}");
                }
                (g, w) => assert_eq!(g.is_some(), w.is_some(), "step {i}"),
            }
        }
    }

    proptest! {
        #[test]
        fn matches_ema_definition_at_every_step(
            xs in prices(),
            fast in 1..12_usize,
            extra in 1..20_usize,
            signal in 1..12_usize,
        ) {
            assert_matches_oracle(fast, fast + extra, signal, &xs);
        }

        #[test]
        fn non_finite_inputs_change_nothing((clean, noisy) in prices_with_junk()) {
            assert_skips_non_finite(
                Macd::new(2, 4, 3).unwrap(),
                Macd::new(2, 4, 3).unwrap(),
                Macd::update,
                &clean,
                &noisy,
            );
        }
    }

    #[test]
    fn matches_ema_definition_on_a_long_walk() {
        assert_matches_oracle(12, 26, 9, &sample_prices::random_walk(1_000_000, 23));
    }

    #[test]
    fn ready_after_slow_plus_signal_minus_one_prices() {
        let mut macd = Macd::new(2, 3, 2).unwrap();
        for x in [1.0, 2.0, 3.0] {
            // The MACD line appears at price 3 but the signal needs a second MACD value.
            assert_eq!(macd.update(x), None);
        }
        let v = macd.update(4.0).unwrap();
        // fast EMA: seed 1.5, then 2.5, then 3.5; slow EMA: seed 2, then 3.
        // MACD line: 0.5, 0.5 -> signal seed 0.5.
        assert!(
            close(v.macd, 0.5, 1.0) && close(v.signal, 0.5, 1.0),
            "{v:?}"
        );
        assert!(close(v.histogram, 0.0, 1.0), "{v:?}");
        assert_eq!(
            (macd.fast_period(), macd.slow_period(), macd.signal_period()),
            (2, 3, 2)
        );
    }

    #[test]
    fn period_one_signal_tracks_the_macd_line() {
        let mut macd = Macd::new(1, 2, 1).unwrap();
        assert_eq!(macd.update(10.0), None);
        // fast = 12, slow = seed 11 -> macd 1, signal 1.
        assert_eq!(
            macd.update(12.0),
            Some(MacdValue {
                macd: 1.0,
                signal: 1.0,
                histogram: 0.0
            })
        );
    }

    #[test]
    fn bad_periods_are_rejected() {
        assert_eq!(
            Macd::new(0, 26, 9).unwrap_err(),
            IndicatorError::ZeroPeriod {
                indicator: "MACD fast"
            }
        );
        assert_eq!(
            Macd::new(12, 0, 9).unwrap_err(),
            IndicatorError::ZeroPeriod {
                indicator: "MACD slow"
            }
        );
        assert_eq!(
            Macd::new(12, 26, 0).unwrap_err(),
            IndicatorError::ZeroPeriod {
                indicator: "MACD signal"
            }
        );
        for (fast, slow) in [(26, 12), (12, 12)] {
            assert_eq!(
                Macd::new(fast, slow, 9).unwrap_err(),
                IndicatorError::FastNotShorterThanSlow { fast, slow }
            );
        }
    }

    #[test]
    fn reset_forgets_history() {
        let mut macd = Macd::new(1, 2, 1).unwrap();
        macd.update(100.0);
        macd.update(50.0);
        macd.reset();
        assert_eq!(macd.value(), None);
        assert_eq!(macd.update(10.0), None);
        assert_eq!(macd.update(12.0).map(|v| v.macd), Some(1.0));
    }

    #[test]
    fn non_finite_input_returns_current_value() {
        let mut macd = Macd::new(1, 2, 1).unwrap();
        macd.update(10.0);
        assert_eq!(macd.update(f64::NAN), None);
        let current = macd.update(12.0);
        assert!(current.is_some());
        assert_eq!(macd.update(f64::INFINITY), current);
    }
}
