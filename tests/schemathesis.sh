#!/usr/bin/env bash
# Fuzzes the running API against its own OpenAPI document with schemathesis, as an outside
# tester would: every operation, generated valid and invalid input, with an owner key —
# except revoking API keys, which would revoke the run's own key and leave only 401s to see
# (the role tests in tests/api_roles.rs cover that operation).
#
#   tests/schemathesis.sh [sqlite|postgres] [MAX_SECONDS]
#
# Needs `pip install schemathesis` (4.x) and, for postgres, a server at
# QF_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test). Exits non-zero when
# the run finds a server error (5xx) or a response that does not match the document.
set -euo pipefail
cd "$(dirname "$0")/.."

backend="${1:-sqlite}"
max_seconds="${2:-120}"
command -v schemathesis >/dev/null || { echo "schemathesis is missing: pip install schemathesis" >&2; exit 2; }

cargo build --quiet --bin qf
qf="$PWD/target/debug/qf"
work="$(mktemp -d)"
db=""
cleanup() {
    [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    if [ -n "$db" ]; then psql "$admin_url" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

export QF_DATA_DIR="$work/data" QF_LOG_LEVEL=warn QF_RATE_LIMIT_REQUESTS_PER_SECOND=100000 \
       QF_RATE_LIMIT_BURST=100000 QF_WORKERS=1
case "$backend" in
    sqlite) unset QF_DATABASE_URL ;;
    postgres)
        admin_url="${QF_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
        db="qf_fuzz_$$"
        psql "$admin_url" -qc "CREATE DATABASE $db" >/dev/null
        export QF_DATABASE_URL="${admin_url%/*}/$db"
        ;;
    *) echo "backend must be sqlite or postgres" >&2; exit 2 ;;
esac

key="$(QF_ADMIN_PASSWORD=fuzz-password-123 "$qf" admin tenant create Fuzz --owner-email fuzz@fuzz.test --json \
       | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$qf" serve --addr "127.0.0.1:$port" > "$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

# Something to find: a dataset and a strategy, so that generated requests can reach real ids.
python3 - "$port" "$key" <<'EOF'
import json, sys, urllib.request
port, key = sys.argv[1], sys.argv[2]
def post(path, body, ctype):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST",
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": ctype})
    return json.load(urllib.request.urlopen(req))
rows = ["timestamp,open,high,low,close,volume"]
for i in range(500):
    p = 100 + (i % 17) - 8
    rows.append(f"{1700000000 + 60 * i},{p},{p + 1},{p - 1},{p},{100 + i}")
post("/v1/datasets?name=fuzz", "\n".join(rows).encode(), "text/csv")
post("/v1/strategies", json.dumps({"name": "sma", "kind": "builtin", "source": "sma_cross"}).encode(),
     "application/json")
EOF

status=0
schemathesis run "http://127.0.0.1:$port/v1/openapi.json" \
    -H "Authorization: Bearer $key" \
    --exclude-operation-id revoke_key \
    --checks not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance \
    --max-time "$max_seconds" --workers 2 --request-timeout 30 \
    --seed 20261205 --suppress-health-check all --warnings off || status=$?
if grep -q '"level":"ERROR"' "$work/serve.log"; then
    echo "server errors logged:" >&2
    grep '"level":"ERROR"' "$work/serve.log" | head -20 >&2
    status=1
fi
exit "$status"
