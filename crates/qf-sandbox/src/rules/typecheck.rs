//! Names and types: resolves every name in the file to a parameter, indicator, var, bar
//! field or built-in; checks that guards are conditions and action arguments numbers; that
//! states exist; and turns expressions into the typed [`ir`](super::ir).
//!
//! Each problem is reported where it is written, and checking goes on past it.

use std::collections::BTreeMap;
use std::sync::Arc;

use qf_engine::strategies::ParamSpec;
use std::borrow::Cow;

use super::MAX_INDICATORS;
use super::WILDCARD;
use super::expr::{self, BinOp, Expr, ExprKind};
use super::ir::{Action, ActionKind, Arith, Cmp, Cond, Field, Num, Operand, Series};
use super::locate::{Reporter, Text, clip};
use super::schema::{RawFile, check_name};
use super::suggest::did_you_mean;
use crate::indicator::{self, Arg, IndicatorSpec};

/// An indicator the file uses, declared or written inline, and where.
#[derive(Debug, Clone)]
pub(crate) struct IndicatorSlot {
    pub spec: IndicatorSpec,
    /// File offset of the call.
    pub at: usize,
    /// File offset of each numeric argument.
    pub arg_at: Vec<usize>,
}

/// A checked transition.
#[derive(Debug, Clone)]
pub(crate) struct TransitionIr {
    /// States it may fire from; `None` for any (`"*"`).
    pub from: Option<Vec<u16>>,
    /// State it moves to; `None` stays (no state change recorded).
    pub to: Option<u16>,
    pub when: Cond,
    /// The guard's text, the reason recorded on the state timeline.
    pub reason: Arc<str>,
    pub actions: Vec<Action>,
}

/// A condition on parameters that must hold for a run to start.
#[derive(Debug, Clone)]
pub(crate) struct Require {
    pub cond: Cond,
    pub text: String,
    pub at: usize,
}

/// A file that passed every check that needs no parameter values.
#[derive(Debug, Clone, Default)]
pub(crate) struct Checked {
    pub params: Vec<ParamSpec>,
    pub states: Vec<String>,
    pub initial: u16,
    pub slots: Vec<IndicatorSlot>,
    pub vars: Vec<(String, f64)>,
    pub transitions: Vec<TransitionIr>,
    pub requires: Vec<Require>,
    pub uses_prev_bar: bool,
}

const FIELDS: &[(&str, Field)] = &[
    ("open", Field::Open),
    ("high", Field::High),
    ("low", Field::Low),
    ("close", Field::Close),
    ("volume", Field::Volume),
];

const VALUES: &[&str] = &["position", "cash", "equity", "bars_in_state", "bar_index"];

/// Built-in functions with their argument count and an example.
const FUNCTIONS: &[(&str, usize, &str)] = &[
    ("crossed_above", 2, "crossed_above(fast_ma, slow_ma)"),
    ("crossed_below", 2, "crossed_below(fast_ma, slow_ma)"),
    ("prev", 1, "prev(close)"),
    ("is_ready", 1, "is_ready(slow_ma)"),
    ("abs", 1, "abs(close - open)"),
    ("min", 2, "min(open, close)"),
    ("max", 2, "max(stop_level, close - 3 * atr(14))"),
];

/// Actions with their argument count and an example.
const ACTIONS: &[(&str, usize, &str)] = &[
    ("enter_long", 0, "enter_long()"),
    ("enter_short", 0, "enter_short()"),
    ("close", 0, "close()"),
    ("cancel_all", 0, "cancel_all()"),
    ("target_percent", 1, "target_percent(0.5)"),
    ("target_quantity", 1, "target_quantity(100)"),
    ("buy", 1, "buy(10)"),
    ("sell", 1, "sell(10)"),
    ("limit", 2, "limit(10, close * 0.99)"),
    ("stop", 2, "stop(-position, stop_level)"),
    ("set", 2, "set(stop_level, close - 2 * atr(14))"),
    ("wait", 1, "wait(5)"),
];

const KEYWORDS: &[&str] = &["true", "false", "and", "or", "not"];

