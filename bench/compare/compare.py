#!/usr/bin/env python3
"""Compare the `qf` backtester against backtesting.py and backtrader.

On-demand benchmark (not part of CI). It generates a seeded synthetic minute-bar
OHLCV series, runs the same long-only SMA(10)/SMA(30) crossover strategy in every
engine, checks that they agree on the number of trades and on the final equity
(to the cent), and reports how fast each one is. See README.md beside this file.

Run it through run.sh, which provides a virtualenv with the pinned peers:

    bench/compare/run.sh --bars 100000
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent

FAST = 10
SLOW = 30
CASH = 1_000_000
SIZE = 1
START = np.datetime64("2020-01-01T00:00:00", "s")

# Synthetic data parameters (log-return standard deviations per bar).
GAP_SIGMA = 0.0002  # previous close -> open, so an open usually differs from the last close
BODY_SIGMA = 0.0005  # open -> close
WICK_SIGMA = 0.0003  # how far high/low reach beyond the body


# --------------------------------------------------------------------------- data


def generate(bars: int, seed: int, allow_ties: bool = False) -> dict:
    """Seeded synthetic OHLCV as integer cents.

    A geometric random walk starting at 100: every bar opens at the previous close
    times exp(gap) and closes at its open times exp(body); high and low extend the
    body by a random wick. Prices are rounded to cents and are >= 0.01.

    Unless ``allow_ties``, a close is raised by one cent wherever it would make
    SMA(10) exactly equal to SMA(30) (i.e. 3 * sum10 == sum30 in cents). Such exact
    ties are where float engines legitimately disagree with each other (each
    computes the mean with different rounding, so `>` flips either way); without
    them every engine's comparison is exact, since the two means then differ by at
    least 1/30 of a cent, far above any float error.
    """
    if bars < SLOW + 2:
        raise SystemExit(f"--bars must be at least {SLOW + 2}")
    # Row-major draws from spawned streams: the first M bars are the same whatever
    # --bars is, so a prefix of a long series equals a short series.
    price_rng, volume_rng = np.random.default_rng(seed).spawn(2)
    z = price_rng.standard_normal((bars, 4))
    gap = z[:, 0] * GAP_SIGMA
    body = z[:, 1] * BODY_SIGMA
    wick_hi = np.abs(z[:, 2]) * WICK_SIGMA
    wick_lo = np.abs(z[:, 3]) * WICK_SIGMA
    volume = volume_rng.integers(100, 10_000, bars, dtype=np.int64)

    steps = np.empty(2 * bars)
    steps[0::2] = gap
    steps[1::2] = body
    log_path = math.log(100.0) + np.cumsum(steps)
    log_open = log_path[0::2]
    log_close = log_path[1::2]

    def cents(x):
        return np.maximum(np.rint(np.exp(x) * 100.0).astype(np.int64), 1)

    o = cents(log_open)
    c = cents(log_close)
    nudged = 0
    if not allow_ties:
        c, nudged = _break_sma_ties(c)
    h = np.maximum(cents(np.maximum(log_open, log_close) + wick_hi), np.maximum(o, c))
    lo = np.minimum(cents(np.minimum(log_open, log_close) - wick_lo), np.minimum(o, c))
    lo = np.maximum(lo, 1)
    assert (h >= np.maximum(o, c)).all() and (lo <= np.minimum(o, c)).all() and (lo > 0).all()
    return {"open": o, "high": h, "low": lo, "close": c, "volume": volume, "nudged": nudged}


def _break_sma_ties(close: np.ndarray) -> tuple[np.ndarray, int]:
    """Raise close[t] by a cent wherever SLOW*sum_fast == FAST*sum_slow (sma_fast == sma_slow).

    A +1 cent on close[t] is in both windows ending at t, so it changes that difference
    by SLOW - FAST != 0; later windows are checked with the raised value.
    """
    c = close.tolist()
    s_fast = sum(c[SLOW - FAST:SLOW - 1])  # the 9 closes before the first full window
    s_slow = sum(c[:SLOW - 1])
    nudged = 0
    for t in range(SLOW - 1, len(c)):
        s_fast += c[t]
        s_slow += c[t]
        if t > SLOW - 1:
            s_fast -= c[t - FAST]
            s_slow -= c[t - SLOW]
        if SLOW * s_fast == FAST * s_slow:
            c[t] += 1
            s_fast += 1
            s_slow += 1
            nudged += 1
    return np.asarray(c, dtype=np.int64), nudged


def write_csv(data: dict, path: Path, bars: int | None = None) -> None:
    n = len(data["close"]) if bars is None else bars
    ts = np.datetime_as_string(START + np.arange(n).astype("timedelta64[m]"), unit="s")
    df = pd.DataFrame(
        {
            "timestamp": np.char.add(ts.astype(str), "Z"),
            "open": data["open"][:n] / 100.0,
            "high": data["high"][:n] / 100.0,
            "low": data["low"][:n] / 100.0,
            "close": data["close"][:n] / 100.0,
            "volume": data["volume"][:n],
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, float_format="%.2f", lineterminator="\n")


def read_ohlcv(path: Path) -> pd.DataFrame:
    """The peers' loader: data.csv -> DataFrame with a tz-naive UTC DatetimeIndex."""
    df = pd.read_csv(path)
    idx = pd.to_datetime(df.pop("timestamp"), format="%Y-%m-%dT%H:%M:%SZ", utc=True)
    df.index = pd.DatetimeIndex(idx).tz_localize(None)
    df.index.name = "datetime"
    return df


