"""Does a GAN booked through the TMVA interface learn a simple image family?

Synthetic 25x25 images, one Gaussian blob each with random position, width and total
intensity, are written to a ROOT file and read back through the DataLoader; a small GAN is
booked with the Factory for each matched loss pair and trained for about ``--seconds``;
2,000 events generated from its weights file are compared with 2,000 real ones on the
physics of the family: total intensity, blob width and centroid position (x and y). Each
1-Wasserstein distance W1(generated, real) is reported next to the real-vs-real floor and
next to its value after the first epoch. The floor is the mean W1 between two independent
real samples of the same size over FLOOR_PAIRS pairs: one pair alone scatters by about 50%.

Targets (issue "MethodGAN"): for the default pair, every W1 <= 3x its floor; for every pair,
every W1 below half its first-epoch value.

    python benchmarks/quality_blobs.py [--seconds 60] [--pairs all|NONSATURATING/BCE ...]
                                       [--architecture dense|conv|benchmark]
    python benchmarks/quality_blobs.py --quick     # a seconds-long version (tests use it)
"""

import argparse
import contextlib
import io
import os
import tempfile
import time

import numpy as np
import uproot
from bench_gan import D_LAYOUT, G_LAYOUT
from scipy.stats import wasserstein_distance

from rootgan import TMVA
from rootgan.io.weights import read_weights
from rootgan.methods.gan import EPOCH_HEADER, epoch_line

SIZE = 25
THRESHOLD = 0.05  # zero suppression of the real images, and PixelFloor of the generated ones
FLOOR_PAIRS = 10
PAIRS = ("NONSATURATING/BCE", "MINIMAX/BCE", "LEASTSQUARES/LEASTSQUARES", "HINGE/HINGE")
# name: (generator, discriminator, options); "dense" is the default: on 25x25 blobs it
# runs ~15,000 images/s here against ~2,500 for "conv", so 60 s buy ~6x more steps
ARCHITECTURES = {
    "dense": ("DENSE|128|LEAKYRELU,DENSE|256|LEAKYRELU,DENSE|625|RELU",
              "RESHAPE|FLAT,DENSE|256|LEAKYRELU,DENSE|128|LEAKYRELU,DENSE|1|LINEAR",
              "LatentDim=4", 128, 4e-4),
    "conv": ("DENSE|5408|LEAKYRELU,RESHAPE|32|13|13,UPSAMPLE|2|2,"
             "CONV|16|4|4|1|1|1|1|LEAKYRELU,CONV|1|3|3|1|1|1|1|RELU",
             "CONV|16|5|5|1|1|2|2|LEAKYRELU,MAXPOOL|2|2|2|2,CONV|32|3|3|1|1|1|1|LEAKYRELU,"
             "MAXPOOL|2|2|2|2,RESHAPE|FLAT,DENSE|64|LEAKYRELU,DENSE|1|LINEAR",
             "LatentDim=32", 64, 2e-4),
    "benchmark": (G_LAYOUT, D_LAYOUT, "LatentDim=64", 64, 2e-4),  # benchmark-gan.md
}
OBSERVABLES = ("total intensity", "blob width", "centroid x", "centroid y")


