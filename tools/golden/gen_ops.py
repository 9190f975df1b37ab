"""Generate crates/core/tests/fixtures/ops.json: golden values for kindling-core's ops.

kindling must reproduce PyTorch's numbers to the digit, forward and backward.
For every tensor op kindling-core implements (elementwise arithmetic with
broadcasting, scalar arithmetic, matmul, unary maths, reductions, shape ops,
softmax / log_softmax, conv2d, max_pool2d, the two losses and training-mode
batch_norm) this script evaluates the op in float32 PyTorch on small random
inputs, back-propagates a random (non-uniform) upstream gradient, and records
inputs, args, upstream, output and the gradient of every input.

Case keys: name, torch (the PyTorch expression checked), op, inputs
(name -> tensor, all require grad), args (op-specific), upstream, output,
grads (name -> tensor, one per input).

Run:  python3 tools/golden/gen_ops.py   (from the repo root)
"""

import pathlib
import sys

sys.dont_write_bytecode = True  # keep tools/golden free of __pycache__
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from common import scalar_t, setup, t, write_fixture  # noqa: E402

GENERATOR = "tools/golden/gen_ops.py"
OUT = "crates/core/tests/fixtures/ops.json"

cases = []


def rn(*shape):
    return torch.randn(tuple(shape))


def pos(*shape):
    """Positive values in [0.5, 2.5)."""
    return torch.rand(tuple(shape)) * 2.0 + 0.5


def away(*shape):
    """Values of random sign with magnitude in [0.5, 1.5): safe divisors."""
    shape = tuple(shape)
    sign = torch.where(torch.rand(shape) < 0.5, -1.0, 1.0)
    return sign * (torch.rand(shape) + 0.5)


def distinct(*shape, scale=0.1):
    """Distinct values (a scaled random permutation): no ties for max_pool."""
    n = 1
    for s in shape:
        n *= s
    perm = torch.randperm(n).to(torch.float32)
    return ((perm - n / 2.0) * scale).reshape(*shape)


def add(name, expr, op, inputs, args, fn, grad_inputs=None):
    """Evaluate fn on leaf copies of inputs, backprop a random upstream, record."""
    grad_inputs = list(inputs) if grad_inputs is None else grad_inputs
    leaves = {}
    for k, v in inputs.items():
        leaf = v.detach().clone().to(torch.float32)
        if k in grad_inputs:
            leaf.requires_grad_(True)
        leaves[k] = leaf
    out = fn(*leaves.values())  # positional, in the order of `inputs`
    if out.dim() == 0:
        upstream = torch.rand(()) + 0.25  # a random scalar in [0.25, 1.25)
    else:
        upstream = torch.randn_like(out)
    out.backward(upstream)
    grads = {}
    for k in grad_inputs:
        g = leaves[k].grad
        if g is None:
            g = torch.zeros_like(leaves[k])
        grads[k] = t(g)
    cases.append(
        {
            "name": name,
            "torch": expr,
            "op": op,
            "inputs": {k: t(leaves[k]) for k in grad_inputs},
            "args": args,
            "upstream": t(upstream),
            "output": t(out),
            "grads": grads,
        }
    )


def shape_name(shape):
    return "x".join(str(s) for s in shape) if shape else "scalar"


def binary_ops():
    fns = {
        "add": ("a + b", lambda a, b: a + b),
        "sub": ("a - b", lambda a, b: a - b),
        "mul": ("a * b", lambda a, b: a * b),
        "div": ("a / b", lambda a, b: a / b),
    }
    shape_pairs = [
        ([3, 4], [3, 4]),
        ([2, 3], [3]),
        ([4, 1, 3], [2, 1]),
        ([2, 3, 4], []),
        ([1, 3], [2, 1]),
        ([3], [2, 3]),  # the broadcast operand on the left
    ]
    for op, (expr, fn) in fns.items():
        for sa, sb in shape_pairs:
            a = rn(*sa)
            b = away(*sb) if op == "div" else rn(*sb)
            kind = "equal" if sa == sb else "bcast"
            add(f"{op}_{kind}_{shape_name(sa)}_{shape_name(sb)}", expr, op,
                {"a": a, "b": b}, {}, fn)