# ---------------------------------------------------------------------- reference


def run_reference(data: dict, bars: int) -> dict:
    """Exact re-statement of the rules in integer cents (numpy): the oracle.

    sma10 > sma30  <=>  30*sum10 > 10*sum30, so no float is involved anywhere.
    """
    t0 = time.perf_counter()
    o = data["open"][:bars]
    c = data["close"][:bars]
    cs = np.concatenate([[0], np.cumsum(c)])
    t = np.arange(SLOW - 1, bars)  # first bar where SMA(30) exists
    # sign(sma_fast - sma_slow) == sign(SLOW*sum_fast - FAST*sum_slow), in integers
    diff = SLOW * (cs[t + 1] - cs[t + 1 - FAST]) - FAST * (cs[t + 1] - cs[t + 1 - SLOW])
    up = np.flatnonzero((diff[:-1] <= 0) & (diff[1:] > 0)) + SLOW  # decision bar index
    dn = np.flatnonzero((diff[:-1] >= 0) & (diff[1:] < 0)) + SLOW
    events = sorted([(int(i), 1) for i in up] + [(int(i), -1) for i in dn])
    long = False
    cash = CASH * 100
    trades = []
    entry = None
    for i, kind in events:
        if i + 1 >= bars:  # decided on the last bar: there is no next open to fill at
            break
        if kind == 1 and not long:
            long = True
            entry = (i + 1, int(o[i + 1]))
            cash -= SIZE * int(o[i + 1])
        elif kind == -1 and long:
            long = False
            cash += SIZE * int(o[i + 1])
            trades.append((entry[0], i + 1, entry[1], int(o[i + 1])))
    equity = cash + (SIZE * int(c[-1]) if long else 0)
    elapsed = time.perf_counter() - t0
    return {
        "closed_trades": len(trades),
        "open_trades": int(long),
        "final_equity_cents": int(equity),
        "run_s": elapsed,
        "total_s": elapsed,
        "trades": [(a, b) for a, b, _, _ in trades],
        "exact_ties": int((diff == 0).sum()),
    }


# ------------------------------------------------------------------ backtesting.py


