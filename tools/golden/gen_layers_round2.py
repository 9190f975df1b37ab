"""Generate crates/nn/tests/fixtures/layers_round2.json: golden values for the round-2 layers.

The layers: Sigmoid, Tanh, LeakyReLU (default slope and 0.2), GELU (exact and tanh forms),
AvgPool2d (kernel 2, and kernel 3 stride 1 so that windows overlap), AdaptiveAvgPool2d
(7 -> 3 with overlapping windows, 6 -> 3, 5 -> 1, 4 -> 4, 3 -> 5 with an output larger than
the input, and a 7x5 plane to 3) and Identity. None has parameters.

Each case runs the layer forward on a random input that requires grad and back-propagates
a random non-uniform upstream gradient. The activation inputs hold a row of fixed points
on top of the random ones: the tails (+-6, where GELU's exact form rounds its erf to +-1 in
float32), exact zeros (LeakyReLU's gradient at 0 is the slope) and values either side of 0.

PyTorch's float32 GELU is not correctly rounded: it goes through a vectorised float32 erf
(or tanh) that is an approximation. Measured on a dense grid over [-8, 8], it differs from
the same layer run in float64 by up to 1.2e-6 (about 5 ulps, near x = 3.4; tanh form
4.8e-7), and its gradient by up to 2.4e-7 (tanh form 1.1e-6). So the GELU cases also run the layer in
float64 on the same input and upstream gradient, and record that result rounded to float32:
the best float32 answer, which an implementation that evaluates GELU accurately matches to
an ulp.

Case keys: name, torch, layer, config, repr (PyTorch's printed form of the layer), input,
upstream, output, grad_input; the GELU cases add output_f64 and grad_input_f64 (the float64
results, rounded to float32 like every fixture value).

Run:  python3 tools/golden/gen_layers_round2.py   (from the repo root)
"""

import pathlib
import sys

sys.dont_write_bytecode = True  # keep tools/golden free of __pycache__
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from common import setup, t, write_fixture  # noqa: E402

GENERATOR = "tools/golden/gen_layers_round2.py"
OUT = "crates/nn/tests/fixtures/layers_round2.json"

# The fixed points every activation case sees, first row of its input.
SPECIAL = [-6.0, -4.0, -3.0, -2.0, -1.0, -0.5, -0.1, 0.0, 0.1, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0]

cases = []


def activation_input(rows):
    """SPECIAL as the first row, then `rows` rows of N(0, 2^2) values."""
    fixed = torch.tensor([SPECIAL])
    noise = 2.0 * torch.randn(rows, len(SPECIAL))
    return torch.cat([fixed, noise]).reshape(1 + rows, 3, len(SPECIAL) // 3)


def run_layer(name, expr, layer, config, module, x, with_f64=False):
    x = x.detach().clone().requires_grad_(True)
    out = module(x)
    upstream = torch.randn_like(out)
    out.backward(upstream)
    case = {
        "name": name,
        "torch": expr,
        "layer": layer,
        "config": config,
        "repr": repr(module),
        "input": t(x),
        "upstream": t(upstream),
        "output": t(out),
        "grad_input": t(x.grad),
    }
    if with_f64:
        x64 = x.detach().double().requires_grad_(True)
        out64 = module(x64)
        out64.backward(upstream.double())
        case["output_f64"] = t(out64)
        case["grad_input_f64"] = t(x64.grad)
    cases.append(case)


def activation_cases():
    run_layer("sigmoid", "torch.nn.Sigmoid()", "sigmoid", {}, nn.Sigmoid(), activation_input(3))
    run_layer("tanh", "torch.nn.Tanh()", "tanh", {}, nn.Tanh(), activation_input(3))
    run_layer("leaky_relu_default", "torch.nn.LeakyReLU()", "leaky_relu",
              {"negative_slope": None}, nn.LeakyReLU(), activation_input(3))
    run_layer("leaky_relu_0.2", "torch.nn.LeakyReLU(negative_slope=0.2)", "leaky_relu",
              {"negative_slope": 0.2}, nn.LeakyReLU(negative_slope=0.2), activation_input(3))
    # The same input for both GELU forms, so the two can also be compared with each other.
    x = activation_input(5)
    for approximate in ("none", "tanh"):
        run_layer(f"gelu_{approximate}", f"torch.nn.GELU(approximate='{approximate}')", "gelu",
                  {"approximate": approximate}, nn.GELU(approximate=approximate), x,
                  with_f64=True)


def pool_cases():
    for k, s, xs in ((2, 2, (2, 3, 6, 7)), (3, 1, (2, 2, 5, 6))):
        run_layer(f"avg_pool2d_k{k}_s{s}", f"torch.nn.AvgPool2d(kernel_size={k}, stride={s})",
                  "avg_pool2d", {"kernel_size": k, "stride": s},
                  nn.AvgPool2d(kernel_size=k, stride=s), torch.randn(xs))
    # The default stride (= kernel), spelled as PyTorch users write it.
    run_layer("avg_pool2d_k2_default_stride", "torch.nn.AvgPool2d(2)", "avg_pool2d",
              {"kernel_size": 2, "stride": None}, nn.AvgPool2d(2), torch.randn(1, 2, 4, 5))
    for h, w, n in ((7, 7, 3), (6, 6, 3), (5, 5, 1), (4, 4, 4), (3, 3, 5), (7, 5, 3)):
        run_layer(f"adaptive_avg_pool2d_{h}x{w}_to_{n}", f"torch.nn.AdaptiveAvgPool2d({n})",
                  "adaptive_avg_pool2d", {"output_size": n},
                  nn.AdaptiveAvgPool2d(n), torch.randn(2, 3, h, w))


def identity_case():
    run_layer("identity", "torch.nn.Identity()", "identity", {}, nn.Identity(),
              torch.randn(2, 3, 4))


def main():
    setup(20240917)
    activation_cases()
    pool_cases()
    identity_case()
    write_fixture(OUT, GENERATOR, cases)


if __name__ == "__main__":
    main()
