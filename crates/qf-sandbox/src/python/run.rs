//! The worker's side of a Python strategy: compile it with `monty`, call it on every bar
//! under the per-call limits, turn what it returns into engine calls, and record them.
//! Only the sandbox worker process runs this: the interpreter can abort its process.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use monty::MontyRun;
use monty_types::{
    CompileOptions, ExcType, MontyException, MontyObject, PrintWriter, PrintWriterCallback,
    ResourceLimits, ResourceTracker,
};
use qf_core::{InstrumentId, OrderKind, Price, Quantity, Side, TimeInForce};
use qf_engine::strategies::Params;
use qf_engine::{Context, Line, StartContext, Strategy, StrategyError};

use super::check::{BAR_NAMES, Input, PythonProgram};
use crate::limits::{FailureKind, Limits, RunFailure};
use crate::ops::{MAX_PRICE, MAX_SIZE, MAX_STATE_TEXT, Op, Recorded};
use crate::shown;

/// Most orders one call may return.
const MAX_ORDERS_PER_BAR: usize = 100;
/// Most values `mem` may hold (nested values counted).
const MAX_MEM_VALUES: usize = 100_000;
/// Longest unknown key for which a "did you mean" is looked for (the search is quadratic).
const MAX_GUESSED_KEY: usize = 64;

/// Compiles the strategy for running. A syntax error or an unsupported feature comes back
/// at its line and column, with what to write instead where there is a known fix.
pub fn compile(prog: &PythonProgram) -> Result<MontyRun, RunFailure> {
    let names = prog.inputs.iter().map(|i| prog.input_name(i)).collect();
    MontyRun::new(
        prog.runnable(),
        &prog.file,
        names,
        CompileOptions::default(),
    )
    .map_err(|e| failure(prog, &e, FailureKind::Compile))
}

/// What `print()` wrote, bounded: output past the cap is counted, not kept.
#[derive(Debug, Default)]
pub struct Log {
    /// The kept text; each line starts with the bar it was printed on.
    pub text: String,
    /// Bytes dropped past the cap.
    pub dropped: u64,
    cap: usize,
    bar: u64,
    time: qf_core::Timestamp,
    at_line_start: bool,
}

impl Log {
    fn new(cap: usize) -> Self {
        Log {
            cap,
            at_line_start: true,
            ..Log::default()
        }
    }

    fn put(&mut self, s: &str) {
        if self.at_line_start && !s.is_empty() {
            self.at_line_start = false;
            let prefix = format!("[bar {} {}] ", self.bar, self.time);
            self.put(&prefix);
        }
        if self.text.len() + s.len() <= self.cap {
            self.text.push_str(s);
        } else {
            self.dropped += s.len() as u64;
        }
    }
}

impl PrintWriterCallback for Log {
    fn stdout_write(&mut self, output: Cow<'_, str>) -> Result<(), MontyException> {
        for (k, part) in output.split('\n').enumerate() {
            if k > 0 {
                self.put("\n");
                self.at_line_start = true;
            }
            self.put(part);
        }
        Ok(())
    }

    fn stdout_push(&mut self, end: char) -> Result<(), MontyException> {
        let mut b = [0u8; 4];
        self.put(end.encode_utf8(&mut b));
        if end == '\n' {
            self.at_line_start = true;
        }
        Ok(())
    }
}

struct Instrument {
    state: Arc<str>,
    bars_in_state: i64,
    mem: MontyObject,
    symbol: MontyObject,
}

/// A Python strategy running inside the worker.
pub struct PyStrategy<'p> {
    prog: &'p PythonProgram,
    runner: MontyRun,
    params: Params,
    param_values: Vec<MontyObject>,
    lines: Vec<Vec<Line>>,
    instruments: Vec<Instrument>,
    limits: Limits,
    memory_ceiling: Option<usize>,
    states: Vec<Arc<str>>,
    calls: u64,
    /// Engine calls made, for the parent's replay.
    pub ops: Vec<Recorded>,
    /// What `print()` wrote.
    pub log: Log,
    /// Why the run stopped, when it failed in tenant code.
    pub failure: Option<RunFailure>,
    /// Time spent in tenant code.
    pub python_time: std::time::Duration,
}

