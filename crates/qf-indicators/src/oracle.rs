//! Test-only naive references: each indicator transcribed straight from its textbook
//! definition, recomputing from the whole window (or whole history, for the recursive
//! ones) at every step. Slow on purpose; the incremental code must agree with these.

/// Relative agreement to 1e-9, measured against `scale` when the expected value itself
/// is near zero (for example a MACD line oscillating around zero on prices near 100).
pub(crate) fn close(actual: f64, expected: f64, scale: f64) -> bool {
    (actual - expected).abs() <= 1e-9 * expected.abs().max(scale).max(f64::MIN_POSITIVE)
}

/// Largest magnitude in `xs`, used as the scale for [`close`].
pub(crate) fn magnitude(xs: &[f64]) -> f64 {
    xs.iter().fold(0.0_f64, |m, x| m.max(x.abs()))
}

fn windows(xs: &[f64], period: usize) -> impl Iterator<Item = Option<&[f64]>> {
    (0..xs.len()).map(move |i| (i + 1 >= period).then(|| &xs[i + 1 - period..=i]))
}

fn mean(w: &[f64]) -> f64 {
    w.iter().sum::<f64>() / w.len() as f64
}

pub(crate) fn sma(xs: &[f64], period: usize) -> Vec<Option<f64>> {
    windows(xs, period).map(|w| w.map(mean)).collect()
}

pub(crate) fn wma(xs: &[f64], period: usize) -> Vec<Option<f64>> {
    windows(xs, period)
        .map(|w| {
            w.map(|w| {
                let weighted: f64 = w.iter().enumerate().map(|(i, x)| (i + 1) as f64 * x).sum();
                weighted / (period * (period + 1) / 2) as f64
            })
        })
        .collect()
}

/// Two-pass standard deviation with `ddof` degrees of freedom removed (0 = population).
pub(crate) fn std(xs: &[f64], period: usize, ddof: usize) -> Vec<Option<f64>> {
    windows(xs, period)
        .map(|w| {
            w.map(|w| {
                let m = mean(w);
                let ss: f64 = w.iter().map(|x| (x - m) * (x - m)).sum();
                (ss / (w.len() - ddof) as f64).sqrt()
            })
        })
        .collect()
}

pub(crate) fn max(xs: &[f64], period: usize) -> Vec<Option<f64>> {
    windows(xs, period)
        .map(|w| w.map(|w| w.iter().copied().fold(f64::NEG_INFINITY, f64::max)))
        .collect()
}

pub(crate) fn min(xs: &[f64], period: usize) -> Vec<Option<f64>> {
    windows(xs, period)
        .map(|w| w.map(|w| w.iter().copied().fold(f64::INFINITY, f64::min)))
        .collect()
}

/// EMA seeded with the mean of the first `period` values, then
/// `ema = alpha * x + (1 - alpha) * ema`.
pub(crate) fn ema(xs: &[f64], period: usize) -> Vec<Option<f64>> {
    let alpha = 2.0 / (period as f64 + 1.0);
    let mut out = Vec::with_capacity(xs.len());
    let mut ema = None;
    for i in 0..xs.len() {
        ema = match ema {
            None if i + 1 == period => Some(mean(&xs[..period])),
            None => None,
            Some(prev) => Some(alpha * xs[i] + (1.0 - alpha) * prev),
        };
        out.push(ema);
    }
    out
}

/// Wilder's RSI: simple means of the first `period` gains and losses, then
/// `avg = (avg * (period - 1) + new) / period`; RSI = 100 - 100 / (1 + RS).
pub(crate) fn rsi(xs: &[f64], period: usize) -> Vec<Option<f64>> {
    let n = period as f64;
    let mut out = vec![None; xs.len().min(period)];
    let (mut avg_gain, mut avg_loss) = (0.0, 0.0);
    for i in period..xs.len() {
        let change = |j: usize| xs[j] - xs[j - 1];
        if i == period {
            avg_gain = (1..=period).map(|j| change(j).max(0.0)).sum::<f64>() / n;
            avg_loss = (1..=period).map(|j| (-change(j)).max(0.0)).sum::<f64>() / n;
        } else {
            avg_gain = (avg_gain * (n - 1.0) + change(i).max(0.0)) / n;
            avg_loss = (avg_loss * (n - 1.0) + (-change(i)).max(0.0)) / n;
        }
        out.push(Some(if avg_loss == 0.0 {
            if avg_gain == 0.0 { 50.0 } else { 100.0 }
        } else {
            100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
        }));
    }
    out
}

/// `(macd, signal, histogram)` from EMA series computed over the whole history.
pub(crate) fn macd(
    xs: &[f64],
    fast: usize,
    slow: usize,
    signal: usize,
) -> Vec<Option<(f64, f64, f64)>> {
    let (f, s) = (ema(xs, fast), ema(xs, slow));
    let line: Vec<f64> = f
        .iter()
        .zip(&s)
        .filter_map(|(f, s)| Some((*f)? - (*s)?))
        .collect();
    let sig = ema(&line, signal);
    let mut out = vec![None; xs.len().min(slow - 1)];
    out.extend(
        line.iter()
            .zip(sig)
            .map(|(m, sg)| sg.map(|sg| (*m, sg, m - sg))),
    );
    out
}

/// Wilder's ATR over `(high, low, close)` bars.
pub(crate) fn atr(bars: &[(f64, f64, f64)], period: usize) -> Vec<Option<f64>> {
    let tr: Vec<f64> = bars
        .iter()
        .enumerate()
        .map(|(i, &(h, l, _))| {
            if i == 0 {
                h - l
            } else {
                let pc = bars[i - 1].2;
                (h - l).max((h - pc).abs()).max((l - pc).abs())
            }
        })
        .collect();
    let n = period as f64;
    let mut out = Vec::with_capacity(bars.len());
    let mut atr = None;
    for i in 0..tr.len() {
        atr = match atr {
            None if i + 1 == period => Some(mean(&tr[..period])),
            None => None,
            Some(prev) => Some((prev * (n - 1.0) + tr[i]) / n),
        };
        out.push(atr);
    }
    out
}
