"""Do the GAN variants learn? Conditional (CGAN, ACGAN), Wasserstein and least-squares GANs
on the synthetic blob family of ``quality_blobs.py``, booked through the TMVA interface.

Each 25x25 image holds one Gaussian blob (centre, width drawn uniformly) whose intensity is
its condition ``energy``, uniform in [50, 150]; pixels below 0.05 are zero-suppressed. Every
variant trains the ``dense`` networks of ``quality_blobs.py`` for about ``--seconds``
(WGANs, whose generator learns once per 5 critic steps, for WGAN_BUDGET times that).

- CGAN and ACGAN are conditioned on the energy: each of 2,000 test events' energies gets a
  generated image; in 5 quantile bins of the energy, the mean intensity of the generated
  images is compared with that of the real ones (target: within 10%) and the W1 distance of
  their intensity distributions with the real-vs-real floor in that bin (target: <= 3x).
- ACGAN: the correlation of the auxiliary head's predicted energy with the true energy of
  real test images (target: > 0.9).
- WGAN with weight clipping, WGAN with spectral normalisation, LSGAN (unconditional, energy
  not declared): W1 of the intensity over all events <= 3x the floor (and the other blob
  observables are printed too).

The floor in a bin is the mean W1 between the events in that bin of two independent real
samples (energies drawn independently, as two halves of a real sample differ), over
FLOOR_PAIRS pairs; generated images get the test events' own energies.

    python benchmarks/quality_variants.py [--seconds 90] [--variants CGAN ACGAN ...]
    python benchmarks/quality_variants.py --quick     # seconds long (the tests use it)
"""

import argparse
import contextlib
import io
import os
import tempfile
import time

import numpy as np
import uproot
from quality_blobs import ARCHITECTURES, OBSERVABLES, SIZE, THRESHOLD, blob_images, observables
from scipy.stats import wasserstein_distance

from rootgan import TMVA
from rootgan.io.weights import read_weights

FLOOR_PAIRS = 10
BINS = 5
# a WGAN's generator gets one update per 5 critic updates: WGANs get this many times the
# budget of the others
WGAN_BUDGET = 3
G_DENSE, D_DENSE, DENSE_OPTIONS, BATCH, RATE = ARCHITECTURES["dense"]
D_SPECTRAL = ",".join(f"{layer}|SPECTRALNORM" if not layer.startswith("RESHAPE") else layer
                      for layer in D_DENSE.split(","))
# name: (options, conditioned on the energy, TrainingStrategy settings added)
VARIANTS = {
    "CGAN": ("GANType=CGAN:VarTransform=N", True, ""),
    "CGAN-Scale": ("GANType=CGAN:VarTransform=Scale:ScaleBy=energy", True, ""),
    "ACGAN": ("GANType=ACGAN:VarTransform=N", True, ""),
    # Adam with beta1 = 0, beta2 = 0.9 as in the WGAN-GP and SNGAN papers (measured here:
    # intensity W1 / floor 3.4 against 5.8 with beta1 = 0.5, beta2 = 0.999, 90 s); clip 0.05,
    # as 0.01 left the clipped critic too weak (6.6 against 5.1) and 0.1 too loose (8.9),
    # with 2 critic steps per generator step (2.3; 5 steps stall at 5.1), all 90 s
    "WGAN-clip": ("GANType=WGAN:VarTransform=N:WeightClip=0.05:DiscriminatorSteps=2", False,
                  "Beta1=0,Beta2=0.9"),
    "WGAN-SN": (f"GANType=WGAN:VarTransform=N:DiscriminatorLayout={D_SPECTRAL}", False,
                "Beta1=0,Beta2=0.9"),
    "LSGAN": ("GANType=LSGAN:VarTransform=N", False, ""),
}


def conditional_blobs(n, rng):
    """Blob images and their energies (the blob's intensity before zero suppression)."""
    energy = rng.uniform(50, 150, n)
    return blob_images(n, rng, energy), energy


