use qf_core::InstrumentId;
use std::borrow::Cow;

use super::params::{ParamSpec, Params, period};
use crate::{Context, Line, Source, StartContext, Strategy, StrategyError};

pub(super) const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: Cow::Borrowed("fast"),
        default: 10.0,
        min: 1.0,
        max: 100_000.0,
        integer: true,
        help: Cow::Borrowed("fast SMA period (bars)"),
    },
    ParamSpec {
        name: Cow::Borrowed("slow"),
        default: 30.0,
        min: 2.0,
        max: 100_000.0,
        integer: true,
        help: Cow::Borrowed("slow SMA period (bars)"),
    },
    ParamSpec {
        name: Cow::Borrowed("short"),
        default: 0.0,
        min: 0.0,
        max: 1.0,
        integer: true,
        help: Cow::Borrowed("1 = go short on a cross below instead of flat"),
    },
];

/// Moving-average crossover on the close of every instrument.
pub struct SmaCross {
    fast: usize,
    slow: usize,
    short: bool,
    lines: Vec<(Line, Line)>,
}

impl SmaCross {
    /// From resolved parameters; `fast` must be below `slow`.
    pub fn new(p: &Params) -> Result<Self, StrategyError> {
        let (fast, slow) = (period(p, "fast"), period(p, "slow"));
        if fast >= slow {
            return Err(StrategyError::new(format!(
                "sma_cross needs fast < slow, got fast={fast} slow={slow}"
            )));
        }
        Ok(Self {
            fast,
            slow,
            short: p.get("short").copied().unwrap_or(0.0) == 1.0,
            lines: Vec::new(),
        })
    }
}

impl Strategy for SmaCross {
    fn on_start(&mut self, ctx: &mut StartContext<'_>) -> Result<(), StrategyError> {
        for k in 0..ctx.instruments().len() {
            let i = InstrumentId(k as u32);
            let fast = ctx.sma(i, Source::Close, self.fast)?;
            let slow = ctx.sma(i, Source::Close, self.slow)?;
            self.lines.push((fast, slow));
        }
        Ok(())
    }

    #[inline]
    fn on_bar(&mut self, ctx: &mut Context<'_>) -> Result<(), StrategyError> {
        let i = ctx.instrument();
        let (fast, slow) = self.lines[i.index()];
        let order = if ctx.crossed_above(fast, slow) {
            ctx.enter_long(i)
        } else if ctx.crossed_below(fast, slow) {
            if self.short {
                ctx.enter_short(i)
            } else {
                ctx.close_position(i)
            }
        } else {
            return Ok(());
        };
        order
            .map(|_| ())
            .map_err(|e| StrategyError::new(e.to_string()))
    }
}
