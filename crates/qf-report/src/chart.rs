//! The two inline-SVG charts: equity with trade markers, and drawdown (underwater) beneath
//! it on the same time axis.
//!
//! Both charts share one horizontal layout ([`LEFT`], [`PLOT_W`]) so their time axes line up
//! when stacked, and scale with the page through `viewBox`. Curves are reduced to at most two
//! vertices per plot unit by [`MinMaxReducer`], so a million-bar run draws as fast and weighs
//! as little as a thousand-bar one.

use std::fmt::Write;

use qf_core::{Instrument, Timestamp};
use qf_engine::{EquityPoint, Trade};

use crate::axis::{ValueAxis, time_ticks, value_axis};
use crate::downsample::MinMaxReducer;
use crate::escape::Escaped;
use crate::number_format::{axis_value, grouped, money, percent};

/// Width of the whole SVG, in viewBox units.
const WIDTH: f64 = 1100.0;
/// Left margin (value labels).
const LEFT: f64 = 76.0;
/// Plot width: one reduction column per unit.
const PLOT_W: f64 = 1000.0;
/// Top margin.
const TOP: f64 = 14.0;
/// Bottom margin (time labels).
const BOTTOM: f64 = 30.0;
/// Plot height of the equity chart.
const EQUITY_PLOT_H: f64 = 330.0;
/// Plot height of the drawdown chart.
const DRAWDOWN_PLOT_H: f64 = 150.0;
/// Most time ticks on an axis 1000 units wide.
const MAX_TIME_TICKS: usize = 8;
/// Most trades that get entry and exit markers (two markers each).
pub(crate) const MAX_MARKED_TRADES: usize = 1000;

/// The equity curve and its drawdown, reduced for drawing.
pub(crate) struct Curves {
    /// First and last time of the curve.
    pub t0: i64,
    pub t1: i64,
    /// Points in the full curve.
    pub points: usize,
    /// Reduced equity, `(nanos, value)`.
    pub equity: Vec<(i64, f64)>,
    /// Reduced drawdown from the running peak, as a fraction ≤ 0.
    pub drawdown: Vec<(i64, f64)>,
    /// The deepest drawdown and when it happened.
    pub trough: (i64, f64),
}

impl Curves {
    /// One pass over the curve; `None` if it is empty.
    pub(crate) fn new(curve: &[EquityPoint]) -> Option<Self> {
        let (first, last) = (curve.first()?, curve.last()?);
        let (t0, t1) = (first.ts.nanos(), last.ts.nanos());
        let columns = PLOT_W as usize;
        let mut equity = MinMaxReducer::new(t0, t1, columns, curve.len());
        let mut drawdown = MinMaxReducer::new(t0, t1, columns, curve.len());
        let mut peak = f64::NEG_INFINITY;
        let mut trough = (t0, 0.0);
        for p in curve {
            let (t, e) = (p.ts.nanos(), p.equity.as_f64());
            peak = peak.max(e);
            // Below a non-positive peak a percentage means nothing; draw it as zero.
            let dd = if peak > 0.0 { e / peak - 1.0 } else { 0.0 };
            if dd < trough.1 {
                trough = (t, dd);
            }
            equity.push(t, e);
            drawdown.push(t, dd);
        }
        Some(Self {
            t0,
            t1,
            points: curve.len(),
            equity: equity.finish(),
            drawdown: drawdown.finish(),
            trough,
        })
    }
}

/// A trade entry or exit drawn on the equity chart.
pub(crate) struct Marker {
    at: i64,
    equity: f64,
    entry: bool,
    tooltip: String,
}

/// Markers for (an even thinning of) `trades`, and how many trades they stand for.
pub(crate) fn trade_markers(
    trades: &[Trade],
    instruments: &[Instrument],
    curve: &[EquityPoint],
) -> (Vec<Marker>, usize) {
    if curve.is_empty() || trades.is_empty() {
        return (Vec::new(), 0);
    }
    let n = trades.len();
    let shown = n.min(MAX_MARKED_TRADES);
    // Equity at the last recorded time at or before `t` (the first point if none).
    let equity_at = |t: Timestamp| {
        let i = curve.partition_point(|p| p.ts <= t).saturating_sub(1);
        curve[i].equity.as_f64()
    };
    let mut markers = Vec::with_capacity(2 * shown);
    for k in 0..shown {
        // Evenly spaced indices; the identity when nothing is thinned.
        let t = &trades[k * n / shown];
        let symbol = symbol_of(instruments, t);
        let direction = if t.direction == "short" {
            "Short"
        } else {
            "Long"
        };
        markers.push(Marker {
            at: t.entry_time.nanos(),
            equity: equity_at(t.entry_time),
            entry: true,
            tooltip: format!(
                "{direction} entry · {symbol} · qty {}\n{} @ {}",
                t.quantity, t.entry_time, t.entry_price
            ),
        });
        markers.push(Marker {
            at: t.exit_time.nanos(),
            equity: equity_at(t.exit_time),
            entry: false,
            tooltip: format!(
                "{direction} exit · {symbol} · qty {}\n{} @ {}\nP&L {} ({})",
                t.quantity,
                t.exit_time,
                t.exit_price,
                money(t.pnl),
                percent(t.return_pct, 2)
            ),
        });
    }
    (markers, shown)
}

