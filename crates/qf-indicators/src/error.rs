//! The one error type of this crate: bad construction parameters.
//!
//! Updates never fail (non-finite inputs are skipped, see the crate docs), so every
//! error here comes from a constructor and names the parameter to change.

use thiserror::Error;

/// Why an indicator could not be constructed.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
#[non_exhaustive]
pub enum IndicatorError {
    /// A window or smoothing period of zero was requested.
    #[error(
        "{indicator} period must be at least 1, got 0; pass the number of values the indicator should span"
    )]
    ZeroPeriod {
        /// Which indicator (and which of its periods) was given zero, e.g. `"MACD signal"`.
        indicator: &'static str,
    },

    /// A sample (n − 1) standard deviation was requested over a window of one value,
    /// where it is undefined.
    #[error(
        "sample standard deviation needs a period of at least 2, got {period}; use a longer window or RollingStd::new for the population version"
    )]
    SamplePeriodTooShort {
        /// The period that was requested.
        period: usize,
    },

    /// MACD was asked for a fast EMA that is not shorter than its slow EMA.
    #[error(
        "MACD fast period ({fast}) must be shorter than its slow period ({slow}); swap them or lengthen the slow period"
    )]
    FastNotShorterThanSlow {
        /// The fast EMA period that was requested.
        fast: usize,
        /// The slow EMA period that was requested.
        slow: usize,
    },

    /// Bollinger bands were asked for a width multiplier that is negative or not finite.
    #[error("Bollinger band width k must be a finite number of standard deviations >= 0, got {k}")]
    InvalidBandWidth {
        /// The multiplier that was requested.
        k: f64,
    },
}

/// Returns `period` unchanged, or [`IndicatorError::ZeroPeriod`] naming `indicator`.
pub(crate) fn nonzero_period(
    indicator: &'static str,
    period: usize,
) -> Result<usize, IndicatorError> {
    if period == 0 {
        Err(IndicatorError::ZeroPeriod { indicator })
    } else {
        Ok(period)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_parameter_and_the_fix() {
        let zero = IndicatorError::ZeroPeriod { indicator: "SMA" }.to_string();
        assert!(
            zero.starts_with("SMA period must be at least 1, got 0"),
            "{zero}"
        );

        let macd = IndicatorError::FastNotShorterThanSlow { fast: 26, slow: 12 }.to_string();
        assert!(
            macd.contains("(26)") && macd.contains("(12)") && macd.contains("swap"),
            "{macd}"
        );

        let sample = IndicatorError::SamplePeriodTooShort { period: 1 }.to_string();
        assert!(sample.contains("at least 2, got 1"), "{sample}");

        let k = IndicatorError::InvalidBandWidth { k: -1.0 }.to_string();
        assert!(k.ends_with("got -1"), "{k}");
    }

    #[test]
    fn nonzero_period_passes_positive_values_through() {
        assert_eq!(nonzero_period("EMA", 3), Ok(3));
        assert_eq!(
            nonzero_period("EMA", 0),
            Err(IndicatorError::ZeroPeriod { indicator: "EMA" })
        );
    }
}
