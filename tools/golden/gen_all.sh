#!/usr/bin/env bash
# Regenerate every golden fixture from PyTorch. See tools/golden/README.md.
# Usage: tools/golden/gen_all.sh            (uses $PYTHON, default python3: a python with torch and numpy)
#        PYTHON=/path/to/python tools/golden/gen_all.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-python3}"
"$PYTHON" tools/golden/gen_ops.py
"$PYTHON" tools/golden/gen_layers.py
"$PYTHON" tools/golden/gen_layers_round2.py
"$PYTHON" tools/golden/gen_batchnorm.py
"$PYTHON" tools/golden/gen_norm.py
"$PYTHON" tools/golden/gen_optim.py
"$PYTHON" tools/golden/gen_print.py
"$PYTHON" tools/golden/gen_repr.py
"$PYTHON" tools/golden/gen_exercises.py
"$PYTHON" tools/golden/gen_custom_op.py
