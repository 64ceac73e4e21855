# SMA crossover, long only: the same rules as the native `sma_cross` built-in.
#
#   qf backtest --strategy examples/python/sma_cross.py --demo
#   qf sweep --strategy examples/python/sma_cross.py --data bars.csv --grid fast=5..50:5 --grid slow=20..200:20
#
# Declarations are literals, read without running the file. The engine computes the
# indicators natively; on every bar it sets their values (`fast_ma`, `slow_ma`) and the
# previous bar's (`prev_fast_ma`, `prev_slow_ma`) before calling on_bar().

PARAMS = {
    "fast": {"default": 10, "min": 1, "max": 1000, "help": "fast SMA period"},
    "slow": {"default": 30, "min": 2, "max": 5000, "help": "slow SMA period"},
}
INDICATORS = {
    "fast_ma": "sma(close, fast)",
    "slow_ma": "sma(close, slow)",
}
STATES = ["flat", "long"]


def on_bar():
    # Indicators are None until they have enough bars.
    if prev_fast_ma is None or prev_slow_ma is None:
        return None
    if prev_fast_ma <= prev_slow_ma and fast_ma > slow_ma:
        return {"enter": "long", "state": "long", "reason": "fast SMA crossed above slow"}
    if prev_fast_ma >= prev_slow_ma and fast_ma < slow_ma:
        return {"close": True, "state": "flat", "reason": "fast SMA crossed below slow"}
    return None
