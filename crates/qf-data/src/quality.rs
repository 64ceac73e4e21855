//! The quality report: a lenient look at a file for a person deciding whether to use it.
//!
//! Unlike [`crate::load_bars`], [`inspect`] does not stop at a bad row: it counts each kind
//! of problem, keeps a few examples of each (line or row, and time), and reports what the
//! data looks like — symbols, time ranges, bar interval, gaps and suspicious returns. Only a
//! file that cannot be read at all (missing, unknown format, no header, missing columns,
//! not Parquet) is an error.

use std::fmt::{self, Write as _};
use std::path::Path;

use qf_core::{Bar, Price, Timestamp, TimestampUnit};
use serde::Serialize;

use crate::columns::ColumnMap;
use crate::csv_reader::{CsvSettings, read_csv};
use crate::error::{Location, file_name};
use crate::load::stem;
use crate::parquet_reader::{ParquetSettings, read_parquet};
use crate::row_sink::{Fault, RowSink};
use crate::{DataError, FileFormat};

/// Examples kept per kind of problem.
const EXAMPLES: usize = 5;
/// A spacing above this multiple of the bar interval is a gap.
const GAP_FACTOR: f64 = 1.5;
/// A return beyond this many robust sigmas is an outlier.
const OUTLIER_SIGMAS: f64 = 10.0;
/// Scales a median absolute deviation to a standard deviation for normal data.
const MAD_TO_SIGMA: f64 = 1.4826;

const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// What [`inspect`] found in a file. `Display` prints a readable report; `Serialize` gives
/// the same as JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityReport {
    /// The file as named.
    pub file: String,
    /// Its format.
    pub format: FileFormat,
    /// How its times are written; `None` when no row had a readable time.
    pub timestamp_unit: Option<TimestampUnit>,
    /// Data rows in the file, including those that failed to parse.
    pub rows: usize,
    /// Rows that could not be parsed (and are left out of everything else).
    pub failed_rows: FailedRows,
    /// Per symbol, in order of first appearance.
    pub symbols: Vec<SymbolReport>,
}

/// Rows that could not be parsed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FailedRows {
    /// How many.
    pub count: usize,
    /// The first few error messages.
    pub first_errors: Vec<String>,
}

/// What one symbol's rows look like.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SymbolReport {
    /// The symbol.
    pub symbol: String,
    /// Rows that parsed.
    pub rows: usize,
    /// Earliest time.
    pub first: Option<Timestamp>,
    /// Latest time.
    pub last: Option<Timestamp>,
    /// The median spacing of consecutive distinct times, in nanoseconds.
    pub interval_ns: Option<i64>,
    /// The same, for people: `1m`, `5m`, `1h`, `1d`.
    pub interval: Option<String>,
    /// Spacings longer than 1.5 bar intervals.
    pub gaps: Gaps,
    /// Rows whose time repeats an earlier row's.
    pub duplicate_timestamps: Problem,
    /// Rows with a time earlier than an earlier row's.
    pub out_of_order: Problem,
    /// Rows whose high is below the open, close or low, or whose low is above the open or
    /// close.
    pub ohlc_inconsistent: Problem,
    /// Rows with a price at or below zero.
    pub non_positive_prices: Problem,
    /// Rows with a volume below zero.
    pub negative_volume: Problem,
    /// Rows with a volume of exactly zero.
    pub zero_volume: Problem,
    /// Close-to-close log returns beyond ten robust sigmas.
    pub outlier_returns: Outliers,
}

/// A kind of problem: how often, and where.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Problem {
    /// Rows with the problem.
    pub count: usize,
    /// The first few.
    pub examples: Vec<Example>,
}

/// One row with a problem.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Example {
    /// Line (CSV) or row (Parquet).
    pub location: Location,
    /// The row's time.
    pub timestamp: Timestamp,
    /// What is wrong with it.
    pub note: String,
}

/// Gaps in a symbol's times.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Gaps {
    /// Spacings longer than 1.5 bar intervals.
    pub count: usize,
    /// For daily data, how many of them are exactly a weekend (Friday to Monday); `None`
    /// for other intervals.
    pub weekends: Option<usize>,
    /// The longest few, longest first.
    pub largest: Vec<Gap>,
}

/// One gap.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gap {
    /// The last time before the gap.
    pub from: Timestamp,
    /// The first time after it.
    pub to: Timestamp,
    /// `to - from` in nanoseconds.
    pub length_ns: i64,
    /// The same, for people.
    pub length: String,
}

