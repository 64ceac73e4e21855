//! Wall-clock time as the store records it: `i64` nanoseconds since the Unix epoch, UTC.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The current time in nanoseconds since the Unix epoch, UTC.
///
/// A clock set before 1970 reads as 0 and one past the year 2262 saturates at `i64::MAX`;
/// neither happens on a working machine, and neither is worth a panic.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(duration_ns)
        .unwrap_or(0)
}

/// A duration in nanoseconds, saturating at `i64::MAX` (about 292 years).
pub fn duration_ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}
