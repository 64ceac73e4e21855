//! Rolling maximum and minimum over a fixed window.

use crate::error::{IndicatorError, nonzero_period};

/// The monotonic-deque algorithm behind [`RollingMax`] (`MAX = true`) and
/// [`RollingMin`] (`MAX = false`).
///
/// The deque holds the values that could still become the extreme: each is stamped
/// with its arrival number, and from front to back they are ever less extreme. A new
/// value first drops the front if it has left the window, then pops every value at the
/// back it beats (they can never be the extreme again while it is in the window), then
/// joins at the back. The front is the answer. Every value is pushed and popped at most
/// once, so updates are amortised O(1), and at most `period` values are ever held, so
/// a ring of that size, allocated once, suffices.
#[derive(Debug, Clone)]
struct MonotonicWindow<const MAX: bool> {
    period: usize,
    /// Ring storage of `(arrival, value)`; the live deque is `len` slots from `head`.
    slots: Box<[(u64, f64)]>,
    head: usize,
    len: usize,
    /// Arrival number the next value will get, i.e. how many values have been seen.
    arrivals: u64,
}

impl<const MAX: bool> MonotonicWindow<MAX> {
    fn new(indicator: &'static str, period: usize) -> Result<Self, IndicatorError> {
        let period = nonzero_period(indicator, period)?;
        Ok(Self {
            period,
            slots: vec![(0, 0.0); period].into_boxed_slice(),
            head: 0,
            len: 0,
            arrivals: 0,
        })
    }

    /// Whether `newer` makes `older` irrelevant. Ties evict the older value too, which
    /// keeps the deque shorter and changes nothing about the reported value.
    #[inline]
    fn beats(newer: f64, older: f64) -> bool {
        if MAX { newer >= older } else { newer <= older }
    }

    #[inline]
    fn slot(&self, offset: usize) -> usize {
        let i = self.head + offset;
        if i >= self.slots.len() {
            i - self.slots.len()
        } else {
            i
        }
    }

    #[inline]
    fn update(&mut self, x: f64) -> Option<f64> {
        if !x.is_finite() {
            return self.value();
        }
        let now = self.arrivals;
        self.arrivals += 1;
        // The front is the oldest entry; it expires once `period` newer values arrived.
        if self.len > 0 && self.slots[self.head].0 + self.period as u64 <= now {
            self.head = self.slot(1);
            self.len -= 1;
        }
        while self.len > 0 && Self::beats(x, self.slots[self.slot(self.len - 1)].1) {
            self.len -= 1;
        }
        // At most `period - 1` entries survive the expiry above, so this slot is free.
        let back = self.slot(self.len);
        self.slots[back] = (now, x);
        self.len += 1;
        self.value()
    }

    #[inline]
    fn value(&self) -> Option<f64> {
        (self.arrivals >= self.period as u64).then(|| self.slots[self.head].1)
    }

    fn reset(&mut self) {
        self.head = 0;
        self.len = 0;
        self.arrivals = 0;
    }
}

/// Rolling maximum of the last `period` values, amortised O(1) per update via a
/// monotonic deque (no re-scan of the window).
///
/// Returns `None` until `period` values have been seen. Non-finite inputs (NaN, ±inf)
/// are skipped: they change nothing and `update` returns the current value.
///
/// ```
/// use qf_indicators::RollingMax;
/// let mut max = RollingMax::new(2)?;
/// assert_eq!(max.update(3.0), None);
/// assert_eq!(max.update(1.0), Some(3.0));
/// assert_eq!(max.update(2.0), Some(2.0)); // 3.0 left the window
/// # Ok::<(), qf_indicators::IndicatorError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RollingMax(MonotonicWindow<true>);

impl RollingMax {
    /// A rolling maximum over the last `period` values. Fails if `period` is 0.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        MonotonicWindow::new("rolling maximum", period).map(Self)
    }

    /// Feeds the next value and returns the maximum once the window is full.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        self.0.update(x)
    }

    /// The current maximum, or `None` during warm-up.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        self.0.value()
    }

    /// The window length this indicator was built with.
    pub fn period(&self) -> usize {
        self.0.period
    }

    /// Forgets all values, as if freshly constructed.
    pub fn reset(&mut self) {
        self.0.reset();
    }
}

/// Rolling minimum of the last `period` values, amortised O(1) per update via a
/// monotonic deque (no re-scan of the window).
///
/// Returns `None` until `period` values have been seen. Non-finite inputs (NaN, ±inf)
/// are skipped: they change nothing and `update` returns the current value.
///
/// ```
/// use qf_indicators::RollingMin;
/// let mut min = RollingMin::new(2)?;
/// assert_eq!(min.update(1.0), None);
/// assert_eq!(min.update(3.0), Some(1.0));
/// assert_eq!(min.update(2.0), Some(2.0)); // 1.0 left the window
/// # Ok::<(), qf_indicators::IndicatorError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RollingMin(MonotonicWindow<false>);

