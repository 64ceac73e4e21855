#!/usr/bin/env python3
"""End-to-end strategy-tier benchmark through the real `qf` binary.

Runs `qf backtest --json` with the same SMA crossover (10/30, long only) written natively,
as rules (TOML) and as Python (isolated sandbox worker) on the same bars, several times
each, alternating, and prints the median engine time and bars/s of each. For Python the
engine time is the whole isolated run: worker start, sending the bars, the interpreter,
and the replay in the parent.

    cargo build --release
    python3 bench/sandbox.py --bars 1000000 --runs 5
"""
import argparse, json, os, statistics, subprocess, sys, tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--bars", type=int, default=1_000_000)
ap.add_argument("--runs", type=int, default=5)
ap.add_argument("--qf", default="target/release/qf")
a = ap.parse_args()

tiers = {
    "native": ["--strategy", "sma_cross", "--param", "fast=10", "--param", "slow=30"],
    "rules": ["--strategy", "examples/rules/sma_cross.toml"],
    "python": ["--strategy", "examples/python/sma_cross.py"],
}
with tempfile.TemporaryDirectory() as d:
    data = os.path.join(d, "bars.parquet")
    subprocess.run([a.qf, "data", "sample", data, "--bars", str(a.bars), "--seed", "1"], check=True, capture_output=True)
    times = {t: [] for t in tiers}
    results = {}
    for _ in range(a.runs):
        for t, args in tiers.items():
            out = subprocess.run([a.qf, "backtest", "--data", data, "--json", *args], check=True, capture_output=True, text=True)
            v = json.loads(out.stdout)
            times[t].append(v["elapsed_ms"])
            results.setdefault(t, (v["trades"], v["final_equity_exact"]))
    if len(set(results.values())) != 1:
        sys.exit(f"tiers disagree: {results}")
    print(f"{a.bars} bars, {a.runs} runs each; trades {results['native'][0]}, final equity {results['native'][1]} (identical in every tier)")
    for t in tiers:
        m = statistics.median(times[t])
        print(f"{t:>7}: median {m:9.1f} ms  = {a.bars / m * 1e3 / 1e6:7.2f} M bars/s   (runs: {', '.join(f'{x:.0f}' for x in times[t])})")