def train(path, variant, epochs, folder, title, extra="", phase_extra=""):
    """Book and train one variant through the Factory (``extra``: options appended);
    returns (weights path, seconds, method)."""
    options, conditional, phase = VARIANTS[variant]
    phase = ",".join(p for p in (phase, phase_extra) if p)
    if "DiscriminatorLayout" not in options:
        options += f":DiscriminatorLayout={D_DENSE}"
    with contextlib.redirect_stdout(io.StringIO()):
        loader = TMVA.DataLoader("dataset")
        loader.AddVariablesArray("image", SIZE * SIZE)
        if conditional:
            loader.AddCondition("energy")
        loader.AddSignalTree(f"{path}:blobs")
        loader.PrepareTrainingAndTestTree("", "SplitMode=Block:nTest_Signal=1")
        factory = TMVA.Factory(title, os.path.join(folder, f"{title}.root"), "Silent")
        method = factory.BookMethod(
            loader, TMVA.Types.kGAN, "GAN",
            f"InputLayout=1|{SIZE}|{SIZE}:{DENSE_OPTIONS}:GeneratorLayout={G_DENSE}:"
            f"{options}:PixelFloor={THRESHOLD}:RandomSeed=1:CheckpointEvery=0:"
            f"ValidationSize=1000:SelectBy=PHYSICS:"
            f"TrainingStrategy=MaxEpochs={epochs},BatchSize={BATCH},LearningRate={RATE}"
            + (f",{phase}" if phase else "") + (f":{extra}" if extra else ""))
        start = time.perf_counter()
        factory.TrainAllMethods()
    return factory.weights_path("dataset", "GAN"), time.perf_counter() - start, method


def energy_bins(energy):
    return np.quantile(energy, np.linspace(0, 1, BINS + 1))


def in_bin(values, edges, i):
    upper = values <= edges[i + 1] if i == BINS - 1 else values < edges[i + 1]
    return (values >= edges[i]) & upper


def binned_floor(n, edges):
    """Per bin: mean W1 of intensity between the events in that bin of two independent real
    samples of ``n`` events (energies drawn independently, as two halves of a real sample
    differ)."""
    floors = np.zeros(BINS)
    for pair in range(FLOOR_PAIRS):
        one, energy_one = conditional_blobs(n, np.random.default_rng([7, pair]))
        two, energy_two = conditional_blobs(n, np.random.default_rng([8, pair]))
        for i in range(BINS):
            a = one[in_bin(energy_one, edges, i)].sum(axis=1)
            b = two[in_bin(energy_two, edges, i)].sum(axis=1)
            floors[i] += wasserstein_distance(a, b) / FLOOR_PAIRS
    return floors


def overall_floor(n):
    draws = [observables_w1(blob_images(n, np.random.default_rng([7, i])),
                            blob_images(n, np.random.default_rng([8, i])))
             for i in range(FLOOR_PAIRS)]
    return {name: float(np.mean([d[name] for d in draws])) for name in OBSERVABLES}


def observables_w1(generated, real):
    ours, theirs = observables(generated), observables(real)
    return {name: wasserstein_distance(ours[name], theirs[name]) for name in OBSERVABLES}


def judge(variant, weights, method, real, energy, floors):
    """The variant's numbers: per energy bin (conditional) or overall."""
    _, conditional, _ = VARIANTS[variant]
    reader = TMVA.Reader("Silent")
    with contextlib.redirect_stdout(io.StringIO()):
        reader.BookMVA("GAN", weights)
    n = len(real)
    result = {"epochs": len(read_weights(weights).method["history"]["epoch"])}
    if not conditional:
        generated = reader.Generate("GAN", n, seed=11).reshape(n, -1)
        result["overall"] = observables_w1(generated, real)
        result["means"] = (real.sum(axis=1).mean(), generated.sum(axis=1).mean())
        return result
    generated = reader.Generate("GAN", n, seed=11, conditions={"energy": energy}).reshape(n, -1)
    edges = energy_bins(energy)
    rows = []
    for i in range(BINS):
        mask = in_bin(energy, edges, i)
        fake, true = generated[mask].sum(axis=1), real[mask].sum(axis=1)
        rows.append((edges[i], edges[i + 1], true.mean(), fake.mean(),
                     wasserstein_distance(fake, true), floors[i]))
    result["bins"] = rows
    if variant.startswith("ACGAN"):
        loaded = reader._method("GAN")
        predicted = loaded.auxiliary_predictions({"image": real, "energy": energy})[:, 0]
        result["correlation"] = float(np.corrcoef(predicted, energy)[0, 1])
    return result


