//! Relative strength index.

use crate::compensated_sum::CompensatedSum;
use crate::error::{IndicatorError, nonzero_period};

/// Wilder's relative strength index, from 0 to 100.
///
/// Each price after the first gives a change; gains and losses (as positive numbers)
/// are smoothed separately. The first averages are the simple means of the first
/// `period` gains and losses, so the RSI needs `period + 1` prices and returns `None`
/// before that. After that, Wilder's smoothing:
/// `avg = (avg * (period - 1) + new) / period`, and `RSI = 100 - 100 / (1 + avg_gain / avg_loss)`.
///
/// Edge cases: when the average loss is 0 the RSI is 100 (only gains), and when both
/// averages are 0 (a flat market) it is 50, the neutral reading, rather than the 0/0 a
/// literal formula gives.
///
/// Non-finite inputs (NaN, ±inf) are skipped: they change nothing (the next change is
/// measured from the last finite price) and `update` returns the current value.
///
/// ```
/// use qf_indicators::Rsi;
/// let mut rsi = Rsi::new(2)?;
/// assert_eq!(rsi.update(10.0), None);
/// assert_eq!(rsi.update(11.0), None); // one change so far
/// // Average gain 0.5, average loss 0.25: RS = 2, RSI = 100 - 100 / 3.
/// let rsi_now = rsi.update(10.5).unwrap();
/// assert!((rsi_now - 200.0 / 3.0).abs() < 1e-12);
/// # Ok::<(), qf_indicators::IndicatorError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Rsi {
    period: usize,
    previous: Option<f64>,
    /// Changes seen during warm-up; stops counting at `period`.
    changes: usize,
    gain_sum: CompensatedSum,
    loss_sum: CompensatedSum,
    /// `(average gain, average loss)` once warmed up.
    averages: Option<(f64, f64)>,
}

