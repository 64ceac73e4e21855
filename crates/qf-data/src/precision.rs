//! How many decimal places a symbol's prices are quoted in, when the file stores floats.
//!
//! Files we write record it in the Parquet key-value metadata under [`METADATA_KEY`], a JSON
//! object from symbol to precision. For other files it is inferred: the smallest precision
//! at which every sampled price is (to within 10⁻⁶ of a tick) a whole number of ticks.

use std::collections::HashMap;

use qf_core::MAX_PRECISION;

/// The Parquet key-value metadata key holding each symbol's price precision.
pub(crate) const METADATA_KEY: &str = "qf.price_precision";

/// Rows per symbol looked at when inferring a precision.
pub(crate) const SAMPLE_ROWS: usize = 10_000;

/// Allowed distance from a whole number of ticks, in ticks.
const TOLERANCE: f64 = 1e-6;

/// The metadata value for these symbols and precisions.
pub(crate) fn encode(entries: &[(&str, u8)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = entries
        .iter()
        .map(|(s, p)| (s.to_string(), serde_json::Value::from(*p)))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// Reads the metadata value; entries that are not precisions from 0 to 9 are ignored, and
/// a value that is not a JSON object yields nothing (the precision is then inferred).
pub(crate) fn decode(text: &str) -> HashMap<String, u8> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(text) else {
        return HashMap::new();
    };
    map.into_iter()
        .filter_map(|(symbol, v)| {
            let p = u8::try_from(v.as_u64()?).ok()?;
            (p <= MAX_PRECISION).then_some((symbol, p))
        })
        .collect()
}

/// The smallest precision at which `value` is a whole number of ticks, searching upwards
/// from `at_least`; [`MAX_PRECISION`] when none is. `relative` widens the tolerance for
/// values stored with less precision than `f64` (a float32 column).
#[inline]
pub(crate) fn float_precision(value: f64, at_least: u8, relative: f64) -> u8 {
    if !value.is_finite() {
        return at_least;
    }
    let mut p = at_least;
    while p < MAX_PRECISION {
        let scaled = value * 10f64.powi(i32::from(p));
        if (scaled - scaled.round()).abs() <= TOLERANCE.max(scaled.abs() * relative) {
            break;
        }
        p += 1;
    }
    p
}

/// The decimal places a `Decimal128` mantissa at `scale` really uses (trailing zeros
/// dropped).
pub(crate) fn decimal_precision(mantissa: i128, scale: i8) -> u8 {
    let mut places = i32::from(scale.max(0));
    let mut m = mantissa;
    while places > 0 && m % 10 == 0 {
        m /= 10;
        places -= 1;
    }
    places.clamp(0, i32::from(u8::MAX)) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips() {
        let text = encode(&[("AAPL", 2), ("we\"ird", 4)]);
        let map = decode(&text);
        assert_eq!(map["AAPL"], 2);
        assert_eq!(map["we\"ird"], 4);
        assert!(decode("not json").is_empty());
        assert!(decode(r#"{"X": 12, "Y": -1, "Z": "2"}"#).is_empty());
    }

    #[test]
    fn float_precisions() {
        assert_eq!(float_precision(100.0, 0, 0.0), 0);
        assert_eq!(float_precision(100.25, 0, 0.0), 2);
        assert_eq!(float_precision(0.1 + 0.2, 0, 0.0), 1);
        assert_eq!(float_precision(1.0 / 3.0, 0, 0.0), 9);
        assert_eq!(float_precision(100.5, 3, 0.0), 3);
        assert_eq!(float_precision(f64::NAN, 1, 0.0), 1);
        let single = f64::from(100.1f32);
        assert_eq!(float_precision(single, 0, 0.0), 9);
        assert_eq!(float_precision(single, 0, f64::from(f32::EPSILON)), 1);
    }

    #[test]
    fn decimal_precisions() {
        assert_eq!(decimal_precision(12_500, 4), 2);
        assert_eq!(decimal_precision(12_345, 2), 2);
        assert_eq!(decimal_precision(0, 4), 0);
        assert_eq!(decimal_precision(5, -2), 0);
    }
}
