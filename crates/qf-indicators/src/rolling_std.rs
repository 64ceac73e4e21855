//! Rolling standard deviation over a fixed window.

use crate::compensated_sum::CompensatedSum;
use crate::error::{IndicatorError, nonzero_period};
use crate::window::Window;

/// First and second moments of some values about a fixed centre:
/// `Σ (x - centre)` and `Σ (x - centre)^2`, both compensated.
///
/// Removing a value recomputes exactly the same two terms that adding it produced (the
/// centre does not move), so with compensated sums an add followed by a remove cancels
/// almost exactly: nothing a value did lingers after it leaves.
#[derive(Debug, Clone, Copy, Default)]
struct Moments {
    centre: f64,
    deviations: CompensatedSum,
    squares: CompensatedSum,
}

impl Moments {
    fn centred_at(centre: f64) -> Self {
        Self {
            centre,
            ..Self::default()
        }
    }

    #[inline]
    fn add(&mut self, x: f64) {
        let d = x - self.centre;
        self.deviations.add(d);
        self.squares.add(d * d);
    }

    #[inline]
    fn remove(&mut self, x: f64) {
        let d = x - self.centre;
        self.deviations.add(-d);
        self.squares.add(-(d * d));
    }

    #[inline]
    fn mean(&self, n: f64) -> f64 {
        self.centre + self.deviations.value() / n
    }

    /// Sum of squared deviations from the mean, `Σ (x - mean)^2`.
    #[inline]
    fn m2(&self, n: f64) -> f64 {
        let d = self.deviations.value();
        // Rounding can leave this a hair below zero when the true value is tiny.
        (self.squares.value() - d * d / n).max(0.0)
    }
}

/// Rolling standard deviation of the last `period` values.
///
/// [`RollingStd::new`] gives the **population** standard deviation (divide by `n`, like
/// pandas `rolling(n).std(ddof=0)` and like Bollinger bands are usually defined), because
/// the window *is* the population an indicator describes. [`RollingStd::sample`] gives the
/// sample version (divide by `n - 1`, pandas' default `ddof=1`) for statistical use.
///
/// # How it stays O(1) and accurate
///
/// The window's sums of `x - c` and `(x - c)^2` about a centre `c` near the data are
/// kept compensated, so each update adds one value and removes another in O(1). Two
/// things usually spoil such running sums, and both are handled without re-scanning:
///
/// - *Centre drift.* `Σ(x-c)^2 - (Σ(x-c))^2 / n` cancels badly when prices wander far
///   from `c`. So every `period` updates the sums are replaced by a second set that has
///   been accumulating, add-only, exactly the values now in the window, about a centre
///   taken from the first of them. The centre is therefore never more than two windows
///   old.
/// - *Accumulated rounding and bad ticks.* The same replacement discards whatever
///   rounding the old sums had collected, so errors cannot build up over millions of
///   updates, and a wild value (say `1e12` from a bad tick) stops affecting the result at
///   most one window after it has left it, rather than leaving a permanent residue as
///   Welford-style updates do.
///
/// A window of exactly equal values is detected (by counting the run of repeats) and
/// reads exactly 0.
///
/// Returns `None` until `period` values have been seen. Non-finite inputs (NaN, ±inf)
/// are skipped: they change nothing and `update` returns the current value.
///
/// ```
/// use qf_indicators::RollingStd;
/// let mut std = RollingStd::new(2)?;
/// std.update(1.0);
/// assert_eq!(std.update(3.0), Some(1.0));
/// let mut sample = RollingStd::sample(2)?;
/// sample.update(1.0);
/// assert_eq!(sample.update(3.0), Some(2.0_f64.sqrt()));
/// # Ok::<(), qf_indicators::IndicatorError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RollingStd {
    window: Window,
    /// Moments of exactly the values in the window (once it is full).
    live: Moments,
    /// Moments of the last `fresh_len` values, built add-only to replace `live`.
    fresh: Moments,
    fresh_len: usize,
    /// Degrees of freedom removed from the divisor: 0 (population) or 1 (sample).
    ddof: usize,
    /// The most recent value and how many times in a row it has been seen.
    last: f64,
    repeats: usize,
}