fn field(name: &str) -> Option<Field> {
    FIELDS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

fn value(name: &str) -> Option<Num> {
    Some(match name {
        "position" => Num::Position,
        "cash" => Num::Cash,
        "equity" => Num::Equity,
        "bars_in_state" => Num::BarsInState,
        "bar_index" => Num::BarIndex,
        _ => return None,
    })
}

fn function(name: &str) -> Option<(usize, &'static str)> {
    FUNCTIONS
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|(_, a, e)| (*a, *e))
}

fn action(name: &str) -> Option<(usize, &'static str)> {
    ACTIONS
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|(_, a, e)| (*a, *e))
}

/// Whether a name is taken by the language itself.
fn builtin_kind(name: &str) -> Option<&'static str> {
    if field(name).is_some() {
        Some("a bar field")
    } else if VALUES.contains(&name) {
        Some("a built-in value")
    } else if indicator::source(name).is_some() {
        Some("an indicator source")
    } else if function(name).is_some() || indicator::function(name).is_some() {
        Some("a function")
    } else if action(name).is_some() {
        Some("an action")
    } else if KEYWORDS.contains(&name) {
        Some("a keyword")
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy)]
enum Symbol {
    Param(u16),
    Indicator(u16),
    Var(u16),
}

impl Symbol {
    fn word(self) -> &'static str {
        match self {
            Symbol::Param(_) => "a parameter",
            Symbol::Indicator(_) => "an indicator",
            Symbol::Var(_) => "a var",
        }
    }
}

enum Typed {
    Num(Num),
    Cond(Cond),
}

/// Checks a file's declarations, expressions and states; see the module doc.
pub(crate) fn check(rep: &mut Reporter<'_>, raw: &RawFile) -> Checked {
    let mut c = Checker {
        rep,
        names: BTreeMap::new(),
        states: Vec::new(),
        out: Checked::default(),
        slot_by_text: BTreeMap::new(),
        too_many_indicators: false,
    };
    c.states(raw);
    c.declarations(raw);
    c.transitions(raw);
    c.requires(raw);
    c.reachability(raw);
    c.out
}

struct Checker<'r, 's> {
    rep: &'r mut Reporter<'s>,
    names: BTreeMap<String, (Symbol, usize)>,
    /// Declared states and where.
    states: Vec<(String, usize)>,
    out: Checked,
    slot_by_text: BTreeMap<String, u16>,
    too_many_indicators: bool,
}

impl Checker<'_, '_> {
    /// File offset of byte `at` of string `t`.
    fn at(&self, t: &Text, at: usize) -> usize {
        t.offset_of(self.rep.source, at)
    }

    fn error(&mut self, t: &Text, at: usize, msg: impl Into<String>, help: Option<String>) {
        // Mapping into the file walks the token: skip it once nothing more is listed.
        if self.rep.full() {
            self.rep.count_unlisted();
            return;
        }
        let offset = self.at(t, at);
        self.rep.error_help(offset, msg, help);
    }

    /// `file:line:col` of byte `at` of `t`.
    fn location(&self, t: &Text, at: usize) -> Box<str> {
        let (l, c) = self.rep.line_col(self.at(t, at));
        format!("{}:{l}:{c}", self.rep.file).into()
    }

    fn snippet(t: &Text, e: &Expr) -> String {
        let s = t.value.get(e.span.clone()).unwrap_or("?");
        if s.chars().count() > 40 {
            format!("{}…", s.chars().take(39).collect::<String>())
        } else {
            s.to_string()
        }
    }

    fn parse(&mut self, t: &Text) -> Option<Expr> {
        match expr::parse(&t.value) {
            Ok(e) => Some(e),
            Err(e) => {
                self.error(t, e.at, e.message, e.help);
                None
            }
        }
    }

    // ---- declarations ----

