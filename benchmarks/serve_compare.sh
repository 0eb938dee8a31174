#!/usr/bin/env bash
# Onyx `onyx serve` vs the KServe Python model server (kserve + onnxruntime) on the bundled digits MLP,
# same machine, same client (benchmarks/serve_load.py), loopback only. Runs A B A B and prints a Markdown table.
#
#   benchmarks/serve_compare.sh            # CLIENTS=64 SECONDS_PER_RUN=30 ROUNDS=2
# Env: CLIENTS, SECONDS_PER_RUN, ROUNDS, SKIP_BUILD=1, LOAD_VENV (/tmp/venv-load), KSERVE_VENV (/tmp/venv-kserve)
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${CLIENTS:-64}; SECS=${SECONDS_PER_RUN:-30}; ROUNDS=${ROUNDS:-2}
LOAD_VENV=${LOAD_VENV:-/tmp/venv-load}; KSERVE_VENV=${KSERVE_VENV:-/tmp/venv-kserve}
ONYX_PORT=18100; KSERVE_PORT=18200
OUT=$(mktemp -d /tmp/serve_compare.XXXXXX)
MODEL=Examples/models/digits_mlp/1/model.onnx

if [ "${SKIP_BUILD:-0}" != 1 ]; then swift build -c release --product onyx >&2; fi

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_ready() { # url, seconds
  for _ in $(seq 1 "$2"); do
    curl -sf "$1/v2/health/ready" >/dev/null 2>&1 && return 0; sleep 1
  done; return 1
}

.build/release/onyx serve --model-repository Examples/models --http-port $ONYX_PORT --grpc-port off \
  --host 127.0.0.1 >"$OUT/onyx.log" 2>&1 &
PIDS+=($!)
wait_ready http://127.0.0.1:$ONYX_PORT 60 || { echo "onyx serve did not become ready" >&2; cat "$OUT/onyx.log" >&2; exit 1; }

KSERVE_OK=0
if [ -x "$KSERVE_VENV/bin/python" ]; then
  "$KSERVE_VENV/bin/python" benchmarks/kserve_model.py --model_path "$MODEL" --model_name digits_mlp \
    --http_port $KSERVE_PORT >"$OUT/kserve.log" 2>&1 &
  PIDS+=($!)
  if wait_ready http://127.0.0.1:$KSERVE_PORT 90; then KSERVE_OK=1
  else echo "KServe model server did not become ready; measuring Onyx alone:" >&2; tail -20 "$OUT/kserve.log" >&2; fi
fi

run_load() { # name url round
  "$LOAD_VENV/bin/python" benchmarks/serve_load.py --url "$2" --clients "$CLIENTS" --seconds "$SECS" \
    >"$OUT/$1-$3.json"
  echo "$1 round $3: $(cat "$OUT/$1-$3.json")" >&2
}

for r in $(seq 1 "$ROUNDS"); do
  run_load onyx http://127.0.0.1:$ONYX_PORT "$r"
  if [ $KSERVE_OK = 1 ]; then run_load kserve http://127.0.0.1:$KSERVE_PORT "$r"; fi
done

CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
SWIFTV=$(swift --version 2>&1 | head -1)
KV=$("$KSERVE_VENV/bin/python" -c "from importlib.metadata import version as v; print('kserve ' + v('kserve') + ', onnxruntime ' + v('onnxruntime'))" 2>/dev/null || echo "kserve version unknown")
PYV=$("$LOAD_VENV/bin/python" -c 'import sys,aiohttp;print(f"Python {sys.version.split()[0]}, aiohttp {aiohttp.__version__}")')
"$LOAD_VENV/bin/python" - "$OUT" "$ROUNDS" "$CLIENTS" "$SECS" "$CPU" "$(nproc)" "$SWIFTV" "$KV" "$PYV" "$(git rev-parse --short HEAD)" <<'EOF'
import json, sys, os, datetime, statistics
out, rounds, clients, secs, cpu, ncpu, swiftv, kv, pyv, rev = sys.argv[1:]
rows = {}
for side in ("onyx", "kserve"):
    for r in range(1, int(rounds) + 1):
        f = os.path.join(out, f"{side}-{r}.json")
        if os.path.exists(f):
            rows.setdefault(side, []).append(json.load(open(f)))
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
print(f"{clients} concurrent clients × {secs} s per run, {rounds} rounds alternating (A B A B), JSON v2 infer of one "
      f"64-float row to `digits_mlp`, loopback. Machine: {cpu}, {ncpu} cores (shared). {now}. "
      f"Onyx {rev}, {swiftv}; {kv}; client {pyv}.\n")
print("| server | round | throughput (req/s) | p50 (ms) | p99 (ms) | errors / requests |")
print("|---|---|---:|---:|---:|---:|")
names = {"onyx": "Onyx `onyx serve`", "kserve": "KServe Python model server + onnxruntime"}
for side, rs in rows.items():
    for i, j in enumerate(rs, 1):
        print(f"| {names[side]} | {i} | {j['throughput_rps']:.0f} | {j['p50_ms']} | {j['p99_ms']} | {j['errors']} / {j['requests']} |")
if "onyx" in rows and "kserve" in rows:
    o = statistics.mean(j["throughput_rps"] for j in rows["onyx"])
    k = statistics.mean(j["throughput_rps"] for j in rows["kserve"])
    print(f"\nMean throughput: Onyx {o:.0f} req/s, KServe {k:.0f} req/s — Onyx/KServe = {o / k:.2f}×.")
EOF
