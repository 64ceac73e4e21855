//! Reading a timestamp column whose format is decided by its first value.
//!
//! A file writes its times either as RFC 3339 text or as integer epoch numbers, and an epoch
//! column's unit (s, ms, µs, ns) is guessed from the first value's magnitude. Every later
//! value must be of the same kind and magnitude: a column that mixes seconds and
//! milliseconds would otherwise load with some bars thirty years off.

use qf_core::{Timestamp, TimestampUnit};

use crate::error::{Location, describe_cell};

/// What a bad timestamp cell was expected to be and what it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) expected: String,
    pub(crate) found: String,
}

/// Parses the cells of one timestamp column, holding the format set by the first cell.
#[derive(Debug, Clone, Default)]
pub(crate) struct TimestampColumn {
    unit: Option<TimestampUnit>,
    first: Option<Location>,
}

const EXAMPLE: &str = "2024-03-01T14:30:00Z";

impl TimestampColumn {
    /// A column whose format is not known yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The format set by the first value, once there was one.
    pub(crate) fn unit(&self) -> Option<TimestampUnit> {
        self.unit
    }

    /// Parses one cell written as text (a CSV field or a Parquet string).
    pub(crate) fn parse(&mut self, cell: &[u8], at: Location) -> Result<Timestamp, Problem> {
        let cell = cell.trim_ascii();
        if cell.is_empty() {
            return Err(Problem {
                expected: "a timestamp".into(),
                found: "an empty cell".into(),
            });
        }
        match parse_integer(cell) {
            Some(Ok(value)) => self.epoch(value, at, || describe_cell(cell)),
            Some(Err(())) => Err(Problem {
                expected: "an epoch number that fits in 64 bits".into(),
                found: describe_cell(cell),
            }),
            None => self.text(cell, at),
        }
    }

    /// Takes one integer epoch value (a CSV integer or a Parquet integer column).
    pub(crate) fn epoch(
        &mut self,
        value: i64,
        at: Location,
        shown: impl Fn() -> String,
    ) -> Result<Timestamp, Problem> {
        let seen = TimestampUnit::for_epoch(value);
        let unit = match self.unit {
            None => {
                self.unit = Some(seen);
                self.first = Some(at);
                seen
            }
            Some(TimestampUnit::Rfc3339) => {
                return Err(Problem {
                    expected: format!(
                        "an RFC 3339 timestamp like the first row's ({})",
                        self.first_at()
                    ),
                    found: format!("{}, an epoch number", shown()),
                });
            }
            Some(unit) if unit != seen => {
                return Err(Problem {
                    expected: format!(
                        "an epoch in {} like the first row's ({})",
                        unit_words(unit),
                        self.first_at()
                    ),
                    found: format!("{}, which looks like {}", shown(), unit_words(seen)),
                });
            }
            Some(unit) => unit,
        };
        Timestamp::from_epoch(value, unit).ok_or_else(|| Problem {
            expected: "a time between the years 1677 and 2262".into(),
            found: shown(),
        })
    }

    fn text(&mut self, cell: &[u8], at: Location) -> Result<Timestamp, Problem> {
        let expected = match self.unit {
            None => format!("an RFC 3339 timestamp such as {EXAMPLE}, or an integer epoch"),
            Some(TimestampUnit::Rfc3339) => format!("an RFC 3339 timestamp such as {EXAMPLE}"),
            Some(unit) => {
                return Err(Problem {
                    expected: format!(
                        "an integer epoch in {} like the first row's ({})",
                        unit_words(unit),
                        self.first_at()
                    ),
                    found: describe_cell(cell),
                });
            }
        };
        let Ok(text) = std::str::from_utf8(cell) else {
            return Err(Problem {
                expected,
                found: describe_cell(cell),
            });
        };
        match Timestamp::parse_rfc3339(text) {
            Ok(ts) => {
                if self.unit.is_none() {
                    self.unit = Some(TimestampUnit::Rfc3339);
                    self.first = Some(at);
                }
                Ok(ts)
            }
            Err(qf_core::CoreError::InvalidTimestamp { why, .. }) => Err(Problem {
                expected,
                found: format!("{} ({why})", describe_cell(cell)),
            }),
            Err(_) => Err(Problem {
                expected,
                found: describe_cell(cell),
            }),
        }
    }

