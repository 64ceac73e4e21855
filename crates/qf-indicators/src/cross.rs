//! Crossover detection between two series, e.g. a fast and a slow moving average.

/// What happened between two series on the latest update of a [`Cross`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrossSignal {
    /// `a` moved from at-or-below `b` to strictly above it.
    Above,
    /// `a` moved from at-or-above `b` to strictly below it.
    Below,
    /// No crossing (including the first update and skipped non-finite inputs).
    None,
}

/// Whether `a` crossed above `b`: it was at or below (`prev_a <= prev_b`) and is now
/// strictly above (`a > b`). Any NaN makes it `false`.
#[inline]
pub fn crossed_above(prev_a: f64, prev_b: f64, a: f64, b: f64) -> bool {
    prev_a <= prev_b && a > b
}

/// Whether `a` crossed below `b`: it was at or above (`prev_a >= prev_b`) and is now
/// strictly below (`a < b`). Any NaN makes it `false`.
#[inline]
pub fn crossed_below(prev_a: f64, prev_b: f64, a: f64, b: f64) -> bool {
    prev_a >= prev_b && a < b
}

/// Detects when series `a` crosses series `b`, one pair of values at a time, using
/// [`crossed_above`] and [`crossed_below`] against the previous pair.
///
/// Touching counts as the "before" side: `a` going from equal to above is a cross
/// above, so a series that touches `b` and bounces away signals again. The first update
/// never signals, having nothing to compare with. A pair with a non-finite value (NaN,
/// ±inf, e.g. an indicator still warming up fed in as NaN) returns
/// [`CrossSignal::None`] and is not remembered, so the next pair is compared with the
/// last finite one.
///
/// ```
/// use qf_indicators::{Cross, CrossSignal};
/// let mut cross = Cross::new();
/// assert_eq!(cross.update(1.0, 2.0), CrossSignal::None); // first pair
/// assert_eq!(cross.update(3.0, 2.0), CrossSignal::Above);
/// assert_eq!(cross.update(f64::NAN, 2.0), CrossSignal::None); // skipped
/// assert_eq!(cross.update(1.0, 2.0), CrossSignal::Below); // compared with (3, 2)
/// ```
#[derive(Debug, Clone, Default)]
pub struct Cross {
    previous: Option<(f64, f64)>,
}

impl Cross {
    /// A detector that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the current values of both series and reports whether `a` just crossed `b`.
    #[inline]
    pub fn update(&mut self, a: f64, b: f64) -> CrossSignal {
        if !(a.is_finite() && b.is_finite()) {
            return CrossSignal::None;
        }
        let Some((prev_a, prev_b)) = self.previous.replace((a, b)) else {
            return CrossSignal::None;
        };
        if crossed_above(prev_a, prev_b, a, b) {
            CrossSignal::Above
        } else if crossed_below(prev_a, prev_b, a, b) {
            CrossSignal::Below
        } else {
            CrossSignal::None
        }
    }

    /// Forgets the previous pair, so the next update cannot signal.
    pub fn reset(&mut self) {
        self.previous = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Naive reference: keep only finite pairs and compare each with the one before,
    /// spelled out case by case.
    fn naive(pairs: &[(f64, f64)]) -> Vec<CrossSignal> {
        let mut out = Vec::new();
        let mut last: Option<(f64, f64)> = None;
        for &(a, b) in pairs {
            if !a.is_finite() || !b.is_finite() {
                out.push(CrossSignal::None);
                continue;
            }
            let signal = match last {
                None => CrossSignal::None,
                Some((pa, pb)) => {
                    let was_above = pa > pb;
                    let was_below = pa < pb;
                    let is_above = a > b;
                    let is_below = a < b;
                    if !was_above && is_above {
                        CrossSignal::Above
                    } else if !was_below && is_below {
                        CrossSignal::Below
                    } else {
                        CrossSignal::None
                    }
                }
            };
            out.push(signal);
            last = Some((a, b));
        }
        out
    }

    fn value() -> impl Strategy<Value = f64> {
        // Small integers make ties common; NaN and infinities exercise skipping.
        prop_oneof![
            8 => (0..4_i32).prop_map(f64::from),
            2 => -10.0..10.0_f64,
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
        ]
    }

    proptest! {
        #[test]
        fn matches_naive_rule_at_every_step(pairs in prop::collection::vec((value(), value()), 0..100)) {
            let mut cross = Cross::new();
            let got: Vec<_> = pairs.iter().map(|&(a, b)| cross.update(a, b)).collect();
            prop_assert_eq!(got, naive(&pairs));
        }

        #[test]
        fn free_functions_never_both_fire(pa in value(), pb in value(), a in value(), b in value()) {
            prop_assert!(!(crossed_above(pa, pb, a, b) && crossed_below(pa, pb, a, b)));
        }
    }

    #[test]
    fn free_functions_follow_the_stated_rule() {
        assert!(crossed_above(1.0, 2.0, 3.0, 2.0));
        assert!(
            crossed_above(2.0, 2.0, 3.0, 2.0),
            "touching counts as below before"
        );
        assert!(!crossed_above(3.0, 2.0, 4.0, 2.0), "already above");
        assert!(!crossed_above(1.0, 2.0, 2.0, 2.0), "touching is not above");
        assert!(crossed_below(3.0, 2.0, 1.0, 2.0));
        assert!(crossed_below(2.0, 2.0, 1.0, 2.0));
        assert!(!crossed_below(1.0, 2.0, 0.0, 2.0));
        assert!(!crossed_below(3.0, 2.0, 2.0, 2.0));
        for nan_at in 0..4 {
            let mut args = [1.0, 2.0, 3.0, 2.0];
            args[nan_at] = f64::NAN;
            let [pa, pb, a, b] = args;
            assert!(!crossed_above(pa, pb, a, b) && !crossed_below(pa, pb, a, b));
        }
    }

    #[test]
    fn never_signals_on_the_first_update() {
        let mut cross = Cross::new();
        assert_eq!(cross.update(5.0, 1.0), CrossSignal::None);
        assert_eq!(cross.update(5.0, 1.0), CrossSignal::None);
        assert_eq!(cross.update(0.0, 1.0), CrossSignal::Below);
    }

    #[test]
    fn touch_and_bounce_signals_again() {
        let mut cross = Cross::new();
        let signals: Vec<_> = [(2.0, 1.0), (1.0, 1.0), (2.0, 1.0), (1.0, 1.0), (0.0, 1.0)]
            .into_iter()
            .map(|(a, b)| cross.update(a, b))
            .collect();
        use CrossSignal::{Above, Below, None};
        assert_eq!(signals, [None, None, Above, None, Below]);
    }

    #[test]
    fn non_finite_pairs_are_not_remembered() {
        let mut cross = Cross::new();
        assert_eq!(cross.update(f64::NAN, 1.0), CrossSignal::None);
        assert_eq!(
            cross.update(0.0, 1.0),
            CrossSignal::None,
            "first finite pair"
        );
        assert_eq!(cross.update(5.0, f64::NAN), CrossSignal::None);
        assert_eq!(cross.update(f64::INFINITY, 1.0), CrossSignal::None);
        assert_eq!(
            cross.update(2.0, 1.0),
            CrossSignal::Above,
            "compared with (0, 1)"
        );
    }

    #[test]
    fn reset_forgets_the_previous_pair() {
        let mut cross = Cross::new();
        cross.update(0.0, 1.0);
        cross.reset();
        assert_eq!(cross.update(2.0, 1.0), CrossSignal::None);
    }
}