impl RollingMin {
    /// A rolling minimum over the last `period` values. Fails if `period` is 0.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        MonotonicWindow::new("rolling minimum", period).map(Self)
    }

    /// Feeds the next value and returns the minimum once the window is full.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        self.0.update(x)
    }

    /// The current minimum, or `None` during warm-up.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        self.0.value()
    }

    /// The window length this indicator was built with.
    pub fn period(&self) -> usize {
        self.0.period
    }

    /// Forgets all values, as if freshly constructed.
    pub fn reset(&mut self) {
        self.0.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle;
    use crate::sample_prices::{self, assert_skips_non_finite, prices, prices_with_junk};
    use proptest::prelude::*;

    /// Extremes are selections, not arithmetic, so they must match exactly.
    fn assert_matches_oracle(period: usize, xs: &[f64]) {
        let mut max = RollingMax::new(period).unwrap();
        let mut min = RollingMin::new(period).unwrap();
        let (want_max, want_min) = (oracle::max(xs, period), oracle::min(xs, period));
        for (i, &x) in xs.iter().enumerate() {
            assert_eq!(max.update(x), want_max[i], "max step {i}");
            assert_eq!(min.update(x), want_min[i], "min step {i}");
        }
    }

    proptest! {
        #[test]
        fn matches_window_scan_at_every_step(xs in prices(), period in 1..30_usize) {
            assert_matches_oracle(period, &xs);
        }

        #[test]
        fn non_finite_inputs_change_nothing((clean, noisy) in prices_with_junk(), period in 1..10_usize) {
            assert_skips_non_finite(
                RollingMax::new(period).unwrap(),
                RollingMax::new(period).unwrap(),
                RollingMax::update,
                &clean,
                &noisy,
            );
            assert_skips_non_finite(
                RollingMin::new(period).unwrap(),
                RollingMin::new(period).unwrap(),
                RollingMin::update,
                &clean,
                &noisy,
            );
        }
    }

    #[test]
    fn matches_window_scan_on_a_long_walk() {
        let xs = sample_prices::random_walk(200_000, 31);
        for period in [1, 2, 20, 100] {
            assert_matches_oracle(period, &xs);
        }
    }

    #[test]
    fn worst_cases_for_the_deque_still_match() {
        // Strictly falling input keeps every value in the max deque (it fills up);
        // strictly rising input empties it on every update.
        let falling: Vec<f64> = (0..500).map(|i| -f64::from(i)).collect();
        let rising: Vec<f64> = (0..500).map(f64::from).collect();
        for period in [1, 3, 64] {
            assert_matches_oracle(period, &falling);
            assert_matches_oracle(period, &rising);
        }
    }

    #[test]
    fn warms_up_for_exactly_period_values() {
        let mut max = RollingMax::new(3).unwrap();
        let mut min = RollingMin::new(3).unwrap();
        for x in [5.0, 9.0] {
            assert_eq!(max.update(x), None);
            assert_eq!(min.update(x), None);
        }
        assert_eq!(max.update(1.0), Some(9.0));
        assert_eq!(min.update(1.0), Some(1.0));
        assert_eq!((max.period(), min.period()), (3, 3));
    }

    #[test]
    fn period_one_echoes_the_input() {
        let mut max = RollingMax::new(1).unwrap();
        let mut min = RollingMin::new(1).unwrap();
        for x in [3.0, -1.5, 1e9, 2.0] {
            assert_eq!(max.update(x), Some(x));
            assert_eq!(min.update(x), Some(x));
        }
    }

    #[test]
    fn period_zero_is_rejected() {
        assert_eq!(
            RollingMax::new(0).unwrap_err(),
            IndicatorError::ZeroPeriod {
                indicator: "rolling maximum"
            }
        );
        assert_eq!(
            RollingMin::new(0).unwrap_err(),
            IndicatorError::ZeroPeriod {
                indicator: "rolling minimum"
            }
        );
    }

    #[test]
    fn reset_forgets_history() {
        let mut max = RollingMax::new(2).unwrap();
        let mut min = RollingMin::new(2).unwrap();
        for x in [100.0, -100.0] {
            max.update(x);
            min.update(x);
        }
        max.reset();
        min.reset();
        assert_eq!((max.value(), min.value()), (None, None));
        for x in [1.0, 2.0] {
            max.update(x);
            min.update(x);
        }
        assert_eq!((max.value(), min.value()), (Some(2.0), Some(1.0)));
    }

    #[test]
    fn non_finite_input_returns_current_value() {
        let mut max = RollingMax::new(2).unwrap();
        let mut min = RollingMin::new(2).unwrap();
        assert_eq!(max.update(f64::INFINITY), None);
        assert_eq!(min.update(f64::NEG_INFINITY), None);
        for x in [1.0, 2.0] {
            max.update(x);
            min.update(x);
        }
        assert_eq!(max.update(f64::NAN), Some(2.0));
        assert_eq!(min.update(f64::NAN), Some(1.0));
        assert_eq!(max.update(f64::INFINITY), Some(2.0));
        assert_eq!(min.update(f64::NEG_INFINITY), Some(1.0));
    }
}
