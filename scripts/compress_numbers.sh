#!/bin/sh
# Measures the numbers in docs/compression.md with a release build:
#   swift build -c release && sh scripts/compress_numbers.sh
# Each command prints its before/after table; `onyx bench` then times every file on its own (batch 1, 2 threads).
set -e
ONYX=${ONYX:-.build/release/onyx}
OUT=${OUT:-/tmp/onyx-compress}
M=Examples/models/digits_mlp/1/model.onnx
D=Examples/data/digits_test.csv
F=Tests/OnyxTests/Fixtures/compress
mkdir -p "$OUT"
run() { echo "\$ onyx $*"; "$ONYX" "$@" --threads 2 --bench-iterations 2000; echo; }
run quantize $M -o $OUT/mlp_int8.onnx --mode dynamic --data $D
run quantize $M -o $OUT/mlp_int8_pc.onnx --mode dynamic --per-channel --data $D
run quantize $M -o $OUT/mlp_static_qdq.onnx --mode static --calibration $F/digits_train.csv --method minmax --data $D
run quantize $M -o $OUT/mlp_static_qop.onnx --mode static --calibration $F/digits_train.csv --method entropy --format qoperator --data $D
run convert-precision $M --to fp16 --keep-io-fp32 -o $OUT/mlp_fp16.onnx --data $D
run prune $M --sparsity 0.5 -o $OUT/mlp_pruned50.onnx --data $D
run prune $M --sparsity 0.5 --structured channels -o $OUT/mlp_channels50.onnx --data $D
run prune $F/small_cnn.onnx --sparsity 0.5 --structured channels -o $OUT/cnn_channels50.onnx
run distill --teacher $F/digits_teacher.onnx --data $F/digits_train.csv --student mlp:32 --epochs 60 -o $OUT/student.onnx --eval-data $D
for f in $M $OUT/mlp_int8.onnx $OUT/mlp_static_qdq.onnx $OUT/mlp_static_qop.onnx $OUT/mlp_fp16.onnx $F/small_cnn.onnx $OUT/cnn_channels50.onnx $F/digits_teacher.onnx $OUT/student.onnx; do
  printf '%s: ' "$f"; "$ONYX" bench "$f" --threads 2 --iterations 2000 --json
done
