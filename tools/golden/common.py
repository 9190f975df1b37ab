"""Shared helpers for the golden-fixture generators in tools/golden/.

Every generator writes one JSON file that the Rust tests read. The helpers
here fix the things all of them must agree on:

* the tensor encoding ``{"shape": [...], "data": [flat row-major floats]}``,
  where the data are float32 values widened exactly to Python floats (f64),
  so that parsing them as f64 and narrowing to f32 gives back the very bits
  PyTorch computed;
* the file layout: top-level ``generator``, ``torch_version`` and ``cases``,
  one case per line so that a regenerated fixture diffs readably;
* determinism: single-threaded torch, deterministic algorithms, and a fixed
  seed set by each generator.
"""

import json
import math
import pathlib

import torch

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def setup(seed):
    """Make torch deterministic and seed it."""
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(seed)


def t(x):
    """Encode a tensor (or None) as {"shape", "data"}; None stays None."""
    if x is None:
        return None
    x = x.detach()
    if x.dtype != torch.float32:
        x = x.to(torch.float32)
    data = x.double().flatten().tolist()
    for v in data:
        if not math.isfinite(v):
            raise ValueError("non-finite value in fixture tensor")
    return {"shape": list(x.shape), "data": data}


def scalar_t(v):
    """Encode a Python number as a float32 scalar tensor with shape []."""
    return t(torch.tensor(float(v), dtype=torch.float32))


def write_fixture(rel_path, generator, cases, extra=None):
    """Write the fixture file, one case per line, and return its path."""
    names = [c["name"] for c in cases]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"duplicate case names: {sorted(dupes)}")
    for c in cases:
        if "torch" not in c or "\n" in c["torch"]:
            raise ValueError(f"case {c['name']} needs a one-line 'torch' field")

    def dump(obj):
        return json.dumps(obj, ensure_ascii=False, allow_nan=False)

    path = REPO_ROOT / rel_path
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["{"]
    lines.append(f' "generator": {dump(generator)},')
    lines.append(f' "torch_version": {dump(torch.__version__)},')
    if extra:
        for key, value in extra.items():
            if isinstance(value, list):
                lines.append(f' {dump(key)}: [')
                for i, item in enumerate(value):
                    sep = "," if i + 1 < len(value) else ""
                    lines.append("  " + dump(item) + sep)
                lines.append(" ],")
            else:
                lines.append(f" {dump(key)}: {dump(value)},")
    lines.append(' "cases": [')
    for i, c in enumerate(cases):
        sep = "," if i + 1 < len(cases) else ""
        lines.append("  " + dump(c) + sep)
    lines.append(" ]")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    json.loads(text)  # sanity: the file must be valid JSON
    path.write_text(text, encoding="utf-8")
    print(f"wrote {rel_path}: {len(cases)} cases, {len(text.encode())} bytes")
    return path
