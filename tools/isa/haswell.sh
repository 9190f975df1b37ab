#!/usr/bin/env bash
# Runs kindling on an emulated AVX2-only CPU (Intel Haswell: AVX2 and FMA, no AVX-512), to
# show that a binary built on any machine picks its instructions at run time and never
# executes one the CPU lacks. Needs Debian's qemu-user (`apt-get install qemu-user`).
#
#   tools/isa/haswell.sh     # the core and nn test suites, then which instructions kindling picks
#
# Under emulation `is_x86_feature_detected!` sees Haswell's CPUID, so kindling's loops take
# their AVX2 copies and gemm its AVX2 kernels; an AVX-512 instruction would stop the run
# with SIGILL ("Illegal instruction"). Emulation is slow: the test suites take about 5
# minutes, and a GEMM runs some 10,000 times slower than on the real CPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v qemu-x86_64 >/dev/null || { echo "qemu-x86_64 not found: apt-get install qemu-user" >&2; exit 1; }
cpu=(qemu-x86_64 -cpu Haswell)

# Test binaries of the two crates with the most kernels, with every AVX-512 path compiled
# in (the `avx512` feature, as in a default build of kindling).
bins=$(cargo test -p kindling-core -p kindling-nn --features kindling-core/avx512 --no-run \
  --message-format=json 2>/dev/null |
  grep -o '"executable":"[^"]*"' | cut -d'"' -f4)
failed=()
for bin in $bins; do
  echo "== $(basename "$bin") on an emulated Haswell"
  # The deadlock tests give an op 20 seconds, which emulation can exceed without any
  # deadlock: they are skipped here (they run natively in cargo test). An illegal
  # instruction kills the binary with SIGILL, which no skip hides.
  "${cpu[@]}" "$bin" --test-threads 2 -q --skip deadlock 2>&1 | grep -v "TCG doesn't support" ||
    failed+=("$(basename "$bin")")
done

cargo build --release --example bench_layers
echo "== bench_layers: which instruction set kindling picked"
"${cpu[@]}" target/release/examples/bench_layers --reps 0 2>/dev/null
if ((${#failed[@]})); then
  echo "failed under emulation: ${failed[*]}" >&2
  exit 1
fi
echo "every test binary passed on the emulated Haswell"
