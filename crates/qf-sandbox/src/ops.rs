//! What an isolated strategy did, as a list of engine calls tagged with the bar they were made
//! on. The worker records them while its engine runs the tenant's code; the parent replays
//! them through its own engine. The engine is deterministic, so the replay reproduces the
//! run exactly — and the parent's result is computed by trusted code from nothing but orders,
//! which a compromised worker could have placed anyway.

use std::sync::Arc;

use qf_core::{
    InstrumentId, OrderKind, PRICE_SCALE, Price, QUANTITY_SCALE, Quantity, Side, TimeInForce,
};
use qf_engine::{Context, OrderError, StartContext, Strategy, StrategyError};

use crate::wire::{Malformed, Reader, Writer};

/// One engine call.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `Context::enter_long`.
    EnterLong,
    /// `Context::enter_short`.
    EnterShort,
    /// `Context::close_position`.
    Close,
    /// `Context::order_target_percent` with a fraction of equity.
    TargetPercent(f64),
    /// `Context::order_target_quantity`.
    TargetQuantity(Quantity),
    /// `Context::submit`.
    Order {
        side: Side,
        quantity: Quantity,
        kind: OrderKind,
        tif: TimeInForce,
    },
    /// `Context::cancel_all`.
    CancelAll,
    /// `Context::change_state`.
    State {
        from: Arc<str>,
        to: Arc<str>,
        reason: Arc<str>,
    },
}

impl Op {
    /// Makes the call on `ctx` for instrument `i`.
    pub fn apply(&self, ctx: &mut Context<'_>, i: InstrumentId) -> Result<(), OrderError> {
        match self {
            Op::EnterLong => ctx.enter_long(i).map(drop),
            Op::EnterShort => ctx.enter_short(i).map(drop),
            Op::Close => ctx.close_position(i).map(drop),
            Op::TargetPercent(f) => ctx.order_target_percent(i, *f).map(drop),
            Op::TargetQuantity(q) => ctx.order_target_quantity(i, *q).map(drop),
            Op::Order {
                side,
                quantity,
                kind,
                tif,
            } => ctx.submit(i, *side, *quantity, *kind, *tif).map(drop),
            Op::CancelAll => {
                ctx.cancel_all(i);
                Ok(())
            }
            Op::State { from, to, reason } => {
                ctx.change_state(from.clone(), to.clone(), reason.clone());
                Ok(())
            }
        }
    }
}

/// Most ops one call of `on_bar` can make: cancel, one position op, 100 orders, a state.
pub const MAX_OPS_PER_CALL: usize = 103;
/// Most orders working at once in one run of tenant code.
pub const MAX_OPEN_ORDERS: usize = 10_000;
/// Largest whole size an op's quantity can hold (`Quantity` counts 10⁻⁹ units in an `i64`).
pub const MAX_SIZE: i64 = i64::MAX / QUANTITY_SCALE;
/// Largest whole price an op's price can hold (`Price` counts 10⁻⁹ units in an `i64`).
pub const MAX_PRICE: i64 = i64::MAX / PRICE_SCALE;
/// Longest state name or `reason`, in bytes, that tenant code may return (1 KiB). Both are
/// labels for the state timeline; a longer text is refused, in the worker before anything
/// is recorded and again by the parent when it reads ops.
pub const MAX_STATE_TEXT: usize = 1024;
/// Longest reason an op may carry: the tenant's own, or the default one, which quotes the
/// state name (`on_bar returned state "…"`).
const MAX_OP_REASON: usize = MAX_STATE_TEXT + 64;

/// A state name or reason read from a worker, refused past its bound before it is copied.
fn bounded<'a>(
    r: &mut Reader<'a>,
    max: usize,
    too_long: &'static str,
) -> Result<&'a str, Malformed> {
    let s = r.str()?;
    if s.len() > max {
        return Err(Malformed(too_long));
    }
    Ok(s)
}

