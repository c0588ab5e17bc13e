"""Distances between a generated and a real sample, each with an uncertainty and, where it
makes sense, the statistical floor: the same distance between two halves of the real sample.

- 1-Wasserstein per observable (event weights respected): over ``REPLICAS`` random
  halvings of the real sample, W1(generated, real half A) with the generated events drawn
  at the size of the half, and the floor W1(real half B, real half A). The distance is
  the mean, its uncertainty the standard deviation over the replicas (as JetNet's
  ``w1m`` reports the mean and spread over batches); a ratio near 1 means "as close as
  another real sample would be".
- chi2 per histogram: ROOT's ``TH1::Chi2Test`` for two weighted histograms ("WW").
- Frechet and kernel physics distances (FPD, KPD) on the per-event observable vector, as
  JetNet defines them (Kansal et al., arXiv:2211.10295): features divided by the largest
  absolute real value; FPD = the Frechet distance of Gaussians fitted at batch sizes
  regular in 1/N, extrapolated linearly to N = infinity (value and fit error); KPD = the
  unbiased MMD^2 with the polynomial kernel (x.y/d + 1)^4 over 10 batches (median and
  half the 16-84% spread). JetNet's batch sizes (20k-50k, 5k) are capped at the sample size.
"""

import warnings

import numpy as np
from scipy import linalg
from scipy.optimize import curve_fit
from scipy.stats import wasserstein_distance

from ..errors import DataError

REPLICAS = 20


class Row:
    """One line of the metric table."""

    def __init__(self, name, distance, uncertainty, floor=np.nan, chi2=np.nan, ndf=0,
                 kind="W1"):
        self.name, self.kind = name, kind
        self.distance, self.uncertainty, self.floor = float(distance), float(uncertainty), \
            float(floor)
        self.chi2, self.ndf = float(chi2), int(ndf)

    @property
    def ratio(self):
        # FPD and KPD of identical samples scatter around 0: no ratio to speak of
        if self.kind != "W1" or not self.floor > 0:
            return np.nan
        return self.distance / self.floor


def _halvings(n_real, n_generated, rng):
    half = n_real // 2
    real_order = rng.permutation(n_real)
    if n_generated >= half:
        generated = rng.permutation(n_generated)[:half]
    else:  # fewer generated events than a half: all of them
        generated = np.arange(n_generated)
    return real_order[:half], real_order[half:2 * half], generated


def wasserstein_rows(real, generated, seed=0, replicas=REPLICAS):
    """A W1 :class:`Row` (with chi2) per observable the two :class:`Measured` share."""
    if len(real) < 4 or len(generated) < 2:
        raise DataError(f"comparing needs at least 4 real and 2 generated events (the floor "
                        f"splits the real sample in two halves); got {len(real)} and "
                        f"{len(generated)}: compare larger samples")
    rng = np.random.default_rng(seed)
    names = [o.name for o in real.observables
             if o.name in generated.events or o.name in generated.pooled]
    distances = {name: np.zeros((replicas, 2)) for name in names}
    for replica in range(replicas):
        first, second, ours = _halvings(len(real), len(generated), rng)
        for name in names:
            a, b, g = real.values(name, first), real.values(name, second), \
                generated.values(name, ours)
            distances[name][replica] = (_w1(g, a), _w1(b, a))
    rows = []
    for observable in real.observables:
        if observable.name not in distances:
            continue
        values = distances[observable.name]
        chi2, ndf = chi2_test(real, generated, observable)
        with np.errstate(invalid="ignore"):  # an infinite distance has no spread
            spread = values[:, 0].std(ddof=1)
        rows.append(Row(observable.name, values[:, 0].mean(), spread, values[:, 1].mean(),
                        chi2, ndf))
    return rows


def _w1(first, second):
    (u, u_weights), (v, v_weights) = first, second
    if u.size == 0 or v.size == 0 or u_weights.sum() <= 0 or v_weights.sum() <= 0:
        # one sample has no entries (all-zero images have no pixel spectrum) while the
        # other has: infinitely far, not "no data"
        return 0.0 if u.size == v.size == 0 else np.inf
    return wasserstein_distance(u, v, u_weights, v_weights)


