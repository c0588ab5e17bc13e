"""Real vs generated jet images: observables, distances with a statistical floor, plots.

One implementation for ``macros/compare.py``, ``macros/train_jet_gan.py`` and, later,
``rootgan compare``. The floor of an observable is the 1-Wasserstein distance between two
random halves of the real sample; the generated sample is compared with one half, at the
same size, and both are averaged over SPLITS random splits (one split alone scatters by
about 50%). A ratio near 1 means "as close as another real sample would be".
"""

import os

import numpy as np
from scipy.stats import wasserstein_distance

from ..errors import DataError
from .jets import JET_EXTENT, image_mass_pt, image_tau21

SPLITS = 10
JET_OBSERVABLES = {
    "mass": ("image mass", "GeV"),
    "tau21": ("N-subjettiness #tau_{21}", ""),
    "total pT": ("summed pixel p_{T}", "GeV"),
    "non-zero pixels": ("non-zero pixels", ""),
    "pixel spectrum": ("non-zero pixel p_{T}", "GeV"),
}


def jet_observables(images, shape=(25, 25), extent=JET_EXTENT):
    """Per-event observables of jet images and the pooled non-zero pixel values."""
    pixels = _checked(images, shape)
    observed = _per_event(pixels, shape, extent)
    observed["pixel spectrum"] = pixels[pixels > 0]
    return observed


def _checked(images, shape):
    pixels = np.asarray(images, np.float64).reshape(len(images), -1)
    if pixels.shape[1] != shape[0] * shape[1]:
        raise DataError(f"jet images of {shape[0]}x{shape[1]} need {shape[0] * shape[1]} "
                        f"pixels per event; got {pixels.shape[1]}")
    if not np.all(np.isfinite(pixels)):
        raise DataError("the images hold NaN or infinite pixels")
    return pixels


def _per_event(pixels, shape=(25, 25), extent=JET_EXTENT):
    mass, _ = image_mass_pt(pixels, shape, extent)
    return {"mass": mass, "tau21": image_tau21(pixels, shape, extent),
            "total pT": pixels.sum(axis=1),
            "non-zero pixels": (pixels > 0).sum(axis=1).astype(np.float64)}


def _subset(pixels, observed, rows):
    """The observables of the events ``rows``, from those already computed."""
    chosen = {name: values[rows] for name, values in observed.items()}
    chosen["pixel spectrum"] = pixels[rows][pixels[rows] > 0]
    return chosen


def distance_table(real, generated, seed=0):
    """{observable: (W1 generated vs real half, floor W1 real half vs real half, ratio)},
    each W1 the mean over SPLITS random halvings of the real events. ``real`` and
    ``generated`` are image arrays (n, pixels)."""
    real = _checked(real, (25, 25))
    generated = _checked(generated, (25, 25))
    if len(real) < 4 or len(generated) < 2:
        raise DataError(f"comparing needs at least 4 real and 2 generated events; got "
                        f"{len(real)} and {len(generated)}")
    observed_real, observed_generated = _per_event(real), _per_event(generated)
    rng = np.random.default_rng(seed)
    half = len(real) // 2
    sums = {name: np.zeros(2) for name in JET_OBSERVABLES}
    for _ in range(SPLITS):
        order = rng.permutation(len(real))
        first = _subset(real, observed_real, order[:half])
        second = _subset(real, observed_real, order[half:2 * half])
        ours = _subset(generated, observed_generated,
                       rng.permutation(len(generated))[:half])
        for name in JET_OBSERVABLES:
            sums[name] += (wasserstein_distance(ours[name], first[name]),
                           wasserstein_distance(second[name], first[name]))
    table = {}
    for name, (w1, floor) in sums.items():
        w1, floor = w1 / SPLITS, floor / SPLITS
        table[name] = (w1, floor, w1 / floor if floor > 0 else float("inf"))
    return table


