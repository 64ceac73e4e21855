//! The compiled state machine: one copy per instrument, evaluated on every bar with no
//! allocation, hashing or string work (names were resolved to indices by `build`).

use std::sync::Arc;

use qf_core::{Bar, InstrumentId, OrderId, Price, Quantity, Side, TimeInForce};
use qf_engine::strategies::Params;
use qf_engine::{Context, Line, OrderError, StartContext, Strategy, StrategyError};

use super::ir::{Action, ActionKind, Cond, Field, Num, Operand, Series, arith, compare};
use crate::indicator::IndicatorSpec;
use crate::ops::{MAX_PRICE, MAX_SIZE};
use crate::shown::float as show;

/// A transition ready to run.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub to: Option<u16>,
    pub when: Cond,
    pub reason: Arc<str>,
    pub actions: Vec<Action>,
}

/// How a candidate rule's guard is evaluated: the shapes that need no tree walk are decided
/// in the rule loop itself.
#[derive(Debug, Clone, Copy)]
enum Guard {
    /// `crossed_above` / `crossed_below` of two indicator lines, alone.
    Lines {
        above: bool,
        a: u16,
        b: u16,
    },
    /// Two candidates in a row that cross the same two lines in opposite directions (the
    /// usual "enter on the cross up, leave on the cross down"): both are decided from one
    /// evaluation of the pair, which the compiler shares between the two adjacent calls.
    /// The candidate's own rule is `first_above`'s; `second` is the other one's.
    Both {
        first_above: bool,
        a: u16,
        b: u16,
        second: u16,
    },
    Always,
    Never,
    /// Anything else: walk the rule's `when`.
    Tree,
}

impl Guard {
    fn of(c: &Cond) -> Guard {
        match *c {
            Cond::CrossLines { above, a, b } => Guard::Lines { above, a, b },
            Cond::Const(true) => Guard::Always,
            Cond::Const(false) => Guard::Never,
            _ => Guard::Tree,
        }
    }
}

/// A rule that may fire from some state, with its guard's shape.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    rule: u16,
    guard: Guard,
}

/// A candidate of one instrument, with its indicator lines resolved to the engine's handles
/// so the per-bar loop does no index arithmetic.
#[derive(Debug, Clone, Copy)]
enum Check {
    Lines {
        above: bool,
        a: Line,
        b: Line,
    },
    Both {
        first_above: bool,
        a: Line,
        b: Line,
        second: u16,
    },
    /// Decided by [`RulesStrategy::other`] from `candidates[index]`.
    Other {
        index: u32,
    },
}

#[derive(Debug, Clone, Copy)]
struct Resolved {
    rule: u16,
    check: Check,
}

/// Where one instrument's machine is.
#[derive(Debug, Clone)]
struct Slot {
    state: u16,
    /// This instrument's candidates for its current state: a range of
    /// `RulesStrategy::resolved`, kept here so a bar reads one struct.
    candidates: (u32, u32),
    /// Bars of this instrument since the current state was entered, this one included.
    bars_in_state: u64,
    /// Bars still to skip after `wait(n)`.
    wait: u64,
    /// Where this instrument's indicator lines start in `RulesStrategy::lines`.
    lines: u32,
    /// Where this instrument's block of `RulesStrategy::resolved` starts.
    resolved: u32,
}

/// A rules file compiled for one set of parameter values: a [`Strategy`] the engine runs
/// like a native one. Built by [`super::RulesProgram::build`].
pub struct RulesStrategy {
    pub(crate) file: Arc<str>,
    pub(crate) params: Params,
    /// Distinct indicators, registered once per instrument.
    pub(crate) specs: Vec<IndicatorSpec>,
    pub(crate) states: Vec<Arc<str>>,
    pub(crate) initial: u16,
    pub(crate) rules: Vec<Rule>,
    /// The rules that may fire from state `s` are `candidates[ranges[s].0..ranges[s].1]`,
    /// in file order: one flat table, so the per-bar loop touches one array.
    candidates: Vec<Candidate>,
    ranges: Vec<(u32, u32)>,
    pub(crate) var_init: Vec<f64>,
    pub(crate) uses_prev_bar: bool,
    /// No `wait`, no `bars_in_state` and no previous bar anywhere: a bar only picks a rule.
    plain: bool,
    /// Lines of instrument `i` are `lines[i * specs.len()..][..specs.len()]`.
    lines: Vec<Line>,
    /// `candidates` resolved for each instrument in turn: instrument `i`'s block is
    /// `resolved[i * candidates.len()..][..candidates.len()]`.
    resolved: Vec<Resolved>,
    slots: Vec<Slot>,
    /// The previous bar of each instrument, kept only if an expression reads it.
    prev_bars: Vec<Option<Bar>>,
    /// Vars of instrument `i` are `vars[i * var_init.len()..][..var_init.len()]`.
    vars: Vec<f64>,
}

