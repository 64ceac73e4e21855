//! The byte encoding between `qf` and its sandbox workers: length-prefixed frames of
//! little-endian fields. Hand-written because the payload is small and fixed, the bars are
//! large (one copy, no per-field tagging), and the parent must parse whatever a compromised
//! worker might send without trusting it: every read is bounds-checked.

use std::io::{self, Read, Write};

use qf_core::{Bar, BarSeries, Instrument, InstrumentId, Money, Price, Quantity, Timestamp};
use qf_engine::{BacktestConfig, FeeModel, FillModel, FillTiming, Sizing, Slippage};

/// Largest frame either side accepts (bars of a big run included).
pub const MAX_FRAME: usize = 1 << 31;

/// Writes one frame: `u32` length, then the payload.
pub fn write_frame(w: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&n| (n as usize) <= MAX_FRAME)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(payload)?;
    w.flush()
}

/// Largest reply the parent accepts from a worker (orders, log): a compromised worker must
/// not make the parent allocate at will.
pub const MAX_REPLY: usize = 512 << 20;

/// Reads one frame of at most `max` bytes; `Ok(None)` at a clean end of stream.
pub fn read_frame(r: &mut impl Read, max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > max.min(MAX_FRAME) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut buf = Vec::new();
    buf.try_reserve_exact(len)
        .map_err(|_| io::Error::new(io::ErrorKind::OutOfMemory, "frame too large"))?;
    r.take(len as u64).read_to_end(&mut buf)?;
    if buf.len() != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "truncated frame",
        ));
    }
    Ok(Some(buf))
}

/// Appends fields to a payload.
#[derive(Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn i128(&mut self, v: i128) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn f64(&mut self, v: f64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn str(&mut self, v: &str) -> &mut Self {
        self.u32(v.len() as u32);
        self.0.extend_from_slice(v.as_bytes());
        self
    }
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(v as u8)
    }

    /// The engine configuration, field by field.
    pub fn config(&mut self, c: &BacktestConfig) -> &mut Self {
        self.i128(c.cash.raw());
        self.u8(match c.fill.timing {
            FillTiming::NextOpen => 0,
            FillTiming::SameClose => 1,
        });
        self.i64(c.fill.fees.per_unit.raw())
            .i64(c.fill.fees.bps.raw())
            .i128(c.fill.fees.minimum.raw());
        match c.fill.slippage {
            Slippage::None => self.u8(0).i64(0),
            Slippage::Bps(p) => self.u8(1).i64(p.raw()),
            Slippage::Ticks(t) => self.u8(2).i64(i64::from(t)),
        };
        self.f64(c.fill.max_leverage);
        match c.sizing {
            Sizing::Fixed(q) => self.u8(0).f64(0.0).i64(q.raw()),
            Sizing::PercentOfEquity(p) => self.u8(1).f64(p).i64(0),
        };
        self.bool(c.record)
    }

    /// Instruments and bars.
    pub fn series(&mut self, data: &[BarSeries]) -> &mut Self {
        self.u32(data.len() as u32);
        for s in data {
            let i = &s.instrument;
            self.u32(i.id.0)
                .str(&i.symbol)
                .u8(i.price_precision)
                .u8(i.size_precision)
                .u64(s.bars.len() as u64);
            self.0.reserve(s.bars.len() * 48);
            for b in &s.bars {
                self.i64(b.ts.nanos())
                    .i64(b.open.raw())
                    .i64(b.high.raw())
                    .i64(b.low.raw())
                    .i64(b.close.raw())
                    .f64(b.volume);
            }
        }
        self
    }
}

