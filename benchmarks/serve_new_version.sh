#!/usr/bin/env bash
# A new model version dropped into the repository during a load run is served within the poll interval with zero
# failed requests. Serves a copy of Examples/models/digits_cnn (version 1) with --model-control-mode poll
# --repository-poll-secs POLL, drives it with benchmarks/serve_load.py (CLIENTS closed-loop clients, SECS seconds),
# and DROP_AFTER seconds into the run copies version 2 in (written under a hidden temporary name, then renamed, so
# the poller never sees a half-written file). Prints the answers per version, the errors, and the time from the
# drop to the first answer from version 2; exits non-zero on any error or if version 2 was not served in time.
#
#   benchmarks/serve_new_version.sh     # CLIENTS=16 SECONDS_PER_RUN=20 DROP_AFTER=8 POLL=1 SKIP_BUILD=1 ONYX=path/to/onyx
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${CLIENTS:-16}; SECS=${SECONDS_PER_RUN:-20}; DROP_AFTER=${DROP_AFTER:-8}; POLL=${POLL:-1}
LOAD_VENV=${LOAD_VENV:-/tmp/venv-load}; PORT=${PORT:-18400}
OUT=$(mktemp -d /tmp/serve_new_version.XXXXXX)
REPO=$OUT/models

if [ "${SKIP_BUILD:-0}" != 1 ]; then swift build -c release --product onyx >&2; fi

mkdir -p "$REPO/digits_cnn/1"
cp Examples/models/digits_cnn/1/model.onnx "$REPO/digits_cnn/1/"
cp Examples/models/digits_cnn/config.pbtxt "$REPO/digits_cnn/"

PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT
"${ONYX:-.build/release/onyx}" serve --model-repository "$REPO" --http-port "$PORT" --grpc-port off \
  --model-control-mode poll --repository-poll-secs "$POLL" >"$OUT/onyx.log" 2>&1 &
PID=$!
for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null 2>&1 && break; sleep 1; done
curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null || { cat "$OUT/onyx.log" >&2; exit 1; }

"$LOAD_VENV/bin/python" benchmarks/serve_load.py --url "http://127.0.0.1:$PORT" --model digits_cnn --input image \
  --row-shape 1,8,8 --clients "$CLIENTS" --seconds "$SECS" >"$OUT/load.json" &
LOAD=$!
sleep "$DROP_AFTER"
mkdir -p "$REPO/digits_cnn/.incoming-2"
cp Examples/models/digits_cnn/1/model.onnx "$REPO/digits_cnn/.incoming-2/"
DROP=$(date +%s.%N)
mv "$REPO/digits_cnn/.incoming-2" "$REPO/digits_cnn/2"
wait "$LOAD"

"$LOAD_VENV/bin/python" - "$OUT/load.json" "$DROP" "$POLL" "$CLIENTS" "$SECS" "$DROP_AFTER" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); drop = float(sys.argv[2]); poll = float(sys.argv[3])
print(f"{sys.argv[4]} clients x {sys.argv[5]} s on digits_cnn, --model-control-mode poll --repository-poll-secs {poll:g}, "
      f"version 2 dropped in after {sys.argv[6]} s")
for v in sorted(d["versions"], key=str):
    print(f"- answers from version {v}: {d['versions'][v]:,}")
print(f"- failed requests: {d['errors']} of {d['requests']:,} {d['error_samples'] if d['errors'] else ''}")
first = d["first_seen"].get("2")
delay = None if first is None else first - drop
print(f"- first answer from version 2: {'never' if delay is None else f'{delay:.2f} s after the drop'}")
print(f"- throughput {d['throughput_rps']:,.0f} req/s, p50 {d['p50_ms']:.2f} ms, p99 {d['p99_ms']:.2f} ms")
ok = d["errors"] == 0 and delay is not None and delay <= poll + 1.0
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
EOF
