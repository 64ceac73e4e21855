#!/usr/bin/env python3
"""API benchmarks for `qf serve` (see BENCHMARKS.md).

1. Authenticated read: wrk against GET /v1/backtests/{id} with an API key; reports the
   latency percentiles wrk measured and the request rate it reached.
2. Job start latency: with an idle in-process worker, submit backtests one at a time and
   read each run's started_at - created_at (both stamped by the server).

Usage: cargo build --release && python3 bench/api_bench.py [--qf target/release/qf]
       [--database-url postgres://…] [--connections 4] [--duration 20] [--jobs 50]
Needs wrk (Debian: apt-get install wrk).
"""
import argparse, json, os, re, shutil, statistics, subprocess, sys, tempfile, time, urllib.request

def call(base, key, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + key)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as r:
        return json.load(r)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qf", default="target/release/qf")
    ap.add_argument("--database-url")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--rate", type=int, default=0, help="pace wrk to about this many requests/s (0: as fast as it goes)")
    ap.add_argument("--jobs", type=int, default=50)
    a = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    tmp = tempfile.mkdtemp(prefix="qf-bench-")
    env = dict(os.environ, QF_LOG_LEVEL="warn", QF_RATE_LIMIT_REQUESTS_PER_SECOND="1000000", QF_RATE_LIMIT_BURST="1000000")
    if a.database_url:
        env["QF_DATABASE_URL"] = a.database_url
    srv = subprocess.Popen([a.qf, "serve", "--demo", "--addr", "127.0.0.1:0", "--data-dir", tmp, "--workers", "1"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        out = ""
        while "curl -s" not in out:
            line = srv.stdout.readline()
            if not line:
                sys.exit("qf serve exited:\n" + out)
            out += line
        base = re.search(r"qf listening on (http://\S+)", out).group(1)
        key = re.search(r"API key\s+(qf_\S+)", out).group(1)
        ds = re.search(r'"dataset_id":"([^"]+)"', out).group(1)
        st = re.search(r'"strategy_id":"([^"]+)"', out).group(1)
        sub = {"dataset_id": ds, "strategy_id": st, "params": {"fast": 10, "slow": 30}, "cash": "100000", "size": "10"}
        run = call(base, key, "POST", "/v1/backtests", sub)
        while run["status"] in ("queued", "running"):
            time.sleep(0.2)
            run = call(base, key, "GET", "/v1/backtests/" + run["id"])
        assert run["status"] == "succeeded", run

        # 1. Authenticated read.
        cmd = ["wrk", "-t", str(a.threads), "-c", str(a.connections), "-d", f"{a.duration}s", "--latency",
               "-H", "Authorization: Bearer " + key, f"{base}/v1/backtests/{run['id']}"]
        if a.rate:
            # wrk has no pacing; a Lua delay per request per connection approximates a rate.
            lua = os.path.join(tmp, "pace.lua")
            with open(lua, "w") as f:
                f.write(f"function delay() return {max(1, int(1000 * a.connections / a.rate))} end\n")
            cmd[1:1] = ["-s", lua]
        wrk = subprocess.run(cmd, capture_output=True, text=True).stdout
        print(wrk)
        # 2. Job start latency with an idle worker.
        waits = []
        small = dict(sub, params={"fast": 5, "slow": 20})
        for _ in range(a.jobs):
            r = call(base, key, "POST", "/v1/backtests", small)
            while r["status"] in ("queued", "running") or r.get("started_at") is None:
                time.sleep(0.05)
                r = call(base, key, "GET", "/v1/backtests/" + r["id"])
            waits.append((r["started_at"] - r["created_at"]) / 1e6)
            while r["status"] in ("queued", "running"):
                time.sleep(0.05)
                r = call(base, key, "GET", "/v1/backtests/" + r["id"])
        waits.sort()
        print(f"job start latency over {len(waits)} submissions (ms): median {statistics.median(waits):.2f}, "
              f"p90 {waits[int(0.9 * (len(waits) - 1))]:.2f}, max {waits[-1]:.2f}")
    finally:
        srv.terminate()
        srv.wait()
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
