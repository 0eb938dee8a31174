#!/usr/bin/env bash
# Evaluation overhead (issue #6): `onyx eval MODEL DATA.csv` (whole command, wall clock) against the model time of
# the same rows measured by `onyx bench` (batches of 256: mean latency × number of batches), run alternately for
# ROUNDS rounds; prints the medians and overhead = eval / bench − 1, then one eval's phase timings
# (ONYX_EVAL_TIMING=1).
# Usage: benchmarks/eval_bench.sh [ROWS] [ROUNDS]   (needs a release build: swift build -c release --product onyx)
# Data: the digits test rows repeated (scripts/make_eval_bench_csv.py); model: Examples/models/digits_mlp.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
ONYX=${ONYX:-.build/release/onyx}
ROWS=${1:-100000}
ROUNDS=${2:-7}
MODEL=${MODEL:-Examples/models/digits_mlp/1/model.onnx}
DIR=${BENCH_DIR:-/tmp/onyx-eval-bench}
mkdir -p "$DIR"
CSV="$DIR/digits_${ROWS}.csv"
[ -f "$CSV" ] || "$PY" scripts/make_eval_bench_csv.py "$CSV" "$ROWS"
echo "data: $CSV ($ROWS rows, $(du -h "$CSV" | cut -f1)); model: $MODEL; $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" - "$ONYX" "$MODEL" "$CSV" "$ROWS" "$ROUNDS" <<'PY'
import json, resource, statistics, subprocess, sys, time
onyx, model, csv, rows, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
batches = (rows + 255) // 256
bench_cmd = [onyx, "bench", model, "--dim", "batch=256", "--iterations", str(batches), "--warmup", "5", "--json"]
eval_cmd = [onyx, "eval", model, csv]

def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

bench, evals, eval_cpu = [], [], []
for r in range(rounds):
    out = subprocess.run(bench_cmd, check=True, capture_output=True, text=True).stdout
    bench.append(json.loads(out)["latency_ms"]["mean"] * batches / 1000)
    c, t = cpu(), time.perf_counter()
    subprocess.run(eval_cmd, check=True, capture_output=True)
    evals.append(time.perf_counter() - t)
    eval_cpu.append(cpu() - c)
    print(f"round {r + 1}: bench {bench[-1]:.3f} s, eval {evals[-1]:.3f} s wall / {eval_cpu[-1]:.3f} s CPU, "
          f"ratio {evals[-1] / bench[-1]:.2f}", flush=True)
b, e = statistics.median(bench), statistics.median(evals)
ratios = sorted(x / y for x, y in zip(evals, bench))
print(f"median: onyx bench (model time of {batches} batches of 256) {b:.3f} s; onyx eval (whole command) {e:.3f} s wall, "
      f"{statistics.median(eval_cpu):.3f} s CPU (user + sys, all threads)")
print(f"eval / bench: median of per-round ratios {statistics.median(ratios):.2f} (range {ratios[0]:.2f}–{ratios[-1]:.2f}); "
      f"overhead {100 * (statistics.median(ratios) - 1):.0f}% (target ≤ 20%)")
PY
echo "phases of one eval (ONYX_EVAL_TIMING=1):"
ONYX_EVAL_TIMING=1 "$ONYX" eval "$MODEL" "$CSV" 2>&1 >/dev/null | sed 's/^/  /'
