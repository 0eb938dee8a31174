#!/usr/bin/env bash
# Creates .venv-onnx with onnx==1.23.2 and writes the conformance data into .onnx-tests/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${ONNX_VENV:-.venv-onnx}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check onnx==1.23.2 numpy
"$venv/bin/python" scripts/gen_onnx_tests.py "${1:-.onnx-tests}"
