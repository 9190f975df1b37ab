"""The PyTorch twin of kindling's `examples/bn_paper`: Figure 1 of the BatchNorm paper
(Ioffe & Szegedy 2015, section 4.1) with the same data, network, initialisation, optimizer,
batches, evaluation schedule and percentile definition, so the two frameworks' curves can
be set side by side (docs/bn-experiments.md).

    python3 tools/experiments/bn_paper.py

Needs torch and numpy. It writes summary.json to --out (default runs/bn_paper_torch) in
the shape the Rust example writes, so `cargo run --release --example bn_paper --
--plot-from runs/bn_paper_torch/summary.json --out runs/bn_paper_torch --label PyTorch`
draws it with the same code.

The setup: MNIST pixels binarised (byte > 127 -> 1), flattened to 784; three hidden layers
of 100, each Linear -> [BatchNorm1d] -> sigmoid, then Linear(100, 10); every Linear weight
from N(0, 0.01^2), biases 0; cross-entropy, plain SGD at lr 0.5, batches of 60, the
training set reshuffled every 1000 steps; at step 0, every --eval-every steps and after the
last, in eval mode on the test set: the accuracy and the 15th, 50th and 85th percentiles
(torch.quantile, linear interpolation) of unit 0 of the third hidden layer's
pre-activation, caught by a forward hook.

Seeded streams: torch.manual_seed(seed) before each network is built (its weights), and a
torch.Generator seeded with seed for the shuffles (a fresh one per variant, so both see the
same batches). The digits cannot match kindling's: its generators are different ones.
"""
import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path

# Set before torch loads OpenMP, whose threads otherwise spin while they wait: on a shared
# 2-core machine that made a BN step with 2 threads 20x slower (87 ms against 4.5 ms with
# passive waiting, 300 steps each, same sitting). An environment setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

BATCH = 60
LR = 0.5
EVAL_CHUNK = 2500
ROOT = Path(__file__).resolve().parents[2]


def read_idx(path: Path, magic: int) -> np.ndarray:
    """One IDX file (gzipped, as datasets/mnist ships them): a big-endian header, then bytes."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    head = np.frombuffer(raw[:4], dtype=">u4")[0]
    if head != magic:
        raise ValueError(f"{path}: magic number {head:#x}, expected {magic:#x}")
    ndim = magic & 0xFF
    dims = np.frombuffer(raw[4 : 4 + 4 * ndim], dtype=">u4").astype(int)
    return np.frombuffer(raw[4 + 4 * ndim :], dtype=np.uint8).reshape(dims)


def load_split(data: Path, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    images = read_idx(data / f"{prefix}-images-idx3-ubyte.gz", 0x803)
    labels = read_idx(data / f"{prefix}-labels-idx1-ubyte.gz", 0x801)
    x = torch.from_numpy((images.reshape(len(images), -1) > 127).astype(np.float32))
    return x, torch.from_numpy(labels.astype(np.int64))


class PaperNet(nn.Module):
    def __init__(self, bn: bool, seed: int):
        super().__init__()
        torch.manual_seed(seed)
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, 100), nn.Linear(100, 100), nn.Linear(100, 100)
        self.bns = nn.ModuleList([nn.BatchNorm1d(100) for _ in range(3)]) if bn else None
        self.out = nn.Linear(100, 10)
        # Drawn after the default init, from the same generator, in layer order: as kindling.
        for fc in (self.fc1, self.fc2, self.fc3, self.out):
            nn.init.normal_(fc.weight, 0.0, 0.01)
            nn.init.zeros_(fc.bias)

    def watched(self) -> nn.Module:
        """The layer whose output feeds the last hidden layer's sigmoids."""
        return self.bns[2] if self.bns is not None else self.fc3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, fc in enumerate((self.fc1, self.fc2, self.fc3)):
            z = fc(x)
            x = torch.sigmoid(self.bns[i](z) if self.bns is not None else z)
        return self.out(x)


