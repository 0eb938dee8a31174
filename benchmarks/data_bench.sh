#!/usr/bin/env bash
# Read + impute mean + z-score + write a 1M-row x 20-column numeric CSV: `onyx data prepare` vs pandas +
# scikit-learn, alternating A/B for 3 rounds; prints median wall time and peak RSS of each.
# Usage: benchmarks/data_bench.sh [ROWS]   (needs a release build: swift build -c release --product onyx)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-/tmp/venv/bin/python}
ONYX=${ONYX:-.build/release/onyx}
ROWS=${1:-1000000}
DIR=${BENCH_DIR:-/tmp/onyx-data-bench}
mkdir -p "$DIR"
IN="$DIR/numeric_${ROWS}.csv"
[ -f "$IN" ] || { echo "generating $IN"; "$PY" benchmarks/data_pandas.py generate "$IN" "$ROWS"; }
cat > "$DIR/prepare.json" <<'JSON'
{"steps": [{"type": "impute", "strategy": "mean"}, {"type": "scale", "method": "zscore"}]}
JSON
echo "input: $(du -h "$IN" | cut -f1), $ROWS rows x 20 columns; $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
"$PY" benchmarks/data_pandas.py time \
    "$ONYX" data prepare "$IN" --config "$DIR/prepare.json" -o "$DIR/onyx_out.csv" -- \
    "$PY" benchmarks/data_pandas.py prepare "$IN" "$DIR/pandas_out.csv"
# Same numbers? Compare a few cells (both write shortest round-trip floats).
"$PY" - "$DIR/onyx_out.csv" "$DIR/pandas_out.csv" <<'PY'
import sys, numpy as np, pandas as pd
a = pd.read_csv(sys.argv[1], nrows=20000).to_numpy(); b = pd.read_csv(sys.argv[2], nrows=20000).to_numpy()
print("max |onyx - pandas| on the first 20000 rows:", float(np.max(np.abs(a - b))))
PY
