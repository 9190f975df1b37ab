#!/usr/bin/env bash
# Runs kindling <-> PyTorch safetensors interop both ways and prints the max abs logit
# differences. Usage: tools/interop/run.sh [PYTHON] (default: python3 with torch and
# safetensors installed). Not run by CI: it needs PyTorch.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${1:-python3}"
DIR="$(mktemp -d)"
trap 'rm -rf "$DIR"' EXIT

echo "== kindling -> PyTorch"
cargo run -q -p kindling-checkpoint --example interop -- export "$DIR"
"$PYTHON" tools/interop/interop.py check "$DIR"

echo "== PyTorch -> kindling"
"$PYTHON" tools/interop/interop.py export "$DIR"
cargo run -q -p kindling-checkpoint --example interop -- check "$DIR"
