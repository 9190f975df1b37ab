"""A/B of two bench_cnn builds by CPU time, for a machine shared with other jobs.

Runs each binary in turn (interleaved, so drifting load hits both alike) and compares the
user + system CPU seconds of whole runs, which other processes disturb much less than wall
time. Prints each round, the medians, and the median of the per-round ratios B/A.

Usage (from the repo root, after building both binaries):
    python3 tools/bench/ab_cpu.py A_BINARY B_BINARY [ROUNDS] [-- extra bench_cnn flags]
Example, hooks off against the commit before them:
    git worktree add /tmp/before 8da13b8 && (cd /tmp/before && cargo build --release --example bench_cnn)
    python3 tools/bench/ab_cpu.py /tmp/before/target/release/examples/bench_cnn \\
        target/release/examples/bench_cnn 5 -- --steps 100 --threads 1
"""

import resource
import statistics
import subprocess
import sys


def cpu_seconds(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        extra = args[args.index("--") + 1:]
        args = args[: args.index("--")]
    if len(args) < 2:
        sys.exit(__doc__)
    a, b = args[0], args[1]
    rounds = int(args[2]) if len(args) > 2 else 5
    times = {"A": [], "B": []}
    for r in range(rounds):
        for name, binary in (("A", a), ("B", b)):
            times[name].append(cpu_seconds([binary] + extra))
            print(f"round {r} {name} {times[name][-1]:.2f} s", flush=True)
    for name in times:
        print(f"{name}: median {statistics.median(times[name]):.2f} s CPU")
    ratios = [nb / na for na, nb in zip(times["A"], times["B"])]
    print(f"B/A per round: {[round(x, 3) for x in ratios]}, median {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
