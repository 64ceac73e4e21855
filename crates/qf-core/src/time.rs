//! Time: `i64` nanoseconds since the Unix epoch, UTC, printed and parsed as RFC 3339.
//!
//! The calendar conversions are the proleptic-Gregorian day-count formulas, written here
//! because parsing millions of CSV timestamps must cost tens of nanoseconds each.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::CoreError;

const NANOS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// An instant: nanoseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

/// How a column of timestamps was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampUnit {
    /// RFC 3339 / ISO 8601 text (a date alone, or date and time, optional offset).
    Rfc3339,
    /// Integer seconds since the epoch.
    EpochSeconds,
    /// Integer milliseconds since the epoch.
    EpochMillis,
    /// Integer microseconds since the epoch.
    EpochMicros,
    /// Integer nanoseconds since the epoch.
    EpochNanos,
}

impl TimestampUnit {
    /// Guesses the unit of an epoch number from its magnitude: below 10¹¹ seconds (until
    /// year 5138), below 10¹⁴ milliseconds, below 10¹⁷ microseconds, else nanoseconds.
    pub fn for_epoch(value: i64) -> Self {
        let v = value.unsigned_abs();
        if v < 100_000_000_000 {
            Self::EpochSeconds
        } else if v < 100_000_000_000_000 {
            Self::EpochMillis
        } else if v < 100_000_000_000_000_000 {
            Self::EpochMicros
        } else {
            Self::EpochNanos
        }
    }

    /// Nanoseconds per unit for epoch units; `None` for RFC 3339 text.
    pub fn nanos_per_unit(self) -> Option<i64> {
        match self {
            Self::Rfc3339 => None,
            Self::EpochSeconds => Some(NANOS_PER_SEC),
            Self::EpochMillis => Some(1_000_000),
            Self::EpochMicros => Some(1_000),
            Self::EpochNanos => Some(1),
        }
    }

    /// A short name for reports: `rfc3339`, `epoch_s`, `epoch_ms`, `epoch_us`, `epoch_ns`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rfc3339 => "rfc3339",
            Self::EpochSeconds => "epoch_s",
            Self::EpochMillis => "epoch_ms",
            Self::EpochMicros => "epoch_us",
            Self::EpochNanos => "epoch_ns",
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Self = Self(0);

    /// From nanoseconds since the epoch.
    pub const fn from_nanos(nanos: i64) -> Self {
        Self(nanos)
    }

    /// Nanoseconds since the epoch.
    pub const fn nanos(self) -> i64 {
        self.0
    }

