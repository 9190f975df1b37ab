#!/usr/bin/env bash
# Runs kindling's bench_cnn (release) and PyTorch's torch_ref.py alternately, ROUNDS times,
# in the same sitting, and prints each round plus the median of each figure and the ratios.
# The machines here are noisy, so only medians of interleaved runs are worth comparing.
#
#   tools/bench/compare.sh [ROUNDS] [PYTHON]       (defaults: 5, python3)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
python=${2:-python3}
cargo build --release --example bench_cnn >/dev/null 2>&1
out=$(mktemp)
for _ in $(seq "$rounds"); do
  target/release/examples/bench_cnn --steps 50 | sed 's/^/kindling /' | tee -a "$out" | grep train
  "$python" tools/bench/torch_ref.py --steps 50 | sed 's/^/torch /' | tee -a "$out" | grep train
done
python3 - "$out" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\w+) (BN|no BN)\s+train\s+([\d.]+) ms/step(?: \(mean\s+[\d.]+\))?\s+inference\s+([\d.]+) img/s", line)
    if m:
        who, variant, ms, ips = m.groups()
        rows.setdefault((who, variant), []).append((float(ms), float(ips)))
print("\nmedians over", len(rows[("kindling", "BN")]), "rounds:")
print("| variant | kindling ms/step | PyTorch ms/step | ratio | kindling img/s | PyTorch img/s |")
print("|---|---:|---:|---:|---:|---:|")
for variant in ("BN", "no BN"):
    k = rows[("kindling", variant)]; t = rows[("torch", variant)]
    km, tm = statistics.median(x[0] for x in k), statistics.median(x[0] for x in t)
    ki, ti = statistics.median(x[1] for x in k), statistics.median(x[1] for x in t)
    print(f"| {variant} | {km:.1f} | {tm:.1f} | {km/tm:.2f} | {ki:.0f} | {ti:.0f} |")
PY
rm -f "$out"
