"""PyTorch's half of kindling's safetensors interop check.

The other half is `cargo run -p kindling-checkpoint --example interop`. Both build the
mnist_bn CNN as the same `nn.Sequential`, so that the state-dict keys agree; weights
travel as safetensors files and logits as JSON.

    python interop.py check DIR    load DIR/kindling_model.safetensors (from the example's
                                   `export`) into the PyTorch model, run it on
                                   DIR/kindling_inputs.safetensors in eval mode and compare
                                   with DIR/kindling_logits.json
    python interop.py export DIR   train a PyTorch model a few steps, then write
                                   DIR/torch_model.safetensors, DIR/torch_inputs.safetensors
                                   and DIR/torch_logits.json for the example's `check`

Needs torch and safetensors (pip install safetensors). CI does not run this; run.sh
beside this file runs both directions.
"""

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

TOLERANCE = 1e-5


def mnist_bn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),  # 0
        nn.BatchNorm2d(32),  # 1
        nn.ReLU(),  # 2
        nn.MaxPool2d(2),  # 3
        nn.Conv2d(32, 64, 3, padding=1),  # 4
        nn.BatchNorm2d(64),  # 5
        nn.ReLU(),  # 6
        nn.MaxPool2d(2),  # 7
        nn.Flatten(),  # 8
        nn.Linear(3136, 128),  # 9
        nn.BatchNorm1d(128),  # 10
        nn.ReLU(),  # 11
        nn.Linear(128, 10),  # 12
    )


def write_logits(path: Path, logits: torch.Tensor) -> None:
    values = [float(v) for v in logits.detach().reshape(-1)]
    path.write_text(json.dumps({"shape": list(logits.shape), "logits": values}))
    print(f"wrote {path}")


def read_logits(path: Path) -> torch.Tensor:
    data = json.loads(path.read_text())
    # Each value is the shortest decimal of an f32; float32() of its float64 is exact.
    return torch.tensor(data["logits"], dtype=torch.float64).float().reshape(data["shape"])


def check(directory: Path) -> int:
    torch.manual_seed(12345)  # another initialisation: every value must come from the file
    model = mnist_bn()
    state = load_file(directory / "kindling_model.safetensors")
    print(f"num_batches_tracked dtype in kindling's file: {state['1.num_batches_tracked'].dtype}")
    model.load_state_dict(state)  # strict: every key, every shape
    model.eval()
    x = load_file(directory / "kindling_inputs.safetensors")["x"]
    with torch.no_grad():
        logits = model(x)
    write_logits(directory / "torch_logits_on_kindling_model.json", logits)
    theirs = read_logits(directory / "kindling_logits.json")
    diff = (logits - theirs).abs().max().item()
    same = bool((logits.argmax(1) == theirs.argmax(1)).all())
    print(
        f"kindling -> PyTorch: {logits.numel()} logits, max abs difference {diff:.3e} "
        f"(tolerance {TOLERANCE:.0e}); same predicted class for every input: {same}"
    )
    return 0 if diff <= TOLERANCE and same else 1


def export(directory: Path) -> int:
    torch.manual_seed(0)
    model = mnist_bn()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for _ in range(3):
        x = torch.randn(16, 1, 28, 28)
        targets = torch.arange(16) % 10
        loss = nn.functional.cross_entropy(model(x), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x = torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        logits = model(x)
    save_file(model.state_dict(), directory / "torch_model.safetensors", metadata={"format": "pt"})
    print(f"wrote {directory / 'torch_model.safetensors'}")
    save_file({"x": x.contiguous()}, directory / "torch_inputs.safetensors")
    write_logits(directory / "torch_logits.json", logits)
    return 0


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[1] not in ("check", "export"):
        print(__doc__)
        return 2
    directory = Path(sys.argv[2])
    directory.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    return check(directory) if sys.argv[1] == "check" else export(directory)


if __name__ == "__main__":
    sys.exit(main())