impl<'p> PyStrategy<'p> {
    /// A strategy for `prog` with resolved `params`. `memory_ceiling` is the process-wide
    /// live-memory figure past which the interpreter raises `MemoryError`.
    pub fn new(
        prog: &'p PythonProgram,
        runner: MontyRun,
        params: Params,
        limits: Limits,
        memory_ceiling: Option<usize>,
    ) -> Self {
        let param_values = prog
            .params
            .iter()
            .map(|p| {
                let v = params.get(&*p.name).copied().unwrap_or(p.default);
                if p.integer {
                    MontyObject::Int(v as i64)
                } else {
                    MontyObject::Float(v)
                }
            })
            .collect();
        let states = prog.states.iter().map(|s| Arc::from(s.as_str())).collect();
        PyStrategy {
            prog,
            runner,
            params,
            param_values,
            lines: Vec::new(),
            instruments: Vec::new(),
            limits,
            memory_ceiling,
            states,
            calls: 0,
            ops: Vec::new(),
            log: Log::new(limits.log_bytes),
            failure: None,
            python_time: std::time::Duration::ZERO,
        }
    }

    fn fail(&mut self, mut f: RunFailure, ctx: &Context<'_>) -> StrategyError {
        f.bar = Some((ctx.bar_index(), ctx.time()));
        let msg = f.to_string();
        self.failure = Some(f);
        StrategyError::new(msg)
    }

    fn input(&self, ctx: &Context<'_>, input: &Input, i: InstrumentId) -> MontyObject {
        let bar = ctx.bar();
        let k = i.index();
        match input {
            Input::Bar(b) => match BAR_NAMES[*b].0 {
                "open" => MontyObject::Float(bar.open.as_f64()),
                "high" => MontyObject::Float(bar.high.as_f64()),
                "low" => MontyObject::Float(bar.low.as_f64()),
                "close" => MontyObject::Float(bar.close.as_f64()),
                "volume" => MontyObject::Float(bar.volume),
                "time" => MontyObject::Int(bar.ts.nanos()),
                "bar_index" => MontyObject::Int(ctx.bar_index() as i64),
                "symbol" => self.instruments[k].symbol.clone(),
                "position" => MontyObject::Float(ctx.position(i).as_f64()),
                "cash" => MontyObject::Float(ctx.cash().as_f64()),
                "equity" => MontyObject::Float(ctx.equity().as_f64()),
                "state" => MontyObject::String(self.instruments[k].state.to_string()),
                "bars_in_state" => MontyObject::Int(self.instruments[k].bars_in_state),
                // Taken, not cloned: the call hands it back (see `runnable`).
                _ => MontyObject::None,
            },
            Input::Param(p) => self.param_values[*p].clone(),
            Input::Indicator(n) => opt(ctx.value(self.lines[k][*n])),
            Input::Previous(n) => opt(ctx.previous(self.lines[k][*n])),
        }
    }

