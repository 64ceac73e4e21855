//! A running sum that keeps the rounding error of every addition.
//!
//! Rolling indicators add the newest value and subtract the oldest forever. A plain
//! `f64` sum accumulates one rounding error per operation, and over millions of bars
//! that drift becomes visible in the fourth or fifth significant digit of an SMA. Here
//! each addition's exact error is recovered with Knuth's branch-free TwoSum and kept in
//! a separate compensation term, so the represented sum stays within a few ulps of the
//! true one no matter how many values pass through.

/// A compensated (Kahan–Babuška/Neumaier-style) sum of `f64` values.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CompensatedSum {
    sum: f64,
    compensation: f64,
}

impl CompensatedSum {
    /// Adds `x`, carrying the rounding error of the addition into the compensation.
    #[inline]
    pub(crate) fn add(&mut self, x: f64) {
        let total = self.sum + x;
        // TwoSum: `error` is exactly (self.sum + x) - total, whatever the magnitudes, and
        // without the data-dependent branch of Neumaier's formulation.
        let x_part = total - self.sum;
        let sum_part = total - x_part;
        let error = (self.sum - sum_part) + (x - x_part);
        self.sum = total;
        self.compensation += error;
    }

    /// Subtracts everything `other` holds, including its compensation, so no rounding
    /// is lost in the transfer.
    #[inline]
    pub(crate) fn subtract(&mut self, other: &CompensatedSum) {
        self.add(-other.sum);
        self.add(-other.compensation);
    }

    /// The best `f64` estimate of the sum.
    #[inline]
    pub(crate) fn value(&self) -> f64 {
        self.sum + self.compensation
    }

    /// Forgets everything added so far.
    #[inline]
    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_what_a_plain_sum_loses() {
        let mut compensated = CompensatedSum::default();
        let mut plain = 0.0_f64;
        compensated.add(1e16);
        plain += 1e16;
        for _ in 0..1000 {
            compensated.add(1.0);
            plain += 1.0;
        }
        compensated.add(-1e16);
        plain -= 1e16;
        assert_eq!(compensated.value(), 1000.0);
        assert_eq!(plain, 0.0, "the plain sum should have lost every 1.0");
    }

    #[test]
    fn adding_then_removing_every_value_returns_to_zero() {
        let values = [0.1, 0.2, 0.3, 100.01, 99.99, 1e-7, 12345.67];
        let mut sum = CompensatedSum::default();
        for _ in 0..10_000 {
            for v in values {
                sum.add(v);
            }
            for v in values {
                sum.add(-v);
            }
        }
        assert!(sum.value().abs() < 1e-12, "{}", sum.value());
    }

    #[test]
    fn subtract_transfers_the_compensation_too() {
        let mut small = CompensatedSum::default();
        small.add(1e16);
        small.add(1.0);
        small.add(-1e16);
        let mut total = CompensatedSum::default();
        total.add(5.0);
        total.subtract(&small);
        assert_eq!(total.value(), 4.0);
    }

    #[test]
    fn clear_resets_to_zero() {
        let mut sum = CompensatedSum::default();
        sum.add(3.5);
        sum.clear();
        assert_eq!(sum.value(), 0.0);
    }
}
