"""Generate tests/fixtures/custom_op.json: PyTorch's numbers for the outside conformance
suite of the custom-op API (tests/custom_op_conformance.rs).

That suite writes swish, x·sigmoid(x), as a kindling `CustomOp` with a hand-written
backward, and compares it with PyTorch's own `F.silu` (swish by another name) run by
autograd. The cases cover:

* swish forward and the input gradient under a random (non-uniform) upstream gradient,
  on a vector, on a [3, 4] matrix, and on values out to ±30 where sigmoid saturates;
* swish used twice in one graph (y = swish(x) + swish(2x)), so the gradient accumulates
  from two uses of the same input;
* a custom op in the middle of a graph: loss = sum((swish(x @ w) * c)), with gradients
  for both x and w, and `retain_grad` on the custom op's output (its .grad is the
  upstream gradient c);
* `clone()` in PyTorch (kindling's `copy()`): d/dx of sum(copy(x) * x) is 2x.

Case keys: name, torch (a one-line description), inputs (name -> tensor), upstream (or
null), output, grads (name -> tensor).

Run:  python3 tools/golden/gen_custom_op.py   (from the repo root)
"""

import pathlib
import sys

sys.dont_write_bytecode = True  # keep tools/golden free of __pycache__
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from common import setup, t, write_fixture  # noqa: E402


def leaf(x):
    return x.clone().requires_grad_(True)


def main():
    setup(2026)
    cases = []

    for name, x in [
        ("swish_vector", torch.randn(7) * 2.0),
        ("swish_matrix", torch.randn(3, 4)),
        ("swish_saturated", torch.tensor([-30.0, -12.0, -4.0, 0.0, 4.0, 12.0, 30.0])),
    ]:
        xl = leaf(x)
        y = F.silu(xl)
        up = torch.randn_like(y)
        y.backward(up)
        cases.append({
            "name": name,
            "torch": "y = F.silu(x); y.backward(upstream)",
            "inputs": {"x": t(x)},
            "upstream": t(up),
            "output": t(y),
            "grads": {"x": t(xl.grad)},
        })

    x = torch.randn(2, 5)
    xl = leaf(x)
    y = F.silu(xl) + F.silu(2.0 * xl)
    up = torch.randn_like(y)
    y.backward(up)
    cases.append({
        "name": "swish_used_twice",
        "torch": "y = F.silu(x) + F.silu(2 * x); y.backward(upstream)",
        "inputs": {"x": t(x)},
        "upstream": t(up),
        "output": t(y),
        "grads": {"x": t(xl.grad)},
    })

    x, w, c = torch.randn(4, 3), torch.randn(3, 5), torch.randn(4, 5)
    xl, wl = leaf(x), leaf(w)
    h = F.silu(xl @ wl)
    h.retain_grad()
    loss = (h * c).sum()
    loss.backward()
    cases.append({
        "name": "swish_inside_a_graph",
        "torch": "h = F.silu(x @ w); h.retain_grad(); (h * c).sum().backward()",
        "inputs": {"x": t(x), "w": t(w), "c": t(c)},
        "upstream": None,
        "output": t(loss),
        "grads": {"x": t(xl.grad), "w": t(wl.grad), "h": t(h.grad)},
    })

    x = torch.randn(6)
    xl = leaf(x)
    loss = (xl.clone() * xl).sum()
    loss.backward()
    cases.append({
        "name": "clone_is_a_differentiable_copy",
        "torch": "(x.clone() * x).sum().backward()",
        "inputs": {"x": t(x)},
        "upstream": None,
        "output": t(loss),
        "grads": {"x": t(xl.grad)},
    })

    path = write_fixture("tests/fixtures/custom_op.json", "tools/golden/gen_custom_op.py", cases)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