    /// Turns what the hooks returned into engine calls.
    fn act(
        &mut self,
        ctx: &mut Context<'_>,
        i: InstrumentId,
        signal: MontyObject,
    ) -> Result<(), String> {
        let pairs = match signal {
            MontyObject::None => return Ok(()),
            MontyObject::Dict(pairs) => pairs,
            other => {
                return Err(format!(
                    "on_bar must return None or a dict such as {{\"target_percent\": 1.0}}, not {}",
                    describe(&other)
                ));
            }
        };
        let info = ctx.instruments()[i.index()].clone();
        let mut position_ops = Vec::new();
        let mut orders = Vec::new();
        let mut cancel = false;
        let mut new_state = None;
        let mut reason = None;
        for (k, v) in &pairs {
            let MontyObject::String(key) = k else {
                return Err(format!(
                    "keys of the returned dict are strings, got {}",
                    describe(k)
                ));
            };
            match key.as_str() {
                "enter" => match v {
                    MontyObject::String(s) if s == "long" => position_ops.push(Op::EnterLong),
                    MontyObject::String(s) if s == "short" => position_ops.push(Op::EnterShort),
                    other => {
                        return Err(format!(
                            "\"enter\" is \"long\" or \"short\", not {}",
                            describe(other)
                        ));
                    }
                },
                "close" => {
                    if truthy(v, "close")? {
                        position_ops.push(Op::Close);
                    }
                }
                "target_percent" => {
                    let n = number(v, "target_percent")?;
                    if n.value.abs() > 100.0 {
                        return Err(format!(
                            "target_percent = {} is too large: it is a fraction of equity (1.0 is 100%) and must lie within -100..100",
                            n.shown
                        ));
                    }
                    position_ops.push(Op::TargetPercent(n.value));
                }
                "target_quantity" => {
                    let n = number(v, "target_quantity")?;
                    let q = Quantity::from_f64(n.value, info.size_precision).ok_or_else(|| {
                        format!(
                            "target_quantity = {} is too large: it must lie within -{MAX_SIZE}..{MAX_SIZE}",
                            n.shown
                        )
                    })?;
                    position_ops.push(Op::TargetQuantity(q));
                }
                "orders" => {
                    let MontyObject::List(list) = v else {
                        return Err(format!(
                            "\"orders\" is a list of dicts, not {}",
                            describe(v)
                        ));
                    };
                    if list.len() > MAX_ORDERS_PER_BAR {
                        return Err(format!(
                            "{} orders returned on one bar; at most {MAX_ORDERS_PER_BAR}",
                            list.len()
                        ));
                    }
                    for o in list {
                        orders.push(order(o, &info)?);
                    }
                }
                "cancel_all" => cancel = truthy(v, "cancel_all")?,
                "state" => match v {
                    MontyObject::String(s) => {
                        short_text("state", s, "a state name is a label such as \"long\"")?;
                        new_state = Some(s.clone());
                    }
                    other => return Err(format!("\"state\" is a string, not {}", describe(other))),
                },
                "reason" => match v {
                    MontyObject::String(s) => {
                        short_text("reason", s, "keep it to a line and print() the details")?;
                        reason = Some(s.clone());
                    }
                    other => {
                        return Err(format!("\"reason\" is a string, not {}", describe(other)));
                    }
                },
                other => {
                    const KEYS: [&str; 9] = [
                        "enter",
                        "close",
                        "target_percent",
                        "target_quantity",
                        "orders",
                        "cancel_all",
                        "state",
                        "reason",
                        "",
                    ];
                    let guess = KEYS[..8]
                        .iter()
                        .filter(|_| other.len() <= MAX_GUESSED_KEY)
                        .min_by_key(|k| super::check::edit_distance(k, other))
                        .filter(|k| super::check::edit_distance(k, other) <= 3)
                        .map(|k| format!("; did you mean \"{k}\"?"))
                        .unwrap_or_default();
                    return Err(format!(
                        "unknown key \"{}\" in the returned dict{guess} (keys: {})",
                        crate::diag::clip(other),
                        KEYS[..8].join(", ")
                    ));
                }
            }
        }
        if position_ops.len() > 1 {
            return Err("return at most one of \"enter\", \"close\", \"target_percent\", \"target_quantity\" per bar".into());
        }
        let mut ops = Vec::new();
        if cancel {
            ops.push(Op::CancelAll);
        }
        ops.extend(position_ops);
        ops.extend(orders);
        if let Some(to) = new_state {
            let k = i.index();
            if *self.instruments[k].state != *to {
                let to: Arc<str> = match self.states.iter().find(|s| ***s == *to) {
                    Some(s) => s.clone(),
                    None if self.states.is_empty() => to.as_str().into(),
                    None => {
                        return Err(format!(
                            "state \"{}\" is not in STATES ({})",
                            crate::diag::clip(&to),
                            self.prog.states.join(", ")
                        ));
                    }
                };
                let reason = reason.unwrap_or_else(|| format!("on_bar returned state \"{to}\""));
                ops.push(Op::State {
                    from: self.instruments[k].state.clone(),
                    to: to.clone(),
                    reason: reason.into(),
                });
                self.instruments[k].state = to;
                self.instruments[k].bars_in_state = 0;
            }
        }
        for op in ops {
            op.apply(ctx, i)
                .map_err(|e| format!("the order cannot be placed: {e}"))?;
            self.ops.push(Recorded {
                call: self.calls,
                instrument: i,
                op,
            });
        }
        Ok(())
    }
}

fn opt(v: Option<f64>) -> MontyObject {
    v.map_or(MontyObject::None, MontyObject::Float)
}

