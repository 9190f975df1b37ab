"""Generate crates/nn/tests/fixtures/batchnorm.json: golden values for BatchNorm1d/2d/3d.

BatchNorm is the heart of kindling, so it is checked more closely than any
other layer: for each configuration this script runs THREE training steps on
a fresh torch.nn.BatchNorm{1,2,3}d (weights are not updated between steps,
only the gradients are zeroed) and records, after each step, the output, the
gradients of input / weight / bias, and the running statistics
(running_mean, running_var, num_batches_tracked). It then switches the layer
to eval mode and records one more forward. Inputs have per-channel means far
from 0 and variances far from 1, so a wrong momentum, a biased-vs-unbiased
variance mix-up or eval using the wrong statistics all show.

Two cases use ``momentum=None`` (the cumulative moving average) over FOUR
training steps before eval.

Two cases put a layer in front (Linear -> BatchNorm1d, Conv2d -> BatchNorm2d)
to check gradients flowing through BN into the previous layer. The
``class_scores`` case is the classroom example from the project's BatchNorm
tutorial (shared/seed/batchnorm-tutorial-zh.txt), checked against the values
the lesson states.

Case keys: name, torch, kind ("bn1d"|"bn2d"|"bn3d"), config {num_features,
momentum, eps, affine, track_running_stats}, weight, bias, pre, steps
[{input, upstream, output, grad_input, grad_weight, grad_bias, running_mean,
running_var, num_batches_tracked}], eval {input, output}.
With ``pre`` set, ``input`` / ``grad_input`` / eval ``input`` refer to the
front layer's input, and ``pre`` also holds that layer's weight, bias and
per-step gradients, plus its constructor arguments under ``config``.

Run:  python3 tools/golden/gen_batchnorm.py   (from the repo root)
"""

import pathlib
import sys

sys.dont_write_bytecode = True  # keep tools/golden free of __pycache__
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from common import setup, t, write_fixture  # noqa: E402

GENERATOR = "tools/golden/gen_batchnorm.py"
OUT = "crates/nn/tests/fixtures/batchnorm.json"

BN = {"bn1d": nn.BatchNorm1d, "bn2d": nn.BatchNorm2d, "bn3d": nn.BatchNorm3d}
CLS = {"bn1d": "BatchNorm1d", "bn2d": "BatchNorm2d", "bn3d": "BatchNorm3d"}

cases = []


def channel_input(shape):
    """Random input whose channels (dim 1) have means far from 0 and stds far from 1."""
    c = shape[1]
    bshape = (1, c) + (1,) * (len(shape) - 2)
    mean = (3.0 + 4.0 * torch.randn(c)).reshape(bshape)
    std = (2.0 + 4.0 * torch.rand(c)).reshape(bshape)
    return mean + std * torch.randn(shape)


def bn_expr(kind, c, momentum, eps, affine, track):
    return (f"torch.nn.{CLS[kind]}({c}, momentum={momentum}, eps={eps}, "
            f"affine={affine}, track_running_stats={track})")


def run_case(name, kind, shape, momentum=0.1, eps=1e-5, affine=True, track=True,
             pre=None, inputs=None, eval_input=None, n_steps=3):
    c = shape[1] if pre is None else pre["out_channels"]
    bn = BN[kind](c, momentum=momentum, eps=eps, affine=affine, track_running_stats=track)
    if affine and name != "class_scores":
        with torch.no_grad():
            bn.weight.copy_(1 + 0.5 * torch.randn(c))
            bn.bias.copy_(0.3 * torch.randn(c))
    expr = bn_expr(kind, c, momentum, eps, affine, track)

    front = None
    if pre is not None:
        front = pre["module"]
        with torch.no_grad():
            front.weight.copy_(0.5 * torch.randn(front.weight.shape))
            front.bias.copy_(2.0 * torch.randn(front.bias.shape))
        expr = f"torch.nn.Sequential({pre['expr']}, {expr})"
        model = nn.Sequential(front, bn)
        pre_record = {"layer": pre["layer"], "config": pre["config"],
                      "weight": t(front.weight), "bias": t(front.bias),
                      "grad_weight_per_step": [], "grad_bias_per_step": []}
    else:
        model = bn
        pre_record = None

    weight = t(bn.weight) if affine else None
    bias = t(bn.bias) if affine else None

    model.train()
    steps = []
    for i in range(n_steps):
        if inputs is not None:
            x = inputs[i].clone()
        elif pre is not None:
            x = 5.0 * torch.randn(shape) + 3.0
        else:
            x = channel_input(shape)
        x.requires_grad_(True)
        out = model(x)
        upstream = torch.randn_like(out)
        out.backward(upstream)
        steps.append(
            {
                "input": t(x),
                "upstream": t(upstream),
                "output": t(out),
                "grad_input": t(x.grad),
                "grad_weight": t(bn.weight.grad) if affine else None,
                "grad_bias": t(bn.bias.grad) if affine else None,
                "running_mean": t(bn.running_mean) if track else None,
                "running_var": t(bn.running_var) if track else None,
                "num_batches_tracked": t(bn.num_batches_tracked) if track else None,
            }
        )
        if front is not None:
            pre_record["grad_weight_per_step"].append(t(front.weight.grad))
            pre_record["grad_bias_per_step"].append(t(front.bias.grad))
        model.zero_grad(set_to_none=True)

    model.eval()
    if eval_input is None:
        if pre is not None:
            eval_input = 5.0 * torch.randn(shape) + 3.0
        else:
            eval_input = channel_input(shape)
    with torch.no_grad():
        eval_out = model(eval_input)

    case = {
        "name": name,
        "torch": expr,
        "kind": kind,
        "config": {"num_features": c, "momentum": momentum, "eps": eps, "affine": affine,
                   "track_running_stats": track},
        "weight": weight,
        "bias": bias,
        "pre": pre_record,
        "steps": steps,
        "eval": {"input": t(eval_input), "output": t(eval_out)},
    }
    cases.append(case)
    return case


