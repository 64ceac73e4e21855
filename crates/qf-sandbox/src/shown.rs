//! Tenant numbers in messages: short, and as the tenant would have written them.
//!
//! Rust's `{}` for an `f64` never uses an exponent, so `1e300` prints as 301 digits and
//! `1e-300` as 300 zeros and a one; an error must not make the tenant count digits. Written
//! here rather than taken from a crate because it is two rules over the standard library's
//! own shortest round-trip formatting (`{}` and `{:e}`), which is what makes it exact.

/// Smallest magnitude shown in plain decimal; below it, scientific.
const PLAIN_FROM: f64 = 1e-6;
/// Magnitude from which a number is shown in scientific notation.
const PLAIN_UNTIL: f64 = 1e15;
/// Digits of an integer shown in full; a longer one is shown by its ends and its length.
const INT_DIGITS: usize = 40;

/// A float for a message, shortest round trip: `0.25`, `150`, `1e300`, `1e-300`, `inf`.
pub fn float(x: f64) -> String {
    if x != 0.0 && x.is_finite() && !(PLAIN_FROM..PLAIN_UNTIL).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// An integer's decimal digits (with its sign) for a message: in full up to 40 digits, else
/// its first and last digits and how many there are (`10**1000` is 1001 digits of text).
pub fn int(digits: &str) -> String {
    let (sign, body) = match digits.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", digits),
    };
    // Only ASCII digits reach here (an int's decimal form), so byte slicing is safe; anything
    // else is shown as it is.
    if body.len() <= INT_DIGITS || !body.bytes().all(|b| b.is_ascii_digit()) {
        return digits.to_string();
    }
    format!(
        "{sign}{}…{} ({} digits)",
        &body[..10],
        &body[body.len() - 3..],
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_floats_are_shown_as_written() {
        assert_eq!(float(1e300), "1e300");
        assert_eq!(float(1e-300), "1e-300");
        assert_eq!(float(-2.5e-7), "-2.5e-7");
        assert_eq!(float(1.5e16), "1.5e16");
        assert_eq!(float(f64::MAX), "1.7976931348623157e308");
        assert_eq!(float(5e-324), "5e-324");
    }

    #[test]
    fn ordinary_floats_stay_plain() {
        assert_eq!(float(0.0), "0");
        assert_eq!(float(150.0), "150");
        assert_eq!(float(-0.25), "-0.25");
        assert_eq!(float(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(float(123_456_789.5), "123456789.5");
        assert_eq!(float(f64::INFINITY), "inf");
        assert_eq!(float(f64::NAN), "NaN");
    }

    #[test]
    fn long_ints_are_shortened_with_their_length() {
        let thirty = format!("1{}", "0".repeat(30));
        assert_eq!(int(&thirty), thirty);
        let thousand = format!("-1{}", "0".repeat(1000));
        assert_eq!(int(&thousand), "-1000000000…000 (1001 digits)");
    }
}
