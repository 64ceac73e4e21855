//! The crate as an engine uses it: build indicators once, stream bars through them, and
//! never allocate per update.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use qf_indicators::{
    Atr, Bollinger, Cross, CrossSignal, Ema, IndicatorError, Macd, RollingMax, RollingMin,
    RollingStd, Rsi, Sma, Wma,
};

/// Counts allocations made by the current thread, so parallel tests do not interfere.
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: defers every operation to the system allocator; only adds a counter.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// Deterministic bars: a xorshift random walk around 100 with two-decimal prices.
fn bars(len: usize) -> Vec<(f64, f64, f64)> {
    let mut state = 0x5eed_u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut close = 100.0_f64;
    (0..len)
        .map(|_| {
            close = ((close + uniform() - 0.5) * 100.0).round() / 100.0;
            (close + uniform(), close - uniform(), close)
        })
        .collect()
}

/// Every indicator of the crate, configured the way a strategy typically would.
struct Kit {
    sma: Sma,
    ema: Ema,
    wma: Wma,
    rsi: Rsi,
    std: RollingStd,
    sample_std: RollingStd,
    max: RollingMax,
    min: RollingMin,
    macd: Macd,
    atr: Atr,
    bands: Bollinger,
    cross: Cross,
}

impl Kit {
    fn new() -> Result<Self, IndicatorError> {
        Ok(Self {
            sma: Sma::new(20)?,
            ema: Ema::new(20)?,
            wma: Wma::new(20)?,
            rsi: Rsi::new(14)?,
            std: RollingStd::new(20)?,
            sample_std: RollingStd::sample(20)?,
            max: RollingMax::new(55)?,
            min: RollingMin::new(55)?,
            macd: Macd::new(12, 26, 9)?,
            atr: Atr::new(14)?,
            bands: Bollinger::new(20, 2.0)?,
            cross: Cross::new(),
        })
    }

    /// Feeds one bar to everything; returns how many indicators were ready and the
    /// crossover of the EMA against the SMA.
    fn on_bar(&mut self, (high, low, close): (f64, f64, f64)) -> (usize, CrossSignal) {
        let ready = [
            self.sma.update(close).is_some(),
            self.ema.update(close).is_some(),
            self.wma.update(close).is_some(),
            self.rsi.update(close).is_some(),
            self.std.update(close).is_some(),
            self.sample_std.update(close).is_some(),
            self.max.update(high).is_some(),
            self.min.update(low).is_some(),
            self.macd.update(close).is_some(),
            self.atr.update(high, low, close).is_some(),
            self.bands.update(close).is_some(),
        ];
        let signal = match (self.ema.value(), self.sma.value()) {
            (Some(fast), Some(slow)) => self.cross.update(fast, slow),
            _ => CrossSignal::None,
        };
        (ready.iter().filter(|r| **r).count(), signal)
    }

    fn reset(&mut self) {
        self.sma.reset();
        self.ema.reset();
        self.wma.reset();
        self.rsi.reset();
        self.std.reset();
        self.sample_std.reset();
        self.max.reset();
        self.min.reset();
        self.macd.reset();
        self.atr.reset();
        self.bands.reset();
        self.cross.reset();
    }
}

#[test]
fn updates_never_allocate_after_construction() {
    let bars = bars(100_000);
    let at_start = allocations();
    let mut kit = Kit::new().unwrap();
    let before = allocations();
    assert!(
        before > at_start,
        "the counter should see the windows being allocated"
    );
    let mut signals = 0;
    for &bar in &bars {
        signals += usize::from(kit.on_bar(bar).1 != CrossSignal::None);
    }
    kit.reset();
    for &bar in &bars[..1_000] {
        kit.on_bar(bar);
    }
    kit.on_bar((f64::NAN, f64::INFINITY, f64::NEG_INFINITY));
    assert_eq!(allocations() - before, 0, "an update or reset allocated");
    assert!(
        signals > 0,
        "a 100k-bar walk should produce some crossovers"
    );
}

#[test]
fn everything_is_ready_after_the_longest_warm_up_and_not_before() {
    let bars = bars(200);
    let mut kit = Kit::new().unwrap();
    let ready: Vec<usize> = bars.iter().map(|&bar| kit.on_bar(bar).0).collect();
    // The longest warm-ups: rolling max/min (55 bars) and MACD (26 + 9 - 1 = 34 bars).
    assert!(ready[..54].iter().all(|&n| n < 11));
    assert!(ready[54..].iter().all(|&n| n == 11));
    // After 20 bars the 20-period indicators are ready, RSI (15) and ATR (14) too.
    assert_eq!(ready[19], 8);
}

#[test]
fn runs_are_deterministic_and_reset_means_fresh() {
    let bars = bars(5_000);
    let run = |kit: &mut Kit| -> Vec<(Option<f64>, Option<f64>, Option<f64>)> {
        bars.iter()
            .map(|&bar| {
                kit.on_bar(bar);
                (
                    kit.wma.value(),
                    kit.std.value(),
                    kit.macd.value().map(|m| m.histogram),
                )
            })
            .collect()
    };
    let mut kit = Kit::new().unwrap();
    let first = run(&mut kit);
    kit.reset();
    let after_reset = run(&mut kit);
    let fresh = run(&mut Kit::new().unwrap());
    // Bit-for-bit equality: the same inputs must give the same outputs.
    assert_eq!(first, after_reset);
    assert_eq!(first, fresh);
}

#[test]
fn indicators_can_move_between_threads() {
    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync_clone::<Sma>();
    assert_send_sync_clone::<Ema>();
    assert_send_sync_clone::<Wma>();
    assert_send_sync_clone::<Rsi>();
    assert_send_sync_clone::<RollingStd>();
    assert_send_sync_clone::<RollingMax>();
    assert_send_sync_clone::<RollingMin>();
    assert_send_sync_clone::<Macd>();
    assert_send_sync_clone::<Atr>();
    assert_send_sync_clone::<Bollinger>();
    assert_send_sync_clone::<Cross>();
}

#[test]
fn construction_errors_work_with_question_mark_in_an_application() {
    fn build(period: usize) -> Result<Sma, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Sma::new(period)?)
    }
    let err = build(0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "SMA period must be at least 1, got 0; pass the number of values the indicator should span"
    );
    assert!(build(5).is_ok());
}