def evaluate(net: PaperNet, test_x, test_y, step: int, curves: dict) -> None:
    net.eval()
    seen = []
    handle = net.watched().register_forward_hook(lambda _m, _inp, out: seen.append(out[:, 0].clone()))
    correct = 0
    with torch.no_grad():
        for start in range(0, len(test_x), EVAL_CHUNK):
            logits = net(test_x[start : start + EVAL_CHUNK])
            correct += (logits.argmax(1) == test_y[start : start + EVAL_CHUNK]).sum().item()
    handle.remove()
    net.train()
    values = torch.cat(seen).double()
    q = torch.quantile(values, torch.tensor([0.15, 0.5, 0.85], dtype=torch.float64))
    curves["step"].append(step)
    curves["test_accuracy"].append(correct / len(test_x))
    for key, v in zip(("p15", "p50", "p85"), q.tolist()):
        curves[key].append(v)


def train(bn: bool, args, train_x, train_y, test_x, test_y) -> dict:
    name = "bn" if bn else "plain"
    net = PaperNet(bn, args.seed)
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    shuffle = torch.Generator().manual_seed(args.seed)
    per_epoch = len(train_x) // BATCH
    curves = {k: [] for k in ("step", "test_accuracy", "p15", "p50", "p85")}
    t0, eval_s = time.perf_counter(), 0.0
    e0 = time.perf_counter()
    evaluate(net, test_x, test_y, 0, curves)
    eval_s += time.perf_counter() - e0
    for step in range(args.steps):
        b = step % per_epoch
        if b == 0:
            order = torch.randperm(len(train_x), generator=shuffle)
        idx = order[b * BATCH : (b + 1) * BATCH]
        loss = F.cross_entropy(net(train_x[idx]), train_y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        done = step + 1
        if done % args.eval_every == 0 or done == args.steps:
            e0 = time.perf_counter()
            evaluate(net, test_x, test_y, done, curves)
            eval_s += time.perf_counter() - e0
            print(
                f"\r{name:>5} step {done:>6}/{args.steps}: test acc {curves['test_accuracy'][-1] * 100:.2f}%, "
                f"p15/p50/p85 {curves['p15'][-1]:.3f}/{curves['p50'][-1]:.3f}/{curves['p85'][-1]:.3f}",
                end="",
                flush=True,
            )
    train_s = time.perf_counter() - t0 - eval_s
    print(
        f"\n{name:>5}: training {train_s:.1f} s ({train_s * 1000 / args.steps:.3f} ms/step), "
        f"{len(curves['step'])} evaluations {eval_s:.1f} s"
    )
    return curves


def main() -> None:
    p = argparse.ArgumentParser(description="Figure 1 of the BatchNorm paper, in PyTorch.")
    p.add_argument("--steps", type=int, default=50_000, help="training steps per variant")
    p.add_argument("--eval-every", type=int, default=1000, help="score the test set every N steps")
    p.add_argument("--test-images", type=int, default=10_000, help="score only the first N test images")
    p.add_argument("--seed", type=int, default=0, help="seed for weights and shuffling")
    p.add_argument("--data", type=Path, default=ROOT / "datasets" / "mnist", help="MNIST directory")
    p.add_argument("--out", type=Path, default=Path("runs/bn_paper_torch"), help="output directory")
    args = p.parse_args()
    if min(args.steps, args.eval_every, args.test_images) < 1:
        p.error("--steps, --eval-every and --test-images must be at least 1")
    torch.set_num_threads(2)
    try:
        train_x, train_y = load_split(args.data, "train")
        test_x, test_y = load_split(args.data, "t10k")
    except (OSError, ValueError) as e:
        sys.exit(f"error: cannot load MNIST from {args.data}: {e}")
    test_x, test_y = test_x[: args.test_images], test_y[: args.test_images]
    args.out.mkdir(parents=True, exist_ok=True)  # a run that cannot save fails before training
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.steps} steps per variant")
    t0 = time.perf_counter()
    summary = {
        "bn": train(True, args, train_x, train_y, test_x, test_y),
        "plain": train(False, args, train_x, train_y, test_x, test_y),
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"total {time.perf_counter() - t0:.1f} s; wrote {args.out / 'summary.json'}")


if __name__ == "__main__":
    main()
