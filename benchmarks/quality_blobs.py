"""Does a GAN booked through the TMVA interface learn a simple image family?

Synthetic 25x25 images, one Gaussian blob each with random position, width and total
intensity, are written to a ROOT file and read back through the DataLoader; a small GAN is
booked with the Factory for each matched loss pair and trained for about ``--seconds``;
2,000 events generated from its weights file are compared with 2,000 real ones on the
physics of the family: total intensity, blob width and centroid position (x and y). Each
1-Wasserstein distance W1(generated, real) is reported next to the real-vs-real floor (two
independent real samples) and next to its value after the first epoch.

Targets (issue "MethodGAN"): for the default pair, every W1 <= 3x its floor; for every pair,
every W1 below half its first-epoch value.

    python benchmarks/quality_blobs.py [--seconds 60] [--pairs all|NONSATURATING/BCE ...]
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
from scipy.stats import wasserstein_distance

from rootgan import TMVA
from rootgan.io.weights import read_weights

SIZE = 25
THRESHOLD = 0.05  # zero suppression of the real images, and PixelFloor of the generated ones
PAIRS = ("NONSATURATING/BCE", "MINIMAX/BCE", "LEASTSQUARES/LEASTSQUARES", "HINGE/HINGE")
GENERATOR = ("DENSE|5408|LEAKYRELU,RESHAPE|32|13|13,UPSAMPLE|2|2,CONV|16|4|4|1|1|1|1|LEAKYRELU,"
             "CONV|1|3|3|1|1|1|1|RELU")
DISCRIMINATOR = ("CONV|16|5|5|1|1|2|2|LEAKYRELU,MAXPOOL|2|2|2|2,CONV|32|3|3|1|1|1|1|LEAKYRELU,"
                 "MAXPOOL|2|2|2|2,RESHAPE|FLAT,DENSE|64|LEAKYRELU,DENSE|1|LINEAR")
OBSERVABLES = ("total intensity", "blob width", "centroid x", "centroid y")


def blob_images(n, rng):
    """Gaussian blobs: centre uniform in [9, 15] pixels, width in [1, 2.5], intensity in
    [50, 150] (the sum over the image, up to what falls outside it), pixels below THRESHOLD
    zero-suppressed as a detector would."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    cx, cy = rng.uniform(9, 15, (2, n, 1, 1))
    width = rng.uniform(1.0, 2.5, (n, 1, 1))
    total = rng.uniform(50, 150, (n, 1, 1))
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


def train(path, pair, epochs, batch, folder, title):
    """Book and train one GAN through the Factory; returns (weights path, seconds)."""
    generator_loss, discriminator_loss = pair.split("/")
    with contextlib.redirect_stdout(io.StringIO()):
        loader = TMVA.DataLoader("dataset")
        loader.AddVariablesArray("image", SIZE * SIZE)
        loader.AddSignalTree(f"{path}:blobs")
        loader.PrepareTrainingAndTestTree("", "SplitMode=Block:nTest_Signal=1")
        factory = TMVA.Factory(title, os.path.join(folder, f"{title}.root"), "Silent")
        factory.BookMethod(
            loader, TMVA.Types.kGAN, "GAN",
            f"InputLayout=1|{SIZE}|{SIZE}:LatentDim=32:GeneratorLayout={GENERATOR}:"
            f"DiscriminatorLayout={DISCRIMINATOR}:GeneratorLoss={generator_loss}:"
            f"DiscriminatorLoss={discriminator_loss}:VarTransform=N:PixelFloor={THRESHOLD}:"
            f"RandomSeed=1:"
            f"CheckpointEvery=0:ValidationSize=1000:SelectBy=PHYSICS:"
            f"TrainingStrategy=MaxEpochs={epochs},BatchSize={batch},LearningRate=2e-4")
        start = time.perf_counter()
        factory.TrainAllMethods()
    return factory.weights_path("dataset", "GAN"), time.perf_counter() - start


def generated_images(weights, n):
    reader = TMVA.Reader("Silent")
    reader.BookMVA("GAN", weights)
    return reader.Generate("GAN", n, seed=11).reshape(n, -1)


