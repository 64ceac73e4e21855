//! Average true range.

use crate::compensated_sum::CompensatedSum;
use crate::error::{IndicatorError, nonzero_period};

/// Wilder's average true range over `(high, low, close)` bars.
///
/// The true range of a bar is the largest of `high - low`, `|high - previous close|` and
/// `|low - previous close|`; the very first bar has no previous close, so its true range
/// is `high - low`. The ATR is seeded with the simple mean of the first `period` true
/// ranges (ready after `period` bars, `None` before), then smoothed the Wilder way:
/// `atr = (atr * (period - 1) + tr) / period`.
///
/// The bar is taken as given: a bar with `high < low` is not rejected, it simply yields
/// whatever the true-range formula says. A bar with any non-finite field (NaN, ±inf) is
/// skipped whole: nothing changes, and `update` returns the current value.
///
/// ```
/// use qf_indicators::Atr;
/// let mut atr = Atr::new(2)?;
/// assert_eq!(atr.update(11.0, 9.0, 10.0), None); // TR 2
/// assert_eq!(atr.update(14.0, 12.0, 13.0), Some(3.0)); // TR 4 (gap up from 10)
/// assert_eq!(atr.update(13.0, 12.0, 12.5), Some(2.0)); // TR 1: (3 + 1) / 2
/// # Ok::<(), qf_indicators::IndicatorError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Atr {
    period: usize,
    previous_close: Option<f64>,
    /// Bars seen during warm-up; stops counting at `period`.
    bars: usize,
    seed_sum: CompensatedSum,
    atr: Option<f64>,
}

impl Atr {
    /// An ATR smoothed over `period` bars (14 is the classic choice). Fails if
    /// `period` is 0.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = nonzero_period("ATR", period)?;
        Ok(Self {
            period,
            previous_close: None,
            bars: 0,
            seed_sum: CompensatedSum::default(),
            atr: None,
        })
    }

    /// Feeds the next bar and returns the ATR once `period` bars have been seen.
    #[inline]
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        if !(high.is_finite() && low.is_finite() && close.is_finite()) {
            return self.atr;
        }
        let range = high - low;
        let true_range = match self.previous_close.replace(close) {
            Some(pc) => range.max((high - pc).abs()).max((low - pc).abs()),
            None => range,
        };
        let n = self.period as f64;
        match self.atr.as_mut() {
            Some(atr) => *atr = (*atr * (n - 1.0) + true_range) / n,
            None => {
                self.seed_sum.add(true_range);
                self.bars += 1;
                if self.bars == self.period {
                    self.atr = Some(self.seed_sum.value() / n);
                }
            }
        }
        self.atr
    }

    /// The current ATR, or `None` during warm-up.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        self.atr
    }

    /// The smoothing period this ATR was built with.
    pub fn period(&self) -> usize {
        self.period
    }

    /// Forgets all bars, as if freshly constructed.
    pub fn reset(&mut self) {
        self.previous_close = None;
        self.bars = 0;
        self.seed_sum.clear();
        self.atr = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::{self, close};
    use crate::sample_prices::{self, bars, non_finite};
    use proptest::prelude::*;

    fn assert_matches_oracle(period: usize, bars: &[(f64, f64, f64)]) {
        let mut atr = Atr::new(period).unwrap();
        let scale = bars
            .iter()
            .fold(0.0_f64, |m, b| m.max(b.0.abs()).max(b.1.abs()));
        for (i, (&(h, l, c), want)) in bars.iter().zip(oracle::atr(bars, period)).enumerate() {
            match (atr.update(h, l, c), want) {
                (Some(g), Some(w)) => assert!(close(g, w, scale), "step {i}: {g} vs {w}"),
                (g, w) => assert_eq!(g, w, "step {i}"),
            }
        }
    }

    proptest! {
        #[test]
        fn matches_wilder_definition_at_every_step(bars in bars(), period in 1..30_usize) {
            assert_matches_oracle(period, &bars);
        }

        #[test]
        fn bars_with_a_non_finite_field_change_nothing(
            bars in bars(),
            junk in prop::collection::vec((0..200_usize, 0..3_usize, non_finite()), 0..20),
            period in 1..10_usize,
        ) {
            let mut noisy: Vec<(f64, f64, f64)> = bars.clone();
            for (at, field, x) in junk {
                let mut bad = (100.0, 99.0, 99.5);
                match field {
                    0 => bad.0 = x,
                    1 => bad.1 = x,
                    _ => bad.2 = x,
                }
                noisy.insert(at.min(noisy.len()), bad);
            }
            let mut clean_atr = Atr::new(period).unwrap();
            let mut noisy_atr = Atr::new(period).unwrap();
            let mut clean_iter = bars.iter();
            let mut last = None;
            for &(h, l, c) in &noisy {
                let got = noisy_atr.update(h, l, c);
                if h.is_finite() && l.is_finite() && c.is_finite() {
                    let &(ch, cl, cc) = clean_iter.next().unwrap();
                    last = clean_atr.update(ch, cl, cc);
                }
                prop_assert_eq!(got, last);
            }
        }
    }

    #[test]
    fn matches_wilder_definition_on_a_long_walk() {
        assert_matches_oracle(14, &sample_prices::random_bars(1_000_000, 29));
    }

    #[test]
    fn true_range_uses_the_previous_close() {
        let mut atr = Atr::new(1).unwrap();
        // First bar: high - low.
        assert_eq!(atr.update(10.0, 8.0, 9.0), Some(2.0));
        // Gap up: high - previous close dominates.
        assert_eq!(atr.update(15.0, 14.0, 14.5), Some(6.0));
        // Gap down: previous close - low dominates.
        assert_eq!(atr.update(11.0, 10.0, 10.5), Some(4.5));
        // Inside bar: high - low.
        assert_eq!(atr.update(11.5, 9.5, 10.0), Some(2.0));
    }

    #[test]
    fn warms_up_for_exactly_period_bars() {
        let mut atr = Atr::new(3).unwrap();
        assert_eq!(atr.update(2.0, 1.0, 1.5), None);
        assert_eq!(atr.update(2.0, 1.0, 1.5), None);
        assert_eq!(atr.update(5.0, 1.0, 1.5), Some(2.0));
        assert_eq!(atr.update(2.5, 1.5, 2.0), Some((2.0 * 2.0 + 1.0) / 3.0));
        assert_eq!(atr.period(), 3);
    }

    #[test]
    fn period_zero_is_rejected() {
        assert_eq!(
            Atr::new(0).unwrap_err(),
            IndicatorError::ZeroPeriod { indicator: "ATR" }
        );
    }

    #[test]
    fn reset_forgets_history_including_the_previous_close() {
        let mut atr = Atr::new(1).unwrap();
        atr.update(100.0, 90.0, 95.0);
        atr.reset();
        assert_eq!(atr.value(), None);
        // Without the old close of 95 this is just high - low.
        assert_eq!(atr.update(11.0, 10.0, 10.5), Some(1.0));
    }

    #[test]
    fn non_finite_field_returns_current_value() {
        let mut atr = Atr::new(1).unwrap();
        assert_eq!(atr.update(f64::NAN, 1.0, 1.0), None);
        assert_eq!(atr.update(3.0, 1.0, 2.0), Some(2.0));
        assert_eq!(atr.update(3.0, f64::NEG_INFINITY, 2.0), Some(2.0));
        assert_eq!(atr.update(3.0, 1.0, f64::INFINITY), Some(2.0));
        // The previous close is still 2.0.
        assert_eq!(atr.update(6.0, 5.0, 5.5), Some(4.0));
    }
}
