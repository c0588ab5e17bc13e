"""Mass generation into a ROOT file against the generator's own speed, and its memory.

Trains a GAN with a macro for ``--train-seconds`` (default 30: enough for the generated jets
to be as sparse as real ones, about 3% of the pixels lit; after one epoch half of them are,
and such noise compresses 17 times worse, so writing would weigh far more than it does for
a trained model), or takes ``--weights``, then, each in a fresh process with the same
thread count:
- in memory: the method produces ``-n`` events (network, inverse transform, output stage)
  chunk by chunk and drops them: the generator's own speed;
- to a file: ``rootgan.generate`` writes the same ``-n`` events to a ROOT file (what
  ``rootgan generate`` does, without its progress bar);
- to a file, ``-n`` / 10 events: peak memory must not grow with the number of events.
Reports events/s, the ratio file / memory, the file size and each process's peak RSS.

    python benchmarks/bench_generate.py                       # the jet macro's dense GAN, 1M
    python benchmarks/bench_generate.py --network benchmark -n 100000   # benchmark-gan.md
    python benchmarks/bench_generate.py --weights W.weights.root   # a model trained before
    python benchmarks/bench_generate.py -n 20000 --threads 1 --train-seconds 2  # seconds-long
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from bench_gan import THREAD_VARIABLES, run_child  # noqa: E402
# macro arguments per network (the training time is added)
NETWORKS = {
    "jets": ["--test", "200"],
    "benchmark": ["--architecture", "benchmark", "--test", "200"],
}


def child(weights, n, mode, out):
    import numpy as np

    import rootgan
    from rootgan.io.weights import read_weights
    from rootgan.methods.gan import MethodGAN

    start = time.perf_counter()
    if mode == "memory":
        method = MethodGAN.from_weights("GAN", read_weights(weights))
        for _ in method.generated_chunks(n, np.random.default_rng(1)):
            pass
    else:
        rootgan.generate(weights, n, out, seed=1)
    seconds = time.perf_counter() - start
    return {"seconds": seconds,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "bytes": os.path.getsize(out) if mode == "file" else 0}


def run(weights, n, mode, out, threads):
    env = dict(os.environ, **{name: str(threads) for name in THREAD_VARIABLES})
    return run_child(["--child", mode, "--weights", weights, "-n", str(n), "--out", out], env,
                     script=__file__)


def train(network, seconds, folder):
    subprocess.run([sys.executable, os.path.join(ROOT, "macros", "train_jet_gan.py"),
                    *NETWORKS[network], "--budget", str(seconds), "--out-dir", "run"],
                   cwd=folder, check=True, stdout=subprocess.DEVNULL)
    return os.path.join(folder, "run", "dataset", "weights", "JetGAN_GAN.weights.root")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--network", choices=tuple(NETWORKS), default="jets",
                        help="jets: the jet macro's default dense GAN (fast, so writing "
                             "weighs most); benchmark: the benchmark GAN")
    parser.add_argument("-n", type=int, default=1_000_000, help="events (default 1,000,000)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train-seconds", type=float, default=30,
                        help="training time of the model (default 30)")
    parser.add_argument("--weights", help="a weights file to generate from instead of "
                                          "training one (--network is then ignored)")
    parser.add_argument("--child", choices=("memory", "file"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.weights, args.n, args.child, args.out)))
        return
    with tempfile.TemporaryDirectory(prefix="rootgan-generate-") as folder:
        if args.weights:
            weights = os.path.abspath(args.weights)
        else:
            print(f"... training the {args.network} network for {args.train_seconds:g} s",
                  file=sys.stderr)
            weights = train(args.network, args.train_seconds, folder)
        out = os.path.join(folder, "generated.root")
        # a first short run fills Numba's cache, so no row pays for compiling
        run(weights, 1000, "file", out, args.threads)
        rows = [("in memory (the generator's own speed)", args.n,
                 run(weights, args.n, "memory", out, args.threads)),
                ("to a ROOT file (rootgan.generate)", args.n,
                 run(weights, args.n, "file", out, args.threads)),
                ("to a ROOT file, a tenth of the events", args.n // 10,
                 run(weights, args.n // 10, "file", out, args.threads))]
    model = args.weights or f"{args.network} network trained {args.train_seconds:g} s"
    print(f"Generation, {model}, {args.threads} thread(s), each row a fresh process")
    print(f"{'':40s} {'events':>10s} {'events/s':>10s} {'peak RSS':>10s} {'file':>9s}")
    for label, n, result in rows:
        size = f"{result['bytes'] / 1e6:,.0f} MB" if result["bytes"] else ""
        print(f"{label:40s} {n:10,d} {n / result['seconds']:10,.0f} "
              f"{result['peak_mib']:7,.0f} MiB {size:>9s}")
    memory, file = (n / result["seconds"] for _, n, result in rows[:2])
    print(f"writing to a file runs at {file / memory:.0%} of the generator's own speed; peak "
          f"RSS {rows[1][2]['peak_mib']:,.0f} MiB for {args.n:,} events against "
          f"{rows[2][2]['peak_mib']:,.0f} MiB for {args.n // 10:,}")


if __name__ == "__main__":
    main()