def scalar_ops():
    add("neg_3x4", "-a", "neg", {"a": rn(3, 4)}, {}, lambda a: -a)
    specs = [
        ("add_scalar", "a + s", lambda a, s: a + s, [1.7, -0.3]),
        ("mul_scalar", "a * s", lambda a, s: a * s, [1.7, -2.5]),
        ("sub_scalar", "a - s", lambda a, s: a - s, [1.7, -0.6]),
        ("div_scalar", "a / s", lambda a, s: a / s, [1.7, -3.0]),
        ("rsub_scalar", "s - a", lambda a, s: s - a, [1.7, -0.9]),
        ("rdiv_scalar", "s / a", lambda a, s: s / a, [1.7, -2.2]),
    ]
    for op, expr, fn, svals in specs:
        for i, s in enumerate(svals):
            a = away(3, 4) if op == "rdiv_scalar" else rn(3, 4)
            add(f"{op}_{i}_s{s}", expr, op, {"a": a}, {"s": s},
                lambda a, s=s, fn=fn: fn(a, s))


def matmul_ops():
    for sa, sb in [([3, 4], [4, 5]), ([2, 3, 4], [2, 4, 5]), ([2, 3, 4], [4, 5])]:
        add(f"matmul_{shape_name(sa)}_{shape_name(sb)}", "torch.matmul(a, b)", "matmul",
            {"a": rn(*sa), "b": rn(*sb)}, {}, torch.matmul)


def unary_ops():
    add("exp_3x4", "torch.exp(a)", "exp", {"a": rn(3, 4)}, {}, torch.exp)
    add("log_3x4", "torch.log(a)", "log", {"a": pos(3, 4)}, {}, torch.log)
    add("sqrt_3x4", "torch.sqrt(a)", "sqrt", {"a": pos(3, 4)}, {}, torch.sqrt)
    add("powf_p2.5_pos", "torch.pow(a, p)", "powf", {"a": pos(3, 4)}, {"p": 2.5},
        lambda a: torch.pow(a, 2.5))
    add("powf_pm1.5_pos", "torch.pow(a, p)", "powf", {"a": pos(3, 4)}, {"p": -1.5},
        lambda a: torch.pow(a, -1.5))
    add("powf_p3_mixed_sign", "torch.pow(a, p)", "powf", {"a": away(3, 4)}, {"p": 3.0},
        lambda a: torch.pow(a, 3.0))
    # relu: no input within 1e-3 of zero (the derivative at 0 is a convention).
    a = rn(3, 4)
    a = torch.where(a.abs() < 0.05, torch.sign(a) * 0.05 + a, a)
    a = torch.where(a == 0, torch.full_like(a, 0.1), a)
    assert a.abs().min() > 1e-3
    add("relu_3x4", "torch.relu(a)", "relu", {"a": a}, {}, torch.relu)
    add("sigmoid_3x4", "torch.sigmoid(a)", "sigmoid", {"a": 2 * rn(3, 4)}, {}, torch.sigmoid)
    add("tanh_3x4", "torch.tanh(a)", "tanh", {"a": 2 * rn(3, 4)}, {}, torch.tanh)


def reductions():
    add("sum_2x3x4", "torch.sum(a)", "sum", {"a": rn(2, 3, 4)}, {}, torch.sum)
    add("mean_2x3x4", "torch.mean(a)", "mean", {"a": rn(2, 3, 4)}, {}, torch.mean)
    for op, fn in (("sum_dim", torch.sum), ("mean_dim", torch.mean)):
        for d in range(3):
            for keep in (False, True):
                add(f"{op}_2x3x4_d{d}_keep{str(keep).lower()}",
                    f"torch.{fn.__name__}(a, dim=dim, keepdim=keepdim)", op,
                    {"a": rn(2, 3, 4)}, {"dim": d, "keepdim": keep},
                    lambda a, d=d, keep=keep, fn=fn: fn(a, dim=d, keepdim=keep))