fn describe(v: &MontyObject) -> String {
    let s = match v {
        MontyObject::None => "None",
        MontyObject::Bool(_) => "a bool",
        MontyObject::Int(_) | MontyObject::BigInt(_) => "an int",
        MontyObject::Float(_) => "a float",
        MontyObject::String(_) => "a str",
        MontyObject::List(_) => "a list",
        MontyObject::Tuple(_) => "a tuple",
        MontyObject::Dict(_) => "a dict",
        _ => "another kind of value",
    };
    s.to_string()
}

/// A number tenant code returned: its value, and how messages show it (as the tenant wrote
/// it: `1e300`, `1000000000000000000000000000000`, never a 300-digit expansion).
struct Number {
    /// The value; an int past `f64` is infinite, which every bound refuses as too large.
    value: f64,
    shown: String,
}

/// Bits of an int past which it is not converted to decimal: converting a huge one takes
/// long, outside the call's time limit, and no size or price comes near (4096 bits is some
/// 1,233 digits).
const MAX_SHOWN_INT_BITS: u64 = 4096;

fn number(v: &MontyObject, what: &str) -> Result<Number, String> {
    match v {
        MontyObject::Int(i) => Ok(Number {
            value: *i as f64,
            shown: i.to_string(),
        }),
        // Past i64. Kept, not refused here, so the caller can say "too large" with its
        // own bound.
        MontyObject::BigInt(b) if b.bits() <= MAX_SHOWN_INT_BITS => {
            let digits = b.to_string();
            Ok(Number {
                // Decimal digits always parse; a value past f64 parses as infinite.
                value: digits.parse().unwrap_or(f64::INFINITY),
                shown: shown::int(&digits),
            })
        }
        MontyObject::BigInt(b) => {
            // The top bit of the two's-complement bytes is the sign.
            let negative = b.to_signed_bytes_le().last().is_some_and(|t| t & 0x80 != 0);
            Ok(Number {
                value: if negative {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                },
                shown: format!(
                    "{} int of {} bits",
                    if negative { "a negative" } else { "an" },
                    b.bits()
                ),
            })
        }
        MontyObject::Float(x) if x.is_finite() => Ok(Number {
            value: *x,
            shown: shown::float(*x),
        }),
        MontyObject::Float(x) => Err(format!(
            "\"{what}\" = {}: sizes and prices must be finite numbers",
            shown::float(*x)
        )),
        other => Err(format!(
            "\"{what}\" must be a number, not {}",
            describe(other)
        )),
    }
}

/// Refuses a state name or reason longer than [`MAX_STATE_TEXT`] bytes, before anything is
/// recorded: both go to the parent and into the report.
fn short_text(key: &str, s: &str, hint: &str) -> Result<(), String> {
    if s.len() <= MAX_STATE_TEXT {
        return Ok(());
    }
    Err(format!(
        "\"{key}\" is {} bytes long; at most {MAX_STATE_TEXT} bytes (1 KiB) are allowed: {hint}",
        crate::limits::thousands(s.len() as u64)
    ))
}

fn truthy(v: &MontyObject, what: &str) -> Result<bool, String> {
    match v {
        MontyObject::Bool(b) => Ok(*b),
        other => Err(format!(
            "\"{what}\" is True or False, not {}",
            describe(other)
        )),
    }
}

