# Trend following with ATR stops and volatility position sizing: a Donchian breakout
# system in the style of the classic turtle rules.
#
#   qf backtest --strategy examples/python/atr_trend.py --demo --report atr.html
#
# Entry: the close breaks above the highest high of the previous `entry` bars, while the
#        trend filter (close above its `trend`-bar SMA) agrees.
# Exit:  a trailing stop `stop_atr` ATRs below the highest close since entry, or a close
#        below the lowest low of the previous `exit` bars, whichever comes first.
# Size:  risk `risk` of equity per trade, measured as the distance to the initial stop, so a
#        volatile market gets a smaller position (volatility sizing). This is the job of
#        execute(): on_bar decides *what* (enter, exit); execute decides *how much*.
# After a stop-out the strategy waits `cooldown` bars before it may enter again.

PARAMS = {
    "entry": {"default": 55, "min": 5, "max": 500, "help": "breakout lookback (bars)"},
    "exit": {"default": 20, "min": 2, "max": 500, "help": "exit channel lookback (bars)"},
    "trend": {"default": 200, "min": 10, "max": 2000, "help": "trend filter SMA (bars)"},
    "atr_period": {"default": 20, "min": 2, "max": 500},
    "stop_atr": {"default": 3.0, "min": 0.5, "max": 20.0, "help": "trailing stop distance in ATRs"},
    "risk": {"default": 0.01, "min": 0.0005, "max": 0.1, "help": "fraction of equity risked per trade"},
    "cooldown": {"default": 10, "min": 0, "max": 1000, "help": "bars to wait after a stop-out"},
}
INDICATORS = {
    "upper": "highest(high, entry)",
    "lower": "lowest(low, exit)",
    "trend_ma": "sma(close, trend)",
    "atr": "atr(atr_period)",
}
STATES = ["flat", "long", "cooldown"]


def on_bar():
    if prev_upper is None or prev_lower is None or trend_ma is None or atr is None:
        return None

    if state == "cooldown":
        if bars_in_state >= cooldown:
            return {"state": "flat", "reason": "cooldown over"}
        return None

    if state == "flat":
        if close > prev_upper and close > trend_ma:
            mem["peak"] = close
            mem["stop"] = close - stop_atr * atr
            return {"signal": "enter", "stop": mem["stop"], "reason": "breakout above the " + str(entry) + "-bar high"}
        return None

    # Long: trail the stop under the highest close since entry; it only ever rises.
    if close > mem["peak"]:
        mem["peak"] = close
    mem["stop"] = max(mem["stop"], mem["peak"] - stop_atr * atr)
    if close < mem["stop"]:
        return {"signal": "exit", "next": "cooldown", "reason": "trailing stop at " + str(round(mem["stop"], 2))}
    if close < prev_lower:
        return {"signal": "exit", "next": "flat", "reason": "close below the " + str(exit) + "-bar low"}
    return None


def execute(signal):
    """Turns on_bar's signal into orders: volatility-sized entries, full exits."""
    if signal is None:
        return None
    kind = signal.get("signal")
    if kind is None:
        return signal  # a plain state change, such as the end of the cooldown
    if kind == "enter":
        risk_per_unit = close - signal["stop"]
        if risk_per_unit <= 0:
            return None
        quantity = int(equity * risk / risk_per_unit)
        # Never more than the account can pay for at 1x leverage.
        quantity = min(quantity, int(equity * 0.95 / close))
        if quantity < 1:
            return None
        return {"target_quantity": quantity, "state": "long", "reason": signal["reason"]}
    return {"close": True, "state": signal["next"], "reason": signal["reason"]}
