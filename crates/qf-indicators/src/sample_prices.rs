//! Test-only price data: a deterministic random walk for long runs, proptest strategies
//! for short ones, and a check that non-finite inputs leave an indicator untouched.

use proptest::prelude::*;

/// Marsaglia's xorshift64: tiny, deterministic, and good enough to wiggle prices.
pub(crate) struct XorShift64(u64);

impl XorShift64 {
    pub(crate) fn new(seed: u64) -> Self {
        // A zero state would stay zero forever.
        Self(seed.max(1))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Prices with two decimals that wander around 100: a random walk with a gentle pull
/// back towards 100 so that a million steps stay in a realistic range.
pub(crate) fn random_walk(len: usize, seed: u64) -> Vec<f64> {
    let mut rng = XorShift64::new(seed);
    let mut price = 100.0_f64;
    (0..len)
        .map(|_| {
            let step = rng.next_f64() - 0.5;
            price += step + 0.001 * (100.0 - price);
            price = ((price * 100.0).round() / 100.0).max(0.01);
            price
        })
        .collect()
}

/// A [`random_walk`] with a few wild prints (as from a bad tick) at fixed places.
pub(crate) fn walk_with_bad_ticks(len: usize, seed: u64) -> Vec<f64> {
    let mut xs = random_walk(len, seed);
    for (at, wild) in [
        (len / 5, 1.234_567e12 + 0.37),
        (len / 2, -3.3e15 + 0.7),
        (len * 4 / 5, 7e9 + 0.123),
    ] {
        if at < len {
            xs[at] = wild;
        }
    }
    xs
}

/// Whether a window holds one of the wild prints of [`walk_with_bad_ticks`].
pub(crate) fn holds_bad_tick(window: &[f64]) -> bool {
    window.iter().any(|x| x.abs() > 1e6)
}

/// `(high, low, close)` bars built around [`random_walk`] closes.
pub(crate) fn random_bars(len: usize, seed: u64) -> Vec<(f64, f64, f64)> {
    let mut rng = XorShift64::new(seed ^ 0x9e37_79b9_7f4a_7c15);
    random_walk(len, seed)
        .into_iter()
        .map(|mid| {
            let high = mid + rng.next_f64();
            let low = mid - rng.next_f64();
            let close = low + (high - low) * rng.next_f64();
            (high, low, close)
        })
        .collect()
}

/// Short price series of several shapes: independent draws, a walk that may cross
/// zero, and small integers full of ties and flat stretches.
pub(crate) fn prices() -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        prop::collection::vec(1.0..1000.0_f64, 0..160),
        (
            50.0..500.0_f64,
            prop::collection::vec(-5.0..5.0_f64, 0..160)
        )
            .prop_map(|(start, steps)| {
                steps
                    .into_iter()
                    .scan(start, |p, s| {
                        *p += s;
                        Some(*p)
                    })
                    .collect()
            }),
        prop::collection::vec((0..5_i32).prop_map(f64::from), 0..120),
    ]
}

/// Short `(high, low, close)` series with `low <= close <= high`.
pub(crate) fn bars() -> impl Strategy<Value = Vec<(f64, f64, f64)>> {
    prop::collection::vec(
        (1.0..1000.0_f64, 0.0..20.0_f64, 0.0..20.0_f64, 0.0..=1.0_f64),
        0..160,
    )
    .prop_map(|raw| {
        raw.into_iter()
            .map(|(mid, up, down, at)| {
                let (high, low) = (mid + up, mid - down);
                (high, low, low + (high - low) * at)
            })
            .collect()
    })
}

/// NaN or an infinity.
pub(crate) fn non_finite() -> impl Strategy<Value = f64> {
    prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)]
}

/// A clean series and the same series with non-finite values slipped in between.
pub(crate) fn prices_with_junk() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
    (
        prices(),
        prop::collection::vec((0..200_usize, non_finite()), 0..20),
    )
        .prop_map(|(clean, junk)| {
            let mut noisy = clean.clone();
            // Insert from the back so earlier positions stay meaningful.
            let mut junk = junk;
            junk.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
            for (at, x) in junk {
                noisy.insert(at.min(noisy.len()), x);
            }
            (clean, noisy)
        })
}

/// Feeds `clean` to `reference` and `noisy` to `tested`, and asserts that every
/// non-finite value in `noisy` returned the current value without changing state,
/// i.e. both indicators agree bit for bit on every finite value.
pub(crate) fn assert_skips_non_finite<I, T: PartialEq + std::fmt::Debug + Clone>(
    mut reference: I,
    mut tested: I,
    update: impl Fn(&mut I, f64) -> Option<T>,
    clean: &[f64],
    noisy: &[f64],
) {
    let mut clean_iter = clean.iter();
    let mut last: Option<T> = None;
    for &x in noisy {
        let got = update(&mut tested, x);
        if x.is_finite() {
            let c = *clean_iter.next().expect("noisy holds every clean value");
            assert_eq!(x, c);
            last = update(&mut reference, c);
        }
        assert_eq!(got, last, "after input {x}");
    }
}
