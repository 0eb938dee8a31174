#!/usr/bin/env bash
# The metrics phase of `onyx eval` (MetricsReport.classification on 100k rows, 10 classes, and the binary variant):
# Sources/OnyxMetrics at BASE (default 3197181, before the confusion-matrix / flat-matrix rewrite) against the
# working tree, each compiled with `swiftc -O -wmo` (OnyxData's three symbols stubbed), run alternately ROUNDS
# times; prints CPU times (first call in a fresh process and best of 5) and checks both print byte-identical JSON.
# Usage: benchmarks/eval_metrics_bench.sh [BASE] [ROUNDS] [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:-3197181}
ROUNDS=${2:-3}
ROWS=${3:-100000}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cat > "$W/stub.swift" <<'SWIFT'
public struct CSVTable { let file: String; let rows: [[String]]
  func values(_ c: String) throws -> [String] { [] }
  func doubles(_ c: String) throws -> [Double] { [] } }
struct CSVError: Error { init(file: String, line: Int, message: String) {} }
enum JSONLines { static func escape(_ s: String, into out: inout String) { out += "\"" + s + "\"" } }
SWIFT
build() {  # build NAME SRC_DIR
  mkdir -p "$W/$1"
  for f in "$2"/*.swift; do sed 's/^import OnyxData$//' "$f" > "$W/$1/$(basename "$f")"; done
  swiftc -O -wmo -module-name OnyxMetrics "$W/$1"/*.swift "$W/stub.swift" benchmarks/eval_metrics/main.swift -o "$W/bench-$1"
}
mkdir -p "$W/base-src"
git archive "$BASE" Sources/OnyxMetrics | tar -x -C "$W/base-src"
build base "$W/base-src/Sources/OnyxMetrics"
build new Sources/OnyxMetrics
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); base $BASE vs working tree $(git rev-parse --short HEAD); $(swift --version 2>/dev/null | head -1 || true)"
echo "machine: $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$W/bench-base" json "$ROWS" > "$W/base.json"
"$W/bench-new" json "$ROWS" > "$W/new.json"
if cmp -s "$W/base.json" "$W/new.json"; then echo "reports byte-identical ($(wc -c < "$W/new.json") bytes of JSON)"; else echo "REPORTS DIFFER"; exit 1; fi
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r base: $("$W/bench-base" time "$ROWS" | tr '\n' ';')"
  echo "round $r new:  $("$W/bench-new" time "$ROWS" | tr '\n' ';')"
done
echo "load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