def run(pairs, events, test_events, seconds=None, epochs=None, quiet=False):
    """Train each pair for ``epochs``, or for as many epochs as fit in ``seconds`` (timed
    from a one-epoch run); returns the floor and, per pair, (pair, epochs, seconds, W1 after
    the first epoch, W1 at the end)."""
    rng = np.random.default_rng(2024)
    training = blob_images(events, rng)
    real, floor_sample = blob_images(test_events, rng), blob_images(test_events, rng)
    floor = distances(floor_sample, real)
    start_folder = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="rootgan-blobs-") as folder:
        os.chdir(folder)  # the Factory writes <dataset>/weights/ below the working folder
        try:
            rows = _train_pairs(folder, pairs, training, real, test_events, seconds, epochs,
                                quiet)
        finally:
            os.chdir(start_folder)
    return floor, rows


def _train_pairs(folder, pairs, training, real, test_events, seconds, epochs, quiet):
    path = os.path.join(folder, "blobs.root")
    with uproot.recreate(path) as handle:
        handle.mktree("blobs", {"image": ("f4", (SIZE * SIZE,))})
        handle["blobs"].extend({"image": training})
    rows = []
    for pair in pairs:
        title = pair.replace("/", "_")
        one, _ = train(path, pair, 1, 64, folder, title + "_first")
        count = epochs or max(1, int(seconds /
                                     read_weights(one).method["history"]["seconds"][0]))
        final, total_seconds = train(path, pair, count, 64, folder, title)
        rows.append((pair, count, total_seconds,
                     distances(generated_images(one, test_events), real),
                     distances(generated_images(final, test_events), real)))
        if not quiet:
            print(f"  trained {pair}: {count} epochs in {total_seconds:.0f} s", flush=True)
    return rows


def report(floor, rows, test_events):
    print(f"\nW1(generated, real) on {test_events:,} events; floor = W1(real, real); "
          f"first = after epoch 1")
    header = f"{'pair':<26} {'epochs':>6} {'s':>5}  " + "  ".join(
        f"{name:>24}" for name in OBSERVABLES)
    print(header)
    print(f"{'floor (real vs real)':<26} {'':>6} {'':>5}  " + "  ".join(
        f"{floor[name]:>24.4f}" for name in OBSERVABLES))
    for pair, epochs, seconds, first, final in rows:
        cells = [f"{final[n]:8.4f} ({final[n] / floor[n]:4.1f}x, {final[n] / first[n]:4.2f}f)"
                 for n in OBSERVABLES]
        print(f"{pair:<26} {epochs:>6} {seconds:>5.0f}  " + "  ".join(f"{c:>24}" for c in cells))
    print("cells: W1 (W1 / floor, W1 / first-epoch W1)")
    default = rows[0]
    within = all(default[4][n] <= 3 * floor[n] for n in OBSERVABLES)
    halved = all(final[n] < 0.5 * first[n] for _, _, _, first, final in rows
                 for n in OBSERVABLES)
    print(f"{default[0]}: every W1 <= 3x floor: {'yes' if within else 'NO'}")
    print(f"every pair: every W1 below half its first-epoch value: {'yes' if halved else 'NO'}")
    return within, halved


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="training budget per loss pair (default 60)")
    parser.add_argument("--pairs", nargs="+", default=["all"],
                        help="loss pairs (GeneratorLoss/DiscriminatorLoss) or 'all'")
    parser.add_argument("--events", type=int, default=10_000, help="training images")
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds: default pair, 2,000 training images, 5 s")
    args = parser.parse_args()
    pairs = PAIRS if args.pairs == ["all"] else tuple(args.pairs)
    if args.quick:
        args.seconds, args.events, pairs = 5.0, 2_000, PAIRS[:1]
    print(f"blob quality: {len(pairs)} loss pair(s), ~{args.seconds:g} s each, "
          f"{args.events:,} training images of {SIZE}x{SIZE}")
    floor, rows = run(pairs, args.events, 2_000, seconds=args.seconds)
    report(floor, rows, 2_000)


if __name__ == "__main__":
    main()