/// Returns far outside the symbol's usual range.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Outliers {
    /// The robust sigma of close-to-close log returns: 1.4826 × median absolute deviation.
    pub robust_sigma: f64,
    /// Returns with an absolute size above ten robust sigmas.
    pub count: usize,
    /// The largest few, largest first.
    pub largest: Vec<OutlierReturn>,
}

/// One outlier return.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutlierReturn {
    /// Where the bar that ends the return is.
    pub location: Location,
    /// Its time.
    pub timestamp: Timestamp,
    /// The previous close.
    pub from_close: Price,
    /// This close.
    pub to_close: Price,
    /// `ln(to_close / from_close)`.
    pub log_return: f64,
    /// The same in robust sigmas.
    pub sigmas: f64,
}

impl QualityReport {
    /// Rows with any problem, plus gaps and outliers: zero means nothing to look at.
    pub fn issue_count(&self) -> usize {
        self.failed_rows.count
            + self
                .symbols
                .iter()
                .map(|s| {
                    s.duplicate_timestamps.count
                        + s.out_of_order.count
                        + s.ohlc_inconsistent.count
                        + s.non_positive_prices.count
                        + s.negative_volume.count
                        + s.zero_volume.count
                        + s.outlier_returns.count
                        + s.gaps.count
                })
                .sum::<usize>()
    }
}

/// Looks through a CSV or Parquet file of bars and reports on its quality.
///
/// Fails only when the file cannot be read at all: missing, an unknown extension, empty (no
/// header), missing a required column, or not valid Parquet.
pub fn inspect(path: &Path) -> Result<QualityReport, DataError> {
    inspect_as(path, &file_name(path))
}

/// [`inspect`] for a file kept under another name than its own (an upload saved to a
/// temporary file): the format, the default symbol and the report go by `name`.
pub fn inspect_as(path: &Path, name: &str) -> Result<QualityReport, DataError> {
    let format = FileFormat::from_path(Path::new(name))?;
    let default_symbol = stem(Path::new(name));
    let mut survey = Survey::default();
    let summary = match format {
        FileFormat::Csv => read_csv(
            path,
            name,
            CsvSettings {
                default_symbol: &default_symbol,
                price_precision: None,
            },
            &mut survey,
        )?,
        FileFormat::Parquet => read_parquet(
            path,
            name,
            ParquetSettings {
                default_symbol: &default_symbol,
                price_precision: None,
            },
            &mut survey,
        )?,
    };
    Ok(QualityReport {
        file: name.to_string(),
        format,
        timestamp_unit: summary.timestamp_unit,
        rows: summary.rows,
        failed_rows: survey.failed,
        symbols: survey.symbols.into_iter().map(SymbolRows::report).collect(),
    })
}

/// The lenient sink: keeps what the report needs of every row, counts row-level problems.
#[derive(Debug, Default)]
struct Survey {
    symbols: Vec<SymbolRows>,
    failed: FailedRows,
}

#[derive(Debug, Default)]
struct SymbolRows {
    name: String,
    times: Vec<Timestamp>,
    closes: Vec<Price>,
    locations: Vec<Location>,
    ohlc: Problem,
    non_positive: Problem,
    negative_volume: Problem,
    zero_volume: Problem,
}

impl Problem {
    fn add(&mut self, location: Location, timestamp: Timestamp, note: impl FnOnce() -> String) {
        self.count += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push(Example {
                location,
                timestamp,
                note: note(),
            });
        }
    }
}

impl RowSink for Survey {
    fn start(&mut self, _file: &str, _columns: &ColumnMap, _rows_hint: usize) {}

    fn add_symbol(&mut self, name: &str) {
        self.symbols.push(SymbolRows {
            name: name.to_string(),
            ..SymbolRows::default()
        });
    }

    fn row(&mut self, symbol: u32, bar: Bar, at: Location) -> Result<(), DataError> {
        let Some(s) = self.symbols.get_mut(symbol as usize) else {
            return Ok(());
        };
        s.times.push(bar.ts);
        s.closes.push(bar.close);
        s.locations.push(at);
        let prices = [
            ("open", bar.open),
            ("high", bar.high),
            ("low", bar.low),
            ("close", bar.close),
        ];
        if let Some((name, p)) = prices.iter().find(|(_, p)| !p.is_positive()) {
            s.non_positive.add(at, bar.ts, || format!("{name} is {p}"));
        }
        if let Some(fault) = Fault::of_ohlc(&bar) {
            s.ohlc.add(at, bar.ts, || {
                format!(
                    "open {} high {} low {} close {}: expected {}",
                    bar.open,
                    bar.high,
                    bar.low,
                    bar.close,
                    fault.expected(&bar)
                )
            });
        }
        if bar.volume < 0.0 {
            s.negative_volume
                .add(at, bar.ts, || format!("volume is {}", bar.volume));
        } else if bar.volume == 0.0 {
            s.zero_volume.add(at, bar.ts, || "volume is 0".to_string());
        }
        Ok(())
    }

