"""Speed of rootgan's engine against PyTorch on the benchmark GAN.

Measures images per second for the benchmark GAN of ``reference/benchmark-gan.md``
(1x25x25 images, latent 64) in rootgan and in the same network written in ``torch.nn``:

- training: one full GAN step (discriminator step on a real and a generated batch, then a
  generator step with the non-saturating loss through the discriminator, Adam lr 2e-4,
  betas (0.5, 0.999) for both) at batch 64 and 256;
- generation: the generator forward pass without gradients at batch 1024.

Each thread count runs in its own child process with every contender pinned to it
(NUMBA_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS, ``torch.set_num_threads``). Within a
child the two engines are timed back to back, alternating rounds; a cell is the median and
the spread (min-max) of several timings after a warm-up, and the ratio is rootgan / PyTorch
of the medians. The benchmark environment unsets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE and
sets MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_; a full run repeats the table in the
machine's default environment and reports the start-up time (a fresh process to its first
training step) with a cold and a warm Numba cache. Where the machine does not set
OPENBLAS_CORETYPE, ``--older-blas NAME`` sets it for the default environment's children
(e.g. Sandybridge: AVX without FMA), to see the table with an older, slower SGEMM kernel.

Run from the project folder:

    python benchmarks/bench_gan.py            # full run: 5 timings of >= 5 s (many minutes)
    python benchmarks/bench_gan.py --quick    # about 30 s: benchmark environment, 2 threads,
                                              # 3 timings of >= 0.5 s, warm start only

PyTorch is optional (``pip install -e .[oracle]``); without it rootgan is timed alone.
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

SEED = 2024
LATENT_DIM = 64
IMAGE_SHAPE = (1, 25, 25)
G_LAYOUT = ("DENSE|6272|LEAKYRELU,RESHAPE|128|7|7,UPSAMPLE|2|2,CONV|64|5|5|1|1|2|2|LEAKYRELU,"
            "TRANSCONV|32|5|5|2|2|3|3|LEAKYRELU,CONV|1|3|3|1|1|1|1|RELU")
D_LAYOUT = ("CONV|32|5|5|1|1|2|2|LEAKYRELU,MAXPOOL|2|2|2|2,CONV|64|3|3|1|1|1|1|LEAKYRELU,"
            "MAXPOOL|2|2|2|2,RESHAPE|FLAT,DENSE|128|LEAKYRELU,DENSE|1|LINEAR")
LEARNING_RATE, BETAS = 2e-4, (0.5, 0.999)

# (label, kind, batch size): kind is "train" (one GAN step) or "generate" (G forward).
CONFIGURATIONS = (
    ("training, batch 64", "train", 64),
    ("training, batch 256", "train", 256),
    ("generation, batch 1024", "generate", 1024),
)
THREAD_VARIABLES = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
SLOW_BLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
MALLOC_SETTINGS = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "67108864"}
BENCHMARK_ENVIRONMENT = ("Benchmark environment: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, "
                         + " ".join(f"{k}={v}" for k, v in MALLOC_SETTINGS.items()))
DEFAULT_ENVIRONMENT = ("Machine's default environment: OPENBLAS_* as set here, no MALLOC_* "
                       "settings")
TORCH_MISSING = ("PyTorch not installed: install the oracle extra, pip install -e .[oracle], "
                 "to compare")
# --quick times only the largest thread count by default: a second child process with its
# own warm-up does not fit in a 30-second run.
QUICK = {"seconds": 0.5, "repeats": 3, "threads": [2]}
FULL = {"seconds": 5.0, "repeats": 5, "threads": [1, 2]}


# -- child processes: the measurements ----------------------------------------------------
# numpy, rootgan and torch are imported inside these functions: only the children need
# them, and the start-up child's time includes the import of rootgan itself.

def build_rootgan(rng):
    from rootgan.nn import GAN, Adam, build_network, initialize

    g = build_network(G_LAYOUT, (LATENT_DIM,), name="generator")
    d = build_network(D_LAYOUT, IMAGE_SHAPE, name="discriminator")
    initialize(g, rng)
    initialize(d, rng)
    return GAN(g, d, Adam(g, LEARNING_RATE, *BETAS), Adam(d, LEARNING_RATE, *BETAS), rng)


def import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def build_torch(torch):
    nn = torch.nn
    g = nn.Sequential(
        nn.Linear(LATENT_DIM, 6272), nn.LeakyReLU(0.2), nn.Unflatten(1, (128, 7, 7)),
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(128, 64, 5, padding=2), nn.LeakyReLU(0.2),
        nn.ConvTranspose2d(64, 32, 5, stride=2, padding=3), nn.LeakyReLU(0.2),
        nn.Conv2d(32, 1, 3, padding=1), nn.ReLU())
    d = nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.LeakyReLU(0.2), nn.MaxPool2d(2, 2),
        nn.Conv2d(32, 64, 3, padding=1), nn.LeakyReLU(0.2), nn.MaxPool2d(2, 2),
        nn.Flatten(), nn.Linear(2304, 128), nn.LeakyReLU(0.2), nn.Linear(128, 1))
    optimizers = [torch.optim.Adam(net.parameters(), lr=LEARNING_RATE, betas=BETAS)
                  for net in (g, d)]
    return g, d, *optimizers


def torch_train_step(torch, networks, real):
    """One step as in benchmark-gan.md; the G step computes no D weight gradients."""
    g, d, opt_g, opt_d = networks
    n = real.shape[0]
    loss = torch.nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(n, 1), torch.zeros(n, 1)

    def step():
        fake = g(torch.randn(n, LATENT_DIM))
        opt_d.zero_grad()
        loss_d = loss(d(real), ones) + loss(d(fake.detach()), zeros)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        d.requires_grad_(False)
        loss_g = loss(d(fake), ones)
        loss_g.backward()
        d.requires_grad_(True)
        opt_g.step()
    return step


def torch_generate(torch, generator, n):
    def step():
        with torch.no_grad():
            generator(torch.randn(n, LATENT_DIM))
    return step


def contenders(kind, batch, gan, torch, networks, real):
    """Zero-argument callables doing one unit of work (``batch`` images) per engine."""
    if kind == "train":
        real_batch = real[:batch]
        steps = {"rootgan": lambda: gan.train_step(real_batch)}
        if torch is not None:
            steps["torch"] = torch_train_step(torch, networks, torch.from_numpy(real_batch))
    else:
        steps = {"rootgan": lambda: gan.generate(batch, batch_size=batch)}
        if torch is not None:
            steps["torch"] = torch_generate(torch, networks[0], batch)
    return steps


def images_per_second(step, images, seconds):
    """Calls ``step`` until at least ``seconds`` have passed (at least once)."""
    calls = 0
    start = time.perf_counter()
    while True:
        step()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls * images / elapsed


def time_alternating(steps, images, seconds, repeats):
    for step in steps.values():  # warm-up: buffers, kernel selection, caches
        images_per_second(step, images, seconds / 5)
    rates = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            rates[name].append(images_per_second(step, images, seconds))
    return rates


def blas_report():
    from threadpoolctl import threadpool_info

    return [{"library": os.path.basename(info["filepath"]),
             "internal_api": info.get("internal_api"),
             "architecture": info.get("architecture"),
             "num_threads": info.get("num_threads")} for info in threadpool_info()]


def torch_report(torch):
    """PyTorch's own BLAS (linked in, so threadpoolctl does not list it) and CPU kernels."""
    blas = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    return (f"BLAS {blas.group(1) if blas else 'unknown'} (built in), oneDNN "
            f"{'on' if torch.backends.mkldnn.is_available() else 'off'}, CPU capability "
            f"{torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} thread(s)")


