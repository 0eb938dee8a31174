#!/usr/bin/env bash
# Evaluation overhead (issue #6): the whole `onyx eval MODEL DATA` command (wall clock) against the model time of
# the same rows measured by `onyx bench` (batches of 256: mean latency × number of batches), run alternately
# (bench, eval of the CSV, eval of the same rows as .npy) for ROUNDS rounds per model; prints medians, the median
# per-round ratio eval / bench and overhead = ratio − 1, then one eval's phase timings (ONYX_EVAL_TIMING=1) per
# model and input. CPU times (user + system of the child processes) are printed too: on a loaded machine the wall
# times stretch, the CPU times much less.
# Usage: benchmarks/eval_bench.sh [ROWS] [ROUNDS]   (needs a release build: swift build -c release --product onyx)
#   MODELS="mlp cnn" (default both): mlp = Examples/models/digits_mlp (64→100→10), cnn = Examples/models/digits_cnn
#   (conv 8 → pool → conv 16 → pool → linear; fed [N, 1, 8, 8]: from the CSV by reshaping each 64-value row, from
#   a [rows, 1, 8, 8] .npy directly).
# Data: the digits test rows repeated (scripts/make_eval_bench_csv.py, scripts/make_eval_bench_npy.py; pure Python).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
ONYX=${ONYX:-.build/release/onyx}
ROWS=${1:-100000}
ROUNDS=${2:-7}
MODELS=${MODELS:-mlp cnn}
DIR=${BENCH_DIR:-/tmp/onyx-eval-bench}
mkdir -p "$DIR"
CSV="$DIR/digits_${ROWS}.csv"
[ -f "$CSV" ] || "$PY" scripts/make_eval_bench_csv.py "$CSV" "$ROWS"
[ -f "$DIR/digits_${ROWS}_x.npy" ] || "$PY" scripts/make_eval_bench_npy.py "$CSV" "$DIR/digits_${ROWS}_x.npy" "$DIR/digits_${ROWS}_y.npy"
[ -f "$DIR/digits_${ROWS}_img.npy" ] || "$PY" scripts/make_eval_bench_npy.py "$CSV" "$DIR/digits_${ROWS}_img.npy" "$DIR/digits_${ROWS}_y.npy" 1,8,8
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'); $(swift --version 2>/dev/null | head -1 || true)"
echo "machine: $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "data: $CSV ($ROWS rows, $(du -h "$CSV" | cut -f1)); $DIR/digits_${ROWS}_x.npy ($(du -h "$DIR/digits_${ROWS}_x.npy" | cut -f1)) and _img.npy, labels _y.npy"
for M in $MODELS; do
  case $M in
    mlp) MODEL=Examples/models/digits_mlp/1/model.onnx; NPY="$DIR/digits_${ROWS}_x.npy" ;;
    cnn) MODEL=Examples/models/digits_cnn/1/model.onnx; NPY="$DIR/digits_${ROWS}_img.npy" ;;
    *) echo "unknown model $M (mlp or cnn)" >&2; exit 2 ;;
  esac
  echo
  echo "== $M: $MODEL"
  "$PY" - "$ONYX" "$MODEL" "$CSV" "$NPY" "$DIR/digits_${ROWS}_y.npy" "$ROWS" "$ROUNDS" <<'PY'
import json, resource, statistics, subprocess, sys, time
onyx, model, csv, npy, labels, rows, rounds = sys.argv[1:6] + [int(sys.argv[6]), int(sys.argv[7])]
batches = (rows + 255) // 256
bench_cmd = [onyx, "bench", model, "--dim", "batch=256", "--iterations", str(batches), "--warmup", "5", "--json"]
evals = {"csv": [onyx, "eval", model, csv], "npy": [onyx, "eval", model, npy, "--labels", labels]}

def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

bench, bench_cpu, wall, cpus = [], [], {k: [] for k in evals}, {k: [] for k in evals}
for r in range(rounds):
    c = cpu()
    out = subprocess.run(bench_cmd, check=True, capture_output=True, text=True).stdout
    bench_cpu.append(cpu() - c)
    bench.append(json.loads(out)["latency_ms"]["mean"] * batches / 1000)
    line = f"round {r + 1}: bench {bench[-1]:.3f} s ({bench_cpu[-1]:.3f} s CPU, whole process with warmup)"
    for k, cmd in evals.items():
        c, t = cpu(), time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        wall[k].append(time.perf_counter() - t)
        cpus[k].append(cpu() - c)
        line += f"; eval {k} {wall[k][-1]:.3f} s wall / {cpus[k][-1]:.3f} s CPU"
    print(line, flush=True)
b = statistics.median(bench)
print(f"median onyx bench (model time of {batches} batches of 256): {b:.3f} s; CPU of the whole bench process {statistics.median(bench_cpu):.3f} s")
for k in evals:
    ratios = sorted(x / y for x, y in zip(wall[k], bench))
    m = statistics.median(ratios)
    print(f"median onyx eval {k} (whole command): {statistics.median(wall[k]):.3f} s wall, {statistics.median(cpus[k]):.3f} s CPU; "
          f"eval / bench per round: median {m:.2f} (range {ratios[0]:.2f}–{ratios[-1]:.2f}); overhead {100 * (m - 1):.0f}% (target ≤ 20%)")
    cr = sorted(x / y for x, y in zip(cpus[k], bench_cpu))
    print(f"  CPU time eval {k} / bench process: median {statistics.median(cr):.2f} (range {cr[0]:.2f}–{cr[-1]:.2f}) — less sensitive to load than wall times")
PY
  echo "phases of one eval, CSV (ONYX_EVAL_TIMING=1):"
  ONYX_EVAL_TIMING=1 "$ONYX" eval "$MODEL" "$CSV" 2>&1 >/dev/null | sed 's/^/  /'
  echo "phases of one eval, .npy:"
  ONYX_EVAL_TIMING=1 "$ONYX" eval "$MODEL" "$NPY" --labels "$DIR/digits_${ROWS}_y.npy" 2>&1 >/dev/null | sed 's/^/  /'
done
echo
echo "load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
