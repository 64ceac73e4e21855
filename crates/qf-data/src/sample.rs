//! The built-in demo data: a deterministic, realistic-looking one-minute OHLCV random walk.
//!
//! The generator is a self-written SplitMix64 with Box–Muller normals rather than the `rand`
//! crate, because the demo data must be the same, byte for byte, for a given seed forever:
//! tutorials, golden files and bug reports quote it, and `rand` is free to change its
//! algorithms and their output between versions. SplitMix64 is a fixed, published
//! algorithm in a dozen lines. The walk uses only `+`, `×`, `sqrt` (exact in IEEE 754),
//! `ln` and `cos`; the last two come from the platform's maths library, and a last-bit
//! difference there could only show after rounding to cents on a knife-edge value.
//!
//! Shape: a geometric random walk from 100.00 whose drift and volatility change in slow
//! regimes (a few days to two weeks of minutes each, volatility gliding towards each new
//! level rather than jumping) with a weak pull back towards 100 over months, so a million
//! bars stay in a plausible range while strategies still find trends to follow.

use qf_core::{Bar, BarSeries, Instrument, InstrumentId, Price, Timestamp};

/// 2020-01-02T00:00:00Z.
const START_SECS: i64 = 1_577_923_200;
/// Bar spacing.
const BAR_SECS: i64 = 60;
/// Raw price units per cent.
const CENT: i64 = 10_000_000;

/// The SplitMix64 generator (Steele, Lea and Flood, 2014).
#[derive(Debug, Clone)]
struct SplitMix64 {
    state: u64,
    /// The second normal of the last Box–Muller pair, not yet used.
    spare: Option<f64>,
}

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        Self {
            state: seed,
            spare: None,
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), with 53 random bits.
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal by the Box–Muller transform, both values of each pair used.
    fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        // 1 - u is in (0, 1], so the logarithm is finite.
        let radius = (-2.0 * (1.0 - self.uniform()).ln()).sqrt();
        let angle = std::f64::consts::TAU * self.uniform();
        self.spare = Some(radius * angle.sin());
        radius * angle.cos()
    }
}

/// One market regime: a drift and a volatility per minute, for a number of bars.
#[derive(Debug, Clone, Copy)]
struct Regime {
    drift: f64,
    volatility: f64,
    bars_left: u64,
}

impl Regime {
    fn draw(rng: &mut SplitMix64) -> Self {
        let u = rng.uniform();
        Self {
            drift: 1.5e-5 * rng.normal(),
            // Between 0.03 % and 0.15 % a minute, calm regimes more common than wild ones.
            volatility: 0.0003 + 0.0012 * u * u,
            bars_left: 2_000 + (rng.uniform() * 18_000.0) as u64,
        }
    }
}

/// `bars` one-minute bars of `symbol` from 2020-01-02T00:00:00Z, the same for the same seed
/// on every run and every version: prices with two decimals around 100.00, consistent OHLC,
/// whole-number volumes; instrument id 0, price precision 2, size precision 0.
pub fn sample_bars(symbol: &str, bars: usize, seed: u64) -> BarSeries {
    let instrument = Instrument {
        id: InstrumentId(0),
        symbol: symbol.to_string(),
        price_precision: 2,
        size_precision: 0,
    };
    let mut rng = SplitMix64::new(seed);
    let mut regime = Regime::draw(&mut rng);
    let mut volatility = regime.volatility;
    let mut level = 100.0f64;
    let mut close_cents: i64 = 10_000;
    let mut out = Vec::with_capacity(bars);
    for i in 0..bars {
        if regime.bars_left == 0 {
            regime = Regime::draw(&mut rng);
        }
        regime.bars_left -= 1;
        volatility += (regime.volatility - volatility) * 0.002;
        let pull = -5e-6 * (level / 100.0).ln();
        let ret = (regime.drift + pull + volatility * rng.normal()).max(-0.5);
        level *= 1.0 + ret;

        let open_cents = close_cents;
        close_cents = ((level * 100.0).round() as i64).max(1);
        let body_high = open_cents.max(close_cents);
        let body_low = open_cents.min(close_cents);
        let wick = |z: f64| (z.abs() * volatility * level * 50.0).round() as i64;
        let high_cents = body_high + wick(rng.normal());
        let low_cents = (body_low - wick(rng.normal())).max(1);
        // Busier when the price moves more than usual for the regime.
        let activity = 1.0 + 0.5 * ret.abs() / volatility;
        let volume = (1_000.0 * (volatility / 0.0006) * (0.5 + rng.uniform()) * activity).round();

        out.push(Bar {
            ts: Timestamp::from_secs(START_SECS + i as i64 * BAR_SECS),
            open: Price::from_raw(open_cents * CENT),
            high: Price::from_raw(high_cents * CENT),
            low: Price::from_raw(low_cents * CENT),
            close: Price::from_raw(close_cents * CENT),
            volume: volume.max(1.0),
        });
    }
    BarSeries {
        instrument,
        bars: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_reference() {
        // First outputs for seed 1234567 from the reference C implementation.
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
    }

    /// FNV-1a over every field of every bar.
    fn fingerprint(series: &BarSeries) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in &series.bars {
            let fields = [
                b.ts.nanos(),
                b.open.raw(),
                b.high.raw(),
                b.low.raw(),
                b.close.raw(),
                b.volume.to_bits() as i64,
            ];
            for byte in fields.iter().flat_map(|v| v.to_le_bytes()) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
        hash
    }

    /// The demo data is pinned: if this fails, the generator changed and every tutorial,
    /// golden file and bug report quoting it is now wrong. Do not update the numbers; fix
    /// the generator.
    #[test]
    fn golden() {
        let s = sample_bars("DEMO", 100_000, 42);
        let first = s.bars[0];
        assert_eq!(
            (
                first.open.to_string(),
                first.high.to_string(),
                first.low.to_string()
            ),
            ("100".into(), "100.07".into(), "99.99".into())
        );
        assert_eq!(
            (first.close.to_string(), first.volume),
            ("100.06".into(), 1482.0)
        );
        let last = s.bars[99_999];
        assert_eq!(last.ts.to_string(), "2020-03-11T10:39:00Z");
        assert_eq!(last.close.to_string(), "107.21");
        assert_eq!(fingerprint(&s), 0x610f_e2e8_6cf1_70eb);
    }

    #[test]
    fn deterministic_and_seed_dependent() {
        assert_eq!(sample_bars("X", 500, 7), sample_bars("X", 500, 7));
        assert_ne!(sample_bars("X", 500, 7).bars, sample_bars("X", 500, 8).bars);
        // A prefix of a longer run is the shorter run.
        assert_eq!(
            sample_bars("X", 500, 7).bars[..],
            sample_bars("X", 1000, 7).bars[..500]
        );
    }

    #[test]
    fn bars_are_valid() {
        let s = sample_bars("DEMO", 50_000, 42);
        assert_eq!(s.instrument.price_precision, 2);
        assert_eq!(s.bars[0].ts.to_string(), "2020-01-02T00:00:00Z");
        assert_eq!(s.bars[0].open.to_string(), "100");
        for w in s.bars.windows(2) {
            assert_eq!(w[1].ts.nanos() - w[0].ts.nanos(), 60_000_000_000);
            assert_eq!(w[1].open, w[0].close);
        }
        for b in &s.bars {
            assert!(b.low.is_positive());
            assert!(b.high >= b.open.max(b.close) && b.low <= b.open.min(b.close));
            assert_eq!(b.volume.fract(), 0.0);
            assert!(b.volume >= 1.0);
            assert_eq!(b.close.raw() % CENT, 0);
        }
    }
}
