//! Indicators a strategy registers at start; the engine updates them on every bar of their
//! instrument before the strategy sees that bar, so strategies only read values.

use qf_core::{Bar, InstrumentId, PRICE_SCALE};
use qf_indicators::{
    Atr, Bollinger, Ema, ExactSma, Macd, RollingMax, RollingMin, RollingStd, Rsi, Sma, Wma,
};

use crate::StrategyError;

/// Which bar field feeds an indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// Open price.
    Open,
    /// High price.
    High,
    /// Low price.
    Low,
    /// Close price (the usual choice).
    #[default]
    Close,
    /// Volume.
    Volume,
    /// (high + low + close) / 3.
    Typical,
}

impl Source {
    /// The source value of `bar` in *raw* units: prices as their integer count of 10⁻⁹
    /// (exact in an `f64` below 9 million), volume as is. Feeding indicators integers keeps
    /// their sums exact, so two moving averages that are equal in exact arithmetic compare
    /// equal here too, and crossover decisions agree with exact arithmetic even at ties.
    /// `close` is `bar.close` converted once per bar because most indicators read it.
    #[inline]
    fn pick(self, bar: &Bar, close: f64) -> f64 {
        match self {
            Source::Open => bar.open.raw() as f64,
            Source::High => bar.high.raw() as f64,
            Source::Low => bar.low.raw() as f64,
            Source::Close => close,
            Source::Volume => bar.volume,
            Source::Typical => typical(bar, close),
        }
    }

    /// The integer price this source reads, or `None` for volume (a float).
    #[inline]
    fn price_raw(self, bar: &Bar) -> Option<i64> {
        match self {
            Source::Open => Some(bar.open.raw()),
            Source::High => Some(bar.high.raw()),
            Source::Low => Some(bar.low.raw()),
            Source::Close => Some(bar.close.raw()),
            Source::Volume | Source::Typical => None,
        }
    }

    /// What raw indicator outputs are divided by to be in the source's units.
    fn divisor(self) -> f64 {
        match self {
            Source::Volume => 1.0,
            _ => PRICE_SCALE as f64,
        }
    }
}

/// (high + low + close) / 3, out of line: inlined, the compiler computed this division on
/// every bar for every indicator whatever its source (measured: 11% of the engine loop).
#[cold]
#[inline(never)]
fn typical(bar: &Bar, close: f64) -> f64 {
    (bar.high.raw() as f64 + bar.low.raw() as f64 + close) / 3.0
}

/// A handle to one output series of a registered indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Line(pub(crate) u32);

/// The three lines of a MACD.
#[derive(Debug, Clone, Copy)]
pub struct MacdLines {
    /// Fast EMA − slow EMA.
    pub macd: Line,
    /// EMA of the MACD line.
    pub signal: Line,
    /// MACD − signal.
    pub histogram: Line,
}

/// The three lines of Bollinger bands.
#[derive(Debug, Clone, Copy)]
pub struct BollingerLines {
    /// Moving average.
    pub middle: Line,
    /// Average + k standard deviations.
    pub upper: Line,
    /// Average − k standard deviations.
    pub lower: Line,
}

enum Kind {
    Sma(Sma),
    /// SMA of a price: integer sum, exact (see [`ExactSma`]).
    PriceSma(ExactSma),
    Ema(Ema),
    Wma(Wma),
    Rsi(Rsi),
    Std(RollingStd),
    Max(RollingMax),
    Min(RollingMin),
    Atr(Atr),
    Macd(Macd),
    Bollinger(Bollinger),
}

struct Registered {
    source: Source,
    kind: Kind,
    first_line: usize,
}

/// All indicators of one run, with the current and previous value of every line.
#[derive(Default)]
pub(crate) struct IndicatorSet {
    registered: Vec<Registered>,
    /// Registered indicators per instrument, so a bar touches only its own.
    by_instrument: Vec<Vec<usize>>,
    /// Raw values (see [`Source`]); reads divide by `divisor`.
    current: Vec<f64>,
    previous: Vec<f64>,
    divisor: Vec<f64>,
}

impl IndicatorSet {
    pub(crate) fn new(instruments: usize) -> Self {
        Self {
            by_instrument: vec![Vec::new(); instruments],
            ..Self::default()
        }
    }

    fn add(
        &mut self,
        instrument: InstrumentId,
        source: Source,
        kind: Kind,
        lines: usize,
    ) -> Result<usize, StrategyError> {
        // RSI is a ratio, the same in any unit; ATR always reads prices.
        let divisor = match kind {
            Kind::Rsi(_) => 1.0,
            Kind::Atr(_) => PRICE_SCALE as f64,
            _ => source.divisor(),
        };
        let slot = self
            .by_instrument
            .get_mut(instrument.index())
            .ok_or_else(|| StrategyError::new(format!("unknown instrument {}", instrument.0)))?;
        let first_line = self.current.len();
        slot.push(self.registered.len());
        self.registered.push(Registered {
            source,
            kind,
            first_line,
        });
        self.current.extend(std::iter::repeat_n(f64::NAN, lines));
        self.previous.extend(std::iter::repeat_n(f64::NAN, lines));
        self.divisor.extend(std::iter::repeat_n(divisor, lines));
        Ok(first_line)
    }

