//! Where chart ticks go and what they say: "nice" value steps (1, 2, 2.5, 5 × 10ⁿ) and
//! calendar-aligned time steps (seconds to centuries, months by the calendar, all UTC).

use qf_core::Timestamp;

/// A value axis: the domain, rounded out to whole steps, and the tick values inside it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValueAxis {
    /// Bottom of the domain (a multiple of `step`).
    pub lo: f64,
    /// Top of the domain (a multiple of `step`), above `lo`.
    pub hi: f64,
    /// Distance between ticks.
    pub step: f64,
    /// Tick values from `lo` to `hi`.
    pub ticks: Vec<f64>,
}

/// About `target` ticks covering `[min, max]`, at a round step.
pub(crate) fn value_axis(min: f64, max: f64, target: usize) -> ValueAxis {
    let (mut min, mut max) = if min.is_finite() && max.is_finite() && min <= max {
        (min, max)
    } else {
        (0.0, 1.0)
    };
    // A flat series still needs a visible band around it.
    if max - min <= max.abs().max(min.abs()) * 1e-9 {
        let pad = (max.abs() * 0.01).max(1e-9);
        min -= pad;
        max += pad;
    }
    let raw = (max - min) / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude);
    let first = (min / step + 1e-9).floor() as i64;
    let last = (max / step - 1e-9).ceil() as i64;
    // Ticks are k × step, never an accumulated sum, so labels do not drift.
    let ticks = (first..=last.max(first + 1))
        .map(|k| k as f64 * step)
        .collect::<Vec<_>>();
    // The range above always holds at least two values, so both indexings are in bounds.
    ValueAxis {
        lo: ticks[0],
        hi: ticks[ticks.len() - 1],
        step,
        ticks,
    }
}

/// A labelled instant on a time axis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TimeTick {
    /// Where the tick is.
    pub at: Timestamp,
    /// What it says.
    pub label: String,
}

const SEC: i64 = 1_000_000_000;
const DAY: i64 = 86_400 * SEC;
/// Fixed steps, in seconds, from one second to a week.
const FIXED_STEPS: &[i64] = &[
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
    172_800, 604_800,
];
/// Calendar steps, in months; beyond the list the step keeps growing ×10.
const MONTH_STEPS: &[i64] = &[1, 2, 3, 6, 12, 24, 60, 120, 240, 600, 1200];
/// 1970-01-01 was a Thursday; weekly ticks fall on Mondays, four days later.
const MONDAY_OFFSET: i64 = 4 * DAY;

/// At most `max_ticks` ticks between `t0` and `t1` (inclusive) at a calendar-friendly step.
pub(crate) fn time_ticks(t0: Timestamp, t1: Timestamp, max_ticks: usize) -> Vec<TimeTick> {
    let max_ticks = max_ticks.max(2) as i64;
    let (a, b) = (t0.nanos(), t1.nanos());
    if b <= a {
        return vec![TimeTick {
            at: t0,
            label: Parts::of(t0).date(),
        }];
    }
    let span = (b - a) as i128;
    for &secs in FIXED_STEPS {
        let step = secs * SEC;
        if span / i128::from(step) < i128::from(max_ticks) {
            let offset = if secs == 604_800 { MONDAY_OFFSET } else { 0 };
            let first = (a - offset).div_euclid(step) * step + offset;
            let first = if first < a { first + step } else { first };
            let mut ticks = Vec::new();
            let mut previous_date = String::new();
            let mut k = 0;
            while let Some(at) = first.checked_add(k * step).filter(|t| *t <= b) {
                let parts = Parts::of(Timestamp::from_nanos(at));
                let date = parts.date();
                let label = if step >= DAY {
                    date.clone()
                } else {
                    let time = if step < 60 * SEC {
                        parts.hms()
                    } else {
                        parts.hm()
                    };
                    // The date is said once, then again only when it changes.
                    if date == previous_date {
                        time
                    } else {
                        format!("{date} {time}")
                    }
                };
                previous_date = date;
                ticks.push(TimeTick {
                    at: Timestamp::from_nanos(at),
                    label,
                });
                k += 1;
            }
            return ticks;
        }
    }
    let (y0, m0) = t0.year_month();
    let (y1, m1) = t1.year_month();
    let month_index = |y: i64, m: u32| y * 12 + i64::from(m) - 1;
    let (i0, i1) = (month_index(y0, m0), month_index(y1, m1));
    let mut step = MONTH_STEPS
        .iter()
        .copied()
        .find(|s| (i1 - i0) / s < max_ticks)
        .unwrap_or(1200);
    while (i1 - i0) / step >= max_ticks {
        step *= 10;
    }
    let mut ticks = Vec::new();
    // The first month start at or after t0, aligned to the step.
    let mut i = i0.div_euclid(step) * step;
    while i <= i1 {
        if let Some(at) = month_start(i).filter(|t| *t >= t0 && *t <= t1) {
            let parts = Parts::of(at);
            let label = if step < 12 {
                format!("{} {}", parts.month_name(), parts.year)
            } else {
                parts.year.clone()
            };
            ticks.push(TimeTick { at, label });
        }
        i += step;
    }
    ticks
}

