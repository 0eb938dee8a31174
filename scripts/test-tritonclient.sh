#!/usr/bin/env bash
# Runs tests/tritonclient_test.py (the unmodified Python tritonclient, HTTP and gRPC) against `onyx serve`
# started in the background on free ports with the bundled Examples/models repository.
# Usage: scripts/test-tritonclient.sh [path/to/onyx]   (default: .build/release/onyx, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
onyx=${1:-.build/release/onyx}
[ -x "$onyx" ] || swift build -c release --product onyx
venv=${VENV:-.venv-tritonclient}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q 'tritonclient[all]' numpy
ports=$("$venv/bin/python" -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')
read -r http grpc <<<"$ports"
log=$(mktemp)
"$onyx" serve --model-repository Examples/models --http-port "$http" --grpc-port "$grpc" \
  --model-control-mode explicit >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  if "$venv/bin/python" -c "import sys, urllib.request
try: sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$http/v2/health/ready', timeout=1).status == 200 else 1)
except Exception: sys.exit(1)" 2>/dev/null; then break; fi
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "onyx serve exited early"; exit 1; }
  sleep 0.2
done
status=0
"$venv/bin/python" tests/tritonclient_test.py --http "127.0.0.1:$http" --grpc "127.0.0.1:$grpc" \
  --onyx "$onyx" --repository Examples/models || status=$?
kill -TERM "$pid"
wait "$pid" || true
exit "$status"