def format_table(table):
    lines = [f"{'observable':<18} {'W1(gen, real)':>14} {'W1(real, real)':>15} {'ratio':>7}"]
    for name, (w1, floor, ratio) in table.items():
        lines.append(f"{name:<18} {w1:>14.4g} {floor:>15.4g} {ratio:>7.2f}")
    return "\n".join(lines)


def summary(images):
    """Mass peak (mode of a 2-GeV histogram), tau21 median and non-zero pixel fraction."""
    observed = jet_observables(images)
    counts, edges = np.histogram(observed["mass"], bins=np.arange(0, 202, 2))
    return {"mass peak": float(edges[np.argmax(counts)] + 1),
            "tau21 median": float(np.median(observed["tau21"])),
            "non-zero fraction": float(observed["non-zero pixels"].mean()
                                       / np.asarray(images).reshape(len(images), -1).shape[1])}


def plot_comparison(real, generated, out_dir, label="generated", extent=JET_EXTENT):
    """PNG plots in ``out_dir``: mean images and the distributions of every observable.
    Returns the paths written."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    os.makedirs(out_dir, exist_ok=True)
    real = np.asarray(real, np.float64).reshape(len(real), -1)
    generated = np.asarray(generated, np.float64).reshape(len(generated), -1)
    side = int(round(np.sqrt(real.shape[1])))
    paths = []

    figure, axes = plt.subplots(1, 2, figsize=(10, 4.4), constrained_layout=True)
    means = [real.mean(axis=0).reshape(side, side), generated.mean(axis=0).reshape(side, side)]
    positive = np.concatenate([m[m > 0] for m in means])
    norm = LogNorm(vmin=max(positive.min(), positive.max() * 1e-4), vmax=positive.max()) \
        if positive.size else None
    for axis, mean, title in zip(axes, means, ("real", label)):
        shown = axis.imshow(np.where(mean > 0, mean, np.nan), origin="lower", norm=norm,
                            extent=(-extent, extent, -extent, extent), cmap="viridis")
        axis.set_title(f"mean image, {title} ({len(real) if title == 'real' else len(generated):,} "
                       f"jets)")
        axis.set_xlabel("pseudorapidity (translated, rotated)")
        axis.set_ylabel("azimuth (translated, rotated)")
    figure.colorbar(shown, ax=axes, label="mean pixel pT [GeV]")
    paths.append(os.path.join(out_dir, "mean_images.png"))
    figure.savefig(paths[-1], dpi=110)
    plt.close(figure)

    ours, theirs = jet_observables(generated), jet_observables(real)
    figure, axes = plt.subplots(2, 3, figsize=(14, 8), constrained_layout=True)
    for axis, (name, (title, unit)) in zip(axes.ravel(), JET_OBSERVABLES.items()):
        values = np.concatenate([theirs[name], ours[name]])
        if name == "pixel spectrum":
            low = max(values[values > 0].min(), 1e-3)
            bins = np.geomspace(low, values.max(), 50)
            axis.set_xscale("log")
            axis.set_yscale("log")
        elif name == "non-zero pixels":
            bins = np.arange(values.min() - 0.5, values.max() + 1.5)
        else:
            bins = np.linspace(np.percentile(values, 0.5), np.percentile(values, 99.5), 50)
        axis.hist(theirs[name], bins=bins, histtype="stepfilled", alpha=0.35, density=True,
                  label="real", color="tab:blue")
        axis.hist(ours[name], bins=bins, histtype="step", linewidth=1.8, density=True,
                  label=label, color="tab:red")
        axis.set_xlabel(title.replace("#tau_{21}", r"$\tau_{21}$").replace("p_{T}", r"$p_T$")
                        + (f" [{unit}]" if unit else ""))
        axis.set_ylabel("normalised")
        axis.legend()
    axes.ravel()[-1].axis("off")
    paths.append(os.path.join(out_dir, "observables.png"))
    figure.savefig(paths[-1], dpi=110)
    plt.close(figure)
    return paths
