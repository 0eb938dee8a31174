#!/usr/bin/env bash
# Regenerates Sources/OnyxProto/*.pb.swift from proto/onnx/*.proto3.
#
# The .proto3 files come from onnx==1.23.2: `python onnx/gen_proto.py -m -o OUT onnx onnx-data`
# (the ML flavour of the official onnx.in.proto, converted to proto3 syntax).
# protoc comes from grpcio-tools (PyPI); protoc-gen-swift is built from swift-protobuf 1.39.0.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv-tools}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q grpcio-tools==1.85.1
plugin=${PROTOC_GEN_SWIFT:-}
if [ -z "$plugin" ]; then
  src=.build-protoc-gen-swift
  [ -d "$src" ] || git clone -q --branch 1.39.0 https://github.com/apple/swift-protobuf "$src"
  (cd "$src" && swift build -c release --product protoc-gen-swift)
  plugin="$src/.build/release/protoc-gen-swift"
fi
"$venv/bin/python" -m grpc_tools.protoc --plugin=protoc-gen-swift="$plugin" \
  --swift_opt=Visibility=Public --swift_out=Sources/OnyxProto -I proto \
  onnx/onnx-ml.proto3 onnx/onnx-data.proto3
mv Sources/OnyxProto/onnx/*.pb.swift Sources/OnyxProto/ && rmdir Sources/OnyxProto/onnx