    fn states(&mut self, raw: &RawFile) {
        for s in &raw.states {
            if s.value == WILDCARD {
                self.error(
                    s,
                    0,
                    "`*` is not a state name; it stands for any state in `from`",
                    None,
                );
                continue;
            }
            if !check_name(self.rep, s, "state") {
                continue;
            }
            if let Some((_, first)) = self.states.iter().find(|(n, _)| *n == s.value) {
                let (l, c) = self.rep.line_col(*first);
                self.error(
                    s,
                    0,
                    format!("state `{}` is declared twice (first at {l}:{c})", s.value),
                    None,
                );
                continue;
            }
            let at = self.at(s, 0);
            self.states.push((s.value.clone(), at));
        }
        self.out.states = self.states.iter().map(|(n, _)| n.clone()).collect();
        if let Some(init) = &raw.initial {
            match self.state_index(init) {
                Some(k) => self.out.initial = k,
                None => self.unknown_state(init, "initial state"),
            }
        }
    }

    fn state_index(&self, t: &Text) -> Option<u16> {
        self.states
            .iter()
            .position(|(n, _)| *n == t.value)
            .map(|k| k as u16)
    }

    fn unknown_state(&mut self, t: &Text, what: &str) {
        let help =
            did_you_mean(&t.value, self.states.iter().map(|(n, _)| n.as_str())).or_else(|| {
                Some(format!(
                    "declared states: {}",
                    self.states
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            });
        self.error(
            t,
            0,
            format!("unknown {what} `{}`", clip(&t.value).escape_default()),
            help,
        );
    }

    /// Declares a name, refusing built-ins and names already taken.
    fn declare(&mut self, t: &Text, sym: Symbol, what: &str) -> bool {
        if !check_name(self.rep, t, what) {
            return false;
        }
        if let Some(kind) = builtin_kind(&t.value) {
            self.error(
                t,
                0,
                format!(
                    "`{}` is {kind}; choose another name for this {what}",
                    t.value
                ),
                None,
            );
            return false;
        }
        if let Some((other, first)) = self.names.get(&t.value) {
            let (l, c) = self.rep.line_col(*first);
            let msg = format!(
                "`{}` is already declared as {} (at {l}:{c})",
                t.value,
                other.word()
            );
            self.error(t, 0, msg, None);
            return false;
        }
        let at = self.at(t, 0);
        self.names.insert(t.value.clone(), (sym, at));
        true
    }

    fn declarations(&mut self, raw: &RawFile) {
        for p in &raw.params {
            let k = self.out.params.len() as u16;
            if self.declare(&p.name, Symbol::Param(k), "parameter") {
                self.out.params.push(ParamSpec {
                    name: Cow::Owned(p.name.value.clone()),
                    default: p.default,
                    min: p.min,
                    max: p.max,
                    integer: p.integer,
                    help: Cow::Owned(p.help.clone()),
                });
            }
        }
        // Calls first, names after: an indicator's arguments may only name parameters.
        let mut named = Vec::new();
        for (name, call) in &raw.indicators {
            let Some(e) = self.parse(call) else { continue };
            let slot = match &e.kind {
                ExprKind::Call {
                    name: f,
                    name_span,
                    args,
                } if indicator::function(f).is_some() => {
                    self.inline_indicator(call, f, name_span.start, args)
                }
                _ => {
                    self.error(
                        call,
                        0,
                        format!(
                            "indicator `{}` must be an indicator call such as `sma(close, 20)`",
                            name.value
                        ),
                        Some(format!(
                            "indicators are: {}; for a computed value use a var and `set`",
                            indicator::FUNCTIONS
                                .iter()
                                .map(|f| f.name)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    );
                    None
                }
            };
            named.push((name, slot));
        }
        for (name, slot) in named {
            // A name whose call failed is still declared, so its uses are not unknown too.
            self.declare(
                name,
                Symbol::Indicator(slot.unwrap_or(u16::MAX)),
                "indicator",
            );
        }
        for (name, x) in &raw.vars {
            let k = self.out.vars.len() as u16;
            if self.declare(name, Symbol::Var(k), "var") {
                self.out.vars.push((name.value.clone(), *x));
            }
        }
    }

    // ---- expressions ----

    fn typed(&mut self, t: &Text, e: &Expr) -> Option<Typed> {
        match &e.kind {
            ExprKind::Number(x) => Some(Typed::Num(Num::Const(*x))),
            ExprKind::Bool(b) => Some(Typed::Cond(Cond::Const(*b))),
            ExprKind::Name(n) => self.name(t, e, n).map(Typed::Num),
            ExprKind::Call {
                name,
                name_span,
                args,
            } => self.call(t, name, name_span.start, args),
            ExprKind::Neg(x) => Some(Typed::Num(Num::Neg(Box::new(self.num(t, x, "`-`")?)))),
            ExprKind::Not(x) => Some(Typed::Cond(Cond::Not(Box::new(self.cond(t, x, "`not`")?)))),
            ExprKind::Binary { op, lhs, rhs, .. } => {
                let what = format!("`{}`", op.symbol());
                let arith = match op {
                    BinOp::Add => Some(Arith::Add),
                    BinOp::Sub => Some(Arith::Sub),
                    BinOp::Mul => Some(Arith::Mul),
                    BinOp::Div => Some(Arith::Div),
                    _ => None,
                };
                let cmp = match op {
                    BinOp::Lt => Some(Cmp::Lt),
                    BinOp::Le => Some(Cmp::Le),
                    BinOp::Gt => Some(Cmp::Gt),
                    BinOp::Ge => Some(Cmp::Ge),
                    BinOp::Eq => Some(Cmp::Eq),
                    BinOp::Ne => Some(Cmp::Ne),
                    _ => None,
                };
                if let Some(a) = arith {
                    let (l, r) = (self.num(t, lhs, &what), self.num(t, rhs, &what));
                    return Some(Typed::Num(Num::Arith(a, Box::new(l?), Box::new(r?))));
                }
                if let Some(c) = cmp {
                    let (l, r) = (self.num(t, lhs, &what), self.num(t, rhs, &what));
                    return Some(Typed::Cond(Cond::Cmp(c, l?, r?)));
                }
                let (l, r) = (self.cond(t, lhs, &what), self.cond(t, rhs, &what));
                let (l, r) = (Box::new(l?), Box::new(r?));
                Some(Typed::Cond(if *op == BinOp::And {
                    Cond::And(l, r)
                } else {
                    Cond::Or(l, r)
                }))
            }
        }
    }

    fn num(&mut self, t: &Text, e: &Expr, what: &str) -> Option<Num> {
        match self.typed(t, e)? {
            Typed::Num(n) => Some(n),
            Typed::Cond(_) => {
                let msg = format!(
                    "{what} needs a number, but `{}` is a condition (true or false)",
                    Self::snippet(t, e)
                );
                self.error(t, e.span.start, msg, None);
                None
            }
        }
    }

    fn cond(&mut self, t: &Text, e: &Expr, what: &str) -> Option<Cond> {
        match self.typed(t, e)? {
            Typed::Cond(c) => Some(c),
            Typed::Num(_) => {
                let s = Self::snippet(t, e);
                let msg =
                    format!("{what} needs a condition (true or false), but `{s}` is a number");
                self.error(
                    t,
                    e.span.start,
                    msg,
                    Some(format!("compare it with something, e.g. `{s} > 0`")),
                );
                None
            }
        }
    }

    fn name(&mut self, t: &Text, e: &Expr, n: &str) -> Option<Num> {
        if let Some(f) = field(n) {
            return Some(Num::Field(f));
        }
        if let Some(v) = value(n) {
            return Some(v);
        }
        if let Some(&(sym, _)) = self.names.get(n) {
            return match sym {
                Symbol::Param(k) => Some(Num::Param(k)),
                Symbol::Indicator(u16::MAX) => None,
                Symbol::Indicator(k) => Some(Num::Line(k)),
                Symbol::Var(k) => Some(Num::Var(k)),
            };
        }
        let at = e.span.start;
        if self.states.iter().any(|(s, _)| s == n) {
            self.error(
                t,
                at,
                format!("`{n}` is a state, and states are not values"),
                Some("a rule already knows its state from `from`; test `position` or `bars_in_state` for more".into()),
            );
        } else if let Some((_, example)) = function(n) {
            self.error(
                t,
                at,
                format!("`{n}` is a function; call it"),
                Some(format!("e.g. `{example}`")),
            );
        } else if let Some(f) = indicator::function(n) {
            self.error(
                t,
                at,
                format!("`{n}` is an indicator; call it"),
                Some(format!(
                    "e.g. `{n}({}{})`",
                    if f.takes_source { "close, " } else { "" },
                    f.args.join(", ")
                )),
            );
        } else if action(n).is_some() {
            self.error(
                t,
                at,
                format!("`{n}` is an action; actions go in `do`, not in expressions"),
                None,
            );
        } else {
            let help = did_you_mean(n, self.value_names())
                .or_else(|| Some("declare it under `params`, `indicators` or `vars`".to_string()));
            self.error(t, at, format!("unknown name `{}`", clip(n)), help);
        }
        None
    }

    /// Every name an expression can use as a value.
    fn value_names(&self) -> Vec<&str> {
        FIELDS
            .iter()
            .map(|(n, _)| *n)
            .chain(VALUES.iter().copied())
            .chain(self.names.keys().map(String::as_str))
            .collect()
    }

    fn arity(
        &mut self,
        t: &Text,
        name: &str,
        at: usize,
        want: usize,
        got: usize,
        example: &str,
    ) -> bool {
        if want == got {
            return true;
        }
        let msg = format!(
            "`{name}` takes {want} argument{}, got {got}",
            if want == 1 { "" } else { "s" }
        );
        self.error(t, at, msg, Some(format!("e.g. `{example}`")));
        false
    }

    fn call(&mut self, t: &Text, name: &str, at: usize, args: &[Expr]) -> Option<Typed> {
        if indicator::function(name).is_some() {
            let slot = self.inline_indicator(t, name, at, args)?;
            return Some(Typed::Num(Num::Line(slot)));
        }
        let Some((want, example)) = function(name) else {
            if action(name).is_some() {
                let help = (name == "close").then(|| {
                    "in an expression, `close` without parentheses is the bar's close".to_string()
                });
                self.error(
                    t,
                    at,
                    format!("`{name}()` is an action; actions go in `do`, not in expressions"),
                    help,
                );
            } else {
                let names = FUNCTIONS
                    .iter()
                    .map(|(n, ..)| *n)
                    .chain(indicator::FUNCTIONS.iter().map(|f| f.name));
                let help = did_you_mean(name, names).or_else(|| {
                    Some(format!(
                        "functions are: {}, and the indicators {}",
                        FUNCTIONS
                            .iter()
                            .map(|(n, ..)| *n)
                            .collect::<Vec<_>>()
                            .join(", "),
                        indicator::FUNCTIONS
                            .iter()
                            .map(|f| f.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                });
                self.error(t, at, format!("unknown function `{}`", clip(name)), help);
            }
            return None;
        };
        if !self.arity(t, name, at, want, args.len(), example) {
            return None;
        }
        match name {
            "crossed_above" | "crossed_below" => {
                let a = self.operand(t, &args[0], name);
                let b = self.operand(t, &args[1], name);
                let (a, b) = (a?, b?);
                if matches!((&a, &b), (Operand::Level(_), Operand::Level(_))) {
                    self.error(
                        t,
                        at,
                        format!("`{name}` needs an indicator or a bar field on at least one side"),
                        Some(format!("e.g. `{name}(rsi(close, 14), 30)`")),
                    );
                    return None;
                }
                Some(Typed::Cond(Cond::Cross {
                    above: name == "crossed_above",
                    a,
                    b,
                }))
            }
            "prev" | "is_ready" => {
                let s = match self.series(t, &args[0])? {
                    Some(s) => s,
                    None => {
                        self.error(
                            t,
                            args[0].span.start,
                            format!("`{name}` takes an indicator or a bar field"),
                            Some(format!("e.g. `{name}(close)` or `{name}(slow_ma)`")),
                        );
                        return None;
                    }
                };
                if name == "prev" {
                    if matches!(s, Series::Field(_)) {
                        self.out.uses_prev_bar = true;
                    }
                    Some(Typed::Num(Num::Prev(s)))
                } else {
                    Some(Typed::Cond(Cond::Ready(s)))
                }
            }
            "abs" => Some(Typed::Num(Num::Abs(Box::new(
                self.num(t, &args[0], "`abs`")?,
            )))),
            _ => {
                let what = format!("`{name}`");
                let (a, b) = (self.num(t, &args[0], &what), self.num(t, &args[1], &what));
                let op = if name == "min" {
                    Arith::Min
                } else {
                    Arith::Max
                };
                Some(Typed::Num(Num::Arith(op, Box::new(a?), Box::new(b?))))
            }
        }
    }

    /// `Ok(Some)` for an indicator or bar field, `Ok(None)` for anything else (unchecked),
    /// `None` if it is an indicator call with errors (reported).
    fn series(&mut self, t: &Text, e: &Expr) -> Option<Option<Series>> {
        match &e.kind {
            ExprKind::Name(n) => {
                if let Some(f) = field(n) {
                    return Some(Some(Series::Field(f)));
                }
                match self.names.get(n) {
                    Some(&(Symbol::Indicator(u16::MAX), _)) => None,
                    Some(&(Symbol::Indicator(k), _)) => Some(Some(Series::Line(k))),
                    _ => Some(None),
                }
            }
            ExprKind::Call {
                name,
                name_span,
                args,
            } if indicator::function(name).is_some() => self
                .inline_indicator(t, name, name_span.start, args)
                .map(|k| Some(Series::Line(k))),
            _ => Some(None),
        }
    }

    fn operand(&mut self, t: &Text, e: &Expr, func: &str) -> Option<Operand> {
        match self.series(t, e)? {
            Some(s) => {
                if matches!(s, Series::Field(_)) {
                    self.out.uses_prev_bar = true;
                }
                Some(Operand::Series(s))
            }
            None => self.num(t, e, &format!("`{func}`")).map(Operand::Level),
        }
    }

    fn inline_indicator(&mut self, t: &Text, name: &str, at: usize, args: &[Expr]) -> Option<u16> {
        let mut source = None;
        let mut iargs = Vec::new();
        let mut arg_at = Vec::new();
        let mut ok = true;
        for (k, a) in args.iter().enumerate() {
            let a_at = a.span.start;
            match &a.kind {
                ExprKind::Name(n) if indicator::source(n).is_some() => {
                    if k == 0 {
                        source = indicator::source(n);
                    } else {
                        self.error(
                            t,
                            a_at,
                            format!("bar field `{n}` must be the first argument of `{name}`"),
                            None,
                        );
                        ok = false;
                    }
                }
                ExprKind::Name(n) => match self.names.get(n) {
                    Some((Symbol::Param(_), _)) => {
                        iargs.push(Arg::Param(n.clone()));
                        arg_at.push(a_at);
                    }
                    Some(&(sym, _)) => {
                        self.error(
                            t,
                            a_at,
                            format!(
                                "`{name}` takes numbers or parameters, but `{n}` is {}",
                                sym.word()
                            ),
                            Some(
                                "indicator settings are fixed for the run: declare a parameter"
                                    .into(),
                            ),
                        );
                        ok = false;
                    }
                    None => {
                        let params: Vec<&str> = self
                            .names
                            .iter()
                            .filter(|(_, (s, _))| matches!(s, Symbol::Param(_)))
                            .map(|(n, _)| n.as_str())
                            .chain(indicator::SOURCES.iter().map(|(n, _)| *n))
                            .collect();
                        let help = did_you_mean(n, params)
                            .or_else(|| Some("declare it under `params`".into()));
                        self.error(t, a_at, format!("unknown parameter `{}`", clip(n)), help);
                        ok = false;
                    }
                },
                ExprKind::Number(x) => {
                    iargs.push(Arg::Number(*x));
                    arg_at.push(a_at);
                }
                ExprKind::Neg(inner) if matches!(inner.kind, ExprKind::Number(_)) => {
                    if let ExprKind::Number(x) = inner.kind {
                        iargs.push(Arg::Number(-x));
                        arg_at.push(a_at);
                    }
                }
                _ => {
                    self.error(
                        t,
                        a_at,
                        format!("the arguments of `{name}` must be numbers or parameter names"),
                        Some(
                            "indicator settings are fixed for the run: declare a parameter".into(),
                        ),
                    );
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        let spec = match IndicatorSpec::new(name, source, iargs) {
            Ok(s) => s,
            Err(m) => {
                self.error(t, at, m, None);
                return None;
            }
        };
        let key = spec.to_string();
        if let Some(&k) = self.slot_by_text.get(&key) {
            return Some(k);
        }
        if self.out.slots.len() >= MAX_INDICATORS {
            if !self.too_many_indicators {
                self.too_many_indicators = true;
                self.error(
                    t,
                    at,
                    format!("too many indicators: at most {MAX_INDICATORS} different ones"),
                    None,
                );
            }
            return None;
        }
        let k = self.out.slots.len() as u16;
        // Located only for the (at most 64) distinct ones, not for every repeat.
        let call_at = self.at(t, at);
        let arg_at = arg_at.into_iter().map(|a| self.at(t, a)).collect();
        self.out.slots.push(IndicatorSlot {
            spec,
            at: call_at,
            arg_at,
        });
        self.slot_by_text.insert(key, k);
        Some(k)
    }

    // ---- transitions and actions ----

    fn transitions(&mut self, raw: &RawFile) {
        for tr in &raw.transitions {
            let mut ok = true;
            let mut from = Some(Vec::new());
            if tr.from.iter().any(|f| f.value == WILDCARD) {
                from = None;
            }
            for f in &tr.from {
                if f.value == WILDCARD {
                    continue;
                }
                match (self.state_index(f), from.as_mut()) {
                    (Some(k), Some(list)) => list.push(k),
                    (Some(_), None) => {}
                    (None, _) => {
                        self.unknown_state(f, "state");
                        ok = false;
                    }
                }
            }
            let to = match &tr.to {
                None => None,
                Some(t) if t.value == WILDCARD => {
                    self.error(
                        t,
                        0,
                        "`to` must name one state; `*` is only for `from`",
                        Some("leave `to` out to stay in the current state".into()),
                    );
                    ok = false;
                    None
                }
                Some(t) => match self.state_index(t) {
                    Some(k) => Some(k),
                    None => {
                        self.unknown_state(t, "state");
                        ok = false;
                        None
                    }
                },
            };
            let when = tr.when.as_ref().and_then(|w| {
                let e = self.parse(w)?;
                self.cond(w, &e, "`when`")
            });
            let mut actions = Vec::new();
            for a in &tr.actions {
                match self.action(a) {
                    Some(a) => actions.push(a),
                    None => ok = false,
                }
            }
            if let (true, Some(when), Some(text)) = (ok, when, &tr.when) {
                self.out.transitions.push(TransitionIr {
                    from,
                    to,
                    when,
                    reason: Arc::from(text.value.trim()),
                    actions,
                });
            }
        }
    }

    fn action(&mut self, t: &Text) -> Option<Action> {
        let e = self.parse(t)?;
        let (name, at, args) = match &e.kind {
            ExprKind::Call {
                name,
                name_span,
                args,
            } => (name.as_str(), name_span.start, args),
            ExprKind::Name(n) if action(n).is_some() => {
                self.error(
                    t,
                    e.span.start,
                    format!("`{n}` is an action: write `{n}()`"),
                    None,
                );
                return None;
            }
            _ => {
                self.error(
                    t,
                    e.span.start,
                    "an action must be a call such as `enter_long()`, `buy(10)` or `set(stop_level, close)`",
                    None,
                );
                return None;
            }
        };
        let Some((want, example)) = action(name) else {
            let msg = if function(name).is_some() || indicator::function(name).is_some() {
                format!("`{name}` is a function, not an action")
            } else {
                format!("unknown action `{}`", clip(name))
            };
            let help = did_you_mean(name, ACTIONS.iter().map(|(n, ..)| *n)).or_else(|| {
                Some(format!(
                    "actions are: {}",
                    ACTIONS
                        .iter()
                        .map(|(n, ..)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            });
            self.error(t, at, msg, help);
            return None;
        };
        if !self.arity(t, name, at, want, args.len(), example) {
            return None;
        }
        let what = format!("`{name}`");
        let num = |c: &mut Self, k: usize| c.num(t, &args[k], &what);
        let kind = match name {
            "enter_long" => ActionKind::EnterLong,
            "enter_short" => ActionKind::EnterShort,
            "close" => ActionKind::Close,
            "cancel_all" => ActionKind::CancelAll,
            "target_percent" => ActionKind::TargetPercent(num(self, 0)?),
            "target_quantity" => ActionKind::TargetQuantity(num(self, 0)?),
            "buy" => ActionKind::Buy(num(self, 0)?),
            "sell" => ActionKind::Sell(num(self, 0)?),
            "wait" => ActionKind::Wait(num(self, 0)?),
            "limit" | "stop" => {
                let (q, p) = (num(self, 0), num(self, 1));
                if name == "limit" {
                    ActionKind::Limit(q?, p?)
                } else {
                    ActionKind::Stop(q?, p?)
                }
            }
            _ => {
                // set(var, value)
                let var = self.var_target(t, &args[0]);
                let v = num(self, 1);
                ActionKind::Set(var?, v?)
            }
        };
        Some(Action {
            kind,
            at: self.location(t, e.span.start),
            text: t.value.trim().into(),
        })
    }

    fn var_target(&mut self, t: &Text, e: &Expr) -> Option<u16> {
        let ExprKind::Name(n) = &e.kind else {
            self.error(
                t,
                e.span.start,
                "`set` needs the name of a var first",
                Some("e.g. `set(stop_level, close - 2 * atr(14))`".into()),
            );
            return None;
        };
        match self.names.get(n) {
            Some(&(Symbol::Var(k), _)) => Some(k),
            Some(&(sym, _)) => {
                self.error(
                    t,
                    e.span.start,
                    format!("`{n}` is {}, not a var; only vars can be set", sym.word()),
                    Some("declare it under `vars`".into()),
                );
                None
            }
            None if builtin_kind(n).is_some() => {
                let kind = builtin_kind(n).unwrap_or("built in");
                self.error(
                    t,
                    e.span.start,
                    format!("`{n}` is {kind}, not a var; only vars can be set"),
                    None,
                );
                None
            }
            None => {
                let vars: Vec<&str> = self
                    .names
                    .iter()
                    .filter(|(_, (s, _))| matches!(s, Symbol::Var(_)))
                    .map(|(n, _)| n.as_str())
                    .collect();
                let help = did_you_mean(n, vars)
                    .or_else(|| Some(format!("declare it under `vars`, e.g. `{n} = 0`")));
                self.error(t, e.span.start, format!("unknown var `{}`", clip(n)), help);
                None
            }
        }
    }

    fn requires(&mut self, raw: &RawFile) {
        for r in &raw.requires {
            let Some(e) = self.parse(r) else { continue };
            let Some(cond) = self.cond(r, &e, "a requirement") else {
                continue;
            };
            let (mut nums_ok, mut conds_ok) = (true, true);
            cond.visit(
                &mut |n| {
                    nums_ok &= matches!(
                        n,
                        Num::Const(_) | Num::Param(_) | Num::Neg(_) | Num::Abs(_) | Num::Arith(..)
                    )
                },
                &mut |c| conds_ok &= !matches!(c, Cond::Cross { .. } | Cond::Ready(_)),
            );
            if !(nums_ok && conds_ok) {
                self.error(
                    r,
                    0,
                    "a requirement may only use parameters and numbers",
                    Some(
                        "requirements are checked once, before the run, e.g. `fast < slow`".into(),
                    ),
                );
                continue;
            }
            let at = self.at(r, 0);
            self.out.requires.push(Require {
                cond,
                text: r.value.trim().to_string(),
                at,
            });
        }
    }

    /// Notes states no transition can reach from the initial state.
    fn reachability(&mut self, raw: &RawFile) {
        if raw.initial.is_none() || self.rep.count() > 0 {
            return;
        }
        let n = self.states.len();
        let mut reached = vec![false; n];
        if let Some(r) = reached.get_mut(self.out.initial as usize) {
            *r = true;
        }
        loop {
            let mut changed = false;
            for t in &self.out.transitions {
                let fires = match &t.from {
                    None => true,
                    Some(list) => list.iter().any(|&s| reached[s as usize]),
                };
                if let (true, Some(to)) = (fires, t.to)
                    && !reached[to as usize]
                {
                    reached[to as usize] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        for (k, (name, at)) in self.states.iter().enumerate() {
            if !reached[k] {
                self.rep.warn(
                    *at,
                    format!("state `{name}` is never entered: no transition leads to it from the initial state"),
                );
            }
        }
    }
}
