"""PyTorch reference for kindling's bench_cnn: the same CNN, batch, optimizer and thread
count, on random data of the same shape. Prints the median ms per training step (forward,
backward, SGD step, after warm-up) and inference images per second, with and without BN.

    python3 tools/bench/torch_ref.py --threads 2 --steps 50

Run it in the same sitting as `cargo run --release --example bench_cnn` and compare the
ratio: these machines are noisy, absolute times are not stable.
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn


def model(bn: bool) -> nn.Sequential:
    torch.manual_seed(0)
    layers = [nn.Conv2d(1, 32, 3, padding=1)]
    layers += [nn.BatchNorm2d(32)] if bn else []
    layers += [nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1)]
    layers += [nn.BatchNorm2d(64)] if bn else []
    layers += [nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3136, 128)]
    layers += [nn.BatchNorm1d(128)] if bn else []
    layers += [nn.ReLU(), nn.Linear(128, 10)]
    return nn.Sequential(*layers)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--batch", type=int, default=64)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    x = torch.randn(args.batch, 1, 28, 28)
    targets = torch.tensor([(i * 7) % 10 for i in range(args.batch)])
    print(f"torch {torch.__version__} bench: batch {args.batch}, {args.steps} timed steps after 5 warm-up, {torch.get_num_threads()} threads")
    for bn in (True, False):
        net = model(bn)
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        times = []
        for i in range(args.steps + 5):
            t0 = time.perf_counter()
            loss = nn.functional.cross_entropy(net(x), targets)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i >= 5:
                times.append((time.perf_counter() - t0) * 1e3)
        net.eval()
        infer = []
        with torch.no_grad():
            for _ in range(max(args.steps, 10)):
                t0 = time.perf_counter()
                net(x)
                infer.append(time.perf_counter() - t0)
        print(f"{'BN' if bn else 'no BN':<8} train {statistics.median(times):7.2f} ms/step   inference {args.batch / statistics.median(infer):8.0f} img/s")


if __name__ == "__main__":
    main()
