"""Mass generation in parts: in this process against local Dask clusters of 1 and 2
workers, the cost of one task, and what 100 million events on 100 workers would take.

Trains the jet macro's dense GAN for ``--train-seconds`` (or takes ``--weights``), then:
- one file, every core (``rootgan.generate`` without parts), for reference;
- ``-n`` events in parts of ``--events-per-file``: in this process (one part after
  another, one thread each), and on a local cluster of W workers (one thread each) for W
  in ``--workers``; the clusters are started before the clock starts (their start-up is
  reported apart);
- the per-task overhead: ``--tiny-tasks`` parts of 100 events on one worker, whose time
  beyond generating their events is the cost of a task (scheduling, loading the weights,
  opening and renaming the file).
From the one-worker rate and the task cost it projects 100 million events on 100 workers
(parts of 1 million events, one per worker), assuming the workers are as fast as this
machine's and the shared file system keeps up.

    python benchmarks/bench_dask_generate.py                 # 2M events, about 3 minutes
    python benchmarks/bench_dask_generate.py -n 200000 --events-per-file 50000 \\
        --train-seconds 2 --tiny-tasks 4                      # seconds-long
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_generate import train  # noqa: E402


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=2_000_000, help="events (default 2,000,000)")
    parser.add_argument("--events-per-file", type=int, default=200_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--tiny-tasks", type=int, default=40,
                        help="parts of 100 events timed for the per-task cost (default 40)")
    parser.add_argument("--train-seconds", type=float, default=30)
    parser.add_argument("--weights", help="a weights file instead of training one")
    args = parser.parse_args()

    import rootgan
    from dask.distributed import LocalCluster

    folder = tempfile.mkdtemp(prefix="rootgan-dask-")
    try:
        if args.weights:
            weights = os.path.abspath(args.weights)
        else:
            print(f"... training the jet GAN for {args.train_seconds:g} s", file=sys.stderr)
            weights = train("jets", args.train_seconds, folder)
        rootgan.generate(weights, 2000, os.path.join(folder, "warm.root"))  # fills caches

        def parts_into(name, **where):
            def run():
                rootgan.generate(weights, args.n, os.path.join(folder, name, "p{index}.root"),
                                 events_per_file=args.events_per_file, seed=1, **where)
            return run

        rows = [("one file, every core (no parts)",
                 timed(lambda: rootgan.generate(weights, args.n,
                                                os.path.join(folder, "one.root"), seed=1)))]
        print("... in this process", file=sys.stderr)
        rows.append(("parts in this process (1 thread)", timed(parts_into("here"))))
        starts, tiny = {}, None
        for workers in args.workers:
            print(f"... {workers} Dask worker(s)", file=sys.stderr)
            start = time.perf_counter()
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster:
                starts[workers] = time.perf_counter() - start
                where = {"scheduler": cluster.scheduler_address}
                rootgan.generate(weights, 200, os.path.join(folder, f"warm{workers}",
                                                            "p{index}.root"),
                                 events_per_file=100, **where)  # workers import rootgan
                rows.append((f"parts on {workers} local Dask worker(s)",
                             timed(parts_into(f"dask{workers}", **where))))
                if workers == 1:
                    tiny = timed(lambda: rootgan.generate(
                        weights, 100 * args.tiny_tasks,
                        os.path.join(folder, "tiny", "p{index}.root"), events_per_file=100,
                        seed=2, **where))
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    print(f"Generation in parts: {args.n:,} events, {args.events_per_file:,} per part, jet "
          f"GAN ({os.path.basename(weights)}), {os.cpu_count()} cores")
    print(f"{'':40s} {'seconds':>8s} {'events/s':>10s} {'vs in-process':>14s}")
    in_process = args.n / rows[1][1]
    for label, seconds in rows:
        rate = args.n / seconds
        print(f"{label:40s} {seconds:8.1f} {rate:10,.0f} {rate / in_process:13.2f}x")
    for workers, seconds in starts.items():
        print(f"starting a local cluster of {workers} worker(s): {seconds:.1f} s (not in "
              f"the rows above)")
    if tiny is not None and 1 in args.workers:
        one_worker = args.n / dict(rows)["parts on 1 local Dask worker(s)"]
        task = (tiny - 100 * args.tiny_tasks / one_worker) / args.tiny_tasks
        print(f"per-task cost: {task * 1000:.0f} ms ({args.tiny_tasks} parts of 100 events on "
              f"1 worker in {tiny:.2f} s)")
        minutes = (1_000_000 / one_worker + task) / 60
        print(f"projected: 100 million events on 100 workers, parts of 1 million (one per "
              f"worker): {minutes:.1f} minutes plus the cluster's start, at "
              f"{one_worker:,.0f} events/s per worker")


if __name__ == "__main__":
    main()