def measure(threads, seconds, repeats):
    import numba
    import numpy as np
    import rootgan
    from rootgan.nn import set_num_threads

    set_num_threads(threads)
    torch = import_torch()
    if torch is not None:
        torch.set_num_threads(threads)
    rng = np.random.default_rng(SEED)
    gan = build_rootgan(rng)
    networks = build_torch(torch) if torch is not None else None
    largest = max(batch for _, kind, batch in CONFIGURATIONS if kind == "train")
    real = rng.random((largest,) + IMAGE_SHAPE, dtype=np.float32)
    results = []
    for label, kind, batch in CONFIGURATIONS:
        steps = contenders(kind, batch, gan, torch, networks, real)
        results.append({"configuration": label,
                        "rates": time_alternating(steps, batch, seconds, repeats)})
    parameters = {"rootgan": [gan.generator.n_parameters, gan.discriminator.n_parameters]}
    if torch is not None:
        parameters["torch"] = [sum(p.numel() for p in net.parameters())
                               for net in networks[:2]]
    return {
        "threads": threads,
        "results": results,
        "blas": blas_report(),
        "torch": torch_report(torch) if torch is not None else None,
        "numba_threading_layer": numba.threading_layer(),
        "parameters": parameters,
        "versions": {"rootgan": rootgan.__version__, "numba": numba.__version__,
                     "numpy": np.__version__,
                     "torch": torch.__version__ if torch is not None else None},
    }


