#!/usr/bin/env bash
# Regenerate every golden fixture from PyTorch. See tools/golden/README.md.
# Usage: tools/golden/gen_all.sh            (uses $PYTHON, default /work/venv/bin/python)
#        PYTHON=/path/to/python tools/golden/gen_all.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-/work/venv/bin/python}"
"$PYTHON" tools/golden/gen_ops.py
"$PYTHON" tools/golden/gen_layers.py
"$PYTHON" tools/golden/gen_batchnorm.py
"$PYTHON" tools/golden/gen_optim.py