/// The symbol of a trade's instrument, or `#id` if the result does not list it.
pub(crate) fn symbol_of(instruments: &[Instrument], t: &Trade) -> String {
    instruments
        .get(t.instrument.index())
        .map_or_else(|| format!("#{}", t.instrument.0), |i| i.symbol.clone())
}

/// Maps times and values of one chart to viewBox coordinates.
struct Frame {
    t0: i64,
    t1: i64,
    plot_h: f64,
    axis: ValueAxis,
}

impl Frame {
    fn height(&self) -> f64 {
        TOP + self.plot_h + BOTTOM
    }

    fn x(&self, t: i64) -> f64 {
        if self.t1 > self.t0 {
            LEFT + (t - self.t0) as f64 / (self.t1 - self.t0) as f64 * PLOT_W
        } else {
            LEFT + PLOT_W / 2.0
        }
    }

    fn y(&self, v: f64) -> f64 {
        TOP + (self.axis.hi - v) / (self.axis.hi - self.axis.lo) * self.plot_h
    }

    fn bottom(&self) -> f64 {
        TOP + self.plot_h
    }

    /// Opens the `<svg>` and draws gridlines, value labels and time labels.
    fn open(
        &self,
        out: &mut String,
        class: &str,
        label: &str,
        value_label: impl Fn(f64) -> String,
    ) {
        let _ = writeln!(
            out,
            "<svg class=\"chart {class}\" viewBox=\"0 0 {WIDTH} {h}\" role=\"img\" aria-label=\"{label}\">",
            h = self.height()
        );
        let right = LEFT + PLOT_W;
        let ticks = time_ticks(
            Timestamp::from_nanos(self.t0),
            Timestamp::from_nanos(self.t1),
            MAX_TIME_TICKS,
        );
        out.push_str("<path class=\"grid\" d=\"");
        for v in &self.axis.ticks {
            let _ = write!(out, "M{LEFT},{:.1}H{right}", self.y(*v));
        }
        for t in &ticks {
            let _ = write!(out, "M{:.1},{TOP}V{}", self.x(t.at.nanos()), self.bottom());
        }
        out.push_str("\"/>\n<g class=\"yl\">");
        for v in &self.axis.ticks {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{:.1}\" dy=\".32em\">{}</text>",
                LEFT - 8.0,
                self.y(*v),
                value_label(*v)
            );
        }
        out.push_str("</g>\n<g class=\"xl\">");
        for t in &ticks {
            let x = self.x(t.at.nanos());
            // Labels near an edge are anchored inward so they are not cut off.
            let anchor = if x - LEFT < 50.0 {
                " class=\"s\""
            } else if right - x < 50.0 {
                " class=\"e\""
            } else {
                ""
            };
            let _ = write!(
                out,
                "<text x=\"{x:.1}\" y=\"{:.1}\"{anchor}>{}</text>",
                self.bottom() + 19.0,
                Escaped(&t.label)
            );
        }
        out.push_str("</g>\n");
    }

    /// Closes the chart with its axis lines.
    fn close(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "<path class=\"axis\" d=\"M{LEFT},{TOP}V{b}H{r}\"/>\n</svg>",
            b = self.bottom(),
            r = LEFT + PLOT_W
        );
    }

    /// The points as `x,y x,y …`.
    fn points(&self, out: &mut String, series: &[(i64, f64)]) {
        for (k, (t, v)) in series.iter().enumerate() {
            let sep = if k == 0 { "" } else { " " };
            let _ = write!(out, "{sep}{:.1},{:.1}", self.x(*t), self.y(*v));
        }
    }

    /// A filled area between the series and the horizontal line at `base`.
    fn area(&self, out: &mut String, class: &str, series: &[(i64, f64)], base: f64) {
        let (Some(first), Some(last)) = (series.first(), series.last()) else {
            return;
        };
        let _ = write!(
            out,
            "<path class=\"{class}\" d=\"M{:.1},{:.1}L",
            self.x(first.0),
            base
        );
        self.points(out, series);
        let _ = writeln!(out, "L{:.1},{base:.1}Z\"/>", self.x(last.0));
    }
}

