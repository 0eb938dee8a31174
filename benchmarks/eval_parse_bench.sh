#!/usr/bin/env bash
# The CSV number parsing of `onyx eval`, before and after the one-pass parser: the ChunkParser of commit 21351c2
# (old) and of the working tree (new), compiled together with `swiftc -O -wmo` into one program that parses the
# same file on one thread, alternating 5 times, and checks both give identical floats.
# Usage: benchmarks/eval_parse_bench.sh [CSV]   (default: 100k digits rows from scripts/make_eval_bench_csv.py)
set -euo pipefail
cd "$(dirname "$0")/.."
CSV=${1:-/tmp/onyx-eval-bench/digits_100000.csv}
[ -f "$CSV" ] || { mkdir -p "$(dirname "$CSV")"; python3 scripts/make_eval_bench_csv.py "$CSV" 100000; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
{ echo "import Foundation"; git show 21351c2:Sources/OnyxEval/EvalData.swift | sed -n '/^struct ChunkParser: Sendable {/,$p' \
    | sed 's/struct ChunkParser: Sendable/struct OldParser: Sendable/; s/ChunkParser.pow10/OldParser.pow10/g'; } > "$W/old.swift"
{ echo "import Foundation"; sed -n '/^struct ChunkParser: Sendable {/,$p' Sources/OnyxEval/EvalData.swift; } > "$W/new.swift"
swiftc -O -wmo benchmarks/eval_parse/main.swift "$W/old.swift" "$W/new.swift" -o "$W/parsebench"
"$W/parsebench" "$CSV"