impl std::fmt::Debug for RulesStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RulesStrategy")
            .field("file", &self.file)
            .field("states", &self.states)
            .field("rules", &self.rules.len())
            .finish_non_exhaustive()
    }
}

impl RulesStrategy {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        file: Arc<str>,
        params: Params,
        specs: Vec<IndicatorSpec>,
        states: Vec<Arc<str>>,
        initial: u16,
        rules: Vec<Rule>,
        by_state: Vec<Vec<u16>>,
        var_init: Vec<f64>,
        uses_prev_bar: bool,
    ) -> Self {
        let mut candidates = Vec::new();
        let mut ranges = Vec::with_capacity(by_state.len());
        for list in &by_state {
            let start = candidates.len() as u32;
            let mut pending: Option<Candidate> = None;
            for &r in list {
                let Some(rule) = rules.get(r as usize) else {
                    continue;
                };
                let next = Candidate {
                    rule: r,
                    guard: Guard::of(&rule.when),
                };
                match (pending.take(), next.guard) {
                    (
                        Some(Candidate {
                            rule: first,
                            guard: Guard::Lines { above, a, b },
                        }),
                        Guard::Lines {
                            above: above2,
                            a: a2,
                            b: b2,
                        },
                    ) if above != above2 && (a, b) == (a2, b2) => candidates.push(Candidate {
                        rule: first,
                        guard: Guard::Both {
                            first_above: above,
                            a,
                            b,
                            second: r,
                        },
                    }),
                    (prev, _) => {
                        candidates.extend(prev);
                        pending = Some(next);
                    }
                }
            }
            candidates.extend(pending);
            ranges.push((start, candidates.len() as u32));
        }
        let (mut counts_bars, mut waits) = (false, false);
        for r in &rules {
            let mut num = |n: &Num| counts_bars |= matches!(n, Num::BarsInState);
            r.when.visit(&mut num, &mut |_| {});
            for a in &r.actions {
                match &a.kind {
                    ActionKind::Wait(_) => waits = true,
                    ActionKind::TargetPercent(n)
                    | ActionKind::TargetQuantity(n)
                    | ActionKind::Buy(n)
                    | ActionKind::Sell(n)
                    | ActionKind::Set(_, n) => n.visit(&mut num),
                    ActionKind::Limit(q, p) | ActionKind::Stop(q, p) => {
                        q.visit(&mut num);
                        p.visit(&mut num);
                    }
                    ActionKind::EnterLong
                    | ActionKind::EnterShort
                    | ActionKind::Close
                    | ActionKind::CancelAll => {}
                }
            }
        }
        RulesStrategy {
            file,
            params,
            specs,
            states,
            initial,
            rules,
            candidates,
            ranges,
            var_init,
            uses_prev_bar,
            plain: !counts_bars && !waits && !uses_prev_bar,
            lines: Vec::new(),
            resolved: Vec::new(),
            slots: Vec::new(),
            prev_bars: Vec::new(),
            vars: Vec::new(),
        }
    }
}

/// What expressions read on one bar of one instrument.
struct Frame<'a, 'c> {
    ctx: &'a Context<'c>,
    lines: &'a [Line],
    vars: &'a [f64],
    slot: &'a Slot,
    prev_bar: Option<&'a Bar>,
}

#[inline]
fn field(bar: &Bar, f: Field) -> f64 {
    match f {
        Field::Open => bar.open.as_f64(),
        Field::High => bar.high.as_f64(),
        Field::Low => bar.low.as_f64(),
        Field::Close => bar.close.as_f64(),
        Field::Volume => bar.volume,
    }
}