    /// From whole seconds since the epoch.
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs * NANOS_PER_SEC)
    }

    /// From an epoch number in `unit`; `None` for RFC 3339 or on overflow.
    pub fn from_epoch(value: i64, unit: TimestampUnit) -> Option<Self> {
        unit.nanos_per_unit()
            .and_then(|n| value.checked_mul(n))
            .map(Self)
    }

    /// Days since the epoch (UTC calendar day), used for DAY orders and monthly returns.
    pub fn day_index(self) -> i64 {
        self.0.div_euclid(NANOS_PER_SEC * SECS_PER_DAY)
    }

    /// The UTC calendar `(year, month)`.
    pub fn year_month(self) -> (i64, u32) {
        let (y, m, _) = civil_from_days(self.day_index());
        (y, m)
    }

    /// Parses RFC 3339 and the common variants found in market-data files: `2024-03-01`,
    /// `2024-03-01T14:30:00Z`, `2024-03-01 14:30:00.250`, `2024-03-01T14:30:00+01:00`.
    /// A time without an offset is taken as UTC.
    pub fn parse_rfc3339(text: &str) -> Result<Self, CoreError> {
        let err = |why: &'static str| CoreError::InvalidTimestamp {
            text: text.to_string(),
            why,
        };
        let b = text.trim().as_bytes();
        let num = |s: &[u8]| -> Option<u32> {
            let mut v = 0u32;
            for &c in s {
                if !c.is_ascii_digit() {
                    return None;
                }
                v = v * 10 + u32::from(c - b'0');
            }
            Some(v)
        };
        if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(err("expected YYYY-MM-DD at the start"));
        }
        let year = i64::from(num(&b[0..4]).ok_or_else(|| err("bad year"))?);
        let month = num(&b[5..7]).ok_or_else(|| err("bad month"))?;
        let day = num(&b[8..10]).ok_or_else(|| err("bad day"))?;
        if !(1..=12).contains(&month) {
            return Err(err("month must be 01 to 12"));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(err("day does not exist in that month"));
        }
        let mut secs = days_from_civil(year, month, day) * SECS_PER_DAY;
        let mut nanos = 0i64;
        let mut rest = &b[10..];
        if !rest.is_empty() {
            if !(rest[0] == b'T' || rest[0] == b't' || rest[0] == b' ') || rest.len() < 9 {
                return Err(err("expected THH:MM:SS after the date"));
            }
            let t = &rest[1..];
            if t[2] != b':' || t[5] != b':' {
                return Err(err("expected HH:MM:SS"));
            }
            let h = num(&t[0..2]).ok_or_else(|| err("bad hour"))?;
            let m = num(&t[3..5]).ok_or_else(|| err("bad minute"))?;
            let s = num(&t[6..8]).ok_or_else(|| err("bad second"))?;
            if h > 23 || m > 59 || s > 60 {
                return Err(err("time out of range"));
            }
            secs += i64::from(h * 3600 + m * 60 + s);
            rest = &t[8..];
            if let Some((&b'.', frac)) = rest.split_first() {
                let len = frac.iter().take_while(|c| c.is_ascii_digit()).count();
                if len == 0 || len > 9 {
                    return Err(err("fractional seconds must have 1 to 9 digits"));
                }
                let v = i64::from(num(&frac[..len]).ok_or_else(|| err("bad fraction"))?);
                nanos = v * 10i64.pow(9 - len as u32);
                rest = &frac[len..];
            }
            match rest {
                [] | [b'Z'] | [b'z'] => {}
                [sign @ (b'+' | b'-'), oh1, oh2, tail @ ..] => {
                    let oh = num(&[*oh1, *oh2]).ok_or_else(|| err("bad offset"))?;
                    let om = match tail {
                        [b':', a, b] | [a, b] => num(&[*a, *b]).ok_or_else(|| err("bad offset"))?,
                        [] => 0,
                        _ => return Err(err("bad offset")),
                    };
                    if oh > 23 || om > 59 {
                        return Err(err("offset out of range"));
                    }
                    let offset = i64::from(oh * 3600 + om * 60);
                    secs -= if *sign == b'+' { offset } else { -offset };
                }
                _ => return Err(err("unexpected text after the time")),
            }
        }
        secs.checked_mul(NANOS_PER_SEC)
            .and_then(|n| n.checked_add(nanos))
            .map(Self)
            .ok_or_else(|| err("out of range"))
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with `Z`; fractional seconds only when present, in groups of three.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(NANOS_PER_SEC);
        let nanos = self.0.rem_euclid(NANOS_PER_SEC);
        let days = secs.div_euclid(SECS_PER_DAY);
        let sod = secs.rem_euclid(SECS_PER_DAY);
        let (y, mo, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
            sod / 3600,
            sod % 3600 / 60,
            sod % 60
        )?;
        if nanos != 0 {
            if nanos % 1_000_000 == 0 {
                write!(f, ".{:03}", nanos / 1_000_000)?;
            } else if nanos % 1_000 == 0 {
                write!(f, ".{:06}", nanos / 1_000)?;
            } else {
                write!(f, ".{nanos:09}")?;
            }
        }
        f.write_str("Z")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_common_forms() {
        let t = |s| Timestamp::parse_rfc3339(s).unwrap().nanos();
        assert_eq!(t("1970-01-01"), 0);
        assert_eq!(t("2024-03-01T14:30:00Z"), 1_709_303_400 * NANOS_PER_SEC);
        assert_eq!(t("2024-03-01 14:30:00"), 1_709_303_400 * NANOS_PER_SEC);
        assert_eq!(
            t("2024-03-01T15:30:00+01:00"),
            1_709_303_400 * NANOS_PER_SEC
        );
        assert_eq!(
            t("2024-03-01T14:30:00.25Z"),
            1_709_303_400 * NANOS_PER_SEC + 250_000_000
        );
        assert_eq!(t("1969-12-31T23:59:59Z"), -NANOS_PER_SEC);
    }

    #[test]
    fn rejects_impossible_dates() {
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-01-01T25:00:00Z",
            "20240101",
            "2024-01-01X",
            "2024-01-01T10:00:00+5",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad}");
        }
        assert!(Timestamp::parse_rfc3339("2024-02-29").is_ok());
    }

    #[test]
    fn epoch_units_by_magnitude() {
        assert_eq!(
            TimestampUnit::for_epoch(1_709_303_400),
            TimestampUnit::EpochSeconds
        );
        assert_eq!(
            TimestampUnit::for_epoch(1_709_303_400_000),
            TimestampUnit::EpochMillis
        );
        assert_eq!(
            TimestampUnit::for_epoch(1_709_303_400_000_000),
            TimestampUnit::EpochMicros
        );
        assert_eq!(
            TimestampUnit::for_epoch(1_709_303_400_000_000_000),
            TimestampUnit::EpochNanos
        );
    }

    proptest! {
        #[test]
        fn display_round_trips(n in -4_000_000_000_000_000_000i64..4_000_000_000_000_000_000) {
            let t = Timestamp::from_nanos(n);
            prop_assert_eq!(Timestamp::parse_rfc3339(&t.to_string()).unwrap(), t);
        }
    }
}