def shape_ops():
    for shape in ([4, 6], [24], [3, 2, 4], [6, 1, 4]):
        add(f"reshape_2x3x4_to_{shape_name(shape)}", "torch.reshape(a, shape)", "reshape",
            {"a": rn(2, 3, 4)}, {"shape": shape}, lambda a, s=shape: torch.reshape(a, s))
    for d0, d1 in ((0, 1), (1, 2), (0, 2), (2, 0)):
        add(f"transpose_2x3x4_{d0}_{d1}", "torch.transpose(a, d0, d1)", "transpose",
            {"a": rn(2, 3, 4)}, {"d0": d0, "d1": d1},
            lambda a, d0=d0, d1=d1: torch.transpose(a, d0, d1))
    for dims in ([2, 0, 1], [1, 2, 0], [2, 1, 0], [0, 2, 1]):
        add(f"permute_2x3x4_{'_'.join(map(str, dims))}", "torch.permute(a, dims)", "permute",
            {"a": rn(2, 3, 4)}, {"dims": dims}, lambda a, d=dims: torch.permute(a, d))
    add("flatten_from1_2x3x2x2", "torch.flatten(a, start_dim=1)", "flatten_from",
        {"a": rn(2, 3, 2, 2)}, {"dim": 1}, lambda a: torch.flatten(a, start_dim=1))


def softmax_ops():
    for op, fn in (("softmax", torch.softmax), ("log_softmax", torch.log_softmax)):
        for shape, dims in (([3, 5], (0, 1)), ([2, 3, 4], (1, 2))):
            for d in dims:
                add(f"{op}_{shape_name(shape)}_d{d}", f"torch.{op}(a, dim=dim)", op,
                    {"a": 2 * rn(*shape)}, {"dim": d}, lambda a, d=d, fn=fn: fn(a, dim=d))
        # Large logits (around 1000): a naive exp overflows to inf.
        big = 1000.0 + 3 * rn(3, 5)
        add(f"{op}_3x5_d1_large", f"torch.{op}(a, dim=dim)", op, {"a": big}, {"dim": 1},
            lambda a, fn=fn: fn(a, dim=1))


def conv_ops():
    def conv(name, xs, ws, stride, padding, bias):
        inputs = {"x": rn(*xs), "w": 0.5 * rn(*ws)}
        if bias:
            inputs["b"] = 0.5 * rn(ws[0])
            expr = f"torch.nn.functional.conv2d(x, w, b, stride={stride}, padding={padding})"
            fn = lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding)  # noqa: E731
        else:
            expr = f"torch.nn.functional.conv2d(x, w, stride={stride}, padding={padding})"
            fn = lambda x, w: F.conv2d(x, w, stride=stride, padding=padding)  # noqa: E731
        add(name, expr, "conv2d", inputs, {"stride": stride, "padding": padding}, fn)

    conv("conv2d_3x3_s1_p1_bias", [2, 3, 7, 7], [4, 3, 3, 3], 1, 1, True)
    conv("conv2d_3x3_s2_p0_nobias", [2, 3, 7, 7], [4, 3, 3, 3], 2, 0, False)
    conv("conv2d_3x3_s2_p1_bias", [2, 3, 7, 7], [4, 3, 3, 3], 2, 1, True)
    conv("conv2d_5x5_s1_p2_bias", [1, 2, 9, 8], [2, 2, 5, 5], 1, 2, True)
    conv("conv2d_1x1_s1_p0_bias", [2, 3, 5, 5], [4, 3, 1, 1], 1, 0, True)