/// An op with the `on_bar` call it was made in (1-based count of calls).
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// Which call of `on_bar`.
    pub call: u64,
    /// The call's instrument.
    pub instrument: InstrumentId,
    /// The op.
    pub op: Op,
}

/// Replays recorded ops through the engine: the parent's side of an isolated run.
pub struct Replay {
    ops: Vec<Recorded>,
    next: usize,
    calls: u64,
}

impl Replay {
    /// A strategy that makes exactly `ops`, in order.
    pub fn new(ops: Vec<Recorded>) -> Self {
        Replay {
            ops,
            next: 0,
            calls: 0,
        }
    }
}

impl Strategy for Replay {
    fn on_start(&mut self, _ctx: &mut StartContext<'_>) -> Result<(), StrategyError> {
        Ok(())
    }

    fn on_bar(&mut self, ctx: &mut Context<'_>) -> Result<(), StrategyError> {
        self.calls += 1;
        while let Some(r) = self.ops.get(self.next).filter(|r| r.call == self.calls) {
            if r.instrument != ctx.instrument() {
                return Err(StrategyError::new(
                    "replay diverged from the isolated run (instrument mismatch)",
                ));
            }
            r.op.apply(ctx, r.instrument)
                .map_err(|e| StrategyError::new(format!("replay: {e}")))?;
            self.next += 1;
        }
        if ctx.open_orders().len() > MAX_OPEN_ORDERS {
            return Err(StrategyError::new(format!(
                "replay: more than {MAX_OPEN_ORDERS} working orders"
            )));
        }
        Ok(())
    }

    fn on_end(&mut self, _ctx: &mut Context<'_>) -> Result<(), StrategyError> {
        if self.next != self.ops.len() {
            return Err(StrategyError::new(format!(
                "replay diverged from the isolated run: {} of {} ops unused",
                self.ops.len() - self.next,
                self.ops.len()
            )));
        }
        Ok(())
    }
}

