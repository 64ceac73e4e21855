//! Simple moving average over a fixed window.

use crate::compensated_sum::CompensatedSum;
use crate::error::{IndicatorError, nonzero_period};
use crate::window::Window;

/// Simple moving average: the arithmetic mean of the last `period` values.
///
/// Each update adds the new value to a running sum and subtracts the one leaving the
/// window, so the cost does not depend on the period. The running sum is compensated
/// (Knuth's TwoSum keeps the exact rounding error of every addition), which keeps the
/// mean within rounding of a from-scratch recomputation after millions of updates, and
/// leaves no measurable trace of a wild value once it has left the window.
///
/// Returns `None` until `period` values have been seen. Non-finite inputs (NaN, ±inf)
/// are skipped: they change nothing and `update` returns the current value.
///
/// ```
/// use qf_indicators::Sma;
/// let mut sma = Sma::new(3)?;
/// assert_eq!(sma.update(1.0), None);
/// assert_eq!(sma.update(2.0), None);
/// assert_eq!(sma.update(3.0), Some(2.0));
/// assert_eq!(sma.update(7.0), Some(4.0));
/// # Ok::<(), qf_indicators::IndicatorError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Sma {
    window: Window,
    sum: CompensatedSum,
}

impl Sma {
    /// An SMA over the last `period` values. Fails if `period` is 0.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = nonzero_period("SMA", period)?;
        Ok(Self {
            window: Window::new(period),
            sum: CompensatedSum::default(),
        })
    }

    /// Feeds the next value and returns the mean once the window is full.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        if x.is_finite() {
            self.sum.add(x);
            if let Some(evicted) = self.window.push(x) {
                self.sum.add(-evicted);
            }
        }
        self.value()
    }

    /// The current mean, or `None` during warm-up.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        self.window
            .is_full()
            .then(|| self.sum.value() / self.window.len() as f64)
    }

    /// The window length this SMA was built with.
    pub fn period(&self) -> usize {
        self.window.capacity()
    }

    /// Forgets all values, as if freshly constructed.
    pub fn reset(&mut self) {
        self.window.clear();
        self.sum.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::{self, close};
    use crate::sample_prices::{self, assert_skips_non_finite, prices, prices_with_junk};
    use proptest::prelude::*;

    fn run(period: usize, xs: &[f64]) -> Vec<Option<f64>> {
        let mut sma = Sma::new(period).unwrap();
        xs.iter().map(|&x| sma.update(x)).collect()
    }

    fn assert_matches_oracle(period: usize, xs: &[f64]) {
        let expected = oracle::sma(xs, period);
        for (i, (got, want)) in run(period, xs).into_iter().zip(expected).enumerate() {
            match (got, want) {
                (Some(g), Some(w)) => assert!(close(g, w, 1.0), "step {i}: {g} vs {w}"),
                (g, w) => assert_eq!(g, w, "step {i}"),
            }
        }
    }

    proptest! {
        #[test]
        fn matches_naive_mean_at_every_step(xs in prices(), period in 1..30_usize) {
            assert_matches_oracle(period, &xs);
        }

        #[test]
        fn non_finite_inputs_change_nothing((clean, noisy) in prices_with_junk(), period in 1..10_usize) {
            assert_skips_non_finite(
                Sma::new(period).unwrap(),
                Sma::new(period).unwrap(),
                Sma::update,
                &clean,
                &noisy,
            );
        }
    }

    #[test]
    fn matches_naive_mean_on_a_long_walk() {
        assert_matches_oracle(20, &sample_prices::random_walk(200_000, 7));
    }

    #[test]
    fn does_not_drift_over_a_million_updates() {
        let xs = sample_prices::random_walk(1_000_000, 42);
        for period in [1, 10, 200] {
            let mut sma = Sma::new(period).unwrap();
            let mut last = None;
            for &x in &xs {
                last = sma.update(x);
            }
            let tail = &xs[xs.len() - period..];
            let fresh = tail.iter().sum::<f64>() / period as f64;
            let got = last.unwrap();
            assert!(
                (got - fresh).abs() < 1e-9,
                "period {period}: {got} vs {fresh}"
            );
        }
    }

    #[test]
    fn a_bad_tick_leaves_no_trace_once_it_leaves_the_window() {
        let xs = sample_prices::walk_with_bad_ticks(5_000, 37);
        let period = 20;
        let mut sma = Sma::new(period).unwrap();
        for (i, &x) in xs.iter().enumerate() {
            let got = sma.update(x);
            if i + 1 >= period && !sample_prices::holds_bad_tick(&xs[i + 1 - period..=i]) {
                let want = oracle::sma(&xs[i + 1 - period..=i], period)[period - 1].unwrap();
                let got = got.unwrap();
                assert!(close(got, want, 0.0), "step {i}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn warms_up_for_exactly_period_values() {
        let mut sma = Sma::new(4).unwrap();
        for x in [1.0, 2.0, 3.0] {
            assert_eq!(sma.update(x), None);
            assert_eq!(sma.value(), None);
        }
        assert_eq!(sma.update(4.0), Some(2.5));
        assert_eq!(sma.value(), Some(2.5));
        assert_eq!(sma.period(), 4);
    }

    #[test]
    fn period_one_echoes_the_input() {
        let mut sma = Sma::new(1).unwrap();
        for x in [3.0, -1.5, 1e9] {
            assert_eq!(sma.update(x), Some(x));
        }
    }

    #[test]
    fn period_zero_is_rejected() {
        assert_eq!(
            Sma::new(0).unwrap_err(),
            IndicatorError::ZeroPeriod { indicator: "SMA" }
        );
    }

    #[test]
    fn reset_forgets_history() {
        let mut sma = Sma::new(2).unwrap();
        sma.update(100.0);
        sma.update(200.0);
        sma.reset();
        assert_eq!(sma.value(), None);
        assert_eq!(sma.update(1.0), None);
        assert_eq!(sma.update(3.0), Some(2.0));
    }

    #[test]
    fn non_finite_input_returns_current_value() {
        let mut sma = Sma::new(2).unwrap();
        assert_eq!(sma.update(f64::NAN), None);
        sma.update(1.0);
        sma.update(3.0);
        assert_eq!(sma.update(f64::INFINITY), Some(2.0));
        assert_eq!(sma.update(f64::NEG_INFINITY), Some(2.0));
        assert_eq!(sma.update(f64::NAN), Some(2.0));
        assert_eq!(sma.update(5.0), Some(4.0));
    }
}