impl Rsi {
    /// An RSI smoothing gains and losses over `period` changes (14 is the classic
    /// choice). Fails if `period` is 0.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = nonzero_period("RSI", period)?;
        Ok(Self {
            period,
            previous: None,
            changes: 0,
            gain_sum: CompensatedSum::default(),
            loss_sum: CompensatedSum::default(),
            averages: None,
        })
    }

    /// Feeds the next price and returns the RSI once `period + 1` prices have been seen.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        if !x.is_finite() {
            return self.value();
        }
        // The first price only sets the reference for the first change.
        let previous = self.previous.replace(x)?;
        let change = x - previous;
        let (gain, loss) = (change.max(0.0), (-change).max(0.0));
        let n = self.period as f64;
        match self.averages.as_mut() {
            Some((avg_gain, avg_loss)) => {
                *avg_gain = (*avg_gain * (n - 1.0) + gain) / n;
                *avg_loss = (*avg_loss * (n - 1.0) + loss) / n;
            }
            None => {
                self.gain_sum.add(gain);
                self.loss_sum.add(loss);
                self.changes += 1;
                if self.changes == self.period {
                    self.averages = Some((self.gain_sum.value() / n, self.loss_sum.value() / n));
                }
            }
        }
        self.value()
    }

    /// The current RSI, or `None` during warm-up.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        let (avg_gain, avg_loss) = self.averages?;
        Some(if avg_loss == 0.0 {
            // RS is infinite (only gains) or undefined (a flat market, read as neutral).
            if avg_gain == 0.0 { 50.0 } else { 100.0 }
        } else {
            // This form stays within [0, 100] under rounding; 100 * g / (g + l) can
            // overshoot 100 by an ulp.
            100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
        })
    }

    /// The smoothing period this RSI was built with.
    pub fn period(&self) -> usize {
        self.period
    }

    /// Forgets all prices, as if freshly constructed.
    pub fn reset(&mut self) {
        self.previous = None;
        self.changes = 0;
        self.gain_sum.clear();
        self.loss_sum.clear();
        self.averages = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::{self, close};
    use crate::sample_prices::{self, assert_skips_non_finite, prices, prices_with_junk};
    use proptest::prelude::*;

    fn assert_matches_oracle(period: usize, xs: &[f64]) {
        let mut rsi = Rsi::new(period).unwrap();
        for (i, (&x, want)) in xs.iter().zip(oracle::rsi(xs, period)).enumerate() {
            match (rsi.update(x), want) {
                (Some(g), Some(w)) => {
                    assert!(close(g, w, 100.0), "step {i}: {g} vs {w}");
                    assert!((0.0..=100.0).contains(&g), "step {i}: {g}");
                }
                (g, w) => assert_eq!(g, w, "step {i}"),
            }
        }
    }

    proptest! {
        #[test]
        fn matches_wilder_definition_at_every_step(xs in prices(), period in 1..30_usize) {
            assert_matches_oracle(period, &xs);
        }

        #[test]
        fn non_finite_inputs_change_nothing((clean, noisy) in prices_with_junk(), period in 1..10_usize) {
            assert_skips_non_finite(
                Rsi::new(period).unwrap(),
                Rsi::new(period).unwrap(),
                Rsi::update,
                &clean,
                &noisy,
            );
        }
    }

    #[test]
    fn matches_wilder_definition_on_a_long_walk() {
        assert_matches_oracle(14, &sample_prices::random_walk(1_000_000, 19));
    }

    #[test]
    fn needs_period_plus_one_prices() {
        let mut rsi = Rsi::new(3).unwrap();
        for x in [1.0, 2.0, 3.0] {
            assert_eq!(rsi.update(x), None);
        }
        let got = rsi.update(2.0).unwrap();
        assert!(close(got, 200.0 / 3.0, 100.0), "{got}");
        assert_eq!(rsi.period(), 3);
    }

    #[test]
    fn only_gains_read_100_only_losses_read_0_flat_reads_50() {
        let mut up = Rsi::new(2).unwrap();
        let mut down = Rsi::new(2).unwrap();
        let mut flat = Rsi::new(2).unwrap();
        for i in 0..5 {
            let x = f64::from(i);
            up.update(x);
            down.update(-x);
            flat.update(42.0);
        }
        assert_eq!(up.value(), Some(100.0));
        assert_eq!(down.value(), Some(0.0));
        assert_eq!(flat.value(), Some(50.0));
    }

    #[test]
    fn period_one_reads_the_direction_of_the_last_change() {
        let mut rsi = Rsi::new(1).unwrap();
        assert_eq!(rsi.update(5.0), None);
        assert_eq!(rsi.update(6.0), Some(100.0));
        assert_eq!(rsi.update(4.0), Some(0.0));
        assert_eq!(rsi.update(4.0), Some(50.0));
    }

    #[test]
    fn period_zero_is_rejected() {
        assert_eq!(
            Rsi::new(0).unwrap_err(),
            IndicatorError::ZeroPeriod { indicator: "RSI" }
        );
    }

    #[test]
    fn reset_forgets_history() {
        let mut rsi = Rsi::new(1).unwrap();
        rsi.update(1.0);
        rsi.update(2.0);
        rsi.reset();
        assert_eq!(rsi.value(), None);
        assert_eq!(rsi.update(10.0), None);
        assert_eq!(rsi.update(9.0), Some(0.0));
    }

    #[test]
    fn non_finite_input_returns_current_value_and_keeps_the_last_price() {
        let mut rsi = Rsi::new(1).unwrap();
        rsi.update(5.0);
        assert_eq!(rsi.update(f64::NAN), None);
        assert_eq!(rsi.update(6.0), Some(100.0));
        assert_eq!(rsi.update(f64::NEG_INFINITY), Some(100.0));
        // Measured from 6.0, not from the skipped value.
        assert_eq!(rsi.update(5.0), Some(0.0));
    }
}