fn order(o: &MontyObject, info: &qf_core::Instrument) -> Result<Op, String> {
    let MontyObject::Dict(fields) = o else {
        return Err(format!(
            "each order is a dict such as {{\"side\": \"buy\", \"qty\": 10}}, not {}",
            describe(o)
        ));
    };
    let (mut side, mut qty, mut kind, mut price, mut stop, mut tif) =
        (None, None, None, None, None, TimeInForce::Gtc);
    let price_of = |v: &MontyObject, what: &str| -> Result<Price, String> {
        let n = number(v, what)?;
        if n.value <= 0.0 {
            return Err(format!(
                "order \"{what}\" = {} must be a positive price",
                n.shown
            ));
        }
        let p = Price::from_f64(n.value, info.price_precision).ok_or_else(|| {
            format!(
                "order \"{what}\" = {} is too large: at most {MAX_PRICE}",
                n.shown
            )
        })?;
        if !p.is_positive() {
            return Err(format!(
                "order \"{what}\" = {} is too small: prices of {} move in steps of {}",
                n.shown,
                info.symbol,
                info.tick()
            ));
        }
        Ok(p)
    };
    for (k, v) in fields {
        let key = match k {
            MontyObject::String(s) => s.as_str(),
            other => return Err(format!("order keys are strings, not {}", describe(other))),
        };
        match (key, v) {
            ("side", MontyObject::String(s)) if s == "buy" => side = Some(Side::Buy),
            ("side", MontyObject::String(s)) if s == "sell" => side = Some(Side::Sell),
            ("qty", v) => {
                let n = number(v, "qty")?;
                if n.value <= 0.0 {
                    return Err(format!(
                        "order \"qty\" = {} must be positive (use \"side\" for direction)",
                        n.shown
                    ));
                }
                let q = Quantity::from_f64(n.value, info.size_precision).ok_or_else(|| {
                    format!(
                        "order \"qty\" = {} is too large: at most {MAX_SIZE}",
                        n.shown
                    )
                })?;
                if q.is_zero() {
                    return Err(format!(
                        "order \"qty\" = {} is too small: the smallest order of {} is {}",
                        n.shown,
                        info.symbol,
                        info.lot()
                    ));
                }
                qty = Some(q);
            }
            ("type", MontyObject::String(s))
                if ["market", "limit", "stop", "stop_limit"].contains(&s.as_str()) =>
            {
                kind = Some(s.clone())
            }
            ("price", v) => price = Some(price_of(v, "price")?),
            ("stop", v) => stop = Some(price_of(v, "stop")?),
            ("tif", MontyObject::String(s)) if s == "gtc" => tif = TimeInForce::Gtc,
            ("tif", MontyObject::String(s)) if s == "day" => tif = TimeInForce::Day,
            ("tif", MontyObject::String(s)) if s == "ioc" => tif = TimeInForce::Ioc,
            (key, v) => {
                return Err(format!(
                    "order field \"{key}\" cannot be {}: fields are side (\"buy\"/\"sell\"), qty (> 0), type (\"market\", \"limit\", \"stop\", \"stop_limit\"), price, stop, tif (\"gtc\", \"day\", \"ioc\")",
                    describe(v)
                ));
            }
        }
    }
    let side = side.ok_or("an order needs \"side\": \"buy\" or \"sell\"")?;
    let quantity = qty.ok_or("an order needs \"qty\"")?;
    let kind = match (kind.as_deref(), price, stop) {
        (None | Some("market"), None, None) => OrderKind::Market,
        (None | Some("limit"), Some(price), None) => OrderKind::Limit { price },
        (None | Some("stop"), None, Some(trigger)) => OrderKind::Stop { trigger },
        (None | Some("stop_limit"), Some(limit), Some(trigger)) => {
            OrderKind::StopLimit { trigger, limit }
        }
        (k, p, s) => {
            return Err(format!(
                "order type {} does not match its prices (price {}, stop {}): market has neither, limit has price, stop has stop, stop_limit has both",
                k.unwrap_or("(inferred)"),
                if p.is_some() { "given" } else { "missing" },
                if s.is_some() { "given" } else { "missing" }
            ));
        }
    };
    Ok(Op::Order {
        side,
        quantity,
        kind,
        tif,
    })
}

/// Counts values in `v`, stopping past `limit`.
fn count_values(v: &MontyObject, limit: usize) -> usize {
    let mut n = 1;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            MontyObject::List(items)
            | MontyObject::Tuple(items)
            | MontyObject::Set(items)
            | MontyObject::FrozenSet(items) => {
                n += items.len();
                stack.extend(items.iter());
            }
            MontyObject::Dict(pairs) => {
                for (k, v) in pairs {
                    n += 2;
                    stack.push(k);
                    stack.push(v);
                }
            }
            _ => {}
        }
        if n > limit {
            break;
        }
    }
    n
}

