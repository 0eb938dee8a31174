#!/usr/bin/env bash
# Bounded memory on a ~1 GB CSV: generates 5.2M rows x 20 numeric columns (~2% missing cells, ~1.0 GB, not
# committed), then runs, each under /usr/bin/time -v (peak RSS, wall time):
#   onyx data prepare   (impute mean + z-score: 2 fitting passes + 1 apply pass, streamed)
#   onyx data normalize (min-max: 1 fitting pass + 1 apply pass, streamed)
#   onyx data apply     (the saved pipeline, streamed)
# and, for comparison, `onyx data prepare` with a split in the config (the whole table in memory).
# Usage: benchmarks/data_memory.sh [ROWS]   (release build: swift build -c release --product onyx)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
ONYX=${ONYX:-.build/release/onyx}
ROWS=${1:-5200000}
DIR=${BENCH_DIR:-/tmp/onyx-data-memory}
mkdir -p "$DIR"
IN="$DIR/numeric_${ROWS}.csv"
if [ ! -f "$IN" ]; then
    "$PY" -c "import numpy" 2>/dev/null || "$PY" -m pip install -q numpy
    echo "generating $IN"
    "$PY" benchmarks/data_pandas.py generate "$IN" "$ROWS"
fi
cat > "$DIR/stream.yaml" <<'YAML'
steps:
  - {type: impute, strategy: mean}
  - {type: scale, method: zscore}
YAML
cat > "$DIR/split.yaml" <<'YAML'
split: {ratios: [0.8, 0.2], seed: 0}
steps:
  - {type: impute, strategy: mean}
  - {type: scale, method: zscore}
YAML
echo "input: $(du -h "$IN" | cut -f1) ($(stat -c %s "$IN") bytes), $ROWS rows x 20 columns; $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); $(date -u +%F)"
run() {
    local name=$1; shift
    /usr/bin/time -v "$@" > "$DIR/$name.out" 2> "$DIR/$name.time" || { tail -5 "$DIR/$name.time"; exit 1; }
    local rss wall
    rss=$(grep 'Maximum resident set size' "$DIR/$name.time" | awk '{print $6}')
    wall=$(grep 'Elapsed (wall clock)' "$DIR/$name.time" | awk '{print $8}')
    printf '%-34s peak RSS %6d MiB   wall %s\n' "$name" $((rss / 1024)) "$wall"
}
run "prepare (streamed)" "$ONYX" data prepare "$IN" --config "$DIR/stream.yaml" -o "$DIR/prepared.csv" --save-pipeline "$DIR/p.yaml"
run "normalize minmax (streamed)" "$ONYX" data normalize "$IN" --method minmax -o "$DIR/normalized.csv"
run "apply (streamed)" "$ONYX" data apply "$DIR/p.yaml" "$IN" -o "$DIR/applied.csv"
cmp -s "$DIR/prepared.csv" "$DIR/applied.csv" && echo "prepare output == apply output (byte for byte)"
if [ "${SKIP_IN_MEMORY:-0}" != 1 ]; then
    run "prepare with split (in memory)" "$ONYX" data prepare "$IN" --config "$DIR/split.yaml" --out-dir "$DIR/split"
fi
rm -f "$DIR/prepared.csv" "$DIR/normalized.csv" "$DIR/applied.csv"
rm -rf "$DIR/split"