    fn reject(&mut self, error: DataError) -> Result<(), DataError> {
        self.failed.count += 1;
        if self.failed.first_errors.len() < EXAMPLES {
            self.failed.first_errors.push(error.to_string());
        }
        Ok(())
    }
}

impl SymbolRows {
    fn report(self) -> SymbolReport {
        let n = self.times.len();
        let mut out_of_order = Problem::default();
        let mut latest: Option<(Timestamp, Location)> = None;
        for i in 0..n {
            match latest {
                Some((t, at)) if self.times[i] < t => {
                    out_of_order.add(self.locations[i], self.times[i], || {
                        format!("earlier than {t} on {at}")
                    });
                }
                Some((t, _)) if self.times[i] == t => {}
                _ => latest = Some((self.times[i], self.locations[i])),
            }
        }

        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| self.times[i]);
        let mut duplicates = Problem::default();
        // Indices (into the file-order vectors) of the last row of each distinct time.
        let mut distinct: Vec<usize> = Vec::with_capacity(n);
        for (k, &i) in order.iter().enumerate() {
            if k > 0 && self.times[order[k - 1]] == self.times[i] {
                let previous = self.locations[order[k - 1]];
                duplicates.add(self.locations[i], self.times[i], || {
                    format!("also on {previous}")
                });
                if let Some(last) = distinct.last_mut() {
                    *last = i;
                }
            } else {
                distinct.push(i);
            }
        }

        let spacings: Vec<i64> = distinct
            .windows(2)
            .map(|w| self.times[w[1]].nanos() - self.times[w[0]].nanos())
            .collect();
        let interval = median_i64(&spacings);
        let gaps = interval.map_or_else(Gaps::default, |iv| self.gaps(&distinct, iv));
        let outlier_returns = self.outliers(&distinct);

        SymbolReport {
            symbol: self.name,
            rows: n,
            first: order.first().map(|&i| self.times[i]),
            last: order.last().map(|&i| self.times[i]),
            interval_ns: interval,
            interval: interval.map(human_duration),
            gaps,
            duplicate_timestamps: duplicates,
            out_of_order,
            ohlc_inconsistent: self.ohlc,
            non_positive_prices: self.non_positive,
            negative_volume: self.negative_volume,
            zero_volume: self.zero_volume,
            outlier_returns,
        }
    }

    fn gaps(&self, distinct: &[usize], interval: i64) -> Gaps {
        let threshold = interval as f64 * GAP_FACTOR;
        let daily = (23 * NANOS_PER_DAY / 24..=25 * NANOS_PER_DAY / 24).contains(&interval);
        let mut all: Vec<(i64, Timestamp, Timestamp)> = Vec::new();
        let mut weekends = 0;
        for w in distinct.windows(2) {
            let (from, to) = (self.times[w[0]], self.times[w[1]]);
            let length = to.nanos() - from.nanos();
            if (length as f64) <= threshold {
                continue;
            }
            if daily && weekday(from) == FRIDAY && to.day_index() - from.day_index() == 3 {
                weekends += 1;
            }
            all.push((length, from, to));
        }
        let count = all.len();
        // Longest first; among equals, earliest first.
        all.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        Gaps {
            count,
            weekends: daily.then_some(weekends),
            largest: all
                .into_iter()
                .take(EXAMPLES)
                .map(|(length, from, to)| Gap {
                    from,
                    to,
                    length_ns: length,
                    length: human_duration(length),
                })
                .collect(),
        }
    }

    fn outliers(&self, distinct: &[usize]) -> Outliers {
        // (log return, index of the bar that ends it)
        let returns: Vec<(f64, usize)> = distinct
            .windows(2)
            .filter(|w| self.closes[w[0]].is_positive() && self.closes[w[1]].is_positive())
            .map(|w| {
                (
                    (self.closes[w[1]].as_f64() / self.closes[w[0]].as_f64()).ln(),
                    w[1],
                )
            })
            .collect();
        let mut values: Vec<f64> = returns.iter().map(|r| r.0).collect();
        let Some(median) = median_f64(&mut values) else {
            return Outliers::default();
        };
        let mut deviations: Vec<f64> = returns.iter().map(|r| (r.0 - median).abs()).collect();
        let sigma = MAD_TO_SIGMA * median_f64(&mut deviations).unwrap_or(0.0);
        if sigma <= 0.0 {
            // Most returns equal (a price that rarely moves): no scale to judge outliers by.
            return Outliers::default();
        }
        let mut big: Vec<(f64, usize)> = returns
            .into_iter()
            .filter(|r| r.0.abs() > OUTLIER_SIGMAS * sigma)
            .collect();
        let count = big.len();
        big.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()).then(a.1.cmp(&b.1)));
        let previous =
            |i: usize| distinct[distinct.partition_point(|&d| self.times[d] < self.times[i]) - 1];
        Outliers {
            robust_sigma: sigma,
            count,
            largest: big
                .into_iter()
                .take(EXAMPLES)
                .map(|(r, i)| OutlierReturn {
                    location: self.locations[i],
                    timestamp: self.times[i],
                    from_close: self.closes[previous(i)],
                    to_close: self.closes[i],
                    log_return: r,
                    sigmas: r / sigma,
                })
                .collect(),
        }
    }
}

