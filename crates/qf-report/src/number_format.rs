//! How numbers are written for people: percentages, ratios, money, counts, axis labels.
//!
//! Every function returns [`DASH`] for a missing or non-finite value, so a `null` metric never
//! shows up as `NaN` or `inf`. Negative zero is printed as zero.

use qf_core::{MONEY_SCALE, Money};

/// Shown for a value that is undefined (`None`, NaN, infinite).
pub(crate) const DASH: &str = "—";

/// `x` with `decimals` places; `-0.00` is normalised to `0.00`.
pub(crate) fn fixed(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return DASH.to_string();
    }
    let s = format!("{x:.decimals$}");
    match s.strip_prefix('-') {
        Some(rest) if rest.bytes().all(|b| b == b'0' || b == b'.') => rest.to_string(),
        _ => s,
    }
}

/// A fraction as a percentage: `0.1234` → `12.34%`.
pub(crate) fn percent(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return DASH.to_string();
    }
    let mut s = fixed(x * 100.0, decimals);
    s.push('%');
    s
}

/// [`percent`] of an optional fraction.
pub(crate) fn opt_percent(x: Option<f64>, decimals: usize) -> String {
    x.map_or_else(|| DASH.to_string(), |v| percent(v, decimals))
}

/// [`fixed`] of an optional number.
pub(crate) fn opt_fixed(x: Option<f64>, decimals: usize) -> String {
    x.map_or_else(|| DASH.to_string(), |v| fixed(v, decimals))
}

/// A count with thousands separators: `1234567` → `1,234,567`.
pub(crate) fn grouped(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Money rounded half away from zero to cents, with thousands separators: `-1,234.57`.
///
/// Rounding is done on the exact integer, not through `f64`, so large balances print the
/// right cents. The exact value is [`Money`]'s own `Display`.
pub(crate) fn money(m: Money) -> String {
    const PER_CENT: u128 = (MONEY_SCALE / 100) as u128;
    let abs = m.raw().unsigned_abs();
    let cents = abs / PER_CENT + u128::from(abs % PER_CENT >= PER_CENT / 2);
    let sign = if m.is_negative() && cents > 0 {
        "-"
    } else {
        ""
    };
    format!("{sign}{}.{:02}", grouped(cents / 100), cents % 100)
}

/// An axis label for `v` on an axis whose ticks are `step` apart and whose largest absolute
/// value is `extent`: `102500` → `102.5k`. Uses as few decimals as the step needs.
pub(crate) fn axis_value(v: f64, step: f64, extent: f64) -> String {
    let (unit, suffix) = if extent >= 1e9 {
        (1e9, "B")
    } else if extent >= 1e6 {
        (1e6, "M")
    } else if extent >= 1e4 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    let scaled_step = step / unit;
    let decimals = (0..=6)
        .find(|&d| {
            let s = scaled_step * 10f64.powi(d);
            (s - s.round()).abs() < 1e-6 * s.abs().max(1.0)
        })
        .unwrap_or(6) as usize;
    let mut s = fixed(v / unit, decimals);
    s.push_str(suffix);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_and_missing_values() {
        assert_eq!(percent(0.123456, 2), "12.35%");
        assert_eq!(percent(-0.5, 1), "-50.0%");
        assert_eq!(percent(-0.000001, 2), "0.00%");
        assert_eq!(percent(f64::NAN, 2), DASH);
        assert_eq!(opt_percent(None, 2), DASH);
        assert_eq!(opt_fixed(Some(f64::INFINITY), 2), DASH);
        assert_eq!(opt_fixed(Some(1.005), 3), "1.005");
    }

    #[test]
    fn counts_are_grouped() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn money_rounds_exactly_to_cents() {
        let m = |s: &str| money(Money::parse(s).unwrap());
        assert_eq!(m("100000"), "100,000.00");
        assert_eq!(m("1234567.005"), "1,234,567.01");
        assert_eq!(m("-0.004"), "0.00");
        assert_eq!(m("-2.5"), "-2.50");
        assert_eq!(m("-1234.565"), "-1,234.57");
        assert_eq!(m("0.123456789"), "0.12");
    }

    #[test]
    fn axis_labels_use_units_and_just_enough_decimals() {
        assert_eq!(axis_value(102_500.0, 2_500.0, 110_000.0), "102.5k");
        assert_eq!(axis_value(100_000.0, 10_000.0, 110_000.0), "100k");
        assert_eq!(axis_value(2_000_000.0, 250_000.0, 2_000_000.0), "2.00M");
        assert_eq!(axis_value(99.5, 0.5, 101.0), "99.5");
        assert_eq!(axis_value(-0.0, 1.0, 5.0), "0");
    }
}