def blob_images(n, rng, total=None):
    """Gaussian blobs: centre uniform in [9, 15] pixels, width in [1, 2.5], intensity
    ``total`` (default uniform in [50, 150]; the sum over the image, up to what falls outside
    it), pixels below THRESHOLD zero-suppressed as a detector would."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    cx, cy = rng.uniform(9, 15, (2, n, 1, 1))
    width = rng.uniform(1.0, 2.5, (n, 1, 1))
    total = (rng.uniform(50, 150, (n, 1, 1)) if total is None
             else np.asarray(total, np.float64).reshape(n, 1, 1))
    images = total / (2 * np.pi * width ** 2) * np.exp(
        -((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * width ** 2))
    images[images < THRESHOLD] = 0
    return images.reshape(n, SIZE * SIZE).astype(np.float32)


def observables(images):
    """Total intensity, blob width (intensity-weighted RMS radius / sqrt 2) and centroid."""
    pixels = np.asarray(images, np.float64).reshape(-1, SIZE, SIZE)
    total = pixels.sum(axis=(1, 2))
    safe = np.where(total > 0, total, 1)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    cx = (pixels * xx).sum(axis=(1, 2)) / safe
    cy = (pixels * yy).sum(axis=(1, 2)) / safe
    r2 = (pixels * ((xx - cx[:, None, None]) ** 2 + (yy - cy[:, None, None]) ** 2)).sum(
        axis=(1, 2)) / safe
    return dict(zip(OBSERVABLES, (total, np.sqrt(r2 / 2), cx, cy)))


def distances(generated, real):
    ours, theirs = observables(generated), observables(real)
    return {name: wasserstein_distance(ours[name], theirs[name]) for name in OBSERVABLES}


def train(path, pair, architecture, epochs, folder, title):
    """Book and train one GAN through the Factory; returns (weights path, seconds)."""
    generator, discriminator, options, batch, rate = ARCHITECTURES[architecture]
    generator_loss, discriminator_loss = pair.split("/")
    with contextlib.redirect_stdout(io.StringIO()):
        loader = TMVA.DataLoader("dataset")
        loader.AddVariablesArray("image", SIZE * SIZE)
        loader.AddSignalTree(f"{path}:blobs")
        loader.PrepareTrainingAndTestTree("", "SplitMode=Block:nTest_Signal=1")
        factory = TMVA.Factory(title, os.path.join(folder, f"{title}.root"), "Silent")
        factory.BookMethod(
            loader, TMVA.Types.kGAN, "GAN",
            f"InputLayout=1|{SIZE}|{SIZE}:{options}:GeneratorLayout={generator}:"
            f"DiscriminatorLayout={discriminator}:GeneratorLoss={generator_loss}:"
            f"DiscriminatorLoss={discriminator_loss}:VarTransform=N:PixelFloor={THRESHOLD}:"
            f"RandomSeed=1:CheckpointEvery=0:ValidationSize=1000:SelectBy=PHYSICS:"
            f"TrainingStrategy=MaxEpochs={epochs},BatchSize={batch},LearningRate={rate}")
        start = time.perf_counter()
        factory.TrainAllMethods()
    return factory.weights_path("dataset", "GAN"), time.perf_counter() - start


def generated_images(weights, n):
    reader = TMVA.Reader("Silent")
    reader.BookMVA("GAN", weights)
    return reader.Generate("GAN", n, seed=11).reshape(n, -1)


def real_floor(test_events):
    """Mean and spread of W1 between two independent real samples of ``test_events``."""
    draws = [distances(blob_images(test_events, np.random.default_rng([7, i])),
                       blob_images(test_events, np.random.default_rng([8, i])))
             for i in range(FLOOR_PAIRS)]
    return ({name: float(np.mean([d[name] for d in draws])) for name in OBSERVABLES},
            {name: float(np.std([d[name] for d in draws])) for name in OBSERVABLES})


def run(pairs, events, test_events, seconds=None, epochs=None, architecture="dense",
        quiet=False):
    """Train each pair for ``epochs``, or for as many epochs as fit in ``seconds`` (timed
    from a one-epoch run); returns the floor (mean, spread) and, per pair, (pair, epochs,
    seconds, W1 after the first epoch, W1 at the end, epoch table)."""
    rng = np.random.default_rng(2024)
    training = blob_images(events, rng)
    real = blob_images(test_events, rng)
    floor = real_floor(test_events)
    start_folder = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="rootgan-blobs-") as folder:
        os.chdir(folder)  # the Factory writes <dataset>/weights/ below the working folder
        try:
            rows = _train_pairs(folder, pairs, architecture, training, real, test_events,
                                seconds, epochs, quiet)
        finally:
            os.chdir(start_folder)
    return floor, rows


def _train_pairs(folder, pairs, architecture, training, real, test_events, seconds, epochs,
                 quiet):
    path = os.path.join(folder, "blobs.root")
    with uproot.recreate(path) as handle:
        handle.mktree("blobs", {"image": ("f4", (SIZE * SIZE,))})
        handle["blobs"].extend({"image": training})
    rows = []
    if seconds:  # compile the kernels first: a cold first epoch would shrink the budget
        for pair in pairs:
            train(path, pair, architecture, 1, folder, "warm_up_" + pair.replace("/", "_"))
    for pair in pairs:
        title = pair.replace("/", "_")
        one, _ = train(path, pair, architecture, 1, folder, title + "_first")
        count = epochs or max(1, int(seconds /
                                     read_weights(one).method["history"]["seconds"][0]))
        final, total_seconds = train(path, pair, architecture, count, folder, title)
        rows.append((pair, count, total_seconds,
                     distances(generated_images(one, test_events), real),
                     distances(generated_images(final, test_events), real),
                     read_weights(final).method))
        if not quiet:
            print(f"  trained {pair}: {count} epochs in {total_seconds:.0f} s", flush=True)
    return rows


def epoch_table(method):
    """The per-epoch history the weights file keeps, as MethodGAN printed it."""
    history = method["history"]
    lines = [EPOCH_HEADER]
    for i, epoch in enumerate(history["epoch"]):
        means = [history[name][i] for name in ("loss_D", "loss_G", "D_real", "D_fake")]
        lines.append(epoch_line(int(epoch), means, history["metric"][i],
                                history["seconds"][i], history["events_per_second"][i],
                                "*" if int(epoch) == method["best_epoch"] else " "))
    return "\n".join(lines)


def report(floor, rows, test_events, epochs_of=None):
    mean, spread = floor
    print(f"\nW1(generated, real) on {test_events:,} events; floor = mean W1(real, real) over "
          f"{FLOOR_PAIRS} pairs of real samples (spread in brackets); first = after epoch 1")
    print(f"{'pair':<26} {'epochs':>6} {'s':>5}  " + "  ".join(
        f"{name:>24}" for name in OBSERVABLES))
    print(f"{'floor (real vs real)':<26} {'':>6} {'':>5}  " + "  ".join(
        f"{f'{mean[n]:.4f} ({spread[n]:.4f})':>24}" for n in OBSERVABLES))
    for pair, epochs, seconds, first, final, _ in rows:
        cells = [f"{final[n]:8.4f} ({final[n] / mean[n]:4.1f}x, {final[n] / first[n]:4.2f}f)"
                 for n in OBSERVABLES]
        print(f"{pair:<26} {epochs:>6} {seconds:>5.0f}  " + "  ".join(f"{c:>24}" for c in cells))
    print("cells: W1 (W1 / floor, W1 / first-epoch W1)")
    default = rows[0]
    within = all(default[4][n] <= 3 * mean[n] for n in OBSERVABLES)
    halved = all(final[n] < 0.5 * first[n] for _, _, _, first, final, _ in rows
                 for n in OBSERVABLES)
    print(f"{default[0]}: every W1 <= 3x floor: {'yes' if within else 'NO'}")
    print(f"every pair: every W1 below half its first-epoch value: {'yes' if halved else 'NO'}")
    if epochs_of:
        for pair, *_, method in rows:
            if pair in epochs_of:
                print(f"\nepoch table of {pair} (* = the epoch the weights file keeps, by "
                      f"SelectBy=PHYSICS)\n{epoch_table(method)}")
    return within, halved


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="training budget per loss pair (default 60)")
    parser.add_argument("--pairs", nargs="+", default=["all"],
                        help="loss pairs (GeneratorLoss/DiscriminatorLoss) or 'all'")
    parser.add_argument("--architecture", choices=sorted(ARCHITECTURES), default="dense",
                        help="networks to train (default dense; benchmark = benchmark-gan.md)")
    parser.add_argument("--events", type=int, default=10_000, help="training images")
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds: default pair, 2,000 training images, 5 s")
    args = parser.parse_args()
    pairs = PAIRS if args.pairs == ["all"] else tuple(args.pairs)
    if args.quick:
        args.seconds, args.events, pairs = 5.0, 2_000, PAIRS[:1]
    print(f"blob quality: {args.architecture} networks, {len(pairs)} loss pair(s), "
          f"~{args.seconds:g} s each, {args.events:,} training images of {SIZE}x{SIZE}")
    floor, rows = run(pairs, args.events, 2_000, seconds=args.seconds,
                      architecture=args.architecture)
    report(floor, rows, 2_000, epochs_of=pairs[:1])


if __name__ == "__main__":
    main()