/// A payload that ended early or held an impossible value.
#[derive(Debug)]
pub struct Malformed(pub &'static str);

/// Reads fields back, checking bounds on every read.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(Malformed("length overflow"))?;
        let s = self.buf.get(self.pos..end).ok_or(Malformed("truncated"))?;
        self.pos = end;
        Ok(s)
    }

    fn arr<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        Ok(self.take(N)?.try_into().expect("length checked"))
    }

    pub fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    pub fn u64(&mut self) -> Result<u64, Malformed> {
        Ok(u64::from_le_bytes(self.arr()?))
    }
    pub fn i64(&mut self) -> Result<i64, Malformed> {
        Ok(i64::from_le_bytes(self.arr()?))
    }
    pub fn i128(&mut self) -> Result<i128, Malformed> {
        Ok(i128::from_le_bytes(self.arr()?))
    }
    pub fn f64(&mut self) -> Result<f64, Malformed> {
        Ok(f64::from_le_bytes(self.arr()?))
    }
    pub fn bool(&mut self) -> Result<bool, Malformed> {
        Ok(self.u8()? != 0)
    }
    pub fn str(&mut self) -> Result<&'a str, Malformed> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).map_err(|_| Malformed("invalid UTF-8"))
    }
    /// Whether everything was read.
    pub fn done(&self) -> bool {
        self.pos == self.buf.len()
    }

    pub fn config(&mut self) -> Result<BacktestConfig, Malformed> {
        let cash = Money::from_raw(self.i128()?);
        let timing = match self.u8()? {
            0 => FillTiming::NextOpen,
            1 => FillTiming::SameClose,
            _ => return Err(Malformed("fill timing")),
        };
        let fees = FeeModel {
            per_unit: Price::from_raw(self.i64()?),
            bps: Price::from_raw(self.i64()?),
            minimum: Money::from_raw(self.i128()?),
        };
        let (tag, v) = (self.u8()?, self.i64()?);
        let slippage = match tag {
            0 => Slippage::None,
            1 => Slippage::Bps(Price::from_raw(v)),
            2 => Slippage::Ticks(u32::try_from(v).map_err(|_| Malformed("ticks"))?),
            _ => return Err(Malformed("slippage")),
        };
        let max_leverage = self.f64()?;
        let (tag, p, q) = (self.u8()?, self.f64()?, self.i64()?);
        let sizing = match tag {
            0 => Sizing::Fixed(Quantity::from_raw(q)),
            1 => Sizing::PercentOfEquity(p),
            _ => return Err(Malformed("sizing")),
        };
        Ok(BacktestConfig {
            cash,
            fill: FillModel {
                timing,
                fees,
                slippage,
                max_leverage,
            },
            sizing,
            record: self.bool()?,
        })
    }

    pub fn series(&mut self) -> Result<Vec<BarSeries>, Malformed> {
        let n = self.u32()? as usize;
        let mut out = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let id = InstrumentId(self.u32()?);
            let symbol = self.str()?.to_string();
            let (pp, sp) = (self.u8()?, self.u8()?);
            let instrument =
                Instrument::new(id, symbol, pp, sp).map_err(|_| Malformed("instrument"))?;
            let count = self.u64()? as usize;
            if count > (self.buf.len() - self.pos) / 48 {
                return Err(Malformed("bar count"));
            }
            let mut bars = Vec::with_capacity(count);
            for _ in 0..count {
                bars.push(Bar {
                    ts: Timestamp::from_nanos(self.i64()?),
                    open: Price::from_raw(self.i64()?),
                    high: Price::from_raw(self.i64()?),
                    low: Price::from_raw(self.i64()?),
                    close: Price::from_raw(self.i64()?),
                    volume: self.f64()?,
                });
            }
            out.push(BarSeries { instrument, bars });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_and_bars_round_trip() {
        let config = BacktestConfig {
            cash: Money::parse("12345.678").unwrap(),
            fill: FillModel {
                timing: FillTiming::SameClose,
                fees: FeeModel {
                    per_unit: Price::parse("0.01").unwrap(),
                    bps: Price::parse("1.5").unwrap(),
                    minimum: Money::parse("1").unwrap(),
                },
                slippage: Slippage::Ticks(2),
                max_leverage: 2.0,
            },
            sizing: Sizing::PercentOfEquity(95.0),
            record: true,
        };
        let data = vec![BarSeries {
            instrument: Instrument::new(InstrumentId(0), "ACME", 2, 0).unwrap(),
            bars: vec![Bar {
                ts: Timestamp::from_secs(86_400),
                open: Price::parse("1.5").unwrap(),
                high: Price::parse("2").unwrap(),
                low: Price::parse("1").unwrap(),
                close: Price::parse("1.75").unwrap(),
                volume: 10.5,
            }],
        }];
        let mut w = Writer::default();
        w.config(&config).series(&data);
        let mut r = Reader::new(&w.0);
        assert_eq!(r.config().unwrap(), config);
        let back = r.series().unwrap();
        assert!(r.done());
        assert_eq!(back[0].bars, data[0].bars);
        assert_eq!(back[0].instrument, data[0].instrument);
        // Every truncation is an error, never a panic.
        for cut in 0..w.0.len() {
            let mut r = Reader::new(&w.0[..cut]);
            assert!(r.config().and_then(|_| r.series()).is_err());
        }
    }
}
