"""Evaluating a generated sample against a real one: the metric table, its ROOT form and
a console summary. One implementation for EvaluateAllMethods, ``rootgan compare`` and the
macros.

``evaluate`` measures both samples once (``observables.py``), then computes W1 with
uncertainty, floor and chi2 per observable, FPD and KPD on the observable vector, and the
classifier AUC (``distances.py``, ``classifier.py``); with a condition (for example the
incident energy), the W1 rows are repeated in bins of it.
"""

import numpy as np

from ..errors import DataError
from ..io.output import write_histogram, write_tree
from .classifier import classifier_auc
from .distances import Row, histogram, histogram_edges, vector_rows, wasserstein_rows
from .observables import Geometry, measure

CONDITION_BINS = 5


class Evaluation:
    """The outcome of ``evaluate``: ``rows`` (W1 per observable, FPD, KPD, AUC),
    ``binned`` [(low, high, rows)] per condition bin, and the two measured samples."""

    def __init__(self, geometry, real, generated, rows, binned):
        self.geometry, self.real, self.generated = geometry, real, generated
        self.rows, self.binned = rows, binned

    def row(self, name, kind="W1"):
        """The row of observable ``name`` (``"observable vector"`` for FPD and KPD,
        ``"classifier"`` for AUC) and metric ``kind``."""
        for row in self.rows:
            if row.name == name and row.kind == kind:
                return row
        raise KeyError(f"no {kind} row for {name!r}; rows: "
                       f"{', '.join(f'{r.kind} {r.name}' for r in self.rows)}")

    def table(self):
        """The console table: observable, distance, uncertainty, floor, ratio, chi2/ndf."""
        lines = [_header(), *(_line(r) for r in self.rows)]
        for low, high, rows in self.binned:
            where = (f"condition = {low:.6g}" if high == np.nextafter(low, np.inf)
                     else f"condition in [{low:.4g}, {high:.4g})")
            lines.append(f"{where}:" + (
                "" if rows else " too few events to compare (4 real and 2 generated needed)"))
            lines.extend(_line(r, indent=2) for r in rows)
        return "\n".join(lines)

    def summary(self):
        """Headline numbers per sample: for jets the mass peak and tau21 median, for every
        geometry the mean total intensity and the non-zero pixel fraction."""
        lines = []
        for name, measured in (("real", self.real), ("generated", self.generated)):
            parts = [f"{len(measured):,} events"]
            if "mass" in measured.events:
                counts, edges = np.histogram(measured.events["mass"], np.arange(0, 302, 2),
                                             weights=measured.weights)
                parts.append(f"mass peak {edges[np.argmax(counts)] + 1:.0f} GeV")
                parts.append(f"tau21 median {_median(measured, 'tau21'):.3f}")
            parts.append(f"mean total {_mean(measured, 'total intensity'):.4g}")
            parts.append(f"non-zero pixels {_mean(measured, 'non-zero fraction'):.1%}")
            lines.append(f"{name:>9}: " + ", ".join(parts))
        return "\n".join(lines)

    def write_root(self, handle, path=""):
        """TH1D histograms of every observable, real and generated (same bins), and the
        metric table as the TTree ``metrics``, into the writable uproot file ``handle``
        under the folder ``path``."""
        prefix = f"{path.strip('/')}/" if path.strip("/") else ""
        for observable in self.real.observables:
            if observable.name not in self.generated.events and \
                    observable.name not in self.generated.pooled:
                continue
            samples = (self.real.values(observable.name),
                       self.generated.values(observable.name))
            edges = histogram_edges(observable, *samples)
            for tag, (values, weights) in zip(("real", "generated"), samples):
                counts, squares = histogram(values, weights, edges)
                flow = (weights[values < edges[0]].sum(), weights[values > edges[-1]].sum())
                write_histogram(handle, f"{prefix}{histogram_name(observable.name)}_{tag}",
                                counts, edges, f"{observable.title} ({tag})",
                                observable.label(),
                                "events" if not observable.pooled else "entries",
                                squares, flow)
        table = [(np.nan, np.nan, r) for r in self.rows] + [
            (low, high, r) for low, high, rows in self.binned for r in rows]
        write_tree(handle, f"{prefix}metrics", [{
            "observable": np.array([r.name for _, _, r in table], dtype=object),
            "metric": np.array([r.kind for _, _, r in table], dtype=object),
            "distance": np.array([r.distance for _, _, r in table]),
            "uncertainty": np.array([r.uncertainty for _, _, r in table]),
            "floor": np.array([r.floor for _, _, r in table]),
            "ratio": np.array([r.ratio for _, _, r in table]),
            "chi2": np.array([r.chi2 for _, _, r in table]),
            "ndf": np.array([r.ndf for _, _, r in table], dtype=np.int32),
            "condition_low": np.array([low for low, _, _ in table]),
            "condition_high": np.array([high for _, high, _ in table]),
        }], title="generated vs real: distance, uncertainty, floor (real half vs real half), "
                  "ratio; condition bins when conditional")


