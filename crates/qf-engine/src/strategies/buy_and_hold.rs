use crate::{Context, StartContext, Strategy, StrategyError};

/// Buys each instrument once, on its first bar, by the run's sizing.
#[derive(Default)]
pub struct BuyAndHold {
    bought: Vec<bool>,
}

impl Strategy for BuyAndHold {
    fn on_start(&mut self, ctx: &mut StartContext<'_>) -> Result<(), StrategyError> {
        self.bought = vec![false; ctx.instruments().len()];
        Ok(())
    }

    fn on_bar(&mut self, ctx: &mut Context<'_>) -> Result<(), StrategyError> {
        let i = ctx.instrument();
        if !self.bought[i.index()] {
            self.bought[i.index()] = true;
            ctx.enter_long(i)
                .map_err(|e| StrategyError::new(e.to_string()))?;
        }
        Ok(())
    }
}
