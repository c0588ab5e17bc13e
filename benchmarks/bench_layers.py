"""Forward + backward time of the engine's BNORM, LOCAL and MINIBATCH layers against PyTorch.

On the benchmark GAN's shapes (benchmark-gan.md): batch norm of the discriminator's first
convolution output (32x25x25) and of the generator's dense output (6272 features),
LAGAN-style locally connected layers on 25x25 images, minibatch discrimination on the
discriminator's 128 dense features. Each layer runs forward and backward (input and
parameter gradients) on the same data in both engines, alternating, in a child process
with the benchmark environment of bench_gan.py (OPENBLAS_* unset, malloc thresholds set,
threads pinned); the table gives the median milliseconds, their spread, and PyTorch's
time over rootgan's (above 1: rootgan is faster).

    python benchmarks/bench_layers.py [--threads 1 2] [--batch 64] [--repeats 30]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from bench_gan import child_environment, progress  # noqa: E402

CASES = [  # (label, layout, input shape)
    ("BNORM 32x25x25", "BNORM", (32, 25, 25)),
    ("BNORM 6272", "BNORM", (6272,)),
    ("LOCAL 1->8, 5x5 on 25x25", "LOCAL|8|5|5|1|1|2|2|LEAKYRELU", (1, 25, 25)),
    ("LOCAL 8->8, 3x3 on 25x25", "LOCAL|8|3|3|1|1|1|1|LEAKYRELU", (8, 25, 25)),
    ("MINIBATCH 10x5 on 128", "MINIBATCH|10|5", (128,)),
]


def torch_module(torch, layout, shape):
    from tests.torch_layers import LocallyConnected, Minibatch

    nn = torch.nn
    word, *fields = layout.split("|")
    if word == "BNORM":
        return nn.BatchNorm2d(shape[0]) if len(shape) == 3 else nn.BatchNorm1d(shape[0])
    if word == "LOCAL":
        n, kh, kw, sr, sc, ph, pw = map(int, fields[:7])
        return nn.Sequential(LocallyConnected(shape, n, (kh, kw), (sr, sc), (ph, pw)),
                             nn.LeakyReLU(0.2))
    return Minibatch(shape[0], int(fields[0]), int(fields[1]))


def median_milliseconds(step, repeats):
    for _ in range(3):  # compile, allocate, warm caches
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def child(threads, batch, repeats):
    import torch

    from rootgan.nn import build_network, set_num_threads

    torch.set_num_threads(threads)
    set_num_threads(threads)
    rng = np.random.default_rng(0)
    results = []
    for label, layout, shape in CASES:
        net = build_network(layout, shape)
        net.parameters[:] = rng.normal(0, 0.1, net.parameters.size)
        x = rng.normal(size=(batch,) + shape).astype(np.float32)
        dy = rng.normal(size=(batch,) + net.output_shape).astype(np.float32)
        module = torch_module(torch, layout, shape)
        tx = torch.tensor(x, requires_grad=True)
        tdy = torch.from_numpy(dy)

        def ours():
            net.forward(x)
            net.zero_grad()
            net.backward(dy)

        def theirs():
            module.zero_grad()
            tx.grad = None
            module(tx).backward(tdy)

        times = {"rootgan": [], "torch": []}
        for _ in range(3):  # alternate blocks so drifts hit both
            times["rootgan"] += median_milliseconds(ours, repeats // 3)
            times["torch"] += median_milliseconds(theirs, repeats // 3)
        results.append({"label": label, **{k: [t * 1e3 for t in v] for k, v in times.items()}})
    return results


def run_child(arguments, env):
    """This script in a child process with ``env``; its last output line is JSON."""
    output = subprocess.run([sys.executable, os.path.abspath(__file__), *arguments], env=env,
                            stdout=subprocess.PIPE, text=True, check=True).stdout
    return json.loads(output.splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.batch, args.repeats)))
        return
    print(f"forward + backward, batch {args.batch}, median ms (min-max) over {args.repeats} "
          f"calls; benchmark environment")
    print(f"{'layer':<28} {'threads':>7} {'rootgan ms':>20} {'PyTorch ms':>20} "
          f"{'PyTorch/rootgan':>16}")
    for threads in args.threads:
        progress(f"{threads} thread(s)")
        rows = run_child(["--child", str(threads), "--batch", str(args.batch), "--repeats",
                          str(args.repeats)], child_environment(threads, True))
        for row in rows:
            ours, theirs = statistics.median(row["rootgan"]), statistics.median(row["torch"])
            cell = lambda v, m: f"{m:.3f} ({min(v):.3f}-{max(v):.3f})"  # noqa: E731
            print(f"{row['label']:<28} {threads:>7} {cell(row['rootgan'], ours):>20} "
                  f"{cell(row['torch'], theirs):>20} {theirs / ours:>15.2f}x")


if __name__ == "__main__":
    main()