def run_backtesting_py(csv_path: Path) -> dict:
    from backtesting import Backtest, Strategy

    def sma(values, n):
        return pd.Series(values).rolling(n).mean()

    class SmaCross(Strategy):
        fast = FAST
        slow = SLOW

        def init(self):
            self.sma_fast = self.I(sma, self.data.Close, self.fast, name="sma_fast")
            self.sma_slow = self.I(sma, self.data.Close, self.slow, name="sma_slow")

        def next(self):
            f, s = self.sma_fast, self.sma_slow
            # Not backtesting.lib.crossover(): that one needs a strict `<` before.
            if f[-2] <= s[-2] and f[-1] > s[-1]:
                if not self.position:
                    self.buy(size=SIZE)
            elif f[-2] >= s[-2] and f[-1] < s[-1]:
                if self.position:
                    self.position.close()

    gc.collect()
    t0 = time.perf_counter()
    df = read_ohlcv(csv_path)
    df.columns = [col.capitalize() for col in df.columns]  # Open, High, Low, Close, Volume
    bt = Backtest(
        df,
        SmaCross,
        cash=CASH,
        commission=0,
        spread=0,
        margin=1.0,
        trade_on_close=False,
        hedging=False,
        exclusive_orders=False,
        # False: an open position stays open and "Equity Final [$]" marks it at the
        # last close. True would close it at the *open* of the last bar instead.
        finalize_trades=False,
    )
    t1 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Some trades remain open at the end ..."
        stats = bt.run()
    t2 = time.perf_counter()
    strategy = stats["_strategy"]
    closed = int(stats["# Trades"])  # counts closed trades only
    open_trades = len(strategy.trades)
    final = float(stats["Equity Final [$]"])
    tdf = stats["_trades"]
    trades = list(zip(tdf["EntryBar"].astype(int).tolist(), tdf["ExitBar"].astype(int).tolist()))
    t3 = time.perf_counter()
    assert closed == len(strategy.closed_trades)
    return {
        "closed_trades": closed,
        "open_trades": open_trades,
        "final_equity": final,
        "final_equity_cents": to_cents(final),
        "run_s": t2 - t1,
        "total_s": t3 - t0,
        "trades": trades,
    }


# ---------------------------------------------------------------------- backtrader


def run_backtrader(csv_path: Path) -> dict:
    import backtrader as bt

    class SmaCross(bt.Strategy):
        params = (("fast", FAST), ("slow", SLOW))

        def __init__(self):
            self.sma_fast = bt.indicators.SMA(self.data.close, period=self.p.fast)
            self.sma_slow = bt.indicators.SMA(self.data.close, period=self.p.slow)
            self.cross = bt.indicators.CrossOver(self.sma_fast, self.sma_slow)
            self.round_trips = []

        def next(self):
            if self.cross[0] > 0:
                if not self.position:
                    self.buy(size=SIZE)
            elif self.cross[0] < 0:
                if self.position:
                    self.close()

        def notify_trade(self, trade):
            if trade.isclosed:
                self.round_trips.append((trade.baropen, trade.barclose))

    gc.collect()
    t0 = time.perf_counter()
    df = read_ohlcv(csv_path)
    # PandasDirectData iterates df.itertuples(): position 0 is the index (datetime).
    feed = bt.feeds.PandasDirectData(
        dataname=df, datetime=0, open=1, high=2, low=3, close=4, volume=5, openinterest=-1
    )
    cerebro = bt.Cerebro(stdstats=False)  # no observers: we only need the final value
    cerebro.adddata(feed)
    cerebro.addstrategy(SmaCross)
    cerebro.broker.setcash(CASH)
    cerebro.broker.setcommission(commission=0.0)
    cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="ta")
    t1 = time.perf_counter()
    results = cerebro.run()  # runonce/preload defaults: loads the feed, then runs
    t2 = time.perf_counter()
    strat = results[0]
    ta = strat.analyzers.ta.get_analysis()
    total = ta.get("total", {})
    closed = int(total.get("closed", 0))
    open_trades = int(total.get("open", 0))
    final = float(cerebro.broker.getvalue())
    t3 = time.perf_counter()
    # baropen/barclose are 1-based bar counts in backtrader; make them 0-based indexes.
    trades = [(a - 1, b - 1) for a, b in strat.round_trips]
    return {
        "closed_trades": closed,
        "open_trades": open_trades,
        "final_equity": final,
        "final_equity_cents": to_cents(final),
        "run_s": t2 - t1,
        "total_s": t3 - t0,
        "trades": trades,
    }


