#!/usr/bin/env bash
# Clicks the web page's try-it forms (tabular and image) in headless Chromium: starts `onyx serve` on a free port
# with the bundled Examples/models and runs tests/webpage_chromium_test.py (Chrome DevTools protocol over aiohttp).
# Usage: scripts/check-webpage.sh [path/to/onyx] [screenshot.png]   (default: .build/release/onyx, built if missing)
# Needs a Chromium binary: CHROMIUM=/usr/bin/chromium (Debian: apt-get install chromium). Not run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
onyx=${1:-.build/release/onyx}
shot=${2:-}
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$onyx" ] || swift build -c release --product onyx
venv=${VENV:-.venv-webcheck}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q aiohttp numpy
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp)
"$onyx" serve --model-repository Examples/models --http-port "$port" --grpc-port off >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/v2/health/ready" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "onyx serve exited early"; exit 1; }
  sleep 0.2
done
"$venv/bin/python" tests/webpage_chromium_test.py --url "http://127.0.0.1:$port" --chromium "$chromium" \
  --examples Examples ${shot:+--screenshot "$shot"}
