//! Min/max-per-column reduction of a long time series for drawing.
//!
//! A chart `columns` units wide cannot show more than one x position per unit, so each
//! column keeps only its lowest and highest point, in time order. The drawn line then still
//! reaches every peak and every trough of the full series (unlike every-n-th sampling, which
//! silently drops a one-bar crash), with at most `2 × columns + 2` vertices.

/// Streams `(time, value)` points in time order and keeps what a chart can show.
pub(crate) struct MinMaxReducer {
    t0: i64,
    /// Columns per nanosecond.
    scale: f64,
    columns: usize,
    keep_all: bool,
    current: Option<Column>,
    out: Vec<(i64, f64)>,
    first: Option<(i64, f64)>,
    last: Option<(i64, f64)>,
}

struct Column {
    index: usize,
    min: (i64, f64),
    max: (i64, f64),
}

impl MinMaxReducer {
    /// A reducer for points between `t0` and `t1` drawn `columns` units wide. If `points`
    /// (the number that will be pushed) already fits, every point is kept.
    pub(crate) fn new(t0: i64, t1: i64, columns: usize, points: usize) -> Self {
        let columns = columns.max(1);
        let span = t1.saturating_sub(t0);
        let keep_all = points <= 2 * columns;
        Self {
            t0,
            scale: if span > 0 {
                columns as f64 / span as f64
            } else {
                0.0
            },
            columns,
            keep_all,
            current: None,
            out: Vec::with_capacity(if keep_all { points } else { 2 * columns + 2 }),
            first: None,
            last: None,
        }
    }

    /// Adds the next point; non-finite values are skipped.
    #[inline]
    pub(crate) fn push(&mut self, t: i64, v: f64) {
        if !v.is_finite() {
            return;
        }
        if self.keep_all {
            self.out.push((t, v));
            return;
        }
        let index =
            (((t.saturating_sub(self.t0)) as f64 * self.scale) as usize).min(self.columns - 1);
        self.first.get_or_insert((t, v));
        self.last = Some((t, v));
        match &mut self.current {
            Some(c) if c.index == index => {
                // Strict comparisons keep the earliest of equal extremes.
                if v < c.min.1 {
                    c.min = (t, v);
                }
                if v > c.max.1 {
                    c.max = (t, v);
                }
            }
            _ => {
                self.flush();
                self.current = Some(Column {
                    index,
                    min: (t, v),
                    max: (t, v),
                });
            }
        }
    }

    fn flush(&mut self) {
        if let Some(c) = self.current.take() {
            let (a, b) = if c.min.0 <= c.max.0 {
                (c.min, c.max)
            } else {
                (c.max, c.min)
            };
            self.out.push(a);
            if b != a {
                self.out.push(b);
            }
        }
    }

    /// The kept points in time order, always including the series' first and last point.
    pub(crate) fn finish(mut self) -> Vec<(i64, f64)> {
        self.flush();
        if let Some(first) = self.first
            && self.out.first() != Some(&first)
        {
            self.out.insert(0, first);
        }
        if let Some(last) = self.last
            && self.out.last() != Some(&last)
        {
            self.out.push(last);
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reduce(values: &[f64], columns: usize) -> Vec<(i64, f64)> {
        let n = values.len();
        let mut r = MinMaxReducer::new(0, n as i64 - 1, columns, n);
        for (i, v) in values.iter().enumerate() {
            r.push(i as i64, *v);
        }
        r.finish()
    }

    #[test]
    fn short_series_are_kept_whole() {
        let v = [3.0, 1.0, 2.0];
        assert_eq!(reduce(&v, 10), vec![(0, 3.0), (1, 1.0), (2, 2.0)]);
    }

    #[test]
    fn a_one_point_crash_survives_reduction() {
        let mut v: Vec<f64> = (0..100_000).map(|i| 100.0 + (i % 7) as f64).collect();
        v[54_321] = 1.0;
        v[77_777] = 500.0;
        let kept = reduce(&v, 100);
        assert!(kept.len() <= 202, "{}", kept.len());
        assert!(kept.contains(&(54_321, 1.0)));
        assert!(kept.contains(&(77_777, 500.0)));
        assert_eq!(kept.first(), Some(&(0, 100.0)));
        assert_eq!(kept.last(), Some(&(99_999, 100.0 + (99_999 % 7) as f64)));
        assert!(kept.windows(2).all(|w| w[0].0 < w[1].0), "time order");
    }

    #[test]
    fn every_column_keeps_its_extremes() {
        let v: Vec<f64> = (0..10_000).map(|i| ((i * 7919) % 1000) as f64).collect();
        let kept = reduce(&v, 50);
        let column = |i: i64| ((i as f64 * 50.0 / 9_999.0) as usize).min(49);
        for c in 0..50usize {
            let in_column = |p: &(i64, f64)| column(p.0) == c;
            let all: Vec<(i64, f64)> = v
                .iter()
                .enumerate()
                .map(|(i, x)| (i as i64, *x))
                .filter(in_column)
                .collect();
            let lo = all.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
            let hi = all.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
            let shown: Vec<f64> = kept.iter().filter(|p| in_column(p)).map(|p| p.1).collect();
            assert!(shown.contains(&lo) && shown.contains(&hi), "column {c}");
        }
    }
}