    fn first_at(&self) -> String {
        self.first
            .map(|l| l.to_string())
            .unwrap_or_else(|| "the first row".into())
    }
}

/// `Some(Ok(n))` for an optionally signed run of ASCII digits, `Some(Err)` when such a run
/// overflows `i64`, `None` when the cell is not an integer at all.
pub(crate) fn parse_integer(cell: &[u8]) -> Option<Result<i64, ()>> {
    let (negative, digits) = match cell.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, cell),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: i64 = 0;
    for &d in digits {
        let digit = i64::from(d - b'0');
        let next = value.checked_mul(10).and_then(|v| {
            if negative {
                v.checked_sub(digit)
            } else {
                v.checked_add(digit)
            }
        });
        match next {
            Some(v) => value = v,
            None => return Some(Err(())),
        }
    }
    Some(Ok(value))
}

/// The unit in words for messages.
pub(crate) fn unit_words(unit: TimestampUnit) -> &'static str {
    match unit {
        TimestampUnit::Rfc3339 => "RFC 3339 text",
        TimestampUnit::EpochSeconds => "seconds",
        TimestampUnit::EpochMillis => "milliseconds",
        TimestampUnit::EpochMicros => "microseconds",
        TimestampUnit::EpochNanos => "nanoseconds",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L2: Location = Location::Line(2);
    const L3: Location = Location::Line(3);

    #[test]
    fn text_then_text() {
        let mut c = TimestampColumn::new();
        let a = c.parse(b"2024-03-01T14:30:00Z", L2).unwrap();
        let b = c.parse(b" 2024-03-01 14:31:00 ", L3).unwrap();
        assert_eq!(b.nanos() - a.nanos(), 60_000_000_000);
        assert_eq!(c.unit(), Some(TimestampUnit::Rfc3339));
    }

    #[test]
    fn epoch_units_detected_and_held() {
        let mut c = TimestampColumn::new();
        let t = c.parse(b"1709303400000", L2).unwrap();
        assert_eq!(t, Timestamp::from_secs(1_709_303_400));
        assert_eq!(c.unit(), Some(TimestampUnit::EpochMillis));
        let p = c.parse(b"1709303460", L3).unwrap_err();
        assert!(
            p.expected
                .contains("milliseconds like the first row's (line 2)"),
            "{p:?}"
        );
        assert!(p.found.contains("looks like seconds"), "{p:?}");
    }

    #[test]
    fn kinds_may_not_mix() {
        let mut c = TimestampColumn::new();
        c.parse(b"1709303400", L2).unwrap();
        let p = c.parse(b"2024-03-01", L3).unwrap_err();
        assert!(p.expected.contains("integer epoch in seconds"), "{p:?}");

        let mut c = TimestampColumn::new();
        c.parse(b"2024-03-01", L2).unwrap();
        let p = c.parse(b"1709303400", L3).unwrap_err();
        assert!(p.expected.contains("RFC 3339"), "{p:?}");
        assert!(p.found.contains("epoch number"), "{p:?}");
    }

    #[test]
    fn bad_cells() {
        let mut c = TimestampColumn::new();
        let p = c.parse(b"2024-13-01", L2).unwrap_err();
        assert!(p.found.contains("month must be 01 to 12"), "{p:?}");
        assert_eq!(c.unit(), None);
        assert_eq!(c.parse(b"", L2).unwrap_err().found, "an empty cell");
        assert!(c.parse(b"99999999999999999999", L2).is_err());
        assert!(
            c.parse(b"\xff\xfe", L2)
                .unwrap_err()
                .found
                .contains("UTF-8")
        );
        let p = c.parse(b"9000000000000000000", L2).unwrap();
        assert_eq!(p.nanos(), 9_000_000_000_000_000_000);
    }

    #[test]
    fn integers() {
        assert_eq!(parse_integer(b"-12"), Some(Ok(-12)));
        assert_eq!(parse_integer(b"+7"), Some(Ok(7)));
        assert_eq!(parse_integer(b"1.5"), None);
        assert_eq!(parse_integer(b"-"), None);
        assert_eq!(parse_integer(b"9223372036854775808"), Some(Err(())));
        assert_eq!(parse_integer(b"-9223372036854775808"), Some(Ok(i64::MIN)));
    }
}
