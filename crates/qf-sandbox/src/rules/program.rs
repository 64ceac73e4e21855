//! A checked rules file, and `build`: parameter values in, a runnable machine out.

use std::sync::Arc;

use qf_engine::strategies::{ParamSpec, Params};

use super::ir::{Action, ActionKind, Cond, Num, Operand, Series, arith, compare};
use super::locate::Reporter;
use super::machine::{Rule, RulesStrategy};
use super::typecheck::Checked;
use crate::diag::{Diagnostic, Diagnostics};
use crate::indicator::{Arg, IndicatorSpec};

/// A rules file that parsed and passed every check that needs no parameter values. Cheap to
/// share across threads; [`build`](RulesProgram::build) it once per parameter set.
#[derive(Debug, Clone)]
pub struct RulesProgram {
    pub(crate) file: Arc<str>,
    pub(crate) source: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) checked: Checked,
    pub(crate) warnings: Vec<Diagnostic>,
}

impl RulesProgram {
    /// The strategy's name (`name = ...`, or the file name without its extension).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One line on what it does (`description = ...`, empty if not given).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Declared parameters with defaults and ranges, in file order; resolve given values
    /// against them with [`qf_engine::strategies::resolve`].
    pub fn params(&self) -> &[ParamSpec] {
        &self.checked.params
    }

    /// Declared states, in file order.
    pub fn states(&self) -> &[String] {
        &self.checked.states
    }

    /// The canonical text of each distinct indicator the file uses (declared or inline),
    /// with parameters by name, e.g. `sma(close, fast)`.
    pub fn indicators(&self) -> Vec<String> {
        self.checked
            .slots
            .iter()
            .map(|s| s.spec.to_string())
            .collect()
    }

    /// Notes that do not stop the file from running, such as a state no transition enters.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// Compiles the machine for one set of parameter values (complete, as returned by
    /// [`qf_engine::strategies::resolve`]): substitutes them, checks indicator settings and
    /// `requires`, folds constants and resolves indicator lines.
    pub fn build(&self, params: &Params) -> Result<RulesStrategy, Diagnostics> {
        let mut rep = Reporter::new(&self.file, &self.source);
        let c = &self.checked;
        let mut values = Vec::with_capacity(c.params.len());
        for p in &c.params {
            match params.get(&*p.name) {
                Some(v) if v.is_finite() => values.push(*v),
                Some(v) => {
                    rep.whole(format!(
                        "parameter `{}` = {v} is not a finite number",
                        p.name
                    ));
                    values.push(f64::NAN);
                }
                None => {
                    rep.whole(format!("parameter `{}` has no value", p.name));
                    values.push(f64::NAN);
                }
            }
        }

        // Distinct indicators after substitution: `sma(close, fast)` and `sma(close, 10)` are
        // one indicator when fast = 10.
        let mut specs: Vec<IndicatorSpec> = Vec::new();
        let mut keys: Vec<String> = Vec::new();
        let mut slot_map = Vec::with_capacity(c.slots.len());
        for slot in &c.slots {
            let spec = &slot.spec;
            match spec.resolve(params) {
                Ok(args) => {
                    let resolved = IndicatorSpec {
                        func: spec.func,
                        source: spec.source,
                        args: args.into_iter().map(Arg::Number).collect(),
                    };
                    let key = resolved.to_string();
                    let k = keys.iter().position(|x| *x == key).unwrap_or_else(|| {
                        keys.push(key);
                        specs.push(resolved);
                        specs.len() - 1
                    });
                    slot_map.push(k as u16);
                }
                Err(m) => {
                    let (at, msg) = blame_param(spec, &slot.arg_at, params).unwrap_or((slot.at, m));
                    rep.error(at, msg);
                    slot_map.push(0);
                }
            }
        }

        let lower = Lower {
            values: &values,
            slot_map: &slot_map,
        };
        for r in &c.requires {
            if lower.cond(&r.cond) != Cond::Const(true) {
                let mut used = Vec::new();
                r.cond.visit(
                    &mut |n| {
                        if let Num::Param(k) = n
                            && !used.contains(k)
                        {
                            used.push(*k);
                        }
                    },
                    &mut |_| {},
                );
                let with = used
                    .iter()
                    .map(|&k| {
                        format!(
                            "{} = {}",
                            c.params[k as usize].name,
                            values.get(k as usize).copied().unwrap_or(f64::NAN)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let msg = if with.is_empty() {
                    format!("requirement `{}` does not hold", r.text)
                } else {
                    format!("requirement `{}` does not hold for {with}", r.text)
                };
                rep.error(r.at, msg);
            }
        }
        rep.finish()?;

        let rules: Vec<Rule> = c
            .transitions
            .iter()
            .map(|t| Rule {
                to: t.to,
                when: lower.cond(&t.when),
                reason: t.reason.clone(),
                actions: t.actions.iter().map(|a| lower.action(a)).collect(),
            })
            .collect();
        let by_state = (0..c.states.len() as u16)
            .map(|s| {
                c.transitions
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| t.from.as_ref().is_none_or(|f| f.contains(&s)))
                    .map(|(k, _)| k as u16)
                    .collect()
            })
            .collect();
        Ok(RulesStrategy::new(
            self.file.clone(),
            params.clone(),
            specs,
            c.states.iter().map(|s| Arc::from(s.as_str())).collect(),
            c.initial,
            rules,
            by_state,
            c.vars.iter().map(|(_, v)| *v).collect(),
            c.uses_prev_bar,
        ))
    }
}

/// The first parameter argument whose value the indicator refuses, and why.
fn blame_param(spec: &IndicatorSpec, arg_at: &[usize], params: &Params) -> Option<(usize, String)> {
    for (k, a) in spec.args.iter().enumerate() {
        let Arg::Param(p) = a else { continue };
        let v = *params.get(p)?;
        let mut args = spec.args.clone();
        args[k] = Arg::Number(v);
        let source = spec.func.takes_source.then_some(spec.source);
        if let Err(m) = IndicatorSpec::new(spec.func.name, source, args) {
            return Some((
                arg_at.get(k).copied()?,
                format!("{m} (parameter `{p}` = {})", crate::shown::float(v)),
            ));
        }
    }
    None
}

/// Substitutes parameter values and indicator lines, folding what became constant.
struct Lower<'a> {
    values: &'a [f64],
    slot_map: &'a [u16],
}

impl Lower<'_> {
    fn line(&self, slot: u16) -> u16 {
        self.slot_map.get(slot as usize).copied().unwrap_or(0)
    }