def condition_edges(condition, bins):
    """[low, high) intervals: one per value when the condition takes at most ``bins``
    values (fixed beam energies), else ``bins`` quantile bins of it."""
    values = np.unique(condition)
    if values.size <= bins:
        return [(v, np.nextafter(v, np.inf)) for v in values]
    edges = np.unique(np.quantile(condition, np.linspace(0, 1, bins + 1)))
    edges[-1] = np.nextafter(edges[-1], np.inf)
    return list(zip(edges[:-1], edges[1:]))


def histogram_name(name):
    return "".join(c if c.isalnum() else "_" for c in name)


def _median(measured, name):
    values, weights = measured.values(name)
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def _mean(measured, name):
    values, weights = measured.values(name)
    return float(np.average(values, weights=weights)) if weights.sum() > 0 else np.nan


def _header():
    return (f"{'observable':<22} {'metric':<6} {'distance':>11} {'+-':>9} {'floor':>10} "
            f"{'ratio':>7} {'chi2/ndf':>12}")


def _line(row, indent=0):
    ratio = f"{row.ratio:7.2f}" if not np.isnan(row.ratio) else f"{'-':>7}"
    floor = f"{row.floor:10.4g}" if np.isfinite(row.floor) else f"{'-':>10}"
    chi2 = f"{row.chi2:.1f}/{row.ndf}" if np.isfinite(row.chi2) else "-"
    return (f"{' ' * indent}{row.name:<{22 - indent}} {row.kind:<6} {row.distance:11.4g} "
            f"{row.uncertainty:9.2g} {floor} {ratio} {chi2:>12}")


def evaluate(real_images, generated_images, geometry=None, real_weights=None,
             generated_weights=None, real_condition=None, generated_condition=None,
             classifier=True, condition_bins=CONDITION_BINS, seed=0):
    """Compare generated images with real ones; returns an :class:`Evaluation`.

    ``geometry`` is a :class:`Geometry` (default: plain images of the real images' size);
    weights are per-event weights; conditions (both or neither) add the energy response of
    calorimeter images and the W1 rows in ``condition_bins`` quantile bins of the real
    condition."""
    if geometry is None:
        side = int(round(np.sqrt(np.asarray(real_images).reshape(len(real_images), -1)
                                 .shape[1])))
        geometry = Geometry("image", (1, side, side))
    if (real_condition is None) != (generated_condition is None):
        raise DataError("give the condition of both samples, or of neither")
    real = measure(real_images, geometry, real_weights, real_condition, "the real sample")
    generated = measure(generated_images, geometry, generated_weights, generated_condition,
                        "the generated sample")
    rows = wasserstein_rows(real, generated, seed)
    rows += vector_rows(real, generated, seed + 42)
    if classifier:
        auc, error = classifier_auc(real, generated, seed)
        rows.append(Row("classifier", auc, error, 0.5, kind="AUC"))
    binned = []
    if real_condition is not None and condition_bins > 1:
        for low, high in condition_edges(real.condition, condition_bins):
            pick_real = (real.condition >= low) & (real.condition < high)
            pick_generated = (generated.condition >= low) & (generated.condition < high)
            if pick_real.sum() < 4 or pick_generated.sum() < 2:
                binned.append((low, high, []))  # said in the table: too few events
                continue
            binned.append((low, high, wasserstein_rows(real.subset(pick_real),
                                                       generated.subset(pick_generated), seed)))
    return Evaluation(geometry, real, generated, rows, binned)