const FRIDAY: i64 = 4;

/// 0 = Monday … 6 = Sunday, in UTC.
fn weekday(t: Timestamp) -> i64 {
    // 1970-01-01 was a Thursday.
    (t.day_index() + 3).rem_euclid(7)
}

fn median_i64(values: &[i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable(mid);
    Some(*m)
}

fn median_f64(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let len = values.len();
    let mid = len / 2;
    let (below, m, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *m;
    if len % 2 == 1 {
        return Some(upper);
    }
    let lower = below.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((lower + upper) / 2.0)
}

/// A duration for people: `1m`, `5m`, `1h`, `1d`, `2d3h`, `250ms`.
pub(crate) fn human_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let mut rest = nanos.unsigned_abs();
    let mut out = String::from(sign);
    for (unit, size) in [
        ("d", 86_400_000_000_000u64),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("µs", 1_000),
        ("ns", 1),
    ] {
        if rest >= size {
            let _ = write!(out, "{}{unit}", rest / size);
            rest %= size;
        }
    }
    out
}

/// A count with thousands separators.
fn grouped(n: usize) -> String {
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

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", grouped(n), if n == 1 { one } else { many })
}

impl fmt::Display for QualityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = self
            .timestamp_unit
            .map_or_else(|| "unknown".to_string(), |u| u.name().to_string());
        writeln!(
            f,
            "{}: {}, {}, {}, times as {unit}",
            self.file,
            self.format,
            plural(self.rows, "row", "rows"),
            plural(self.symbols.len(), "symbol", "symbols"),
        )?;
        if self.failed_rows.count == 0 {
            writeln!(f, "rows that failed to parse: none")?;
        } else {
            writeln!(
                f,
                "rows that failed to parse: {}",
                grouped(self.failed_rows.count)
            )?;
            for message in &self.failed_rows.first_errors {
                writeln!(f, "    {message}")?;
            }
        }
        for s in &self.symbols {
            writeln!(f)?;
            write!(f, "{}: {}", s.symbol, plural(s.rows, "row", "rows"))?;
            if let (Some(first), Some(last)) = (s.first, s.last) {
                write!(f, ", {first} to {last}")?;
            }
            if let Some(interval) = &s.interval {
                write!(f, ", bar interval {interval}")?;
            }
            writeln!(f)?;

            let gap_note = match s.gaps.weekends {
                Some(w) if s.gaps.count > 0 => format!("  ({} exactly a weekend)", grouped(w)),
                _ => String::new(),
            };
            line(f, "gaps (> 1.5 × interval)", s.gaps.count, &gap_note)?;
            for g in &s.gaps.largest {
                writeln!(f, "      {} → {}  {}", g.from, g.to, g.length)?;
            }
            for (label, problem) in [
                ("duplicate timestamps", &s.duplicate_timestamps),
                ("out-of-order rows", &s.out_of_order),
                ("OHLC inconsistent", &s.ohlc_inconsistent),
                ("non-positive prices", &s.non_positive_prices),
                ("negative volume", &s.negative_volume),
                ("zero volume", &s.zero_volume),
            ] {
                line(f, label, problem.count, "")?;
                for e in &problem.examples {
                    writeln!(
                        f,
                        "      {:<12} {}  {}",
                        e.location.to_string(),
                        e.timestamp,
                        e.note
                    )?;
                }
            }
            let sigma_note = if s.outlier_returns.robust_sigma > 0.0 {
                format!(
                    "  (robust sigma {:.3}%)",
                    s.outlier_returns.robust_sigma * 100.0
                )
            } else {
                String::new()
            };
            line(
                f,
                "outlier returns (> 10σ)",
                s.outlier_returns.count,
                &sigma_note,
            )?;
            for o in &s.outlier_returns.largest {
                writeln!(
                    f,
                    "      {:<12} {}  {} → {}  log return {:+.4} ({:+.1}σ)",
                    o.location.to_string(),
                    o.timestamp,
                    o.from_close,
                    o.to_close,
                    o.log_return,
                    o.sigmas
                )?;
            }
        }
        if self.issue_count() == 0 && self.rows > 0 {
            writeln!(f)?;
            writeln!(f, "No problems found.")?;
        }
        Ok(())
    }
}