impl Frame<'_, '_> {
    #[inline]
    fn line(&self, k: u16) -> Option<Line> {
        self.lines.get(k as usize).copied()
    }

    #[inline]
    fn current(&self, s: Series) -> f64 {
        match s {
            Series::Field(f) => field(self.ctx.bar(), f),
            Series::Line(k) => self
                .line(k)
                .and_then(|l| self.ctx.value(l))
                .unwrap_or(f64::NAN),
        }
    }

    #[inline]
    fn previous(&self, s: Series) -> f64 {
        match s {
            Series::Field(f) => self.prev_bar.map_or(f64::NAN, |b| field(b, f)),
            Series::Line(k) => self
                .line(k)
                .and_then(|l| self.ctx.previous(l))
                .unwrap_or(f64::NAN),
        }
    }

    fn num(&self, n: &Num) -> f64 {
        match n {
            Num::Const(x) => *x,
            // Replaced by constants in `build`; never reached.
            Num::Param(_) => f64::NAN,
            Num::Field(f) => field(self.ctx.bar(), *f),
            Num::Position => self.ctx.position(self.ctx.instrument()).as_f64(),
            Num::Cash => self.ctx.cash().as_f64(),
            Num::Equity => self.ctx.equity().as_f64(),
            Num::BarsInState => self.slot.bars_in_state as f64,
            Num::BarIndex => self.ctx.bar_index() as f64,
            Num::Var(k) => self.vars.get(*k as usize).copied().unwrap_or(f64::NAN),
            Num::Line(k) => self.current(Series::Line(*k)),
            Num::Prev(s) => self.previous(*s),
            Num::Neg(x) => -self.num(x),
            Num::Abs(x) => self.num(x).abs(),
            Num::Arith(op, a, b) => arith(*op, self.num(a), self.num(b)),
        }
    }

    /// The previous and current value of one side of a crossing.
    fn operand(&self, o: &Operand) -> (f64, f64) {
        match o {
            Operand::Series(s) => (self.previous(*s), self.current(*s)),
            Operand::Level(n) => {
                let x = self.num(n);
                (x, x)
            }
        }
    }

    fn cond(&self, c: &Cond) -> bool {
        match c {
            Cond::Const(b) => *b,
            Cond::CrossLines { above, a, b } => match (self.line(*a), self.line(*b)) {
                (Some(a), Some(b)) if *above => self.ctx.crossed_above(a, b),
                (Some(a), Some(b)) => self.ctx.crossed_below(a, b),
                _ => false,
            },
            Cond::Cmp(op, a, b) => compare(*op, self.num(a), self.num(b)),
            Cond::And(a, b) => self.cond(a) && self.cond(b),
            Cond::Or(a, b) => self.cond(a) || self.cond(b),
            Cond::Not(a) => !self.cond(a),
            Cond::Cross { above, a, b } => {
                let ((pa, a), (pb, b)) = (self.operand(a), self.operand(b));
                if *above {
                    qf_indicators::crossed_above(pa, pb, a, b)
                } else {
                    qf_indicators::crossed_below(pa, pb, a, b)
                }
            }
            Cond::Ready(s) => !self.current(*s).is_nan(),
        }
    }
}

/// A runtime problem with one action: stops the run, naming the action and the bar.
fn fail(ctx: &Context<'_>, a: &Action, what: impl std::fmt::Display) -> StrategyError {
    let i = ctx.instrument();
    let symbol = ctx
        .instruments()
        .get(i.index())
        .map_or("?", |inst| inst.symbol.as_str());
    StrategyError::new(format!(
        "{}: `{}`: {what} (bar {} at {}, {symbol})",
        a.at,
        a.text,
        ctx.bar_index(),
        ctx.time()
    ))
}

/// A quantity from an action argument, truncated to whole lots like
/// `Context::order_target_percent`.
fn quantity(ctx: &Context<'_>, a: &Action, x: f64, what: &str) -> Result<Quantity, StrategyError> {
    if !x.is_finite() {
        return Err(fail(
            ctx,
            a,
            format!("{what} is not a finite number ({})", show(x)),
        ));
    }
    let precision = ctx
        .instruments()
        .get(ctx.instrument().index())
        .map_or(0, |inst| inst.size_precision);
    Quantity::from_f64(x, 9)
        .map(|q| q.truncate_to(precision))
        .ok_or_else(|| {
            fail(
                ctx,
                a,
                format!("{what} {} is too large: at most {MAX_SIZE}", show(x)),
            )
        })
}