fn side_code(s: Side) -> u8 {
    match s {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

fn tif_code(t: TimeInForce) -> u8 {
    match t {
        TimeInForce::Gtc => 0,
        TimeInForce::Day => 1,
        TimeInForce::Ioc => 2,
    }
}

/// Encodes recorded ops.
pub fn write_ops(w: &mut Writer, ops: &[Recorded]) {
    w.u64(ops.len() as u64);
    for r in ops {
        w.u64(r.call).u32(r.instrument.0);
        match &r.op {
            Op::EnterLong => w.u8(0),
            Op::EnterShort => w.u8(1),
            Op::Close => w.u8(2),
            Op::TargetPercent(f) => w.u8(3).f64(*f),
            Op::TargetQuantity(q) => w.u8(4).i64(q.raw()),
            Op::Order {
                side,
                quantity,
                kind,
                tif,
            } => {
                w.u8(5)
                    .u8(side_code(*side))
                    .i64(quantity.raw())
                    .u8(tif_code(*tif));
                match kind {
                    OrderKind::Market => w.u8(0).i64(0).i64(0),
                    OrderKind::Limit { price } => w.u8(1).i64(price.raw()).i64(0),
                    OrderKind::Stop { trigger } => w.u8(2).i64(trigger.raw()).i64(0),
                    OrderKind::StopLimit { trigger, limit } => {
                        w.u8(3).i64(trigger.raw()).i64(limit.raw())
                    }
                }
            }
            Op::CancelAll => w.u8(6),
            Op::State { from, to, reason } => w.u8(7).str(from).str(to).str(reason),
        };
    }
}

/// Decodes recorded ops (from an untrusted worker: every field is checked).
pub fn read_ops(r: &mut Reader<'_>) -> Result<Vec<Recorded>, Malformed> {
    let n = r.u64()? as usize;
    let mut out = Vec::with_capacity(n.min(1 << 20));
    let (mut last_call, mut in_call) = (0u64, 0usize);
    for _ in 0..n {
        let call = r.u64()?;
        // Calls only move forward, and each makes a bounded number of ops: a worker cannot
        // make the parent's replay arbitrarily expensive.
        match call.cmp(&last_call) {
            std::cmp::Ordering::Less => return Err(Malformed("ops out of order")),
            std::cmp::Ordering::Equal => in_call += 1,
            std::cmp::Ordering::Greater => (last_call, in_call) = (call, 1),
        }
        if in_call > MAX_OPS_PER_CALL {
            return Err(Malformed("too many ops in one call"));
        }
        let instrument = InstrumentId(r.u32()?);
        let op = match r.u8()? {
            0 => Op::EnterLong,
            1 => Op::EnterShort,
            2 => Op::Close,
            3 => Op::TargetPercent(r.f64()?),
            4 => Op::TargetQuantity(Quantity::from_raw(r.i64()?)),
            5 => {
                let side = match r.u8()? {
                    0 => Side::Buy,
                    1 => Side::Sell,
                    _ => return Err(Malformed("side")),
                };
                let quantity = Quantity::from_raw(r.i64()?);
                let tif = match r.u8()? {
                    0 => TimeInForce::Gtc,
                    1 => TimeInForce::Day,
                    2 => TimeInForce::Ioc,
                    _ => return Err(Malformed("time in force")),
                };
                let (tag, a, b) = (
                    r.u8()?,
                    Price::from_raw(r.i64()?),
                    Price::from_raw(r.i64()?),
                );
                let kind = match tag {
                    0 => OrderKind::Market,
                    1 => OrderKind::Limit { price: a },
                    2 => OrderKind::Stop { trigger: a },
                    3 => OrderKind::StopLimit {
                        trigger: a,
                        limit: b,
                    },
                    _ => return Err(Malformed("order kind")),
                };
                Op::Order {
                    side,
                    quantity,
                    kind,
                    tif,
                }
            }
            6 => Op::CancelAll,
            7 => {
                const NAME: &str = "a state name longer than 1 KiB";
                const REASON: &str = "a state-change reason longer than 1 KiB";
                Op::State {
                    from: bounded(r, MAX_STATE_TEXT, NAME)?.into(),
                    to: bounded(r, MAX_STATE_TEXT, NAME)?.into(),
                    reason: bounded(r, MAX_OP_REASON, REASON)?.into(),
                }
            }
            _ => return Err(Malformed("op")),
        };
        out.push(Recorded {
            call,
            instrument,
            op,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(from: &str, to: &str, reason: &str) -> Vec<Recorded> {
        vec![Recorded {
            call: 1,
            instrument: InstrumentId(0),
            op: Op::State {
                from: from.into(),
                to: to.into(),
                reason: reason.into(),
            },
        }]
    }

    fn encoded(ops: &[Recorded]) -> Vec<u8> {
        let mut w = Writer::default();
        write_ops(&mut w, ops);
        w.0
    }

    #[test]
    fn state_changes_round_trip_up_to_the_limit() {
        let name = "n".repeat(MAX_STATE_TEXT);
        let default_reason = format!("on_bar returned state \"{name}\"");
        let ops = state("flat", &name, &default_reason);
        let bytes = encoded(&ops);
        assert_eq!(read_ops(&mut Reader::new(&bytes)).unwrap(), ops);
    }

    #[test]
    fn the_parent_refuses_an_over_long_state_name_or_reason() {
        let long = "x".repeat(MAX_STATE_TEXT + 1);
        let huge = "y".repeat(10 << 20);
        for (ops, want) in [
            (state("flat", &long, "r"), "a state name longer than 1 KiB"),
            (state(&long, "flat", "r"), "a state name longer than 1 KiB"),
            (
                state("flat", "long", &huge),
                "a state-change reason longer than 1 KiB",
            ),
        ] {
            let bytes = encoded(&ops);
            match read_ops(&mut Reader::new(&bytes)) {
                Err(Malformed(why)) => assert_eq!(why, want),
                Ok(_) => panic!("accepted an op with a {want}"),
            }
        }
    }
}