/// A failure from an interpreter exception, located in the tenant's file.
pub(crate) fn failure(prog: &PythonProgram, e: &MontyException, kind: FailureKind) -> RunFailure {
    let own = prog.source_lines();
    let frame = e
        .traceback()
        .iter()
        .rev()
        .find(|f| f.filename == prog.file && f.start.line >= 1 && f.start.line <= own);
    let mut message = e.summary();
    let mut kind = kind;
    let mut help = None;
    match e.exc_type() {
        ExcType::TimeoutError if message.contains("time limit exceeded") => {
            kind = FailureKind::Limit;
            message = format!("time limit exceeded ({message})");
        }
        ExcType::MemoryError => {
            kind = FailureKind::Limit;
            message = format!("memory limit exceeded ({message})");
        }
        ExcType::RecursionError => kind = FailureKind::Limit,
        ExcType::NotImplementedError => {
            let m = message.to_lowercase();
            help = if m.contains("'del'") {
                Some("reassign the name, or use dict.pop(key) / list.pop(i)")
            } else if m.contains("yield") {
                Some("build and return a list instead of a generator")
            } else if m.contains("inheritance") {
                Some(
                    "use plain classes or dicts; raise ValueError(...) instead of a custom exception",
                )
            } else if m.contains("match") {
                Some("use if / elif")
            } else if m.contains("os function") {
                Some("strategies have no access to files, the clock or the network")
            } else {
                None
            };
        }
        _ => {}
    }
    if let Some(h) = help {
        message = format!("{message} (write instead: {h})");
    }
    let mut f = RunFailure::new(kind, &prog.file, message);
    if let Some(fr) = frame {
        f.line = fr.start.line;
        f.col = fr.start.column;
        f.function = fr.frame_name.clone().filter(|n| n != "<module>");
        f.source_line = prog
            .source
            .lines()
            .nth(fr.start.line as usize - 1)
            .map(crate::diag::clip);
    } else if kind != FailureKind::Compile {
        f.function = Some("on_bar".into());
    }
    f
}

