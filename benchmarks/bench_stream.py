"""Streaming a training set larger than the memory budget through the DataLoader.

Writes a ROOT file of 25x25 images (``image[625]/F``, uproot's default compression) holding
``--factor`` times as many events as the memory budget holds (a chunk is an eighth of it,
see rootgan/io/dataset.py), then, in a fresh
process on one core, prepares it with ``MemoryBudget=--budget`` and reads one shuffled pass
of training batches. Reports images/s and the process's peak resident memory, which must
stay below the budget + 500 MB (the chunk, the shuffle buffer and their copies live inside
the budget; the rest is Python, NumPy, uproot and awkward). ``--scheduler local`` (or a
scheduler's address) reads over Dask instead (the DataLoader's Scheduler option): the
workers open and read the file, the process receives the chunks; its peak RSS then does
not count the workers' memory.

``--cut`` and ``--weight`` select and weight the events with TTree::Draw expressions on the
file's ``pt``, ``eta`` and ``weight`` branches. ``--baseline REV`` also runs the same pass
with rootgan as it was at the git revision REV (extracted to a temporary folder; or a
folder holding a ``rootgan`` package), the two alternating ``--repeat`` times, and reports
the ratios of their median times.

    python benchmarks/bench_stream.py [--budget 100] [--factor 5] [--batch 256]
                                      [--scheduler local] [--cut EXPR] [--weight EXPR]
                                      [--baseline REV] [--repeat 3]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

PIXELS = 625
BYTES_PER_EVENT = 4 * PIXELS + 32  # rootgan.io.dataset.Layout.bytes_per_event for one image


def write_file(path, events):
    import uproot

    rng = np.random.default_rng(0)
    with uproot.recreate(path) as handle:
        tree = handle.mktree("jets", {"image": ("f4", (PIXELS,)), "pt": "f4", "eta": "f4",
                                      "weight": "f4"})
        # baskets of 2,000 events (5 MB), within ROOT's usual range (its TTree flushes
        # clusters of about 30 MB)
        for start in range(0, events, 2_000):
            n = min(2_000, events - start)
            # jet-image-like sparsity: most pixels zero, a few carry pT
            images = rng.exponential(2.0, (n, PIXELS)).astype(np.float32)
            images[rng.random((n, PIXELS)) < 0.8] = 0
            tree.extend({"image": images, "pt": images.sum(axis=1),
                         "eta": rng.uniform(-2.5, 2.5, n).astype(np.float32),
                         "weight": rng.uniform(0.5, 1.5, n).astype(np.float32)})


def stream(path, budget, batch, scheduler, cut, weight):
    """Child process: prepare and read one pass; returns numbers as JSON."""
    import rootgan
    from rootgan import TMVA

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    loader = TMVA.DataLoader("bench")
    loader.AddVariablesArray("image", PIXELS)
    loader.AddSignalTree(f"{path}:jets")
    if weight:
        loader.SetWeightExpression(weight)
    dataset = loader.PrepareTrainingAndTestTree(cut, f"nTest_Signal=1:MemoryBudget={budget}",
                                                Scheduler=scheduler)
    prepared = time.perf_counter()
    images = 0
    for batch_events in dataset.training.batches(batch, np.random.default_rng(1)):
        images += batch_events["image"].shape[0]
    done = time.perf_counter()
    return {"rootgan": os.path.dirname(os.path.dirname(rootgan.__file__)),
            "images": images, "prepare_s": prepared - start, "stream_s": done - prepared,
            "chunk_events": dataset.training.chunk_events,
            "chunks": -(-len(dataset.training) // dataset.training.chunk_events),
            "baseline_mb": baseline,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_child(path, args, pythonpath=None):
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    output = subprocess.run([sys.executable, __file__, "--child", path, str(args.budget),
                             str(args.batch), args.scheduler, args.cut, args.weight], env=env,
                            stdout=subprocess.PIPE, text=True, check=True).stdout
    return json.loads(output.splitlines()[-1])


def extract(revision, folder):
    """A folder holding rootgan's package as it was at git ``revision`` (extracted under
    ``folder``), or ``revision`` itself if it is such a folder."""
    if os.path.isdir(os.path.join(revision, "rootgan")):
        return os.path.abspath(revision)
    os.makedirs(folder)
    repository = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    archive = subprocess.run(["git", "-C", repository, "archive", revision, "rootgan"],
                             stdout=subprocess.PIPE, check=True).stdout
    subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
    return folder


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=100.0, help="MemoryBudget in MB")
    parser.add_argument("--factor", type=float, default=5.0,
                        help="file size (uncompressed) in units of the budget")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--scheduler", default="none",
                        help="the DataLoader's Scheduler: none (default), local or an address")
    parser.add_argument("--cut", default="", help="a cut, e.g. 'pt > 100 && abs(eta) < 2'")
    parser.add_argument("--weight", default="", help="a weight expression, e.g. 'weight * 2'")
    parser.add_argument("--baseline", metavar="REV",
                        help="also run rootgan as of this git revision (or from this folder), "
                             "for before/after ratios")
    parser.add_argument("--repeat", type=int, default=3,
                        help="passes of each version with --baseline (medians are compared)")
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, budget, batch, scheduler, cut, weight = args.child
        print(json.dumps(stream(path, float(budget), int(batch), scheduler, cut, weight)))
        return

    chunk_events = int(args.budget * (1 << 20) / 8 // BYTES_PER_EVENT)
    events = int(args.factor * args.budget * (1 << 20) // BYTES_PER_EVENT)
    with tempfile.TemporaryDirectory(prefix="rootgan-stream-") as folder:
        path = os.path.join(folder, "images.root")
        print(f"writing {events:,} images of {PIXELS} pixels ({events * PIXELS * 4 / 1e6:,.0f} MB "
              f"uncompressed) to {path} ...", flush=True)
        write_file(path, events)
        print(f"file size {os.path.getsize(path) / 1e6:,.0f} MB; MemoryBudget {args.budget:g} MB "
              f"-> chunks of {chunk_events:,} events"
              + (f"; cut {args.cut!r}" if args.cut else "")
              + (f"; weight {args.weight!r}" if args.weight else ""))
        if not args.baseline:
            report("this checkout", [run_child(path, args)], args)
            return
        old = extract(args.baseline, os.path.join(folder, "baseline"))
        runs = {"baseline": [], "this checkout": []}
        for _ in range(args.repeat):  # alternating, so drifts of the machine hit both alike
            runs["baseline"].append(run_child(path, args, pythonpath=old))
            runs["this checkout"].append(run_child(path, args))
    for name, results in runs.items():
        report(f"{name} ({results[0]['rootgan']})" if name == "baseline" else name, results,
               args)
    ratios = {key: statistics.median(r[key] for r in runs["baseline"])
              / statistics.median(r[key] for r in runs["this checkout"])
              for key in ("prepare_s", "stream_s")}
    print(f"this checkout against {args.baseline}: prepare {ratios['prepare_s']:.2f}x as fast, "
          f"images/s {ratios['stream_s']:.2f}x (medians of {args.repeat} alternating runs; "
          f"> 1: faster)")


def report(name, results, args):
    """Prints the median pass of ``results`` (one or more child runs)."""
    result = sorted(results, key=lambda r: r["stream_s"])[len(results) // 2]
    rate = result["images"] / result["stream_s"]
    limit = args.budget + 500
    print(f"{name}:")
    print(f"  prepare (open, check, select, split): "
          f"{statistics.median(r['prepare_s'] for r in results):.2f} s")
    where = ("on one core" if args.scheduler == "none" else
             f"read over Dask (Scheduler={args.scheduler})")
    print(f"  one shuffled pass: {result['images']:,} images in {result['chunks']} chunks, "
          f"{result['stream_s']:.2f} s = {rate:,.0f} images/s {where}")
    print(f"  peak RSS {result['peak_mb']:,.0f} MB (after imports {result['baseline_mb']:,.0f} "
          f"MB); limit budget + 500 MB = {limit:,.0f} MB: "
          f"{'within' if result['peak_mb'] <= limit else 'OVER'}")


if __name__ == "__main__":
    main()