def histogram_edges(observable, *samples):
    """Common bin edges for an observable's histograms: integers for counts, else 40 bins
    (logarithmic for log-scale observables) over the central 99% of both samples."""
    values = np.concatenate([s[0] for s in samples])
    if values.size == 0:
        return np.array([0.0, 1.0])
    if observable.integer:
        low, high = np.floor(values.min()), np.ceil(values.max())
        step = max(1.0, np.ceil((high - low + 1) / 60))
        return np.arange(low - 0.5, high + step + 0.5, step)
    if observable.log_scale:
        positive = values[values > 0]
        if positive.size == 0:
            return np.array([0.0, 1.0])
        # from the 0.5th percentile: a few round-off-sized values (1e-13) would otherwise
        # spend most log bins on nothing
        low, high = np.percentile(positive, 0.5), positive.max()
        return np.geomspace(low, high * 1.0001, 41) if high > low else \
            np.array([low * 0.9, low * 1.1])
    low, high = np.percentile(values, [0.5, 99.5])
    if not high > low:
        low, high = values.min() - 0.5, values.max() + 0.5
    return np.linspace(low, high, 41)


def histogram(values, weights, edges):
    """Weighted counts and sums of squared weights (under- and overflow dropped)."""
    counts = np.histogram(values, edges, weights=weights)[0]
    squares = np.histogram(values, edges, weights=weights ** 2)[0]
    return counts, squares


def chi2_test(real, generated, observable):
    """chi2 and degrees of freedom of two weighted histograms of a per-event observable,
    as ROOT's Chi2Test("WW"): sum_i (W1 w2_i - W2 w1_i)^2 / (W1^2 s2_i^2 + W2^2 s1_i^2),
    ndf = non-empty bins - 1 (none for pooled observables)."""
    if observable.pooled:  # entries of one event are correlated: chi2 would not apply
        return np.nan, 0
    samples = real.values(observable.name), generated.values(observable.name)
    edges = histogram_edges(observable, *samples)
    (w1, s1), (w2, s2) = (histogram(v, w, edges) for v, w in samples)
    total1, total2 = w1.sum(), w2.sum()
    filled = (w1 > 0) | (w2 > 0)
    if total1 <= 0 or total2 <= 0 or filled.sum() < 2:
        return np.nan, 0
    numerator = (total1 * w2[filled] - total2 * w1[filled]) ** 2
    denominator = total1 ** 2 * s2[filled] + total2 ** 2 * s1[filled]
    return float((numerator / denominator).sum()), int(filled.sum() - 1)


# -- Frechet and kernel physics distances -----------------------------------------------
def _resample(features, weights, size, rng):
    """``size`` events drawn with replacement, with probability proportional to weight
    (so weighted samples enter the unweighted JetNet estimators correctly)."""
    p = weights / weights.sum()
    return features[rng.choice(len(features), size=size, p=p)]


def frechet_distance(mean1, cov1, mean2, cov2):
    """||mu1 - mu2||^2 + Tr(C1 + C2 - 2 sqrt(C1 C2)) of two Gaussians."""
    with warnings.catch_warnings():
        # a constant observable makes the product singular: its square root is still fine
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(cov1 @ cov2)
        if not np.isfinite(root).all():  # regularise, as FID implementations do
            offset = np.eye(len(cov1)) * 1e-6
            root = linalg.sqrtm((cov1 + offset) @ (cov2 + offset))
    root = root.real
    difference = mean1 - mean2
    return float(difference @ difference + np.trace(cov1) + np.trace(cov2)
                 - 2 * np.trace(root))


def _normalised(real, generated):
    scale = np.abs(real).max(axis=0)
    scale[scale == 0] = 1
    return real / scale, generated / scale


