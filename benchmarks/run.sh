#!/usr/bin/env bash
# Side-by-side benchmark: Onyx vs ONNX Runtime (PyPI) on the same models, same threads, alternating.
# Usage: benchmarks/run.sh [--threads 2] [--rounds 3] [--models resnet50,mlp_64_128_10]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${BENCH_VENV:-.venv-bench}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check onnx==1.23.2 onnxruntime==1.32.0 numpy
[ -d .onnx-tests/light ] || ONNX_VENV="$venv" bash scripts/onnx-test-data.sh
[ -f benchmarks/models/mlp_64_128_10.onnx ] || "$venv/bin/python" benchmarks/make_models.py
swift build -c release --product onyx
"$venv/bin/python" benchmarks/compare.py --onyx .build/release/onyx "$@"
