"""Generate crates/core/tests/fixtures/print.json: how PyTorch prints float32 tensors.

kindling's `Display` / `Debug` for `Tensor` promise PyTorch's `repr(t)` character for
character. This script records that string for a set of tensors chosen to reach every
branch of the printing rules: 0-d, 1-d to 4-d, integer / fixed / scientific number
modes and the borders between them, rounding ties, nan / inf / -0., line wrapping at
80 columns, summarisation past 1000 elements, empty tensors, and the
`requires_grad=True` / `grad_fn=<...>` suffixes (including the one that wraps).

Case keys:
  name, torch  the case and the PyTorch expression printed (one line);
  shape        the shape of the base tensor x;
  data         x's values, flat and row-major, when it is small: float32 values
               widened exactly to f64, with "nan", "inf" and "-inf" as strings
               (JSON has no non-finite numbers);
  formula      instead of data, for large tensors: start from arange(numel) in
               float32, apply "ops" ([["add"|"sub"|"mul"|"div", c], ...], each a
               float32 op with c rounded to float32, as PyTorch does for a Python
               scalar), then write "set" ([[flat_index, value], ...]);
  grad         null (print x), "leaf" (x.requires_grad_()), or the op applied to
               that leaf before printing: "mul_self" (x * x), "add_self" (x + x),
               "sub_self" (x - x), "neg", "relu", "sum", "mean";
  expected     repr() of the printed tensor.

The formula is checked here against a plain-Python float32 evaluation of the same
steps, so a Rust test that applies them in f32 rebuilds PyTorch's bits exactly.

Run:  python3 tools/golden/gen_print.py   (from the repo root, with a python that has torch)
"""

import math
import pathlib
import struct
import sys

sys.dont_write_bytecode = True  # keep tools/golden free of __pycache__
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import torch  # noqa: E402

from common import setup, write_fixture  # noqa: E402

GENERATOR = "tools/golden/gen_print.py"
OUT = "crates/core/tests/fixtures/print.json"

cases = []


def f32(v):
    """Round a Python float to the nearest float32 (returned widened to a Python float)."""
    return struct.unpack("f", struct.pack("f", v))[0]


def encode(v):
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def decode(v):
    return float(v) if isinstance(v, str) else v


SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
APPLY = {
    "add": lambda a, c: a + c,
    "sub": lambda a, c: a - c,
    "mul": lambda a, c: a * c,
    "div": lambda a, c: a / c,
}
GRAD = {
    None: (None, lambda x: x),
    "leaf": ("x", lambda x: x),
    "mul_self": ("x * x", lambda x: x * x),
    "add_self": ("x + x", lambda x: x + x),
    "sub_self": ("x - x", lambda x: x - x),
    "neg": ("-x", lambda x: -x),
    "relu": ("x.relu()", lambda x: x.relu()),
    "sum": ("x.sum()", lambda x: x.sum()),
    "mean": ("x.mean()", lambda x: x.mean()),
}


def from_formula(shape, formula):
    """Build the tensor in torch, and again in plain f32 arithmetic, and insist they agree."""
    ops, sets = formula.get("ops", []), formula.get("set", [])
    n = math.prod(shape)
    x = torch.arange(n, dtype=torch.float32)
    expr = f"torch.arange({n}.)"
    ref = [float(i) for i in range(n)]
    for op, c in ops:
        x = APPLY[op](x, c)
        expr = f"({expr} {SYMBOL[op]} {c!r})"
        ref = [f32(APPLY[op](a, f32(c))) for a in ref]
    x = x.reshape(shape)
    expr += f".reshape({', '.join(map(str, shape))})" if len(shape) != 1 else ""
    flat = x.view(-1)
    for i, v in sets:
        flat[i] = decode(v)
        ref[i] = f32(decode(v))
        expr += f"; x.view(-1)[{i}] = {v!r}"
    got = x.flatten().tolist()
    same = all(a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(got, ref))
    if not same:
        raise ValueError(f"formula {expr} is not reproduced by plain float32 steps")
    return x, expr, {"ops": [list(o) for o in ops], "set": [list(s) for s in sets]}


def add(name, shape, data=None, formula=None, grad=None, expr=None):
    if formula is not None:
        x, base_expr, encoded = from_formula(shape, formula)
    else:
        x = torch.tensor([decode(v) for v in data], dtype=torch.float32).reshape(shape)
        values = ", ".join(f"float('{v}')" if isinstance(v, str) else repr(v) for v in data)
        base_expr = f"torch.tensor([{values}]).reshape({tuple(shape)!r})"
    if grad is not None:
        x.requires_grad_(True)
    grad_expr, fn = GRAD[grad]
    shown = fn(x)
    torch_expr = expr or base_expr
    if grad_expr is not None and grad != "leaf":
        torch_expr = f"x = {torch_expr}.requires_grad_(); {grad_expr}"
    elif grad == "leaf":
        torch_expr += ".requires_grad_()"
    case = {"name": name, "torch": torch_expr, "shape": list(shape)}
    if formula is not None:
        case["formula"] = encoded
    else:
        case["data"] = [encode(v) for v in x.detach().flatten().tolist()]
    case["grad"] = grad
    case["expected"] = repr(shown)
    cases.append(case)


setup(0)
defaults = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}
if torch._tensor_str.get_printoptions() != defaults:
    raise RuntimeError("torch print options are not the defaults")