def fpd(real, generated, real_weights=None, generated_weights=None, points=10, batches=20,
        seed=42):
    """(FPD, error): Frechet distance extrapolated to infinite samples."""
    real, generated, real_weights, generated_weights = _vectors(
        real, generated, real_weights, generated_weights)
    x, y = _normalised(real, generated)
    largest = min(50_000, len(x), len(y))  # JetNet: 20,000 to 50,000
    smallest = max(2 * x.shape[1] + 2, min(20_000, largest // 2))
    sizes = (1 / np.linspace(1 / smallest, 1 / largest, points)).astype(int)
    rng = np.random.default_rng(seed)
    values = []
    for size in sizes:
        per_batch = []
        for _ in range(batches):
            a = _resample(x, real_weights, size, rng)
            b = _resample(y, generated_weights, size, rng)
            per_batch.append(frechet_distance(a.mean(0), np.cov(a, rowvar=False),
                                              b.mean(0), np.cov(b, rowvar=False)))
        values.append(np.mean(per_batch))
    (intercept, _), covariance = curve_fit(lambda n, a, b: a + b * n, 1 / sizes,
                                           np.array(values), bounds=([0, 0], [np.inf, np.inf]))
    return float(intercept), float(np.sqrt(covariance[0, 0]))


def _mmd_polynomial(x, y, degree=4):
    d = x.shape[1]
    xx = (x @ x.T / d + 1) ** degree
    yy = (y @ y.T / d + 1) ** degree
    xy = (x @ y.T / d + 1) ** degree
    m, n = len(x), len(y)
    return ((xx.sum() - np.trace(xx)) / (m * (m - 1)) + (yy.sum() - np.trace(yy))
            / (n * (n - 1)) - 2 * xy.mean())


def kpd(real, generated, real_weights=None, generated_weights=None, batches=10,
        batch_size=5000, seed=42):
    """(KPD, error): median unbiased MMD^2 over batches and half its 16-84% spread."""
    real, generated, real_weights, generated_weights = _vectors(
        real, generated, real_weights, generated_weights)
    x, y = _normalised(real, generated)
    size = min(batch_size, len(x), len(y))
    values = []
    for batch in range(batches):
        rng = np.random.default_rng(seed + 1000 * batch)
        values.append(_mmd_polynomial(_resample(x, real_weights, size, rng),
                                      _resample(y, generated_weights, size, rng)))
    low, high = np.percentile(values, [16.275, 83.725])
    return float(np.median(values)), float((high - low) / 2)


def _vectors(real, generated, real_weights, generated_weights):
    real, generated = np.asarray(real, np.float64), np.asarray(generated, np.float64)
    if real.ndim != 2 or generated.ndim != 2 or real.shape[1] != generated.shape[1]:
        raise DataError(f"FPD and KPD compare (events, features) arrays with the same "
                        f"features; got {real.shape} and {generated.shape}")
    if len(real) < 4 or len(generated) < 4:
        raise DataError("FPD and KPD need at least 4 events per sample")
    real_weights = np.ones(len(real)) if real_weights is None else np.asarray(real_weights,
                                                                              np.float64)
    generated_weights = np.ones(len(generated)) if generated_weights is None else \
        np.asarray(generated_weights, np.float64)
    return real, generated, real_weights, generated_weights


def vector_rows(real, generated, seed=42):
    """FPD and KPD rows for two :class:`Measured`, with the same distances between two
    halves of the real sample as their floors."""
    _, x = real.vector()
    _, y = generated.vector()
    if len(x) < 8 or len(y) < 4:
        raise DataError(f"FPD and KPD need at least 8 real events (the floor splits them in "
                        f"two halves) and 4 generated ones; got {len(x)} and {len(y)}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    a, b = order[:len(x) // 2], order[len(x) // 2:]
    rows = []
    for name, function in (("FPD", fpd), ("KPD", kpd)):
        value, error = function(x, y, real.weights, generated.weights, seed=seed)
        floor, _ = function(x[a], x[b], real.weights[a], real.weights[b], seed=seed)
        rows.append(Row("observable vector", value, error, floor, kind=name))
    return rows