# ------------------------------------------------------------------------------ qf


def run_qf(qf: Path, csv_path: Path, trades_path: Path) -> dict:
    cmd = [
        str(qf), "backtest",
        "--data", str(csv_path),
        "--strategy", "sma_cross",
        "--param", f"fast={FAST}",
        "--param", f"slow={SLOW}",
        "--cash", str(CASH),
        "--size", str(SIZE),
        "--json",
        "--trades", str(trades_path),
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(
            f"qf exited with {proc.returncode}\ncommand: {' '.join(cmd)}\n"
            f"stderr:\n{proc.stderr.strip()}"
        )
    try:
        out = json.loads(proc.stdout)
    except json.JSONDecodeError as err:
        raise RuntimeError(f"qf stdout is not one JSON object ({err}):\n{proc.stdout[:2000]}")
    for key in ("trades", "open_trades", "final_equity"):
        if key not in out:
            raise RuntimeError(f"qf JSON lacks {key!r}; keys: {sorted(out)}")
    final = parse_decimal(out["final_equity"])
    cents = final * 100
    res = {
        "closed_trades": int(out["trades"]),
        "open_trades": int(out["open_trades"]),
        "final_equity": str(final),
        "final_equity_cents": int(cents.to_integral_value()),
        "final_equity_not_whole_cents": cents != cents.to_integral_value(),
        "run_s": float(out["elapsed_ms"]) / 1000.0 if "elapsed_ms" in out else None,
        "total_s": wall,
        "bars_per_second_reported": out.get("bars_per_second"),
        "trades": read_qf_trades(trades_path),
        "command": cmd,
    }
    return res


def read_qf_trades(path: Path):
    """Best effort: (entry, exit) timestamps -> bar indexes, for diagnostics only."""
    try:
        df = pd.read_csv(path)
    except Exception:
        return None
    cols = {c.lower(): c for c in df.columns}

    def pick(*words):
        for low, orig in cols.items():
            if all(w in low for w in words):
                return orig
        return None

    entry = pick("entry", "time") or pick("entry", "ts") or pick("open", "time")
    exit_ = pick("exit", "time") or pick("exit", "ts") or pick("close", "time")
    if entry is None or exit_ is None:
        return None
    try:
        e = pd.to_datetime(df[entry], utc=True).dt.tz_localize(None)
        x = pd.to_datetime(df[exit_], utc=True, errors="coerce").dt.tz_localize(None)
    except Exception:
        return None
    start = pd.Timestamp(str(START))
    out = []
    for a, b in zip(e, x):
        if pd.isna(b):  # an open trade, if the file lists it
            continue
        out.append((int((a - start) / pd.Timedelta(minutes=1)), int((b - start) / pd.Timedelta(minutes=1))))
    return out


# --------------------------------------------------------------------------- utils


def to_cents(x: float) -> int:
    return int(round(x * 100))


def parse_decimal(value) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise RuntimeError(f"final_equity {value!r} is not a number")


def fmt_money(cents: int) -> str:
    return f"{cents // 100:,}.{cents % 100:02d}"


def fmt_s(s) -> str:
    if s is None:
        return "-"
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def fmt_rate(r) -> str:
    if r is None:
        return "-"
    return f"{r / 1e6:.2f} M" if r >= 1e6 else f"{r / 1e3:.1f} k"


def timed(fn, repeat: int, label: str) -> dict:
    runs = []
    for k in range(repeat):
        print(f"  {label}: run {k + 1}/{repeat} ...", end="", flush=True)
        r = fn()
        print(f" engine {fmt_s(r['run_s'])}, total {fmt_s(r['total_s'])}", flush=True)
        runs.append(r)
    first = runs[0]
    for r in runs[1:]:
        same = (r["closed_trades"], r["open_trades"], r["final_equity_cents"]) == (
            first["closed_trades"], first["open_trades"], first["final_equity_cents"])
        if not same:
            raise RuntimeError(f"{label} gave different results on repeated runs")
    res = dict(first)
    res["run_s_all"] = [r["run_s"] for r in runs]
    res["total_s_all"] = [r["total_s"] for r in runs]
    res["run_s"] = None if first["run_s"] is None else statistics.median(res["run_s_all"])
    res["total_s"] = statistics.median(res["total_s_all"])
    return res


def ratio_text(r: float) -> str:
    return f"{r:.1f}x faster" if r >= 1 else f"{1 / r:.1f}x slower"


def first_difference(a, b):
    if a is None or b is None:
        return None
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return {"index": i, "left": list(x), "right": list(y)}
    if len(a) != len(b):
        i = min(len(a), len(b))
        return {"index": i, "left": list(a[i]) if i < len(a) else None,
                "right": list(b[i]) if i < len(b) else None}
    return None


ENGINE_TIMES = {
    "reference": ("numpy signal pass + event loop in integer cents (oracle, not a backtester)",
                  "same"),
    "qf": ("elapsed_ms reported by qf (engine only)",
           "whole qf process, wall clock: start, CSV load, run, JSON/trades output"),
    "backtesting.py": ("Backtest.run(): indicators (pandas rolling), bar loop, compute_stats",
                       "in-process: read_csv + DataFrame prep + Backtest() + run() + reading stats "
                       "(excludes interpreter start and imports)"),
    "backtrader": ("Cerebro.run(): feed preload (DataFrame.itertuples), indicators, bar loop, "
                   "analyzer",
                   "in-process: read_csv + feed/Cerebro setup + run() + getvalue/analysis "
                   "(excludes interpreter start and imports)"),
}


# ---------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bars", type=int, default=100_000, help="bars to generate (default 100000)")
    ap.add_argument("--seed", type=int, default=42, help="numpy default_rng seed (default 42)")
    ap.add_argument("--qf", type=Path, default=REPO_ROOT / "target" / "release" / "qf",
                    help="qf binary (default: target/release/qf under the repo root)")
    ap.add_argument("--out", type=Path, default=HERE / "out",
                    help="output directory (default: bench/compare/out)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per engine; medians are shown")
    ap.add_argument("--skip-qf", action="store_true", help="run only the peers (and the reference)")
    ap.add_argument("--peer-bars", type=int, default=None,
                    help="run backtrader on only the first N bars (it is slow); qf, backtesting.py "
                         "and the reference are then also run on those N bars, so agreement and "
                         "speed are compared on the same data")
    ap.add_argument("--skip-backtrader", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--skip-backtesting", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--allow-ties", action="store_true",
                    help="do not break exact SMA ties in the data (float engines may then "
                         "legitimately disagree; see README)")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    peer_bars = args.peer_bars or args.bars
    if not (SLOW + 2 <= peer_bars <= args.bars):
        ap.error(f"--peer-bars must be between {SLOW + 2} and --bars")
    out_dir = args.out.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    qf = args.qf.resolve()
    if not args.skip_qf and not qf.is_file():
        print(f"error: qf binary not found at {qf} (build it with `cargo build --release`, "
              f"or pass --qf PATH, or --skip-qf)", file=sys.stderr)
        return 2

    print(f"generating {args.bars:,} bars (seed {args.seed}) ...", flush=True)
    t0 = time.perf_counter()
    data = generate(args.bars, args.seed, allow_ties=args.allow_ties)
    csv_full = out_dir / "data.csv"
    write_csv(data, csv_full)
    datasets = [(args.bars, csv_full)]
    if peer_bars < args.bars:
        csv_peer = out_dir / f"data_{peer_bars}.csv"
        write_csv(data, csv_peer, peer_bars)
        datasets.append((peer_bars, csv_peer))
    print(f"  wrote {csv_full} in {time.perf_counter() - t0:.1f} s "
          f"({data['nudged']} closes nudged by 1 cent to avoid exact SMA ties)", flush=True)

    results = {
        "config": {
            "bars": args.bars, "peer_bars": peer_bars, "seed": args.seed, "repeat": args.repeat,
            "fast": FAST, "slow": SLOW, "cash": CASH, "size": SIZE,
            "allow_ties": args.allow_ties, "nudged_closes": data["nudged"],
        },
        "machine": {
            "python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        },
        "versions": peer_versions(),
        "timing_definitions": {k: {"engine": a, "total": b} for k, (a, b) in ENGINE_TIMES.items()},
        "datasets": [],
        "agreement": [],
        "ok": True,
    }

    all_ok = True
    for bars, csv in datasets:
        print(f"\n=== {bars:,} bars ({csv.name}) ===", flush=True)
        engines: dict[str, dict] = {}
        engines["reference"] = run_reference(data, bars)
        if not args.skip_qf:
            trades_csv = out_dir / ("qf_trades.csv" if bars == args.bars else f"qf_trades_{bars}.csv")
            engines["qf"] = timed(lambda: run_qf(qf, csv, trades_csv), args.repeat, "qf")
        if not args.skip_backtesting:
            engines["backtesting.py"] = timed(lambda: run_backtesting_py(csv), args.repeat,
                                              "backtesting.py")
        if bars == peer_bars and not args.skip_backtrader:
            engines["backtrader"] = timed(lambda: run_backtrader(csv), args.repeat, "backtrader")

        for e in engines.values():
            e["bars_per_s_engine"] = bars / e["run_s"] if e.get("run_s") else None
            e["bars_per_s_total"] = bars / e["total_s"] if e.get("total_s") else None

        print_table(bars, engines, args.repeat)
        agreement, ok = check_agreement(bars, engines)
        all_ok &= ok
        results["agreement"].extend(agreement)
        results["datasets"].append({
            "bars": bars, "csv": str(csv), "exact_sma_ties": engines["reference"]["exact_ties"],
            "engines": {k: {kk: vv for kk, vv in v.items() if kk != "trades"}
                        for k, v in engines.items()},
        })

    results["ok"] = all_ok
    (out_dir / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwrote {out_dir / 'results.json'}")
    print("RESULT:", "all engines agree" if all_ok else "DISAGREEMENT (see above)")
    return 0 if all_ok else 1


def peer_versions() -> dict:
    out = {"numpy": np.__version__, "pandas": pd.__version__}
    for mod in ("backtesting", "backtrader"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception as err:  # noqa: BLE001
            out[mod] = f"unavailable: {err}"
    return out


def print_table(bars: int, engines: dict, repeat: int) -> None:
    head = (f"{'engine':<15} {'closed':>7} {'open':>5} {'final equity':>16} "
            f"{'engine time':>12} {'total time':>11} {'bars/s eng':>11} {'bars/s tot':>11}")
    print()
    print(f"median of {repeat} run(s) on {bars:,} bars; 'engine'/'total' times cover:")
    for name in engines:
        a, b = ENGINE_TIMES[name]
        print(f"  {name}: engine = {a}; total = {b}")
    print(head)
    print("-" * len(head))
    for name, e in engines.items():
        print(f"{name:<15} {e['closed_trades']:>7} {e['open_trades']:>5} "
              f"{fmt_money(e['final_equity_cents']):>16} {fmt_s(e.get('run_s')):>12} "
              f"{fmt_s(e.get('total_s')):>11} {fmt_rate(e.get('bars_per_s_engine')):>11} "
              f"{fmt_rate(e.get('bars_per_s_total')):>11}")
    q = engines.get("qf")
    if q and q.get("bars_per_second_reported") is not None:
        try:
            shown = f"{float(q['bars_per_second_reported']):,.0f}"
        except (TypeError, ValueError):
            shown = q["bars_per_second_reported"]
        print(f"  (qf's own bars_per_second: {shown})")


def check_agreement(bars: int, engines: dict) -> tuple[list, bool]:
    lines = []
    ok = True
    names = list(engines)
    base = "qf" if "qf" in engines else "backtesting.py" if "backtesting.py" in engines else None
    pairs = []
    if "qf" in engines:
        pairs += [("qf", n) for n in names if n != "qf"]
    peers = [n for n in names if n not in ("qf",)]
    for i, a in enumerate(peers):
        for b in peers[i + 1:]:
            pairs.append((a, b))
    print()
    q = engines.get("qf")
    if q and q.get("final_equity_not_whole_cents"):
        print(f"AGREEMENT qf final_equity {q['final_equity']} is not a whole number of cents")
        ok = False
    for a, b in pairs:
        ea, eb = engines[a], engines[b]
        same_trades = (ea["closed_trades"], ea["open_trades"]) == (eb["closed_trades"], eb["open_trades"])
        same_eq = ea["final_equity_cents"] == eb["final_equity_cents"]
        rec = {"bars": bars, "left": a, "right": b,
               "trades_equal": same_trades, "final_equity_equal": same_eq,
               "left_trades": [ea["closed_trades"], ea["open_trades"]],
               "right_trades": [eb["closed_trades"], eb["open_trades"]],
               "left_equity": fmt_money(ea["final_equity_cents"]),
               "right_equity": fmt_money(eb["final_equity_cents"])}
        tag = lambda x: "OK  " if x else "FAIL"  # noqa: E731
        print(f"AGREEMENT {tag(same_trades)} trades       {a} vs {b}: "
              f"closed {ea['closed_trades']} vs {eb['closed_trades']}, "
              f"open {ea['open_trades']} vs {eb['open_trades']}")
        print(f"AGREEMENT {tag(same_eq)} final equity {a} vs {b}: "
              f"{fmt_money(ea['final_equity_cents'])} vs {fmt_money(eb['final_equity_cents'])}")
        if not (same_trades and same_eq):
            ok = False
        # Informational: the closed round trips themselves, as (entry bar, exit bar).
        if ea.get("trades") is not None and eb.get("trades") is not None:
            diff = first_difference(ea["trades"], eb["trades"])
            rec["round_trips_equal"] = diff is None
            if diff:
                rec["first_trade_difference"] = diff
                print(f"INFO      round trips  {a} vs {b}: first difference at closed trade "
                      f"#{diff['index']} (entry bar, exit bar): {diff['left']} vs {diff['right']}")
            else:
                print(f"INFO      round trips  {a} vs {b}: all {len(ea['trades'])} closed trades "
                      f"have the same entry and exit bars")
        lines.append(rec)
    if q:
        for peer in ("backtesting.py", "backtrader"):
            if peer not in engines:
                continue
            p = engines[peer]
            r_eng = (p["run_s"] / q["run_s"]) if q.get("run_s") else None
            r_tot = p["total_s"] / q["total_s"]
            eng_txt = ratio_text(r_eng) if r_eng else "n/a (qf reported no elapsed_ms)"
            print(f"SPEED qf vs {peer}: engine-only qf is {eng_txt} "
                  f"(qf elapsed_ms vs {peer} run()); end-to-end qf is {ratio_text(r_tot)} "
                  f"(qf process wall clock vs {peer} in-process total)")
            lines.append({"bars": bars, "speed": f"qf vs {peer}",
                          "engine_ratio": r_eng, "total_ratio": r_tot})
    return lines, ok


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as err:  # qf failed, printed no JSON, or was not repeatable
        print(f"\nerror: {err}", file=sys.stderr)
        sys.exit(2)
