//! The typed form of guards and actions: numbers and conditions as separate trees, every
//! name resolved to an index. The checker produces it with parameters and indicator slots
//! symbolic; `build` substitutes parameter values, folds constants and renumbers indicator
//! lines, and the machine evaluates the result with no lookups.
//!
//! Trees are at most [`super::MAX_NESTING`] deep (the parser's limit), so the recursive
//! passes over them are safe.

/// A bar field of the bar being decided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Open,
    High,
    Low,
    Close,
    Volume,
}

/// Something with a previous value: an indicator line or a bar field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Series {
    Field(Field),
    /// An indicator slot (checked form) or a line index (built form).
    Line(u16),
}

/// Arithmetic on two numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Min,
    Max,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// An expression whose value is a number (NaN while an input warms up).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Num {
    Const(f64),
    /// A declared parameter; replaced by its value in `build`.
    Param(u16),
    Field(Field),
    Position,
    Cash,
    Equity,
    BarsInState,
    BarIndex,
    Var(u16),
    Line(u16),
    Prev(Series),
    Neg(Box<Num>),
    Abs(Box<Num>),
    Arith(Arith, Box<Num>, Box<Num>),
}

/// One side of a crossing: a series with its own previous value, or a level evaluated on
/// the current bar and used for both bars.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Series(Series),
    Level(Num),
}

/// An expression whose value is true or false.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    Const(bool),
    Cmp(Cmp, Num, Num),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Cross {
        above: bool,
        a: Operand,
        b: Operand,
    },
    /// Two indicator lines, compared by the engine exactly as native strategies do
    /// (`Context::crossed_above`). Only produced by `build`.
    CrossLines {
        above: bool,
        a: u16,
        b: u16,
    },
    Ready(Series),
}

/// What an action does.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ActionKind {
    EnterLong,
    EnterShort,
    Close,
    CancelAll,
    TargetPercent(Num),
    TargetQuantity(Num),
    Buy(Num),
    Sell(Num),
    Limit(Num, Num),
    Stop(Num, Num),
    Set(u16, Num),
    Wait(Num),
}

/// An action and where it is written, for runtime errors.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Action {
    pub kind: ActionKind,
    /// `file:line:col` of the action's text.
    pub at: Box<str>,
    /// The action as written.
    pub text: Box<str>,
}

/// `a op b` with division by zero giving NaN and NaN propagating through `min`/`max` (whose
/// `f64` versions would drop it and hide a warming-up input).
#[inline]
pub(crate) fn arith(op: Arith, a: f64, b: f64) -> f64 {
    match op {
        Arith::Add => a + b,
        Arith::Sub => a - b,
        Arith::Mul => a * b,
        Arith::Div => {
            if b == 0.0 {
                f64::NAN
            } else {
                a / b
            }
        }
        Arith::Min => {
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else {
                a.min(b)
            }
        }
        Arith::Max => {
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else {
                a.max(b)
            }
        }
    }
}

/// `a op b`; false whenever either side is NaN, `!=` included.
#[inline]
pub(crate) fn compare(op: Cmp, a: f64, b: f64) -> bool {
    match op {
        Cmp::Lt => a < b,
        Cmp::Le => a <= b,
        Cmp::Gt => a > b,
        Cmp::Ge => a >= b,
        Cmp::Eq => a == b,
        // Not `a != b`, which is true when either side is NaN.
        #[allow(clippy::double_comparisons)]
        Cmp::Ne => a < b || a > b,
    }
}

impl Num {
    /// Calls `f` on every node of the tree, this one first.
    pub(crate) fn visit(&self, f: &mut impl FnMut(&Num)) {
        f(self);
        match self {
            Num::Neg(x) | Num::Abs(x) => x.visit(f),
            Num::Arith(_, a, b) => {
                a.visit(f);
                b.visit(f);
            }
            _ => {}
        }
    }
}

impl Cond {
    /// Calls `f` on every number inside, and `g` on every condition node.
    pub(crate) fn visit(&self, f: &mut impl FnMut(&Num), g: &mut impl FnMut(&Cond)) {
        g(self);
        match self {
            Cond::Cmp(_, a, b) => {
                a.visit(f);
                b.visit(f);
            }
            Cond::And(a, b) | Cond::Or(a, b) => {
                a.visit(f, g);
                b.visit(f, g);
            }
            Cond::Not(a) => a.visit(f, g),
            Cond::Cross { a, b, .. } => {
                for o in [a, b] {
                    if let Operand::Level(n) = o {
                        n.visit(f);
                    }
                }
            }
            Cond::Const(_) | Cond::CrossLines { .. } | Cond::Ready(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_makes_every_comparison_false() {
        for op in [Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge, Cmp::Eq, Cmp::Ne] {
            assert!(!compare(op, f64::NAN, 1.0));
            assert!(!compare(op, 1.0, f64::NAN));
        }
        assert!(compare(Cmp::Ne, 1.0, 2.0));
        assert!(arith(Arith::Div, 1.0, 0.0).is_nan());
        assert!(arith(Arith::Min, f64::NAN, 1.0).is_nan());
        assert_eq!(arith(Arith::Max, -1.0, 2.0), 2.0);
    }
}
