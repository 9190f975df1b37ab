"""Generate crates/nn/tests/fixtures/norm.json: golden values for LayerNorm, GroupNorm
and InstanceNorm2d, and for the functional layer_norm / group_norm they call.

Each case builds one layer (or calls one functional op) with explicit random,
non-default weight and bias where it has them, runs it forward on an input
whose rows have means far from 0 and spreads far from 1 (so that a missing
mean subtraction, a wrong variance or normalising over the wrong axes all
show), and back-propagates a random upstream gradient. The cases cover:

* LayerNorm over 1, 2 and 3 trailing dims, with and without elementwise
  affine, a custom eps on nearly constant rows (where eps matters), and rows
  offset by 1000 (where E[x^2] - E[x]^2 would cancel);
* GroupNorm with 1, 2 and C groups, on [N, C, L] and [N, C, H, W], with and
  without affine, on [N, C] (no trailing dims, including one value per group),
  with a custom eps, and on values offset by 1000;
* InstanceNorm2d without and with affine, a custom eps, and one unbatched
  [C, H, W] image;
* functional layer_norm with a weight but no bias, and group_norm with a bias
  but no weight (the layers always have both or neither).

Every case is also run in float64 from the same float32 input, parameters and
upstream, and those results are stored rounded to float32: the best float32
answer. It shows how far PyTorch's own float32 run is from it (a few 1e-6
normally, up to 1e-3 on the rows offset by 1000, whose moments PyTorch
accumulates in float32), so a test can hold kindling to both.

Case keys: name, torch, kind ("layer_norm" | "group_norm" | "instance_norm2d" |
"functional_layer_norm" | "functional_group_norm"), config (the constructor's
or the function's arguments), params (name -> tensor: the state_dict of a
layer, the weight and/or bias given to a function; {} when there are none),
input, upstream, output, grad_input, grad_params (name -> tensor), float64
{output, grad_input, grad_params}, repr (print(layer), or null for a function).

Run:  python3 tools/golden/gen_norm.py   (from the repo root)
"""

import pathlib
import sys

sys.dont_write_bytecode = True  # keep tools/golden free of __pycache__
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from common import setup, t, write_fixture  # noqa: E402

GENERATOR = "tools/golden/gen_norm.py"
OUT = "crates/nn/tests/fixtures/norm.json"

cases = []


def spread_input(shape, lead=2):
    """Random input whose slices along the first `lead` dims each get their own offset
    (far from 0) and spread (far from 1)."""
    bshape = tuple(shape[:lead]) + (1,) * (len(shape) - lead)
    offset = (3.0 + 4.0 * torch.randn(bshape))
    spread = (0.5 + 3.0 * torch.rand(bshape))
    return offset + spread * torch.randn(shape)


