//! Bollinger bands.

use crate::error::IndicatorError;
use crate::rolling_std::RollingStd;

/// One reading of [`Bollinger`] bands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BollingerValue {
    /// The simple moving average of the window.
    pub middle: f64,
    /// `middle + k * std`.
    pub upper: f64,
    /// `middle - k * std`.
    pub lower: f64,
}

/// Bollinger bands: an SMA of the last `period` values with bands `k` standard
/// deviations above and below it.
///
/// The standard deviation is the **population** one (divide by `n`), as in Bollinger's
/// own definition and pandas `rolling(n).std(ddof=0)`; note that pandas' default
/// `std()` is the sample one and gives slightly wider bands. Mean and deviation come
/// from one [`RollingStd`], so the update is O(1); see it for the accuracy notes.
///
/// Returns `None` until `period` values have been seen. Non-finite inputs (NaN, ±inf)
/// are skipped: they change nothing and `update` returns the current value.
///
/// ```
/// use qf_indicators::{Bollinger, BollingerValue};
/// let mut bands = Bollinger::new(2, 2.0)?;
/// bands.update(1.0);
/// assert_eq!(
///     bands.update(3.0),
///     Some(BollingerValue { middle: 2.0, upper: 4.0, lower: 0.0 })
/// );
/// # Ok::<(), qf_indicators::IndicatorError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Bollinger {
    std: RollingStd,
    k: f64,
}

impl Bollinger {
    /// Bands over the last `period` values, `k` standard deviations wide (2.0 is the
    /// classic choice). Fails if `period` is 0 or `k` is negative or not finite.
    pub fn new(period: usize, k: f64) -> Result<Self, IndicatorError> {
        if !(k.is_finite() && k >= 0.0) {
            return Err(IndicatorError::InvalidBandWidth { k });
        }
        Ok(Self {
            std: RollingStd::population_named("Bollinger", period)?,
            k,
        })
    }

    /// Feeds the next value and returns the bands once the window is full.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<BollingerValue> {
        self.std.update(x);
        self.value()
    }

    /// The current bands, or `None` during warm-up.
    #[inline]
    pub fn value(&self) -> Option<BollingerValue> {
        let middle = self.std.mean()?;
        let width = self.k * self.std.value()?;
        Some(BollingerValue {
            middle,
            upper: middle + width,
            lower: middle - width,
        })
    }

    /// The window length these bands were built with.
    pub fn period(&self) -> usize {
        self.std.period()
    }

    /// The band width in standard deviations.
    pub fn k(&self) -> f64 {
        self.k
    }

    /// Forgets all values, as if freshly constructed.
    pub fn reset(&mut self) {
        self.std.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::{self, close, magnitude};
    use crate::sample_prices::{self, assert_skips_non_finite, prices, prices_with_junk};
    use proptest::prelude::*;

    fn assert_matches_oracle(period: usize, k: f64, xs: &[f64]) {
        let mut bands = Bollinger::new(period, k).unwrap();
        let scale = magnitude(xs);
        let (means, stds) = (oracle::sma(xs, period), oracle::std(xs, period, 0));
        for (i, &x) in xs.iter().enumerate() {
            match (bands.update(x), means[i], stds[i]) {
                (Some(b), Some(m), Some(s)) => {
                    assert!(close(b.middle, m, scale), "step {i}: {b:?} vs mean {m}");
                    // Band half-width is k * std; compare std^2 at the squared data scale.
                    assert!(
                        close(b.upper - b.middle, b.middle - b.lower, scale),
                        "step {i}"
                    );
                    if k > 0.0 {
                        let got = (b.upper - b.lower) / (2.0 * k);
                        assert!(
                            close(got * got, s * s, scale * scale),
                            "step {i}: {got} vs {s}"
                        );
                    } else {
                        assert_eq!((b.upper, b.lower), (b.middle, b.middle));
                    }
                }
                (got, m, s) => {
                    assert!(got.is_none() && m.is_none() && s.is_none(), "step {i}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn matches_naive_mean_and_std_at_every_step(
            xs in prices(),
            period in 1..30_usize,
            k in prop_oneof![Just(0.0), Just(2.0), 0.5..3.0_f64],
        ) {
            assert_matches_oracle(period, k, &xs);
        }

        #[test]
        fn non_finite_inputs_change_nothing((clean, noisy) in prices_with_junk(), period in 1..10_usize) {
            assert_skips_non_finite(
                Bollinger::new(period, 2.0).unwrap(),
                Bollinger::new(period, 2.0).unwrap(),
                Bollinger::update,
                &clean,
                &noisy,
            );
        }
    }

    #[test]
    fn matches_naive_mean_and_std_on_a_long_walk() {
        assert_matches_oracle(20, 2.0, &sample_prices::random_walk(200_000, 17));
    }

    #[test]
    fn a_flat_window_has_bands_exactly_on_the_price() {
        let mut bands = Bollinger::new(3, 2.0).unwrap();
        for x in [108.03, 100.31, 90.61, 90.61] {
            bands.update(x);
        }
        assert_eq!(
            bands.update(90.61),
            Some(BollingerValue {
                middle: 90.61,
                upper: 90.61,
                lower: 90.61
            })
        );
    }

    #[test]
    fn warms_up_for_exactly_period_values() {
        let mut bands = Bollinger::new(3, 1.0).unwrap();
        assert_eq!(bands.update(5.0), None);
        assert_eq!(bands.update(5.0), None);
        assert_eq!(
            bands.update(5.0),
            Some(BollingerValue {
                middle: 5.0,
                upper: 5.0,
                lower: 5.0
            })
        );
        assert_eq!((bands.period(), bands.k()), (3, 1.0));
    }

    #[test]
    fn period_one_collapses_onto_the_price() {
        let mut bands = Bollinger::new(1, 2.0).unwrap();
        assert_eq!(
            bands.update(7.5),
            Some(BollingerValue {
                middle: 7.5,
                upper: 7.5,
                lower: 7.5
            })
        );
    }

    #[test]
    fn bad_parameters_are_rejected() {
        assert_eq!(
            Bollinger::new(0, 2.0).unwrap_err(),
            IndicatorError::ZeroPeriod {
                indicator: "Bollinger"
            }
        );
        for k in [-0.5, f64::INFINITY] {
            assert_eq!(
                Bollinger::new(20, k).unwrap_err(),
                IndicatorError::InvalidBandWidth { k }
            );
        }
        assert!(matches!(
            Bollinger::new(20, f64::NAN),
            Err(IndicatorError::InvalidBandWidth { .. })
        ));
    }

    #[test]
    fn reset_forgets_history() {
        let mut bands = Bollinger::new(2, 2.0).unwrap();
        bands.update(100.0);
        bands.update(200.0);
        bands.reset();
        assert_eq!(bands.value(), None);
        assert_eq!(bands.update(1.0), None);
        assert_eq!(
            bands.update(3.0),
            Some(BollingerValue {
                middle: 2.0,
                upper: 4.0,
                lower: 0.0
            })
        );
    }

    #[test]
    fn non_finite_input_returns_current_value() {
        let mut bands = Bollinger::new(2, 2.0).unwrap();
        bands.update(1.0);
        bands.update(3.0);
        let current = bands.value();
        assert!(current.is_some());
        assert_eq!(bands.update(f64::NAN), current);
        assert_eq!(bands.update(f64::NEG_INFINITY), current);
    }
}
