//! Linearly weighted moving average.

use crate::compensated_sum::CompensatedSum;
use crate::error::{IndicatorError, nonzero_period};
use crate::window::Window;

/// The two running sums a WMA needs, both compensated.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    /// `Σ x` over the values covered.
    plain: CompensatedSum,
    /// `Σ weight * x`, weights 1 (oldest) up to the number of values covered.
    weighted: CompensatedSum,
}

/// Weighted moving average with linear weights: over the last `n = period` values the
/// oldest has weight 1 and the newest weight `n`, divided by `n (n + 1) / 2`.
///
/// Updates are O(1): when the window slides, every surviving value loses one unit of
/// weight, which is exactly the plain sum of the old window, so
/// `weighted' = weighted - sum + n * x_new` and `sum' = sum + x_new - x_oldest`.
///
/// Unlike a plain sum, that recurrence does not undo itself when a value leaves (the
/// rounding of `n * x` is never taken back), so a long run or one wild value would leave
/// a permanent residue. To prevent that, a second pair of sums accumulates, add-only,
/// the values arriving since it started, and after `period` updates, when it covers
/// exactly the window, it replaces the sliding pair. Rounding error therefore never
/// reaches back more than two windows, at the cost of a few extra additions per update.
///
/// Returns `None` until `period` values have been seen. Non-finite inputs (NaN, ±inf)
/// are skipped: they change nothing and `update` returns the current value.
///
/// ```
/// use qf_indicators::Wma;
/// let mut wma = Wma::new(3)?;
/// wma.update(1.0);
/// wma.update(2.0);
/// assert_eq!(wma.update(3.0), Some((1.0 + 4.0 + 9.0) / 6.0));
/// # Ok::<(), qf_indicators::IndicatorError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Wma {
    window: Window,
    /// Sums over exactly the values in the window (once it is full).
    live: Sums,
    /// Sums over the last `fresh_len` values, built add-only to replace `live`.
    fresh: Sums,
    fresh_len: usize,
    /// `n (n + 1) / 2`, the sum of the weights.
    divisor: f64,
}

