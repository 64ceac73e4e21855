//! Exponential moving average.

use crate::compensated_sum::CompensatedSum;
use crate::error::{IndicatorError, nonzero_period};

/// Exponential moving average with `alpha = 2 / (period + 1)`.
///
/// Seeding: the first value is the simple mean of the first `period` inputs (the
/// convention of most charting packages and of TA-Lib), so the EMA is ready after exactly
/// `period` values and returns `None` before that. Afterwards each update is
/// `ema += alpha * (x - ema)`.
///
/// Non-finite inputs (NaN, ±inf) are skipped: they change nothing and `update` returns
/// the current value.
///
/// ```
/// use qf_indicators::Ema;
/// let mut ema = Ema::new(3)?; // alpha = 0.5
/// ema.update(1.0);
/// ema.update(2.0);
/// assert_eq!(ema.update(3.0), Some(2.0)); // seed: mean of 1, 2, 3
/// assert_eq!(ema.update(6.0), Some(4.0)); // 2 + 0.5 * (6 - 2)
/// # Ok::<(), qf_indicators::IndicatorError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Ema {
    period: usize,
    alpha: f64,
    /// Values seen so far during warm-up; stops counting at `period`.
    seen: usize,
    seed_sum: CompensatedSum,
    ema: Option<f64>,
}

impl Ema {
    /// An EMA with `alpha = 2 / (period + 1)`. Fails if `period` is 0.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        Self::named("EMA", period)
    }

    /// Like [`Ema::new`], but period errors name `indicator` (for MACD's inner EMAs).
    pub(crate) fn named(indicator: &'static str, period: usize) -> Result<Self, IndicatorError> {
        let period = nonzero_period(indicator, period)?;
        Ok(Self {
            period,
            alpha: 2.0 / (period as f64 + 1.0),
            seen: 0,
            seed_sum: CompensatedSum::default(),
            ema: None,
        })
    }

    /// Feeds the next value and returns the EMA once `period` values have been seen.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        if !x.is_finite() {
            return self.ema;
        }
        match self.ema.as_mut() {
            Some(ema) => *ema += self.alpha * (x - *ema),
            None => {
                self.seed_sum.add(x);
                self.seen += 1;
                if self.seen == self.period {
                    self.ema = Some(self.seed_sum.value() / self.period as f64);
                }
            }
        }
        self.ema
    }

    /// The current EMA, or `None` during warm-up.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        self.ema
    }

    /// The period this EMA was built with.
    pub fn period(&self) -> usize {
        self.period
    }

    /// The smoothing factor, `2 / (period + 1)`.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Forgets all values, as if freshly constructed.
    pub fn reset(&mut self) {
        self.seen = 0;
        self.seed_sum.clear();
        self.ema = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::{self, close, magnitude};
    use crate::sample_prices::{self, assert_skips_non_finite, prices, prices_with_junk};
    use proptest::prelude::*;

    fn assert_matches_oracle(period: usize, xs: &[f64]) {
        let mut ema = Ema::new(period).unwrap();
        let scale = magnitude(xs);
        for (i, (&x, want)) in xs.iter().zip(oracle::ema(xs, period)).enumerate() {
            match (ema.update(x), want) {
                (Some(g), Some(w)) => assert!(close(g, w, scale), "step {i}: {g} vs {w}"),
                (g, w) => assert_eq!(g, w, "step {i}"),
            }
        }
    }

    proptest! {
        #[test]
        fn matches_textbook_recursion_at_every_step(xs in prices(), period in 1..30_usize) {
            assert_matches_oracle(period, &xs);
        }

        #[test]
        fn non_finite_inputs_change_nothing((clean, noisy) in prices_with_junk(), period in 1..10_usize) {
            assert_skips_non_finite(
                Ema::new(period).unwrap(),
                Ema::new(period).unwrap(),
                Ema::update,
                &clean,
                &noisy,
            );
        }
    }

    #[test]
    fn matches_textbook_recursion_on_a_long_walk() {
        assert_matches_oracle(26, &sample_prices::random_walk(1_000_000, 11));
    }

    #[test]
    fn seeds_with_the_simple_mean_after_period_values() {
        let mut ema = Ema::new(4).unwrap();
        assert_eq!(ema.alpha(), 0.4);
        for x in [2.0, 4.0, 6.0] {
            assert_eq!(ema.update(x), None);
        }
        assert_eq!(ema.update(8.0), Some(5.0));
        assert_eq!(ema.update(10.0), Some(5.0 + 0.4 * 5.0));
        assert_eq!(ema.period(), 4);
    }

    #[test]
    fn period_one_echoes_the_input() {
        let mut ema = Ema::new(1).unwrap();
        assert_eq!(ema.alpha(), 1.0);
        for x in [3.0, -1.5, 1e9] {
            assert_eq!(ema.update(x), Some(x));
        }
    }

    #[test]
    fn period_zero_is_rejected() {
        assert_eq!(
            Ema::new(0).unwrap_err(),
            IndicatorError::ZeroPeriod { indicator: "EMA" }
        );
    }

    #[test]
    fn reset_forgets_history() {
        let mut ema = Ema::new(2).unwrap();
        ema.update(100.0);
        ema.update(200.0);
        ema.reset();
        assert_eq!(ema.value(), None);
        assert_eq!(ema.update(1.0), None);
        assert_eq!(ema.update(3.0), Some(2.0));
    }

    #[test]
    fn non_finite_input_returns_current_value() {
        let mut ema = Ema::new(2).unwrap();
        ema.update(1.0);
        assert_eq!(ema.update(f64::NAN), None);
        assert_eq!(ema.update(3.0), Some(2.0));
        assert_eq!(ema.update(f64::INFINITY), Some(2.0));
        assert_eq!(ema.value(), Some(2.0));
    }
}
