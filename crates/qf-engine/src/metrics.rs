//! Performance statistics, accumulated bar by bar so a sweep never stores an equity curve.

use serde::Serialize;

use qf_core::{Money, Timestamp};

use crate::Trade;

const SECONDS_PER_YEAR: f64 = 365.25 * 86_400.0;

/// Streaming state: one update per equity sample (one per distinct bar time).
#[derive(Debug, Clone, Default)]
pub(crate) struct Accumulator {
    samples: u64,
    first: Option<(Timestamp, f64)>,
    last: Option<(Timestamp, f64)>,
    // Sums of per-sample returns and their squares (returns are small and centred near
    // zero, so the textbook variance formula loses nothing that matters here, and it
    // saves a division per bar over Welford's update).
    n: u64,
    sum: f64,
    sum_sq: f64,
    downside_sq: f64,
    peak: f64,
    max_drawdown: f64,
    since_peak: u64,
    max_drawdown_duration: u64,
    in_market: u64,
}

impl Accumulator {
    #[inline]
    pub(crate) fn update(&mut self, ts: Timestamp, e: f64, in_market: bool) {
        self.samples += 1;
        if let Some((_, prev)) = self.last {
            self.n += 1;
            // Flat bars leave equity unchanged: skip the division.
            if e != prev && prev != 0.0 {
                let r = e / prev - 1.0;
                self.sum += r;
                self.sum_sq += r * r;
                if r < 0.0 {
                    self.downside_sq += r * r;
                }
            }
        } else {
            self.first = Some((ts, e));
            self.peak = e;
        }
        self.last = Some((ts, e));
        if e >= self.peak {
            self.peak = e;
            self.since_peak = 0;
        } else {
            self.since_peak += 1;
            self.max_drawdown_duration = self.max_drawdown_duration.max(self.since_peak);
            if self.peak > 0.0 {
                self.max_drawdown = self.max_drawdown.max(1.0 - e / self.peak);
            }
        }
        self.in_market += u64::from(in_market);
    }
}

/// The headline numbers of a backtest. Ratios are `null` where undefined (no variance, no
/// losing trade, a span too short to annualise).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Bars processed, all instruments.
    pub bars: u64,
    /// Closed round-trip trades.
    pub trades: usize,
    /// Positions still open at the end (marked at the last close, not closed).
    pub open_trades: usize,
    /// Time of the first bar.
    pub start: Option<Timestamp>,
    /// Time of the last bar.
    pub end: Option<Timestamp>,
    /// Starting cash (exact decimal).
    pub initial_cash: Money,
    /// Cash plus positions at the last close, as a number.
    pub final_equity: f64,
    /// The same, as an exact decimal string.
    pub final_equity_exact: Money,
    /// Final cash (exact).
    pub final_cash: Money,
    /// Total fees paid (exact).
    pub fees: Money,
    /// final / initial − 1.
    pub total_return: f64,
    /// Compound annual growth rate over the data's time span.
    pub cagr: Option<f64>,
    /// Annualised standard deviation of per-sample returns.
    pub volatility: Option<f64>,
    /// Annualised mean / std of per-sample returns (risk-free rate 0).
    pub sharpe: Option<f64>,
    /// Annualised mean / downside deviation.
    pub sortino: Option<f64>,
    /// CAGR / max drawdown.
    pub calmar: Option<f64>,
    /// Largest peak-to-trough fall of equity, as a fraction of the peak.
    pub max_drawdown: f64,
    /// Longest time below a previous peak, in equity samples (bars).
    pub max_drawdown_duration: u64,
    /// Gross profit / gross loss of closed trades.
    pub profit_factor: Option<f64>,
    /// Winning closed trades / closed trades.
    pub win_rate: Option<f64>,
    /// Fraction of samples with any open position.
    pub exposure: f64,
    /// Equity samples per year used to annualise (observed: samples / years spanned).
    pub periods_per_year: Option<f64>,
    /// Orders refused at fill time by the leverage limit.
    pub rejected_orders: u64,
    /// Fills executed.
    pub fills: u64,
}

/// End-of-run totals the statistics are computed from, besides the per-bar accumulator.
#[derive(Clone, Copy)]
pub(crate) struct Totals<'a> {
    pub(crate) bars: u64,
    pub(crate) initial: Money,
    pub(crate) final_equity: Money,
    pub(crate) final_cash: Money,
    pub(crate) fees: Money,
    pub(crate) trades: &'a [Trade],
    pub(crate) open_trades: usize,
    pub(crate) rejected_orders: u64,
    pub(crate) fills: u64,
}

