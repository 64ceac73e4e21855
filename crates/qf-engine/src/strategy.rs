use qf_core::Fill;

use crate::{Context, StartContext, StrategyError};

/// A trading strategy: native Rust, or (later) tenant code running in the sandbox behind this
/// same trait.
///
/// The engine calls [`on_start`](Strategy::on_start) once, where the strategy registers the
/// indicators it needs; then for every bar [`on_fill`](Strategy::on_fill) for each fill the
/// bar produced, then [`on_bar`](Strategy::on_bar); finally [`on_end`](Strategy::on_end).
/// An error from any hook stops the run and is reported with the bar it happened on.
pub trait Strategy: Send {
    /// Registers indicators and reads the instruments. Called once before the first bar.
    fn on_start(&mut self, ctx: &mut StartContext<'_>) -> Result<(), StrategyError>;

    /// Decides on one bar of `ctx.instrument()`; indicators already include this bar.
    fn on_bar(&mut self, ctx: &mut Context<'_>) -> Result<(), StrategyError>;

    /// Sees a fill of one of its orders, before `on_bar` of the bar it happened on.
    fn on_fill(&mut self, _ctx: &mut Context<'_>, _fill: &Fill) -> Result<(), StrategyError> {
        Ok(())
    }

    /// Called after the last bar; open positions stay open and are marked at the last close.
    fn on_end(&mut self, _ctx: &mut Context<'_>) -> Result<(), StrategyError> {
        Ok(())
    }
}