def run(variants, events, test_events, seconds=None, epochs=None, quiet=False, extra="",
        phase_extra=""):
    """Train each variant for ``epochs`` or about ``seconds``; returns {variant: result},
    the overall floor and the per-bin floors."""
    rng = np.random.default_rng(2024)
    training, training_energy = conditional_blobs(events, rng)
    real, energy = conditional_blobs(test_events, rng)
    floors = binned_floor(test_events, energy_bins(energy))
    floor = overall_floor(test_events)
    start_folder = os.getcwd()
    results = {}
    with tempfile.TemporaryDirectory(prefix="rootgan-variants-") as folder:
        os.chdir(folder)  # the Factory writes <dataset>/weights/ below the working folder
        try:
            path = os.path.join(folder, "blobs.root")
            with uproot.recreate(path) as handle:
                handle.mktree("blobs", {"image": ("f4", (SIZE * SIZE,)), "energy": "f8"})
                handle["blobs"].extend({"image": training, "energy": training_energy})
            for variant in variants:
                count = epochs
                if count is None:  # time a warm epoch, then as many as fit the budget
                    one, _, _ = train(path, variant, 2, folder, variant + "_timing", extra,
                                      phase_extra)
                    budget = seconds * (WGAN_BUDGET if variant.startswith("WGAN") else 1)
                    count = max(1, int(budget / read_weights(one).method["history"]
                                       ["seconds"][-1]))
                weights, spent, method = train(path, variant, count, folder, variant, extra,
                                               phase_extra)
                results[variant] = judge(variant, weights, method, real, energy, floors)
                results[variant]["seconds"] = spent
                if not quiet:
                    print(f"  trained {variant}: {count} epochs in {spent:.0f} s", flush=True)
        finally:
            os.chdir(start_folder)
    return results, floor


def report(results, floor, test_events):
    """Prints the tables; returns {variant: every target met}."""
    met = {}
    print(f"\nconditional variants: {test_events:,} test events in {BINS} energy bins; "
          f"floor = mean W1(real, real) over {FLOOR_PAIRS} pairs")
    print(f"{'variant':<11} {'energy bin':>14} {'real mean':>10} {'gen mean':>9} {'diff':>7} "
          f"{'W1':>8} {'floor':>7} {'W1/floor':>8}")
    for variant, result in results.items():
        if "bins" not in result:
            continue
        ok = True
        for low, high, true, fake, w1, fl in result["bins"]:
            difference = (fake - true) / true
            ok &= abs(difference) <= 0.10 and w1 <= 3 * fl
            print(f"{variant:<11} {f'[{low:.0f}, {high:.0f}]':>14} {true:10.2f} {fake:9.2f} "
                  f"{difference:+7.1%} {w1:8.3f} {fl:7.3f} {w1 / fl:8.2f}")
        if "correlation" in result:
            ok &= result["correlation"] > 0.9
            print(f"{variant:<11} auxiliary head: correlation(predicted, true energy) on real "
                  f"test images = {result['correlation']:.4f}")
        met[variant] = ok
    print(f"\nunconditional variants: W1(generated, real) / floor on {test_events:,} events")
    print(f"{'variant':<11} " + " ".join(f"{name:>16}" for name in OBSERVABLES)
          + "   mean intensity real, generated")
    for variant, result in results.items():
        if "overall" not in result:
            continue
        ratios = {n: result["overall"][n] / floor[n] for n in OBSERVABLES}
        met[variant] = ratios["total intensity"] <= 3
        print(f"{variant:<11} " + " ".join(f"{ratios[n]:16.2f}" for n in OBSERVABLES)
              + "   {:.2f}, {:.2f}".format(*result["means"]))
    print(f"\n{'variant':<11} {'epochs':>6} {'seconds':>8}  targets met")
    for variant, result in results.items():
        print(f"{variant:<11} {result['epochs']:>6} {result['seconds']:>8.0f}  "
              f"{'yes' if met[variant] else 'NO'}")
    return met


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=90.0,
                        help="training budget per variant (default 90)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS),
                        choices=list(VARIANTS))
    parser.add_argument("--events", type=int, default=10_000, help="training images")
    parser.add_argument("--extra", default="",
                        help="options appended to every variant's (to try settings)")
    parser.add_argument("--phase-extra", default="",
                        help="TrainingStrategy settings appended to every variant's")
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds per variant: 2,000 training images, 4 epochs")
    args = parser.parse_args()
    if args.quick:
        results, floor = run(args.variants, 2_000, 1_000, epochs=4)
        report(results, floor, 1_000)
        return
    print(f"variant quality: {len(args.variants)} variants, ~{args.seconds:g} s each, "
          f"{args.events:,} training images of {SIZE}x{SIZE}")
    results, floor = run(args.variants, args.events, 2_000, seconds=args.seconds,
                         extra=args.extra, phase_extra=args.phase_extra)
    report(results, floor, 2_000)


if __name__ == "__main__":
    main()
