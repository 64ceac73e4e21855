use qf_core::InstrumentId;
use std::borrow::Cow;

use super::params::{ParamSpec, Params, period};
use crate::{Context, Line, Source, StartContext, Strategy, StrategyError};

pub(super) const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: Cow::Borrowed("period"),
        default: 14.0,
        min: 2.0,
        max: 10_000.0,
        integer: true,
        help: Cow::Borrowed("RSI period (bars)"),
    },
    ParamSpec {
        name: Cow::Borrowed("lower"),
        default: 30.0,
        min: 0.0,
        max: 100.0,
        integer: false,
        help: Cow::Borrowed("buy when RSI falls below this"),
    },
    ParamSpec {
        name: Cow::Borrowed("upper"),
        default: 70.0,
        min: 0.0,
        max: 100.0,
        integer: false,
        help: Cow::Borrowed("sell when RSI rises above this"),
    },
];

/// Mean reversion on Wilder's RSI: long below `lower`, flat above `upper`.
pub struct RsiReversion {
    period: usize,
    lower: f64,
    upper: f64,
    lines: Vec<Line>,
}

impl RsiReversion {
    /// From resolved parameters; `lower` must be below `upper`.
    pub fn new(p: &Params) -> Result<Self, StrategyError> {
        let lower = p.get("lower").copied().unwrap_or(30.0);
        let upper = p.get("upper").copied().unwrap_or(70.0);
        if lower >= upper {
            return Err(StrategyError::new(format!(
                "rsi_reversion needs lower < upper, got lower={lower} upper={upper}"
            )));
        }
        Ok(Self {
            period: period(p, "period"),
            lower,
            upper,
            lines: Vec::new(),
        })
    }
}

impl Strategy for RsiReversion {
    fn on_start(&mut self, ctx: &mut StartContext<'_>) -> Result<(), StrategyError> {
        for k in 0..ctx.instruments().len() {
            self.lines
                .push(ctx.rsi(InstrumentId(k as u32), Source::Close, self.period)?);
        }
        Ok(())
    }

    fn on_bar(&mut self, ctx: &mut Context<'_>) -> Result<(), StrategyError> {
        let i = ctx.instrument();
        let Some(rsi) = ctx.value(self.lines[i.index()]) else {
            return Ok(());
        };
        let r = if rsi < self.lower {
            ctx.enter_long(i)
        } else if rsi > self.upper {
            ctx.close_position(i)
        } else {
            return Ok(());
        };
        r.map(|_| ()).map_err(|e| StrategyError::new(e.to_string()))
    }
}