def startup():
    """Import rootgan, build both networks and train one step at batch 64; the parent
    times the whole process, from the interpreter's start to its exit."""
    import numpy as np
    import rootgan  # noqa: F401  (the import is part of what is timed)

    rng = np.random.default_rng(SEED)
    gan = build_rootgan(rng)
    gan.train_step(rng.random((64,) + IMAGE_SHAPE, dtype=np.float32))
    return {}


def peak_memory(engine, steps=3, batch=256):
    """Peak resident memory (MiB) of a process that trains the benchmark GAN at ``batch``
    with one engine for ``steps`` steps, imports included."""
    import resource

    import numpy as np

    rng = np.random.default_rng(SEED)
    real = rng.random((batch,) + IMAGE_SHAPE, dtype=np.float32)
    if engine == "rootgan":
        gan = build_rootgan(rng)
        step = lambda: gan.train_step(real)  # noqa: E731
    else:
        torch = import_torch()
        if torch is None:
            return {"mib": None}
        step = torch_train_step(torch, build_torch(torch), torch.from_numpy(real))
    for _ in range(steps):
        step()
    return {"mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


# -- parent process: environments, children, report ---------------------------------------

def child_environment(threads, benchmark, cache_dir=None, older_blas=None):
    env = dict(os.environ)
    env.update({name: str(threads) for name in THREAD_VARIABLES})
    if benchmark:
        for name in SLOW_BLAS_VARIABLES:
            env.pop(name, None)
        env.update(MALLOC_SETTINGS)
    else:
        for name in MALLOC_SETTINGS:
            env.pop(name, None)
        if older_blas and "OPENBLAS_CORETYPE" not in env:
            env["OPENBLAS_CORETYPE"] = older_blas
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    return env


def progress(message):
    sys.stdout.flush()
    print(f"... {message}", file=sys.stderr, flush=True)


def run_child(arguments, env, script=__file__):
    """Runs ``script`` (default: this one) with a hidden child flag; the child's last line
    of output is JSON."""
    output = subprocess.run([sys.executable, os.path.abspath(script), *arguments], env=env,
                            stdout=subprocess.PIPE, text=True, check=True).stdout
    return json.loads(output.splitlines()[-1])


def measure_environment(threads_list, benchmark, seconds, repeats, older_blas=None):
    reports = []
    for threads in threads_list:
        progress(f"measuring {threads} thread(s)")
        reports.append(run_child(["--child-measure", str(threads), "--seconds", str(seconds),
                                  "--repeats", str(repeats)],
                                 child_environment(threads, benchmark, older_blas=older_blas)))
    return reports


def timed_child(arguments, env):
    """Seconds from starting this script as a child process to its exit."""
    start = time.perf_counter()
    run_child(arguments, env)
    return time.perf_counter() - start


def measure_startup(threads, cold):
    """(label, seconds) pairs: cold and warm in a fresh cache, or warm in the default one."""
    arguments = ["--child-startup"]
    if not cold:
        seconds = timed_child(arguments, child_environment(threads, True))
        return [("warm start (Numba cache filled by the runs above)", seconds)]
    with tempfile.TemporaryDirectory(prefix="rootgan-numba-cache-") as cache_dir:
        env = child_environment(threads, True, cache_dir)
        return [("cold start (empty NUMBA_CACHE_DIR, compiles every kernel)",
                 timed_child(arguments, env)),
                ("warm start (same NUMBA_CACHE_DIR, loads the cache)",
                 timed_child(arguments, env))]


def rate_cell(rates):
    if not rates:
        return "not installed"
    return f"{statistics.median(rates):,.0f} ({min(rates):,.0f}-{max(rates):,.0f})"


def table_rows(reports):
    """Rows of (configuration, threads, rootgan cell, PyTorch cell, ratio or None)."""
    rows = []
    for label, _, _ in CONFIGURATIONS:
        for report in reports:
            rates = next(r["rates"] for r in report["results"] if r["configuration"] == label)
            ours, theirs = rates["rootgan"], rates.get("torch", [])
            ratio = statistics.median(ours) / statistics.median(theirs) if theirs else None
            rows.append((label, str(report["threads"]), rate_cell(ours), rate_cell(theirs),
                         ratio))
    return rows


HEADER = ("configuration", "threads", "rootgan img/s (median, min-max)",
          "PyTorch img/s (median, min-max)", "ratio")


def ratio_text(ratio):
    return "n/a" if ratio is None else f"{ratio:.2f}x"


def text_table(rows):
    cells = [HEADER] + [row[:4] + (ratio_text(row[4]),) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
             for row in cells]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown_table(rows):
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row[:4] + (ratio_text(row[4]),)) + " |" for row in rows]
    return "\n".join(lines)


