//! Calendar-month returns from an equity curve, and the year × month table that shows them.

use std::fmt::Write;

use qf_core::Money;
use qf_engine::EquityPoint;

use crate::number_format::percent;

/// Month abbreviations, January first.
pub(crate) const MONTH_NAMES: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The returns of one calendar year (UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct YearReturns {
    /// Calendar year.
    pub year: i64,
    /// Each month's return as a fraction, January first; `None` where the curve has no point
    /// in that month (before the start, after the end, or a gap in the data).
    pub months: [Option<f64>; 12],
    /// The year's return: its last month-end equity against the month-end before its first
    /// month with data (or the initial cash).
    pub total: f64,
}

/// Monthly returns of `equity` (UTC calendar months).
///
/// A month's equity is its last point's. Each month's return is its equity against the
/// previous month that has data; the first month's is against `initial_cash`, so a fill
/// on the very first bar counts. Years come out in order; a year appears if any of its
/// months has a point. Non-finite ratios (a zero base) are kept, and print as "—".
pub fn monthly_returns(equity: &[EquityPoint], initial_cash: Money) -> Vec<YearReturns> {
    let mut years: Vec<YearReturns> = Vec::new();
    let mut base = initial_cash.as_f64();
    let mut year_base = base;
    let mut close_month = |years: &mut Vec<YearReturns>, (y, m): (i64, u32), end: f64| {
        if years.last().is_none_or(|r| r.year != y) {
            year_base = base;
            years.push(YearReturns {
                year: y,
                months: [None; 12],
                total: 0.0,
            });
        }
        if let Some(row) = years.last_mut() {
            row.months[m as usize - 1] = Some(end / base - 1.0);
            row.total = end / year_base - 1.0;
        }
        base = end;
    };
    // (year, month) of the month being read and its latest equity.
    let mut current: Option<((i64, u32), f64)> = None;
    // Converting a day to a calendar month costs more than comparing day numbers, and
    // intraday curves have many points per day.
    let mut last_day = i64::MIN;
    for p in equity {
        let day = p.ts.day_index();
        let month = match current {
            Some((ym, _)) if day == last_day => ym,
            _ => p.ts.year_month(),
        };
        last_day = day;
        if let Some((ym, end)) = current
            && ym != month
        {
            close_month(&mut years, ym, end);
        }
        current = Some((month, p.equity.as_f64()));
    }
    if let Some((ym, end)) = current {
        close_month(&mut years, ym, end);
    }
    years
}

/// Shade classes `p1`…`p5` / `n1`…`n5` by sign and by size relative to `scale`; `z` for zero.
fn shade(r: f64, scale: f64) -> String {
    if !r.is_finite() || r == 0.0 || scale <= 0.0 {
        return "z".to_string();
    }
    let level = ((r.abs() / scale * 5.0).ceil() as i64).clamp(1, 5);
    format!("{}{level}", if r > 0.0 { 'p' } else { 'n' })
}

/// Writes the year × month table (with a "Total" column for the year) into `out`.
pub(crate) fn write_table(out: &mut String, years: &[YearReturns]) {
    let finite_abs = |r: f64| if r.is_finite() { r.abs() } else { 0.0 };
    let month_scale = years
        .iter()
        .flat_map(|y| y.months.iter().flatten())
        .fold(0.0f64, |a, r| a.max(finite_abs(*r)));
    let year_scale = years.iter().fold(0.0f64, |a, y| a.max(finite_abs(y.total)));
    out.push_str("<div class=\"scroll\"><table class=\"monthly\">\n<thead><tr><th>Year</th>");
    for name in MONTH_NAMES {
        let _ = write!(out, "<th>{name}</th>");
    }
    out.push_str("<th class=\"total\">Total</th></tr></thead>\n<tbody>\n");
    for y in years {
        let _ = write!(out, "<tr><th>{}</th>", y.year);
        for m in &y.months {
            match m {
                Some(r) => {
                    let _ = write!(
                        out,
                        "<td class=\"{}\">{}</td>",
                        shade(*r, month_scale),
                        percent(*r, 2)
                    );
                }
                None => out.push_str("<td></td>"),
            }
        }
        let _ = writeln!(
            out,
            "<td class=\"total {}\">{}</td></tr>",
            shade(y.total, year_scale),
            percent(y.total, 2)
        );
    }
    out.push_str("</tbody></table></div>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use qf_core::Timestamp;

    fn point(ts: &str, equity: &str) -> EquityPoint {
        EquityPoint {
            ts: Timestamp::parse_rfc3339(ts).unwrap(),
            equity: Money::parse(equity).unwrap(),
            cash: Money::ZERO,
        }
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-12)
    }

    /// A hand-built curve: the first month against the initial cash, intra-month points
    /// ignored, a missing month left empty and bridged, a year boundary.
    #[test]
    fn month_end_against_previous_month_end() {
        let curve = [
            point("2021-01-04T00:00:00Z", "1005"),
            point("2021-01-29T00:00:00Z", "1100"), // Jan: 1100 / 1000 − 1 = +10%
            point("2021-02-01T00:00:00Z", "1200"),
            point("2021-02-26T23:59:59Z", "990"), // Feb: 990 / 1100 − 1 = −10%
            // no point in March
            point("2021-04-30T00:00:00Z", "1089"), // Apr: 1089 / 990 − 1 = +10%
            point("2021-12-31T00:00:00Z", "1089"), // Dec: 0%
            point("2022-01-01T00:00:00Z", "1306.8"), // Jan 2022: +20%
        ];
        let years = monthly_returns(&curve, Money::from_int(1000));
        assert_eq!(years.len(), 2);
        let y21 = &years[0];
        assert_eq!(y21.year, 2021);
        assert!(close(y21.months[0], 0.10));
        assert!(close(y21.months[1], -0.10));
        assert_eq!(y21.months[2], None);
        assert!(close(y21.months[3], 0.10));
        assert_eq!(&y21.months[4..11], &[None; 7]);
        assert!(close(y21.months[11], 0.0));
        assert!(close(Some(y21.total), 0.089));
        let y22 = &years[1];
        assert_eq!(y22.year, 2022);
        assert!(close(y22.months[0], 0.20));
        assert!(close(Some(y22.total), 0.20));
        assert_eq!(&y22.months[1..], &[None; 11]);
    }

    #[test]
    fn empty_curve_has_no_years() {
        assert!(monthly_returns(&[], Money::from_int(1)).is_empty());
    }

    #[test]
    fn table_cells_are_shaded_by_sign_and_size() {
        let years = monthly_returns(
            &[
                point("2021-01-31T00:00:00Z", "110"),
                point("2021-02-28T00:00:00Z", "99"),
                point("2021-03-31T00:00:00Z", "99.99"),
            ],
            Money::from_int(100),
        );
        let mut html = String::new();
        write_table(&mut html, &years);
        assert!(html.contains("<td class=\"p5\">10.00%</td>"), "{html}");
        assert!(html.contains("<td class=\"n5\">-10.00%</td>"), "{html}");
        assert!(html.contains("<td class=\"p1\">1.00%</td>"), "{html}");
        assert!(
            html.contains("<td class=\"total n5\">-0.01%</td>"),
            "{html}"
        );
        assert_eq!(html.matches("<td></td>").count(), 9);
    }
}