impl Strategy for PyStrategy<'_> {
    fn on_start(&mut self, ctx: &mut StartContext<'_>) -> Result<(), StrategyError> {
        for k in 0..ctx.instruments().len() {
            let i = InstrumentId(k as u32);
            let mut lines = Vec::new();
            for (name, spec) in &self.prog.indicators {
                lines.push(
                    spec.register(ctx, i, &self.params)
                        .map_err(|e| StrategyError::new(format!("indicator `{name}`: {e}")))?,
                );
            }
            self.lines.push(lines);
            self.instruments.push(Instrument {
                state: Arc::from(self.prog.initial_state()),
                bars_in_state: 0,
                mem: MontyObject::Dict(Vec::new().into()),
                symbol: MontyObject::String(ctx.instruments()[k].symbol.clone()),
            });
        }
        Ok(())
    }

    fn on_bar(&mut self, ctx: &mut Context<'_>) -> Result<(), StrategyError> {
        self.calls += 1;
        let i = ctx.instrument();
        let k = i.index();
        let mut inputs = Vec::with_capacity(self.prog.inputs.len());
        for input in &self.prog.inputs {
            if matches!(input, Input::Bar(b) if BAR_NAMES[*b].0 == "mem") {
                inputs.push(std::mem::replace(
                    &mut self.instruments[k].mem,
                    MontyObject::None,
                ));
            } else {
                inputs.push(self.input(ctx, input, i));
            }
        }
        let limits = ResourceLimits {
            max_duration: Some(self.limits.call_time),
            max_memory: self.memory_ceiling,
            max_recursion_depth: self.limits.recursion,
            ..ResourceLimits::default()
        };
        self.log.bar = ctx.bar_index();
        self.log.time = ctx.time();
        let started = Instant::now();
        crate::worker::call_mark(Some(started));
        let out = self.runner.run(
            inputs,
            ResourceTracker::new(limits),
            PrintWriter::Callback(&mut self.log),
        );
        crate::worker::call_mark(None);
        self.python_time += started.elapsed();
        self.instruments[k].bars_in_state += 1;
        let (signal, mem) = match out {
            Ok(MontyObject::Tuple(mut pair)) if pair.len() == 2 => {
                let mem = pair.pop().unwrap_or(MontyObject::None);
                (pair.pop().unwrap_or(MontyObject::None), mem)
            }
            Ok(other) => {
                let f = RunFailure::new(
                    FailureKind::BadReturn,
                    &self.prog.file,
                    format!("internal: unexpected result {}", describe(&other)),
                );
                return Err(self.fail(f, ctx));
            }
            Err(e) => {
                let f = failure(self.prog, &e, FailureKind::Exception);
                return Err(self.fail(f, ctx));
            }
        };
        if self.prog.uses_mem() {
            if !matches!(mem, MontyObject::Dict(_)) {
                let f = RunFailure::new(
                    FailureKind::BadReturn,
                    &self.prog.file,
                    format!("`mem` must stay a dict, but it is now {}", describe(&mem)),
                );
                return Err(self.fail(f, ctx));
            }
            if count_values(&mem, MAX_MEM_VALUES) > MAX_MEM_VALUES {
                let f = RunFailure::new(
                    FailureKind::Limit,
                    &self.prog.file,
                    format!("`mem` holds more than {MAX_MEM_VALUES} values"),
                );
                return Err(self.fail(f, ctx));
            }
            self.instruments[k].mem = mem;
        }
        if self.python_time > self.limits.run_cpu {
            let f = RunFailure::new(
                FailureKind::Limit,
                &self.prog.file,
                format!(
                    "time limit for the run exceeded: tenant code ran {:.1} s (limit {:.1} s)",
                    self.python_time.as_secs_f64(),
                    self.limits.run_cpu.as_secs_f64()
                ),
            );
            return Err(self.fail(f, ctx));
        }
        if let Err(msg) = self.act(ctx, i, signal) {
            let mut f = RunFailure::new(FailureKind::BadReturn, &self.prog.file, msg);
            f.function = Some(
                if self.prog.has_execute {
                    "execute"
                } else {
                    "on_bar"
                }
                .into(),
            );
            return Err(self.fail(f, ctx));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use qf_engine::BacktestConfig;

    use super::*;

    /// Runs `body` as `on_bar` in process, as the worker does, on 20 bars of `ACME` (prices
    /// in cents, whole-unit sizes). `STATES` is left undeclared: any state name is taken.
    fn run(body: &str) -> PyStrategy<'static> {
        let mut src = String::from("def on_bar():\n");
        for line in body.lines() {
            src.push_str("    ");
            src.push_str(line);
            src.push('\n');
        }
        let prog: &'static PythonProgram =
            Box::leak(Box::new(crate::python::check("t.py", &src).unwrap()));
        let runner = compile(prog).unwrap();
        let params = qf_engine::strategies::resolve("t", &prog.params, &[]).unwrap();
        let mut s = PyStrategy::new(prog, runner, params, Limits::default(), None);
        let data = vec![qf_data::sample_bars("ACME", 20, 1)];
        let _ = qf_engine::run_backtest(&BacktestConfig::default(), &data, &mut s, None);
        s
    }

    /// The message a refused return value stops the run with, checking it is reported like
    /// the tier's other bad return values: on the first bar, in `on_bar`.
    fn refused(body: &str) -> String {
        let f = run(body).failure.expect("the run is refused");
        assert_eq!(f.kind, FailureKind::BadReturn, "{f}");
        assert_eq!(f.function.as_deref(), Some("on_bar"), "{f}");
        assert_eq!(f.bar.map(|(b, _)| b), Some(0), "{f}");
        f.message
    }

    /// Longest run of consecutive digits: a number printed in full has hundreds.
    fn longest_digits(s: &str) -> usize {
        s.split(|c: char| !c.is_ascii_digit())
            .map(str::len)
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn a_reason_or_state_past_one_kib_is_refused_with_its_length() {
        assert_eq!(
            refused("return {'target_percent': 0.5, 'reason': 'x' * (10 * 1024 * 1024)}"),
            "\"reason\" is 10,485,760 bytes long; at most 1024 bytes (1 KiB) are allowed: keep it to a line and print() the details"
        );
        // Refused even when no state changes, so it never crosses the pipe.
        assert!(
            refused("return {'reason': 'é' * 513}").starts_with("\"reason\" is 1,026 bytes long")
        );
        assert_eq!(
            refused("return {'state': 's' * 1025}"),
            "\"state\" is 1,025 bytes long; at most 1024 bytes (1 KiB) are allowed: a state name is a label such as \"long\""
        );
    }

    #[test]
    fn a_reason_and_state_of_exactly_one_kib_are_kept_whole() {
        let s = run("return {'state': 's' * 1024, 'reason': 'r' * 1024}");
        assert!(s.failure.is_none(), "{:?}", s.failure);
        let Some(Recorded {
            op: Op::State { to, reason, .. },
            ..
        }) = s.ops.first()
        else {
            panic!("no state change recorded: {:?}", s.ops);
        };
        assert_eq!((to.len(), reason.len()), (1024, 1024));
    }

    #[test]
    fn an_unknown_huge_key_is_refused_quickly_and_shown_clipped() {
        let m = refused("return {'k' * (10 * 1024 * 1024): 1}");
        assert!(m.starts_with("unknown key \"kkkk") && m.len() < 400, "{m}");
    }

    #[test]
    fn huge_ints_are_too_large_and_printed_as_written() {
        assert_eq!(
            refused("return {'target_quantity': 10 ** 30}"),
            "target_quantity = 1000000000000000000000000000000 is too large: it must lie within -9223372036..9223372036"
        );
        assert_eq!(
            refused("return {'target_quantity': -(10 ** 19)}"),
            "target_quantity = -10000000000000000000 is too large: it must lie within -9223372036..9223372036"
        );
        assert_eq!(
            refused("return {'target_percent': 10 ** 30}"),
            "target_percent = 1000000000000000000000000000000 is too large: it is a fraction of equity (1.0 is 100%) and must lie within -100..100"
        );
        assert_eq!(
            refused("return {'orders': [{'side': 'buy', 'qty': 10 ** 30}]}"),
            "order \"qty\" = 1000000000000000000000000000000 is too large: at most 9223372036"
        );
        assert_eq!(
            refused("return {'orders': [{'side': 'buy', 'qty': 1, 'price': 10 ** 400}]}"),
            "order \"price\" = 1000000000…000 (401 digits) is too large: at most 9223372036"
        );
        assert_eq!(
            refused("return {'target_quantity': -(10 ** 5000)}"),
            "target_quantity = a negative int of 16610 bits is too large: it must lie within -9223372036..9223372036"
        );
        assert_eq!(
            refused("return {'orders': [{'side': 'buy', 'qty': -(10 ** 30)}]}"),
            "order \"qty\" = -1000000000000000000000000000000 must be positive (use \"side\" for direction)"
        );
    }

    #[test]
    fn extreme_floats_are_too_large_or_too_small_and_printed_as_written() {
        let cases = [
            (
                "{'target_quantity': 1e300}",
                "target_quantity = 1e300 is too large: it must lie within -9223372036..9223372036",
            ),
            (
                "{'target_percent': -1e300}",
                "target_percent = -1e300 is too large: it is a fraction of equity (1.0 is 100%) and must lie within -100..100",
            ),
            (
                "{'orders': [{'side': 'buy', 'qty': 1, 'price': 1e300}]}",
                "order \"price\" = 1e300 is too large: at most 9223372036",
            ),
            (
                "{'orders': [{'side': 'buy', 'qty': 1, 'price': 1e-300}]}",
                "order \"price\" = 1e-300 is too small: prices of ACME move in steps of 0.01",
            ),
            (
                "{'orders': [{'side': 'sell', 'qty': 1, 'stop': 1e-300}]}",
                "order \"stop\" = 1e-300 is too small: prices of ACME move in steps of 0.01",
            ),
            (
                "{'orders': [{'side': 'buy', 'qty': 1e300}]}",
                "order \"qty\" = 1e300 is too large: at most 9223372036",
            ),
            (
                "{'orders': [{'side': 'buy', 'qty': 1e-300}]}",
                "order \"qty\" = 1e-300 is too small: the smallest order of ACME is 1",
            ),
            (
                "{'orders': [{'side': 'buy', 'qty': 1, 'price': -1e-300}]}",
                "order \"price\" = -1e-300 must be a positive price",
            ),
            (
                "{'target_quantity': float('inf')}",
                "\"target_quantity\" = inf: sizes and prices must be finite numbers",
            ),
        ];
        for (returned, want) in cases {
            let m = refused(&format!("return {returned}"));
            assert_eq!(m, want, "{returned}");
            assert!(longest_digits(&m) < 20, "{m}");
        }
    }

    #[test]
    fn ordinary_numbers_still_read_plainly() {
        assert_eq!(
            refused("return {'target_percent': 150}"),
            "target_percent = 150 is too large: it is a fraction of equity (1.0 is 100%) and must lie within -100..100"
        );
        assert_eq!(
            refused("return {'orders': [{'side': 'buy', 'qty': 0.5, 'price': 0.001}]}"),
            "order \"price\" = 0.001 is too small: prices of ACME move in steps of 0.01"
        );
        let s = run("return {'target_quantity': 3, 'state': 'in'}");
        assert!(s.failure.is_none(), "{:?}", s.failure);
        assert_eq!(s.ops[0].op, Op::TargetQuantity(Quantity::from_int(3)));
    }
}