def randomize(module):
    """Non-default affine parameters: a weight around 1 and a bias around 0."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name == "weight":
                p.copy_(1.0 + 0.5 * torch.randn(p.shape))
            else:
                p.copy_(0.3 * torch.randn(p.shape))


def run(fn, params, x, upstream=None):
    """fn(x, params) forward, then backward with `upstream` (random if None). Returns the
    upstream, the output and the gradients of x and of each parameter."""
    x = x.detach().clone().requires_grad_(True)
    params = {k: p.detach().clone().requires_grad_(True) for k, p in params.items()}
    out = fn(x, params)
    if upstream is None:
        upstream = torch.randn_like(out)
    out.backward(upstream.to(out.dtype))
    return upstream, out, x.grad, {k: p.grad for k, p in params.items()}


def record(name, expr, kind, config, fn, params, x, repr_text):
    """One case: fn(x, params) in float32 with a random upstream gradient, and the same
    computation in float64 from the same float32 values, rounded to float32 (by t())."""
    upstream, out, grad_x, grad_params = run(fn, params, x)
    params64 = {k: p.double() for k, p in params.items()}
    _, out64, grad_x64, grad_params64 = run(fn, params64, x.double(), upstream.double())
    cases.append(
        {
            "name": name,
            "torch": expr,
            "kind": kind,
            "config": config,
            "params": {k: t(p) for k, p in params.items()},
            "input": t(x),
            "upstream": t(upstream),
            "output": t(out),
            "grad_input": t(grad_x),
            "grad_params": {k: t(g) for k, g in grad_params.items()},
            "float64": {
                "output": t(out64),
                "grad_input": t(grad_x64),
                "grad_params": {k: t(g) for k, g in grad_params64.items()},
            },
            "repr": repr_text,
        }
    )


def run_module(name, expr, kind, config, module, x):
    randomize(module)
    params = {k: p.detach() for k, p in module.named_parameters()}
    record(name, expr, kind, config,
           lambda x, p: torch.func.functional_call(module, p, (x,)),
           params, x, repr(module))


def layer_norm_cases():
    for name, shape, norm, affine, eps, x in (
        ("layer_norm_last1_2d", (4, 6), (6,), True, 1e-5, None),
        ("layer_norm_last1_3d", (2, 3, 5), (5,), True, 1e-5, None),
        ("layer_norm_last1_noaffine", (3, 6), (6,), False, 1e-5, None),
        ("layer_norm_last3", (2, 3, 4, 5), (3, 4, 5), True, 1e-5, None),
        ("layer_norm_last3_noaffine", (2, 3, 4, 5), (3, 4, 5), False, 1e-5, None),
        ("layer_norm_last2_of_4d", (2, 2, 3, 4), (3, 4), True, 1e-5, None),
        # Rows whose spread (about 0.003) is close to sqrt(eps): eps visibly damps them.
        ("layer_norm_eps_0.01", (3, 5), (5,), True, 1e-2,
         2.0 + 0.003 * torch.randn(3, 5)),
        ("layer_norm_large_offset", (3, 8), (8,), True, 1e-5,
         1000.0 + torch.randn(3, 8)),
    ):
        if x is None:
            x = spread_input(shape, lead=len(shape) - len(norm))
        m = nn.LayerNorm(list(norm), eps=eps, elementwise_affine=affine)
        run_module(name,
                   f"torch.nn.LayerNorm({list(norm)}, eps={eps}, elementwise_affine={affine})",
                   "layer_norm",
                   {"normalized_shape": list(norm), "eps": eps, "elementwise_affine": affine},
                   m, x)


def group_norm_cases():
    for name, groups, shape, affine, eps in (
        ("group_norm_g1_ncl", 1, (2, 4, 5), True, 1e-5),
        ("group_norm_g2_ncl", 2, (2, 4, 5), True, 1e-5),
        ("group_norm_gC_ncl", 4, (2, 4, 5), True, 1e-5),
        ("group_norm_g2_ncl_noaffine", 2, (2, 4, 5), False, 1e-5),
        ("group_norm_g1_nchw", 1, (2, 6, 3, 3), True, 1e-5),
        ("group_norm_g3_nchw", 3, (2, 6, 3, 3), True, 1e-5),
        ("group_norm_gC_nchw", 6, (2, 6, 3, 3), True, 1e-5),
        ("group_norm_g3_nchw_noaffine", 3, (2, 6, 3, 3), False, 1e-5),
        ("group_norm_g2_nc", 2, (3, 6), True, 1e-5),
        # One value per group: x̂ is 0, so the output is the bias and dx is 0.
        ("group_norm_gC_nc_one_value_per_group", 4, (3, 4), True, 1e-5),
        ("group_norm_eps_0.1", 2, (2, 4, 3, 2), True, 0.1),
        ("group_norm_large_offset", 2, (2, 4, 3), True, 1e-5),
    ):
        c = shape[1]
        m = nn.GroupNorm(groups, c, eps=eps, affine=affine)
        large = name.endswith("large_offset")
        x = 1000.0 + torch.randn(shape) if large else spread_input(shape)
        run_module(name, f"torch.nn.GroupNorm({groups}, {c}, eps={eps}, affine={affine})",
                   "group_norm",
                   {"num_groups": groups, "num_channels": c, "eps": eps, "affine": affine},
                   m, x)


def instance_norm_cases():
    for name, shape, affine, eps in (
        ("instance_norm2d", (2, 3, 4, 4), False, 1e-5),
        ("instance_norm2d_affine", (2, 3, 3, 5), True, 1e-5),
        ("instance_norm2d_eps_0.1", (2, 2, 3, 3), True, 0.1),
        ("instance_norm2d_unbatched", (3, 4, 4), True, 1e-5),
    ):
        c = shape[-3]
        m = nn.InstanceNorm2d(c, eps=eps, affine=affine)
        x = spread_input(shape, lead=len(shape) - 2)
        run_module(name, f"torch.nn.InstanceNorm2d({c}, eps={eps}, affine={affine})",
                   "instance_norm2d", {"num_features": c, "eps": eps, "affine": affine}, m, x)


def functional_cases():
    record("functional_layer_norm_weight_only",
           "torch.nn.functional.layer_norm(x, [6], weight=w, bias=None, eps=1e-5)",
           "functional_layer_norm", {"normalized_shape": [6], "eps": 1e-5},
           lambda x, p: F.layer_norm(x, [6], weight=p["weight"], bias=None, eps=1e-5),
           {"weight": 1.0 + 0.5 * torch.randn(6)}, spread_input((2, 2, 6)), None)
    record("functional_group_norm_bias_only",
           "torch.nn.functional.group_norm(x, 2, weight=None, bias=b, eps=1e-5)",
           "functional_group_norm", {"num_groups": 2, "eps": 1e-5},
           lambda x, p: F.group_norm(x, 2, weight=None, bias=p["bias"], eps=1e-5),
           {"bias": 0.3 * torch.randn(4)}, spread_input((2, 4, 3)), None)


def main():
    setup(20250611)
    layer_norm_cases()
    group_norm_cases()
    instance_norm_cases()
    functional_cases()
    write_fixture(OUT, GENERATOR, cases)


if __name__ == "__main__":
    main()
