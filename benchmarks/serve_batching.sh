#!/usr/bin/env bash
# Dynamic batching on vs off on the bundled digits CNN under concurrent clients: one `onyx serve` process serves
# two copies of Examples/models/digits_cnn — `cnn_batching` with its config.pbtxt (dynamic_batching, preferred
# sizes 16/32, 200 us queue delay) and `cnn_no_batching` with the same config minus dynamic_batching (every
# request runs alone) — and benchmarks/serve_load.py drives them alternately (on off on off ...), one 8x8 image
# per request. Prints a Markdown table with throughput, p50/p99 and the executions/inferences from the stats.
#
#   benchmarks/serve_batching.sh        # CNN=digits|mobilenetv2 CLIENTS=16 SECONDS_PER_RUN=20 ROUNDS=3 SKIP_BUILD=1 LOAD_VENV=/tmp/venv-load ONYX=path/to/onyx
# The client needs aiohttp (python3 -m venv /tmp/venv-load && /tmp/venv-load/bin/pip install aiohttp).
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${CLIENTS:-16}; SECS=${SECONDS_PER_RUN:-20}; ROUNDS=${ROUNDS:-3}
LOAD_VENV=${LOAD_VENV:-/tmp/venv-load}; PORT=${PORT:-18300}
OUT=$(mktemp -d /tmp/serve_batching.XXXXXX)
REPO=$OUT/models

if [ "${SKIP_BUILD:-0}" != 1 ]; then swift build -c release --product onyx >&2; fi

mkdir -p "$REPO/cnn_batching/1" "$REPO/cnn_no_batching/1"
if [ "${CNN:-digits}" = mobilenetv2 ]; then
  # benchmarks/models/mobilenetv2.onnx (make_models.py) with a free batch dimension, fed 3x64x64 images (the
  # network ends in a global average pool, so any spatial size works): ~50 MFLOP per image, so the model's
  # time, not request handling, dominates.
  ONNX_PY=${ONNX_PY:-.venv-bench/bin/python}
  "$ONNX_PY" - "$REPO/cnn_batching/1/model.onnx" <<'PY'
import sys, onnx
m = onnx.load("benchmarks/models/mobilenetv2.onnx")
for v in list(m.graph.input) + list(m.graph.output):
    v.type.tensor_type.shape.dim[0].dim_param = "N"
for d in m.graph.input[0].type.tensor_type.shape.dim[2:]:
    d.dim_value = 64
onnx.save(m, sys.argv[1])
PY
  cp "$REPO/cnn_batching/1/model.onnx" "$REPO/cnn_no_batching/1/"
  INPUT=input; ROW_SHAPE=3,64,64
  cat >"$REPO/cnn_batching/config.pbtxt" <<'CFG'
name: "cnn_batching"
max_batch_size: 16
input [ { name: "input", data_type: TYPE_FP32, dims: [ 3, 64, 64 ] } ]
output [ { name: "logits", data_type: TYPE_FP32, dims: [ 1000 ] } ]
dynamic_batching { preferred_batch_size: [ 8, 16 ] max_queue_delay_microseconds: 2000 }
CFG
  sed -e 's/"cnn_batching"/"cnn_no_batching"/' -e '/^dynamic_batching/d' "$REPO/cnn_batching/config.pbtxt" \
    >"$REPO/cnn_no_batching/config.pbtxt"
else
  cp Examples/models/digits_cnn/1/model.onnx "$REPO/cnn_batching/1/"
  cp Examples/models/digits_cnn/1/model.onnx "$REPO/cnn_no_batching/1/"
  sed 's/"digits_cnn"/"cnn_batching"/' Examples/models/digits_cnn/config.pbtxt >"$REPO/cnn_batching/config.pbtxt"
  # Same config without the dynamic_batching block.
  sed -e 's/"digits_cnn"/"cnn_no_batching"/' -e '/^dynamic_batching {/,/^}/d' Examples/models/digits_cnn/config.pbtxt \
    >"$REPO/cnn_no_batching/config.pbtxt"
  INPUT=image; ROW_SHAPE=1,8,8
fi

PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT
"${ONYX:-.build/release/onyx}" serve --model-repository "$REPO" --http-port "$PORT" --grpc-port off >"$OUT/onyx.log" 2>&1 &
PID=$!
for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null 2>&1 && break; sleep 1; done
curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null || { cat "$OUT/onyx.log" >&2; exit 1; }

for r in $(seq 1 "$ROUNDS"); do
  for m in cnn_batching cnn_no_batching; do
    "$LOAD_VENV/bin/python" benchmarks/serve_load.py --url "http://127.0.0.1:$PORT" --model "$m" --input "$INPUT" \
      --row-shape "$ROW_SHAPE" --clients "$CLIENTS" --seconds "$SECS" >"$OUT/$m-$r.json"
    echo "$m round $r: $(cat "$OUT/$m-$r.json")" >&2
  done
done
for m in cnn_batching cnn_no_batching; do curl -sf "http://127.0.0.1:$PORT/v2/models/$m/stats" >"$OUT/$m-stats.json"; done

CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
"$LOAD_VENV/bin/python" - "$OUT" "$ROUNDS" "$CLIENTS" "$SECS" "$CPU" "$(nproc)" "$(swift --version 2>&1 | head -1)" "$(git rev-parse --short HEAD)" "$ROW_SHAPE" "${CNN:-digits}" <<'EOF'
import json, sys, datetime, statistics
out, rounds, clients, secs, cpu, ncpu, swiftv, rev, shape, model = sys.argv[1:]
print(f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu}, {ncpu} cores, {swiftv}, "
      f"commit {rev}; {clients} concurrent clients x {secs} s per run, {rounds} rounds alternating, one {shape} image per request ({model}).\n")
print(f"| {model} CNN | round | throughput (req/s) | p50 (ms) | p99 (ms) | errors / requests |")
print("|---|---|---:|---:|---:|---:|")
means = {}
for m, label in (("cnn_batching", "dynamic batching on"), ("cnn_no_batching", "dynamic batching off")):
    tps = []
    for r in range(1, int(rounds) + 1):
        d = json.load(open(f"{out}/{m}-{r}.json"))
        tps.append(d["throughput_rps"])
        print(f"| {label} | {r} | {d['throughput_rps']:,.0f} | {d['p50_ms']:.2f} | {d['p99_ms']:.2f} | {d['errors']} / {d['requests']:,} |")
    means[m] = statistics.median(tps)
print()
for m in ("cnn_batching", "cnn_no_batching"):
    s = json.load(open(f"{out}/{m}-stats.json"))["model_stats"][0]
    print(f"- {m}: {int(s['inference_count']):,} inferences in {int(s['execution_count']):,} model executions "
          f"({int(s['inference_count']) / max(1, int(s['execution_count'])):.1f} per execution)")
print(f"\nMedian throughput: batching on {means['cnn_batching']:,.0f} req/s, off {means['cnn_no_batching']:,.0f} req/s "
      f"-> on/off = {means['cnn_batching'] / means['cnn_no_batching']:.2f}x")
EOF
