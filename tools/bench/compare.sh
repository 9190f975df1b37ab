#!/usr/bin/env bash
# Runs kindling's bench_cnn (release), PyTorch's torch_ref.py and, where their binaries are
# built, the candle and burn twins (tools/bench/peers/), one after the other, ROUNDS times, in
# the same sitting; prints each round, the median of each figure, and each framework's ratio
# to PyTorch. The machines here are noisy, so only medians of interleaved runs are worth
# comparing.
#
#   tools/bench/compare.sh [--isa best|avx2] [ROUNDS] [PYTHON]     (defaults: best, 5, python3)
#
# PYTHON is an interpreter with torch installed (a venv anywhere, e.g. .venv-torch/bin/python).
# Each run times 50 steps after 5 warm-up steps, except candle (10) and burn's ndarray backend
# (5), whose steps take from a tenth of a second to seconds.
#
# --isa best  (default) kindling as built by default, every framework on its best kernels.
# --isa avx2  kindling built with --no-default-features (so without the `avx512` cargo
#             feature, where the package has one) into its own target dir, target/bench-avx2,
#             and run with KINDLING_ISA=avx2; PyTorch run with ATEN_CPU_CAPABILITY=avx2,
#             ONEDNN_MAX_CPU_ISA=AVX2 and MKL_ENABLE_INSTRUCTIONS=AVX2. candle and burn pick
#             their SIMD kernels at run time (gemm's own CPU detection) and have no switch to
#             hold them to AVX2: they run on their best kernels in both modes.
#
# The peers are never built here (a first build takes minutes): build them as
# tools/bench/peers/README.md says. Their binaries are looked for under $PEERS_TARGET_DIR,
# then $CARGO_TARGET_DIR, then each peer's own target/ dir.
set -euo pipefail
cd "$(dirname "$0")/../.."

isa=best
if [[ ${1:-} == --isa ]]; then
  isa=${2:?--isa needs best or avx2}
  shift 2
elif [[ ${1:-} == --isa=* ]]; then
  isa=${1#--isa=}
  shift
fi
case $isa in best | avx2) ;; *) echo "--isa must be best or avx2, not $isa" >&2; exit 2 ;; esac
rounds=${1:-5}
python=${2:-python3}

build_log=$(mktemp)
out=$(mktemp)
trap 'rm -f "$build_log" "$out"' EXIT

kindling_env=()
torch_env=()
if [[ $isa == avx2 ]]; then
  kdir=target/bench-avx2
  # --no-default-features drops the root package's default features (the `avx512` kernels).
  build=(cargo build --release --no-default-features --example bench_cnn)
  kindling_env=(KINDLING_ISA=avx2)
  torch_env=(ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2)
else
  kdir=${CARGO_TARGET_DIR:-target}
  build=(cargo build --release --example bench_cnn)
fi
echo "building kindling's bench_cnn (${build[*]}, target dir $kdir) ..."
if ! CARGO_TARGET_DIR=$kdir "${build[@]}" >"$build_log" 2>&1; then
  tail -30 "$build_log" >&2
  exit 1
fi

# name|timed steps|command; each output line is prefixed with the name. A step of candle or of
# burn's ndarray backend takes from a tenth of a second to seconds here, so they time fewer
# steps (after the same 5 warm-up steps) to keep a round to a couple of minutes.
runners=("kindling|50|env ${kindling_env[*]} $kdir/release/examples/bench_cnn")
runners+=("torch|50|env ${torch_env[*]} $python tools/bench/torch_ref.py")

find_peer() { # crate dir under tools/bench/peers, binary name
  local d
  for d in ${PEERS_TARGET_DIR:-} ${CARGO_TARGET_DIR:-} "tools/bench/peers/$1/target"; do
    if [[ -x $d/release/$2 ]]; then
      echo "$d/release/$2"
      return
    fi
  done
}
candle=$(find_peer candle bench-candle)
burn=$(find_peer burn bench-burn)
if [[ -n $candle ]]; then
  runners+=("candle|10|$candle")
else
  echo "note: candle twin not built (tools/bench/peers/README.md says how); skipping candle"
fi
if [[ -n $burn ]]; then
  runners+=("burn-ndarray|5|$burn --backend ndarray" "burn-flex|50|$burn --backend flex")
else
  echo "note: burn twin not built (tools/bench/peers/README.md says how); skipping burn"
fi
if [[ $isa == avx2 ]]; then
  echo "note: --isa avx2 holds kindling and PyTorch to AVX2; candle and burn cannot be held to"
  echo "      AVX2 at run time (gemm detects the CPU itself): their figures are on their best ISA"
fi

for r in $(seq "$rounds"); do
  echo "--- round $r/$rounds (--isa $isa)"
  for runner in "${runners[@]}"; do
    name=${runner%%|*}
    rest=${runner#*|}
    steps=${rest%%|*}
    # shellcheck disable=SC2086 # the command is word-split on purpose
    ${rest#*|} --steps "$steps" | sed "s/^/$name /" | tee -a "$out" | grep train
  done
done

python3 - "$out" "$isa" <<'PY'
import re, statistics, sys
rows, headers, order = {}, {}, []
for line in open(sys.argv[1]):
    who, _, rest = line.rstrip("\n").partition(" ")
    if who not in order:
        order.append(who)
    # bench_cnn: "BN       train   16.02 ms/step (mean   16.50)   inference     5000 img/s   peak RSS ..."
    # torch_ref: "BN       train   24.30 ms/step   inference     4000 img/s"
    m = re.match(r"(BN|no BN)\s+train\s+([\d.]+) ms/step(?: \(mean\s+[\d.]+\))?\s+inference\s+([\d.]+) img/s", rest)
    if m:
        variant, ms, ips = m.groups()
        rows.setdefault((who, variant), []).append((float(ms), float(ips)))
    elif "bench" in rest and who not in headers:
        headers[who] = rest
print("\nversions:")
for who in order:
    print(f"  {who:<13} {headers.get(who, '?')}")
n = len(rows.get(("kindling", "BN"), []))
print(f"\nmedians over {n} rounds (--isa {sys.argv[2]}); train ratio = ms/step over PyTorch's (below 1 is faster),")
print("inference ratio = img/s over PyTorch's (above 1 is faster):")
print("| variant | framework | train ms/step | train ratio | inference img/s | inference ratio |")
print("|---|---|---:|---:|---:|---:|")
for variant in ("BN", "no BN"):
    t = rows.get(("torch", variant))
    tm = statistics.median(x[0] for x in t) if t else None
    ti = statistics.median(x[1] for x in t) if t else None
    for who in order:
        v = rows.get((who, variant))
        if not v:
            continue
        m = statistics.median(x[0] for x in v)
        i = statistics.median(x[1] for x in v)
        mr = f"{m / tm:.2f}" if tm else "-"
        ir = f"{i / ti:.2f}" if ti else "-"
        print(f"| {variant} | {who} | {m:.1f} | {mr} | {i:.0f} | {ir} |")
PY