/// The equity chart: curve, initial-cash reference line and trade markers.
pub(crate) fn write_equity_chart(
    out: &mut String,
    curves: &Curves,
    initial_cash: f64,
    markers: &[Marker],
) {
    let (lo, hi) = curves
        .equity
        .iter()
        .fold((initial_cash, initial_cash), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
    let axis = value_axis(lo, hi, 6);
    let extent = axis.lo.abs().max(axis.hi.abs());
    let step = axis.step;
    let frame = Frame {
        t0: curves.t0,
        t1: curves.t1,
        plot_h: EQUITY_PLOT_H,
        axis,
    };
    frame.open(out, "equity", "Equity curve", |v| {
        axis_value(v, step, extent)
    });
    frame.area(out, "fill", &curves.equity, frame.bottom());
    let cash_y = frame.y(initial_cash);
    let _ = writeln!(
        out,
        "<path class=\"ref\" d=\"M{LEFT},{cash_y:.1}H{}\"><title>Initial cash {}</title></path>",
        LEFT + PLOT_W,
        axis_value(initial_cash, step, extent)
    );
    if !markers.is_empty() {
        // Smaller triangles when there are many, so the curve stays readable.
        let half = match markers.len() {
            0..=200 => 4.5,
            201..=800 => 3.5,
            _ => 2.5,
        };
        let (w, h) = (2.0 * half, 1.8 * half);
        out.push_str("<g class=\"markers\">\n");
        for m in markers {
            let (x, y) = (frame.x(m.at), frame.y(m.equity));
            // ▲ sits just under the curve with its tip on it, ▼ just above.
            let (class, tip, dy) = if m.entry {
                ("in", y + 1.5, h)
            } else {
                ("out", y - 1.5, -h)
            };
            let _ = writeln!(
                out,
                "<path class=\"{class}\" d=\"M{x:.1},{tip:.1}l{half},{dy:.1}h-{w}z\"><title>{}</title></path>",
                Escaped(&m.tooltip)
            );
        }
        out.push_str("</g>\n");
    }
    // The curve goes over the markers so that dense markers never hide it.
    out.push_str("<polyline class=\"line\" points=\"");
    frame.points(out, &curves.equity);
    out.push_str("\"/>\n");
    frame.close(out);
}

/// The underwater chart: percentage below the running peak, zero at the top.
pub(crate) fn write_drawdown_chart(out: &mut String, curves: &Curves) {
    // A little room below the deepest point keeps it and its label off the axis line.
    let axis = value_axis((curves.trough.1 * 1.08).min(-0.01), 0.0, 5);
    let step = axis.step;
    let frame = Frame {
        t0: curves.t0,
        t1: curves.t1,
        plot_h: DRAWDOWN_PLOT_H,
        axis,
    };
    let pct = |v: f64| format!("{}%", axis_value(v * 100.0, step * 100.0, 0.0));
    frame.open(out, "drawdown", "Drawdown from peak", pct);
    frame.area(out, "fill", &curves.drawdown, frame.y(0.0));
    out.push_str("<polyline class=\"line\" points=\"");
    frame.points(out, &curves.drawdown);
    out.push_str("\"/>\n");
    let (t, dd) = curves.trough;
    if dd < 0.0 {
        let (x, y) = (frame.x(t), frame.y(dd));
        let anchor = if x > LEFT + PLOT_W / 2.0 { "e" } else { "s" };
        let dx = if anchor == "e" { -8.0 } else { 8.0 };
        let _ = writeln!(
            out,
            "<circle class=\"trough\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\"/>\
             <text class=\"note {anchor}\" x=\"{:.1}\" y=\"{:.1}\">Max drawdown {} · {}</text>",
            x + dx,
            y - 4.0,
            percent(dd, 2),
            Timestamp::from_nanos(t)
        );
    }
    frame.close(out);
}

/// One line on how the curve was drawn, for the caption.
pub(crate) fn reduction_note(curves: &Curves) -> String {
    if curves.equity.len() < curves.points {
        format!(
            "{} equity points drawn as the minimum and maximum of each pixel column ({} vertices); every peak and trough is kept.",
            grouped(curves.points as u128),
            grouped(curves.equity.len() as u128)
        )
    } else {
        format!(
            "{} equity points, all drawn.",
            grouped(curves.points as u128)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qf_core::Money;

    fn curve(values: &[i64]) -> Vec<EquityPoint> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| EquityPoint {
                ts: Timestamp::from_secs(1_600_000_000 + i as i64 * 60),
                equity: Money::from_int(*v),
                cash: Money::ZERO,
            })
            .collect()
    }

    #[test]
    fn drawdown_is_measured_from_the_running_peak() {
        let c = Curves::new(&curve(&[100, 120, 90, 130, 117])).unwrap();
        assert_eq!(c.trough.0, Timestamp::from_secs(1_600_000_120).nanos());
        assert!((c.trough.1 - (90.0 / 120.0 - 1.0)).abs() < 1e-12);
        let dd: Vec<f64> = c.drawdown.iter().map(|p| p.1).collect();
        assert!((dd[4] - (117.0 / 130.0 - 1.0)).abs() < 1e-12);
        assert_eq!(dd[..2], [0.0, 0.0]);
    }

    #[test]
    fn empty_curve_has_no_chart() {
        assert!(Curves::new(&[]).is_none());
    }

    #[test]
    fn a_million_points_draw_as_a_few_thousand_vertices() {
        let values: Vec<i64> = (0..1_000_000).map(|i| 100_000 + (i * 37) % 1001).collect();
        let c = Curves::new(&curve(&values)).unwrap();
        assert!(c.equity.len() <= 2002 && c.drawdown.len() <= 2002);
        let mut svg = String::new();
        write_equity_chart(&mut svg, &c, 100_000.0, &[]);
        write_drawdown_chart(&mut svg, &c);
        assert!(svg.len() < 120_000, "{}", svg.len());
    }
}
