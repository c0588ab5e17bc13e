"""How much of a user's training job is the engine: TrainAllMethods on the shipped jets.

Books the benchmark GAN of ``reference/benchmark-gan.md`` the way a user does (Factory,
DataLoader on ``data/jet_images.root``, BookMethod with the method's defaults and the
benchmark layouts) and trains it. The engine's entry points are timed: the GAN's training
steps, and its generation for the per-epoch validation and collapse checks. Everything else
in ``TrainAllMethods`` (reading and splitting the tree, transforming and shuffling the
batches, the epoch table, the progress bar, histories, the weights file) is the overhead
the engine has to carry. With ``--details`` the job runs again under cProfile and the
costliest functions outside the engine are listed (cProfile slows Python code, not the
kernels, so its shares overstate the overhead).

    python benchmarks/profile_user_path.py                    # 6 epochs, batch 256, 2 threads
    python benchmarks/profile_user_path.py --epochs 2 --batch 64 --threads 1 --details
"""

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_gan import D_LAYOUT, G_LAYOUT, LATENT_DIM, THREAD_VARIABLES  # noqa: E402

DATA = os.path.join(os.path.dirname(HERE), "data", "jet_images.root")
ENGINE = {"train_step": "training steps (engine)",
          "discriminator_step": "training steps (engine)",
          "generate": "generation for validation and checks (engine)"}


def timed_engine(totals):
    """Wrap the engine's GAN entry points (for the rest of this process) so their wall time
    adds up in ``totals``."""
    from rootgan.nn.gan import GAN

    def wrapper(name, inner):
        def timed(self, *args, **kwargs):
            start = time.perf_counter()
            try:
                return inner(self, *args, **kwargs)
            finally:
                totals[ENGINE[name]] += time.perf_counter() - start
        return timed

    for name in ENGINE:
        setattr(GAN, name, wrapper(name, getattr(GAN, name)))


def train(args, folder, profiler=None):
    """Runs TrainAllMethods in ``folder`` (its console output captured, as the progress
    bar and epoch table cost what they cost on a terminal); returns its wall time."""
    from rootgan import TMVA

    options = (f"!H:!V:InputLayout=1|25|25:LatentDim={LATENT_DIM}:"
               f"GeneratorLayout={G_LAYOUT}:DiscriminatorLayout={D_LAYOUT}:"
               f"TrainingStrategy=MaxEpochs={args.epochs},BatchSize={args.batch}")
    console = io.StringIO()
    here = os.getcwd()
    os.chdir(folder)  # the Factory writes dataset/weights/ below the working folder
    try:
        with contextlib.redirect_stdout(console):
            factory = TMVA.Factory("Profile", "profile.root", "!V:!Silent:DrawProgressBar")
            loader = TMVA.DataLoader("dataset")
            loader.AddVariablesArray("image", 625)
            loader.AddSignalTree(f"{DATA}:jets")
            loader.PrepareTrainingAndTestTree(
                "label == 1", f"SplitMode=Random:SplitSeed=100:nTest_Signal=500:"
                              f"nTrain_Signal={args.train}")
            factory.BookMethod(loader, TMVA.Types.kGAN, "GAN", options)
            start = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            factory.TrainAllMethods()
            if profiler is not None:
                profiler.disable()
    finally:
        os.chdir(here)
    return time.perf_counter() - start


def outside_engine(profiler, count=12):
    """The functions with the most own time outside the engine's GAN step."""
    stats = pstats.Stats(profiler)
    rows = []
    for (path, line, name), (_, calls, own, _, _) in stats.stats.items():
        if "rootgan/nn/" in path.replace(os.sep, "/"):
            continue
        rows.append((own, calls, f"{os.path.basename(path)}:{line}({name})"))
    return sorted(rows, reverse=True)[:count]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train", type=int, default=0,
                        help="training events (default 0: all 4,500 W jets not kept for test)")
    parser.add_argument("--details", action="store_true",
                        help="run again under cProfile and list the costliest functions "
                             "outside the engine")
    args = parser.parse_args()
    for name in THREAD_VARIABLES:
        os.environ[name] = str(args.threads)
    from rootgan.nn import set_num_threads

    set_num_threads(args.threads)
    totals = defaultdict(float)
    timed_engine(totals)
    with tempfile.TemporaryDirectory(prefix="rootgan-profile-") as folder:
        seconds = train(args, folder)
        engine = dict(totals)
        events = args.train or "all"
        print(f"TrainAllMethods, benchmark GAN on the shipped W jets ({events} training "
              f"events), {args.epochs} epochs at batch {args.batch}, {args.threads} thread(s): "
              f"{seconds:.2f} s")
        for what, spent in sorted(engine.items(), key=lambda item: -item[1]):
            print(f"  {what:48s} {spent:7.2f} s {spent / seconds:6.1%}")
        rest = seconds - sum(engine.values())
        print(f"  {'everything else (data, shuffling, console, ...)':48s} {rest:7.2f} s "
              f"{rest / seconds:6.1%}")
        print(f"  engine share: {sum(engine.values()) / seconds:.1%}")
        if args.details:
            profiler = cProfile.Profile()
            train(args, folder, profiler)
            print("\nunder cProfile, own time outside rootgan/nn/ (seconds, calls, function):")
            for own, calls, name in outside_engine(profiler):
                print(f"  {own:7.3f} {calls:8d}  {name}")


if __name__ == "__main__":
    main()
