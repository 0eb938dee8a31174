#!/usr/bin/env bash
# Sorting one 100k score column (OnyxMetrics' descendingOrder): the comparison sort it used before vs the stable
# LSD radix sort of Sources/OnyxMetrics/ScoreOrder.swift, compiled with `swiftc -O -wmo`, alternating 5 times;
# checks both give the same permutation. Columns: 360 distinct values repeated (like the digits eval bench) and
# all-distinct random values.
set -euo pipefail
cd "$(dirname "$0")/.."
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
{ echo "import Foundation"; sed -n '/^func radixDescendingOrder/,$p' Sources/OnyxMetrics/ScoreOrder.swift; } > "$W/radix.swift"
swiftc -O -wmo benchmarks/eval_sort/main.swift "$W/radix.swift" -o "$W/sortbench"
"$W/sortbench"
