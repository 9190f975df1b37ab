"""PyTorch's printed form and state_dict keys for the models kindling's derive tests build.

Writes crates/nn/tests/fixtures/repr.json:
- "mnist_cnn": print(model) for the mnist_bn CNN with BatchNorm;
- "net": print(model) and state_dict keys for a small ResNet-like model with a ModuleList
  of residual blocks (an optional shortcut, a parameter and a buffer of the block's own).

Run:  python3 tools/golden/gen_repr.py   (from the repo root, with a python that has torch)
"""
import json

import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, c, shortcut):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.shortcut = nn.Conv2d(c, c, 1, bias=False) if shortcut else None
        self.scale = nn.Parameter(torch.ones(1))
        self.register_buffer("seen", torch.zeros(1))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.blocks = nn.ModuleList([Block(4, True), Block(4, False)])
        self.head = nn.Linear(4, 10)


def mnist_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, 10),
    )


net = Net()
out = {
    "torch_version": torch.__version__,
    "mnist_cnn": repr(mnist_cnn()),
    "net": repr(net),
    "net_keys": list(net.state_dict().keys()),
    "others": {
        "dropout": repr(nn.Dropout(0.5)),
        "linear_no_bias": repr(nn.Linear(2, 3, bias=False)),
        "conv_stride": repr(nn.Conv2d(3, 4, 5, stride=2)),
        "bn_plain": repr(nn.BatchNorm1d(3, affine=False)),
        "empty_sequential": repr(nn.Sequential()),
    },
}
with open("crates/nn/tests/fixtures/repr.json", "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