def conclusion(rows):
    ratios = [row[4] for row in rows if row[4] is not None]
    if not ratios:
        return "rootgan alone: " + TORCH_MISSING
    return (f"rootgan / PyTorch: {min(ratios):.2f}x ... {max(ratios):.2f}x over "
            f"{len(ratios)} measurements (above 1: rootgan is faster)")


def openblas_note(benchmark, older_blas=None):
    found = [f"{name}={os.environ[name]}" for name in SLOW_BLAS_VARIABLES if name in os.environ]
    if not found:
        if older_blas and not benchmark:
            return (f"OPENBLAS_CORETYPE is not set on this machine; set here to {older_blas} "
                    f"(--older-blas) to stand for a default environment with an older kernel.")
        return ("OPENBLAS_CORETYPE is not set on this machine"
                + (": the benchmark and default environments differ only by MALLOC_*"
                   " (--older-blas NAME sets an older kernel here)."
                   if not benchmark else "."))
    return ("Set on this machine and " + ("removed here: " if benchmark else "kept here: ")
            + " ".join(found))


def environment_notes(reports):
    """What ran in each child (read after both engines ran): thread pools and BLAS kernels."""
    lines = []
    for report in reports:
        lines.append(f"  child with {report['threads']} thread(s): numba threading layer "
                     f"{report['numba_threading_layer']}; threadpoolctl sees:")
        lines += [f"    {b['library']}: {b['internal_api']}, "
                  + (f"kernel {b['architecture']}, " if b["architecture"] else "")
                  + f"{b['num_threads']} thread(s)" for b in report["blas"]]
        if report["torch"] is not None:
            lines.append(f"    PyTorch: {report['torch']}")
    return "\n".join(lines)


def describe_run(reports):
    first = reports[0]
    versions = first["versions"]
    torch_version = versions["torch"] or "not installed"
    params = "; ".join(f"{'PyTorch' if name == 'torch' else name} {g:,} / {d:,}"
                       for name, (g, d) in first["parameters"].items())
    return (f"Versions: rootgan {versions['rootgan']}, numba {versions['numba']}, numpy "
            f"{versions['numpy']}, PyTorch {torch_version}, Python {platform.python_version()}"
            f"\nParameters (generator / discriminator): {params}")


def cpu_name():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def print_intro(args):
    print("rootgan vs PyTorch: speed on the benchmark GAN (reference/benchmark-gan.md)")
    print("Measured: images per second for one GAN training step (D step on a real and a "
          "generated batch,\n  G step through D, Adam) at batch 64 and 256, and for "
          "generation (generator forward, no gradients)\n  at batch 1024; same network in "
          "both engines, timed back to back in one process per thread count.")
    print(f"Each cell: median (min-max) of {args.repeats} timings of >= {args.seconds:g} s "
          f"after a warm-up; ratio = rootgan / PyTorch of the medians"
          + (" (--quick: short timings)." if args.quick else "."))
    print(f"Machine: {cpu_name()}, {os.cpu_count()} cores")