def winograd_conv_ops():
    """3x3 stride-1 convolutions with at least 16 channels each way: the shapes kindling
    computes by Winograd's F(2x2, 3x3) (crates/core/src/kernels/winograd.rs). Added after
    every other case, so the cases before them keep their random inputs."""
    def conv(name, xs, ws, padding, bias):
        inputs = {"x": rn(*xs), "w": 0.2 * rn(*ws)}
        if bias:
            inputs["b"] = 0.5 * rn(ws[0])
            expr = f"torch.nn.functional.conv2d(x, w, b, stride=1, padding={padding})"
            fn = lambda x, w, b: F.conv2d(x, w, b, stride=1, padding=padding)  # noqa: E731
        else:
            expr = f"torch.nn.functional.conv2d(x, w, stride=1, padding={padding})"
            fn = lambda x, w: F.conv2d(x, w, stride=1, padding=padding)  # noqa: E731
        add(name, expr, "conv2d", inputs, {"stride": 1, "padding": padding}, fn)

    # "same" padding, as conv2 of the mnist_bn CNN (there 32 -> 64 channels on 14x14)
    conv("conv2d_3x3_s1_p1_bias_16to16_winograd", [2, 16, 4, 4], [16, 16, 3, 3], 1, True)
    # odd output sizes (3x5) cut the last tiles; 17 channels are not whole vectors
    conv("conv2d_3x3_s1_p0_nobias_17to16_winograd", [1, 17, 5, 7], [16, 17, 3, 3], 0, False)


def pool_ops():
    for xs, k, s in (([2, 3, 8, 8], 2, 2), ([1, 2, 7, 7], 3, 2), ([1, 1, 6, 6], 2, 1)):
        add(f"max_pool2d_{shape_name(xs)}_k{k}_s{s}",
            f"torch.nn.functional.max_pool2d(x, kernel_size={k}, stride={s})", "max_pool2d",
            {"x": distinct(*xs)}, {"kernel": k, "stride": s},
            lambda x, k=k, s=s: F.max_pool2d(x, kernel_size=k, stride=s))


def loss_ops():
    for i in range(2):
        logits = 2 * rn(5, 4)
        targets = torch.randint(0, 4, (5,))
        add(f"cross_entropy_5x4_{i}", "torch.nn.functional.cross_entropy(logits, targets)",
            "cross_entropy", {"logits": logits}, {"targets": targets.tolist()},
            lambda logits, tg=targets: F.cross_entropy(logits, tg))
    add("mse_loss_3x4", "torch.nn.functional.mse_loss(prediction, target)", "mse_loss",
        {"prediction": rn(3, 4), "target": rn(3, 4)}, {},
        lambda prediction, target: F.mse_loss(prediction, target))


def batch_norm_ops():
    specs = [([6, 3], 1e-5), ([4, 3, 5], 1e-5), ([2, 3, 4, 4], 1e-5),
             ([2, 2, 3, 3, 3], 1e-5), ([4, 3, 5], 1e-3)]
    for xs, eps in specs:
        c = xs[1]
        bshape = [1, c] + [1] * (len(xs) - 2)
        x = 3 * rn(*xs) + 2 * rn(*bshape)
        weight = 1 + 0.5 * rn(c)
        bias = 0.3 * rn(c)
        add(f"batch_norm_train_{shape_name(xs)}_eps{eps:g}",
            "torch.nn.functional.batch_norm(x, None, None, weight, bias, training=True, "
            f"momentum=0.1, eps={eps:g})",
            "batch_norm_train", {"x": x, "weight": weight, "bias": bias}, {"eps": eps},
            lambda x, weight, bias, eps=eps: F.batch_norm(
                x, None, None, weight, bias, training=True, momentum=0.1, eps=eps))


def main():
    setup(20240601)
    binary_ops()
    scalar_ops()
    matmul_ops()
    unary_ops()
    reductions()
    shape_ops()
    softmax_ops()
    conv_ops()
    pool_ops()
    loss_ops()
    batch_norm_ops()
    winograd_conv_ops()
    write_fixture(OUT, GENERATOR, cases)


if __name__ == "__main__":
    main()