# ---- 0-d
add("scalar_int", [], [3.0])
add("scalar_fixed", [], [2564.0 / 3.0])
add("scalar_negative_sci", [], [-1.5e-7])
add("scalar_huge", [], [3.0e9])
add("scalar_nan", [], ["nan"])
add("scalar_neg_inf", [], ["-inf"])
add("scalar_negative_zero", [], [-0.0])
add("scalar_zero", [], [0.0])

# ---- 1-d number modes
add("int_mode", [2], [1.0, 2.0])
add("int_mode_widths", [4], [-1.0, 10.0, 100.0, 7.0])
add("fixed_mixed_signs", [3], [1.5, -2.25, 3.0])
add("fixed_not_exact", [3], [0.1, -0.2, 0.3])
add("fixed_rounds_up_wider", [2], [9.99996, -1.0])
add("rounding_ties_to_even", [4], [0.03125, 1.03125, -2.00005, 0.5])
add("sci_ratio", [2], [1.0e-5, 1.0])
add("sci_extremes", [3], [1.0e-45, 3.0e38, -3.0e38])
add("sci_large", [2], [1.0e9, 2.0e9])
add("sci_rounding_tie", [2], [1.03125, 2.0**-15])
add("sci_small_min", [2], [5.0e-5, 6.0e-5])
add("ratio_exactly_1000", [2], [1.0, 1000.0])
add("ratio_just_over_1000", [2], [1.0, 1000.5])
add("int_mode_sci", [3], [0.0, 1.0, 1.0e10])
add("int_mode_wide_no_sci", [3], [12345678.0, -100000.0, 99999.0])
add("max_exactly_1e8", [2], [1.0e8, 2.0e5])
add("int_with_nonfinite", [4], [1.0, "nan", "inf", "-inf"])
add("fixed_with_nonfinite", [3], [0.5, "nan", "-inf"])
add("sci_with_nonfinite", [4], [1.0e-8, "nan", 1.0, "-inf"])
add("only_nonfinite", [2], ["nan", "inf"])
add("zeros_and_negative_zero", [3], [-0.0, 0.0, 1.0])
add("all_zeros_2d", [2, 3], [0.0] * 6)

# ---- n-d layout and line wrapping
add("nd_2d", [2, 3], formula={"ops": [["div", 7.0]]})
add("nd_3d_negative_ints", [2, 3, 4], formula={"ops": [["sub", 12.0]]})
add("nd_4d", [2, 2, 3, 4], formula={"ops": [["div", 10.0]]})
add("nd_deep_single", [1, 1, 1, 1], [5.0])
add("wrap_2d", [3, 10], formula={"ops": [["div", 7.0]]})
add("wrap_1d", [40], formula={"ops": [["div", 3.0]]})
add("wrap_sci", [20], formula={"ops": [["mul", 1e-5]]})
add("wrap_3d_sci", [2, 2, 9], formula={"ops": [["sub", 10.0], ["mul", 123.456]]})

# ---- summarisation (> 1000 elements): 3 edge items per dim
add("summary_1d", [2000], formula={})
add("summary_2d", [40, 30], formula={"ops": [["div", 7.0]]})
add("summary_3d", [8, 2, 70], formula={"ops": [["sub", 550.0], ["div", 3.0]]})
add("summary_7_rows", [7, 150], formula={"ops": [["sub", 500.0]]})
add("summary_6_rows", [6, 170], formula={"ops": [["mul", 0.5]]})
add("summary_short_rows", [2, 600], formula={"ops": [["div", 9.0]]})
add("summary_4d_blank_lines", [2, 2, 2, 130], formula={"ops": [["div", 7.0]]})
add("summary_hidden_values_ignored", [2000], formula={"set": [[1000, 0.5], [1001, 1.0e-9]]})
add("summary_nonfinite_edges", [1001], formula={"ops": [["mul", 0.25]], "set": [[0, "nan"], [1000, "-inf"]]})

# ---- empty tensors
add("empty_1d", [0], [])
add("empty_2d", [0, 3], [])
add("empty_3d", [2, 0, 4], [])

# ---- autograd suffixes (kindling's op name + "Backward0" matches PyTorch for these)
add("requires_grad_leaf", [2], [1.0, 2.0], grad="leaf")
add("requires_grad_wraps", [9], formula={"ops": [["div", 7.0]]}, grad="leaf")
add("requires_grad_empty", [0, 3], [], grad="leaf")
add("grad_fn_mul", [2, 2], [1.0, -2.0, 3.0, 0.5], grad="mul_self")
add("grad_fn_add", [3], [1.5, 2.0, -3.0], grad="add_self")
add("grad_fn_sub", [2], [1.0, 2.0], grad="sub_self")
add("grad_fn_neg", [2], [1.0, -2.5], grad="neg")
add("grad_fn_relu", [3], [-1.0, 0.0, 2.0], grad="relu")
add("grad_fn_sum_scalar", [4], [1.0, 2.0, 3.0, 4.0], grad="sum")
add("grad_fn_mean_scalar", [3], [1.0, 2.0, 4.0], grad="mean")
add("grad_fn_wraps", [3, 10], formula={"ops": [["div", 7.0]]}, grad="mul_self")

write_fixture(OUT, GENERATOR, cases, extra={"printoptions": defaults})