fn line(f: &mut fmt::Formatter<'_>, label: &str, count: usize, note: &str) -> fmt::Result {
    writeln!(f, "  {label:<26}{:>10}{note}", grouped(count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_for_people() {
        assert_eq!(human_duration(60_000_000_000), "1m");
        assert_eq!(human_duration(300_000_000_000), "5m");
        assert_eq!(human_duration(3_600_000_000_000), "1h");
        assert_eq!(human_duration(NANOS_PER_DAY), "1d");
        assert_eq!(
            human_duration(3 * NANOS_PER_DAY + 3_600_000_000_000),
            "3d1h"
        );
        assert_eq!(human_duration(250_000_000), "250ms");
        assert_eq!(human_duration(0), "0s");
    }

    #[test]
    fn medians() {
        assert_eq!(median_i64(&[5, 1, 3]), Some(3));
        assert_eq!(median_i64(&[]), None);
        assert_eq!(median_f64(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median_f64(&mut []), None);
    }

    #[test]
    fn weekdays() {
        let friday = Timestamp::parse_rfc3339("2024-03-01").unwrap();
        assert_eq!(weekday(friday), FRIDAY);
        let monday = Timestamp::parse_rfc3339("2024-03-04T10:00:00Z").unwrap();
        assert_eq!(weekday(monday), 0);
    }

    #[test]
    fn grouping() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    fn rows(times: &[i64], closes: &[i64]) -> SymbolRows {
        SymbolRows {
            name: "X".into(),
            times: times.iter().map(|&s| Timestamp::from_secs(s)).collect(),
            closes: closes.iter().map(|&c| Price::from_int(c)).collect(),
            locations: (0..times.len())
                .map(|i| Location::Line(i as u64 + 2))
                .collect(),
            ..SymbolRows::default()
        }
    }

    #[test]
    fn order_duplicates_and_gaps() {
        let r = rows(&[60, 120, 120, 60, 600, 660], &[10, 10, 10, 10, 10, 10]).report();
        assert_eq!(r.out_of_order.count, 1);
        assert_eq!(r.out_of_order.examples[0].location, Location::Line(5));
        assert_eq!(r.duplicate_timestamps.count, 2);
        assert_eq!(r.interval.as_deref(), Some("1m"));
        assert_eq!(r.gaps.count, 1);
        assert_eq!(r.gaps.largest[0].length, "8m");
        assert_eq!(r.gaps.weekends, None);
    }

    #[test]
    fn outliers_found_against_robust_sigma() {
        let times: Vec<i64> = (0..200).map(|i| i * 60).collect();
        let mut x: i64 = 1;
        let mut closes: Vec<i64> = (0..200)
            .map(|_| {
                x = (x * 1_103_515_245 + 12_345) % (1 << 31);
                1000 + (x >> 16) % 41 - 20
            })
            .collect();
        closes[100] = 2000;
        let r = rows(&times, &closes).report();
        assert_eq!(r.outlier_returns.count, 2, "{:?}", r.outlier_returns);
        let up = r
            .outlier_returns
            .largest
            .iter()
            .find(|o| o.timestamp == Timestamp::from_secs(6000))
            .unwrap();
        assert!(up.log_return > 0.6 && up.sigmas > 10.0);
        assert_eq!(up.from_close, Price::from_int(closes[99]));
        assert_eq!(up.location, Location::Line(102));
        assert!(
            r.outlier_returns
                .largest
                .iter()
                .any(|o| o.timestamp == Timestamp::from_secs(6060))
        );
    }

    #[test]
    fn weekend_gaps_in_daily_data() {
        // Mon 2024-03-04 .. Fri 03-08, then Mon 03-11 .. Wed 03-13, then Mon 03-18.
        let day = 86_400;
        let monday = 1_709_510_400;
        let days = [0, 1, 2, 3, 4, 7, 8, 9, 14];
        let times: Vec<i64> = days.iter().map(|d| monday + d * day).collect();
        let r = rows(&times, &[1; 9]).report();
        assert_eq!(r.interval.as_deref(), Some("1d"));
        assert_eq!(r.gaps.count, 2);
        assert_eq!(r.gaps.weekends, Some(1));
    }
}
