#!/usr/bin/env bash
# On-demand comparison of qf against backtesting.py and backtrader (not run in CI).
# Creates bench/compare/.venv if missing, installs the pinned requirements, then runs
# compare.py with all arguments passed through, e.g.:
#   bench/compare/run.sh --bars 100000
# Environment: PYTHON picks the interpreter for the venv (default python3, needs 3.11+).
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, if set, are deliberately left as they are.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
req="$here/requirements.txt"
stamp="$venv/.requirements.installed"

if [[ ! -x "$venv/bin/python" ]]; then
    python="${PYTHON:-python3}"
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "run.sh: $python is $("$python" -V 2>&1); Python 3.11+ is needed" >&2
        exit 2
    fi
    echo "run.sh: creating $venv" >&2
    "$python" -m venv "$venv"
fi

# Reinstall only when requirements.txt changed since the last successful install.
if [[ ! -f "$stamp" ]] || ! cmp -s "$req" "$stamp"; then
    echo "run.sh: installing $req" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$stamp"
fi

exec "$venv/bin/python" "$here/compare.py" "$@"
