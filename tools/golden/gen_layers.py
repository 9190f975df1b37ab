"""Generate crates/nn/tests/fixtures/layers.json: golden values for kindling-nn's layers.

Each case builds one torch.nn layer with explicit random (non-default)
parameters, runs it forward on a random input that requires grad, and
back-propagates a random upstream gradient, so the Rust layers can be checked
forward and backward against PyTorch, parameter gradients included.

The last case, ``sequential_cnn``, is a whole small CNN
(Conv2d -> BatchNorm2d -> ReLU -> MaxPool2d -> Flatten -> Linear) in train
mode: it records the full state_dict before and after the forward (running
statistics updated), the loss ``cross_entropy(model(x), targets)``, every
gradient, and the parameters after one ``torch.optim.SGD(lr=0.1)`` step. It
checks that the layers compose, that state_dict keys line up with PyTorch's,
and that a training step matches end to end.

Case keys: name, torch, layer, config, params (state_dict key -> tensor),
input, upstream, output, grad_input, grad_params (key -> tensor); the
sequential case adds loss, state_after and sgd_step and has upstream null.
``num_batches_tracked`` (int64 in torch) is written as a float tensor of shape [].

Run:  python3 tools/golden/gen_layers.py   (from the repo root)
"""

import pathlib
import sys

sys.dont_write_bytecode = True  # keep tools/golden free of __pycache__
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from common import setup, t, write_fixture  # noqa: E402

GENERATOR = "tools/golden/gen_layers.py"
OUT = "crates/nn/tests/fixtures/layers.json"

cases = []


def state(module):
    return {k: t(v) for k, v in module.state_dict().items()}


def randomize(module, scale=0.5):
    """Overwrite every parameter with non-trivial random values."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("bias"):
                p.copy_(0.3 * torch.randn(p.shape))
            else:
                p.copy_(scale * torch.randn(p.shape))


def distinct(shape, scale=0.1):
    n = 1
    for s in shape:
        n *= s
    perm = torch.randperm(n).to(torch.float32)
    return ((perm - n / 2.0) * scale).reshape(shape)


def run_layer(name, expr, layer, config, module, x):
    params = state(module)
    x = x.detach().clone().requires_grad_(True)
    out = module(x)
    upstream = torch.randn_like(out)
    out.backward(upstream)
    cases.append(
        {
            "name": name,
            "torch": expr,
            "layer": layer,
            "config": config,
            "params": params,
            "input": t(x),
            "upstream": t(upstream),
            "output": t(out),
            "grad_input": t(x.grad),
            "grad_params": {k: t(p.grad) for k, p in module.named_parameters()},
        }
    )


def linear_cases():
    for name, shape, bias in (
        ("linear_4x5_to_3", (4, 5), True),
        ("linear_4x5_to_3_nobias", (4, 5), False),
        ("linear_2x4x5_to_3", (2, 4, 5), True),
    ):
        m = nn.Linear(5, 3, bias=bias)
        randomize(m)
        run_layer(name, f"torch.nn.Linear(5, 3, bias={bias})", "linear",
                  {"in_features": 5, "out_features": 3, "bias": bias}, m, torch.randn(shape))


def conv_cases():
    for name, cin, cout, k, s, p, bias, xs in (
        ("conv2d_3to4_k3_s1_p1", 3, 4, 3, 1, 1, True, (2, 3, 6, 6)),
        ("conv2d_3to4_k3_s2_p0_nobias", 3, 4, 3, 2, 0, False, (2, 3, 7, 7)),
        ("conv2d_2to3_k5_s2_p2", 2, 3, 5, 2, 2, True, (1, 2, 8, 7)),
    ):
        m = nn.Conv2d(cin, cout, k, stride=s, padding=p, bias=bias)
        randomize(m)
        run_layer(name,
                  f"torch.nn.Conv2d({cin}, {cout}, kernel_size={k}, stride={s}, padding={p}, bias={bias})",
                  "conv2d",
                  {"in_channels": cin, "out_channels": cout, "kernel_size": k,
                   "stride": s, "padding": p, "bias": bias},
                  m, torch.randn(xs))


def simple_cases():
    x = torch.randn(2, 3, 4)
    x = torch.where(x.abs() < 0.05, x + 0.1 * torch.sign(x), x)
    x = torch.where(x == 0, torch.full_like(x, 0.1), x)
    run_layer("relu_2x3x4", "torch.nn.ReLU()", "relu", {}, nn.ReLU(), x)
    for k, s, xs in ((2, 2, (2, 2, 6, 6)), (3, 2, (1, 2, 7, 7)), (2, 1, (1, 1, 5, 5))):
        run_layer(f"max_pool2d_k{k}_s{s}", f"torch.nn.MaxPool2d(kernel_size={k}, stride={s})",
                  "max_pool2d", {"kernel_size": k, "stride": s},
                  nn.MaxPool2d(kernel_size=k, stride=s), distinct(xs))
    run_layer("flatten_2x3x2x2", "torch.nn.Flatten()", "flatten", {"start_dim": 1},
              nn.Flatten(), torch.randn(2, 3, 2, 2))


def sequential_cnn():
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 3 * 3, 5),
    )
    with torch.no_grad():
        model[0].weight.copy_(0.4 * torch.randn(4, 2, 3, 3))
        model[0].bias.copy_(0.5 * torch.randn(4))
        model[1].weight.copy_(1 + 0.5 * torch.randn(4))
        model[1].bias.copy_(0.3 * torch.randn(4))
        model[1].running_mean.copy_(0.2 * torch.randn(4))
        model[1].running_var.copy_(1 + 0.5 * torch.rand(4))
        model[5].weight.copy_(0.3 * torch.randn(5, 36))
        model[5].bias.copy_(0.2 * torch.randn(5))
    model.train()
    params = state(model)
    targets = torch.randint(0, 5, (4,))
    x = (2 * torch.randn(4, 2, 6, 6) + 1).requires_grad_(True)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    opt.zero_grad()
    out = model(x)
    state_after = state(model)
    loss = F.cross_entropy(out, targets)
    loss.backward()
    grad_params = {k: t(p.grad) for k, p in model.named_parameters()}
    opt.step()
    sgd_step = {k: t(p) for k, p in model.named_parameters()}
    cases.append(
        {
            "name": "sequential_cnn",
            "torch": "torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), "
                     "torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.MaxPool2d(2), "
                     "torch.nn.Flatten(), torch.nn.Linear(36, 5)); "
                     "loss = torch.nn.functional.cross_entropy(model(x), targets); "
                     "torch.optim.SGD(model.parameters(), lr=0.1).step()",
            "layer": "sequential_cnn",
            "config": {"targets": targets.tolist(), "lr": 0.1, "train": True},
            "params": params,
            "input": t(x),
            "upstream": None,
            "output": t(out),
            "loss": t(loss),
            "grad_input": t(x.grad),
            "grad_params": grad_params,
            "state_after": state_after,
            "sgd_step": sgd_step,
        }
    )


def main():
    setup(20240602)
    linear_cases()
    conv_cases()
    simple_cases()
    sequential_cnn()
    write_fixture(OUT, GENERATOR, cases)


if __name__ == "__main__":
    main()
