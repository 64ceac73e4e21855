//! Exact fixed-point values.
//!
//! [`Price`] and [`Quantity`] are `i64` counts of 10⁻⁹ units, so any price or size with up to
//! nine decimal places is held exactly. [`Money`] is an `i128` count of 10⁻¹⁸ units: the
//! product of a price and a quantity is therefore exact with no rounding at all, which is why
//! cash never drifts however many fills a backtest makes. Rounding happens only where a rule
//! says so (a fee in basis points), and then deterministically.

use std::fmt;
use std::ops::{Add, AddAssign, Mul, Neg, Sub, SubAssign};

use serde::{Serialize, Serializer};

use crate::CoreError;

/// Raw units per 1.0 of a [`Price`].
pub const PRICE_SCALE: i64 = 1_000_000_000;
/// Raw units per 1.0 of a [`Quantity`].
pub const QUANTITY_SCALE: i64 = 1_000_000_000;
/// Raw units per 1.0 of [`Money`] (`PRICE_SCALE × QUANTITY_SCALE`).
pub const MONEY_SCALE: i128 = 1_000_000_000_000_000_000;

const SCALE_DIGITS: u8 = 9;

/// Parses a decimal string (`-12.345`, `+7`, `.5`, `1e-3`) into an integer count of 10⁻⁹,
/// returning that count and the number of significant fractional digits written.
fn parse_decimal(text: &str) -> Result<(i128, u8), CoreError> {
    let bad = |why: &'static str| CoreError::InvalidDecimal {
        text: text.to_string(),
        why,
    };
    let bytes = text.trim().as_bytes();
    if bytes.is_empty() {
        return Err(bad(" (empty)"));
    }
    let (negative, rest) = match bytes[0] {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let (mantissa, exponent) = match rest.iter().position(|&b| b == b'e' || b == b'E') {
        Some(i) => {
            let exp_text = std::str::from_utf8(&rest[i + 1..]).map_err(|_| bad(""))?;
            let exp: i32 = exp_text.parse().map_err(|_| bad(" (bad exponent)"))?;
            (&rest[..i], exp)
        }
        None => (rest, 0),
    };
    let mut digits: i128 = 0;
    let mut frac_digits: i32 = 0;
    let mut seen_point = false;
    let mut seen_digit = false;
    for &b in mantissa {
        match b {
            b'0'..=b'9' => {
                seen_digit = true;
                if digits > i128::MAX / 100 {
                    return Err(CoreError::OutOfRange {
                        text: text.to_string(),
                    });
                }
                digits = digits * 10 + i128::from(b - b'0');
                if seen_point {
                    frac_digits += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => return Err(bad("")),
        }
    }
    if !seen_digit {
        return Err(bad(""));
    }
    // Drop trailing fractional zeros so that "1.50" counts as one decimal place.
    let mut scale = frac_digits - exponent;
    while scale > 0 && digits % 10 == 0 {
        digits /= 10;
        scale -= 1;
    }
    if scale > i32::from(SCALE_DIGITS) {
        return Err(CoreError::TooPrecise {
            text: text.to_string(),
            max: SCALE_DIGITS,
        });
    }
    let shift = i32::from(SCALE_DIGITS) - scale;
    let factor = 10i128
        .checked_pow(shift as u32)
        .ok_or_else(|| CoreError::OutOfRange {
            text: text.to_string(),
        })?;
    let raw = digits
        .checked_mul(factor)
        .ok_or_else(|| CoreError::OutOfRange {
            text: text.to_string(),
        })?;
    Ok((if negative { -raw } else { raw }, scale.max(0) as u8))
}

/// Writes `raw / 10^scale_digits` exactly, without trailing fractional zeros.
fn write_decimal(f: &mut fmt::Formatter<'_>, raw: i128, scale_digits: u32) -> fmt::Result {
    let scale = 10i128.pow(scale_digits);
    let sign = if raw < 0 { "-" } else { "" };
    let abs = raw.unsigned_abs();
    let int = abs / scale as u128;
    let mut frac = abs % scale as u128;
    if frac == 0 {
        return write!(f, "{sign}{int}");
    }
    let mut width = scale_digits as usize;
    while frac.is_multiple_of(10) {
        frac /= 10;
        width -= 1;
    }
    write!(f, "{sign}{int}.{frac:0width$}")
}

fn f64_to_raw(value: f64, precision: u8, scale: i64) -> Option<i64> {
    if !value.is_finite() || precision > SCALE_DIGITS {
        return None;
    }
    let step = 10f64.powi(i32::from(precision));
    let units = (value * step).round();
    if units.abs() > (i64::MAX / scale) as f64 * step {
        return None;
    }
    Some(units as i64 * (scale / 10i64.pow(u32::from(precision))))
}

macro_rules! fixed_i64 {
    ($name:ident, $scale:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(i64);

        impl $name {
            /// Zero.
            pub const ZERO: Self = Self(0);

            /// From a raw count of 10⁻⁹ units.
            pub const fn from_raw(raw: i64) -> Self {
                Self(raw)
            }

            /// The raw count of 10⁻⁹ units.
            pub const fn raw(self) -> i64 {
                self.0
            }

            /// From a whole number of units.
            pub const fn from_int(units: i64) -> Self {
                Self(units * $scale)
            }

            /// Parses an exact decimal; also returns how many decimal places it was written with.
            pub fn parse_with_precision(text: &str) -> Result<(Self, u8), CoreError> {
                let (raw, places) = parse_decimal(text)?;
                let raw = i64::try_from(raw).map_err(|_| CoreError::OutOfRange {
                    text: text.to_string(),
                })?;
                Ok((Self(raw), places))
            }

            /// Parses an exact decimal such as `101.25`.
            pub fn parse(text: &str) -> Result<Self, CoreError> {
                Self::parse_with_precision(text).map(|(v, _)| v)
            }

            /// Rounds a float to `precision` decimal places; `None` for NaN, infinity or out
            /// of range.
            pub fn from_f64(value: f64, precision: u8) -> Option<Self> {
                f64_to_raw(value, precision, $scale).map(Self)
            }

            /// As a float, for indicators and statistics only.
            pub fn as_f64(self) -> f64 {
                self.0 as f64 / $scale as f64
            }

            /// Rounds towards zero to a multiple of 10^-`precision`.
            pub fn truncate_to(self, precision: u8) -> Self {
                let step = $scale / 10i64.pow(u32::from(precision.min(SCALE_DIGITS)));
                Self(self.0 / step * step)
            }

            /// Rounds half away from zero to a multiple of 10^-`precision`.
            pub fn round_to(self, precision: u8) -> Self {
                let step = $scale / 10i64.pow(u32::from(precision.min(SCALE_DIGITS)));
                let half = step / 2;
                let adj = if self.0 >= 0 {
                    self.0 + half
                } else {
                    self.0 - half
                };
                Self(adj / step * step)
            }

            /// Whether the value is exactly zero.
            pub const fn is_zero(self) -> bool {
                self.0 == 0
            }

            /// Whether the value is above zero.
            pub const fn is_positive(self) -> bool {
                self.0 > 0
            }

            /// Whether the value is below zero.
            pub const fn is_negative(self) -> bool {
                self.0 < 0
            }

            /// The absolute value.
            pub const fn abs(self) -> Self {
                Self(self.0.abs())
            }

            /// Addition that reports overflow instead of wrapping.
            pub fn checked_add(self, other: Self) -> Option<Self> {
                self.0.checked_add(other.0).map(Self)
            }
        }

        impl Add for $name {
            type Output = Self;
            fn add(self, rhs: Self) -> Self {
                Self(self.0 + rhs.0)
            }
        }

        impl Sub for $name {
            type Output = Self;
            fn sub(self, rhs: Self) -> Self {
                Self(self.0 - rhs.0)
            }
        }

        impl Neg for $name {
            type Output = Self;
            fn neg(self) -> Self {
                Self(-self.0)
            }
        }

        impl AddAssign for $name {
            fn add_assign(&mut self, rhs: Self) {
                self.0 += rhs.0;
            }
        }

        impl SubAssign for $name {
            fn sub_assign(&mut self, rhs: Self) {
                self.0 -= rhs.0;
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_decimal(f, i128::from(self.0), u32::from(SCALE_DIGITS))
            }
        }

        impl std::str::FromStr for $name {
            type Err = CoreError;
            fn from_str(s: &str) -> Result<Self, CoreError> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}

fixed_i64!(
    Price,
    PRICE_SCALE,
    "An exact price: up to nine decimal places, range ±9.2 billion."
);
fixed_i64!(
    Quantity,
    QUANTITY_SCALE,
    "An exact, signed quantity (negative for a short position): up to nine decimal places."
);

/// An exact amount of money in 10⁻¹⁸ units of the account currency.
///
/// `Price × Quantity` lands here with no rounding. Serialises as an exact decimal string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i128);

impl Money {
    /// Zero.
    pub const ZERO: Self = Self(0);

    /// From a raw count of 10⁻¹⁸ units.
    pub const fn from_raw(raw: i128) -> Self {
        Self(raw)
    }

    /// The raw count of 10⁻¹⁸ units.
    pub const fn raw(self) -> i128 {
        self.0
    }

    /// From a whole number of currency units.
    pub const fn from_int(units: i64) -> Self {
        Self(units as i128 * MONEY_SCALE)
    }

    /// Parses an exact decimal with up to nine decimal places.
    pub fn parse(text: &str) -> Result<Self, CoreError> {
        let (raw, _) = parse_decimal(text)?;
        raw.checked_mul(1_000_000_000)
            .map(Self)
            .ok_or_else(|| CoreError::OutOfRange {
                text: text.to_string(),
            })
    }

    /// As a float, for statistics only.
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / MONEY_SCALE as f64
    }

    /// From a float, rounded to 10⁻⁹; for sizing decisions, never for accounting.
    pub fn from_f64(value: f64) -> Option<Self> {
        if !value.is_finite() || value.abs() > 1e20 {
            return None;
        }
        Some(Self((value * 1e9).round() as i128 * 1_000_000_000))
    }

    /// `self × numerator / denominator`, rounded half away from zero; used for fees in basis
    /// points. `denominator` must be non-zero.
    pub fn mul_ratio(self, numerator: i128, denominator: i128) -> Self {
        let product = self.0 * numerator;
        let half = denominator.abs() / 2;
        let adj = if (product >= 0) == (denominator > 0) {
            product + half * denominator.signum()
        } else {
            product - half * denominator.signum()
        };
        Self(adj / denominator)
    }

    /// Whether the amount is below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// The absolute value.
    pub const fn abs(self) -> Self {
        Self(self.0.abs())
    }

    /// The larger of two amounts.
    pub fn max(self, other: Self) -> Self {
        if self >= other { self } else { other }
    }
}

impl Mul<Quantity> for Price {
    type Output = Money;
    fn mul(self, rhs: Quantity) -> Money {
        Money(i128::from(self.0) * i128::from(rhs.0))
    }
}

impl Add for Money {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Self(self.0 + rhs.0)
    }
}

impl Sub for Money {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        Self(self.0 - rhs.0)
    }
}

impl Neg for Money {
    type Output = Self;
    fn neg(self) -> Self {
        Self(-self.0)
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, rhs: Self) {
        self.0 += rhs.0;
    }
}

impl SubAssign for Money {
    fn sub_assign(&mut self, rhs: Self) {
        self.0 -= rhs.0;
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Money::ZERO, |a, b| a + b)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_decimal(f, self.0, 18)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_prints_exactly() {
        let (p, places) = Price::parse_with_precision("101.250").unwrap();
        assert_eq!(p.raw(), 101_250_000_000);
        assert_eq!(places, 2);
        assert_eq!(p.to_string(), "101.25");
        assert_eq!(Price::parse("-0.5").unwrap().to_string(), "-0.5");
        assert_eq!(Price::parse("+7").unwrap().to_string(), "7");
        assert_eq!(Price::parse(".5").unwrap().to_string(), "0.5");
        assert_eq!(Price::parse("1.5e3").unwrap().to_string(), "1500");
        assert_eq!(Price::parse("25e-3").unwrap().to_string(), "0.025");
    }

    #[test]
    fn rejects_bad_text() {
        for bad in [
            "", "abc", "1.2.3", "1,5", "-", ".", "nan", "inf", "1e", "12a",
        ] {
            assert!(Price::parse(bad).is_err(), "{bad:?} should not parse");
        }
        assert!(matches!(
            Price::parse("0.0000000001"),
            Err(CoreError::TooPrecise { .. })
        ));
        assert!(matches!(
            Price::parse("99999999999999"),
            Err(CoreError::OutOfRange { .. })
        ));
    }

    #[test]
    fn price_times_quantity_is_exact() {
        let p = Price::parse("0.1").unwrap();
        let q = Quantity::parse("0.2").unwrap();
        assert_eq!((p * q).to_string(), "0.02");
        assert_eq!(Money::parse("1000000").unwrap().to_string(), "1000000");
    }

    #[test]
    fn rounding_rules() {
        let p = Price::parse("1.255").unwrap();
        assert_eq!(p.round_to(2).to_string(), "1.26");
        assert_eq!((-p).round_to(2).to_string(), "-1.26");
        assert_eq!(p.truncate_to(2).to_string(), "1.25");
        assert_eq!(Price::from_f64(100.125, 2).unwrap().to_string(), "100.13");
        assert!(Price::from_f64(f64::NAN, 2).is_none());
        let fee = Money::from_int(10_001).mul_ratio(5, 10_000);
        assert_eq!(fee.to_string(), "5.0005");
    }

    proptest! {
        #[test]
        fn display_round_trips(raw in any::<i64>()) {
            let p = Price::from_raw(raw);
            prop_assert_eq!(Price::parse(&p.to_string()).unwrap(), p);
        }

        #[test]
        fn money_sums_never_drift(cents in proptest::collection::vec(-1_000_000i64..1_000_000, 1..500)) {
            let total: Money = cents.iter().map(|c| Price::from_raw(c * 10_000_000) * Quantity::from_int(1)).sum();
            let expect: i64 = cents.iter().sum();
            prop_assert_eq!(total, Price::from_raw(expect * 10_000_000) * Quantity::from_int(1));
        }
    }
}
