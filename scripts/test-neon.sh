#!/usr/bin/env bash
# Checks the arm64 (NEON) kernels of Sources/COnyxKernels on an x86-64 machine: cross-compiles gemm.c, vmath.c and
# scripts/kernel-check.c for aarch64, runs the result under qemu-aarch64 (NEON paths, then ONYX_ISA=scalar), and
# checks that clang accepts the C files for aarch64. The arm64 kernels are only ever run under qemu.
# Needs (Debian/Ubuntu): apt-get install -y qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
# Usage: scripts/test-neon.sh [stride]   (every stride-th float bit pattern in the vector-math sweep; default 65537)
set -euo pipefail
cd "$(dirname "$0")/.."
stride="${1:-65537}"
for tool in aarch64-linux-gnu-gcc qemu-aarch64; do
    command -v "$tool" >/dev/null || { echo "test-neon: $tool not found (apt-get install -y qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross)" >&2; exit 2; }
done
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
inc=Sources/COnyxKernels/include
srcs=(Sources/COnyxKernels/gemm.c Sources/COnyxKernels/conv.c Sources/COnyxKernels/vmath.c Sources/COnyxKernels/pool.c)
if command -v clang >/dev/null; then
    for f in "${srcs[@]}"; do clang --target=aarch64-linux-gnu -fsyntax-only -Wall -I"$inc" "$f"; done
    echo "clang --target=aarch64-linux-gnu -fsyntax-only: ok"
fi
aarch64-linux-gnu-gcc -O2 -Wall -static -I"$inc" scripts/kernel-check.c "${srcs[@]}" -lm -o "$out/kernel-check"
echo "== NEON"
qemu-aarch64 "$out/kernel-check" "$stride"
echo "== ONYX_ISA=scalar"
ONYX_ISA=scalar qemu-aarch64 "$out/kernel-check" "$stride"