/// A limit or stop price, rounded to the nearest tick; must be positive.
fn price(ctx: &Context<'_>, a: &Action, x: f64) -> Result<Price, StrategyError> {
    if !x.is_finite() {
        return Err(fail(
            ctx,
            a,
            format!("price is not a finite number ({})", show(x)),
        ));
    }
    let precision = ctx
        .instruments()
        .get(ctx.instrument().index())
        .map_or(0, |inst| inst.price_precision);
    let p = Price::from_f64(x, precision).ok_or_else(|| {
        fail(
            ctx,
            a,
            format!("price {} is too large: at most {MAX_PRICE}", show(x)),
        )
    })?;
    if x > 0.0 && !p.is_positive() {
        let tick = ctx
            .instruments()
            .get(ctx.instrument().index())
            .map_or(Price::from_int(1), |inst| inst.tick());
        return Err(fail(
            ctx,
            a,
            format!(
                "price {} is too small: prices move in steps of {tick}",
                show(x)
            ),
        ));
    }
    if !p.is_positive() {
        return Err(fail(
            ctx,
            a,
            format!(
                "price must be positive, got {} (rounded to the tick: {p})",
                show(x)
            ),
        ));
    }
    Ok(p)
}

fn order<T>(ctx: &Context<'_>, a: &Action, r: Result<T, OrderError>) -> Result<(), StrategyError> {
    r.map(|_| ()).map_err(|e| fail(ctx, a, e))
}

/// A signed quantity as a side and a positive size; `None` for zero.
fn split(q: Quantity) -> Option<(Side, Quantity)> {
    if q.is_zero() {
        None
    } else if q.is_positive() {
        Some((Side::Buy, q))
    } else {
        Some((Side::Sell, q.abs()))
    }
}

impl RulesStrategy {
    /// Runs one action. Arguments are evaluated first (reading the state as it is after the
    /// actions before it), then the order is placed.
    fn run(
        &mut self,
        ctx: &mut Context<'_>,
        rule: usize,
        action: usize,
        base: usize,
    ) -> Result<(), StrategyError> {
        let i = ctx.instrument();
        let n_lines = self.specs.len();
        let n_vars = self.var_init.len();
        let a = &self.rules[rule].actions[action];
        let (x, y) = {
            let frame = Frame {
                ctx,
                lines: self.lines.get(i.index() * n_lines..).unwrap_or(&[]),
                vars: self.vars.get(base..base + n_vars).unwrap_or(&[]),
                slot: &self.slots[i.index()],
                prev_bar: self.prev_bars.get(i.index()).and_then(Option::as_ref),
            };
            match &a.kind {
                ActionKind::TargetPercent(n)
                | ActionKind::TargetQuantity(n)
                | ActionKind::Buy(n)
                | ActionKind::Sell(n)
                | ActionKind::Set(_, n)
                | ActionKind::Wait(n) => (frame.num(n), 0.0),
                ActionKind::Limit(q, p) | ActionKind::Stop(q, p) => (frame.num(q), frame.num(p)),
                _ => (0.0, 0.0),
            }
        };
        match &a.kind {
            ActionKind::EnterLong => {
                let r = ctx.enter_long(i);
                order(ctx, a, r)
            }
            ActionKind::EnterShort => {
                let r = ctx.enter_short(i);
                order(ctx, a, r)
            }
            ActionKind::Close => {
                let r = ctx.close_position(i);
                order(ctx, a, r)
            }
            ActionKind::CancelAll => {
                ctx.cancel_all(i);
                Ok(())
            }
            ActionKind::TargetPercent(_) => {
                if !x.is_finite() {
                    return Err(fail(
                        ctx,
                        a,
                        format!("fraction is not a finite number ({})", show(x)),
                    ));
                }
                let r = ctx.order_target_percent(i, x);
                order(ctx, a, r)
            }
            ActionKind::TargetQuantity(_) => {
                let q = quantity(ctx, a, x, "quantity")?;
                let r = ctx.order_target_quantity(i, q);
                order(ctx, a, r)
            }
            ActionKind::Buy(_) | ActionKind::Sell(_) => {
                let buy = matches!(a.kind, ActionKind::Buy(_));
                let q = quantity(ctx, a, x, "quantity")?;
                if q.is_negative() {
                    return Err(fail(
                        ctx,
                        a,
                        format!(
                            "quantity must not be negative, got {}; use `{}` instead",
                            show(x),
                            if buy { "sell" } else { "buy" }
                        ),
                    ));
                }
                if q.is_zero() {
                    return Ok(());
                }
                let side = if buy { Side::Buy } else { Side::Sell };
                let r = ctx.market(i, side, q);
                order(ctx, a, r)
            }
            ActionKind::Limit(..) | ActionKind::Stop(..) => {
                let q = quantity(ctx, a, x, "quantity")?;
                let p = price(ctx, a, y)?;
                let Some((side, q)) = split(q) else {
                    return Ok(());
                };
                let r: Result<OrderId, OrderError> = if matches!(a.kind, ActionKind::Limit(..)) {
                    ctx.limit(i, side, q, p, TimeInForce::Gtc)
                } else {
                    ctx.stop(i, side, q, p, TimeInForce::Gtc)
                };
                order(ctx, a, r)
            }
            ActionKind::Set(k, _) => {
                if let Some(v) = self.vars.get_mut(base + *k as usize) {
                    *v = x;
                }
                Ok(())
            }
            ActionKind::Wait(_) => {
                if !(x.is_finite() && x >= 0.0) {
                    return Err(fail(
                        ctx,
                        a,
                        format!("bars to wait must be a number from 0 up, got {}", show(x)),
                    ));
                }
                // Whole bars; `as` saturates above u64::MAX.
                self.slots[i.index()].wait = x as u64;
                Ok(())
            }
        }
    }
}