impl RollingStd {
    /// Population standard deviation (divide by `n`) over the last `period` values.
    /// Fails if `period` is 0.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        Self::build("rolling standard deviation", period, 0)
    }

    /// Sample standard deviation (divide by `n - 1`) over the last `period` values.
    /// Fails if `period` is below 2, where it is undefined.
    pub fn sample(period: usize) -> Result<Self, IndicatorError> {
        if period < 2 {
            return Err(IndicatorError::SamplePeriodTooShort { period });
        }
        Self::build("rolling standard deviation", period, 1)
    }

    /// Population version whose period errors name `indicator` (for Bollinger bands).
    pub(crate) fn population_named(
        indicator: &'static str,
        period: usize,
    ) -> Result<Self, IndicatorError> {
        Self::build(indicator, period, 0)
    }

    fn build(indicator: &'static str, period: usize, ddof: usize) -> Result<Self, IndicatorError> {
        let period = nonzero_period(indicator, period)?;
        Ok(Self {
            window: Window::new(period),
            live: Moments::default(),
            fresh: Moments::default(),
            fresh_len: 0,
            ddof,
            last: 0.0,
            repeats: 0,
        })
    }

    /// Feeds the next value and returns the standard deviation once the window is full.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        if !x.is_finite() {
            return self.value();
        }
        self.repeats = if self.window.len() > 0 && x == self.last {
            self.repeats + 1
        } else {
            1
        };
        self.last = x;

        let evicted = self.window.push(x);
        if self.fresh_len == 0 {
            self.fresh = Moments::centred_at(x);
        }
        self.fresh.add(x);
        self.fresh_len += 1;
        if self.fresh_len == self.window.capacity() {
            // `fresh` has seen exactly the values now in the window (it started
            // `period` updates ago, or at the first value): adopt it.
            self.live = self.fresh;
            self.fresh_len = 0;
        } else if let Some(evicted) = evicted {
            self.live.add(x);
            self.live.remove(evicted);
        }
        // While warming up `live` is not read, and it is replaced when the window fills.
        self.value()
    }

    /// The current standard deviation, or `None` during warm-up.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        self.variance().map(f64::sqrt)
    }

    /// The current variance (the square of [`RollingStd::value`]), or `None` during warm-up.
    #[inline]
    pub fn variance(&self) -> Option<f64> {
        if !self.window.is_full() {
            return None;
        }
        if self.repeats >= self.window.capacity() {
            // Every value in the window is identical.
            return Some(0.0);
        }
        let n = self.window.len();
        Some(self.live.m2(n as f64) / (n - self.ddof) as f64)
    }

    /// The mean of the current window, or `None` during warm-up.
    #[inline]
    pub fn mean(&self) -> Option<f64> {
        if !self.window.is_full() {
            return None;
        }
        if self.repeats >= self.window.capacity() {
            return Some(self.last);
        }
        Some(self.live.mean(self.window.len() as f64))
    }

    /// The window length this indicator was built with.
    pub fn period(&self) -> usize {
        self.window.capacity()
    }

    /// Whether this is the sample (`n - 1`) rather than the population (`n`) version.
    pub fn is_sample(&self) -> bool {
        self.ddof == 1
    }

    /// Forgets all values, as if freshly constructed.
    pub fn reset(&mut self) {
        self.window.clear();
        self.live = Moments::default();
        self.fresh_len = 0;
        self.last = 0.0;
        self.repeats = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::{self, close, magnitude};
    use crate::sample_prices::{self, assert_skips_non_finite, prices, prices_with_junk};
    use proptest::prelude::*;

    /// Compares variances relative to the squared scale of the data: the accuracy a
    /// streaming variance can promise (see the type's docs).
    fn assert_matches_oracle(std: RollingStd, xs: &[f64]) {
        let (period, ddof) = (std.period(), usize::from(std.is_sample()));
        let mut std = std;
        let scale = magnitude(xs);
        for (i, (&x, want)) in xs.iter().zip(oracle::std(xs, period, ddof)).enumerate() {
            match (std.update(x), want) {
                (Some(g), Some(w)) => {
                    assert!(close(g * g, w * w, scale * scale), "step {i}: {g} vs {w}");
                    let mean = oracle::sma(&xs[..=i], period)[i].unwrap();
                    assert!(close(std.mean().unwrap(), mean, scale), "step {i} mean");
                }
                (g, w) => assert_eq!(g, w, "step {i}"),
            }
        }
    }

    proptest! {
        #[test]
        fn population_matches_two_pass_at_every_step(xs in prices(), period in 1..30_usize) {
            assert_matches_oracle(RollingStd::new(period).unwrap(), &xs);
        }

        #[test]
        fn sample_matches_two_pass_at_every_step(xs in prices(), period in 2..30_usize) {
            assert_matches_oracle(RollingStd::sample(period).unwrap(), &xs);
        }

        #[test]
        fn non_finite_inputs_change_nothing((clean, noisy) in prices_with_junk(), period in 1..10_usize) {
            assert_skips_non_finite(
                RollingStd::new(period).unwrap(),
                RollingStd::new(period).unwrap(),
                RollingStd::update,
                &clean,
                &noisy,
            );
        }
    }

    #[test]
    fn matches_two_pass_on_a_long_walk_to_relative_precision() {
        let xs = sample_prices::random_walk(200_000, 9);
        let mut std = RollingStd::new(20).unwrap();
        for (i, (&x, want)) in xs.iter().zip(oracle::std(&xs, 20, 0)).enumerate() {
            let got = std.update(x);
            match (got, want) {
                // Windows of the walk always move, so compare the std itself.
                (Some(g), Some(w)) if w > 0.0 => assert!(close(g, w, 0.0), "step {i}: {g} vs {w}"),
                (g, w) => assert_eq!(g, w, "step {i}"),
            }
        }
    }

    #[test]
    fn does_not_drift_over_a_million_updates() {
        let xs = sample_prices::random_walk(1_000_000, 13);
        for period in [2, 20, 200] {
            let mut std = RollingStd::new(period).unwrap();
            let mut last = None;
            for &x in &xs {
                last = std.update(x);
            }
            let want = oracle::std(&xs[xs.len() - period..], period, 0)[period - 1].unwrap();
            let got = last.unwrap();
            assert!(close(got, want, 0.0), "period {period}: {got} vs {want}");
        }
    }

    #[test]
    fn a_bad_tick_leaves_no_trace_one_window_after_it_left() {
        let xs = sample_prices::walk_with_bad_ticks(5_000, 43);
        for period in [2, 7, 20] {
            let mut std = RollingStd::new(period).unwrap();
            for (i, &x) in xs.iter().enumerate() {
                let got = std.update(x);
                // The sums in use may date from before the tick left: allow one more window.
                let recent = &xs[(i + 1).saturating_sub(2 * period)..=i];
                if i + 1 >= period && !sample_prices::holds_bad_tick(recent) {
                    let want = oracle::std(&xs[i + 1 - period..=i], period, 0)[period - 1].unwrap();
                    let got = got.unwrap();
                    // Relative to the deviation itself, not to the price level.
                    assert!(
                        close(got, want, 0.0),
                        "period {period} step {i}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_flat_window_reads_exactly_zero() {
        let mut std = RollingStd::new(3).unwrap();
        // The sums are centred on 108.03 here, and for 90.61 the moment formula
        // rounds to about 1e-13 rather than 0.
        for x in [108.03, 100.31, 90.61, 90.61] {
            std.update(x);
        }
        assert_eq!(std.update(90.61), Some(0.0));
        assert_eq!(std.mean(), Some(90.61));
        // And it reads normally once the price moves again.
        let moved = std.update(90.91).unwrap();
        assert!(close(moved, 0.02_f64.sqrt(), 0.0), "{moved}");
    }

    #[test]
    fn warms_up_for_exactly_period_values() {
        let mut std = RollingStd::new(3).unwrap();
        assert_eq!(std.update(2.0), None);
        assert_eq!(std.update(4.0), None);
        assert_eq!(std.mean(), None);
        assert_eq!(std.variance(), None);
        let got = std.update(6.0).unwrap();
        assert!(close(got, (8.0_f64 / 3.0).sqrt(), 1.0));
        assert_eq!(std.mean(), Some(4.0));
        assert_eq!(std.period(), 3);
        assert!(!std.is_sample());
    }

    #[test]
    fn period_one_is_always_zero() {
        let mut std = RollingStd::new(1).unwrap();
        for x in [3.0, -1.5, 1e9, 0.1] {
            assert_eq!(std.update(x), Some(0.0));
        }
    }

    #[test]
    fn bad_periods_are_rejected() {
        assert_eq!(
            RollingStd::new(0).unwrap_err(),
            IndicatorError::ZeroPeriod {
                indicator: "rolling standard deviation"
            }
        );
        for period in [0, 1] {
            assert_eq!(
                RollingStd::sample(period).unwrap_err(),
                IndicatorError::SamplePeriodTooShort { period }
            );
        }
        assert!(RollingStd::sample(2).unwrap().is_sample());
    }

    #[test]
    fn reset_forgets_history() {
        let mut std = RollingStd::new(2).unwrap();
        std.update(100.0);
        std.update(200.0);
        std.reset();
        assert_eq!(std.value(), None);
        assert_eq!(std.update(1.0), None);
        assert_eq!(std.update(3.0), Some(1.0));
        assert_eq!(std.mean(), Some(2.0));
    }

    #[test]
    fn non_finite_input_returns_current_value() {
        let mut std = RollingStd::new(2).unwrap();
        std.update(1.0);
        assert_eq!(std.update(f64::NAN), None);
        assert_eq!(std.update(3.0), Some(1.0));
        assert_eq!(std.update(f64::INFINITY), Some(1.0));
    }
}