/// 00:00 UTC on the first day of month `index` (= year × 12 + month − 1), for years 0–9999.
fn month_start(index: i64) -> Option<Timestamp> {
    let (y, m) = (index.div_euclid(12), index.rem_euclid(12) + 1);
    if !(0..=9999).contains(&y) {
        return None;
    }
    Timestamp::parse_rfc3339(&format!("{y:04}-{m:02}-01")).ok()
}

/// The pieces of a timestamp's RFC 3339 text (`YYYY-MM-DDTHH:MM:SS[.f]Z`).
struct Parts {
    year: String,
    month: usize,
    date: String,
    time: String,
}

impl Parts {
    fn of(t: Timestamp) -> Self {
        let text = t.to_string();
        let (date, time) = text.split_once('T').unwrap_or((&text, "00:00:00Z"));
        // The date ends in -MM-DD; the year is everything before (it may have a sign).
        let n = date.len();
        let (year, month) = if n >= 6 {
            (&date[..n - 6], date[n - 5..n - 3].parse().unwrap_or(1))
        } else {
            (date, 1)
        };
        Self {
            year: year.to_string(),
            month,
            date: date.to_string(),
            time: time.to_string(),
        }
    }

    fn date(&self) -> String {
        self.date.clone()
    }

    fn hm(&self) -> String {
        self.time.get(..5).unwrap_or(&self.time).to_string()
    }

    fn hms(&self) -> String {
        self.time.get(..8).unwrap_or(&self.time).to_string()
    }

    fn month_name(&self) -> &'static str {
        crate::monthly::MONTH_NAMES
            .get(self.month.wrapping_sub(1))
            .copied()
            .unwrap_or("?")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    fn labels(a: &str, b: &str) -> Vec<String> {
        time_ticks(ts(a), ts(b), 8)
            .into_iter()
            .map(|t| t.label)
            .collect()
    }

    #[test]
    fn value_steps_are_round_and_cover_the_data() {
        let a = value_axis(98_734.0, 112_001.0, 5);
        assert_eq!(a.step, 5_000.0);
        assert_eq!(a.lo, 95_000.0);
        assert_eq!(a.hi, 115_000.0);
        assert_eq!(a.ticks.len(), 5);
        let d = value_axis(-0.2345, 0.0, 5);
        assert_eq!(d.step, 0.05);
        assert_eq!(d.hi, 0.0);
        assert!((d.lo + 0.25).abs() < 1e-12);
    }

    #[test]
    fn flat_and_broken_ranges_still_give_an_axis() {
        let a = value_axis(100_000.0, 100_000.0, 5);
        assert!(a.lo < 100_000.0 && a.hi > 100_000.0);
        let b = value_axis(f64::NAN, 3.0, 5);
        assert_eq!((b.lo, b.hi), (0.0, 1.0));
    }

    #[test]
    fn years_months_days_and_hours() {
        assert_eq!(
            labels("2001-03-04T00:00:00Z", "2020-06-01T00:00:00Z"),
            ["2005", "2010", "2015", "2020"]
        );
        assert_eq!(
            labels("2021-01-01T00:00:00Z", "2022-12-31T00:00:00Z"),
            [
                "Jan 2021", "Apr 2021", "Jul 2021", "Oct 2021", "Jan 2022", "Apr 2022", "Jul 2022",
                "Oct 2022"
            ]
        );
        assert_eq!(
            labels("2021-03-01T00:00:00Z", "2021-03-10T12:00:00Z"),
            // Two-day steps count from the epoch, like every fixed step.
            [
                "2021-03-02",
                "2021-03-04",
                "2021-03-06",
                "2021-03-08",
                "2021-03-10"
            ]
        );
        assert_eq!(
            labels("2021-03-01T22:10:00Z", "2021-03-02T09:00:00Z"),
            ["2021-03-02 00:00", "02:00", "04:00", "06:00", "08:00"]
        );
    }

    #[test]
    fn weekly_ticks_fall_on_mondays() {
        let t = time_ticks(ts("2024-01-03T00:00:00Z"), ts("2024-02-20T00:00:00Z"), 8);
        // 2024-01-08 was a Monday.
        assert_eq!(t[0].label, "2024-01-08");
        assert!(
            t.iter()
                .all(|x| (x.at.nanos() - t[0].at.nanos()) % (7 * DAY) == 0)
        );
    }

    #[test]
    fn a_single_instant_gets_one_tick() {
        let t = ts("2024-01-03T00:00:00Z");
        assert_eq!(time_ticks(t, t, 8).len(), 1);
    }
}