    pub(crate) fn add_single(
        &mut self,
        instrument: InstrumentId,
        source: Source,
        spec: SingleSpec,
    ) -> Result<Line, StrategyError> {
        let kind = match spec {
            SingleSpec::Sma(p)
                if matches!(
                    source,
                    Source::Open | Source::High | Source::Low | Source::Close
                ) =>
            {
                Kind::PriceSma(ExactSma::new(p)?)
            }
            SingleSpec::Sma(p) => Kind::Sma(Sma::new(p)?),
            SingleSpec::Ema(p) => Kind::Ema(Ema::new(p)?),
            SingleSpec::Wma(p) => Kind::Wma(Wma::new(p)?),
            SingleSpec::Rsi(p) => Kind::Rsi(Rsi::new(p)?),
            SingleSpec::Std(p) => Kind::Std(RollingStd::new(p)?),
            SingleSpec::Max(p) => Kind::Max(RollingMax::new(p)?),
            SingleSpec::Min(p) => Kind::Min(RollingMin::new(p)?),
            SingleSpec::Atr(p) => Kind::Atr(Atr::new(p)?),
        };
        self.add(instrument, source, kind, 1)
            .map(|i| Line(i as u32))
    }

    pub(crate) fn add_macd(
        &mut self,
        instrument: InstrumentId,
        source: Source,
        fast: usize,
        slow: usize,
        signal: usize,
    ) -> Result<MacdLines, StrategyError> {
        let i = self.add(
            instrument,
            source,
            Kind::Macd(Macd::new(fast, slow, signal)?),
            3,
        )? as u32;
        Ok(MacdLines {
            macd: Line(i),
            signal: Line(i + 1),
            histogram: Line(i + 2),
        })
    }

    pub(crate) fn add_bollinger(
        &mut self,
        instrument: InstrumentId,
        source: Source,
        period: usize,
        k: f64,
    ) -> Result<BollingerLines, StrategyError> {
        let i = self.add(
            instrument,
            source,
            Kind::Bollinger(Bollinger::new(period, k)?),
            3,
        )? as u32;
        Ok(BollingerLines {
            middle: Line(i),
            upper: Line(i + 1),
            lower: Line(i + 2),
        })
    }

    /// Feeds one bar to every indicator of its instrument.
    #[inline]
    pub(crate) fn update(&mut self, instrument: InstrumentId, bar: &Bar) {
        let Some(ids) = self.by_instrument.get(instrument.index()) else {
            return;
        };
        let close = bar.close.raw() as f64;
        for &id in ids {
            let r = &mut self.registered[id];
            let x = r.source.pick(bar, close);
            let l = r.first_line;
            let nan = f64::NAN;
            let mut put = |k: usize, v: f64| {
                self.previous[l + k] = self.current[l + k];
                self.current[l + k] = v;
            };
            match &mut r.kind {
                Kind::Sma(i) => put(0, i.update(x).unwrap_or(nan)),
                // Registered only for price sources, so `price_raw` is always `Some`.
                Kind::PriceSma(i) => put(
                    0,
                    i.update(r.source.price_raw(bar).unwrap_or(x as i64))
                        .unwrap_or(nan),
                ),
                Kind::Ema(i) => put(0, i.update(x).unwrap_or(nan)),
                Kind::Wma(i) => put(0, i.update(x).unwrap_or(nan)),
                Kind::Rsi(i) => put(0, i.update(x).unwrap_or(nan)),
                Kind::Std(i) => put(0, i.update(x).unwrap_or(nan)),
                Kind::Max(i) => put(0, i.update(x).unwrap_or(nan)),
                Kind::Min(i) => put(0, i.update(x).unwrap_or(nan)),
                Kind::Atr(i) => put(
                    0,
                    i.update(bar.high.raw() as f64, bar.low.raw() as f64, close)
                        .unwrap_or(nan),
                ),
                Kind::Macd(i) => {
                    let v = i.update(x);
                    put(0, v.map_or(nan, |v| v.macd));
                    put(1, v.map_or(nan, |v| v.signal));
                    put(2, v.map_or(nan, |v| v.histogram));
                }
                Kind::Bollinger(i) => {
                    let v = i.update(x);
                    put(0, v.map_or(nan, |v| v.middle));
                    put(1, v.map_or(nan, |v| v.upper));
                    put(2, v.map_or(nan, |v| v.lower));
                }
            }
        }
    }

    /// The current value of a line in its source's units, `None` while it warms up.
    #[inline]
    pub(crate) fn value(&self, line: Line) -> Option<f64> {
        let i = line.0 as usize;
        let v = *self.current.get(i)?;
        (!v.is_nan()).then(|| v / self.divisor[i])
    }

    /// The value of a line one bar earlier.
    #[inline]
    pub(crate) fn previous(&self, line: Line) -> Option<f64> {
        let i = line.0 as usize;
        let v = *self.previous.get(i)?;
        (!v.is_nan()).then(|| v / self.divisor[i])
    }

    /// `(previous a, previous b, a, b)` for comparing two lines, in raw units when both
    /// share a unit (exact comparisons, see [`Source::pick`]), else in source units.
    #[inline]
    pub(crate) fn pair(&self, a: Line, b: Line) -> Option<(f64, f64, f64, f64)> {
        let (i, j) = (a.0 as usize, b.0 as usize);
        let (da, db) = (*self.divisor.get(i)?, *self.divisor.get(j)?);
        let (sa, sb) = if da == db { (1.0, 1.0) } else { (da, db) };
        let v = (
            self.previous[i] / sa,
            self.previous[j] / sb,
            self.current[i] / sa,
            self.current[j] / sb,
        );
        (!(v.0.is_nan() || v.1.is_nan() || v.2.is_nan() || v.3.is_nan())).then_some(v)
    }
}

/// Single-output indicators and their periods.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SingleSpec {
    Sma(usize),
    Ema(usize),
    Wma(usize),
    Rsi(usize),
    Std(usize),
    Max(usize),
    Min(usize),
    Atr(usize),
}