impl Strategy for RulesStrategy {
    fn on_start(&mut self, ctx: &mut StartContext<'_>) -> Result<(), StrategyError> {
        let n = ctx.instruments().len();
        self.lines.clear();
        for k in 0..n {
            let i = InstrumentId(k as u32);
            for spec in &self.specs {
                let line = spec
                    .register(ctx, i, &self.params)
                    .map_err(|e| StrategyError::new(format!("{}: {e}", self.file)))?;
                self.lines.push(line);
            }
        }
        self.slots = vec![
            Slot {
                state: self.initial,
                candidates: self
                    .ranges
                    .get(self.initial as usize)
                    .copied()
                    .unwrap_or((0, 0)),
                bars_in_state: 0,
                wait: 0,
                lines: 0,
                resolved: 0,
            };
            n
        ];
        let n_lines = self.specs.len();
        let per = self.candidates.len();
        self.resolved.clear();
        for k in 0..n {
            let lines = self
                .lines
                .get(k * n_lines..(k + 1) * n_lines)
                .unwrap_or(&[]);
            // Lines come from `build`, which numbers them below `specs.len()`.
            let line = |x: u16| lines.get(x as usize).copied();
            for (index, c) in self.candidates.iter().enumerate() {
                let other = Check::Other {
                    index: index as u32,
                };
                let check = match c.guard {
                    Guard::Lines { above, a, b } => match (line(a), line(b)) {
                        (Some(a), Some(b)) => Check::Lines { above, a, b },
                        _ => other,
                    },
                    Guard::Both {
                        first_above,
                        a,
                        b,
                        second,
                    } => match (line(a), line(b)) {
                        (Some(a), Some(b)) => Check::Both {
                            first_above,
                            a,
                            b,
                            second,
                        },
                        _ => other,
                    },
                    Guard::Always | Guard::Never | Guard::Tree => other,
                };
                self.resolved.push(Resolved {
                    rule: c.rule,
                    check,
                });
            }
        }
        for (k, slot) in self.slots.iter_mut().enumerate() {
            slot.lines = (k * n_lines) as u32;
            slot.resolved = (k * per) as u32;
            slot.candidates = (
                slot.resolved + slot.candidates.0,
                slot.resolved + slot.candidates.1,
            );
        }
        self.prev_bars = vec![None; n];
        self.vars = self
            .var_init
            .iter()
            .copied()
            .cycle()
            .take(n * self.var_init.len())
            .collect();
        Ok(())
    }