impl Wma {
    /// A WMA over the last `period` values. Fails if `period` is 0.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = nonzero_period("WMA", period)?;
        let n = period as f64;
        Ok(Self {
            window: Window::new(period),
            live: Sums::default(),
            fresh: Sums::default(),
            fresh_len: 0,
            divisor: n * (n + 1.0) / 2.0,
        })
    }

    /// Feeds the next value and returns the WMA once the window is full.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        if !x.is_finite() {
            return self.value();
        }
        let evicted = self.window.push(x);
        self.fresh_len += 1;
        self.fresh.weighted.add(self.fresh_len as f64 * x);
        self.fresh.plain.add(x);
        if self.fresh_len == self.window.capacity() {
            // `fresh` covers exactly the window now, with weights 1..=n: adopt it.
            self.live = std::mem::take(&mut self.fresh);
            self.fresh_len = 0;
        } else if let Some(evicted) = evicted {
            let live = &mut self.live;
            live.weighted.subtract(&live.plain);
            live.weighted.add(self.window.capacity() as f64 * x);
            live.plain.add(x);
            live.plain.add(-evicted);
        }
        // While warming up `live` is not read, and it is replaced when the window fills.
        self.value()
    }

    /// The current WMA, or `None` during warm-up.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        self.window
            .is_full()
            .then(|| self.live.weighted.value() / self.divisor)
    }

    /// The window length this WMA was built with.
    pub fn period(&self) -> usize {
        self.window.capacity()
    }

    /// Forgets all values, as if freshly constructed.
    pub fn reset(&mut self) {
        self.window.clear();
        self.live = Sums::default();
        self.fresh = Sums::default();
        self.fresh_len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::{self, close, magnitude};
    use crate::sample_prices::{self, assert_skips_non_finite, prices, prices_with_junk};
    use proptest::prelude::*;

    fn assert_matches_oracle(period: usize, xs: &[f64]) {
        let mut wma = Wma::new(period).unwrap();
        let scale = magnitude(xs);
        for (i, (&x, want)) in xs.iter().zip(oracle::wma(xs, period)).enumerate() {
            match (wma.update(x), want) {
                (Some(g), Some(w)) => assert!(close(g, w, scale), "step {i}: {g} vs {w}"),
                (g, w) => assert_eq!(g, w, "step {i}"),
            }
        }
    }

    proptest! {
        #[test]
        fn matches_naive_weighted_mean_at_every_step(xs in prices(), period in 1..30_usize) {
            assert_matches_oracle(period, &xs);
        }

        #[test]
        fn non_finite_inputs_change_nothing((clean, noisy) in prices_with_junk(), period in 1..10_usize) {
            assert_skips_non_finite(
                Wma::new(period).unwrap(),
                Wma::new(period).unwrap(),
                Wma::update,
                &clean,
                &noisy,
            );
        }
    }

    #[test]
    fn matches_naive_weighted_mean_on_a_long_walk() {
        assert_matches_oracle(20, &sample_prices::random_walk(200_000, 3));
    }

    #[test]
    fn does_not_drift_over_a_million_updates() {
        let xs = sample_prices::random_walk(1_000_000, 5);
        for period in [1, 10, 200] {
            let mut wma = Wma::new(period).unwrap();
            let mut last = None;
            for &x in &xs {
                last = wma.update(x);
            }
            let fresh = *oracle::wma(&xs[xs.len() - period..], period)
                .last()
                .unwrap();
            let (got, want) = (last.unwrap(), fresh.unwrap());
            assert!(
                (got - want).abs() < 1e-9,
                "period {period}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn a_bad_tick_leaves_no_trace_one_window_after_it_left() {
        let xs = sample_prices::walk_with_bad_ticks(5_000, 41);
        let period = 20;
        let mut wma = Wma::new(period).unwrap();
        for (i, &x) in xs.iter().enumerate() {
            let got = wma.update(x);
            // The sums in use may date from before the tick left: allow one more window.
            let recent = &xs[(i + 1).saturating_sub(2 * period)..=i];
            if i + 1 >= period && !sample_prices::holds_bad_tick(recent) {
                let want = oracle::wma(&xs[i + 1 - period..=i], period)[period - 1].unwrap();
                let got = got.unwrap();
                assert!(close(got, want, 0.0), "step {i}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn warms_up_for_exactly_period_values() {
        let mut wma = Wma::new(3).unwrap();
        assert_eq!(wma.update(3.0), None);
        assert_eq!(wma.update(3.0), None);
        assert_eq!(wma.update(6.0), Some((3.0 + 6.0 + 18.0) / 6.0));
        assert_eq!(wma.update(0.0), Some((3.0 + 12.0) / 6.0));
        assert_eq!(wma.period(), 3);
    }

    #[test]
    fn period_one_echoes_the_input() {
        let mut wma = Wma::new(1).unwrap();
        for x in [3.0, -1.5, 1e9] {
            assert_eq!(wma.update(x), Some(x));
        }
    }

    #[test]
    fn period_zero_is_rejected() {
        assert_eq!(
            Wma::new(0).unwrap_err(),
            IndicatorError::ZeroPeriod { indicator: "WMA" }
        );
    }

    #[test]
    fn reset_forgets_history() {
        let mut wma = Wma::new(2).unwrap();
        wma.update(100.0);
        wma.update(200.0);
        wma.reset();
        assert_eq!(wma.value(), None);
        assert_eq!(wma.update(3.0), None);
        assert_eq!(wma.update(6.0), Some(5.0));
    }

    #[test]
    fn non_finite_input_returns_current_value() {
        let mut wma = Wma::new(2).unwrap();
        wma.update(3.0);
        assert_eq!(wma.update(f64::NAN), None);
        assert_eq!(wma.update(6.0), Some(5.0));
        assert_eq!(wma.update(f64::NEG_INFINITY), Some(5.0));
    }
}
