#!/usr/bin/env bash
# Regenerates Sources/OnyxServer/GRPC/*.pb.swift and *.grpc.swift from proto/triton/*.proto
# (Triton's grpc_service.proto and model_config.proto, package `inference`).
#
# protoc comes from grpcio-tools (PyPI); protoc-gen-swift is built from swift-protobuf 1.39.0 and
# protoc-gen-grpc-swift-2 from grpc-swift-protobuf 2.4.1. Set PROTOC_GEN_SWIFT / PROTOC_GEN_GRPC_SWIFT to reuse
# already-built plugins.
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
grpc_plugin=${PROTOC_GEN_GRPC_SWIFT:-}
if [ -z "$grpc_plugin" ]; then
  src=.build-protoc-gen-grpc-swift
  [ -d "$src" ] || git clone -q --branch 2.4.1 https://github.com/grpc/grpc-swift-protobuf "$src"
  (cd "$src" && swift build -c release --product protoc-gen-grpc-swift-2)
  grpc_plugin="$src/.build/release/protoc-gen-grpc-swift-2"
fi
out=Sources/OnyxServer/GRPC
mkdir -p "$out"
"$venv/bin/python" -m grpc_tools.protoc -I proto/triton \
  --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Internal --swift_out="$out" \
  --plugin=protoc-gen-grpc-swift-2="$grpc_plugin" \
  --grpc-swift-2_opt=Visibility=Internal,Client=false,Server=true --grpc-swift-2_out="$out" \
  grpc_service.proto model_config.proto
# protoc-gen-grpc-swift-2 writes a file only for protos with services; nothing else to move.
ls "$out"