def print_environment(title, benchmark, reports, rows, older_blas=None):
    print(f"\n== {title}")
    print(openblas_note(benchmark, older_blas))
    print(environment_notes(reports))
    print()
    print(text_table(rows))
    print(conclusion(rows))


def run(args):
    print_intro(args)
    sections = [(BENCHMARK_ENVIRONMENT, True)]
    if not args.quick:
        default_title = DEFAULT_ENVIRONMENT
        if args.older_blas and "OPENBLAS_CORETYPE" not in os.environ:
            default_title += f", OPENBLAS_CORETYPE={args.older_blas} (--older-blas)"
        sections.append((default_title, False))
    tables = []
    for index, (title, benchmark) in enumerate(sections):
        progress(title)
        reports = measure_environment(args.threads, benchmark, args.seconds, args.repeats,
                                      args.older_blas)
        rows = table_rows(reports)
        if index == 0:
            print(describe_run(reports))
            if reports[0]["versions"]["torch"] is None:
                print(TORCH_MISSING)
        print_environment(title, benchmark, reports, rows, args.older_blas)
        tables.append((title, rows))

    print("\n== Start-up: a fresh Python process that imports rootgan, builds both networks "
          "and trains one\n   step at batch 64, from its start to its exit")
    startups = measure_startup(max(args.threads), cold=not args.quick)
    for label, seconds in startups:
        print(f"  {label}: {seconds:.1f} s")

    print("\n== Peak memory: a fresh process (imports included) that trains the benchmark GAN "
          "at batch 256\n   for 3 steps with one engine, 1 thread")
    memory = {engine: run_child(["--child-memory", engine],
                                child_environment(1, True))["mib"]
              for engine in ("rootgan", "torch")}
    for engine, mib in memory.items():
        name = "PyTorch" if engine == "torch" else engine
        print(f"  {name}: " + ("not installed" if mib is None else f"{mib:,.0f} MiB peak RSS"))

    print("\n== Markdown")
    for title, rows in tables:
        print(f"\n{title}\n\n{markdown_table(rows)}")
    print("\nStart-up to the first training step: " + "; ".join(f"{label}: {seconds:.1f} s"
                                           for label, seconds in startups))
    if args.quick:
        print("\nFull run (5 timings of >= 5 s, 1 and 2 threads, default environment too, "
              "cold start): python benchmarks/bench_gan.py")


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"about 30 s: benchmark environment only, {QUICK['repeats']} "
                             f"timings of {QUICK['seconds']:g} s, threads "
                             f"{' '.join(map(str, QUICK['threads']))}, warm start only")
    parser.add_argument("--threads", type=int, nargs="+",
                        help="thread counts, one child process each (default "
                             f"{' '.join(map(str, FULL['threads']))}, --quick "
                             f"{' '.join(map(str, QUICK['threads']))})")
    parser.add_argument("--seconds", type=float,
                        help=f"minimum length of one timing (default {FULL['seconds']:g}, "
                             f"--quick {QUICK['seconds']:g})")
    parser.add_argument("--repeats", type=int,
                        help=f"timings per cell (default {FULL['repeats']}, --quick "
                             f"{QUICK['repeats']})")
    parser.add_argument("--older-blas", metavar="CORETYPE",
                        help="where OPENBLAS_CORETYPE is not set, set it to CORETYPE in the "
                             "default environment (full run), e.g. Sandybridge")
    parser.add_argument("--child-measure", type=int, metavar="THREADS", help=argparse.SUPPRESS)
    parser.add_argument("--child-startup", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-memory", choices=("rootgan", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    defaults = QUICK if args.quick else FULL
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.seconds <= 0 or args.repeats < 1 or min(args.threads) < 1:
        parser.error("--seconds must be positive, --repeats and --threads at least 1")
    return args


def main():
    args = parse_arguments()
    if args.child_measure is not None:
        print(json.dumps(measure(args.child_measure, args.seconds, args.repeats)))
    elif args.child_startup:
        print(json.dumps(startup()))
    elif args.child_memory:
        print(json.dumps(peak_memory(args.child_memory)))
    else:
        run(args)


if __name__ == "__main__":
    main()