    #[inline]
    fn on_bar(&mut self, ctx: &mut Context<'_>) -> Result<(), StrategyError> {
        let i = ctx.instrument().index();
        let Some(slot) = self.slots.get_mut(i) else {
            return Ok(());
        };
        if self.plain {
            // Nothing reads the bar count or waits: the common case, kept to the minimum.
            let candidates = slot.candidates;
            if let Some(rule) = self.pick(ctx, i, candidates) {
                self.fire(ctx, i, rule)?;
            }
            return Ok(());
        }
        slot.bars_in_state += 1;
        let candidates = slot.candidates;
        if slot.wait > 0 {
            slot.wait -= 1;
        } else if let Some(rule) = self.pick(ctx, i, candidates) {
            self.fire(ctx, i, rule)?;
        }
        if self.uses_prev_bar
            && let Some(prev) = self.prev_bars.get_mut(i)
        {
            *prev = Some(*ctx.bar());
        }
        Ok(())
    }
}

impl RulesStrategy {
    /// The first rule of instrument `i`'s current state whose guard holds, if any. Reads
    /// only: this is all most bars do, so it is kept small and inlined, and firing a rule
    /// is out of line.
    #[inline(always)]
    fn pick(&self, ctx: &Context<'_>, i: usize, (start, end): (u32, u32)) -> Option<usize> {
        let candidates = self.resolved.get(start as usize..end as usize)?;
        // Two-way branches only: a `match` here compiled to a jump table, an indirect jump
        // per candidate that cost more than the crossing itself (measured).
        for c in candidates {
            if let Check::Lines { above, a, b } = c.check {
                let hit = if above {
                    ctx.crossed_above(a, b)
                } else {
                    ctx.crossed_below(a, b)
                };
                if hit {
                    return Some(c.rule as usize);
                }
            } else if let Check::Both {
                first_above,
                a,
                b,
                second,
            } = c.check
            {
                let (up, down) = (ctx.crossed_above(a, b), ctx.crossed_below(a, b));
                let (first_hit, second_hit) = if first_above { (up, down) } else { (down, up) };
                if first_hit {
                    return Some(c.rule as usize);
                }
                if second_hit {
                    return Some(second as usize);
                }
            } else if let Check::Other { index } = c.check
                && self.other(ctx, i, index)
            {
                return Some(c.rule as usize);
            }
        }
        None
    }

    /// Any guard but a lone crossing of two lines: `candidates[index]` for instrument `i`.
    #[inline(never)]
    fn other(&self, ctx: &Context<'_>, i: usize, index: u32) -> bool {
        let Some(c) = self.candidates.get(index as usize) else {
            return false;
        };
        match c.guard {
            Guard::Always => return true,
            Guard::Never => return false,
            Guard::Lines { .. } | Guard::Both { .. } | Guard::Tree => {}
        }
        let n_vars = self.var_init.len();
        let (Some(rule), Some(slot)) = (self.rules.get(c.rule as usize), self.slots.get(i)) else {
            return false;
        };
        let n_lines = self.specs.len();
        let frame = Frame {
            ctx,
            lines: self
                .lines
                .get(i * n_lines..(i + 1) * n_lines)
                .unwrap_or(&[]),
            vars: self.vars.get(i * n_vars..(i + 1) * n_vars).unwrap_or(&[]),
            slot,
            prev_bar: self.prev_bars.get(i).and_then(Option::as_ref),
        };
        frame.cond(&rule.when)
    }

    /// Runs rule `r` for instrument `i`: its actions in order, then the move to its target
    /// state, recorded on the timeline.
    #[inline(never)]
    fn fire(&mut self, ctx: &mut Context<'_>, i: usize, r: usize) -> Result<(), StrategyError> {
        let base = i * self.var_init.len();
        for k in 0..self.rules[r].actions.len() {
            self.run(ctx, r, k, base)?;
        }
        let rule = &self.rules[r];
        if let Some(to) = rule.to {
            let slot = &mut self.slots[i];
            let from = self.states[slot.state as usize].clone();
            let to_name = self.states[to as usize].clone();
            ctx.change_state(from, to_name, rule.reason.clone());
            slot.state = to;
            let (start, end) = self.ranges.get(to as usize).copied().unwrap_or((0, 0));
            slot.candidates = (slot.resolved + start, slot.resolved + end);
            slot.bars_in_state = 0;
        }
        Ok(())
    }
}