impl Metrics {
    pub(crate) fn compute(acc: &Accumulator, t: &Totals<'_>) -> Self {
        let Totals {
            bars,
            initial,
            final_equity,
            final_cash,
            fees,
            trades,
            open_trades,
            rejected_orders,
            fills,
        } = *t;
        let init = initial.as_f64();
        let fin = final_equity.as_f64();
        let total_return = if init != 0.0 { fin / init - 1.0 } else { 0.0 };
        let years = match (acc.first, acc.last) {
            (Some((a, _)), Some((b, _))) => (b.nanos() - a.nanos()) as f64 / 1e9 / SECONDS_PER_YEAR,
            _ => 0.0,
        };
        let ppy = (years > 0.0 && acc.n > 0).then(|| acc.n as f64 / years);
        let mean = if acc.n > 0 {
            acc.sum / acc.n as f64
        } else {
            0.0
        };
        let std = (acc.n > 1)
            .then(|| ((acc.sum_sq - acc.sum * mean).max(0.0) / (acc.n - 1) as f64).sqrt());
        let finite = |x: f64| x.is_finite().then_some(x);
        let volatility = ppy.zip(std).and_then(|(p, s)| finite(s * p.sqrt()));
        let sharpe = ppy
            .zip(std)
            .filter(|(_, s)| *s > 0.0)
            .and_then(|(p, s)| finite(mean / s * p.sqrt()));
        let downside = (acc.n > 0).then(|| (acc.downside_sq / acc.n as f64).sqrt());
        let sortino = ppy
            .zip(downside)
            .filter(|(_, d)| *d > 0.0)
            .and_then(|(p, d)| finite(mean / d * p.sqrt()));
        let cagr = (years > 0.0 && init > 0.0 && fin > 0.0)
            .then(|| (fin / init).powf(1.0 / years) - 1.0)
            .and_then(finite);
        let calmar = cagr
            .filter(|_| acc.max_drawdown > 0.0)
            .and_then(|c| finite(c / acc.max_drawdown));
        let (mut gross_win, mut gross_loss, mut wins) = (Money::ZERO, Money::ZERO, 0usize);
        for t in trades {
            if t.pnl > Money::ZERO {
                gross_win += t.pnl;
                wins += 1;
            } else {
                gross_loss -= t.pnl;
            }
        }
        let profit_factor =
            (gross_loss > Money::ZERO).then(|| gross_win.as_f64() / gross_loss.as_f64());
        let win_rate = (!trades.is_empty()).then(|| wins as f64 / trades.len() as f64);
        Self {
            bars,
            trades: trades.len(),
            open_trades,
            start: acc.first.map(|f| f.0),
            end: acc.last.map(|l| l.0),
            initial_cash: initial,
            // Through the exact decimal, so 1000119.53 prints as that and not 1000119.5299999999.
            final_equity: final_equity.to_string().parse().unwrap_or(fin),
            final_equity_exact: final_equity,
            final_cash,
            fees,
            total_return,
            cagr,
            volatility,
            sharpe,
            sortino,
            calmar,
            max_drawdown: acc.max_drawdown,
            max_drawdown_duration: acc.max_drawdown_duration,
            profit_factor,
            win_rate,
            exposure: if acc.samples > 0 {
                acc.in_market as f64 / acc.samples as f64
            } else {
                0.0
            },
            periods_per_year: ppy,
            rejected_orders,
            fills,
        }
    }

    /// Looks up a metric by its JSON name for ranking sweeps; `None` for unknown names.
    pub fn get(&self, name: &str) -> Option<Option<f64>> {
        Some(match name {
            "total_return" => Some(self.total_return),
            "final_equity" => Some(self.final_equity),
            "cagr" => self.cagr,
            "volatility" => self.volatility,
            "sharpe" => self.sharpe,
            "sortino" => self.sortino,
            "calmar" => self.calmar,
            "max_drawdown" => Some(self.max_drawdown),
            "max_drawdown_duration" => Some(self.max_drawdown_duration as f64),
            "profit_factor" => self.profit_factor,
            "win_rate" => self.win_rate,
            "exposure" => Some(self.exposure),
            "trades" => Some(self.trades as f64),
            _ => return None,
        })
    }

    /// Names accepted by [`Metrics::get`].
    pub const SORTABLE: &'static [&'static str] = &[
        "sharpe",
        "sortino",
        "calmar",
        "total_return",
        "cagr",
        "final_equity",
        "volatility",
        "max_drawdown",
        "max_drawdown_duration",
        "profit_factor",
        "win_rate",
        "exposure",
        "trades",
    ];
}