    fn series(&self, s: Series) -> Series {
        match s {
            Series::Line(k) => Series::Line(self.line(k)),
            f => f,
        }
    }

    fn num(&self, n: &Num) -> Num {
        match n {
            Num::Param(k) => Num::Const(self.values.get(*k as usize).copied().unwrap_or(f64::NAN)),
            Num::Line(k) => Num::Line(self.line(*k)),
            Num::Prev(s) => Num::Prev(self.series(*s)),
            Num::Neg(x) => match self.num(x) {
                Num::Const(c) => Num::Const(-c),
                x => Num::Neg(Box::new(x)),
            },
            Num::Abs(x) => match self.num(x) {
                Num::Const(c) => Num::Const(c.abs()),
                x => Num::Abs(Box::new(x)),
            },
            Num::Arith(op, a, b) => match (self.num(a), self.num(b)) {
                (Num::Const(a), Num::Const(b)) => Num::Const(arith(*op, a, b)),
                (a, b) => Num::Arith(*op, Box::new(a), Box::new(b)),
            },
            other => other.clone(),
        }
    }

    fn operand(&self, o: &Operand) -> Operand {
        match o {
            Operand::Series(s) => Operand::Series(self.series(*s)),
            Operand::Level(n) => Operand::Level(self.num(n)),
        }
    }

    fn cond(&self, c: &Cond) -> Cond {
        match c {
            Cond::Cmp(op, a, b) => match (self.num(a), self.num(b)) {
                (Num::Const(a), Num::Const(b)) => Cond::Const(compare(*op, a, b)),
                (a, b) => Cond::Cmp(*op, a, b),
            },
            Cond::And(a, b) => match (self.cond(a), self.cond(b)) {
                (Cond::Const(false), _) | (_, Cond::Const(false)) => Cond::Const(false),
                (Cond::Const(true), x) | (x, Cond::Const(true)) => x,
                (a, b) => Cond::And(Box::new(a), Box::new(b)),
            },
            Cond::Or(a, b) => match (self.cond(a), self.cond(b)) {
                (Cond::Const(true), _) | (_, Cond::Const(true)) => Cond::Const(true),
                (Cond::Const(false), x) | (x, Cond::Const(false)) => x,
                (a, b) => Cond::Or(Box::new(a), Box::new(b)),
            },
            Cond::Not(a) => match self.cond(a) {
                Cond::Const(b) => Cond::Const(!b),
                x => Cond::Not(Box::new(x)),
            },
            Cond::Cross { above, a, b } => match (self.operand(a), self.operand(b)) {
                (Operand::Series(Series::Line(a)), Operand::Series(Series::Line(b))) => {
                    Cond::CrossLines {
                        above: *above,
                        a,
                        b,
                    }
                }
                (a, b) => Cond::Cross {
                    above: *above,
                    a,
                    b,
                },
            },
            Cond::Ready(s) => Cond::Ready(self.series(*s)),
            Cond::Const(_) | Cond::CrossLines { .. } => c.clone(),
        }
    }

    fn action(&self, a: &Action) -> Action {
        let kind = match &a.kind {
            ActionKind::TargetPercent(n) => ActionKind::TargetPercent(self.num(n)),
            ActionKind::TargetQuantity(n) => ActionKind::TargetQuantity(self.num(n)),
            ActionKind::Buy(n) => ActionKind::Buy(self.num(n)),
            ActionKind::Sell(n) => ActionKind::Sell(self.num(n)),
            ActionKind::Limit(q, p) => ActionKind::Limit(self.num(q), self.num(p)),
            ActionKind::Stop(q, p) => ActionKind::Stop(self.num(q), self.num(p)),
            ActionKind::Set(k, n) => ActionKind::Set(*k, self.num(n)),
            ActionKind::Wait(n) => ActionKind::Wait(self.num(n)),
            other => other.clone(),
        };
        Action {
            kind,
            at: a.at.clone(),
            text: a.text.clone(),
        }
    }
}