def class_scores():
    # From shared/seed/batchnorm-tutorial-zh.txt (line ~47): 4 students x 3 subjects.
    scores = torch.tensor(
        [[85, 60, 70], [90, 80, 75], [95, 50, 80], [88, 70, 85]], dtype=torch.float32
    )
    case = run_case("class_scores", "bn1d", (4, 3), inputs=[scores],
                    eval_input=torch.tensor([[87, 65, 78]], dtype=torch.float32), n_steps=1)
    step = case["steps"][0]
    expected = {
        "output[0]": (step["output"]["data"][:3], [-1.2362, -0.4472, -1.3416]),
        "running_mean": (step["running_mean"]["data"], [8.95, 6.5, 7.75]),
        "running_var": (step["running_var"]["data"], [2.6667, 17.5667, 5.0667]),
        "eval": (case["eval"]["output"]["data"], [47.7956, 13.9576, 31.2094]),
    }
    for what, (got, want) in expected.items():
        for g, w in zip(got, want):
            if abs(g - w) > 1e-4 * max(1.0, abs(w)):
                sys.exit(f"class_scores: {what} is {got}, the lesson expects {want}")


def main():
    setup(20240603)
    run_case("bn1d_8x3_defaults", "bn1d", (8, 3))
    run_case("bn1d_4x3x5_m0.3_eps1e-3", "bn1d", (4, 3, 5), momentum=0.3, eps=1e-3)
    run_case("bn2d_4x3x5x5_defaults", "bn2d", (4, 3, 5, 5))
    run_case("bn2d_2x4x3x3_m0.05_eps1e-4", "bn2d", (2, 4, 3, 3), momentum=0.05, eps=1e-4)
    run_case("bn3d_2x3x2x3x4_defaults", "bn3d", (2, 3, 2, 3, 4))
    run_case("bn3d_2x2x3x2x3_m0.2", "bn3d", (2, 2, 3, 2, 3), momentum=0.2)
    run_case("bn2d_3x3x4x4_affine_false", "bn2d", (3, 3, 4, 4), affine=False)
    run_case("bn2d_3x3x4x4_no_running_stats", "bn2d", (3, 3, 4, 4), track=False)
    run_case("linear_then_bn1d_6x5", "bn1d", (6, 5),
             pre={"layer": "linear", "module": nn.Linear(5, 3), "out_channels": 3,
                  "config": {"in_features": 5, "out_features": 3, "bias": True},
                  "expr": "torch.nn.Linear(5, 3)"})
    run_case("conv2d_then_bn2d_2x2x5x5", "bn2d", (2, 2, 5, 5),
             pre={"layer": "conv2d", "module": nn.Conv2d(2, 3, 3, padding=1), "out_channels": 3,
                  "config": {"in_channels": 2, "out_channels": 3, "kernel_size": 3,
                             "stride": 1, "padding": 1, "bias": True},
                  "expr": "torch.nn.Conv2d(2, 3, 3, padding=1)"})
    class_scores()
    # momentum=None: the cumulative moving average, over four batches, then eval.
    run_case("bn1d_8x3_momentum_none", "bn1d", (8, 3), momentum=None, n_steps=4)
    run_case("bn2d_4x2x3x3_momentum_none", "bn2d", (4, 2, 3, 3), momentum=None, n_steps=4)
    write_fixture(OUT, GENERATOR, cases)


if __name__ == "__main__":
    main()
